// ops-odoo-nudge over HTTP against the local stack: Odoo's native webhook
// (unsigned, the token in the URL) as a hint to re-read Odoo through the
// real postgres_fdw, never as data; a burst is coalesced and rate-bounded,
// counted on Odoo's own database.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { functionsUrl } from "./support.ts";
import { odooProject, withDatabases } from "./odoo.ts";

const token = (Deno.env.get("OPS_NUDGE_TOKENS") ?? "").split("|")[0];
const unsanitized = { sanitizeOps: false, sanitizeResources: false };

async function nudge(body: unknown, path = `prod/${token}`) {
  const response = await fetch(`${functionsUrl}/ops-odoo-nudge/${path}`, {
    method: "POST",
    // As Odoo sends it: JSON, and nothing else that identifies it.
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

function freshId(): number {
  return 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
}

/**
 * Reads of Odoo's projects, as Odoo's own database counts them. Each read
 * (ops.reconcile_read through the wrapper) is one remote transaction that
 * reads project_project by the ids and ir_module_module once, for the
 * series; the latter's scans count the reads exactly, where project_project's
 * idx_scan counts each id of its `id = any (…)` as a scan of its own.
 */
async function projectReads(odoo: postgres.Sql): Promise<number> {
  const [row] = await odoo`
    select (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::int as scans
      from pg_stat_user_tables where relname = 'ir_module_module'`;
  return row.scans;
}

/**
 * Waits out the statistics' flush: a backend (here the wrapper's, on Odoo's
 * side) reports its counts when idle, within 10 s.
 */
const statsSettle = () => new Promise((resolve) => setTimeout(resolve, 11_000));

Deno.test({
  name: "a wrong token is 401 and an unknown model is ignored; neither queues anything",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql) => {
      const id = freshId();
      const [{ before }] = await sql`select count(*)::int as before from ops_private.odoo_nudges`;
      const wrong = await nudge(
        { _model: "project.project", _id: id },
        `prod/${"x".repeat(token.length)}`,
      );
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.type, "urn:odooops:problem:unauthorized");
      const missing = await nudge({ _model: "project.project", _id: id }, "prod");
      assert.equal(missing.status, 401);
      const task = await nudge({ _model: "project.task", _id: id, name: "x" });
      assert.equal(task.status, 202, JSON.stringify(task.json));
      assert.equal(task.json.queued, false);
      const bad = await nudge({ _model: "project.project", _id: "42" });
      assert.equal(bad.status, 422);
      assert.match(bad.json.detail, /^_id:/);
      const [{ after }] = await sql`select count(*)::int as after from ops_private.odoo_nudges`;
      assert.equal(after, before);
    }),
});

Deno.test({
  name: "a nudge re-reads the project from Odoo; the nudge's own field values are never written",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const id = freshId();
      await odooProject(odoo, id, { en_US: "Odoo's name" }, 30);
      try {
        // Odoo's payload with fields selected: they are ignored.
        const answer = await nudge({
          _model: "project.project",
          _id: id,
          _action: "Notify control plane(#7)",
          id,
          name: "Forged by the nudge",
          active: false,
        });
        assert.equal(answer.status, 202, JSON.stringify(answer.json));
        assert.equal(answer.json.queued, true);
        // The re-read runs after the answer, and at most once a second:
        // drain until it lands (an empty body only drains).
        let row;
        for (let attempt = 0; attempt < 10 && !row; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          [row] = await sql`select name, active from ops.projects where project_id = ${
            "odoo-" + id
          }`;
          if (!row) assert.equal((await nudge({})).status, 202);
        }
        assert.deepEqual({ ...row }, { name: "Odoo's name", active: true });
        const [{ left }] = await sql`
          select count(*)::int as left from ops_private.odoo_nudges
           where odoo_instance = 'prod' and odoo_id = ${id}`;
        assert.equal(left, 0, "a record re-read leaves the queue");
      } finally {
        await odoo`delete from project_project where id = ${id}`;
      }
    }),
});

Deno.test({
  name: "a burst of 1,000 nudges reads Odoo's projects at most once a second",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const first = freshId();
      const ids = Array.from({ length: 1000 }, (_, n) => first + n);
      await statsSettle();
      const before = await projectReads(odoo);
      const started = performance.now();
      // 20 at a time, as a bulk edit in Odoo's workers sends them.
      let next = 0;
      const statuses: number[] = [];
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next < ids.length) {
          const id = ids[next++];
          statuses.push((await nudge({ _model: "project.project", _id: id })).status);
        }
      }));
      // Drained, as the next nudges would.
      for (let n = 0; n < 3; n++) {
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        assert.equal((await nudge({})).status, 202);
      }
      const seconds = (performance.now() - started) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      try {
        assert.ok(statuses.every((status) => status === 202), JSON.stringify(statuses));
        await statsSettle();
        const reads = (await projectReads(odoo)) - before;
        // One read per second of the burst at most (each of up to 1,000 ids),
        // and at least one: the nudges were read.
        assert.ok(reads >= 1, `Odoo was never read (${reads})`);
        assert.ok(
          reads <= Math.ceil(seconds) + 1,
          `${reads} reads of Odoo's projects in ${seconds.toFixed(1)} s`,
        );
        const [{ left }] = await sql`
          select count(*)::int as left from ops_private.odoo_nudges
           where odoo_instance = 'prod' and odoo_id = any(${ids})`;
        assert.equal(left, 0, "every nudged record was re-read");
      } finally {
        await sql`delete from ops_private.odoo_nudges
                   where odoo_instance = 'prod' and odoo_id = any(${ids})`;
      }
    }),
});
