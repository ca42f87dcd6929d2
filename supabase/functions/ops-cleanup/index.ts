// ops-cleanup: the retention table, archive first. Rust decides (the wasm
// module); this shim runs the batches it plans: read, put and verify the
// archives, commit, delete the S3 objects the commit queued, page by page.
import { Cleanup, CleanupRun } from "../../../pkg/ops-cleanup/ops_cleanup.js";
import { query } from "../_shared/db.ts";
import { type Decided, readBounded, send } from "../_shared/http.ts";
import { putOnce, remove } from "../_shared/s3.ts";

const cleanup = new Cleanup(
  Deno.env.get("OPS_CRON_SECRET"),
  Deno.env.get("S3_BUCKET"),
  Deno.env.get("OPS_CLEANUP_READ_BUDGET_BYTES"),
);

interface Started {
  dry_run: boolean;
  bucket: string;
  budget: string;
  limit: number;
  lease_seconds: number;
  read_budget_bytes: number;
}

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, cleanup.maxBodyBytes);
  const start = cleanup.start(
    request.method,
    Object.fromEntries(request.headers),
    body.bytes,
    body.complete,
  );
  if (start.action === "respond") return send("ops-cleanup", start.response, started);

  const run = new CleanupRun(start.dry_run, start.bucket, start.limit, start.read_budget_bytes);
  const holder = crypto.randomUUID();
  let acquired: boolean;
  try {
    [{ acquired }] = await query((sql) =>
      sql`select ops.cleanup_acquire(${holder}, ${start.lease_seconds}) as acquired`
    );
  } catch {
    return send("ops-cleanup", run.failed("read"), started);
  }
  if (!acquired) return send("ops-cleanup", cleanup.busy(), started);
  let failed: Decided | undefined;
  try {
    failed = await batches(run, start, holder, started);
  } finally {
    // An unreleased lease only expires: the next run waits, nothing breaks.
    await query((sql) => sql`select ops.cleanup_release(${holder})`).catch(() => {});
  }
  if (failed) return send("ops-cleanup", failed, started);
  if (run.wantsFollowUp()) {
    // After the release, so the next invocation finds the lease free.
    try {
      const [{ request }] = await query((sql) => sql`select ops.invoke_cleanup() as request`);
      run.followUp(request !== null);
    } catch {
      run.followUp(false);
    }
  }
  return send("ops-cleanup", run.finish(), started);
}

/** Runs batches while the wasm says so; the answer of a failed stage, if one failed. */
async function batches(
  run: CleanupRun,
  start: Started,
  holder: string,
  started: number,
): Promise<Decided | undefined> {
  do {
    let read: string;
    try {
      [{ read }] = await query((sql) =>
        sql`select ops.cleanup_read(${start.budget}::text::jsonb, ${start.limit}) as read`
      );
    } catch {
      return run.failed("read");
    }
    const answer = run.step(read);
    if (answer.response) return answer.response;
    if (start.dry_run) break;
    try {
      for (const put of answer.step.puts) {
        if (!run.verifies(put.sha256_hex, await putOnce(put))) return run.failed("archive");
      }
    } catch {
      return run.failed("archive");
    }
    try {
      const [{ done }] = await query((sql) =>
        sql`select ops.cleanup_commit(${holder}, ${answer.step.commit}::text::jsonb)::text as done`
      );
      run.committed(done);
    } catch {
      return run.failed("commit");
    }
    try {
      await drain(run, started);
    } catch {
      return run.failed("s3_delete");
    }
  } while (run.shouldContinue(performance.now() - started));
  return undefined;
}

/** Deletes the queued S3 objects, a page at a time, while the wasm says so. */
async function drain(run: CleanupRun, started: number): Promise<void> {
  do {
    const [{ pending }] = await query((sql) =>
      sql`select ops.cleanup_s3_pending(${run.s3Page}::int) as pending`
    );
    const targets: { uri: string; bucket: string; key: string }[] = run.s3Targets(pending);
    for (const target of targets) await remove(target);
    const uris = targets.map((target) => target.uri);
    await query((sql) => sql`select ops.cleanup_s3_deleted(${uris}::text[])`);
    run.s3Deleted(targets.length);
  } while (run.shouldDrain(performance.now() - started));
}

export default { fetch };
