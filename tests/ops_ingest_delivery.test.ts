// At-least-once delivery meets exactly-once effect: storms of duplicates,
// late and reordered deliveries, and a corpus of broken bodies, all over HTTP
// against the stack, signed by the npm standardwebhooks package.
import assert from "node:assert/strict";
import {
  dbTest,
  deliver,
  freshProjectId,
  functionsUrl,
  projectCreated,
  signedHeaders,
} from "./support.ts";

function at(minute: number): string {
  return new Date(Date.UTC(2026, 10, 1, 10, minute)).toISOString();
}

function event(
  type: string,
  projectId: string,
  minute: number,
  extra: Record<string, unknown> = {},
) {
  return JSON.stringify({
    event_type: type,
    project_id: projectId,
    occurred_at: at(minute),
    ...extra,
  });
}

dbTest("50 concurrent identical deliveries have exactly one effect", async (sql) => {
  const projectId = freshProjectId();
  const id = `msg_${crypto.randomUUID()}`;
  const body = projectCreated(projectId);
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => deliver("ops-ingest", { id, body })),
  );
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
  assert.equal(answers.filter((a) => a.headers.get("idempotent-replayed") !== "true").length, 1);
  assert.ok(
    answers.every((a) => a.json.result === "created"),
    "every answer reports the one effect",
  );
  const [{ projects }] = await sql`
    select count(*)::int as projects from ops.projects where project_id = ${projectId}`;
  const [{ deliveries }] = await sql`
    select count(*)::int as deliveries from ops.ingest_deliveries where webhook_id = ${id}`;
  assert.deepEqual({ projects, deliveries }, { projects: 1, deliveries: 1 });
  const changed = await deliver("ops-ingest", { id, body: projectCreated(projectId, "Changed") });
  assert.equal(changed.status, 409, "a replay with a changed body is refused");
});

dbTest("the lifecycle: update, archive, unarchive, delete; late ones are stale", async (sql) => {
  const p = freshProjectId();
  const steps: [string, string, number, string][] = [
    [
      "created",
      event("project_created", p, 0, { name: "Alpha", odoo_version: "19.0" }),
      200,
      "created",
    ],
    [
      "updated",
      event("project_updated", p, 10, { name: "Renamed", odoo_version: "18.0" }),
      200,
      "updated",
    ],
    ["archived", event("project_archived", p, 20), 200, "archived"],
    [
      "late update",
      event("project_updated", p, 5, { name: "Old", odoo_version: "17.0" }),
      200,
      "stale",
    ],
    ["unarchived", event("project_unarchived", p, 30), 200, "unarchived"],
    ["deleted", event("project_deleted", p, 40), 200, "deleted"],
    ["after delete", event("project_archived", p, 50), 200, "stale"],
  ];
  for (const [name, body, status, result] of steps) {
    const answer = await deliver("ops-ingest", { body });
    assert.deepEqual([answer.status, answer.json.result], [status, result], name);
  }
  const [row] = await sql`
    select name, odoo_version, active, deleted_at from ops.projects where project_id = ${p}`;
  assert.deepEqual(
    { ...row, deleted_at: row.deleted_at.toISOString() },
    { name: "Renamed", odoo_version: "18.0", active: true, deleted_at: at(40) },
  );
});

dbTest(
  "an event before its project's creation is accepted with 202 and applied later",
  async (sql) => {
    const p = freshProjectId();
    const early = await deliver("ops-ingest", { body: event("project_archived", p, 30) });
    assert.equal(early.status, 202);
    assert.equal(early.json.result, "deferred");
    assert.equal((await sql`select 1 from ops.projects where project_id = ${p}`).length, 0);
    const created = await deliver("ops-ingest", {
      body: event("project_created", p, 1, { name: "Late", odoo_version: "19.0" }),
    });
    assert.equal(created.status, 200);
    const [{ active }] = await sql`select active from ops.projects where project_id = ${p}`;
    assert.equal(active, false);
  },
);

dbTest("shuffled deliveries converge on Odoo's latest state", async (sql) => {
  const changes = (p: string) => [
    event("project_created", p, 0, { name: "A", odoo_version: "19.0" }),
    event("project_updated", p, 1, { name: "B", odoo_version: "19.0" }),
    event("project_archived", p, 2),
    event("project_updated", p, 3, { name: "C", odoo_version: "18.0" }),
    event("project_unarchived", p, 4),
    event("project_archived", p, 5),
  ];
  const states = new Set<string>();
  for (let round = 0; round < 8; round++) {
    const p = freshProjectId();
    const bodies = changes(p);
    // A deterministic shuffle per round, plus one duplicate of each delivery.
    const order = bodies.map((body, i) => ({ body, key: Math.sin(round * 31 + i * 17) }))
      .sort((x, y) => x.key - y.key);
    const deliveries = order.map(({ body }) => ({ id: `msg_${crypto.randomUUID()}`, body }));
    for (const d of [...deliveries, ...deliveries.slice(0, 3)]) {
      const answer = await deliver("ops-ingest", d);
      assert.ok([200, 202].includes(answer.status), JSON.stringify(answer.json));
    }
    const [row] =
      await sql`select name, odoo_version, active from ops.projects where project_id = ${p}`;
    states.add(JSON.stringify(row));
  }
  assert.deepEqual([...states], [
    JSON.stringify({ name: "C", odoo_version: "18.0", active: false }),
  ]);
});

/** Broken bodies, each of which must be refused with a 4xx problem. */
function corpus(): string[] {
  const p = "odoo-77";
  const valid = {
    event_type: "project_created",
    project_id: p,
    name: "Corpus",
    odoo_version: "19.0",
  };
  const seed = JSON.stringify(valid);
  const bodies: string[] = [];
  // Every proper prefix of a valid body is broken JSON.
  const archived = JSON.stringify({
    event_type: "project_archived",
    project_id: p,
    occurred_at: at(1),
  });
  for (const whole of [seed, archived]) {
    for (let cut = 0; cut < whole.length; cut++) bodies.push(whole.slice(0, cut));
  }
  // Each field missing, null, or of every wrong type.
  const wrong = [null, 0, 1.5, true, [], {}, "", " ", "x".repeat(300)];
  for (const field of Object.keys(valid)) {
    const { [field]: _, ...without } = valid as Record<string, unknown>;
    bodies.push(JSON.stringify(without));
    for (const value of wrong) bodies.push(JSON.stringify({ ...valid, [field]: value }));
  }
  // Values that break one rule each.
  for (
    const project_id of [
      "odoo-0",
      "odoo-01",
      "odoo-",
      "42",
      "ODOO-1",
      "odoo-1a",
      "odoo-1 ",
      `odoo-${"9".repeat(19)}`,
    ]
  ) {
    bodies.push(JSON.stringify({ ...valid, project_id }));
  }
  for (const odoo_version of ["19", "v19.0", "19.0.1", "saas-18.3", "1000.0", "nineteen"]) {
    bodies.push(JSON.stringify({ ...valid, odoo_version }));
  }
  for (const name of ["\u0000", "a\nb", "tab\there", "\u007f", "é".repeat(256)]) {
    bodies.push(JSON.stringify({ ...valid, name }));
  }
  for (const event_type of ["project_exploded", "PROJECT_CREATED", "project created", "created"]) {
    bodies.push(JSON.stringify({ ...valid, event_type }));
  }
  for (
    const occurred_at of [
      "yesterday",
      "2026-11-01",
      "2026-11-01 10:00:00",
      "1999-01-01T00:00:00Z",
      "2999-01-01T00:00:00Z",
      1700000000,
    ]
  ) {
    bodies.push(JSON.stringify({ ...valid, occurred_at }));
    bodies.push(JSON.stringify({ event_type: "project_archived", project_id: p, occurred_at }));
  }
  // Other event types with their required fields missing or extra ones added.
  for (
    const type of ["project_updated", "project_archived", "project_unarchived", "project_deleted"]
  ) {
    bodies.push(JSON.stringify({ event_type: type, project_id: p }));
    bodies.push(JSON.stringify({ event_type: type, project_id: p, occurred_at: at(1), extra: 1 }));
  }
  // Not objects, not UTF-8 text, not JSON at all.
  bodies.push(
    "[]",
    "null",
    "true",
    "1",
    '"project_created"',
    "[" + seed + "]",
    "",
    " ",
    "{}",
    "{{}}",
  );
  bodies.push(seed + "garbage", seed.replaceAll('"', "'"), seed.replace(":", "="), "\uFEFF" + seed);
  bodies.push(JSON.stringify({ ...valid, extra: true }), JSON.stringify({ ...valid, Name: "x" }));
  return bodies;
}

dbTest("a corpus of over 200 broken bodies: each a 4xx problem, nothing written", async (sql) => {
  const bodies = corpus();
  assert.ok(bodies.length >= 200, `the corpus has ${bodies.length} bodies`);
  const [{ before }] = await sql`select count(*)::int as before from ops.ingest_deliveries`;
  for (const body of bodies) {
    const response = await fetch(`${functionsUrl}/ops-ingest`, {
      method: "POST",
      headers: signedHeaders({ body }),
      body,
    });
    const text = await response.text();
    assert.ok(
      [400, 422].includes(response.status),
      `${response.status} for ${JSON.stringify(body)}`,
    );
    assert.equal(response.headers.get("content-type"), "application/problem+json");
    const problem = JSON.parse(text);
    assert.equal(problem.status, response.status);
    if (response.status === 422) assert.ok(problem.errors.length > 0, text);
  }
  const [{ after }] = await sql`select count(*)::int as after from ops.ingest_deliveries`;
  assert.equal(after, before);
  assert.equal((await sql`select 1 from ops.projects where project_id = 'odoo-77'`).length, 0);
});

Deno.test("signature conformance: stale, future and malformed headers are 401", async () => {
  const body = projectCreated(freshProjectId());
  const fresh = signedHeaders({ body });
  const cases: [string, Record<string, string>][] = [
    ["6 minutes old", signedHeaders({ body, at: new Date(Date.now() - 6 * 60_000) })],
    ["6 minutes ahead", signedHeaders({ body, at: new Date(Date.now() + 6 * 60_000) })],
    ["timestamp in ms", { ...fresh, "webhook-timestamp": `${Date.now()}` }],
    ["timestamp not a number", { ...fresh, "webhook-timestamp": "now" }],
    ["signature without version", {
      ...fresh,
      "webhook-signature": fresh["webhook-signature"].slice(3),
    }],
    ["signature of another version", {
      ...fresh,
      "webhook-signature": fresh["webhook-signature"].replace("v1,", "v2,"),
    }],
    ["signature not base64", { ...fresh, "webhook-signature": "v1,!!!" }],
    ["empty id", { ...fresh, "webhook-id": "" }],
    ["other id", { ...fresh, "webhook-id": "msg_other" }],
  ];
  for (const [name, headers] of cases) {
    const response = await fetch(`${functionsUrl}/ops-ingest`, { method: "POST", headers, body });
    assert.equal(response.status, 401, name);
    const problem = await response.json();
    assert.ok(String(problem.header).startsWith("webhook-"), `${name}: ${JSON.stringify(problem)}`);
  }
  // Within the tolerance, both ways, is accepted.
  for (const offset of [-4 * 60_000, 4 * 60_000]) {
    const answer = await deliver("ops-ingest", {
      body: projectCreated(freshProjectId()),
      at: new Date(Date.now() + offset),
    });
    assert.equal(answer.status, 200, `offset ${offset}`);
  }
});
