// What the ops-ingest wasm costs a cold isolate: compiling the module,
// instantiating it, and the whole top-level import of the shim's module up to
// its first decision.
//
//   cargo xtask build
//   deno bench --allow-read --allow-write --allow-env bench/deno/instantiate.bench.ts
//
// V8 shares compiled wasm between modules with the same bytes, so compiling
// one module again and again would measure a cache. Every iteration therefore
// gets a module of its own: the same wasm with a one-off custom section
// appended (a custom section is ignored by the engine but changes the bytes).
import { makeFixtures } from "./fixtures.ts";

const PKG = new URL("../../pkg/ops-ingest/", import.meta.url);
const wasmBytes = Deno.readFileSync(new URL("ops_ingest_bg.wasm", PKG));
const glue = Deno.readTextFileSync(new URL("ops_ingest.js", PKG));

let serial = 0;

/** The module's bytes plus a custom section `bench` holding a counter. */
function freshBytes(): Uint8Array<ArrayBuffer> {
  const payload = new TextEncoder().encode(`bench${String(serial++).padStart(10, "0")}`);
  // Section id 0 (custom), size, name length 5, "bench" + 10 digits: all
  // below 128 bytes, so each LEB128 number is one byte.
  const section = new Uint8Array([0, payload.length + 1, 5, ...payload]);
  const bytes = new Uint8Array(wasmBytes.length + section.length);
  bytes.set(wasmBytes);
  bytes.set(section, wasmBytes.length);
  return bytes;
}

// Imports that only have to exist: instantiation links them, nothing calls
// them, and their number and kinds are those of the real glue's.
const stubImports: WebAssembly.Imports = {};
for (const entry of WebAssembly.Module.imports(new WebAssembly.Module(freshBytes()))) {
  stubImports[entry.module] ??= {};
  if (entry.kind !== "function") {
    throw new Error(`ops-ingest imports a ${entry.kind}; teach this bench about it`);
  }
  (stubImports[entry.module] as Record<string, unknown>)[entry.name] = () => {
    throw new Error(`stub import ${entry.module}.${entry.name} called`);
  };
}

Deno.bench({
  name: "compile: new WebAssembly.Module",
  group: "instantiate",
  baseline: true,
  fn: (b) => {
    const bytes = freshBytes();
    b.start();
    new WebAssembly.Module(bytes);
    b.end();
  },
});

Deno.bench({
  name: "compile + new WebAssembly.Instance",
  group: "instantiate",
  fn: (b) => {
    const bytes = freshBytes();
    b.start();
    new WebAssembly.Instance(new WebAssembly.Module(bytes), stubImports);
    b.end();
  },
});

// The shim's `import { Ingest } from ".../ops_ingest.js"` on a cold isolate:
// the glue module loads, fetches and streams the wasm into V8, instantiates
// it and runs its start function; then `new Ingest(secret)` parses the secret
// and the first `decide` runs (lazily compiled functions compile here).
const scratch = Deno.makeTempDirSync({ prefix: "odooops-bench-" });
const fixtures = makeFixtures(Math.floor(Date.now() / 1000));
const seed = fixtures.cases[0];
Deno.bench({
  name: "import glue + wasm, new Ingest, first decide",
  group: "instantiate",
  n: 30,
  warmup: 3,
  fn: async (b) => {
    const dir = `${scratch}/${serial}`;
    Deno.mkdirSync(dir);
    Deno.writeFileSync(`${dir}/ops_ingest_bg.wasm`, freshBytes());
    Deno.writeTextFileSync(`${dir}/ops_ingest.js`, glue);
    b.start();
    const { Ingest } = await import(`file://${dir}/ops_ingest.js`);
    const ingest = new Ingest(fixtures.secret);
    const headers = new Headers(seed.headers);
    const decision = JSON.parse(
      ingest.request(
        seed.method,
        headers.get("content-type") ?? undefined,
        headers.get("webhook-id") ?? undefined,
        headers.get("webhook-timestamp") ?? undefined,
        headers.get("webhook-signature") ?? undefined,
        new TextEncoder().encode(seed.body),
        true,
        fixtures.now_ms,
      ).poll(),
    );
    b.end();
    if (decision.kind !== "sql") throw new Error("the first decision was not an apply");
  },
});

// The same without `new Ingest` and the first decision.
Deno.bench({
  name: "import glue + wasm",
  group: "instantiate",
  n: 30,
  warmup: 3,
  fn: async (b) => {
    const dir = `${scratch}/${serial}`;
    Deno.mkdirSync(dir);
    Deno.writeFileSync(`${dir}/ops_ingest_bg.wasm`, freshBytes());
    Deno.writeTextFileSync(`${dir}/ops_ingest.js`, glue);
    b.start();
    await import(`file://${dir}/ops_ingest.js`);
    b.end();
  },
});

// What any dynamic import of a fresh file costs, for scale.
Deno.bench({
  name: "import an empty module (for scale)",
  group: "instantiate",
  n: 30,
  warmup: 3,
  fn: async (b) => {
    const path = `${scratch}/empty-${serial++}.js`;
    Deno.writeTextFileSync(path, "export const empty = true;\n");
    b.start();
    await import(`file://${path}`);
    b.end();
  },
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(scratch, { recursive: true });
});
