// ops-auth-hook over HTTP against the local stack, called as Supabase Auth
// calls it: Standard Webhooks signatures made by the npm `standardwebhooks`
// package from secrets in Auth's `v1,whsec_` form, several joined by `|`,
// and the entries joined with ", " as Auth joins them.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { Webhook } from "standardwebhooks";
import { connect, dbTest, deliver, functionsUrl, serveFunctions } from "./support.ts";

const hookSecret = Deno.env.get("OPS_AUTH_HOOK_SECRET") ?? "";
const unsanitized = { sanitizeOps: false, sanitizeResources: false };

/** Auth's claims for a password sign-in of `id` (internal/tokens/service.go). */
function authClaims(id: string, email: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: "http://127.0.0.1:54321/auth/v1",
    aud: "authenticated",
    exp: now + 3600,
    iat: now,
    sub: id,
    email,
    phone: "",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: { email_verified: true },
    role: "authenticated",
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: crypto.randomUUID(),
    is_anonymous: false,
  };
}

interface Call {
  body: string;
  /** Auth's secret setting: `v1,whsec_…`, several joined by `|`. */
  secret?: string;
  at?: Date;
  url?: string;
}

/** Calls the hook as Auth does: one `v1,` entry per secret, joined with ", ". */
async function callHook(call: Call) {
  const id = crypto.randomUUID();
  const at = call.at ?? new Date();
  const signature = (call.secret ?? hookSecret)
    .split("|")
    .map((secret) => new Webhook(secret.replace(/^v1,/, "")).sign(id, at, call.body))
    .join(", ");
  const response = await fetch(`${call.url ?? functionsUrl}/ops-auth-hook`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": Math.floor(at.getTime() / 1000).toString(),
      "webhook-signature": signature,
    },
    body: call.body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) };
}

function hookInput(id: string, claims: Record<string, unknown>): string {
  return JSON.stringify({
    metadata: {
      uuid: crypto.randomUUID(),
      time: new Date().toISOString(),
      name: "customize-access-token",
      ip_address: "127.0.0.1",
    },
    user_id: id,
    claims,
    authentication_method: "password",
  });
}

/** A Supabase user, inserted as Auth inserts one; `confirmed` sets email_confirmed_at. */
async function authUser(sql: postgres.Sql, email: string, confirmed = true): Promise<string> {
  const [{ id }] = await sql`
    insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data)
    values (gen_random_uuid(), 'authenticated', 'authenticated', ${email},
            ${confirmed ? new Date() : null}, '{"provider": "email"}')
    returning id::text as id`;
  return id;
}

/** A unique address, so that no other test's users compete. */
function freshEmail(name = "ana"): string {
  return `${name}.${crypto.randomUUID().slice(0, 8)}@hook.example`;
}

/** An Odoo user as the ingest of Odoo's user events stores it. */
async function odooUser(
  sql: postgres.Sql,
  instance: string,
  id: number,
  login: string,
  extra: { email?: string | null; active?: boolean; share?: boolean } = {},
) {
  const email = extra.email ?? null;
  await sql`
    insert into ops.odoo_users
        (odoo_instance, odoo_user_id, odoo_login, odoo_email, login_key, email_key,
         active, share, odoo_changed_at)
    values (${instance}, ${id}, ${login}, ${email}, ${login.toLowerCase()},
            ${email?.toLowerCase() ?? null}, ${extra.active ?? true}, ${
    extra.share ?? false
  }, now())`;
}

/** Waits (up to 3 s) until the stored link of an Odoo user is `expected`; returns what is stored. */
async function storedLink(
  sql: postgres.Sql,
  instance: string,
  odooId: number,
  expected: string | null,
): Promise<string | null> {
  let stored: string | null = null;
  for (let attempt = 0; attempt < 60; attempt++) {
    const [row] = await sql`select auth_user_id::text as id from ops.odoo_users
                             where odoo_instance = ${instance} and odoo_user_id = ${odooId}`;
    stored = row?.id ?? null;
    if (stored === expected) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return stored;
}

function freshOdooId(): number {
  return 1 + Math.floor(Math.random() * 2_000_000_000);
}

dbTest(
  "a mapped person's token keeps every claim Auth sent and adds their Odoo identities",
  async (sql) => {
    const email = freshEmail();
    const me = await authUser(sql, email);
    const prod = freshOdooId();
    const dev = freshOdooId();
    // Odoo keeps the login as typed; the match ignores case.
    await odooUser(sql, "prod", prod, email.toUpperCase());
    // A login without an @, like every Odoo database's `admin` (logins are
    // unique per instance, so each test has its own).
    const admin = `admin-${crypto.randomUUID().slice(0, 8)}`;
    await odooUser(sql, "dev", dev, admin, { email });
    const claims = authClaims(me, email);
    const answer = await callHook({ body: hookInput(me, claims) });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.headers.get("content-type"), "application/json");
    const { odoo_identities, ...rest } = answer.json.claims;
    assert.deepEqual(rest, claims, "every claim Auth sent, unchanged");
    assert.deepEqual(odoo_identities, [
      { odoo_instance: "dev", odoo_user_id: dev, odoo_login: admin },
      { odoo_instance: "prod", odoo_user_id: prod, odoo_login: email.toUpperCase() },
    ]);
    // Auth's schema: these claims must be there, with these types.
    for (const claim of ["aud", "exp", "iat", "sub", "email", "phone", "role", "aal"]) {
      assert.ok(claim in answer.json.claims, claim);
    }
    assert.equal(typeof answer.json.claims.session_id, "string");
    assert.equal(answer.json.claims.is_anonymous, false);
  },
);

dbTest("a person without a mapping gets Auth's claims back unchanged", async (sql) => {
  const email = freshEmail();
  const me = await authUser(sql, email);
  const unconfirmed = freshEmail();
  const notYet = await authUser(sql, unconfirmed, false);
  await odooUser(sql, "prod", freshOdooId(), unconfirmed);
  // Ambiguous: two confirmed people whose addresses differ only by case.
  const shared = freshEmail();
  const one = await authUser(sql, shared);
  await authUser(sql, shared.toUpperCase());
  await odooUser(sql, "prod", freshOdooId(), shared);
  // A portal user is linked only by an admin.
  const portal = freshEmail();
  const customer = await authUser(sql, portal);
  await odooUser(sql, "prod", freshOdooId(), portal, { share: true });
  for (
    const [id, address] of [[me, email], [notYet, unconfirmed], [one, shared], [customer, portal]]
  ) {
    const claims = authClaims(id, address);
    const answer = await callHook({ body: hookInput(id, claims) });
    assert.equal(answer.status, 200, address);
    assert.deepEqual(answer.json, { claims }, address);
  }
});

dbTest("an admin's explicit decisions win over the emails", async (sql) => {
  const email = freshEmail();
  const me = await authUser(sql, email);
  const matched = freshOdooId();
  const chosen = freshOdooId();
  await odooUser(sql, "staging", matched, email);
  const admin = `admin-${crypto.randomUUID().slice(0, 8)}`;
  await odooUser(sql, "prod", chosen, admin);
  await sql`insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
            values ('staging', ${matched}, ${me}, 'unlink'), ('prod', ${chosen}, ${me}, 'link')`;
  const answer = await callHook({ body: hookInput(me, authClaims(me, email)) });
  assert.deepEqual(answer.json.claims.odoo_identities, [
    { odoo_instance: "prod", odoo_user_id: chosen, odoo_login: admin },
  ]);
});

dbTest(
  "an Odoo user archived in Odoo is no longer in the next token, and is again when restored",
  async (sql) => {
    const email = freshEmail();
    const me = await authUser(sql, email);
    const odooId = freshOdooId();
    await odooUser(sql, "prod", odooId, email);
    const body = () => hookInput(me, authClaims(me, email));
    assert.equal((await callHook({ body: body() })).json.claims.odoo_identities.length, 1);
    await sql`update ops.odoo_users set active = false
               where odoo_instance = 'prod' and odoo_user_id = ${odooId}`;
    assert.equal((await callHook({ body: body() })).json.claims.odoo_identities, undefined);
    await sql`update ops.odoo_users set active = true
               where odoo_instance = 'prod' and odoo_user_id = ${odooId}`;
    assert.equal((await callHook({ body: body() })).json.claims.odoo_identities.length, 1);
  },
);

Deno.test({
  name: "the hook answers within 1 s while another transaction holds the person's auth.users row",
  ...unsanitized,
  fn: async () => {
    const sql = connect();
    const holder = connect();
    try {
      const email = freshEmail();
      const me = await authUser(sql, email);
      const odooId = freshOdooId();
      await odooUser(sql, "prod", odooId, email);
      let release!: () => void;
      const released = new Promise<void>((resolve) => release = resolve);
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => locked = resolve);
      // As Auth's sign-in does, and stronger: the row is updated and locked
      // FOR UPDATE, which even a foreign key check would wait for.
      const transaction = holder.begin(async (tx) => {
        await tx`update auth.users set last_sign_in_at = now() where id = ${me}`;
        await tx`select 1 from auth.users where id = ${me} for update`;
        locked();
        await released;
      });
      await isLocked;
      try {
        const started = performance.now();
        const answer = await callHook({ body: hookInput(me, authClaims(me, email)) });
        const elapsed = performance.now() - started;
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.json.claims.odoo_identities, [
          { odoo_instance: "prod", odoo_user_id: odooId, odoo_login: email },
        ]);
        assert.ok(elapsed < 1000, `answered in ${elapsed.toFixed(0)} ms`);
        // The lock was really held: a writer that needs the row waits.
        let waits = false;
        try {
          await sql.begin(async (tx) => {
            await tx`set local lock_timeout = '200ms'`;
            await tx`select 1 from auth.users where id = ${me} for key share`;
          });
        } catch (error) {
          if ((error as { code?: string }).code !== "55P03") throw error;
          waits = true;
        }
        assert.equal(waits, true, "the test's lock did not hold the row");
        // Nothing was stored while the sign-in held the row: the store
        // waits for it, after the answer.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(await storedLink(sql, "prod", odooId, null), null);
      } finally {
        release();
        await transaction;
      }
      // ...and the link is stored once it ended.
      assert.equal(await storedLink(sql, "prod", odooId, me), me);
    } finally {
      await holder.end();
      await sql.end();
    }
  },
});

dbTest(
  "calls not signed with Auth's secret are refused with the header and rule named",
  async (sql) => {
    const email = freshEmail();
    const me = await authUser(sql, email);
    const body = hookInput(me, authClaims(me, email));
    const wrong = `v1,whsec_${btoa("an entirely different secret!!")}`;
    const cases: [string, Call][] = [
      ["wrong secret", { body, secret: wrong }],
      ["stale timestamp", { body, at: new Date(Date.now() - 6 * 60 * 1000) }],
    ];
    for (const [name, call] of cases) {
      const answer = await callHook(call);
      assert.equal(answer.status, 401, name);
      assert.equal(answer.headers.get("content-type"), "application/problem+json");
      assert.equal(answer.json.rule, "signature", name);
      assert.match(answer.json.field, /^webhook-/);
      assert.equal(answer.json.error.http_code, 401);
      assert.equal(answer.json.claims, undefined, name);
    }
    const unsigned = await fetch(`${functionsUrl}/ops-auth-hook`, { method: "POST", body });
    assert.equal(unsigned.status, 401);
    await unsigned.body?.cancel();
    // An ops-ingest delivery signature is no hook signature.
    const ingestSigned = await deliver("ops-auth-hook", { body });
    assert.equal(ingestSigned.status, 401);
  },
);

dbTest("a signed body that is not Auth's input is refused naming the field and rule", async () => {
  const cases: [string, string, string][] = [
    ["{", "body", "json"],
    ['{"claims": {}}', "user_id", "required"],
    [JSON.stringify({ user_id: crypto.randomUUID(), claims: "x" }), "claims", "type"],
    [
      JSON.stringify({ user_id: crypto.randomUUID(), claims: { sub: crypto.randomUUID() } }),
      "claims.sub",
      "const",
    ],
  ];
  for (const [body, field, rule] of cases) {
    const answer = await callHook({ body });
    assert.equal(answer.status, 400, body);
    assert.equal(answer.json.field, field);
    assert.equal(answer.json.rule, rule);
    assert.equal(answer.json.error.http_code, 400);
  }
});

Deno.test({
  name: "with two secrets joined by |, a call signed with either, or both as Auth does, verifies",
  ...unsanitized,
  fn: async () => {
    const other = `v1,whsec_${btoa("the next secret, 32 bytes long..")}`;
    const both = `${hookSecret}|${other}`;
    const server = await serveFunctions({ OPS_AUTH_HOOK_SECRET: both });
    const sql = connect();
    try {
      const email = freshEmail();
      const me = await authUser(sql, email);
      const claims = authClaims(me, email);
      for (const secret of [hookSecret, other, both]) {
        const answer = await callHook({ body: hookInput(me, claims), secret, url: server.url });
        assert.equal(answer.status, 200, secret === both ? "both" : "one");
        assert.deepEqual(answer.json, { claims });
      }
      const wrong = `v1,whsec_${btoa("neither of the configured two...")}`;
      const refused = await callHook({
        body: hookInput(me, claims),
        secret: wrong,
        url: server.url,
      });
      assert.equal(refused.status, 401);
    } finally {
      await sql.end();
      await server.stop();
    }
  },
});

dbTest(
  "the link is stored after the answer; its person reads it, a stranger reads nothing",
  async (sql) => {
    const email = freshEmail();
    const me = await authUser(sql, email);
    const stranger = await authUser(sql, freshEmail("eve"));
    const odooId = freshOdooId();
    await odooUser(sql, "prod", odooId, email);
    assert.equal((await callHook({ body: hookInput(me, authClaims(me, email)) })).status, 200);
    assert.equal(await storedLink(sql, "prod", odooId, me), me);
    const [{ how }] = await sql`select link_how as how from ops.odoo_users
                               where odoo_instance = 'prod' and odoo_user_id = ${odooId}`;
    assert.equal(how, "automatic");
    const read = (id: string) =>
      sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${
          JSON.stringify({ sub: id, role: "authenticated" })
        }, true)`;
        await tx`set local role authenticated`;
        return Array.from(
          await tx`select odoo_user_id, odoo_login from ops.odoo_users
                  where auth_user_id = ${me} and odoo_instance = 'prod'`,
        );
      });
    assert.deepEqual(await read(me), [{ odoo_user_id: odooId, odoo_login: email }]);
    assert.deepEqual(await read(stranger), []);
  },
);

dbTest("a rival who appears later ends the stored link at the next token", async (sql) => {
  const email = freshEmail();
  const me = await authUser(sql, email);
  const odooId = freshOdooId();
  await odooUser(sql, "prod", odooId, email);
  await callHook({ body: hookInput(me, authClaims(me, email)) });
  assert.equal(await storedLink(sql, "prod", odooId, me), me);
  // Another confirmed person with the same address up to case: ambiguous.
  await authUser(sql, email.toUpperCase());
  const answer = await callHook({ body: hookInput(me, authClaims(me, email)) });
  assert.equal(answer.status, 200);
  assert.equal(answer.json.claims.odoo_identities, undefined);
  assert.equal(await storedLink(sql, "prod", odooId, null), null);
});

dbTest(
  "end to end: Odoo creates a user, the person signs up, the token names them; Odoo archives the user, the next token does not",
  async (sql) => {
    const odooId = freshOdooId();
    // Odoo keeps the login as typed; the partner's email is what matches.
    const email = freshEmail();
    const login = `Ana-${crypto.randomUUID().slice(0, 8)}`;
    const event = (type: string, extra: Record<string, unknown>, minutesAgo: number) =>
      JSON.stringify({
        event_type: type,
        odoo_instance: "prod",
        odoo_user_id: odooId,
        ...extra,
        occurred_at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
      });
    const created = await deliver("ops-ingest", {
      body: event(
        "user_created",
        { login, email: email.toUpperCase(), share: false, active: true },
        2,
      ),
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    // The person signs up and confirms the address, as Auth records it.
    const me = await authUser(sql, email);
    const first = await callHook({ body: hookInput(me, authClaims(me, email)) });
    assert.deepEqual(first.json.claims.odoo_identities, [
      { odoo_instance: "prod", odoo_user_id: odooId, odoo_login: login },
    ]);
    assert.equal(await storedLink(sql, "prod", odooId, me), me);

    const archived = await deliver("ops-ingest", { body: event("user_archived", {}, 1) });
    assert.equal(archived.status, 200, JSON.stringify(archived.json));
    const next = await callHook({ body: hookInput(me, authClaims(me, email)) });
    assert.equal(next.status, 200);
    assert.equal(next.json.claims.odoo_identities, undefined);
    // The link is kept, inactive (identity-map, rule 4).
    const [row] = await sql`select auth_user_id::text as id, active from ops.odoo_users
                             where odoo_instance = 'prod' and odoo_user_id = ${odooId}`;
    assert.deepEqual({ ...row }, { id: me, active: false });

    // Deleted in Odoo: the link ends at once.
    const deleted = await deliver("ops-ingest", { body: event("user_deleted", {}, 0) });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.json));
    assert.equal(await storedLink(sql, "prod", odooId, null), null);
  },
);
