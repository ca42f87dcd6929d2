// The functions' one executor: it performs the I/O a wasm machine asks for
// and hands back each result, until the machine answers. It knows no
// business rule: which statement, in which order, what a failure means and
// what to answer are the machine's (Rust, `function-io` describes the
// protocol). SQL goes through db.ts, S3 through s3.ts, the answer through
// http.ts, with their timeouts and retries.
import { close as closeDb, query, sqlFailure } from "./db.ts";
import { type Decided, log, send } from "./http.ts";
import { close as closeS3, get, putOnce, remove } from "./s3.ts";

/** A machine as the bindings export it; every method answers the next I/O as JSON text. */
export interface Machine {
  poll(): string;
  sqlAnswered(result: string | undefined, elapsedMs: number): string;
  sqlFailed(sqlstate: string | undefined, message: string | undefined, elapsedMs: number): string;
  content(): Uint8Array;
  s3Answered(stored: Uint8Array | undefined, elapsedMs: number): string;
  s3Failed(elapsedMs: number): string;
  responded(): string;
  free(): void;
}

/** One statement parameter; the statement's text casts it. */
type Param = string | number | string[] | null;

/** The I/O a machine asks for (crates/function-io). */
type Io =
  | { kind: "sql"; text: string; params: Param[] }
  | { kind: "s3_put"; bucket: string; key: string; content_type: string; sha256_base64: string }
  | { kind: "s3_get"; bucket: string; key: string }
  | { kind: "s3_delete"; bucket: string; key: string }
  | { kind: "respond"; response: Decided }
  | { kind: "respond_then"; response: Decided };

/**
 * Runs `machine` to its answer and sends it; `started` is `performance.now()`
 * at the request's start. A `respond_then` answer is sent at once and the
 * machine goes on in the background, kept alive by `EdgeRuntime.waitUntil`
 * on the Edge Runtime; its last answer is only logged.
 */
export function execute(fn: string, machine: Machine, started: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    let sent = false;
    const answered = (decided: Decided) => {
      sent = true;
      resolve(send(fn, decided, started));
    };
    const rest = drive(machine, started, answered).then(
      (last) => sent ? log(fn, last, started) : answered(last),
      (error) => sent ? console.error(JSON.stringify({ fn, error: String(error) })) : reject(error),
    );
    (globalThis as { EdgeRuntime?: { waitUntil(p: Promise<unknown>): void } }).EdgeRuntime
      ?.waitUntil(rest);
  });
}

/** Runs `machine` to its answer (for a command, which prints it instead of sending it). */
export function run(machine: Machine, started: number): Promise<Decided> {
  return drive(machine, started, () => {});
}

/** Performs the machine's I/O until its last answer; `answered` takes a `respond_then`'s. */
async function drive(
  machine: Machine,
  started: number,
  answered: (decided: Decided) => void,
): Promise<Decided> {
  try {
    let io: Io = JSON.parse(machine.poll());
    while (io.kind !== "respond") {
      if (io.kind === "respond_then") {
        answered(io.response);
        io = JSON.parse(machine.responded());
      } else {
        io = JSON.parse(await perform(machine, io, started));
      }
    }
    return io.response;
  } finally {
    machine.free();
  }
}

/** Closes the database pool and the S3 client, so that a command can exit. */
export async function close(): Promise<void> {
  closeS3();
  await closeDb();
}

/** Performs one I/O and hands its result or failure to the machine. */
async function perform(
  machine: Machine,
  io: Exclude<Io, { kind: "respond" | "respond_then" }>,
  started: number,
) {
  const elapsed = () => performance.now() - started;
  switch (io.kind) {
    case "sql": {
      // Every statement answers one row with one text column, `result`.
      let rows: { result?: string | null }[];
      try {
        rows = await query((sql) => sql.unsafe(io.text, io.params));
      } catch (error) {
        const { sqlstate, message } = sqlFailure(error);
        return machine.sqlFailed(sqlstate, message, elapsed());
      }
      return machine.sqlAnswered(rows[0]?.result ?? undefined, elapsed());
    }
    case "s3_put": {
      let stored: Uint8Array;
      try {
        stored = await putOnce({ ...io, content: machine.content() });
      } catch {
        return machine.s3Failed(elapsed());
      }
      return machine.s3Answered(stored, elapsed());
    }
    case "s3_get": {
      let stored: Uint8Array;
      try {
        stored = await get(io);
      } catch {
        return machine.s3Failed(elapsed());
      }
      return machine.s3Answered(stored, elapsed());
    }
    case "s3_delete": {
      try {
        await remove(io);
      } catch {
        return machine.s3Failed(elapsed());
      }
      return machine.s3Answered(undefined, elapsed());
    }
  }
}
