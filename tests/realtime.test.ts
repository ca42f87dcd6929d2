// Live dashboards: the changes Supabase Realtime would stream, read from a
// logical replication slot on the `supabase_realtime` publication with
// PostgreSQL's own decoder (pgoutput), as a subscriber of the publication
// sees them. The slot is temporary: it belongs to one reserved connection
// and goes with it.
import assert from "node:assert/strict";
import { dbTest, freshProjectId } from "./support.ts";

/** One decoded change: the relation's qualified name and its new values. */
interface Change {
  kind: "insert" | "update" | "delete";
  relation: string;
  values: Record<string, string | null>;
}

/**
 * Decodes pgoutput protocol version 1 messages (PostgreSQL's "Logical
 * Replication Message Formats"): relations (R) name the columns, inserts (I)
 * and updates (U) carry the new tuple, deletes (D) the key.
 */
function decode(messages: Uint8Array[]): Change[] {
  const relations = new Map<number, { name: string; columns: string[] }>();
  const changes: Change[] = [];
  for (const message of messages) {
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    let at = 1;
    const int8 = () => view.getUint8(at++);
    const int16 = () => (at += 2, view.getInt16(at - 2));
    const int32 = () => (at += 4, view.getInt32(at - 4));
    const text = () => {
      const end = message.indexOf(0, at);
      const value = new TextDecoder().decode(message.subarray(at, end));
      at = end + 1;
      return value;
    };
    const tuple = (columns: string[]) => {
      const values: Record<string, string | null> = {};
      const count = int16();
      for (let i = 0; i < count; i++) {
        const kind = String.fromCharCode(int8());
        if (kind === "t") {
          const length = int32();
          values[columns[i]] = new TextDecoder().decode(message.subarray(at, at + length));
          at += length;
        } else {
          values[columns[i]] = null;
        }
      }
      return values;
    };
    const tag = String.fromCharCode(message[0]);
    if (tag === "R") {
      const id = int32();
      const name = `${text()}.${text()}`;
      int8(); // replica identity
      const columns: string[] = [];
      for (let count = int16(), i = 0; i < count; i++) {
        int8(); // flags
        columns.push(text());
        int32(); // type oid
        int32(); // type modifier
      }
      relations.set(id, { name, columns });
    } else if (tag === "I" || tag === "U" || tag === "D") {
      const relation = relations.get(int32());
      assert.ok(relation, "a change names a relation sent before it");
      let marker = String.fromCharCode(int8());
      if (tag === "U" && (marker === "K" || marker === "O")) {
        tuple(relation.columns);
        marker = String.fromCharCode(int8());
      }
      changes.push({
        kind: tag === "I" ? "insert" : tag === "U" ? "update" : "delete",
        relation: relation.name,
        values: tuple(relation.columns),
      });
    }
  }
  return changes;
}

dbTest("a run's status change reaches the supabase_realtime publication", async (sql) => {
  const connection = await sql.reserve();
  const slot = `ops_realtime_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  try {
    // As `postgres`, which has REPLICATION on hosted Supabase too.
    await connection`select pg_catalog.pg_create_logical_replication_slot(${slot}, 'pgoutput', true)`;
    // Decoding reads WAL up to what is flushed; the local stack commits
    // without waiting for the flush (synchronous_commit = off), hosted does not.
    await connection`set synchronous_commit = on`;
    const projectId = freshProjectId();
    const runId = `run-${crypto.randomUUID().replaceAll("-", "")}`;
    await connection`insert into ops.projects (project_id, name, odoo_version)
                     values (${projectId}, 'Live', '19.0')`;
    await connection`insert into ops.runs (run_id, project_id, kind, created_by)
                     values (${runId}, ${projectId}, 'deploy', 'dev@example.com')`;
    await connection`update ops.runs set status = 'running' where run_id = ${runId}`;
    await connection`insert into ops.run_events (run_id, project_id, event_type, message)
                     values (${runId}, ${projectId}, 'deploy.step', 'migrating')`;
    await connection`insert into ops.approvals (project_id, run_id, requested_by)
                     values (${projectId}, ${runId}, 'dev@example.com')`;
    await connection`update ops.projects set repo_slug = 'org/live' where project_id = ${projectId}`;

    const rows = await connection`
      select data from pg_catalog.pg_logical_slot_get_binary_changes(
        ${slot}, null, null, 'proto_version', '1', 'publication_names', 'supabase_realtime')`;
    const changes = decode(rows.map((row) => row.data as Uint8Array))
      .filter((change) => change.values.project_id === projectId);

    const runs = changes.filter((change) => change.relation === "ops.runs");
    assert.deepEqual(
      runs.map((change) => [change.kind, change.values.run_id, change.values.status]),
      [["insert", runId, "queued"], ["update", runId, "running"]],
    );
    const approvals = changes.filter((change) => change.relation === "ops.approvals");
    assert.deepEqual(approvals.map((change) => [change.kind, change.values.status]), [
      ["insert", "pending"],
    ]);
    // A partitioned table's changes are published under the month's partition.
    const events = changes.filter((change) => change.relation.startsWith("ops.run_events_"));
    assert.deepEqual(events.map((change) => [change.kind, change.values.message]), [
      ["insert", "migrating"],
    ]);
    // Projects are not in the publication: their change is not streamed.
    assert.deepEqual(changes.filter((change) => change.relation === "ops.projects"), []);
  } finally {
    connection.release();
  }
});

dbTest("the publication holds exactly the dashboards' tables", async (sql) => {
  const rows = await sql`
    select c.oid::regclass::text as name
      from pg_catalog.pg_publication p
      join pg_catalog.pg_publication_rel r on r.prpubid = p.oid
      join pg_catalog.pg_class c on c.oid = r.prrelid
     where p.pubname = 'supabase_realtime'
     order by 1`;
  assert.deepEqual(rows.map((row) => row.name), ["ops.approvals", "ops.run_events", "ops.runs"]);
});
