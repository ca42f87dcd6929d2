// What the Data API exposes, checked directly: Supabase's advisors read the
// exposed schemas from PostgREST's settings, which a bare database lacks, so
// their API lints find nothing here (README, "Supabase's advisors"). For
// every schema in config.toml's `[api] schemas`: no SECURITY DEFINER function
// in it is executable by anon or authenticated, no foreign table or
// materialized view lives in it, and every table in it has RLS on.
import assert from "node:assert/strict";
import { parse } from "smol-toml";
import type postgres from "postgres";
import { dbTest } from "./support.ts";

const config = parse(
  await Deno.readTextFile(new URL("../supabase/config.toml", import.meta.url)),
) as { api?: { schemas?: string[] } };
const exposed = config.api?.schemas ?? [];

/** Objects created by an extension belong to it, as the advisors treat them. */
const notFromExtension = (oid: string) =>
  `not exists (select from pg_catalog.pg_depend d
                where d.objid = ${oid} and d.deptype = 'e')`;

async function definerFunctionsCallableByApi(
  sql: postgres.Sql | postgres.TransactionSql,
): Promise<string[]> {
  const rows = await sql.unsafe(
    `select p.oid::regprocedure::text || ' by ' || r.role as finding
       from pg_catalog.pg_proc p
       join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      cross join (values ('anon'), ('authenticated')) r(role)
      where n.nspname = any($1::text[])
        and p.prosecdef
        and pg_catalog.has_function_privilege(r.role, p.oid, 'execute')
        and ${notFromExtension("p.oid")}
      order by 1`,
    [exposed],
  );
  return rows.map((row) => row.finding);
}

async function relationsOfKind(sql: postgres.Sql, kinds: string[]): Promise<string[]> {
  const rows = await sql.unsafe(
    `select c.oid::regclass::text as name
       from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1::text[])
        and c.relkind = any($2::"char"[])
        and ${notFromExtension("c.oid")}
      order by 1`,
    [exposed, kinds],
  );
  return rows.map((row) => row.name);
}

Deno.test("config.toml exposes the schemas the console and Odoo read", () => {
  assert.ok(exposed.includes("ops"), `[api] schemas: ${exposed.join(", ")}`);
  assert.ok(!exposed.includes("ops_private"), "the policies' helpers must not be exposed");
});

dbTest(
  "no SECURITY DEFINER function in an exposed schema is executable by the API roles",
  async (sql) => {
    assert.deepEqual(await definerFunctionsCallableByApi(sql), []);
  },
);

dbTest("the check finds a SECURITY DEFINER function the API could call", async (sql) => {
  // Proves the query above can fail: one such function, inside a transaction
  // that is rolled back.
  const rollback = new Error("rollback");
  const found = await sql
    .begin(async (tx) => {
      await tx.unsafe(
        `create function ops.exposure_probe() returns int language sql
           security definer set search_path = '' as 'select 1'`,
      );
      await tx.unsafe("grant execute on function ops.exposure_probe() to authenticated");
      const findings = await definerFunctionsCallableByApi(tx);
      throw Object.assign(rollback, { findings });
    })
    .catch((error) => {
      if (error !== rollback) throw error;
      return (error as Error & { findings: string[] }).findings;
    });
  // PUBLIC's default EXECUTE reaches anon as well as the explicit grant.
  assert.deepEqual(found, [
    "ops.exposure_probe() by anon",
    "ops.exposure_probe() by authenticated",
  ]);
});

dbTest("the policies' helpers live outside the exposed schemas", async (sql) => {
  const rows = await sql`
    select n.nspname as schema, p.prosecdef as definer
      from pg_catalog.pg_proc p
      join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where p.proname = 'member_project_ids'`;
  assert.deepEqual(rows.map((row) => ({ ...row })), [{ schema: "ops_private", definer: true }]);
  const [{ invoker }] = await sql`
    select not p.prosecdef as invoker from pg_catalog.pg_proc p
     where p.oid = 'ops.has_project_permission(text, text)'::regprocedure`;
  assert.ok(invoker, "ops.has_project_permission is exposed, so it must not be SECURITY DEFINER");
});

dbTest("no foreign table or materialized view lives in an exposed schema", async (sql) => {
  assert.deepEqual(await relationsOfKind(sql, ["f", "m"]), []);
});

dbTest("every table in an exposed schema has row level security on", async (sql) => {
  const rows = await sql.unsafe(
    `select c.oid::regclass::text as name
       from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1::text[])
        and c.relkind in ('r', 'p')
        and not c.relrowsecurity
        and ${notFromExtension("c.oid")}
      order by 1`,
    [exposed],
  );
  assert.deepEqual(rows.map((row) => row.name), []);
});
