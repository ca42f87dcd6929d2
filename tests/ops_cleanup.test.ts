// ops-cleanup against the real stack: PostgreSQL, s3s-fs and the served
// function. After every test the invariant holds: each run that left the
// database is in a verified archive object, and nothing else left.
import assert from "node:assert/strict";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type postgres from "postgres";
import {
  connect,
  CuttableLink,
  deliver,
  freshProjectId,
  functionsUrl,
  projectCreated,
  serveFunctions,
} from "./support.ts";

const cronSecret = Deno.env.get("OPS_CRON_SECRET") ?? "";
const bucket = Deno.env.get("S3_BUCKET") ?? "";
const databaseUrl = Deno.env.get("SUPABASE_DB_URL") ?? "";
const unsanitized = { sanitizeOps: false, sanitizeResources: false };
const s3 = new S3Client({
  endpoint: Deno.env.get("S3_ENDPOINT"),
  region: Deno.env.get("AWS_REGION") ?? "us-east-1",
  forcePathStyle: true,
});

async function invoke(body: unknown = {}, url = functionsUrl, secret = cronSecret) {
  const response = await fetch(`${url}/ops-cleanup`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** Runs cleanups until one finds nothing more to do. */
async function cleanAll(url = functionsUrl) {
  for (let i = 0; i < 20; i++) {
    const answer = await invoke({}, url);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    if (answer.json.complete && answer.json.archives.length === 0) return;
  }
  throw new Error("cleanup did not settle");
}

const day = 24 * 3600 * 1000;

/** A project with runs finished `ages` days ago (and one that never finished). */
async function seed(sql: postgres.Sql, ages: number[]) {
  const projectId = freshProjectId();
  await sql`insert into ops.projects (project_id, name, odoo_version) values (${projectId}, 'Cleanup', '19.0')`;
  const runIds: string[] = [];
  for (const [i, age] of ages.entries()) {
    const runId = `run-${crypto.randomUUID().replaceAll("-", "")}`;
    const finished = new Date(Date.now() - age * day);
    const created = new Date(finished.getTime() - 600_000);
    await sql`
      insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at, metadata)
      values (${runId}, ${projectId}, 'build', 'success', 'dev@example.com', ${created}, ${created}, ${finished},
              ${sql.json({ n: i, big: 9007199254740993n.toString() })})`;
    for (const message of ["started", "done"]) {
      await sql`
        insert into ops.run_events (run_id, project_id, created_at, event_type, message)
        values (${runId}, ${projectId}, ${new Date(
        created.getTime() + 1000,
      )}, 'build.step', ${message})`;
    }
    runIds.push(runId);
  }
  const open = `run-${crypto.randomUUID().replaceAll("-", "")}`;
  await sql`
    insert into ops.runs (run_id, project_id, kind, status, created_by, created_at)
    values (${open}, ${projectId}, 'build', 'queued', 'dev@example.com', ${new Date(
    Date.now() - 400 * day,
  )})`;
  return { projectId, runIds, open };
}

async function snapshot(sql: postgres.Sql, runIds: string[]) {
  const rows = await sql`
    select r.run_id, to_jsonb(r)::text as run,
           (select coalesce(jsonb_agg(to_jsonb(e) order by e.event_id), '[]')::text
              from ops.run_events e where e.run_id = r.run_id) as events
      from ops.runs r where r.run_id = any(${runIds})`;
  return new Map(rows.map((r) => [r.run_id as string, { run: r.run, events: r.events }]));
}

async function archivedLines(key: string): Promise<{ run: { run_id: string } }[]> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await object.Body!.transformToByteArray();
  const text = await new Response(
    new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  return text.trim().split("\n").map((line) => JSON.parse(line));
}

/** Lowercase hex SHA-256 of `bytes`. */
async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes))),
  ).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The SHA-256 (hex) of the object stored under `key`, as read back now. */
async function storedDigest(key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return await sha256Hex(await object.Body!.transformToByteArray());
}

/**
 * The events of `eventIds` found in verified run_events archive objects, by
 * id, with the number of objects holding each.
 */
async function archivedEvents(sql: postgres.Sql, eventIds: string[]) {
  const archives = await sql`
    select object_key, sha256 from ops.cleanup_archives
     where archive_table = 'run_events' and ids && ${eventIds}::text[]`;
  const archived = new Map<string, number>();
  for (const { object_key, sha256 } of archives) {
    assert.equal(await storedDigest(object_key), sha256, `${object_key} verifies`);
    for (const line of await archivedLines(object_key) as unknown as { event_id: number }[]) {
      const id = String(line.event_id);
      archived.set(id, (archived.get(id) ?? 0) + 1);
    }
  }
  return archived;
}

/** Every run gone from the database is in exactly one verified archive. */
async function assertNothingLost(sql: postgres.Sql, runIds: string[]) {
  const present = new Set(
    (await sql`select run_id from ops.runs where run_id = any(${runIds})`).map((r) => r.run_id),
  );
  for (const runId of runIds.filter((id) => !present.has(id))) {
    const found = await sql`
      select a.object_key, a.sha256 from ops.cleanup_archived_runs r
        join ops.cleanup_archives a using (object_key) where r.run_id = ${runId}`;
    assert.equal(found.length, 1, `${runId} left without an archive record`);
    assert.equal(
      await storedDigest(found[0].object_key),
      found[0].sha256,
      `${found[0].object_key} does not verify`,
    );
    const lines = await archivedLines(found[0].object_key);
    assert.equal(
      lines.filter((l) => l.run.run_id === runId).length,
      1,
      `${runId} not in its archive`,
    );
  }
}

Deno.test("only the cron secret may run a cleanup", async () => {
  for (const secret of ["", "wrong", cronSecret + "x"]) {
    const answer = await invoke({}, functionsUrl, secret);
    assert.equal(answer.status, 401, secret);
    assert.equal(answer.json.status, 401);
  }
  const bad = await invoke({ dry_run: "yes" });
  assert.equal(bad.status, 422);
});

Deno.test({
  name: "a dry run plans and touches nothing; a real run archives, verifies, then deletes",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const { runIds, open } = await seed(sql, [200, 120, 10]);
      const before = await snapshot(sql, [...runIds, open]);

      const dry = await invoke({ dry_run: true });
      assert.equal(dry.status, 200, JSON.stringify(dry.json));
      assert.equal(dry.json.dry_run, true);
      assert.ok(dry.json.plan.delete.runs.includes(runIds[0]));
      assert.deepEqual(await snapshot(sql, [...runIds, open]), before, "a dry run changes nothing");

      await cleanAll();
      const after = await snapshot(sql, [...runIds, open]);
      assert.deepEqual(
        [...after.keys()].sort(),
        [runIds[2], open].sort(),
        "old finished runs went, the rest stayed",
      );
      assert.deepEqual(after.get(open), before.get(open));
      assert.deepEqual(after.get(runIds[2]), before.get(runIds[2]));
      await assertNothingLost(sql, runIds);

      // The archive holds the rows exactly, events included.
      const [{ object_key }] = await sql`
        select object_key from ops.cleanup_archived_runs where run_id = ${runIds[0]}`;
      const line = (await archivedLines(object_key)).find((l) =>
        l.run.run_id === runIds[0]
      ) as unknown as {
        run: Record<string, unknown>;
        events: unknown[];
      };
      const original = JSON.parse(before.get(runIds[0])!.run);
      assert.deepEqual(line.run.metadata, original.metadata);
      assert.equal(line.events.length, 2);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "S3 unreachable: 503 and nothing deleted",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    const server = await serveFunctions({ S3_ENDPOINT: "http://127.0.0.1:9" });
    try {
      const { runIds } = await seed(sql, [300]);
      const answer = await invoke({}, server.url);
      assert.equal(answer.status, 503, JSON.stringify(answer.json));
      assert.equal((await sql`select 1 from ops.runs where run_id = any(${runIds})`).length, 1);
      assert.equal(
        (await sql`select 1 from ops.cleanup_archived_runs where run_id = any(${runIds})`).length,
        0,
      );
    } finally {
      await server.stop();
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "S3 that accepts and never answers: 503 within the timeout, nothing deleted, lease released",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    // A store that takes connections and never says a word.
    const hole = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    (async () => {
      for await (const conn of hole) held.push(conn);
    })().catch(() => {});
    const server = await serveFunctions({
      S3_ENDPOINT: `http://127.0.0.1:${hole.addr.port}`,
      OPS_S3_TIMEOUT_MS: "1000",
    });
    try {
      const { runIds } = await seed(sql, [300]);
      const started = performance.now();
      const answer = await invoke({}, server.url);
      assert.equal(answer.status, 503, JSON.stringify(answer.json));
      assert.ok(performance.now() - started < 15_000, "it gave up instead of hanging");
      assert.ok(held.length > 0, "the function did reach the silent store");
      assert.equal((await sql`select 1 from ops.runs where run_id = any(${runIds})`).length, 1);
      // The lease is free again: the next cleanup runs and finishes the job.
      await cleanAll();
      await assertNothingLost(sql, runIds);
      assert.equal((await sql`select 1 from ops.runs where run_id = any(${runIds})`).length, 0);
    } finally {
      await server.stop();
      hole.close();
      for (const conn of held) conn.close();
      await sql.end();
    }
  },
});

Deno.test({
  name: "database unreachable: 503 and nothing lost; back up, the rerun finishes",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    const link = new CuttableLink(databaseUrl);
    link.up();
    const server = await serveFunctions({ SUPABASE_DB_URL: link.url(databaseUrl) });
    try {
      const { runIds } = await seed(sql, [300, 301]);
      link.down();
      const refused = await invoke({}, server.url);
      assert.equal(refused.status, 503);
      assert.equal((await sql`select 1 from ops.runs where run_id = any(${runIds})`).length, 2);
      link.up();
      await cleanAll(server.url);
      assert.equal((await sql`select 1 from ops.runs where run_id = any(${runIds})`).length, 0);
      await assertNothingLost(sql, runIds);
    } finally {
      await server.stop();
      link.down();
      await sql.end();
    }
  },
});

Deno.test({
  name: "a crash after the put: the rerun deletes once and writes no second archive",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    const blocker = connect();
    try {
      const { runIds } = await seed(sql, [250, 251]);
      const before = new Set(await keys());
      // The commit of this invocation waits on our lock, and its database
      // session is then killed: the archive is in S3, the rows are still here.
      const crashed = await blocker.begin(async (tx) => {
        await tx`lock table ops.cleanup_archives in access exclusive mode`;
        const pending = invoke();
        let settled = false;
        pending.finally(() => settled = true);
        // Kill the commit's session whenever it waits on our lock (the shim
        // retries a dropped connection once), until the invocation gives up.
        for (let i = 0; i < 400 && !settled; i++) {
          const waiting = await sql`
            select pid from pg_stat_activity
             where wait_event_type = 'Lock' and query like '%cleanup_commit%'`;
          for (const { pid } of waiting) await sql`select pg_terminate_backend(${pid})`;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        return await pending;
      });
      assert.equal(crashed.status, 503, JSON.stringify(crashed.json));
      const written = (await keys()).filter((k) => !before.has(k) && k.startsWith("runs/"));
      assert.ok(written.length > 0, "the archive was put before the crash");
      assert.equal((await sql`select 1 from ops.runs where run_id = any(${runIds})`).length, 2);

      await cleanAll();
      assert.equal((await sql`select 1 from ops.runs where run_id = any(${runIds})`).length, 0);
      const after = (await keys()).filter((k) => !before.has(k) && k.startsWith("runs/"));
      assert.deepEqual(after, written, "the rerun found its archive and wrote no second one");
      const recorded = await sql`
        select distinct object_key from ops.cleanup_archived_runs where run_id = any(${runIds})`;
      assert.deepEqual(recorded.map((r) => r.object_key).sort(), written);
      await assertNothingLost(sql, runIds);
    } finally {
      await blocker.end();
      await sql.end();
    }
  },
});

/**
 * Runs one cleanup while `write` is in a transaction of its own, committed
 * once the batch's commit waits for it (after the read, before any run is
 * deleted) or, if the commit does not wait, once the cleanup has answered.
 * Answers the cleanup's answer and whether its commit waited.
 */
async function cleanupWhileWriting(
  sql: postgres.Sql,
  write: (tx: postgres.TransactionSql) => Promise<unknown>,
) {
  const writer = connect();
  try {
    let pending: ReturnType<typeof invoke> | undefined;
    let waited = false;
    await writer.begin(async (tx) => {
      await write(tx);
      pending = invoke();
      let settled = false;
      pending.finally(() => settled = true);
      for (let i = 0; i < 400 && !settled && !waited; i++) {
        waited = (await sql`
          select 1 from pg_stat_activity
           where wait_event_type = 'Lock' and query like '%cleanup_commit%'`).length > 0;
        if (!waited) await new Promise((resolve) => setTimeout(resolve, 25));
      }
    });
    const answer = await pending!;
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return { answer, waited };
  } finally {
    await writer.end();
  }
}

Deno.test({
  name: "an event written while the commit runs keeps its run: nothing unarchived is deleted",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const { runIds: [runId], projectId } = await seed(sql, [260]);
      // The read saw two events, and the archive holds two.
      const { answer, waited } = await cleanupWhileWriting(
        sql,
        (tx) =>
          tx`insert into ops.run_events (run_id, project_id, event_type, message)
             values (${runId}, ${projectId}, 'build.step', 'late')`,
      );
      const events =
        await sql`select message from ops.run_events where run_id = ${runId} order by event_id`;
      assert.deepEqual(
        events.map((e) => e.message),
        ["started", "done", "late"],
        "no event was lost",
      );
      assert.equal((await sql`select 1 from ops.runs where run_id = ${runId}`).length, 1);
      // The race was run: the commit waited for the event, then found the
      // run changed since its read.
      assert.ok(waited, "the commit waited for the event's transaction");
      assert.ok(answer.json.deleted.changed >= 1, JSON.stringify(answer.json));

      // The next cleanup archives the run with all three.
      await cleanAll();
      await assertNothingLost(sql, [runId]);
      const [{ object_key }] = await sql`
        select object_key from ops.cleanup_archived_runs where run_id = ${runId}`;
      const line = (await archivedLines(object_key)).find((l) =>
        l.run.run_id === runId
      ) as unknown as {
        events: { message: string }[];
      };
      assert.deepEqual(line.events.map((e) => e.message).sort(), ["done", "late", "started"]);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "an approval requested while the commit runs keeps its run",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const { runIds: [runId], projectId } = await seed(sql, [261]);
      const { answer, waited } = await cleanupWhileWriting(
        sql,
        (tx) =>
          tx`insert into ops.approvals (project_id, run_id, requested_by, request_note)
             values (${projectId}, ${runId}, 'dev@example.com', 'requested late')`,
      );
      assert.equal(
        (await sql`select 1 from ops.runs where run_id = ${runId}`).length,
        1,
        "the run its approval refers to is still here",
      );
      assert.ok(waited, "the commit waited for the approval's transaction");
      assert.ok(answer.json.deleted.changed >= 1, JSON.stringify(answer.json));
      // And cleanup keeps it from now on.
      await cleanAll();
      assert.equal((await sql`select 1 from ops.runs where run_id = ${runId}`).length, 1);
    } finally {
      await sql.end();
    }
  },
});

async function keys(): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((c) => c.Key!).sort();
}

Deno.test({
  name: "two concurrent invocations do no double work",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const { runIds } = await seed(sql, [400, 401, 402]);
      const [a, b] = await Promise.all([invoke(), invoke()]);
      const statuses = [a.status, b.status].sort();
      assert.ok(
        JSON.stringify(statuses) === "[200,409]" || JSON.stringify(statuses) === "[200,200]",
        JSON.stringify([a.json, b.json]),
      );
      await cleanAll();
      const archived = await sql`
        select run_id, count(*)::int as n from ops.cleanup_archived_runs
         where run_id = any(${runIds}) group by run_id`;
      assert.deepEqual(archived.map((r) => r.n), [1, 1, 1]);
      await assertNothingLost(sql, runIds);
    } finally {
      await sql.end();
    }
  },
});

async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "expired artifacts and pruned backups: rows archived, then their blobs deleted; the rest kept",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const projectId = freshProjectId();
      await sql`insert into ops.projects (project_id, name, odoo_version) values (${projectId}, 'Blobs', '19.0')`;
      const digest = `sha256:${"ab".repeat(32)}`;
      const blob = async (key: string) => {
        await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: new Uint8Array([1, 2, 3]) }),
        );
        return `s3://${bucket}/${key}`;
      };
      const sbomOld = `blobs/${projectId}/old-sbom.json`;
      const sbomNew = `blobs/${projectId}/new-sbom.json`;
      const [oldArtifact] = await sql`
        insert into ops.artifacts (project_id, artifact_type, storage_path, size_bytes, digest, created_at)
        values (${projectId}, 'sbom', ${await blob(sbomOld)}, 3, ${digest}, ${new Date(
        Date.now() - 120 * day,
      )})
        returning artifact_id::text`;
      const [newArtifact] = await sql`
        insert into ops.artifacts (project_id, artifact_type, storage_path, size_bytes, digest, created_at)
        values (${projectId}, 'sbom', ${await blob(sbomNew)}, 3, ${digest}, ${new Date(
        Date.now() - 10 * day,
      )})
        returning artifact_id::text`;
      // Backups: the newest is always kept; one from 500 days ago is outside
      // every window (a year at most) and goes.
      const backups: { id: string; key: string; age: number }[] = [];
      for (const age of [1, 2, 500]) {
        const key = `dumps/${projectId}/prod-${age}.dump`;
        const [row] = await sql`
          insert into ops.backups (project_id, kind, environment, storage_path, size_bytes, digest, created_at)
          values (${projectId}, 'daily', 'prod', ${await blob(key)}, 3, ${digest}, ${new Date(
          Date.now() - age * day,
        )})
          returning backup_id::text`;
        backups.push({ id: row.backup_id, key, age });
      }

      await cleanAll();

      const artifactsLeft = await sql`
        select artifact_id::text from ops.artifacts where project_id = ${projectId}`;
      assert.deepEqual(artifactsLeft.map((r) => r.artifact_id), [newArtifact.artifact_id]);
      assert.equal(await exists(sbomOld), false, "the expired SBOM's blob is deleted");
      assert.equal(await exists(sbomNew), true, "a kept artifact keeps its blob");
      const backupsLeft = (await sql`
        select backup_id::text from ops.backups where project_id = ${projectId}`).map((r) =>
        r.backup_id
      );
      assert.deepEqual(
        backupsLeft.sort(),
        backups.filter((b) => b.age < 500).map((b) => b.id).sort(),
      );
      assert.equal(await exists(backups[2].key), false, "the pruned backup's dump is deleted");
      assert.equal(await exists(backups[0].key), true);
      assert.equal(await exists(backups[1].key), true);
      // Every row that left is in a verified archive.
      for (
        const [table, id] of [["artifacts", oldArtifact.artifact_id], ["backups", backups[2].id]]
      ) {
        const found = await sql`
          select object_key from ops.cleanup_archives where archive_table = ${table} and ${id} = any(ids)`;
        assert.equal(found.length, 1, `${table} ${id} has one archive`);
        const lines = await archivedLines(found[0].object_key) as unknown as Record<
          string,
          string
        >[];
        const key = table === "artifacts" ? "artifact_id" : "backup_id";
        assert.equal(lines.filter((l) => l[key] === id).length, 1);
      }
      assert.equal(
        (await sql`select count(*)::int as n from ops.cleanup_s3_deletes`)[0].n,
        0,
        "no delete is left owed",
      );
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "a run-event month past retention is archived, verified, then dropped; its run stays",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      // A month well past the 30-day rule, with its own partition.
      const [{ month }] = await sql`
        select date_trunc('month', now() - interval '3 months') as month`;
      await sql`select ops.create_run_event_partitions(0, ${month})`;
      const partition = `run_events_p${month.toISOString().slice(0, 7).replace("-", "")}`;
      const projectId = freshProjectId();
      await sql`insert into ops.projects (project_id, name, odoo_version) values (${projectId}, 'Months', '19.0')`;
      const runId = `run-${crypto.randomUUID().replaceAll("-", "")}`;
      const created = new Date(month.getTime() + 2 * day);
      // Finished 40 days ago: the run is kept (90 days), its old events are not (30 days).
      await sql`
        insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at)
        values (${runId}, ${projectId}, 'build', 'success', 'dev@example.com', ${created}, ${created},
                ${new Date(Date.now() - 40 * day)})`;
      const events = await sql`
        insert into ops.run_events (run_id, project_id, created_at, event_type, message)
        select ${runId}, ${projectId}, ${created}::timestamptz + g * interval '1 minute', 'build.step', 'step ' || g
          from generate_series(1, 3) g
        returning event_id::text`;
      const eventIds = events.map((e) => e.event_id as string);
      const placed = await sql`
        select tableoid::regclass::text as part from ops.run_events where run_id = ${runId}`;
      assert.deepEqual(
        [...new Set(placed.map((p) => p.part))],
        [`ops.${partition}`],
        "the events are in their month",
      );

      await cleanAll();

      const left = await sql`select 1 from pg_class where relname = ${partition}`;
      assert.equal(left.length, 0, `${partition} was dropped`);
      assert.equal(
        (await sql`select 1 from ops.runs where run_id = ${runId}`).length,
        1,
        "the run stays",
      );
      assert.equal((await sql`select 1 from ops.run_events where run_id = ${runId}`).length, 0);
      const archived = await archivedEvents(sql, eventIds);
      assert.deepEqual(
        eventIds.filter((id) => !archived.has(id)),
        [],
        "every dropped event is archived",
      );
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "a month with more events than one batch reads is archived page by page, then dropped",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const [{ month }] = await sql`
        select date_trunc('month', now() - interval '4 months') as month`;
      await sql`select ops.create_run_event_partitions(0, ${month})`;
      const partition = `run_events_p${month.toISOString().slice(0, 7).replace("-", "")}`;
      const projectId = freshProjectId();
      await sql`insert into ops.projects (project_id, name, odoo_version) values (${projectId}, 'Pages', '19.0')`;
      // Kept runs (finished 40 days ago) whose events are long past retention:
      // 2,600 events, more than the 2,000 one batch reads.
      const runIds = Array.from(
        { length: 13 },
        () => `run-${crypto.randomUUID().replaceAll("-", "")}`,
      );
      const created = new Date(month.getTime() + 3 * day);
      for (const runId of runIds) {
        await sql`
          insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at)
          values (${runId}, ${projectId}, 'build', 'success', 'dev@example.com', ${created}, ${created},
                  ${new Date(Date.now() - 40 * day)})`;
      }
      const events = await sql`
        insert into ops.run_events (run_id, project_id, created_at, event_type, message, data)
        select r, ${projectId}, ${created}::timestamptz + g * interval '1 second', 'build.step', 'step ' || g,
               jsonb_build_object('n', g, 'big', 9007199254740993)
          from unnest(${runIds}::text[]) r, generate_series(1, 200) g
        returning event_id::text`;
      assert.equal(events.length, 2600);
      const eventIds = events.map((e) => e.event_id as string);

      await cleanAll();

      assert.equal((await sql`select 1 from pg_class where relname = ${partition}`).length, 0);
      assert.equal(
        (await sql`select 1 from ops.runs where run_id = any(${runIds})`).length,
        runIds.length,
        "the runs stay",
      );
      assert.equal(
        (await sql`select 1 from ops.run_events where event_id = any(${eventIds}::bigint[])`)
          .length,
        0,
      );
      const archived = await archivedEvents(sql, eventIds);
      assert.deepEqual(eventIds.filter((id) => !archived.has(id)), [], "every event archived");
      assert.deepEqual(
        [...archived.values()].filter((n) => n !== 1),
        [],
        "and archived once, not once per batch",
      );
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "an invocation stops at its read budget with work left and asks for the next one",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    // A budget of one byte: every invocation plans exactly one batch.
    const server = await serveFunctions({ OPS_CLEANUP_READ_BUDGET_BYTES: "1" });
    try {
      const projectId = freshProjectId();
      await sql`insert into ops.projects (project_id, name, odoo_version) values (${projectId}, 'Budget', '19.0')`;
      // More expired runs than one batch reads (2,000).
      const runs = await sql`
        insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at)
        select 'run-' || md5(${projectId} || g), ${projectId}, 'build', 'success', 'dev@example.com',
               now() - interval '300 days', now() - interval '300 days', now() - interval '300 days' + g * interval '1 ms'
          from generate_series(1, 2100) g
        returning run_id`;
      const runIds = runs.map((r) => r.run_id as string);
      const left = async () =>
        (await sql`select count(*)::int as n from ops.runs where run_id = any(${runIds})`)[0].n;

      const first = await invoke({}, server.url);
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.equal(first.json.batches, 1);
      assert.equal(first.json.complete, false);
      // The local stack has no pg_net: ops.invoke_cleanup() could not queue it.
      assert.equal(first.json.follow_up, "unavailable");
      assert.ok((await left()) > 0, "work is left for the next invocation");

      await cleanAll(server.url);
      assert.equal(await left(), 0);
      const archived = await sql`
        select a.object_key, a.sha256, count(*)::int as runs
          from ops.cleanup_archived_runs r join ops.cleanup_archives a using (object_key)
         where r.run_id = any(${runIds}) group by 1, 2`;
      assert.equal(archived.reduce((sum, a) => sum + a.runs, 0), runIds.length);
      for (const { object_key, sha256 } of archived) {
        assert.equal(await storedDigest(object_key), sha256, `${object_key} verifies`);
      }
    } finally {
      await server.stop();
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "an archive object is a gzip file: a plain presigned download has the recorded digest, and no Content-Encoding",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const { runIds } = await seed(sql, [230]);
      await cleanAll();
      const [archive] = await sql`
        select a.object_key, a.sha256 from ops.cleanup_archived_runs r
          join ops.cleanup_archives a using (object_key) where r.run_id = ${runIds[0]}`;
      assert.ok(archive, "the run was archived");

      // What a browser, a proxy or any fetch-based client gets: plain fetch
      // (which asks for and undoes content codings on its own), no SDK.
      const getUrl = await getSignedUrl(
        s3,
        new GetObjectCommand({ Bucket: bucket, Key: archive.object_key }),
        { expiresIn: 300 },
      );
      const download = await fetch(getUrl);
      assert.equal(download.status, 200);
      const bytes = new Uint8Array(await download.arrayBuffer());
      assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], "the gzip bytes themselves");
      assert.equal(await sha256Hex(bytes), archive.sha256, "the recorded digest, as downloaded");

      const headUrl = await getSignedUrl(
        s3,
        new HeadObjectCommand({ Bucket: bucket, Key: archive.object_key }),
        { expiresIn: 300 },
      );
      const head = await fetch(headUrl, { method: "HEAD" });
      await head.body?.cancel();
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-type"), "application/gzip");
      assert.equal(head.headers.get("content-encoding"), null);
      const described = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: archive.object_key }),
      );
      assert.equal(described.ContentType, "application/gzip");
      assert.equal(described.ContentEncoding, undefined);
    } finally {
      await sql.end();
    }
  },
});

/** The number of S3 deletes still queued, for every project. */
async function queuedDeletes(sql: postgres.Sql): Promise<number> {
  return (await sql`select count(*)::int as n from ops.cleanup_s3_deletes`)[0].n;
}

/** The keys under `prefix` in the archive bucket, every page of the listing. */
async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    found.push(...(listed.Contents ?? []).map((c) => c.Key!));
    token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
  } while (token);
  return found.sort();
}

Deno.test({
  name:
    "more pruned backups than a page of deletes: drained page after page, complete only when nothing is queued",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    // A budget of one byte: the first invocation deletes one page, then stops.
    const server = await serveFunctions({ OPS_CLEANUP_READ_BUDGET_BYTES: "1" });
    try {
      // Start from a settled state: no other test's work is left queued.
      await cleanAll();
      assert.equal(await queuedDeletes(sql), 0);
      const projectId = freshProjectId();
      await sql`insert into ops.projects (project_id, name, odoo_version) values (${projectId}, 'Dumps', '19.0')`;
      const pruned = 1_110;
      const prefix = `dumps/${projectId}/`;
      const keyOf = (i: number) => `${prefix}prod-${String(i).padStart(4, "0")}.dump`;
      // The dumps really are in S3, a few puts at a time.
      for (let i = 0; i <= pruned; i += 32) {
        await Promise.all(
          Array.from({ length: Math.min(32, pruned + 1 - i) }, (_, j) =>
            s3.send(
              new PutObjectCommand({ Bucket: bucket, Key: keyOf(i + j), Body: "dump" }),
            )),
        );
      }
      // Backup 0 is a day old and kept; the others, over 400 days old, are
      // outside every window (a year at most) and all go.
      await sql`
        insert into ops.backups (project_id, kind, environment, storage_path, size_bytes, digest, created_at)
        select ${projectId}, 'daily', 'prod', 's3://' || ${bucket} || '/' || ${prefix} || 'prod-' || lpad(g::text, 4, '0') || '.dump',
               1, ${`sha256:${"cd".repeat(32)}`},
               case when g = 0 then now() - interval '1 day' else now() - interval '400 days' - g * interval '1 minute' end
          from generate_series(0, ${pruned}) g`;
      assert.equal((await keysUnder(prefix)).length, pruned + 1);

      const first = await invoke({}, server.url);
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.equal(first.json.summary.backups.deleted, pruned);
      const queued = await queuedDeletes(sql);
      assert.ok(queued > 0, "one page of deletes leaves the rest queued");
      assert.equal(first.json.s3_objects_deleted, pruned - queued);
      assert.equal(first.json.complete, false, "deletes are still queued");
      // The local stack has no pg_net: ops.invoke_cleanup() could not queue it.
      assert.equal(first.json.follow_up, "unavailable");

      // The next invocation, with the default budget, drains the rest page
      // after page and only then says it is complete.
      const next = await invoke();
      assert.equal(next.status, 200, JSON.stringify(next.json));
      assert.equal(next.json.complete, true, JSON.stringify(next.json));
      assert.equal(next.json.s3_objects_deleted, queued);
      assert.equal(next.json.follow_up, null);
      assert.equal(await queuedDeletes(sql), 0, "nothing is left queued");
      assert.deepEqual(await keysUnder(prefix), [keyOf(0)], "every pruned dump is gone from S3");
      assert.equal(
        (await sql`select count(*)::int as n from ops.backups where project_id = ${projectId}`)[0]
          .n,
        1,
      );
    } finally {
      await server.stop();
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "the ingest ledger: a redelivery inside the window is a replay; past it the row is archived, then gone; a deferred event waits for its project",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    try {
      const projectId = freshProjectId();
      const laterProject = freshProjectId();
      const recent = { id: `msg_${crypto.randomUUID()}`, body: projectCreated(projectId) };
      const expired = {
        id: `msg_${crypto.randomUUID()}`,
        body: JSON.stringify({
          event_type: "project_updated",
          project_id: projectId,
          name: "Renamed",
          odoo_version: "19.0",
          occurred_at: new Date().toISOString(),
        }),
      };
      const waiting = {
        id: `msg_${crypto.randomUUID()}`,
        body: JSON.stringify({
          event_type: "project_archived",
          project_id: laterProject,
          occurred_at: new Date().toISOString(),
        }),
      };
      assert.equal((await deliver("ops-ingest", recent)).status, 200);
      assert.equal((await deliver("ops-ingest", expired)).status, 200);
      assert.equal((await deliver("ops-ingest", waiting)).status, 202, "deferred");
      // The default rule keeps the ledger 30 days: one row just inside it,
      // one just past it, and the deferred event far past it.
      const age = async (id: string, days: number) =>
        await sql`update ops.ingest_deliveries set received_at = now() - make_interval(days => ${days})
                   where webhook_id = ${id}`;
      await age(recent.id, 29);
      await age(expired.id, 31);
      await age(waiting.id, 400);
      const [before] = await sql`
        select to_jsonb(d) as row from ops.ingest_deliveries d where webhook_id = ${expired.id}`;

      const dry = await invoke({ dry_run: true });
      assert.equal(dry.status, 200, JSON.stringify(dry.json));
      const planned: string[] = dry.json.plan.delete.ingest_deliveries;
      assert.ok(planned.includes(expired.id), "the expired row is planned");
      assert.ok(!planned.includes(recent.id) && !planned.includes(waiting.id));

      await cleanAll();

      // Inside the window the row still answers the sender's retry.
      const again = await deliver("ops-ingest", recent);
      assert.equal(again.status, 200, JSON.stringify(again.json));
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.equal(again.json.result, "created");

      // Past it, the row is in one verified archive object, then gone.
      assert.equal(
        (await sql`select 1 from ops.ingest_deliveries where webhook_id = ${expired.id}`).length,
        0,
        "the expired row is deleted",
      );
      const found = await sql`
        select object_key, sha256 from ops.cleanup_archives
         where archive_table = 'ingest_deliveries' and ${expired.id} = any(ids)`;
      assert.equal(found.length, 1, "one archive record holds it");
      const key = /^ingest_deliveries\/\d{4}\/\d{2}\/[0-9a-f]{64}\.ndjson\.gz$/;
      assert.match(found[0].object_key, key);
      assert.equal(await storedDigest(found[0].object_key), found[0].sha256, "it verifies");
      const lines = (await archivedLines(found[0].object_key) as unknown as Record<
        string,
        unknown
      >[]).filter((line) => line.webhook_id === expired.id);
      assert.equal(lines.length, 1, "the object holds the row once");
      const [line, row] = [lines[0], before.row as Record<string, unknown>];
      assert.deepEqual(Object.keys(line).sort(), Object.keys(row).sort(), "every column");
      const columns = ["body_sha256", "event_type", "project_id", "outcome", "deferred_event"];
      for (const column of columns) {
        assert.deepEqual(line[column], row[column], column);
      }
      // Timestamps to the microsecond, compared by PostgreSQL.
      const text = (value: unknown) => value as string;
      const [same] = await sql`
        select ${text(line.received_at)}::timestamptz = ${text(row.received_at)}::timestamptz
                 as received,
               ${text(line.occurred_at)}::timestamptz = ${text(row.occurred_at)}::timestamptz
                 as occurred`;
      assert.deepEqual(same, { received: true, occurred: true });

      // A deferred event not yet applied stays, 400 days old...
      const [kept] = await sql`
        select deferred_event is not null and resolved_at is null as waiting
          from ops.ingest_deliveries where webhook_id = ${waiting.id}`;
      assert.equal(kept?.waiting, true, "the waiting deferred event is still there");
      // ...and takes effect when its project arrives.
      const arrived = await deliver("ops-ingest", { body: projectCreated(laterProject) });
      assert.equal(arrived.status, 200, JSON.stringify(arrived.json));
      const [project] = await sql`
        select active from ops.projects where project_id = ${laterProject}`;
      assert.equal(project.active, false, "the deferred archive was applied");
    } finally {
      await sql.end();
    }
  },
});
