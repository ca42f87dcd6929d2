// The shim itself, called in-process (no HTTP server): what it reads, what it
// writes to the real database, and that it never holds an unbounded body.
import assert from "node:assert/strict";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";
import shim from "./index.ts";

const secret = Deno.env.get("OPS_WEBHOOK_SECRET") ?? "";

function signed(id: string, body: string): Headers {
  const at = new Date();
  return new Headers({
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": Math.floor(at.getTime() / 1000).toString(),
    "webhook-signature": new Webhook(secret).sign(id, at, body),
  });
}

Deno.test("a signed event goes through the shim into ops.projects", async () => {
  const projectId = `odoo-${1 + Math.floor(Math.random() * 1e15)}`;
  const body = JSON.stringify({
    event_type: "project_created",
    project_id: projectId,
    name: "Shim",
    odoo_version: "17.0",
  });
  const response = await shim.fetch(
    new Request("http://localhost/ops-ingest", {
      method: "POST",
      headers: signed(`msg_${crypto.randomUUID()}`, body),
      body,
    }),
  );
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal((await response.json()).result, "created");
  const sql = postgres(Deno.env.get("SUPABASE_DB_URL") ?? "", { max: 1 });
  try {
    const rows = await sql`select name from ops.projects where project_id = ${projectId}`;
    assert.deepEqual(rows.map((r) => r.name), ["Shim"]);
  } finally {
    await sql.end();
  }
});

Deno.test("an endless body is cut off at the limit and answered 413", async () => {
  const chunk = new Uint8Array(16 * 1024).fill(0x20);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  const response = await shim.fetch(
    new Request("http://localhost/ops-ingest", {
      method: "POST",
      headers: signed("msg_endless", "irrelevant"),
      body: endless,
    }),
  );
  assert.equal(response.status, 413);
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  await response.body?.cancel();
  // The shim stopped reading shortly after the 64 KiB limit.
  assert.ok(pulled <= 128 * 1024, `read ${pulled} bytes of an endless body`);
});
