// The executor against the real database and S3 store: it performs what a
// machine asks, hands back results and failures as they are, and holds no
// SQL of its own (nor does any shim).
import assert from "node:assert/strict";
import { execute, type Machine } from "./executor.ts";

/** A scripted machine: each step is the JSON text of the next I/O. */
class Script implements Machine {
  seen: unknown[] = [];
  freed = false;
  #steps: unknown[];
  #content = new TextEncoder().encode(`archive ${crypto.randomUUID()}`);
  constructor(steps: unknown[]) {
    this.#steps = steps;
  }
  #next(): string {
    return JSON.stringify(this.#steps.shift());
  }
  poll(): string {
    return this.#next();
  }
  sqlAnswered(result: string | undefined, elapsedMs: number): string {
    assert.ok(elapsedMs >= 0);
    this.seen.push({ result });
    return this.#next();
  }
  sqlFailed(sqlstate: string | undefined, message: string | undefined): string {
    this.seen.push({ sqlstate, message });
    return this.#next();
  }
  content(): Uint8Array {
    return this.#content;
  }
  s3Answered(stored: Uint8Array | undefined): string {
    this.seen.push({ stored: stored && new TextDecoder().decode(stored) });
    return this.#next();
  }
  s3Failed(): string {
    this.seen.push("s3 failed");
    return this.#next();
  }
  responded(): string {
    this.seen.push("responded");
    return this.#next();
  }
  free(): void {
    this.freed = true;
  }
}

const respond = {
  kind: "respond",
  response: { status: 207, headers: [["content-type", "text/plain"]], body: "done", log: {} },
};

Deno.test("statements get their typed parameters, answers and failures go back as they are", async () => {
  const machine = new Script([
    {
      kind: "sql",
      text: "select ($1::text || $2::int::text || cardinality($3::text[])::text) as result",
      params: ["a", 2, ["x", "y", "z"]],
    },
    { kind: "sql", text: "select null::text as result", params: [] },
    { kind: "sql", text: "select (1 / $1::int)::text as result", params: [0] },
    respond,
  ]);
  const response = await execute("executor-test", machine, performance.now());
  assert.equal(response.status, 207);
  assert.equal(await response.text(), "done");
  assert.deepEqual(machine.seen, [
    { result: "a23" },
    { result: undefined },
    { sqlstate: "22012", message: "division by zero" },
  ]);
  assert.ok(machine.freed);
});

Deno.test("an S3 put reads back what is stored; deletes and failures are handed back", async () => {
  const bucket = Deno.env.get("S3_BUCKET") ?? "odooops-archives";
  const key = `executor-test/${crypto.randomUUID()}.txt`;
  const content = new TextEncoder().encode("verified bytes");
  const digest = btoa(
    String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", content))),
  );
  const put = new Script([
    { kind: "s3_put", bucket, key, content_type: "text/plain", sha256_base64: digest },
    { kind: "s3_get", bucket, key },
    { kind: "s3_delete", bucket, key },
    { kind: "s3_get", bucket, key },
    { kind: "s3_delete", bucket: "no-such-bucket-here", key },
    respond,
  ]);
  put.content = () => content;
  await execute("executor-test", put, performance.now());
  assert.deepEqual(put.seen, [
    { stored: "verified bytes" },
    { stored: "verified bytes" },
    { stored: undefined },
    "s3 failed",
    "s3 failed",
  ]);
});

Deno.test("no SQL lives in the functions' TypeScript", async () => {
  const sqlText = [
    /\bselect\b[^\n]*\bfrom\b/i,
    /\binsert\s+into\b/i,
    /\bdelete\s+from\b/i,
    /\bselect\s+ops\./i,
  ];
  const root = new URL("../", import.meta.url);
  const offending: string[] = [];
  async function walk(dir: URL) {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        const text = await Deno.readTextFile(url);
        for (const pattern of sqlText) {
          if (pattern.test(text)) offending.push(`${url.pathname}: ${pattern}`);
        }
      }
    }
  }
  await walk(root);
  assert.deepEqual(offending, []);
  // The check can fail: it finds what it looks for.
  assert.ok(sqlText.some((pattern) => pattern.test("await sql`select ops.cleanup_release(1)`")));
});

Deno.test({
  name: "respond_then: the answer is sent at once, and the rest runs after it",
  // The rest outlives the call on purpose.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const machine = new Script([
      {
        kind: "respond_then",
        response: { status: 202, headers: [], body: "early", log: {} },
      },
      { kind: "sql", text: "select 'slept' as result from pg_sleep(0.3)", params: [] },
      respond,
    ]);
    const started = performance.now();
    const response = await execute("executor-test", machine, started);
    assert.equal(response.status, 202);
    assert.equal(await response.text(), "early");
    assert.ok(performance.now() - started < 250, "the answer did not wait for the rest");
    assert.deepEqual(machine.seen, ["responded"]);
    assert.equal(machine.freed, false);
    for (let i = 0; i < 100 && !machine.freed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(machine.freed, true);
    assert.deepEqual(machine.seen, ["responded", { result: "slept" }]);
  },
});
