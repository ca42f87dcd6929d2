// The functions' one way to PostgreSQL: postgres.js on SUPABASE_DB_URL.
import postgres from "postgres";

let sql: postgres.Sql | undefined;

/** The connection pool, opened on first use. */
export function db(): postgres.Sql {
  sql ??= postgres(Deno.env.get("SUPABASE_DB_URL") ?? "", {
    // Supabase's transaction pooler (port 6543) cannot keep prepared
    // statements across transactions.
    prepare: false,
    // An Edge Function isolate handles few requests at once; the database's
    // connections are shared by every isolate.
    max: 4,
    // Fail fast when the database is away, so the sender is told to retry
    // while it still waits for the answer.
    connect_timeout: 5,
    idle_timeout: 20,
    onnotice: () => {},
  });
  return sql;
}

/** Closes the pool (a command's last step); the next use opens another. */
export async function close(): Promise<void> {
  const open = sql;
  sql = undefined;
  await open?.end();
}

/**
 * The SQLSTATE of a failure the server answered, or undefined when the
 * server was not reached at all.
 */
export function sqlstate(error: unknown): string | undefined {
  return error instanceof postgres.PostgresError ? error.code : undefined;
}

/** The SQLSTATE and message of a failure the server answered; both undefined when it was not reached. */
export function sqlFailure(error: unknown): { sqlstate?: string; message?: string } {
  return error instanceof postgres.PostgresError
    ? { sqlstate: error.code, message: error.message }
    : {};
}

/**
 * Runs `statement` on the pool, once more if the first try lost its
 * connection: a pooled connection the server or a pooler dropped is only
 * noticed when used. Every statement the functions send is idempotent
 * (ingest is keyed by webhook id, cleanup commits are guarded), so a second
 * try can only repeat what the first did not do.
 */
export async function query<T>(statement: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  try {
    return await statement(db());
  } catch (error) {
    if (!connectionLost(error)) throw error;
    return await statement(db());
  }
}

/**
 * Whether an error means the connection went away rather than the statement
 * failed: no answer at all, a connection exception (class 08), or the server
 * ending the session (57P01-57P03: shutdown, crash, not yet accepting).
 */
function connectionLost(error: unknown): boolean {
  const code = sqlstate(error);
  return code === undefined || code.startsWith("08") || /^57P0[123]$/.test(code);
}
