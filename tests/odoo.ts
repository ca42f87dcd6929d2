// What the end-to-end tests that read Odoo need: the local stack's
// Odoo-shaped database (ODOO_DB_URL, its owner) next to the control plane's,
// and rows written as Odoo writes them.
import postgres from "postgres";
import { connect } from "./support.ts";

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
