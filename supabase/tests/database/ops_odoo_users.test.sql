-- Who is who (the seed's rule 4), as the database keeps it: ops.odoo_users,
-- one row per Odoo user of each instance with the Supabase user it is linked
-- to, if any, and ops.odoo_user_decisions, the admins' explicit links and
-- unlinks. What the tables refuse, what deleting a Supabase user does to
-- them, and who reads them through the API.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
\ir ../helpers/outcome.psql

-- The rows `p_sql` gives as `p_role` (with a JWT whose sub is `p_user`), as a
-- JSON array in a fixed order; like pg_temp.outcome, the role and JWT
-- settings are local to a subtransaction that is rolled back.
create function pg_temp.sorted(p_rows jsonb)
returns jsonb
language sql
as $$
    select coalesce(jsonb_agg(r order by r), '[]'::jsonb) from jsonb_array_elements(p_rows) r
$$;

create function pg_temp.rows_as(p_sql text, p_role text, p_user uuid)
returns jsonb
language plpgsql
as $$
declare
    v_rows jsonb;
begin
    begin
        perform set_config('request.jwt.claims',
            json_build_object('sub', p_user, 'role', p_role)::text, true);
        perform set_config('role', p_role, true);
        execute format('select coalesce(jsonb_agg(to_jsonb(q)), ''[]''::jsonb) from (%s) q', p_sql)
            into v_rows;
        raise exception using errcode = 'OPSOK';
    exception when sqlstate 'OPSOK' then
        return pg_temp.sorted(v_rows);
    end;
end;
$$;

select plan(48);

-- ---------------------------------------------------------------------------
-- The fixture, written as the owner. Ana is an Odoo user of every instance:
-- `admin` in dev (her partner's email matched), `Ana@Example.com` in staging
-- and prod. Carl is known to Odoo and to no one here; Gone has links and
-- decisions of his own; old@example.com was deleted in Odoo.
insert into auth.users (id, email) values
    ('f1111111-1111-4111-8111-111111111111', 'ana@example.com'),
    ('f2222222-2222-4222-8222-222222222222', 'bea@example.com'),
    ('f3333333-3333-4333-8333-333333333333', 'stranger@example.com'),
    ('f4444444-4444-4444-8444-444444444444', 'admin@example.com'),
    ('f5555555-5555-4555-8555-555555555555', 'gone@example.com');

insert into ops.odoo_users
    (odoo_instance, odoo_user_id, odoo_login, odoo_email, login_key, email_key,
     odoo_changed_at, auth_user_id, link_how, deleted_at) values
    ('dev', 2, 'admin', 'ana@example.com', 'admin', 'ana@example.com',
     now(), 'f1111111-1111-4111-8111-111111111111', 'automatic', null),
    ('staging', 7, 'Ana@Example.com', null, 'ana@example.com', null,
     now(), 'f1111111-1111-4111-8111-111111111111', 'automatic', null),
    ('prod', 7, 'Ana@Example.com', null, 'ana@example.com', null,
     now(), 'f1111111-1111-4111-8111-111111111111', 'admin', null),
    ('prod', 8, 'bea@example.com', null, 'bea@example.com', null,
     now(), 'f2222222-2222-4222-8222-222222222222', 'automatic', null),
    ('prod', 9, 'carl@example.com', null, 'carl@example.com', null,
     now(), null, null, null),
    ('prod', 10, 'gone@example.com', null, 'gone@example.com', null,
     now(), 'f5555555-5555-4555-8555-555555555555', 'automatic', null),
    ('dev', 10, 'gone@example.com', null, 'gone@example.com', null,
     now(), 'f5555555-5555-4555-8555-555555555555', 'admin', null),
    ('prod', 20, 'old@example.com', null, 'old@example.com', null,
     now(), null, null, now());

insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind, decided_by) values
    ('prod', 7, 'f1111111-1111-4111-8111-111111111111', 'link', 'f4444444-4444-4444-8444-444444444444'),
    ('prod', 8, 'f1111111-1111-4111-8111-111111111111', 'unlink', 'f4444444-4444-4444-8444-444444444444'),
    ('prod', 10, 'f5555555-5555-4555-8555-555555555555', 'link', 'f4444444-4444-4444-8444-444444444444'),
    ('dev', 10, 'f5555555-5555-4555-8555-555555555555', 'link', 'f4444444-4444-4444-8444-444444444444'),
    ('prod', 9, 'f5555555-5555-4555-8555-555555555555', 'unlink', 'f4444444-4444-4444-8444-444444444444');

-- ---------------------------------------------------------------------------
-- Logins: unique per instance among the users not deleted, as Odoo's own
-- res_users_login_key is per database, and compared exactly, as Odoo does.

select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('staging', 8, 'bea@example.com', 'bea@example.com', now())$$), 'rows:1',
    'the same login in another instance is another Odoo user');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('prod', 11, 'bea@example.com', 'bea@example.com', now())$$), 'error:23505',
    'two live Odoo users of one instance cannot share a login');
select is(pg_temp.outcome(
    $$update ops.odoo_users set odoo_login = 'bea@example.com'
      where odoo_instance = 'prod' and odoo_user_id = 9$$), 'error:23505',
    'nor can a user be renamed to a login taken in the instance');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('prod', 12, 'Bea@example.com', 'bea@example.com', now())$$), 'rows:1',
    'logins that differ only by case are two Odoo users, as in Odoo');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('prod', 13, 'old@example.com', 'old@example.com', now())$$), 'rows:1',
    'a deleted user''s login may be given to a new user');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at, deleted_at)
      values ('prod', 21, 'old@example.com', 'old@example.com', now(), now())$$), 'rows:1',
    'and deleted users may share a login');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('prod', 7, 'ana.bis@example.com', 'ana.bis@example.com', now())$$), 'error:23505',
    'an Odoo user id is one row per instance');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('preprod', 30, 'dan@example.com', 'dan@example.com', now())$$), 'error:23514',
    'the instance is dev, staging or prod');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('prod', 30, 'f3333333-3333-4333-8333-333333333333', 'x', now())$$), 'error:23514',
    'a lowercase uuid is no login (created_by would take it for an auth user id)');

-- ---------------------------------------------------------------------------
-- Links: one person is at most one Odoo user per instance.

select is(
    (select array_agg(odoo_instance order by odoo_instance) from ops.odoo_users
      where auth_user_id = 'f1111111-1111-4111-8111-111111111111'),
    array['dev', 'prod', 'staging'],
    'one person may be an Odoo user in dev, staging and prod');
select is(pg_temp.outcome(
    $$update ops.odoo_users set auth_user_id = 'f1111111-1111-4111-8111-111111111111', link_how = 'automatic'
      where odoo_instance = 'prod' and odoo_user_id = 9$$), 'error:23505',
    'but not twice in one instance');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
      values ('prod', 14, 'dan@example.com', 'dan@example.com', now())$$), 'rows:1',
    'an Odoo user with no Supabase user is stored, linked to no one');
select is(pg_temp.outcome(
    $$update ops.odoo_users set deleted_at = now() where odoo_instance = 'prod' and odoo_user_id = 8$$),
    'error:23514',
    'a deleted Odoo user cannot stay linked');
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at,
                                  auth_user_id, link_how, deleted_at)
      values ('prod', 15, 'eve@example.com', 'eve@example.com', now(),
              'f3333333-3333-4333-8333-333333333333', 'automatic', now())$$), 'error:23514',
    'nor be stored linked');
select is(pg_temp.outcome(
    $$update ops.odoo_users set deleted_at = now(), auth_user_id = null, link_how = null
      where odoo_instance = 'prod' and odoo_user_id = 8$$), 'rows:1',
    'deleted and unlinked at once is allowed');
select is(pg_temp.outcome(
    $$update ops.odoo_users set auth_user_id = null where odoo_instance = 'prod' and odoo_user_id = 8$$),
    'rows:1',
    'unlinking by auth_user_id alone takes its link_how with it');
select is(pg_temp.outcome(
    $$update ops.odoo_users set link_how = 'automatic' where odoo_instance = 'prod' and odoo_user_id = 9$$),
    'error:23514',
    'link_how without auth_user_id is refused');
select is(pg_temp.outcome(
    $$update ops.odoo_users set auth_user_id = 'f3333333-3333-4333-8333-333333333333'
      where odoo_instance = 'prod' and odoo_user_id = 9$$), 'error:23514',
    'auth_user_id without link_how is refused');
select is(pg_temp.outcome(
    $$update ops.odoo_users set link_how = 'manual' where odoo_instance = 'prod' and odoo_user_id = 8$$),
    'error:23514',
    'a link is automatic or an admin''s');
select is(pg_temp.outcome(
    $$update ops.odoo_users set auth_user_id = '00000000-0000-4000-8000-000000000000'
      where odoo_instance = 'prod' and odoo_user_id = 8$$), 'error:23503',
    'a link names an existing Supabase user');

-- ---------------------------------------------------------------------------
-- Decisions: nothing contradictory can be stored.

select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 7, 'f2222222-2222-4222-8222-222222222222', 'link')$$), 'error:23505',
    'two explicit links of one Odoo user are refused');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 9, 'f1111111-1111-4111-8111-111111111111', 'link')$$), 'error:23505',
    'two explicit links of one person in one instance are refused');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('staging', 7, 'f1111111-1111-4111-8111-111111111111', 'link')$$), 'rows:1',
    'one person may be linked explicitly in each instance');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 7, 'f2222222-2222-4222-8222-222222222222', 'unlink')$$), 'rows:1',
    'an unlink of another person next to an Odoo user''s link is allowed');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 9, 'f1111111-1111-4111-8111-111111111111', 'unlink')$$), 'rows:1',
    'and so is a person''s unlink next to their link in the same instance');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 7, 'f1111111-1111-4111-8111-111111111111', 'unlink')$$), 'error:23505',
    'a pair has one decision: its link and its unlink cannot both stand');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 99, 'f2222222-2222-4222-8222-222222222222', 'unlink')$$), 'error:23503',
    'a decision is about a known Odoo user');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 9, 'f2222222-2222-4222-8222-222222222222', 'maybe')$$), 'error:23514',
    'a decision is a link or an unlink');

-- ---------------------------------------------------------------------------
-- Deleting a Supabase user: their Odoo users stay, linked to no one, and
-- their decisions go.

select lives_ok(
    $$delete from auth.users where id = 'f5555555-5555-4555-8555-555555555555'$$,
    'a Supabase user with links and decisions can be deleted');
select results_eq(
    $$select odoo_instance, auth_user_id, link_how from ops.odoo_users
      where odoo_user_id = 10 order by odoo_instance$$,
    $$values ('dev'::text, null::uuid, null::text), ('prod', null, null)$$,
    'their Odoo users stay, linked to no one');
select is(
    (select count(*)::int from ops.odoo_user_decisions
      where auth_user_id = 'f5555555-5555-4555-8555-555555555555'),
    0,
    'their decisions are removed');
select is((select count(*)::int from ops.odoo_user_decisions), 2,
    'and only theirs');

-- ---------------------------------------------------------------------------
-- Through the API. The seed's console query: a user reads their own rows.

select is(
    pg_temp.rows_as(
        $$select odoo_user_id, odoo_login from ops.odoo_users
          where auth_user_id = 'f1111111-1111-4111-8111-111111111111'$$,
        'authenticated', 'f1111111-1111-4111-8111-111111111111'),
    pg_temp.sorted('[{"odoo_user_id": 2, "odoo_login": "admin"},
                     {"odoo_user_id": 7, "odoo_login": "Ana@Example.com"},
                     {"odoo_user_id": 7, "odoo_login": "Ana@Example.com"}]'),
    'the console query gives a user their Odoo user in every instance, logins as stored');
select is(
    pg_temp.rows_as(
        $$select odoo_user_id, odoo_login from ops.odoo_users
          where auth_user_id = 'f1111111-1111-4111-8111-111111111111' and odoo_instance = 'prod'$$,
        'authenticated', 'f1111111-1111-4111-8111-111111111111'),
    '[{"odoo_user_id": 7, "odoo_login": "Ana@Example.com"}]',
    'filtered by instance, it gives one row');
select is(pg_temp.outcome(
    $$select count(*) from ops.odoo_users$$,
    'authenticated', 'f1111111-1111-4111-8111-111111111111'), 'rows:3',
    'a user sees their own rows only, whatever they ask');
select is(pg_temp.outcome(
    $$select count(*) from ops.odoo_users$$,
    'authenticated', 'f3333333-3333-4333-8333-333333333333'), 'rows:0',
    'a stranger reads no row');
select is(pg_temp.outcome(
    $$select count(*) from ops.odoo_users where auth_user_id = 'f1111111-1111-4111-8111-111111111111'$$,
    'authenticated', 'f3333333-3333-4333-8333-333333333333'), 'rows:0',
    'not even by naming someone else');
select is(pg_temp.outcome(
    $$select count(*) from ops.odoo_users$$, 'authenticated', null), 'rows:0',
    'a JWT without a user reads no row');
select is(pg_temp.outcome(
    $$select count(*) from ops.odoo_users$$, 'anon'), 'error:42501',
    'anon reads nothing (no usage on ops)');

-- Writes are not granted to authenticated at all: refused with 42501, not
-- silently matching no row.
select is(pg_temp.outcome(
    $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at, auth_user_id, link_how)
      values ('prod', 16, 'ana.two@example.com', 'ana.two@example.com', now(),
              'f3333333-3333-4333-8333-333333333333', 'automatic')$$,
    'authenticated', 'f3333333-3333-4333-8333-333333333333'), 'error:42501',
    'a user cannot add an Odoo user of their own');
select is(pg_temp.outcome(
    $$update ops.odoo_users set auth_user_id = 'f3333333-3333-4333-8333-333333333333', link_how = 'automatic'
      where odoo_instance = 'prod' and odoo_user_id = 9$$,
    'authenticated', 'f3333333-3333-4333-8333-333333333333'), 'error:42501',
    'a user cannot claim an unlinked Odoo user');
select is(pg_temp.outcome(
    $$update ops.odoo_users set link_how = 'admin'
      where auth_user_id = 'f1111111-1111-4111-8111-111111111111'$$,
    'authenticated', 'f1111111-1111-4111-8111-111111111111'), 'error:42501',
    'a user cannot change their own links');
select is(pg_temp.outcome(
    $$delete from ops.odoo_users where auth_user_id = 'f1111111-1111-4111-8111-111111111111'$$,
    'authenticated', 'f1111111-1111-4111-8111-111111111111'), 'error:42501',
    'a user cannot delete their own rows');
select is(pg_temp.outcome(
    $$select count(*) from ops.odoo_user_decisions
      where auth_user_id = 'f1111111-1111-4111-8111-111111111111'$$,
    'authenticated', 'f1111111-1111-4111-8111-111111111111'), 'error:42501',
    'authenticated cannot read the admins'' decisions, not even about themselves');
select is(pg_temp.outcome(
    $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
      values ('prod', 9, 'f3333333-3333-4333-8333-333333333333', 'link')$$,
    'authenticated', 'f3333333-3333-4333-8333-333333333333'), 'error:42501',
    'nor decide for themselves');
select is(pg_temp.outcome($$select count(*) from ops.odoo_users$$, 'service_role'), 'rows:8',
    'service_role reads every row');

-- ---------------------------------------------------------------------------
-- An admin's decisions outlive the admin's account.

select lives_ok(
    $$delete from auth.users where id = 'f4444444-4444-4444-8444-444444444444'$$,
    'the admin who decided can be deleted');
select is(
    (select count(*)::int from ops.odoo_user_decisions where decided_by is null),
    2,
    'their decisions stay, decided by no one known');

select * from finish();
rollback;
