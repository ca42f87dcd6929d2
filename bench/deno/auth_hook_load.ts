// ops-auth-hook end to end at a fixed arrival rate, as Auth calls it during
// sign-ins: requests are sent on a schedule (open loop), not when the last
// one returned, so a slow answer cannot slow the load down and hide itself.
//
//   deno run --allow-net=127.0.0.1 --allow-env --allow-write=target \
//     bench/deno/auth_hook_load.ts --rate 200 --duration 30 --out target/bench/auth_hook_load.json
//
// Needs SUPABASE_URL, SUPABASE_DB_URL and OPS_AUTH_HOOK_SECRET of a running
// stack (`cargo xtask dev` writes them to .dev/stack.env). Only 127.0.0.1 is
// loaded. Before the clock starts it inserts --people Supabase users (as
// Auth would) and, for two in three of them, an Odoo user in one to three
// instances, so that most answers carry identities and some do not; every
// answer is checked against what was inserted. The rows are removed at the
// end.
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import postgres from "postgres";

interface Options {
  rate: number;
  duration: number;
  warmup: number;
  people: number;
  out: string;
}

function options(args: string[]): Options {
  const opts: Options = {
    rate: 200,
    duration: 30,
    warmup: 3,
    people: 500,
    out: "target/bench/auth_hook_load.json",
  };
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    switch (flag) {
      case "--rate":
        opts.rate = Number(value);
        break;
      case "--duration":
        opts.duration = Number(value);
        break;
      case "--warmup":
        opts.warmup = Number(value);
        break;
      case "--people":
        opts.people = Number(value);
        break;
      case "--out":
        opts.out = value;
        break;
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!(opts.rate > 0 && opts.rate <= 2000)) throw new Error("--rate: 1 to 2000 requests/s");
  if (!(opts.duration > 0 && opts.duration <= 120)) throw new Error("--duration: 1 to 120 s");
  return opts;
}

function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set; start the stack (cargo xtask dev)`);
  return value;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const opts = options(Deno.args);
const url = `${env("SUPABASE_URL")}/functions/v1/ops-auth-hook`;
if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) {
  throw new Error(`refusing to load ${url}: loopback (127.0.0.1) only`);
}
// Auth signs with every configured secret; the first is enough here.
const key = Buffer.from(
  env("OPS_AUTH_HOOK_SECRET").split("|")[0].replace(/^v1,whsec_/, ""),
  "base64",
);
const sql = postgres(env("SUPABASE_DB_URL"), { max: 2, onnotice: () => {} });
const run = `load${Date.now().toString(36)}`;
const instances = ["dev", "staging", "prod"];
// Odoo user ids of this run: clear of earlier runs' rows, within int4.
const idBase = 1_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;

interface Person {
  id: string;
  email: string;
  identities: number;
}

async function seed(): Promise<Person[]> {
  const people: Person[] = [];
  for (let n = 0; n < opts.people; n++) {
    const email = `p${n}.${run}@load.example`;
    // Two in three have Odoo users, in 1 to 3 instances.
    people.push({ id: crypto.randomUUID(), email, identities: n % 3 === 2 ? 0 : 1 + (n % 3) });
  }
  await sql`insert into auth.users ${
    sql(people.map((p) => ({
      id: p.id,
      email: p.email,
      aud: "authenticated",
      role: "authenticated",
      email_confirmed_at: new Date(),
    })))
  }`;
  const odoo = people.flatMap((p, n) =>
    instances.slice(0, p.identities).map((instance) => ({
      odoo_instance: instance,
      odoo_user_id: idBase + n,
      odoo_login: `${run}-${n}`,
      odoo_email: p.email,
      login_key: `${run}-${n}`,
      email_key: p.email,
      odoo_changed_at: new Date(),
    }))
  );
  if (odoo.length > 0) await sql`insert into ops.odoo_users ${sql(odoo)}`;
  return people;
}

async function unseed(people: Person[]) {
  await sql`delete from ops.odoo_users where odoo_login like ${run + "-%"}`;
  await sql`delete from auth.users where id = any(${people.map((p) => p.id)}::uuid[])`;
}

function call(person: Person): { headers: Record<string, string>; body: string } {
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    user_id: person.id,
    claims: {
      aud: "authenticated",
      exp: now + 3600,
      iat: now,
      sub: person.id,
      email: person.email,
      phone: "",
      role: "authenticated",
      aal: "aal1",
      session_id: crypto.randomUUID(),
      is_anonymous: false,
    },
    authentication_method: "password",
  });
  const id = crypto.randomUUID();
  const signature = createHmac("sha256", key).update(`${id}.${now}.${body}`).digest("base64");
  return {
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(now),
      "webhook-signature": `v1,${signature}`,
    },
    body,
  };
}

interface Outcome {
  ms: number;
  ok: boolean;
  measured: boolean;
}

async function send(person: Person, measured: boolean): Promise<Outcome> {
  const { headers, body } = call(person);
  const started = performance.now();
  try {
    const response = await fetch(url, { method: "POST", headers, body });
    const json = await response.json();
    const ms = performance.now() - started;
    const got = json?.claims?.odoo_identities?.length ?? 0;
    return { ms, ok: response.status === 200 && got === person.identities, measured };
  } catch {
    return { ms: performance.now() - started, ok: false, measured };
  }
}

const people = await seed();
try {
  const total = (opts.warmup + opts.duration) * opts.rate;
  const interval = 1000 / opts.rate;
  const warmupCount = opts.warmup * opts.rate;
  const pending: Promise<Outcome>[] = [];
  const start = performance.now();
  let late = 0;
  for (let n = 0; n < total; n++) {
    const due = start + n * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    else if (wait < -interval) late++;
    pending.push(send(people[n % people.length], n >= warmupCount));
  }
  const outcomes = (await Promise.all(pending)).filter((o) => o.measured);
  const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  const failed = outcomes.filter((o) => !o.ok).length;
  const result = {
    rate: opts.rate,
    duration_s: opts.duration,
    requests: outcomes.length,
    failed,
    // Requests the sender itself sent more than one interval late.
    sent_late: late,
    p50_ms: percentile(sorted, 50),
    p90_ms: percentile(sorted, 90),
    p99_ms: percentile(sorted, 99),
    max_ms: sorted[sorted.length - 1],
  };
  console.log(JSON.stringify(result));
  await Deno.mkdir(opts.out.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.writeTextFile(opts.out, JSON.stringify(result, null, 2) + "\n");
  if (failed > 0) {
    console.error(`${failed} answers were not 200 with the identities inserted`);
    Deno.exitCode = 1;
  }
} finally {
  await unseed(people);
  await sql.end();
}
