// The ingest decision in one `deno bench` run: the Rust in wasm, called the
// way the shim calls it, next to the TypeScript baseline (ts_baseline.ts),
// on the signed fixtures of bench/deno/fixtures.ts.
//
//   deno run --allow-write bench/deno/fixtures.ts
//   deno bench --allow-read --allow-env bench/deno/ingest.bench.ts
//
// Both sides start where the shim starts: a `Headers` object and the body's
// bytes. A wasm iteration is what the shim does: the four headers it needs as
// strings and the body in, the decision out as JSON text, `JSON.parse`, then
// reading the fields the shim reads; so the boundary crossing is included.
// The TypeScript takes `Object.fromEntries(headers)`.
import { Ingest } from "../../pkg/ops-ingest/ops_ingest.js";
import { fixturesPath, readFixtures } from "./fixtures.ts";
import { type Decision, TsIngest, type Write } from "./ts_baseline.ts";

const fixtures = readFixtures(fixturesPath());
const wasm = new Ingest(fixtures.secret);
const ts = new TsIngest(fixtures.secret);

/** The shim's calls: `Ingest.request` and the machine's first poll, as the executor makes them. */
function wasmMachine(method: string, headers: Headers, body: Uint8Array) {
  return wasm.request(
    method,
    headers.get("content-type") ?? undefined,
    headers.get("webhook-id") ?? undefined,
    headers.get("webhook-timestamp") ?? undefined,
    headers.get("webhook-signature") ?? undefined,
    body,
    true,
    fixtures.now_ms,
  );
}

function wasmDecide(method: string, headers: Headers, body: Uint8Array): Decision {
  const machine = wasmMachine(method, headers, body);
  const io = JSON.parse(machine.poll());
  machine.free();
  return io.kind === "sql"
    ? { action: "apply", write: { sql: io.text, params: io.params } as Write }
    : { action: "respond", response: io.response };
}

/** Reads what the shim reads of a decision; returns something to keep. */
function consume(decision: Decision): number {
  if (decision.action === "apply") {
    const { sql, params } = decision.write;
    return sql.length + params.length + params[params.length - 1].length;
  }
  const { status, headers, body, log } = decision.response;
  return status + headers.length + body.length + Object.keys(log).length;
}

/** The part of a decision both implementations must agree on. */
function essence(decision: Decision): unknown {
  if (decision.action === "apply") {
    const [id, sha, event, occurred] = decision.write.params;
    return {
      action: "apply",
      id,
      sha,
      event: { ...JSON.parse(event), occurred_at: undefined },
      occurred: Date.parse(occurred),
    };
  }
  const body = JSON.parse(decision.response.body);
  return {
    action: "respond",
    status: decision.response.status,
    errors: body.errors?.map((v: { field: string; rule: string }) => `${v.field}:${v.rule}`),
  };
}

// The decision alone, inside wasm (bench/rust/lib.rs built for wasm by
// `cargo xtask bench`): the same Rust without any crossing per iteration.
const probePath = Deno.env.get("OPS_BENCH_PROBE");
interface Probe {
  decide(index: number): number;
}
const probe: Probe | undefined = probePath
  ? new (await import(`file://${Deno.realPathSync(probePath)}`)).Probe(
    Deno.readTextFileSync(fixturesPath()),
  )
  : undefined;

let sink = 0;
for (const [index, c] of fixtures.cases.entries()) {
  const headers = new Headers(c.headers);
  const body = new TextEncoder().encode(c.body);
  const callWasm = () => wasmDecide(c.method, headers, body);
  const callTs = () =>
    ts.decide(c.method, Object.fromEntries(headers), body, true, fixtures.now_ms);

  // A benchmark of two different decisions would compare nothing.
  const fromWasm = essence(callWasm());
  const fromTs = essence(callTs());
  if (JSON.stringify(fromWasm) !== JSON.stringify(fromTs)) {
    throw new Error(
      `case ${c.name}: wasm and TypeScript disagree:\n${JSON.stringify(fromWasm)}\n${
        JSON.stringify(fromTs)
      }`,
    );
  }
  const decided = callWasm();
  const status = decided.action === "apply" ? 200 : decided.response.status;
  if (decided.action !== c.expect.action || status !== c.expect.status) {
    throw new Error(`case ${c.name}: decided ${decided.action} ${status}, expected ${c.expect}`);
  }

  Deno.bench({
    name: "wasm",
    group: c.name,
    baseline: true,
    fn: () => {
      sink += consume(callWasm());
    },
  });
  if (probe) {
    if (probe.decide(index) === 1) throw new Error(`case ${c.name}: the probe decided otherwise`);
    Deno.bench({
      name: "wasm, decision only",
      group: c.name,
      fn: () => {
        sink += probe.decide(index);
      },
    });
  }
  Deno.bench({
    name: "ts",
    group: c.name,
    fn: () => {
      sink += consume(callTs());
    },
  });
}

// Where the wasm's time goes: the crossing alone. A GET is refused before
// any work (405), so its time is the headers and body in and a small
// response out.
{
  const seed = fixtures.cases[0];
  const headers = new Headers(seed.headers);
  const body = new TextEncoder().encode(seed.body);
  Deno.bench({
    name: "Object.fromEntries(headers)",
    group: "boundary",
    fn: () => {
      sink += Object.keys(Object.fromEntries(headers)).length;
    },
  });
  Deno.bench({
    name: "wasm 405 (crossing only)",
    group: "boundary",
    fn: () => {
      sink += consume(wasmDecide("GET", headers, body));
    },
  });
  Deno.bench({
    name: "wasm 405 without headers",
    group: "boundary",
    fn: () => {
      sink += consume(wasmDecide("GET", new Headers(), body));
    },
  });
}

// The other call of a request that writes: the answer after the database's.
{
  const seed = fixtures.cases[0];
  const headers = new Headers(seed.headers);
  const body = new TextEncoder().encode(seed.body);
  const decided = wasmDecide(seed.method, headers, body);
  if (decided.action !== "apply") throw new Error("the seed event is not applied");
  const outcome = '{"result":"applied","effect":"created"}';
  Deno.bench({
    name: "wasm complete (after the database)",
    group: "boundary",
    fn: (b) => {
      const machine = wasmMachine(seed.method, headers, body);
      machine.poll();
      b.start();
      const answer = JSON.parse(machine.sqlAnswered(outcome, 0)).response;
      b.end();
      machine.free();
      sink += answer.status + answer.body.length;
    },
  });
}

globalThis.addEventListener("unload", () => {
  if (sink === 42) console.log("");
});
