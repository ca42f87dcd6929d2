// The payloads every ingest benchmark decides on: the native criterion bench
// (bench/rust/decide.rs), the wasm and the TypeScript baseline (ingest.bench.ts).
//
//   deno run --allow-write bench/deno/fixtures.ts target/bench/fixtures.json
//
// The bodies, ids and secret are fixed here; the timestamp is the moment the
// file is written and every case is signed with it by the npm reference
// signer (`standardwebhooks`). The timestamp cannot be fixed for good: the
// TypeScript baseline verifies with that library, which reads the real clock
// and refuses anything older than five minutes. The Rust and wasm decisions
// get `now_ms` from the file, so all three judge the same requests at the
// same moment.
import { Webhook } from "standardwebhooks";

/** A benchmark secret (32 fixed bytes); never used outside the benchmarks. */
export const BENCH_SECRET = "whsec_YmVuY2htYXJrLXNlY3JldC1ub3QtZm9yLXVzZS0xMjM0NTY=";

/** One signed request and what every implementation must decide about it. */
export interface Case {
  name: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  expect: { action: "apply" | "respond"; status: number };
}

export interface Fixtures {
  secret: string;
  /** The receiver's clock for every decision, Unix milliseconds. */
  now_ms: number;
  cases: Case[];
}

interface Payload {
  name: string;
  id: string;
  body: string;
  expect: Case["expect"];
  /** Signed with another secret: a forgery. */
  forged?: boolean;
}

function payloads(timestamp: number): Payload[] {
  // An Odoo `write_date` one minute before the delivery, with microseconds
  // and an offset, so the RFC 3339 parsing and normalisation do real work.
  const occurred = new Date((timestamp - 60) * 1000).toISOString().replace(
    /\.(\d{3})Z$/,
    ".$1456+00:00",
  );
  return [
    {
      // The seed's event, exactly.
      name: "created",
      id: "msg_2Q5bXo8c1ZkYf3RrT0uVwA9e",
      body: JSON.stringify({
        event_type: "project_created",
        project_id: "odoo-42",
        name: "Alpha",
        odoo_version: "19.0",
      }),
      expect: { action: "apply", status: 200 },
    },
    {
      // A rename with a dated change and a non-ASCII name.
      name: "updated",
      id: "msg_7HcUq2LmN4pXs6TvYw8Zb0Df",
      body: JSON.stringify({
        event_type: "project_updated",
        project_id: "odoo-1337",
        name: "Überarbeitung — Phase 2 (Größe)",
        odoo_version: "saas~18.3",
        occurred_at: occurred,
      }),
      expect: { action: "apply", status: 200 },
    },
    {
      // Authentic but wrong in four fields: a 422 naming every one.
      name: "invalid",
      id: "msg_9JkLp3QrS5tUv7WxYz1Ab2Cd",
      body: JSON.stringify({
        event_type: "project_created",
        project_id: "42",
        name: "   ",
        odoo_version: "nineteen",
        color: 3,
      }),
      expect: { action: "respond", status: 422 },
    },
    {
      // The seed's event signed with another secret: a 401.
      name: "forged",
      id: "msg_4EfGh5IjK6lMn7OpQ8rSt9Uv",
      body: JSON.stringify({
        event_type: "project_created",
        project_id: "odoo-42",
        name: "Alpha",
        odoo_version: "19.0",
      }),
      expect: { action: "respond", status: 401 },
      forged: true,
    },
  ];
}

/** Signs every case at `timestamp` (Unix seconds). */
export function makeFixtures(timestamp: number): Fixtures {
  const genuine = new Webhook(BENCH_SECRET);
  const forger = new Webhook("whsec_Zm9yZ2VyLWtleS1mb3ItdGhlLWJlbmNobWFyay0wMDAwMDA=");
  const cases = payloads(timestamp).map((payload): Case => ({
    name: payload.name,
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": payload.id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": (payload.forged ? forger : genuine).sign(
        payload.id,
        new Date(timestamp * 1000),
        payload.body,
      ),
    },
    body: payload.body,
    expect: payload.expect,
  }));
  return { secret: BENCH_SECRET, now_ms: timestamp * 1000 + 250, cases };
}

/** Reads the fixtures written by this script, refusing stale ones. */
export function readFixtures(path: string): Fixtures {
  let fixtures: Fixtures;
  try {
    fixtures = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    throw new Error(
      `${path}: cannot read the fixtures (${error}); write them with ` +
        "`deno run --allow-write bench/deno/fixtures.ts " + path + "` or run `cargo xtask bench`",
    );
  }
  const age = (Date.now() - fixtures.now_ms) / 1000;
  // The TypeScript baseline's verifier refuses timestamps older than 300 s.
  if (age > 240) {
    throw new Error(
      `${path}: the fixtures were signed ${Math.round(age)} s ago; ` +
        "the standardwebhooks library refuses them after 300 s: write them again",
    );
  }
  return fixtures;
}

/** The fixture file the benchmarks share. */
export function fixturesPath(): string {
  return Deno.env.get("OPS_BENCH_FIXTURES") ?? "target/bench/fixtures.json";
}

if (import.meta.main) {
  const path = Deno.args[0] ?? fixturesPath();
  const fixtures = makeFixtures(Math.floor(Date.now() / 1000));
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(path, JSON.stringify(fixtures, null, 2) + "\n");
  console.log(`bench/deno/fixtures.ts: ${fixtures.cases.length} signed cases in ${path}`);
}
