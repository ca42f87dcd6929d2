// End-to-end load on ops-ingest over loopback, with 10% duplicate deliveries,
// then a check that every accepted event had exactly one effect.
//
//   deno run --allow-net=127.0.0.1 --allow-env --allow-read --allow-sys=cpus --allow-write=target \
//     bench/deno/load.ts --concurrency 32 --duration 20 --out target/bench/load.json
//
// Needs SUPABASE_URL, SUPABASE_DB_URL and OPS_WEBHOOK_SECRET of a running
// stack (`cargo xtask bench` starts one; `cargo xtask dev` writes them to
// .dev/stack.env). Only 127.0.0.1 is reachable (--allow-net, and the target
// URL is refused unless it is on 127.0.0.1), the run stops after --duration
// seconds and never sends more than --max-requests.
//
// `--url` loads another server with the same requests, such as the seed's
// ops-ingest (bench/deno/seed-peer/ops-ingest); `--skip-exactly-once` then skips the
// check of the effects, which only ours promises. Without the check a run
// passes when every unique event was answered 200 and none failed in
// transport; the status codes of unique events and of redeliveries are
// reported apart.
//
// Every unique event is a `project_created` of a project of its own, signed
// before the clock starts (one timestamp: the run is far shorter than the
// five minutes a signature stays fresh). Every tenth request is a redelivery
// of an earlier, already answered event: same id, same bytes.
import { createHmac } from "node:crypto";
import { cpus } from "node:os";
import process from "node:process";
import postgres from "postgres";

interface Options {
  concurrency: number;
  duration: number;
  warmup: number;
  duplicates: number;
  maxRequests: number;
  out: string;
  url: string | undefined;
  exactlyOnce: boolean;
}

function options(args: string[]): Options {
  const opts: Options = {
    concurrency: 32,
    duration: 20,
    warmup: 2,
    duplicates: 0.1,
    maxRequests: 200_000,
    out: "target/bench/load.json",
    url: undefined,
    exactlyOnce: true,
  };
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (flag === "--skip-exactly-once") {
      opts.exactlyOnce = false;
      i--; // a flag without a value
      continue;
    }
    switch (flag) {
      case "--concurrency":
        opts.concurrency = Number(value);
        break;
      case "--duration":
        opts.duration = Number(value);
        break;
      case "--warmup":
        opts.warmup = Number(value);
        break;
      case "--duplicates":
        opts.duplicates = Number(value);
        break;
      case "--max-requests":
        opts.maxRequests = Number(value);
        break;
      case "--out":
        opts.out = value;
        break;
      case "--url":
        opts.url = value;
        break;
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!(opts.duration > 0 && opts.duration <= 120)) throw new Error("--duration: 1 to 120 s");
  return opts;
}

function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set; start the stack (cargo xtask bench or dev)`);
  return value;
}

/** Busy and total CPU time of the whole machine, in ms, over all cores. */
function machineTicks(): { busy: number; total: number } {
  let busy = 0, total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    busy += all - times.idle;
    total += all;
  }
  return { busy, total };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const opts = options(Deno.args);
const url = opts.url ?? `${env("SUPABASE_URL")}/functions/v1/ops-ingest`;
if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) {
  throw new Error(`refusing to load ${url}: loopback (127.0.0.1) only`);
}
const key = Uint8Array.from(
  atob(env("OPS_WEBHOOK_SECRET").replace(/^whsec_/, "")),
  (c) => c.charCodeAt(0),
);

// The request set, signed before the clock starts.
const timestamp = Math.floor(Date.now() / 1000);
const run = `load_${timestamp}`;
interface Delivery {
  headers: Record<string, string>;
  body: string;
}
function delivery(n: number): Delivery {
  const id = `${run}_${n}`;
  const body = JSON.stringify({
    event_type: "project_created",
    // 10 digits of the run's second and 7 of the counter: unique per run.
    project_id: `odoo-${timestamp}${String(n).padStart(7, "0")}`,
    name: `Load ${n}`,
    odoo_version: "19.0",
  });
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest(
    "base64",
  );
  return {
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${signature}`,
    },
    body,
  };
}
const uniqueBudget = Math.ceil(opts.maxRequests * (1 - opts.duplicates)) + opts.concurrency;
const started = performance.now();
const unique: Delivery[] = Array.from({ length: uniqueBudget }, (_, n) => delivery(n));
console.log(
  `load: ${unique.length} events signed in ${Math.round(performance.now() - started)} ms; ` +
    `${opts.concurrency} connections, ${opts.warmup} s warm-up + ${opts.duration} s, ` +
    `${opts.duplicates * 100}% duplicates -> ${url}` +
    (opts.exactlyOnce ? "" : " (no exactly-once check)"),
);

// A fixed seed: every run sends the same mix.
let seed = 0x2545f491;
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}

const latencies = new Float64Array(opts.maxRequests);
let measured = 0;
let attempts = 0;
let nextUnique = 0;
const answered: number[] = []; // unique events accepted, redeliverable
const tally = {
  unique_sent: 0,
  unique_created: 0,
  duplicates_sent: 0,
  duplicates_replayed: 0,
  unexpected: 0,
  transport_errors: 0,
  statuses: {} as Record<string, number>,
  unique_statuses: {} as Record<string, number>,
  duplicate_statuses: {} as Record<string, number>,
};
const count = (counts: Record<string, number>, status: number) =>
  counts[status] = (counts[status] ?? 0) + 1;
const unexpectedSamples: string[] = [];

let phase: "warmup" | "measure" | "done" = "warmup";
let measureStart = 0;
let measureEnd = 0;

async function worker(): Promise<void> {
  while (phase !== "done" && attempts < opts.maxRequests) {
    attempts++;
    const duplicate = answered.length > 0 && random() < opts.duplicates;
    let n: number;
    if (duplicate) {
      n = answered[Math.floor(random() * answered.length)];
      tally.duplicates_sent++;
    } else {
      if (nextUnique >= unique.length) break;
      n = nextUnique++;
      tally.unique_sent++;
    }
    const { headers, body } = unique[n];
    const recording = phase === "measure";
    const t0 = performance.now();
    let status = 0;
    let replayed = false;
    let text = "";
    try {
      const response = await fetch(url, { method: "POST", headers, body });
      text = await response.text();
      status = response.status;
      replayed = response.headers.get("idempotent-replayed") === "true";
    } catch (error) {
      tally.transport_errors++;
      text = String(error);
    }
    const elapsed = performance.now() - t0;
    if (recording && phase === "measure" && measured < latencies.length) {
      latencies[measured++] = elapsed;
    }
    count(tally.statuses, status);
    count(duplicate ? tally.duplicate_statuses : tally.unique_statuses, status);
    // Ours must create a new event and replay a redelivery. A peer without
    // the check must answer a new event 200; what it answers a redelivery is
    // its status mix (duplicate_statuses), reported and not judged.
    let expected = true;
    if (!duplicate) {
      expected = status === 200 &&
        (!opts.exactlyOnce || (!replayed && text.includes('"result":"created"')));
      if (expected) {
        tally.unique_created++;
        answered.push(n);
      }
    } else if (opts.exactlyOnce) {
      expected = status === 200 && replayed;
      if (expected) tally.duplicates_replayed++;
    }
    if (!expected) {
      tally.unexpected++;
      if (unexpectedSamples.length < 5) {
        unexpectedSamples.push(`${duplicate ? "duplicate" : "unique"} ${status}: ${text}`);
      }
    }
  }
}

const workers = Array.from({ length: opts.concurrency }, () => worker());
await new Promise((resolve) => setTimeout(resolve, opts.warmup * 1000));
phase = "measure";
measureStart = performance.now();
const ticks0 = machineTicks();
const cpu0 = process.cpuUsage();
await new Promise((resolve) => setTimeout(resolve, opts.duration * 1000));
phase = "done";
measureEnd = performance.now();
const ticks1 = machineTicks();
const cpu1 = process.cpuUsage(cpu0);
await Promise.all(workers);

const wall = (measureEnd - measureStart) / 1000;
const sorted = latencies.slice(0, measured).sort();

// Exactly one effect per accepted event: one ledger row and one project per
// unique id, whatever the redeliveries did.
async function effects() {
  const sql = postgres(env("SUPABASE_DB_URL"), { max: 1, prepare: false, onnotice: () => {} });
  const pattern = `${run}\\_%`;
  const [ledger] = await sql`
    select count(*)::int as rows,
           count(*) filter (where outcome ->> 'effect' = 'created')::int as created
      from ops.ingest_deliveries where webhook_id like ${pattern}`;
  const [projects] = await sql`
    select count(*)::int as rows, count(distinct project_id)::int as distinct_projects
      from ops.projects where described_by like ${pattern}`;
  await sql.end();
  return {
    unique_ids_sent: tally.unique_sent,
    unique_ids_accepted: tally.unique_created,
    ledger_rows: ledger.rows as number,
    ledger_created: ledger.created as number,
    project_rows: projects.rows as number,
    distinct_projects: projects.distinct_projects as number,
  };
}
const effect = opts.exactlyOnce ? await effects() : undefined;
const answeredAsExpected = tally.unexpected === 0 && tally.transport_errors === 0;
const exactlyOnce = effect === undefined ? undefined : answeredAsExpected &&
  effect.ledger_rows === effect.unique_ids_accepted &&
  effect.ledger_created === effect.unique_ids_accepted &&
  effect.project_rows === effect.unique_ids_accepted &&
  effect.distinct_projects === effect.unique_ids_accepted &&
  tally.duplicates_replayed === tally.duplicates_sent;
const passed = exactlyOnce ?? answeredAsExpected;

const result = {
  url,
  concurrency: opts.concurrency,
  duration_s: wall,
  warmup_s: opts.warmup,
  requests: measured,
  rps: measured / wall,
  latency_ms: {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  },
  ...tally,
  effect: effect ?? null,
  // null: not checked (--skip-exactly-once).
  exactly_once: exactlyOnce ?? null,
  passed,
  unexpected_samples: unexpectedSamples,
  machine_busy: (ticks1.busy - ticks0.busy) / (ticks1.total - ticks0.total),
  load_generator_cores: (cpu1.user + cpu1.system) / 1e6 / wall,
};
const dir = opts.out.includes("/") ? opts.out.slice(0, opts.out.lastIndexOf("/")) : ".";
Deno.mkdirSync(dir, { recursive: true });
Deno.writeTextFileSync(opts.out, JSON.stringify(result, null, 2) + "\n");
const ms = (x: number) => x.toFixed(1);
console.log(
  `load: ${measured} requests in ${wall.toFixed(1)} s = ${result.rps.toFixed(0)} req/s; ` +
    `p50 ${ms(result.latency_ms.p50)} ms, p99 ${ms(result.latency_ms.p99)} ms, ` +
    `max ${ms(result.latency_ms.max)} ms; statuses ${JSON.stringify(tally.statuses)}`,
);
if (effect) {
  console.log(
    `load: ${tally.unique_created}/${tally.unique_sent} unique events created, ` +
      `${tally.duplicates_replayed}/${tally.duplicates_sent} duplicates replayed; ` +
      `ledger ${effect.ledger_rows} rows, projects ${effect.project_rows}: ` +
      `exactly once ${exactlyOnce ? "yes" : "NO"}`,
  );
} else {
  console.log(
    `load: ${tally.unique_created}/${tally.unique_sent} unique events answered 200; ` +
      `unique events ${JSON.stringify(tally.unique_statuses)}, ` +
      `${tally.duplicates_sent} duplicates ${JSON.stringify(tally.duplicate_statuses)}; ` +
      `exactly once not checked; answered as expected ${passed ? "yes" : "NO"}`,
  );
}
console.log(
  `load: machine ${(result.machine_busy * 100).toFixed(0)}% busy, ` +
    `the load generator used ${result.load_generator_cores.toFixed(2)} cores`,
);
for (const sample of unexpectedSamples) console.log(`load: unexpected: ${sample}`);
Deno.exit(passed ? 0 : 1);
