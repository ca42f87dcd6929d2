// ops-ingest over HTTP against the local stack, signed by the npm
// `standardwebhooks` package rather than by our own code.
import assert from "node:assert/strict";
import type postgres from "postgres";
import {
  dbTest,
  deliver,
  freshProjectId,
  functionsUrl,
  projectCreated,
  signedHeaders,
} from "./support.ts";

async function projectRows(sql: postgres.Sql, projectId: string) {
  // A plain array: postgres.js results carry extra properties.
  return Array.from(
    await sql`select project_id, name, odoo_version from ops.projects where project_id = ${projectId}`,
  );
}

function assertProblem(json: Record<string, unknown>, status: number) {
  assert.equal(json.status, status);
  assert.match(String(json.type), /^urn:odooops:problem:/);
  assert.ok(String(json.detail).length > 0);
}

dbTest(
  "the seed's project_created is written once to ops.projects and answered 200",
  async (sql) => {
    const projectId = freshProjectId();
    const body = projectCreated(projectId);
    const answer = await deliver("ops-ingest", { body });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("content-type"), "application/json");
    assert.deepEqual(
      { project_id: answer.json.project_id, result: answer.json.result },
      { project_id: projectId, result: "created" },
    );
    assert.deepEqual(await projectRows(sql, projectId), [{
      project_id: projectId,
      name: "Alpha",
      odoo_version: "19.0",
    }]);
  },
);

dbTest(
  "a redelivery with the same id and body is answered like the first and writes nothing new",
  async (sql) => {
    const projectId = freshProjectId();
    const id = `msg_${crypto.randomUUID()}`;
    const body = projectCreated(projectId);
    const first = await deliver("ops-ingest", { id, body });
    const again = await deliver("ops-ingest", { id, body });
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, first.json);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    const [{ count }] =
      await sql`select count(*)::int as count from ops.ingest_deliveries where webhook_id = ${id}`;
    assert.equal(count, 1);
  },
);

dbTest("a reused id with a different body is 409 and changes nothing", async (sql) => {
  const projectId = freshProjectId();
  const id = `msg_${crypto.randomUUID()}`;
  assert.equal(
    (await deliver("ops-ingest", { id, body: projectCreated(projectId, "Alpha") })).status,
    200,
  );
  const reused = await deliver("ops-ingest", { id, body: projectCreated(projectId, "Beta") });
  assert.equal(reused.status, 409);
  assertProblem(reused.json, 409);
  assert.equal((await projectRows(sql, projectId))[0].name, "Alpha");
});

dbTest("a tampered body, a wrong secret or no signature is 401 and writes nothing", async (sql) => {
  const projectId = freshProjectId();
  const body = projectCreated(projectId);
  const headers = signedHeaders({ body });
  const cases: [string, RequestInit][] = [
    ["tampered body", { headers, body: body.replace("Alpha", "Omega") }],
    [
      "wrong secret",
      {
        headers: signedHeaders({
          body,
          secret: "whsec_" + btoa("another secret, 32 bytes long!!"),
        }),
        body,
      },
    ],
    ["no signature headers", { headers: { "content-type": "application/json" }, body }],
    ["stale timestamp", {
      headers: signedHeaders({ body, at: new Date(Date.now() - 10 * 60_000) }),
      body,
    }],
  ];
  for (const [name, init] of cases) {
    const response = await fetch(`${functionsUrl}/ops-ingest`, { method: "POST", ...init });
    assert.equal(response.status, 401, name);
    assert.equal(response.headers.get("content-type"), "application/problem+json", name);
    assertProblem(await response.json(), 401);
  }
  assert.deepEqual(await projectRows(sql, projectId), []);
});

Deno.test("a signed body that is not JSON is 400", async () => {
  const answer = await deliver("ops-ingest", { body: '{"event_type": project_created' });
  assert.equal(answer.status, 400);
  assertProblem(answer.json, 400);
});

dbTest("a schema violation is 422 naming every offending field and writes nothing", async (sql) => {
  const body = JSON.stringify({
    event_type: "project_created",
    project_id: "42",
    name: "Alpha",
    odoo_version: 19,
  });
  const answer = await deliver("ops-ingest", { body });
  assert.equal(answer.status, 422);
  assertProblem(answer.json, 422);
  const errors = answer.json.errors as { field: string; rule: string }[];
  assert.deepEqual(errors.map((e) => [e.field, e.rule]), [["project_id", "pattern"], [
    "odoo_version",
    "type",
  ]]);
  assert.equal((await sql`select 1 from ops.projects where project_id = '42'`).length, 0);
});

Deno.test("other methods are 405 and other content types 415", async () => {
  const get = await fetch(`${functionsUrl}/ops-ingest`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();
  const body = projectCreated(freshProjectId());
  const text = await deliver("ops-ingest", { body, headers: { "content-type": "text/plain" } });
  assert.equal(text.status, 415);
});
