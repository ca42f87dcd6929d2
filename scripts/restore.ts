// Puts runs that ops-cleanup archived and deleted back into the ops tables.
//
//   deno task restore --run <run_id>     the one run, from the object holding it
//   deno task restore --object <key>     every run in a runs archive object
//
// A run comes back with its events: those archived inside its line, and
// those that went earlier, by month (events are kept 30 days, runs 90), from
// the run_events objects that name the run (ops.cleanup_archives.run_ids).
//
// Reads SUPABASE_DB_URL and the S3 settings (S3_ENDPOINT, S3_BUCKET,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), as in
// .dev/stack.env. Every object is checked against the SHA-256 that cleanup
// recorded before anything is written; the rows go back in one transaction
// (ops.cleanup_restore_runs, then ops.cleanup_restore_run_events), so a
// restore either happens whole or not at all, and running it twice is
// harmless.
//
// Exit codes: 0 restored (or already there), 1 refused or failed, 2 usage.
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import postgres from "postgres";

const USAGE = "usage: deno task restore (--run <run_id> | --object <archive key>)";

/** What to restore: one run, or every run of one archive object. */
export type RestoreTarget = { run: string } | { object: string };

/** The counts ops.cleanup_restore_runs answers. */
export interface RestoreResult {
  object_key: string;
  lines: number;
  runs_restored: number;
  runs_already_present: number;
  /** Events back from the runs' lines and from run_events objects. */
  run_events_restored: number;
  /** The run_events objects the runs' month-archived events came from. */
  event_objects: string[];
  artifacts_relinked: number;
  backups_relinked: number;
}

/** A restore that was refused or could not be done; the message says why. */
export class RestoreError extends Error {
  override name = "RestoreError";
}

/** Wrong command line; the message is the usage. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Reads the command line: exactly one of `--run <id>` or `--object <key>`. */
export function parseArgs(args: string[]): RestoreTarget {
  if (args.length !== 2 || !args[1] || args[1].startsWith("--")) {
    throw new UsageError(USAGE);
  }
  const [flag, value] = args;
  if (flag === "--run") return { run: value };
  if (flag === "--object") return { object: value };
  throw new UsageError(USAGE);
}

interface ArchiveRecord {
  object_key: string;
  bucket: string;
  sha256: string;
  archive_table: string;
  ids: string[];
}

/** The archive record that holds `target`. */
async function findArchive(sql: postgres.Sql, target: RestoreTarget): Promise<ArchiveRecord> {
  if ("object" in target) {
    const [archive] = await sql<ArchiveRecord[]>`
      select object_key, bucket, sha256, archive_table, ids
        from ops.cleanup_archives where object_key = ${target.object}`;
    if (!archive) {
      throw new RestoreError(
        `${target.object}: not an archive object ops-cleanup recorded (ops.cleanup_archives)`,
      );
    }
    if (archive.archive_table !== "runs") {
      throw new RestoreError(
        `${target.object}: holds ${archive.archive_table} rows; only runs archives can be restored`,
      );
    }
    return archive;
  }
  // ops.cleanup_archived_runs lists the runs deleted and not restored yet; a
  // run restored already is still found through the archive's ids, so that
  // restoring it again answers "already present" instead of "unknown".
  const [archive] = await sql<ArchiveRecord[]>`
    select a.object_key, a.bucket, a.sha256, a.archive_table, a.ids
      from ops.cleanup_archived_runs r
      join ops.cleanup_archives a using (object_key)
     where r.run_id = ${target.run}
    union all
    (select a.object_key, a.bucket, a.sha256, a.archive_table, a.ids
       from ops.cleanup_archives a
      where a.archive_table = 'runs' and ${target.run} = any (a.ids)
        and not exists (select from ops.cleanup_archived_runs r where r.run_id = ${target.run})
      order by a.archived_at desc
      limit 1)`;
  if (!archive) {
    throw new RestoreError(`run ${target.run}: no runs archive holds it (ops.cleanup_archives)`);
  }
  return archive;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function gunzip(bytes: Uint8Array<ArrayBuffer>, key: string): Promise<string> {
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const plain = new Uint8Array(await new Response(stream).arrayBuffer());
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch (error) {
    throw new RestoreError(`${key}: not gzip-compressed UTF-8 text (${error})`);
  }
}

/** The line of `runId`, found by its `run.run_id`; the line itself is passed on unchanged. */
function lineOf(ndjson: string, runId: string, key: string): string {
  for (const [index, line] of ndjson.split("\n").entries()) {
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new RestoreError(`${key}: line ${index + 1} is not JSON`);
    }
    const run = (parsed as { run?: { run_id?: unknown } } | null)?.run;
    if (run?.run_id === runId) return line;
  }
  throw new RestoreError(`${key}: no line for run ${runId}, although the archive record lists it`);
}

/**
 * The NDJSON text of a recorded archive object, downloaded and refused
 * unless its SHA-256 is the one cleanup recorded.
 */
async function download(s3: S3Client, archive: ArchiveRecord): Promise<string> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    // The bucket cleanup wrote to, as recorded, not whatever S3_BUCKET says now.
    const object = await s3.send(
      new GetObjectCommand({ Bucket: archive.bucket, Key: archive.object_key }),
    );
    if (!object.Body) throw new Error("empty response body");
    // The bytes as stored: the SDK does not undo a Content-Encoding, so the
    // archives written before they were stored as application/gzip (with
    // Content-Encoding: gzip) verify and restore like the newer ones; the
    // digest check below would refuse any client that decompressed them.
    // A copy typed as backed by a plain ArrayBuffer, as WebCrypto and Blob want.
    bytes = new Uint8Array(await object.Body.transformToByteArray());
  } catch (error) {
    throw new RestoreError(
      `s3://${archive.bucket}/${archive.object_key}: cannot download (${
        (error as Error).message ?? error
      })`,
    );
  }
  const actual = await sha256Hex(bytes);
  if (actual !== archive.sha256) {
    throw new RestoreError(
      `s3://${archive.bucket}/${archive.object_key}: SHA-256 is ${actual}, but cleanup recorded ${archive.sha256}; refusing to restore from a changed object`,
    );
  }
  return await gunzip(bytes, archive.object_key);
}

/**
 * Restores `target`: finds its archive object and the run_events objects
 * that hold events of its runs, downloads and verifies all of them, then
 * hands the lines to ops.cleanup_restore_runs and
 * ops.cleanup_restore_run_events in one transaction. Lines travel as text
 * and are cast in SQL, so no number in a run's metadata or an event's data
 * passes through a JS double.
 */
export async function restore(
  sql: postgres.Sql,
  s3: S3Client,
  target: RestoreTarget,
): Promise<RestoreResult> {
  const archive = await findArchive(sql, target);
  const ndjson = await download(s3, archive);
  const lines = "run" in target ? lineOf(ndjson, target.run, archive.object_key) : ndjson;
  const runIds = "run" in target ? [target.run] : archive.ids;
  const eventArchives = await sql<ArchiveRecord[]>`
    select object_key, bucket, sha256, archive_table, ids
      from ops.cleanup_archives
     where archive_table = 'run_events' and run_ids && ${runIds}::text[]
     order by object_key`;
  const eventLines: string[] = [];
  for (const eventArchive of eventArchives) eventLines.push(await download(s3, eventArchive));
  return await sql.begin(async (tx) => {
    const [row] = await tx<{ result: string }[]>`
      select ops.cleanup_restore_runs(${archive.object_key}, ${lines}::text)::text as result`;
    const result = { ...JSON.parse(row.result), event_objects: [] } as RestoreResult;
    for (const [i, eventArchive] of eventArchives.entries()) {
      const [events] = await tx<{ restored: number }[]>`
        select (ops.cleanup_restore_run_events(${eventArchive.object_key}, ${runIds}::text[],
                                              ${
        eventLines[i]
      }::text) ->> 'run_events_restored')::int
               as restored`;
      result.run_events_restored += events.restored;
      result.event_objects.push(eventArchive.object_key);
    }
    return result;
  });
}

/** The S3 client of the environment, as the functions configure theirs. */
export function s3FromEnv(): S3Client {
  return new S3Client({
    endpoint: Deno.env.get("S3_ENDPOINT") || undefined,
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    // Bucket in the path: what s3s-fs and other S3-compatible stores support.
    forcePathStyle: true,
  });
}

async function main(args: string[]): Promise<number> {
  let target: RestoreTarget;
  try {
    target = parseArgs(args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const databaseUrl = Deno.env.get("SUPABASE_DB_URL");
  if (!databaseUrl) {
    console.error("SUPABASE_DB_URL is not set (see .dev/stack.env)");
    return 2;
  }
  // prepare: false works through Supabase's transaction pooler as well.
  const sql = postgres(databaseUrl, { max: 1, prepare: false, onnotice: () => {} });
  const s3 = s3FromEnv();
  try {
    const result = await restore(sql, s3, target);
    console.log(JSON.stringify(result, null, 2));
    if (result.runs_restored === 0 && result.runs_already_present > 0) {
      console.error("nothing to do: the run(s) are in ops.runs already");
    }
    return 0;
  } catch (error) {
    console.error(`restore: ${(error as Error).message ?? error}`);
    return 1;
  } finally {
    s3.destroy();
    await sql.end();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
