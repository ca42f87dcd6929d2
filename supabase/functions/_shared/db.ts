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

/**
 * The SQLSTATE of a failure the server answered, or undefined when the
 * server was not reached at all.
 */
export function sqlstate(error: unknown): string | undefined {
  return error instanceof postgres.PostgresError ? error.code : undefined;
}
