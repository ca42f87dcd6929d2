// ops-reconcile against the real Odoo-shaped database of the local stack,
// read through the real postgres_fdw: drift both ways ends in Odoo's state,
// by the ordering rule of ops-ingest.
import assert from "node:assert/strict";
import postgres from "postgres";
import { connect, deliver, functionsUrl, serveFunctions } from "./support.ts";
import { asMember, odooNow, odooProject, reconcile, withDatabases } from "./odoo.ts";

const unsanitized = { sanitizeOps: false, sanitizeResources: false };

/** A project id the fixture does not use, in Odoo's sequence's range. */
function freshOdooProjectId(): number {
  return 100_000 + Math.floor(Math.random() * 1_000_000_000);
}

async function project(sql: postgres.Sql, id: number) {
  const [row] = await sql`select name, active, deleted_at is not null as deleted
                            from ops.projects where project_id = ${"odoo-" + id}`;
  return row ? { ...row } : undefined;
}

Deno.test({
  name:
    "a full reconcile mirrors Odoo: new, renamed, archived and deleted projects; templates stay out",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const fresh = freshOdooProjectId();
      // Written two hours ago: old enough that its deletion can be judged.
      await odooProject(odoo, fresh, { en_US: "Fresh", fr_FR: "Nouveau" }, 120);
      const first = await reconcile({ mode: "full" });
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.equal(first.json.complete, true);
      assert.deepEqual(await project(sql, fresh), { name: "Fresh", active: true, deleted: false });
      // The fixture: the archived project is archived, the template is not mirrored.
      assert.deepEqual(await project(sql, 3), {
        name: "Legacy ERP Migration",
        active: false,
        deleted: false,
      });
      assert.equal(await project(sql, 4), undefined);

      // Nothing changed: a second pass applies nothing.
      const again = await reconcile({ mode: "full" });
      assert.equal(again.json.complete, true, JSON.stringify(again.json));
      for (const phase of again.json.phases) {
        assert.equal(phase.applied.applied, 0, JSON.stringify(phase));
      }

      // Renamed, then archived in Odoo (no event reached us): repaired.
      await odoo`update project_project set name = ${
        odoo.json({ en_US: "Renamed" })
      }, active = false,
                   write_date = ${odoo.unsafe(odooNow)} - interval '1 hour' where id = ${fresh}`;
      const repaired = await reconcile({ mode: "incremental" });
      assert.equal(repaired.status, 200, JSON.stringify(repaired.json));
      assert.deepEqual(await project(sql, fresh), {
        name: "Renamed",
        active: false,
        deleted: false,
      });

      // Deleted in Odoo: only a full pass sees it, and marks it, never removes it.
      await odoo`delete from project_project where id = ${fresh}`;
      await reconcile({ mode: "incremental" });
      assert.equal((await project(sql, fresh))?.deleted, false);
      const full = await reconcile({ mode: "full" });
      assert.equal(full.status, 200, JSON.stringify(full.json));
      assert.deepEqual(await project(sql, fresh), {
        name: "Renamed",
        active: false,
        deleted: true,
      });
    }),
});

Deno.test({
  name: "a reconcile never undoes a newer event, and a late event never undoes a newer reconcile",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const id = freshOdooProjectId();
      await odooProject(odoo, id, { en_US: "In Odoo" });
      // An event from the future of Odoo's row (the rename is in flight in Odoo).
      const newer = new Date(Date.now() + 60_000).toISOString();
      const event = await deliver("ops-ingest", {
        body: JSON.stringify({
          event_type: "project_created",
          project_id: `odoo-${id}`,
          name: "From the event",
          odoo_version: "19.0",
          occurred_at: newer,
        }),
      });
      assert.equal(event.status, 200, JSON.stringify(event.json));
      const pass = await reconcile({ mode: "full" });
      assert.equal(pass.status, 200);
      assert.equal((await project(sql, id))?.name, "From the event");

      // Odoo renames it later still; then a late event dated before that.
      await odoo`update project_project set name = ${odoo.json({ en_US: "Final" })},
                   write_date = ${odoo.unsafe(odooNow)} + interval '2 minutes' where id = ${id}`;
      await reconcile({ mode: "incremental" });
      assert.equal((await project(sql, id))?.name, "Final");
      const late = await deliver("ops-ingest", {
        body: JSON.stringify({
          event_type: "project_updated",
          project_id: `odoo-${id}`,
          name: "Late",
          odoo_version: "19.0",
          occurred_at: new Date(Date.now() + 90_000).toISOString(),
        }),
      });
      assert.equal(late.status, 200);
      assert.equal((await project(sql, id))?.name, "Final");
    }),
});

/** A res_users id (and its res_partner's) the fixture does not use. */
function freshOdooUserId(): number {
  return 100_000 + Math.floor(Math.random() * 1_000_000_000);
}

async function odooUser(sql: postgres.Sql, id: number) {
  const [row] = await sql`select odoo_login, odoo_email, active, share,
                                 deleted_at is not null as deleted
                            from ops.odoo_users
                           where odoo_instance = 'prod' and odoo_user_id = ${id}`;
  return row ? { ...row } : undefined;
}

Deno.test({
  name: "the same pass mirrors Odoo's users: new, email changed on the partner, archived, deleted",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const id = freshOdooUserId();
      const login = `Zoe.${crypto.randomUUID()}@Example.com`;
      // As Odoo creates an internal user: its partner first, both written
      // two hours ago, old enough that a deletion can be judged.
      await odoo`
        insert into res_partner (id, name, complete_name, active, company_id, commercial_partner_id,
                                 email, email_normalized, is_company, type, partner_share,
                                 create_date, write_date)
        values (${id}, 'Zoe', 'Zoe', true, 1, ${id}, ${login}, ${login.toLowerCase()}, false,
                'contact', false, ${odoo.unsafe(odooNow)} - interval '2 hours',
                ${odoo.unsafe(odooNow)} - interval '2 hours')`;
      await odoo`
        insert into res_users (id, login, partner_id, company_id, active, share,
                               notification_type, create_date, write_date)
        values (${id}, ${login}, ${id}, 1, true, false, 'email',
                ${odoo.unsafe(odooNow)} - interval '2 hours',
                ${odoo.unsafe(odooNow)} - interval '2 hours')`;
      try {
        const first = await reconcile({ mode: "full" });
        assert.equal(first.status, 200, JSON.stringify(first.json));
        const users = first.json.phases.find((phase: Record<string, unknown>) =>
          phase.subject === "users" && phase.odoo_instance === "prod"
        );
        assert.ok(users?.complete, JSON.stringify(first.json));
        assert.ok(users.summary.created >= 1, JSON.stringify(users));
        assert.deepEqual(await odooUser(sql, id), {
          odoo_login: login,
          odoo_email: login,
          active: true,
          share: false,
          deleted: false,
        });

        // Odoo changes the email on the partner only (that is where it
        // lives), and archives the user; no event reaches us.
        await odoo`update res_partner set email = 'zoe.new@example.com',
                     write_date = ${odoo.unsafe(odooNow)} - interval '20 minutes' where id = ${id}`;
        await odoo`update res_users set active = false,
                     write_date = ${odoo.unsafe(odooNow)} - interval '20 minutes' where id = ${id}`;
        const repaired = await reconcile({ mode: "incremental" });
        assert.equal(repaired.status, 200, JSON.stringify(repaired.json));
        assert.deepEqual(await odooUser(sql, id), {
          odoo_login: login,
          odoo_email: "zoe.new@example.com",
          active: false,
          share: false,
          deleted: false,
        });

        // Deleted in Odoo: the full pass marks it, and keeps the row.
        await odoo`delete from res_users where id = ${id}`;
        const full = await reconcile({ mode: "full" });
        assert.equal(full.status, 200, JSON.stringify(full.json));
        assert.equal((await odooUser(sql, id))?.deleted, true);
      } finally {
        await odoo`delete from res_users where id = ${id}`;
        await odoo`delete from res_partner where id = ${id}`;
      }
    }),
});

Deno.test({
  name: "a dry run changes nothing; a wrong secret is 401",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const id = freshOdooProjectId();
      await odooProject(odoo, id, { en_US: "Dry" });
      const dry = await reconcile({ mode: "full", dry_run: true });
      assert.equal(dry.status, 200);
      assert.equal(dry.json.dry_run, true);
      const [projects] = dry.json.phases;
      assert.equal(projects.subject, "projects");
      assert.ok(projects.summary.created >= 1, JSON.stringify(projects));
      assert.equal(await project(sql, id), undefined);
      const refused = await reconcile({}, functionsUrl, "not the secret");
      assert.equal(refused.status, 401);
      await odoo`delete from project_project where id = ${id}`;
    }),
});

Deno.test({
  name:
    "an instance that is not the projects' source is refused before a page is read, and nothing is written",
  ...unsanitized,
  fn: async () => {
    // An instance that is not the projects' source (and whose server points
    // at a port nobody listens on: a read would fail too).
    const sql = connect();
    const server = await serveFunctions({ OPS_RECONCILE_INSTANCE: "staging" });
    try {
      // Configured as an admin does, with the password in Vault; the local
      // stack has no Vault, so a stand-in holds the secret for the one
      // transaction (as xtask/sql/odoo_configure_local.sql does).
      await sql.begin(async (tx) => {
        await tx`create schema vault`;
        await tx`create table vault.decrypted_secrets (name text primary key, decrypted_secret text)`;
        await tx`insert into vault.decrypted_secrets values ('odoo_staging_fdw_password', 'unused')`;
        await tx`select from ops.configure_odoo_instance(
                   p_instance => 'staging', p_host => '127.0.0.1', p_port => 9, p_dbname => 'odoo',
                   p_user => 'odoo_fdw_reader', p_password_secret => 'odoo_staging_fdw_password',
                   p_sslmode => 'disable')`;
        await tx`drop schema vault cascade`;
      });
      const [{ before }] = await sql`select count(*)::int as before from ops.projects`;
      const answer = await reconcile({ mode: "full" }, server.url);
      assert.equal(answer.status, 503, JSON.stringify(answer.json));
      assert.match(
        answer.json.detail,
        /not the Odoo instance the control plane's projects come from/,
      );
      const [{ after }] = await sql`select count(*)::int as after from ops.projects`;
      assert.equal(after, before);

      // The projects' source still reconciles while staging is away: its
      // phases complete, staging's users phase says why it did not, and the
      // invocation is not complete.
      const partial = await reconcile({ mode: "full" });
      assert.equal(partial.status, 200, JSON.stringify(partial.json));
      assert.equal(partial.json.complete, false, JSON.stringify(partial.json));
      const phases = partial.json.phases.map((phase: Record<string, unknown>) => ({
        subject: phase.subject,
        odoo_instance: phase.odoo_instance,
        complete: phase.complete,
        failed: typeof phase.error === "string",
      }));
      assert.deepEqual(phases, [
        { subject: "projects", odoo_instance: "prod", complete: true, failed: false },
        { subject: "users", odoo_instance: "prod", complete: true, failed: false },
        { subject: "users", odoo_instance: "staging", complete: false, failed: true },
      ]);
    } finally {
      await server.stop();
      // Staging is configured for this test only: later passes would find
      // it away too.
      await sql`drop schema if exists odoo_staging cascade`;
      await sql`drop server if exists odoo_staging cascade`;
      await sql`delete from ops_private.reconcile_state where odoo_instance = 'staging'`;
      await sql`delete from ops_private.odoo_instances where odoo_instance = 'staging'`;
      await sql.end();
    }
  },
});

/**
 * Configures prod again as an admin does, with `statementTimeoutMs` as its
 * statement timeout in Odoo (undefined: the default). The reader's password
 * comes from the mapping (postgres, its owner, sees it) into a stand-in
 * Vault for the one transaction, as xtask/sql/odoo_configure_local.sql does.
 */
async function configureProd(sql: postgres.Sql, statementTimeoutMs?: number) {
  const port = new URL(Deno.env.get("ODOO_DB_URL") ?? "").port;
  await sql.begin(async (tx) => {
    await tx`create schema vault`;
    await tx`create table vault.decrypted_secrets as
               select 'odoo_prod_fdw_password'::text as name, o.option_value as decrypted_secret
                 from pg_catalog.pg_user_mappings um
                cross join lateral pg_catalog.pg_options_to_table(um.umoptions) o
                where um.srvname = 'odoo_prod' and um.usename = current_user
                  and o.option_name = 'password'`;
    const timeout = statementTimeoutMs === undefined
      ? tx``
      : tx`, p_statement_timeout_ms => ${statementTimeoutMs}`;
    await tx`select from ops.configure_odoo_instance(
               p_instance => 'prod', p_host => '127.0.0.1', p_port => ${Number(port)},
               p_dbname => 'odoo', p_user => 'odoo_fdw_reader',
               p_password_secret => 'odoo_prod_fdw_password', p_sslmode => 'disable' ${timeout})`;
    await tx`drop schema vault cascade`;
  });
}

/**
 * Runs `fn` while Odoo's own session holds `table` locked, as a module
 * upgrade does. Without a timeout in Odoo a read would wait for the lock,
 * and the lock for `fn`: the callers' aborts make that a failure, not a hang.
 */
async function whileLocked<T>(table: string, fn: () => Promise<T>): Promise<T> {
  const locker = postgres(Deno.env.get("ODOO_DB_URL") ?? "", { max: 1, onnotice: () => {} });
  let result!: T;
  try {
    await locker.begin(async (tx) => {
      await tx`lock table ${tx(table)} in access exclusive mode`;
      result = await fn();
    });
    return result;
  } finally {
    await locker.end();
  }
}

/** A full pass, with how long it took. */
async function timedFullPass() {
  const started = performance.now();
  const answer = await reconcile({ mode: "full" });
  return { ...answer, elapsedMs: performance.now() - started };
}

Deno.test({
  name:
    "an Odoo that stalls (its table locked) is a 503 at the wrapper's statement timeout, with nothing written; the next pass repairs",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const id = freshOdooProjectId();
      await odooProject(odoo, id, { en_US: "Behind a lock" }, 120);
      const watermark = async () => {
        const [row] = await sql`select watermark from ops_private.reconcile_state
                                 where odoo_instance = 'prod' and subject = 'projects'`;
        return row?.watermark ?? null;
      };
      const before = await watermark();
      await configureProd(sql, 1500);
      try {
        const answer = await whileLocked("project_project", timedFullPass);
        assert.equal(answer.status, 503, JSON.stringify(answer.json));
        assert.match(String(answer.json.detail), /Odoo's database cannot be reached/);
        assert.ok(
          answer.elapsedMs >= 1_400 && answer.elapsedMs < 15_000,
          `answered after ${answer.elapsedMs} ms`,
        );
        assert.equal(await project(sql, id), undefined, "nothing of the stalled pass is written");
        assert.deepEqual(await watermark(), before, "and nothing of it is recorded");

        // A member's live query of Odoo says so too, instead of waiting.
        const refused = await whileLocked("project_project", () =>
          asMember(sql, "odoo-1", async (tx) => {
            await tx`set local statement_timeout = '20s'`;
            return await tx`select * from ops.odoo_projects_with_runs()`;
          }).then(() =>
            undefined, (error: postgres.PostgresError) => error));
        assert.equal(refused?.code, "57014", String(refused));
        assert.equal(refused?.message, "Odoo's database cannot be read now");
      } finally {
        await configureProd(sql);
      }
      const repaired = await reconcile({ mode: "full" });
      assert.equal(repaired.status, 200, JSON.stringify(repaired.json));
      assert.deepEqual(await project(sql, id), {
        name: "Behind a lock",
        active: true,
        deleted: false,
      });
      await odoo`delete from project_project where id = ${id}`;
    }),
});

Deno.test({
  name:
    "a stall in a later phase (Odoo's users locked) is a 503 too: the projects applied before it stay, the users' page writes nothing, and the next pass repairs",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      const projectId = freshOdooProjectId();
      await odooProject(odoo, projectId, { en_US: "Before the stall" }, 120);
      const userId = freshOdooUserId();
      const login = `stalled.${crypto.randomUUID()}@example.com`;
      await odoo`
        insert into res_partner (id, name, complete_name, active, company_id, commercial_partner_id,
                                 email, email_normalized, is_company, type, partner_share,
                                 create_date, write_date)
        values (${userId}, 'Stalled', 'Stalled', true, 1, ${userId}, ${login}, ${login}, false,
                'contact', false, ${odoo.unsafe(odooNow)} - interval '2 hours',
                ${odoo.unsafe(odooNow)} - interval '2 hours')`;
      await odoo`
        insert into res_users (id, login, partner_id, company_id, active, share,
                               notification_type, create_date, write_date)
        values (${userId}, ${login}, ${userId}, 1, true, false, 'email',
                ${odoo.unsafe(odooNow)} - interval '2 hours',
                ${odoo.unsafe(odooNow)} - interval '2 hours')`;
      await configureProd(sql, 1500);
      try {
        const answer = await whileLocked("res_users", timedFullPass);
        assert.equal(answer.status, 503, JSON.stringify(answer.json));
        assert.match(String(answer.json.detail), /Odoo's database cannot be reached/);
        assert.deepEqual(
          await project(sql, projectId),
          { name: "Before the stall", active: true, deleted: false },
          "the projects' phase ran before the stall, and its pages stay",
        );
        assert.equal(
          await odooUser(sql, userId),
          undefined,
          "the stalled users' page wrote nothing",
        );
      } finally {
        await configureProd(sql);
      }
      try {
        const repaired = await reconcile({ mode: "full" });
        assert.equal(repaired.status, 200, JSON.stringify(repaired.json));
        assert.equal(repaired.json.complete, true, JSON.stringify(repaired.json));
        assert.deepEqual(await odooUser(sql, userId), {
          odoo_login: login,
          odoo_email: login,
          active: true,
          share: false,
          deleted: false,
        });
      } finally {
        await odoo`delete from res_users where id = ${userId}`;
        await odoo`delete from res_partner where id = ${userId}`;
        await odoo`delete from project_project where id = ${projectId}`;
      }
    }),
});
