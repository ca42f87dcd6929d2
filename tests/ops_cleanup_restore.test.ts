// What cleanup removed comes back exactly: the real ops-cleanup archives and
// deletes a run on the stack, the restore command (scripts/restore.ts, run by
// `cargo xtask restore`) puts it back from s3s-fs, and the rows equal the
// originals column for column.
import assert from "node:assert/strict";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type postgres from "postgres";
import { restore } from "../scripts/restore.ts";
import { close } from "../supabase/functions/_shared/executor.ts";
import { dbTest, freshProjectId, functionsUrl } from "./support.ts";

/** An S3 client of the test's own, to look at and tamper with what cleanup stored. */
function s3FromEnv(): S3Client {
  return new S3Client({
    endpoint: Deno.env.get("S3_ENDPOINT") || undefined,
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    forcePathStyle: true,
  });
}

/** Restores in process (the command's own function); the answer's counts, which must be a 200. */
async function restored(...args: string[]) {
  const answer = await restore(args);
  await close();
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body);
}

/** A refused restore: its status and the detail that says why. */
async function refused(...args: string[]) {
  const answer = await restore(args);
  await close();
  assert.notEqual(answer.status, 200, answer.body);
  return { status: answer.status, detail: JSON.parse(answer.body).detail as string };
}

const cronSecret = Deno.env.get("OPS_CRON_SECRET") ?? "";
const day = 24 * 3600 * 1000;

/** A project with one build finished 200 days ago, with events and an artifact. */
async function seedOldRun(sql: postgres.Sql) {
  const projectId = freshProjectId();
  const runId = `run-${crypto.randomUUID().replaceAll("-", "")}`;
  const finished = new Date(Date.now() - 200 * day);
  const created = new Date(finished.getTime() - 600_000);
  await sql`insert into ops.projects (project_id, name, odoo_version) values (${projectId}, 'Restore', '19.0')`;
  // Numbers no JS double holds, and microseconds, so a lossy hop anywhere shows.
  await sql`
    insert into ops.runs (run_id, project_id, kind, status, git_ref, created_by, metadata,
                          created_at, started_at, finished_at, updated_at)
    values (${runId}, ${projectId}, 'build', 'success', 'main', 'dev@restore.test',
            '{"big": 9007199254740993, "ratio": 0.1000000000000000055511151231257827}'::jsonb,
            ${created}::timestamptz + interval '0.000123 s', ${created}::timestamptz + interval '1.000001 s',
            ${finished}::timestamptz + interval '0.654321 s', ${finished}::timestamptz + interval '0.987654 s')`;
  for (const [i, message] of ["started", 'compiling\n"quoted" ünïcode', "done"].entries()) {
    await sql`
      insert into ops.run_events (run_id, project_id, created_at, event_type, message, data)
      values (${runId}, ${projectId}, ${created}::timestamptz + make_interval(secs => ${
      i + 2
    }::int + 0.000007),
              'build.step', ${message}, '{"step": 12345678901234567890}'::jsonb)`;
  }
  const [artifact] = await sql<{ artifact_id: string }[]>`
    insert into ops.artifacts (project_id, run_id, artifact_type, storage_path, size_bytes, digest, created_at)
    values (${projectId}, ${runId}, 'evidence', ${`s3://odooops-artifacts/${projectId}/evidence.json`},
            1, ${"sha256:" + "e".repeat(64)}, now())
    returning artifact_id::text`;
  return { projectId, runId, artifactId: artifact.artifact_id };
}

/** The rows as PostgreSQL renders them, compared as text: exact, not JS-parsed. */
async function snapshot(sql: postgres.Sql, runId: string) {
  const [row] = await sql<{ run: string | null; events: string }[]>`
    select (select to_jsonb(r)::text from ops.runs r where r.run_id = ${runId}) as run,
           (select coalesce(jsonb_agg(to_jsonb(e) order by e.event_id), '[]')::text
              from ops.run_events e where e.run_id = ${runId}) as events`;
  return row;
}

/** Runs `cargo xtask restore <args>` in the repository, with the stack's environment. */
async function restoreCommand(...args: string[]) {
  const output = await new Deno.Command(Deno.env.get("CARGO") ?? "cargo", {
    args: ["xtask", "restore", ...args],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** One invocation of the real ops-cleanup, which must answer 200. */
async function invokeCleanup() {
  const response = await fetch(`${functionsUrl}/ops-cleanup`, {
    method: "POST",
    headers: { authorization: `Bearer ${cronSecret}`, "content-type": "application/json" },
    body: "{}",
  });
  const answer = await response.text();
  assert.equal(response.status, 200, `ops-cleanup answered ${response.status}: ${answer}`);
}

/** Invokes the real ops-cleanup until `runId` has left the database. */
async function cleanUntilGone(sql: postgres.Sql, runId: string) {
  for (let attempt = 0; attempt < 20; attempt++) {
    await invokeCleanup();
    const [left] = await sql`select 1 from ops.runs where run_id = ${runId}`;
    if (!left) return;
  }
  throw new Error(`ops-cleanup did not remove ${runId} in 20 invocations`);
}

dbTest("a run cleanup archived and deleted is restored exactly, links and all", async (sql) => {
  const { runId, artifactId } = await seedOldRun(sql);
  const before = await snapshot(sql, runId);
  assert.ok(before.run);
  // Cleanup resumes after its checkpoint; other tests may have moved it past
  // this run's finished_at, so this test starts a fresh pass.
  await sql`delete from ops.cleanup_checkpoints where name = 'runs'`;

  await cleanUntilGone(sql, runId);
  const [archived] = await sql<{ object_key: string; artifact_ids: string[] }[]>`
    select object_key, artifact_ids::text[] as artifact_ids
      from ops.cleanup_archived_runs where run_id = ${runId}`;
  assert.ok(archived, "cleanup recorded where the run went");
  assert.deepEqual(archived.artifact_ids, [artifactId]);
  const [unlinked] = await sql`select run_id from ops.artifacts where artifact_id = ${artifactId}`;
  assert.equal(unlinked.run_id, null, "deleting the run cleared its artifact's run_id");

  {
    const result = await restored("--run", runId);
    assert.equal(result.object_key, archived.object_key);
    assert.equal(result.lines, 1);
    assert.equal(result.runs_restored, 1);
    assert.equal(result.run_events_restored, 3);
    assert.equal(result.artifacts_relinked, 1);
    assert.deepEqual(await snapshot(sql, runId), before);
    const [relinked] =
      await sql`select run_id from ops.artifacts where artifact_id = ${artifactId}`;
    assert.equal(relinked.run_id, runId);

    // Again, through the command a user runs (`cargo xtask restore`).
    const again = await restoreCommand("--run", runId);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      JSON.parse(again.stdout).runs_restored,
      0,
      "restoring twice restores nothing more",
    );
    assert.equal(JSON.parse(again.stdout).runs_already_present, 1);
    assert.match(again.stderr, /already/);
    assert.deepEqual(await snapshot(sql, runId), before);
  }
});

dbTest("a run whose events went by month before it comes back with them", async (sql) => {
  const { projectId, runId } = await seedOldRun(sql);
  // This project keeps its runs for ten years; the events go after 30 days,
  // a month at a time, as for every project.
  await sql`insert into ops.retention_policies (project_id, target, retain_days)
            values (${projectId}, 'runs', 3650)`;
  const before = await snapshot(sql, runId);
  await sql`delete from ops.cleanup_checkpoints`;
  const eventsLeft = async () =>
    (await sql`select count(*)::int as n from ops.run_events where run_id = ${runId}`)[0].n;
  for (let attempt = 0; attempt < 20 && (await eventsLeft()) > 0; attempt++) {
    await invokeCleanup();
  }
  assert.equal(await eventsLeft(), 0, "the events went by month");
  assert.equal((await sql`select 1 from ops.runs where run_id = ${runId}`).length, 1);

  // Years later, as it were: the project's runs go after a day.
  await sql`update ops.retention_policies set retain_days = 1
             where project_id = ${projectId} and target = 'runs'`;
  await sql`delete from ops.cleanup_checkpoints where name = 'runs'`;
  await cleanUntilGone(sql, runId);

  {
    const result = await restored("--run", runId);
    assert.equal(result.runs_restored, 1);
    assert.equal(result.run_events_restored, 3, "from the month's object, not the run's line");
    assert.ok(result.event_objects.length >= 1, "the month's object is named");
    assert.deepEqual(await snapshot(sql, runId), before);

    // Held after the restore: the next cleanup archives neither the run nor
    // its old events again.
    await invokeCleanup();
    assert.deepEqual(await snapshot(sql, runId), before);

    // And restoring again restores nothing twice.
    const again = await restored("--run", runId);
    assert.equal(again.runs_restored, 0);
    assert.equal(again.run_events_restored, 0);
    assert.deepEqual(await snapshot(sql, runId), before);
  }
});

dbTest("an archive stored with the old Content-Encoding: gzip still restores", async (sql) => {
  const { runId } = await seedOldRun(sql);
  const before = await snapshot(sql, runId);
  await sql`delete from ops.cleanup_checkpoints where name = 'runs'`;
  await cleanUntilGone(sql, runId);
  const [archive] = await sql<{ object_key: string; bucket: string }[]>`
    select a.object_key, a.bucket from ops.cleanup_archived_runs r
      join ops.cleanup_archives a using (object_key) where r.run_id = ${runId}`;
  const s3 = s3FromEnv();
  try {
    // The same bytes, stored again as cleanup stored archives before they
    // were described as gzip files: NDJSON with a gzip content coding.
    const object = await s3.send(
      new GetObjectCommand({ Bucket: archive.bucket, Key: archive.object_key }),
    );
    const bytes = await object.Body!.transformToByteArray();
    await s3.send(
      new PutObjectCommand({
        Bucket: archive.bucket,
        Key: archive.object_key,
        Body: bytes,
        ContentType: "application/x-ndjson",
        ContentEncoding: "gzip",
      }),
    );
    const old = await s3.send(
      new HeadObjectCommand({ Bucket: archive.bucket, Key: archive.object_key }),
    );
    assert.equal(old.ContentEncoding, "gzip", "the store keeps the old metadata");
    assert.equal(old.ContentType, "application/x-ndjson");

    // The restore reads the stored bytes as they are (no transparent
    // decompression), so the recorded digest matches and the run comes back.
    const result = await restored("--run", runId);
    assert.equal(result.object_key, archive.object_key);
    assert.equal(result.runs_restored, 1);
    assert.equal(result.run_events_restored, 3);
    assert.deepEqual(await snapshot(sql, runId), before);
  } finally {
    s3.destroy();
  }
});

dbTest("a restore refuses an object whose bytes are not the ones recorded", async (sql) => {
  const key = `runs/2000/01/run-tampered..run-tampered.${"0".repeat(64)}.ndjson.gz`;
  const bucket = Deno.env.get("S3_BUCKET") ?? "";
  const s3 = s3FromEnv();
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "not the archive" }));
    await sql`
      insert into ops.cleanup_archives (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids)
      values (${key}, ${bucket}, ${"0".repeat(64)}, 'runs', 1, 15, '{run-tampered}', '{odoo-1}')
      on conflict (object_key) do nothing`;
    const changed = await refused("--object", key);
    assert.equal(changed.status, 409);
    assert.match(changed.detail, /SHA-256 is [0-9a-f]{64}/);
    const command = await restoreCommand("--object", key);
    assert.equal(command.code, 1);
    assert.match(command.stderr, /refusing to restore from a changed object/);
    const unknown = await refused("--run", "run-never-archived");
    assert.equal(unknown.status, 404);
    assert.match(unknown.detail, /no runs archive holds it/);
    // Nothing the refusals wrote: the run is not there.
    assert.equal((await sql`select 1 from ops.runs where run_id = 'run-tampered'`).length, 0);
  } finally {
    // A record of an unverifiable object must not outlive the test: other
    // tests check that every recorded archive verifies.
    await sql`delete from ops.cleanup_archives where object_key = ${key}`;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    s3.destroy();
  }
});

Deno.test("the command line takes exactly one of --run or --object", async () => {
  const usage = await restoreCommand("--run");
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^usage: /m);
  for (const bad of [[], ["--run"], ["--run", "--object"], ["--id", "x"], ["--run", "a", "b"]]) {
    const answer = await restore(bad);
    assert.equal(answer.status, 400, JSON.stringify(bad));
    assert.match(JSON.parse(answer.body).detail, /^usage: /);
  }
});
