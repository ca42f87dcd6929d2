-- The users half of the reconcile (20261202060000_reconcile_users.sql),
-- against the stack's Odoo-shaped database (xtask/sql/odoo_fixture.sql)
-- through the wrapper the stack configured as instance `prod`: the read
-- gives Odoo's users with their partners' emails and the control plane's
-- rows of the same range; the apply goes through the ordering rule of
-- ops-ingest; neither is reachable through the API.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(37);

insert into auth.users (id, email) values
    ('b1111111-1111-4111-8111-111111111111', 'bruno@example.com');

-- A change as reconcile_plan::UserChange serializes it. The match keys are
-- lower() here, which is identity_map::match_key for the ASCII used.
create function pg_temp.change(
    t text, id int, at timestamptz, login text default null, email text default null,
    share boolean default false, active boolean default true, inst text default 'prod')
returns jsonb language sql as $$
    select jsonb_build_object(
        'change_id', '~reconcile:2026-11-26T12:00:00.000000Z:' || t || ':' || inst || ':' || id,
        'occurred_at', at,
        'event', jsonb_build_object('event_type', t, 'odoo_instance', inst, 'odoo_user_id', id,
                                    'occurred_at', at)
            || case when t in ('user_created', 'user_updated') then
                   jsonb_build_object('login', login, 'login_key', lower(login),
                                      'email', email, 'email_key', lower(email), 'share', share)
               else '{}' end
            || case when t = 'user_created' then jsonb_build_object('active', active) else '{}' end)
$$;
create function pg_temp.user_row(id int, inst text default 'prod') returns text language sql as $$
    select concat_ws('|', odoo_login, coalesce(odoo_email, '-'), coalesce(email_key, '-'),
                     case when active then 'active' else 'archived' end,
                     case when share then 'share' else 'internal' end,
                     case when deleted_at is null then 'live' else 'deleted' end)
      from ops.odoo_users where odoo_instance = inst and odoo_user_id = id
$$;
create function pg_temp.counts(r text) returns jsonb language sql as $$
    select r::jsonb - 'identity'
$$;

-- ---------------------------------------------------------------------------
-- The read, through the wrapper.

select is(ops.reconcile_read_users('prod', 0, 100, null)::jsonb -> 'odoo_users' -> 6,
    '{"id": 7, "login": "Ana@Example.com", "active": true, "share": false,
      "write_date": "2026-11-18T11:11:11.111111", "partner_id": 8, "email": "ana@example.com",
      "partner_write_date": "2026-11-18T11:11:11.111111"}'::jsonb,
    'a user comes with its partner''s email and write_date, Odoo''s dates as naive ISO text');
select is((select jsonb_agg(jsonb_build_array(u -> 'id', u -> 'login', u -> 'email', u -> 'active', u -> 'share'))
             from jsonb_array_elements(ops.reconcile_read_users('prod', 0, 100, null)::jsonb -> 'odoo_users') u),
    '[[1, "__system__", "odoobot@example.com", false, false], [2, "admin", "admin@example.com", true, false],
      [3, "public", null, false, true], [4, "portaltemplate", null, false, true],
      [5, "paula@example.com", "Paula@Example.com", true, true], [6, "bruno", "bruno@example.com", false, false],
      [7, "Ana@Example.com", "ana@example.com", true, false]]'::jsonb,
    'a full read gives every user, archived, portal and system ones included, in id order');
select is(ops.reconcile_read_users('prod', 0, 100, null)::jsonb -> 'range',
    '{"after_id": 0, "through_id": null}', 'a short page has no end: the pass''s last');
select is((select jsonb_agg(u -> 'id') from jsonb_array_elements(
              ops.reconcile_read_users('prod', 0, 100, '2026-11-02 16:30:00.987654+00')::jsonb -> 'odoo_users') u),
    '[6, 7]', 'incremental: the users written at or after the window''s start');
select is((select jsonb_agg(u -> 'id') from jsonb_array_elements(
              ops.reconcile_read_users('prod', 0, 100, '2026-11-02 17:30:00.987654+01')::jsonb -> 'odoo_users') u),
    '[6, 7]', 'the window''s start is compared in UTC, whatever its offset');
select is(ops.reconcile_read_users('prod', 0, 100, '2026-12-01 00:00:00+00')::jsonb -> 'odoo_users',
    '[]', 'nothing written after the window: an empty page');

-- The control plane's rows of the same instance and range.
insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at) values
    ('prod', 2, 'admin', 'admin', '2026-10-01 00:00:00+00'),
    ('prod', 900, 'gone', 'gone', '2026-10-01 00:00:00+00'),
    ('dev', 3, 'other-instance', 'other-instance', '2026-10-01 00:00:00+00');
select is(ops.reconcile_read_users('prod', 0, 3, null)::jsonb -> 'range',
    '{"after_id": 0, "through_id": 3}', 'a full page ends at its last id');
select is((select jsonb_agg(u -> 'odoo_user_id') from jsonb_array_elements(
              ops.reconcile_read_users('prod', 0, 3, null)::jsonb -> 'users') u),
    '[2]', 'the control plane''s rows up to that id, of that instance only');
select is((select jsonb_agg(u -> 'odoo_user_id') from jsonb_array_elements(
              ops.reconcile_read_users('prod', 3, 100, null)::jsonb -> 'users') u),
    '[900]', 'the last page has every row after it: what Odoo no longer has shows');
select is(ops.reconcile_read_users('prod', 0, 3, null)::jsonb -> 'users' -> 0,
    '{"odoo_user_id": 2, "odoo_login": "admin", "odoo_email": null, "share": false, "active": true,
      "deleted_at": null, "odoo_changed_at": "2026-10-01T00:00:00+00:00", "facts_at": null,
      "facts_by": null, "activity_at": null, "activity_by": null}'::jsonb,
    'a control-plane row carries its facts, its activity and their versions');
delete from ops.odoo_users;

select throws_ok($$select ops.reconcile_read_users('qa', 0, 100, null)$$, '22023', null,
    'an unknown instance is refused');
select throws_ok($$select ops.reconcile_read_users('prod', 0, 0, null)$$, '22023', null,
    'so is an empty page');

-- A user whose partner alone changed (an email change writes only
-- res_partner) is in the window. The fixture's users and partners were
-- written together, so this reads a stand-in for another instance's
-- foreign tables, plain tables of the same columns.
create schema odoo_staging;
create table odoo_staging.res_users (
    id integer, login varchar, partner_id integer, active boolean, share boolean,
    write_date timestamp);
create table odoo_staging.res_partner (id integer, email varchar, write_date timestamp);
insert into odoo_staging.res_partner values
    (10, 'new@example.com', '2026-11-20 09:00:00'), (11, 'old@example.com', '2026-01-01 00:00:00');
insert into odoo_staging.res_users values
    (1, 'email-changed', 10, true, false, '2026-01-01 00:00:00'),
    (2, 'untouched', 11, true, false, '2026-01-01 00:00:00'),
    (3, 'no-partner', 99, true, false, '2026-11-20 09:00:00');
select is((select jsonb_agg(jsonb_build_array(u -> 'id', u -> 'partner_id', u -> 'email')) from jsonb_array_elements(
              ops.reconcile_read_users('staging', 0, 100, '2026-11-01 00:00:00+00')::jsonb -> 'odoo_users') u),
    '[[1, 10, "new@example.com"], [3, null, null]]',
    'incremental: a user whose partner was written in the window is read, and a missing partner reads as null');

-- ---------------------------------------------------------------------------
-- The apply: the read's users created as the planner would create them.

select is(pg_temp.counts(ops.reconcile_apply_users('prod', (
    select jsonb_agg(pg_temp.change('user_created', (u ->> 'id')::int, (u ->> 'write_date' || 'Z')::timestamptz,
                                    u ->> 'login', u ->> 'email', (u ->> 'share')::boolean,
                                    (u ->> 'active')::boolean) order by (u ->> 'id')::int)
      from jsonb_array_elements(ops.reconcile_read_users('prod', 0, 100, null)::jsonb -> 'odoo_users') u))),
    '{"applied": 7, "stale": 0, "deferred": 0, "effects": {"created": 7}}',
    'every user of the read is created');
select is((select string_agg(pg_temp.user_row(odoo_user_id), ', ' order by odoo_user_id)
             from ops.odoo_users where odoo_instance = 'prod'),
    '__system__|odoobot@example.com|odoobot@example.com|archived|internal|live, '
    'admin|admin@example.com|admin@example.com|active|internal|live, '
    'public|-|-|archived|share|live, portaltemplate|-|-|archived|share|live, '
    'paula@example.com|Paula@Example.com|paula@example.com|active|share|live, '
    'bruno|bruno@example.com|bruno@example.com|archived|internal|live, '
    'Ana@Example.com|ana@example.com|ana@example.com|active|internal|live',
    'as Odoo holds them: logins and emails as stored, archived, portal and public users included');
select is((select (facts_at, facts_by, activity_at)::text from ops.odoo_users
            where odoo_instance = 'prod' and odoo_user_id = 7),
    '("2026-11-18 11:11:11.111111+00",~reconcile:2026-11-26T12:00:00.000000Z:user_created:prod:7,"2026-11-18 11:11:11.111111+00")',
    'dated by Odoo''s write_date, recorded under the change''s id');

-- An email change: dated by the partner's write_date, later than the user's.
select is(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_updated', 7, '2026-11-20 09:30:00.5+00', 'Ana@Example.com', 'Ana.Garcia@Example.com')))::jsonb,
    '{"applied": 1, "stale": 0, "deferred": 0, "effects": {"updated": 1},
      "identity": {"odoo_instance": "prod", "keys": ["ana.garcia@example.com", "ana@example.com"], "auth_user_ids": []}}',
    'an email change applies, and names the old and new keys to decide again');
select is((select (pg_temp.user_row(7), facts_at, activity_at)::text from ops.odoo_users
            where odoo_instance = 'prod' and odoo_user_id = 7),
    '(Ana@Example.com|Ana.Garcia@Example.com|ana.garcia@example.com|active|internal|live,"2026-11-20 09:30:00.5+00","2026-11-18 11:11:11.111111+00")',
    'the facts take the partner''s date; the activity keeps the user''s');

-- A delivery newer than a reconcile's change wins; an older one does not.
select is(ops.ingest_event('msg_newer', repeat('1', 64),
    '{"event_type": "user_updated", "odoo_instance": "prod", "odoo_user_id": 7, "login": "Ana@Example.com",
      "login_key": "ana@example.com", "email": "ana.newest@example.com", "email_key": "ana.newest@example.com",
      "share": false, "occurred_at": "2026-11-21T00:00:00Z"}', '2026-11-21 00:00:00+00') ->> 'result',
    'applied', 'a delivery newer than the reconcile applies');
select is(pg_temp.counts(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_updated', 7, '2026-11-20 23:59:59.999999+00', 'Ana@Example.com', 'Ana.Garcia@Example.com')))),
    '{"applied": 0, "stale": 1, "deferred": 0, "effects": {}}',
    'a change older than an applied event is stale');
select is(pg_temp.user_row(7), 'Ana@Example.com|ana.newest@example.com|ana.newest@example.com|active|internal|live',
    '...and changes nothing');
select is((ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_updated', 7, '2026-11-20 23:59:59.999999+00', 'Ana@Example.com', 'Ana.Garcia@Example.com')))::jsonb -> 'identity'),
    '{"odoo_instance": "prod", "keys": [], "auth_user_ids": []}', 'a stale change names no one');

-- Archive, unarchive, delete.
update ops.odoo_users set auth_user_id = 'b1111111-1111-4111-8111-111111111111', link_how = 'automatic'
 where odoo_instance = 'prod' and odoo_user_id = 6;
select is(pg_temp.counts(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_unarchived', 6, '2026-11-22 00:00:00+00'),
    pg_temp.change('user_archived', 5, '2026-11-22 00:00:00+00')))),
    '{"applied": 2, "stale": 0, "deferred": 0, "effects": {"archived": 1, "unarchived": 1}}',
    'archives and unarchives apply');
select is(pg_temp.user_row(6) || ' ' || pg_temp.user_row(5),
    'bruno|bruno@example.com|bruno@example.com|active|internal|live paula@example.com|Paula@Example.com|paula@example.com|archived|share|live',
    'each user''s activity as Odoo has it');
select is(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_deleted', 6, '2026-11-26 12:00:00+00')))::jsonb,
    '{"applied": 1, "stale": 0, "deferred": 0, "effects": {"deleted": 1},
      "identity": {"odoo_instance": "prod", "keys": ["bruno", "bruno@example.com"],
                   "auth_user_ids": ["b1111111-1111-4111-8111-111111111111"]}}',
    'a deletion applies and names the link it ended');
select is((select (deleted_at, auth_user_id is null, link_how is null)::text from ops.odoo_users
            where odoo_instance = 'prod' and odoo_user_id = 6),
    '("2026-11-26 12:00:00+00",t,t)', 'the row stays, marked deleted, linked to no one');
select is(pg_temp.counts(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_created', 6, '2026-11-26 12:30:00+00', 'bruno', 'bruno@example.com')))),
    '{"applied": 0, "stale": 1, "deferred": 0, "effects": {}}', 'deletion is final, even for a creation');

-- A creation applies what was waiting for the user, as a delivery does.
select is(ops.ingest_event('msg_waiting', repeat('2', 64),
    '{"event_type": "user_archived", "odoo_instance": "prod", "odoo_user_id": 8, "occurred_at": "2026-11-23T00:00:00Z"}',
    '2026-11-23 00:00:00+00') ->> 'result', 'deferred', 'an archive before its user waits');
select is(pg_temp.counts(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_created', 8, '2026-11-22 00:00:00+00', 'Carla@Example.com', null)))),
    '{"applied": 1, "stale": 0, "deferred": 0, "effects": {"created": 1}}', 'the reconcile creates the user');
select is((select (pg_temp.user_row(8), activity_by)::text from ops.odoo_users
            where odoo_instance = 'prod' and odoo_user_id = 8),
    '(Carla@Example.com|-|-|archived|internal|live,msg_waiting)',
    '...and the archive that was waiting for it applied');

-- Logins: a chain of renames lands in any order; a swap waits.
select is(pg_temp.counts(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_updated', 2, '2026-11-24 00:00:00+00', 'Ana@Example.com', 'admin@example.com'),
    pg_temp.change('user_updated', 7, '2026-11-24 00:00:00+00', 'ana.garcia', 'ana@example.com')))),
    '{"applied": 2, "stale": 0, "deferred": 0, "effects": {"updated": 2}}',
    'a login taken from a user renamed later in the same changes applies after it');
select is(pg_temp.user_row(2) || ' ' || pg_temp.user_row(7),
    'Ana@Example.com|admin@example.com|admin@example.com|active|internal|live ana.garcia|ana@example.com|ana@example.com|active|internal|live',
    'both renames landed');
select is(pg_temp.counts(ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_updated', 2, '2026-11-25 00:00:00+00', 'ana.garcia', 'admin@example.com'),
    pg_temp.change('user_updated', 7, '2026-11-25 00:00:00+00', 'Ana@Example.com', 'ana@example.com')))),
    '{"applied": 0, "stale": 0, "deferred": 2, "effects": {}}',
    'two users trading logins wait: neither login is free');
select is(pg_temp.user_row(2) || ' ' || pg_temp.user_row(7),
    'Ana@Example.com|admin@example.com|admin@example.com|active|internal|live ana.garcia|ana@example.com|ana@example.com|active|internal|live',
    '...and nothing changed');

-- Refusals, before anything is applied.
select throws_ok($$select ops.reconcile_apply_users('prod', jsonb_build_array(
    pg_temp.change('user_archived', 2, '2026-11-26 00:00:00+00'),
    pg_temp.change('user_archived', 3, '2026-11-26 00:00:00+00', inst => 'dev')))$$, '22023', null,
    'a change about another instance refuses the whole batch');
select is(pg_temp.user_row(2), 'Ana@Example.com|admin@example.com|admin@example.com|active|internal|live',
    '...none of which applied');

select ok(not has_function_privilege('anon', 'ops.reconcile_read_users(text, bigint, integer, timestamptz, bigint[])', 'execute')
          and not has_function_privilege('authenticated', 'ops.reconcile_read_users(text, bigint, integer, timestamptz, bigint[])', 'execute')
          and not has_function_privilege('anon', 'ops.reconcile_apply_users(text, jsonb)', 'execute')
          and not has_function_privilege('authenticated', 'ops.reconcile_apply_users(text, jsonb)', 'execute')
          and has_function_privilege('service_role', 'ops.reconcile_apply_users(text, jsonb)', 'execute'),
          'the API roles cannot run the users reconcile; service_role can');

select * from finish();
rollback;
