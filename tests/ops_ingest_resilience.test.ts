// ops-ingest when things go wrong around it: the database goes away and comes
// back, and the webhook secret is rotated. Each test runs its own functions
// server (the real router and function) with the settings it needs.
import assert from "node:assert/strict";
import {
  connect,
  CuttableLink,
  freshProjectId,
  projectCreated,
  serveFunctions,
  signedHeaders,
} from "./support.ts";

const databaseUrl = Deno.env.get("SUPABASE_DB_URL") ?? "";
// Servers and relays are stopped by the tests themselves; the sanitizers
// cannot see through child processes and relay loops.
const unsanitized = { sanitizeOps: false, sanitizeResources: false };

async function post(url: string, id: string, body: string, secret?: string) {
  const response = await fetch(`${url}/ops-ingest`, {
    method: "POST",
    headers: signedHeaders({ id, body, secret }),
    body,
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

Deno.test({
  name: "database down: 503 with Retry-After and nothing written; back up: the retry applies once",
  ...unsanitized,
  fn: async () => {
    const link = new CuttableLink(databaseUrl);
    link.up();
    const server = await serveFunctions({ SUPABASE_DB_URL: link.url(databaseUrl) });
    const sql = connect();
    try {
      const warm = await post(
        server.url,
        `msg_${crypto.randomUUID()}`,
        projectCreated(freshProjectId()),
      );
      assert.equal(warm.status, 200, "the function works through the link");

      const projectId = freshProjectId();
      const id = `msg_${crypto.randomUUID()}`;
      const body = projectCreated(projectId);
      link.down();
      const refused = await post(server.url, id, body);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("content-type"), "application/problem+json");
      assert.ok(Number(refused.headers.get("retry-after")) > 0);
      assert.equal(refused.json.status, 503);
      assert.equal(
        (await sql`select 1 from ops.projects where project_id = ${projectId}`).length,
        0,
      );
      assert.equal(
        (await sql`select 1 from ops.ingest_deliveries where webhook_id = ${id}`).length,
        0,
      );

      link.up();
      // The sender retries the same delivery: same id and body, signed anew.
      const retried = await post(server.url, id, body);
      assert.equal(retried.status, 200);
      assert.equal(retried.json.result, "created");
      const again = await post(server.url, id, body);
      assert.equal(again.status, 200);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      const [{ count }] = await sql`
        select count(*)::int as count from ops.projects where project_id = ${projectId}`;
      assert.equal(count, 1);
    } finally {
      await sql.end();
      await server.stop();
      link.down();
    }
  },
});

Deno.test({
  name: "during a rotation both secrets are accepted, and only those",
  ...unsanitized,
  fn: async () => {
    const secret = () =>
      `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
    const [current, previous, stranger] = [secret(), secret(), secret()];
    const server = await serveFunctions({ OPS_WEBHOOK_SECRET: `${current} ${previous}` });
    try {
      for (
        const [name, key, status] of [
          ["new secret", current, 200],
          ["old secret", previous, 200],
          ["unknown secret", stranger, 401],
        ] as const
      ) {
        const answer = await post(
          server.url,
          `msg_${crypto.randomUUID()}`,
          projectCreated(freshProjectId()),
          key,
        );
        assert.equal(answer.status, status, name);
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "an unusable secret answers 503, so the sender keeps the event",
  ...unsanitized,
  fn: async () => {
    const server = await serveFunctions({ OPS_WEBHOOK_SECRET: "not-a-secret" });
    try {
      const answer = await post(
        server.url,
        `msg_${crypto.randomUUID()}`,
        projectCreated(freshProjectId()),
      );
      assert.equal(answer.status, 503);
      assert.ok(!JSON.stringify(answer.json).includes("not-a-secret"), "the secret is not echoed");
    } finally {
      await server.stop();
    }
  },
});
