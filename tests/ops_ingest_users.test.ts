// Odoo's user events through ops-ingest over HTTP against the local stack,
// signed by the npm `standardwebhooks` package rather than by our own code.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { dbTest, deliver } from "./support.ts";

/** A res_users id no other test uses. */
function freshUserId(): number {
  return 1 + Math.floor(Math.random() * 2_147_483_646);
}

function minutesAgo(minutes: number): string {
  return new Date(Date.now() - minutes * 60_000).toISOString();
}

async function userRows(sql: postgres.Sql, instance: string, id: number) {
  // A plain array: postgres.js results carry extra properties.
  return Array.from(
    await sql`
      select odoo_login, odoo_email, login_key, email_key, active, share, deleted_at,
             auth_user_id
        from ops.odoo_users
       where odoo_instance = ${instance} and odoo_user_id = ${id}`,
  );
}

dbTest(
  "a user_created then a user_archived are written to ops.odoo_users and answered 200",
  async (sql) => {
    const id = freshUserId();
    const login = `Ana.${crypto.randomUUID()}@Example.com`;
    const created = await deliver("ops-ingest", {
      body: JSON.stringify({
        event_type: "user_created",
        odoo_instance: "staging",
        odoo_user_id: id,
        login,
        email: "ANA@Example.com",
        share: false,
        active: true,
        occurred_at: minutesAgo(2),
      }),
    });
    assert.equal(created.status, 200);
    assert.equal(created.headers.get("content-type"), "application/json");
    assert.deepEqual(
      {
        event_type: created.json.event_type,
        odoo_instance: created.json.odoo_instance,
        odoo_user_id: created.json.odoo_user_id,
        result: created.json.result,
      },
      { event_type: "user_created", odoo_instance: "staging", odoo_user_id: id, result: "created" },
    );
    assert.equal(created.json.project_id, undefined, "a user event names no project");
    assert.equal(created.json.identity, undefined, "the sender is not told whose links move");
    assert.deepEqual(await userRows(sql, "staging", id), [{
      odoo_login: login,
      odoo_email: "ANA@Example.com",
      // The keys the Rust side computed: Unicode lowercase, nothing else.
      login_key: login.toLowerCase(),
      email_key: "ana@example.com",
      active: true,
      share: false,
      deleted_at: null,
      auth_user_id: null,
    }]);

    const archived = await deliver("ops-ingest", {
      body: JSON.stringify({
        event_type: "user_archived",
        odoo_instance: "staging",
        odoo_user_id: id,
        occurred_at: minutesAgo(1),
      }),
    });
    assert.equal(archived.status, 200);
    assert.equal(archived.json.result, "archived");
    const [row] = await userRows(sql, "staging", id);
    assert.equal(row.active, false);
    assert.equal(row.odoo_login, login, "an archive leaves the facts alone");

    // An archive of another instance's user with the same id is not this one.
    const elsewhere = await deliver("ops-ingest", {
      body: JSON.stringify({
        event_type: "user_unarchived",
        odoo_instance: "dev",
        odoo_user_id: id,
        occurred_at: minutesAgo(0),
      }),
    });
    assert.equal(elsewhere.status, 202);
    assert.equal(elsewhere.json.result, "deferred");
    assert.equal((await userRows(sql, "staging", id))[0].active, false);
    assert.deepEqual(await userRows(sql, "dev", id), []);
  },
);

dbTest(
  "a malformed user event is 422 problem+json naming the field and rule, and writes nothing",
  async (sql) => {
    const id = freshUserId();
    const cases: [Record<string, unknown>, [string, string][]][] = [
      [{ login: "" }, [["login", "minLength"]]],
      [{ login: "ana\tmaria" }, [["login", "pattern"]]],
      [{ email: "" }, [["email", "minLength"]]],
      [{ odoo_instance: "production" }, [["odoo_instance", "enum"]]],
      [{ odoo_user_id: 0 }, [["odoo_user_id", "minimum"]]],
      [{ odoo_user_id: 2_147_483_648 }, [["odoo_user_id", "maximum"]]],
      [{ share: "no" }, [["share", "type"]]],
      [{ active: undefined }, [["active", "required"]]],
      [{ occurred_at: "2026-11-26 10:00:00Z" }, [["occurred_at", "format"]]],
      [{ extra: 1 }, [["extra", "additionalProperties"]]],
    ];
    for (const [change, expected] of cases) {
      const body = JSON.stringify({
        event_type: "user_created",
        odoo_instance: "prod",
        odoo_user_id: id,
        login: `broken-${id}`,
        email: null,
        share: false,
        active: true,
        occurred_at: minutesAgo(1),
        ...change,
      });
      const answer = await deliver("ops-ingest", { body });
      const what = JSON.stringify(change);
      assert.equal(answer.status, 422, what);
      assert.equal(answer.headers.get("content-type"), "application/problem+json", what);
      assert.equal(answer.json.status, 422, what);
      assert.match(String(answer.json.type), /^urn:odooops:problem:/, what);
      const errors = answer.json.errors as { field: string; pointer: string; rule: string }[];
      assert.deepEqual(errors.map((e) => [e.field, e.rule]), expected, what);
      assert.equal(errors[0].pointer, `#/${expected[0][0]}`, what);
    }
    assert.deepEqual(await userRows(sql, "prod", id), []);
    const [{ count }] = await sql`
      select count(*)::int as count from ops.ingest_deliveries
       where project_id = ${`odoo-user:prod:${id}`}`;
    assert.equal(count, 0, "a refused event leaves no ledger row");
  },
);
