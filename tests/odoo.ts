// What the end-to-end tests that read Odoo need: the local stack's
// Odoo-shaped database (ODOO_DB_URL, its owner) next to the control plane's,
// and rows written as Odoo writes them.
import postgres from "postgres";
import { connect, functionsUrl } from "./support.ts";

const odooUrl = Deno.env.get("ODOO_DB_URL") ?? "";

/** Odoo's now, as Odoo writes write_date: UTC without a zone. */
export const odooNow = "(now() at time zone 'utc')";

/** Runs `fn` with a connection to each database, closed when it ends. */
export async function withDatabases(fn: (sql: postgres.Sql, odoo: postgres.Sql) => Promise<void>) {
  const sql = connect();
  const odoo = postgres(odooUrl, { max: 2, onnotice: () => {} });
  try {
    await fn(sql, odoo);
  } finally {
    await odoo.end();
    await sql.end();
  }
}

/**
 * Creates a project in Odoo as Odoo does (the columns its NOT NULLs need),
 * written `minutesAgo` minutes ago.
 */
export async function odooProject(
  odoo: postgres.Sql,
  id: number,
  name: Record<string, string>,
  minutesAgo = 0,
) {
  await odoo`
    insert into project_project (id, name, active, alias_id, privacy_visibility,
                                 last_update_status, create_date, write_date)
    values (${id}, ${odoo.json(name)}, true, 1, 'employees', 'to_define',
            ${odoo.unsafe(odooNow)}, ${
    odoo.unsafe(odooNow)
  } - make_interval(mins => ${minutesAgo}))`;
}

/**
 * Calls ops-reconcile with `body`; given up after 60 s, so that a read
 * stuck in Odoo fails the test instead of hanging it.
 */
export async function reconcile(
  body: unknown,
  url = functionsUrl,
  bearer = Deno.env.get("OPS_RECONCILE_SECRET") ?? "",
) {
  const response = await fetch(`${url}/ops-reconcile`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  return { status: response.status, json: await response.json() };
}

/**
 * Runs `fn` as a new Supabase user who views `projectId`, in a transaction
 * with the role and JWT claims PostgREST would set; the user (and with it
 * the membership, on delete cascade) is removed afterwards.
 */
export async function asMember<T>(
  sql: postgres.Sql,
  projectId: string,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  const user = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${user}, ${user + "@member.test"})`;
  try {
    await sql`insert into ops.project_members (project_id, user_id, role)
              values (${projectId}, ${user}, 'viewer')`;
    let result!: T;
    await sql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${
        JSON.stringify({ sub: user, role: "authenticated" })
      }, true)`;
      await tx`set local role authenticated`;
      result = await fn(tx);
    });
    return result;
  } finally {
    await sql`delete from auth.users where id = ${user}`;
  }
}
