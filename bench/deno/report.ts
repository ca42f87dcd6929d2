// The summary of `cargo xtask bench`: reads what the run left in
// target/bench/ (and criterion's estimates in target/criterion/), prints the
// numbers, the ratios within the run and whether each target is met, and
// writes the same as target/bench/summary.md.
//
//   deno run --allow-read --allow-sys --allow-write=target/bench bench/deno/report.ts target/bench
import { cpus, totalmem } from "node:os";

const out = Deno.args[0] ?? "target/bench";
const criterionDir = `${out}/../criterion`;

const lines: string[] = [];
const say = (line = "") => lines.push(line);
let allMet = true;
const verdict = (met: boolean) => {
  allMet &&= met;
  return met ? "met" : "NOT met";
};

function readJson(path: string): unknown | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

interface DenoBench {
  group?: string;
  name: string;
  results: { ok?: { avg: number; p75: number; p99: number; n: number } }[];
}

/** Average time per iteration (ns) of each deno bench, keyed "group/name". */
function denoBenches(path: string): Map<string, { avg: number; p99: number; n: number }> {
  const map = new Map<string, { avg: number; p99: number; n: number }>();
  const report = readJson(path) as { benches?: DenoBench[] } | undefined;
  for (const bench of report?.benches ?? []) {
    const ok = bench.results[0]?.ok;
    if (ok) map.set(`${bench.group ?? ""}/${bench.name}`, ok);
  }
  return map;
}

// The machine, as the run saw it.
const model = cpus()[0]?.model ?? "unknown CPU";
const memGiB = totalmem() / 1024 ** 3;
const os = /PRETTY_NAME="(.*)"/.exec(readText("/etc/os-release") ?? "")?.[1] ?? Deno.build.os;
const loadStart = (readText(`${out}/loadavg-start.txt`) ?? "").trim().split(" ").slice(0, 3)
  .join(" ");
say(`# cargo xtask bench: ${new Date().toISOString()}`);
say();
say(
  `machine: ${navigator.hardwareConcurrency} cores (${model}), ${memGiB.toFixed(1)} GiB, ${os}; ` +
    `load average at start ${loadStart || "?"}; Deno ${Deno.version.deno}`,
);

// 1 and 2: the decision natively, in wasm and in TypeScript.
const fixtures = readJson(`${out}/fixtures.json`) as { cases: { name: string }[] } | undefined;
const micro = denoBenches(`${out}/ingest.json`);
function criterionMean(group: string, name: string): number {
  const estimates = readJson(`${criterionDir}/${group}/${name}/new/estimates.json`) as
    | { mean: { point_estimate: number } }
    | undefined;
  return estimates?.mean.point_estimate ?? NaN;
}
if (fixtures && micro.size > 0) {
  say();
  say("## The ingest decision (verify + validate + plan), per request");
  say();
  say(
    "| case | native | native, soft SHA-256 | wasm, decision only | wasm, shim call | TypeScript |" +
      " wasm/native (decision / call) | wasm call/TS |",
  );
  say("| --- | --- | --- | --- | --- | --- | --- | --- |");
  const sum = { native: 0, soft: 0, core: 0, wasm: 0, ts: 0 };
  // The largest ratio over the cases: a target is met only in every case.
  const worst = { core: 0, wasm: 0, ts: 0 };
  const row = (name: string, t: typeof sum) =>
    say(
      `| ${name} | ${us(t.native)} | ${us(t.soft)} | ${us(t.core)} | ${us(t.wasm)} | ${
        us(t.ts)
      } | ${(t.core / t.native).toFixed(2)}× / ${(t.wasm / t.native).toFixed(2)}× | ${
        (t.wasm / t.ts).toFixed(2)
      }× |`,
    );
  for (const { name } of fixtures.cases) {
    const t = {
      native: criterionMean("decide", name),
      soft: criterionMean("decide-soft-sha", name),
      core: micro.get(`${name}/wasm, decision only`)?.avg ?? NaN,
      wasm: micro.get(`${name}/wasm`)?.avg ?? NaN,
      ts: micro.get(`${name}/ts`)?.avg ?? NaN,
    };
    for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += t[key];
    worst.core = Math.max(worst.core, t.core / t.native);
    worst.wasm = Math.max(worst.wasm, t.wasm / t.native);
    worst.ts = Math.max(worst.ts, t.wasm / t.ts);
    row(name, t);
  }
  row("all cases", sum);
  const fromEntries = micro.get("boundary/Object.fromEntries(headers)")?.avg ?? NaN;
  const crossing = micro.get("boundary/wasm 405 (crossing only)")?.avg ?? NaN;
  const bare = micro.get("boundary/wasm 405 without headers")?.avg ?? NaN;
  say();
  say(
    `the crossing: Object.fromEntries(headers) ${us(fromEntries)}; a 405 through the wasm ` +
      `(Object.fromEntries, headers converted in, a small answer out) ${us(crossing)}; ` +
      `the same 405 with no headers ${us(bare)}; the second call of a write, ` +
      `Ingest.complete, ${
        us(micro.get("boundary/wasm complete (after the database)")?.avg ?? NaN)
      }`,
  );
  const x = (ratio: number) => `${ratio.toFixed(2)}×`;
  say(
    `target wasm ≤ 2× native (every case), decision only: worst ${x(worst.core)}, all cases ` +
      `${x(sum.core / sum.native)}: ${verdict(worst.core <= 2)}; with the shim's call ` +
      `around it: worst ${x(worst.wasm)}, all cases ${x(sum.wasm / sum.native)}: ${
        verdict(worst.wasm <= 2)
      }`,
  );
  say(
    `target wasm ≤ 0.5× TypeScript (every case), crossing included: worst ${x(worst.ts)}, ` +
      `all cases ${x(sum.wasm / sum.ts)}: ${verdict(worst.ts <= 0.5)}`,
  );
}

// 3: size and instantiation.
const instantiate = denoBenches(`${out}/instantiate.json`);
if (instantiate.size > 0) {
  const wasmPath = `${out}/../../pkg/ops-ingest/ops_ingest_bg.wasm`;
  const bytes = Deno.statSync(wasmPath).size;
  say();
  say("## The ops-ingest wasm");
  say();
  const gzipped = (await new Response(
    new Blob([Deno.readFileSync(wasmPath)]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer()).byteLength;
  say(
    `size after wasm-opt: ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB); ` +
      `gzip: ${gzipped} bytes (${(gzipped / 1024).toFixed(1)} KiB)`,
  );
  for (const [key, value] of instantiate) {
    say(
      `- ${key.replace(/^instantiate\//, "")}: ${ms(value.avg / 1e6)} (p99 ${
        ms(value.p99 / 1e6)
      }, n ${value.n})`,
    );
  }
}

// 4: load against the ceiling, and against the seed's own ops-ingest.
interface Load {
  rps: number;
  requests: number;
  duration_s: number;
  warmup_s: number;
  concurrency: number;
  latency_ms: { p50: number; p99: number; max: number };
  // null when not checked: the peer promises no exactly-once.
  exactly_once: boolean | null;
  passed: boolean;
  effect: Record<string, number> | null;
  unique_sent: number;
  unique_created: number;
  duplicates_sent: number;
  duplicates_replayed: number;
  machine_busy: number;
  load_generator_cores: number;
  statuses: Record<string, number>;
  unique_statuses: Record<string, number>;
  duplicate_statuses: Record<string, number>;
}
const load = readJson(`${out}/load.json`) as Load | undefined;
const peer = readJson(`${out}/load-peer.json`) as Load | undefined;
const pgbench = readText(`${out}/pgbench.txt`);
if (load && pgbench) {
  const tps = Number(/tps = ([\d.]+)/.exec(pgbench)?.[1] ?? NaN);
  // pgbench -l: "client transaction latency_us script epoch epoch_us" per line.
  const latencies: number[] = [];
  for (const entry of Deno.readDirSync(`${out}/pgbench`)) {
    for (const line of Deno.readTextFileSync(`${out}/pgbench/${entry.name}`).split("\n")) {
      const fields = line.split(" ");
      if (fields.length >= 6) latencies.push(Number(fields[2]) / 1000);
    }
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.ceil((p / 100) * latencies.length) - 1];
  say();
  say(`## End to end over loopback, ${load.concurrency} connections, 10% redeliveries`);
  say();
  say("| | requests/s | p50 | p99 |");
  say("| --- | --- | --- | --- |");
  say(
    `| pgbench, ops.ingest_event (ceiling) | ${tps.toFixed(0)} | ${ms(pct(50))} | ${ms(pct(99))} |`,
  );
  say(
    `| HTTP → Deno → wasm → postgres.js (bench/deno/load.ts) | ${load.rps.toFixed(0)} | ${
      ms(load.latency_ms.p50)
    } | ${ms(load.latency_ms.p99)} |`,
  );
  if (peer) {
    say(
      `| the seed's ops-ingest: HTTP → Deno → postgres.js insert (bench/deno/seed-peer, behind dev/functions-serve.ts) | ${
        peer.rps.toFixed(0)
      } | ${ms(peer.latency_ms.p50)} | ${ms(peer.latency_ms.p99)} |`,
    );
  }
  say();
  say(
    `HTTP: ${load.requests} requests in ${load.duration_s.toFixed(1)} s; the machine was ` +
      `${(load.machine_busy * 100).toFixed(0)}% busy, the load generator itself used ` +
      `${load.load_generator_cores.toFixed(2)} cores`,
  );
  say(
    `exactly once: ${load.exactly_once ? "yes" : "NO"} (${JSON.stringify(load.effect)}, ` +
      `duplicates replayed ${load.duplicates_replayed}/${load.duplicates_sent})`,
  );
  allMet &&= load.exactly_once === true;
  // CPU per request, from /proc (xtask's CpuMeter): warm-up included on both
  // sides, so divided by every request answered, warm-up included.
  const cpu = readJson(`${out}/cpu.json`) as
    | {
      pgbench: { postgres_s: number };
      load: { postgres_s: number; functions_s: number };
      peer?: { postgres_s: number; server_s: number };
    }
    | undefined;
  const processed = (text: string | undefined) =>
    Number(/transactions actually processed: (\d+)/.exec(text ?? "")?.[1] ?? NaN);
  const pgbenchTx = processed(pgbench) + processed(readText(`${out}/pgbench-warmup.txt`));
  const httpRequests = Object.values(load.statuses).reduce((a, b) => a + b, 0);
  if (cpu) {
    const perRequest = (seconds: number, count: number) =>
      `${(seconds / count * 1e6).toFixed(0)} µs`;
    say(
      `CPU per request: pgbench: PostgreSQL ${perRequest(cpu.pgbench.postgres_s, pgbenchTx)}; ` +
        `HTTP: PostgreSQL ${perRequest(cpu.load.postgres_s, httpRequests)}, ` +
        `the Deno functions server ${perRequest(cpu.load.functions_s, httpRequests)} ` +
        `(at that cost one core serves at most ${
          (httpRequests / cpu.load.functions_s).toFixed(0)
        } requests/s)`,
    );
  }
  const ratio = load.rps / tps;
  say(
    `target ≥ 0.3× the pgbench ceiling: ${ratio.toFixed(2)}×: ${verdict(ratio >= 0.3)}; ` +
      `target p99 ≤ 50 ms: ${ms(load.latency_ms.p99)}: ${verdict(load.latency_ms.p99 <= 50)}`,
  );

  if (peer) {
    say();
    say(
      `the seed's ops-ingest under the same load (${peer.concurrency} connections, ` +
        `${peer.warmup_s} s warm-up, then ${peer.requests} requests in ` +
        `${peer.duration_s.toFixed(1)} s; the machine ${(peer.machine_busy * 100).toFixed(0)}% ` +
        `busy, the load generator ${peer.load_generator_cores.toFixed(2)} cores): no signature, ` +
        `no validation, no de-duplication, no 4xx; a redelivery fails its insert and is ` +
        `answered 500`,
    );
    const mix = (counts: Record<string, number>) =>
      Object.entries(counts).map(([status, n]) => `${n} × ${status}`).join(", ") || "none";
    say(
      `its answers, warm-up included: unique events ${mix(peer.unique_statuses)} ` +
        `(${peer.unique_created}/${peer.unique_sent} answered 200); redeliveries ` +
        `${mix(peer.duplicate_statuses)}; ours: unique events ${mix(load.unique_statuses)}, ` +
        `redeliveries ${mix(load.duplicate_statuses)}`,
    );
    allMet &&= peer.passed;
    if (cpu?.peer) {
      const peerRequests = Object.values(peer.statuses).reduce((a, b) => a + b, 0);
      const perRequest = (seconds: number) => `${(seconds / peerRequests * 1e6).toFixed(0)} µs`;
      say(
        `its CPU per request: PostgreSQL ${perRequest(cpu.peer.postgres_s)}, ` +
          `the peer's Deno server ${perRequest(cpu.peer.server_s)}`,
      );
    }
    const versus = load.rps / peer.rps;
    say(
      `target ours ≥ 0.8× the seed's requests/s: ${load.rps.toFixed(0)} / ${
        peer.rps.toFixed(0)
      } = ${versus.toFixed(2)}×: ${verdict(versus >= 0.8)}`,
    );
  }
}

say();
say(allMet ? "every measured target met" : "some targets NOT met (see above)");
const text = lines.join("\n") + "\n";
console.log(text);
Deno.writeTextFileSync(`${out}/summary.md`, text);
