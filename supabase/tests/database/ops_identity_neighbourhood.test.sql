-- What ops-auth-hook reads about one person (ops.identity_neighbourhood in
-- 20261202030000_identity.sql): everyone the decision about them depends on,
-- rivals included, and nothing for the API roles.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(29);

insert into auth.users (id, email, email_confirmed_at) values
    ('e1111111-1111-4111-8111-111111111111', 'Ana@Hood.test', now()),   -- me
    ('e2222222-2222-4222-8222-222222222222', 'ANA@hood.test', now()),   -- a rival by case
    ('e3333333-3333-4333-8333-333333333333', 'bob@hood.test', now()),   -- matches another key
    ('e4444444-4444-4444-8444-444444444444', 'zoe@hood.test', now()),   -- unrelated
    ('e5555555-5555-4555-8555-555555555555', 'ÄNA@hood.test', null),    -- non-ASCII
    ('e6666666-6666-4666-8666-666666666666', 'q@hood.test', now()),     -- named by a decision
    ('e7777777-7777-4777-8777-777777777777', 'kate@hood.test', now());  -- lowercase k

insert into ops.odoo_users
    (odoo_instance, odoo_user_id, odoo_login, odoo_email, login_key, email_key, odoo_changed_at)
values
    -- Mine by login, in two instances; its email brings bob's contest in.
    ('prod', 1, 'ana@hood.test', 'bob@hood.test', 'ana@hood.test', 'bob@hood.test', now()),
    ('dev', 1, 'admin', 'Ana@Hood.test', 'admin', 'ana@hood.test', now()),
    -- Bob's own user in prod: a contender for bob, so it comes along.
    ('prod', 2, 'bob', 'bob@hood.test', 'bob', 'bob@hood.test', now()),
    -- Bob's user in staging: another instance, no part of prod's contest.
    ('staging', 2, 'bob', 'bob@hood.test', 'bob', 'bob@hood.test', now()),
    -- Unrelated.
    ('prod', 3, 'zoe@hood.test', null, 'zoe@hood.test', null, now()),
    -- Linked by an admin to the person q, and named by q's decision.
    ('prod', 4, 'kate', 'KATE@hood.test', 'kate', 'kate@hood.test', now()),
    -- Explicitly linked to me by an admin, whatever its login.
    ('staging', 5, 'root', null, 'root', null, now());
insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind) values
    ('staging', 5, 'e1111111-1111-4111-8111-111111111111', 'link'),
    ('prod', 1, 'e6666666-6666-4666-8666-666666666666', 'unlink'),
    ('prod', 4, 'e6666666-6666-4666-8666-666666666666', 'link');

create temp table hood as
    select ops.identity_neighbourhood('e1111111-1111-4111-8111-111111111111', 'ana@hood.test') as j;
create temp view hood_odoo as
    select u ->> 'odoo_instance' || '/' || (u ->> 'odoo_user_id') as who
      from hood, jsonb_array_elements(j -> 'input' -> 'odoo_users') u;
create temp view hood_people as
    select p ->> 'email' as email from hood, jsonb_array_elements(j -> 'input' -> 'auth_users') p;

select is((select j -> 'auth_user' from hood),
          '{"id": "e1111111-1111-4111-8111-111111111111", "email": "Ana@Hood.test", "email_confirmed": true}'::jsonb,
          'the person as auth.users holds them');
select is((select array_agg(who order by who) from hood_odoo),
          array['dev/1', 'prod/1', 'prod/2', 'prod/4', 'staging/5'],
          'the Odoo users that may be mine, their contenders in their instance, and those the decisions name');
select ok(not exists (select from hood_odoo where who in ('prod/3', 'staging/2')),
          'an unrelated user and a same-key user of another instance stay out');
select ok(exists (select from hood_people where email = 'ANA@hood.test'),
          'a rival whose address differs only by case is in');
select ok(exists (select from hood_people where email = 'bob@hood.test'),
          'the people matching my Odoo users'' other key are in');
select ok(exists (select from hood_people where email = 'ÄNA@hood.test'),
          'every non-ASCII address is in: SQL cannot apply Rust''s lowercase, so Rust filters');
select ok(exists (select from hood_people where email = 'q@hood.test'),
          'a person a decision about my Odoo users names is in');
select ok(not exists (select from hood_people where email in ('zoe@hood.test', 'kate@hood.test')),
          'people that match none of the keys stay out');
select is((select jsonb_array_length(j -> 'input' -> 'decisions') from hood), 3,
          'the decisions about those Odoo users and people');
select is((select jsonb_agg(u order by u ->> 'odoo_user_id') from hood,
                  jsonb_array_elements(j -> 'input' -> 'odoo_users') u
            where u ->> 'odoo_instance' = 'prod' and u ->> 'odoo_user_id' = '1'),
          '[{"odoo_instance": "prod", "odoo_user_id": 1, "login": "ana@hood.test", "email": "bob@hood.test",
             "active": true, "share": false, "deleted": false}]'::jsonb,
          'an Odoo user in identity_map::OdooUser''s shape');

-- A deleted Odoo user still comes along, marked: identity-map decides what
-- deletion means.
update ops.odoo_users set deleted_at = now(), odoo_login = 'gone', login_key = 'gone'
 where odoo_instance = 'dev' and odoo_user_id = 1;
select is((select u -> 'deleted'
             from jsonb_array_elements(
                      ops.identity_neighbourhood('e1111111-1111-4111-8111-111111111111', 'ana@hood.test')
                      -> 'input' -> 'odoo_users') u
            where u ->> 'odoo_instance' = 'dev'),
          'true'::jsonb, 'a deleted Odoo user is marked deleted');

-- Without a key (no email), only what names the person directly.
select is((select array_agg(u ->> 'odoo_instance' || '/' || (u ->> 'odoo_user_id'))
             from jsonb_array_elements(
                      ops.identity_neighbourhood('e1111111-1111-4111-8111-111111111111', null)
                      -> 'input' -> 'odoo_users') u),
          array['staging/5'], 'without an email, the admin''s link alone');
select is(ops.identity_neighbourhood('e9999999-9999-4999-8999-999999999999', 'nobody@hood.test') - 'version',
          '{"auth_user": null, "input": {"odoo_users": [], "auth_users": [], "decisions": []}, "stored": []}'::jsonb,
          'a user Auth no longer has: nothing');

select ok(not has_function_privilege('anon', 'ops.identity_neighbourhood(uuid, text)', 'execute'),
          'anon cannot read anyone''s identities');
select ok(not has_function_privilege('authenticated', 'ops.identity_neighbourhood(uuid, text)', 'execute'),
          'authenticated cannot read anyone''s identities');
select is((select provolatile from pg_proc where oid = 'ops.identity_neighbourhood(uuid, text)'::regprocedure),
          's', 'stable: a read, no write');

select is((select jsonb_agg(x ->> 'odoo_instance' || '/' || (x ->> 'odoo_user_id')) from hood,
                  jsonb_array_elements(j -> 'stored') x),
          '["dev/1", "prod/1", "staging/5"]'::jsonb,
          'stored: the links of the Odoo users decided exactly, the contenders left out');
select is((select j ->> 'version' from hood), md5(((select j from hood) - 'version')::text),
          'version: a digest of the rest');

-- ---------------------------------------------------------------------------
-- ops.identity_store: the links decided, stored only over the picture they
-- were decided from.
create temp table seen as
    select ops.identity_neighbourhood('e1111111-1111-4111-8111-111111111111', 'ana@hood.test') ->> 'version' as v;
select is(ops.identity_store('e1111111-1111-4111-8111-111111111111', 'ana@hood.test', 'not the version',
              '[{"odoo_instance": "prod", "odoo_user_id": 1, "auth_user_id": "e1111111-1111-4111-8111-111111111111", "link_how": "automatic"}]'),
          '{"result": "changed"}'::jsonb, 'an older picture stores nothing');
select is((select auth_user_id from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 1), null,
          '...and nothing was written');
select is(ops.identity_store('e1111111-1111-4111-8111-111111111111', 'ana@hood.test', (select v from seen),
              '[{"odoo_instance": "staging", "odoo_user_id": 5, "auth_user_id": "e1111111-1111-4111-8111-111111111111", "link_how": "admin"},
                {"odoo_instance": "prod", "odoo_user_id": 3, "auth_user_id": "e1111111-1111-4111-8111-111111111111", "link_how": "automatic"}]'),
          '{"result": "stored", "rows": 1}'::jsonb, 'the current picture stores the links');
select is((select auth_user_id::text || ' ' || link_how from ops.odoo_users where odoo_instance = 'staging' and odoo_user_id = 5),
          'e1111111-1111-4111-8111-111111111111 admin', 'the admin''s link is stored');
select is((select auth_user_id from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 3), null,
          'an Odoo user the neighbourhood does not decide exactly is never written');

-- The person's link moves within an instance: the old one ends first.
update ops.odoo_users set auth_user_id = null, link_how = null where odoo_instance = 'staging' and odoo_user_id = 5;
update ops.odoo_users set auth_user_id = 'e1111111-1111-4111-8111-111111111111', link_how = 'automatic'
 where odoo_instance = 'prod' and odoo_user_id = 3;
truncate seen;
insert into seen select ops.identity_neighbourhood('e1111111-1111-4111-8111-111111111111', 'ana@hood.test') ->> 'version';
select is(ops.identity_store('e1111111-1111-4111-8111-111111111111', 'ana@hood.test', (select v from seen),
              '[{"odoo_instance": "prod", "odoo_user_id": 1, "auth_user_id": "e1111111-1111-4111-8111-111111111111", "link_how": "automatic"},
                {"odoo_instance": "prod", "odoo_user_id": 3, "auth_user_id": null, "link_how": null}]'),
          '{"result": "stored", "rows": 2}'::jsonb, 'a link that moves: the old one ends, the new one is made');
select is((select array_agg(odoo_user_id order by odoo_user_id) from ops.odoo_users
            where odoo_instance = 'prod' and auth_user_id = 'e1111111-1111-4111-8111-111111111111'),
          array[1], 'one Odoo user per person in the instance');
select is(ops.identity_store('e1111111-1111-4111-8111-111111111111', 'ana@hood.test',
              ops.identity_neighbourhood('e1111111-1111-4111-8111-111111111111', 'ana@hood.test') ->> 'version',
              '[{"odoo_instance": "prod", "odoo_user_id": 1, "auth_user_id": "e1111111-1111-4111-8111-111111111111", "link_how": "automatic"}]'),
          '{"result": "stored", "rows": 0}'::jsonb, 'storing what is stored writes nothing');
select ok(not has_function_privilege('anon', 'ops.identity_store(uuid, text, text, jsonb)', 'execute')
          and not has_function_privilege('authenticated', 'ops.identity_store(uuid, text, text, jsonb)', 'execute'),
          'the API''s users cannot store links');

-- Deleting the person unlinks their Odoo users entirely.
delete from auth.users where id = 'e1111111-1111-4111-8111-111111111111';
select is((select count(*)::int from ops.odoo_users where link_how is not null and auth_user_id is null), 0,
          'a deleted person leaves no half link');
select is((select count(*)::int from ops.odoo_user_decisions where auth_user_id = 'e1111111-1111-4111-8111-111111111111'), 0,
          'and no decision');

select * from finish();
rollback;
