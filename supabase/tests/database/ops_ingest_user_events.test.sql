-- ops.ingest_event with Odoo's user events: exactly-once effect, each part
-- of a user's state in Odoo's order, deletion ending the link, events that
-- wait for their user or for a login, and what the answer says to decide
-- again.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(77);

insert into auth.users (id, email) values
    ('a1111111-1111-4111-8111-111111111111', 'ana@example.com'),
    ('a2222222-2222-4222-8222-222222222222', 'bob@example.com');

-- A user event of type t about user id of instance inst, with the facts a
-- creation or an update carries. The match keys are lower() here, which is
-- identity_map::match_key for the ASCII the tests use; ingest-core sends
-- Rust's.
create function pg_temp.ev(
    t text, id int, login text default null, email text default null,
    share boolean default false, active boolean default true, inst text default 'prod')
returns jsonb language sql as $$
    select jsonb_build_object('event_type', t, 'odoo_instance', inst, 'odoo_user_id', id)
        || case when t in ('user_created', 'user_updated') then
               jsonb_build_object('login', login, 'login_key', lower(login),
                                  'email', email, 'email_key', lower(email), 'share', share)
           else '{}' end
        || case when t = 'user_created' then jsonb_build_object('active', active) else '{}' end
$$;
create function pg_temp.at(m int) returns timestamptz language sql as $$
    select '2026-11-01 10:00:00+00'::timestamptz + make_interval(mins => m)
$$;
create function pg_temp.send(id text, e jsonb, m int) returns jsonb language sql as $$
    select ops.ingest_event(id, encode(sha256(convert_to(id || e::text, 'UTF8')), 'hex'), e, pg_temp.at(m))
$$;
-- The outcome without the identities to decide again, which some tests
-- look at on their own.
create function pg_temp.result(id text, e jsonb, m int) returns jsonb language sql as $$
    select pg_temp.send(id, e, m) - 'identity'
$$;
create function pg_temp.user_row(id int, inst text default 'prod') returns text language sql as $$
    select concat_ws('|', odoo_login, coalesce(odoo_email, '-'), login_key, coalesce(email_key, '-'),
                     case when active then 'active' else 'archived' end,
                     case when share then 'share' else 'internal' end,
                     case when deleted_at is null then 'live' else 'deleted' end)
      from ops.odoo_users where odoo_instance = inst and odoo_user_id = id
$$;
create function pg_temp.waiting(id int, inst text default 'prod') returns int language sql as $$
    select count(*)::int from ops.ingest_deliveries
     where project_id = 'odoo-user:' || inst || ':' || id
       and deferred_event is not null and resolved_at is null
$$;

-- ---------------------------------------------------------------------------
-- Created, then updated: the latest change of the facts wins.

select is(pg_temp.send('u_c1', pg_temp.ev('user_created', 7, 'Ana@Example.com', 'ANA.M@Example.com'), 0),
          '{"result":"applied","effect":"created",
            "identity":{"odoo_instance":"prod","keys":["ana.m@example.com","ana@example.com"],"auth_user_ids":[]}}',
          'a creation applies, and names the keys to decide again');
select is(pg_temp.user_row(7), 'Ana@Example.com|ANA.M@Example.com|ana@example.com|ana.m@example.com|active|internal|live',
          'the row holds the login and email as Odoo stores them, and their keys');
select is((select odoo_changed_at from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 7),
          pg_temp.at(0), 'odoo_changed_at is the event''s date');
select is((select project_id from ops.ingest_deliveries where webhook_id = 'u_c1'), 'odoo-user:prod:7',
          'the ledger names the user by its key');

select is(pg_temp.send('u_u1', pg_temp.ev('user_updated', 7, 'Ana.Maria@Example.com', null, true), 5),
          '{"result":"applied","effect":"updated",
            "identity":{"odoo_instance":"prod","keys":["ana.m@example.com","ana.maria@example.com","ana@example.com"],"auth_user_ids":[]}}',
          'a later update applies; the old and new keys are to be decided again');
select is(pg_temp.user_row(7), 'Ana.Maria@Example.com|-|ana.maria@example.com|-|active|share|live',
          'the update sets every fact it carries, a null email too');
select is(pg_temp.send('u_u2', pg_temp.ev('user_updated', 7, 'Old@Example.com', 'old@example.com'), 3),
          '{"result":"stale"}', 'an earlier update arriving late is stale, and names no one');
select is(pg_temp.user_row(7), 'Ana.Maria@Example.com|-|ana.maria@example.com|-|active|share|live',
          'a stale update changes nothing');
select is(pg_temp.result('u_u3', pg_temp.ev('user_updated', 7, 'Ana.Maria@Example.com', null, true), 5),
          '{"result":"applied","effect":"updated"}',
          'the same date with a greater webhook id wins the tie');

-- ---------------------------------------------------------------------------
-- Archived and unarchived: their own part, ordered apart from the facts.

select is(pg_temp.result('u_a1', pg_temp.ev('user_archived', 7), 6),
          '{"result":"applied","effect":"archived"}', 'an archive applies');
select is(pg_temp.result('u_a2', pg_temp.ev('user_unarchived', 7), 4),
          '{"result":"stale"}', 'an unarchive older than the archive is stale');
select is(pg_temp.user_row(7), 'Ana.Maria@Example.com|-|ana.maria@example.com|-|archived|share|live',
          'the user stays archived');
select is(pg_temp.result('u_u4', pg_temp.ev('user_updated', 7, 'ana.maria@example.com', 'ana@example.com'), 10),
          '{"result":"applied","effect":"updated"}', 'an update after the archive applies');
select is(pg_temp.result('u_a3', pg_temp.ev('user_unarchived', 7), 8),
          '{"result":"applied","effect":"unarchived"}',
          'an unarchive older than the last update but newer than the archive still applies');
select is(pg_temp.user_row(7), 'ana.maria@example.com|ana@example.com|ana.maria@example.com|ana@example.com|active|internal|live',
          'each part holds its own latest change');
select is(pg_temp.result('u_u5', pg_temp.ev('user_updated', 7, 'Late@Example.com', null), 9),
          '{"result":"stale"}', 'an update older than the last one is stale even after a later archive');
select is(pg_temp.result('u_c2', pg_temp.ev('user_created', 7, 'Ana@Example.com', null, false, false), 0),
          '{"result":"stale"}', 'a creation delivered again under another id is stale in both its parts');
select is((select odoo_changed_at from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 7),
          pg_temp.at(10), 'odoo_changed_at is the latest change of any part');

-- A user created archived stays so until a later unarchive.
select is(pg_temp.result('u_ca', pg_temp.ev('user_created', 8, 'portal@example.com', null, true, false), 0),
          '{"result":"applied","effect":"created"}', 'a user may be created archived');
select is(pg_temp.result('u_c0b', pg_temp.ev('user_unarchived', 8), 0),
          '{"result":"stale"}'::jsonb,
          'an unarchive dated with the creation but with a smaller webhook id is stale');
select is(pg_temp.user_row(8), 'portal@example.com|-|portal@example.com|-|archived|share|live',
          'the user created archived is archived');

-- ---------------------------------------------------------------------------
-- The identities to decide again: the stored link before the change.

update ops.odoo_users set auth_user_id = 'a1111111-1111-4111-8111-111111111111', link_how = 'automatic'
 where odoo_instance = 'prod' and odoo_user_id = 7;
select is(pg_temp.send('u_u6', pg_temp.ev('user_updated', 7, 'ana.maria@example.com', 'Ana.Maria@Example.com'), 11) -> 'identity',
          '{"odoo_instance":"prod","keys":["ana.maria@example.com","ana@example.com"],
            "auth_user_ids":["a1111111-1111-4111-8111-111111111111"]}',
          'an update names the linked person and the keys, without repeats');
select is(pg_temp.send('u_a4', pg_temp.ev('user_archived', 7), 12) -> 'identity',
          '{"odoo_instance":"prod","keys":["ana.maria@example.com"],
            "auth_user_ids":["a1111111-1111-4111-8111-111111111111"]}',
          'an archive names the user''s keys and its linked person');
select is((select auth_user_id::text || '/' || link_how from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 7),
          'a1111111-1111-4111-8111-111111111111/automatic', 'an archive keeps the link (identity-map, rule 4)');

-- ---------------------------------------------------------------------------
-- Deleted: final, and the link ends.

select is(pg_temp.send('u_d1', pg_temp.ev('user_deleted', 7), 13),
          '{"result":"applied","effect":"deleted",
            "identity":{"odoo_instance":"prod","keys":["ana.maria@example.com"],
                        "auth_user_ids":["a1111111-1111-4111-8111-111111111111"]}}',
          'a deletion applies and names the person whose link it ended');
select results_eq(
    $$select deleted_at, auth_user_id, link_how from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 7$$,
    $$values (pg_temp.at(13), null::uuid, null::text)$$,
    'the row stays, marked deleted, linked to no one');
select is(pg_temp.result('u_d2', pg_temp.ev('user_updated', 7, 'Back@Example.com', null), 20),
          '{"result":"stale"}', 'an update after the deletion is stale');
select is(pg_temp.result('u_d3', pg_temp.ev('user_unarchived', 7), 21),
          '{"result":"stale"}', 'an unarchive after the deletion is stale');
select is(pg_temp.result('u_d4', pg_temp.ev('user_created', 7, 'Back@Example.com', null), 22),
          '{"result":"stale"}', 'a newer creation of a deleted id is stale: Odoo never reuses an id');
select is(pg_temp.result('u_d5', pg_temp.ev('user_deleted', 7), 23),
          '{"result":"stale"}', 'a second deletion is stale');
select is(pg_temp.user_row(7), 'ana.maria@example.com|Ana.Maria@Example.com|ana.maria@example.com|ana.maria@example.com|archived|internal|deleted',
          'nothing changes a deleted user');
select is(pg_temp.result('u_d6', pg_temp.ev('user_created', 9, 'ana.maria@example.com', null), 24),
          '{"result":"applied","effect":"created"}', 'a deleted user''s login may be given to a new user');

-- ---------------------------------------------------------------------------
-- Events before their user: deferred, applied with the creation.

select is(pg_temp.send('u_w1', pg_temp.ev('user_updated', 10, 'later@example.com', 'later@example.com', true), 2),
          '{"result":"deferred"}', 'an update of an unknown user is deferred');
select is(pg_temp.send('u_w2', pg_temp.ev('user_archived', 10), 3),
          '{"result":"deferred"}', 'an archive of an unknown user is deferred');
select is((select count(*)::int from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 10), 0,
          'a deferred event creates nothing');
select is(pg_temp.send('u_w3', pg_temp.ev('user_created', 10, 'first@example.com', null), 1),
          '{"result":"applied","effect":"created",
            "identity":{"odoo_instance":"prod","keys":["later@example.com"],"auth_user_ids":[]}}',
          'the creation applies with the newest facts waiting, and names their keys');
select is(pg_temp.user_row(10), 'later@example.com|later@example.com|later@example.com|later@example.com|archived|share|live',
          'the deferred update and archive took effect with the creation');
select is((select facts_by || '/' || activity_by from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 10),
          'u_w1/u_w2', 'each part''s version is the event that set it');
select is(pg_temp.waiting(10), 0, 'nothing is left waiting once the user exists');
select is(pg_temp.send('u_w2', pg_temp.ev('user_archived', 10), 3),
          '{"result":"deferred","replayed":true}', 'a redelivered deferred event replays its outcome');
select is(pg_temp.send('u_w4', pg_temp.ev('user_deleted', 11), 5),
          '{"result":"deferred"}', 'a deletion of an unknown user is deferred');
select is(pg_temp.result('u_w5', pg_temp.ev('user_created', 11, 'gone@example.com', null), 4),
          '{"result":"applied","effect":"created"}', 'its creation applies');
select is(pg_temp.user_row(11), 'gone@example.com|-|gone@example.com|-|active|internal|deleted',
          'and the user is deleted at once');

-- ---------------------------------------------------------------------------
-- A login moved from Y to X, Y's rename late: X waits, nothing is lost.

select is(pg_temp.result('u_y1', pg_temp.ev('user_created', 21, 'shared@example.com', null), 0),
          '{"result":"applied","effect":"created"}', 'Y is created with the login');
select is(pg_temp.send('u_x1', pg_temp.ev('user_created', 22, 'shared@example.com', null), 6),
          '{"result":"deferred"}', 'X created with the login Y still holds here is deferred, not refused');
select is(pg_temp.user_row(22), null, 'X is not created yet');
select is(pg_temp.send('u_y2', pg_temp.ev('user_updated', 21, 'y2@example.com', null), 5),
          '{"result":"applied","effect":"updated",
            "identity":{"odoo_instance":"prod","keys":["shared@example.com","y2@example.com"],"auth_user_ids":[]}}',
          'Y''s late rename applies, and names the keys of both');
select is(pg_temp.user_row(22), 'shared@example.com|-|shared@example.com|-|active|internal|live',
          'the rename freed the login, and X took it');
select is(pg_temp.waiting(22), 0, 'X''s creation is no longer waiting');

-- An update waits the same way; Y's deletion frees the login too.
select is(pg_temp.result('u_z1', pg_temp.ev('user_created', 23, 'z@example.com', null), 0),
          '{"result":"applied","effect":"created"}', 'Z is created');
select is(pg_temp.send('u_z2', pg_temp.ev('user_updated', 23, 'y2@example.com', null), 9),
          '{"result":"deferred"}', 'Z renamed to the login Y still holds here is deferred');
select is(pg_temp.user_row(23), 'z@example.com|-|z@example.com|-|active|internal|live', 'Z keeps its login meanwhile');
select is(pg_temp.result('u_y3', pg_temp.ev('user_deleted', 21), 10),
          '{"result":"applied","effect":"deleted"}', 'Y''s deletion applies');
select is(pg_temp.user_row(23), 'y2@example.com|-|y2@example.com|-|active|internal|live',
          'the deletion freed the login, and Z''s rename applied');
select is(pg_temp.result('u_y4', pg_temp.ev('user_updated', 21, 'y3@example.com', null), 8),
          '{"result":"stale"}', 'Y''s rename arriving after its deletion is stale');

-- Y's claim is the newer one: X's creation is outdated, and X's own later
-- rename lets it in.
select is(pg_temp.result('u_q1', pg_temp.ev('user_created', 32, 'old@example.com', null), 3),
          '{"result":"applied","effect":"created"}', 'Y2 is created with a login X had before');
select is(pg_temp.send('u_q2', pg_temp.ev('user_created', 31, 'old@example.com', null, false, false), 0),
          '{"result":"deferred"}', 'X''s older creation with that login is deferred');
select is(pg_temp.send('u_q3', pg_temp.ev('user_updated', 31, 'new@example.com', null), 2) - 'identity',
          '{"result":"deferred"}', 'X''s rename, before X exists here, is deferred');
select is(pg_temp.user_row(31), 'new@example.com|-|new@example.com|-|archived|internal|live',
          'X is created with the rename''s facts and the creation''s activity');
select is(pg_temp.waiting(31), 0, 'nothing about X is left waiting');

-- A deleted user holds no login: X deleted before Y took its login.
select is(pg_temp.result('u_r1', pg_temp.ev('user_created', 42, 'dup@example.com', null), 2),
          '{"result":"applied","effect":"created"}', 'Y3 takes a login');
select is(pg_temp.send('u_r2', pg_temp.ev('user_deleted', 41), 1),
          '{"result":"deferred"}', 'X''s deletion, before X exists here, is deferred');
select is(pg_temp.result('u_r3', pg_temp.ev('user_created', 41, 'dup@example.com', null), 0),
          '{"result":"applied","effect":"created"}', 'X''s creation applies although Y3 holds the login');
select is(pg_temp.user_row(41), 'dup@example.com|-|dup@example.com|-|active|internal|deleted',
          'X is created deleted, and holds no login');

-- ---------------------------------------------------------------------------
-- Instances are apart: the same login and id in two are two users.

select is(pg_temp.result('u_i1', pg_temp.ev('user_created', 50, 'admin', null, false, true, 'dev'), 0),
          '{"result":"applied","effect":"created"}', 'admin of dev');
select is(pg_temp.result('u_i2', pg_temp.ev('user_created', 50, 'admin', null, false, true, 'staging'), 0),
          '{"result":"applied","effect":"created"}', 'admin of staging, same id, is another user');
select is(pg_temp.result('u_i3', pg_temp.ev('user_archived', 50, inst => 'dev'), 1),
          '{"result":"applied","effect":"archived"}', 'an archive in dev');
select results_eq(
    $$select odoo_instance, active from ops.odoo_users where odoo_user_id = 50 order by odoo_instance$$,
    $$values ('dev'::text, false), ('staging'::text, true)$$,
    'each instance''s user has its own state');

-- ---------------------------------------------------------------------------
-- Exactly once: a redelivery replays the outcome, a reused id conflicts.

select is(pg_temp.send('u_c1', pg_temp.ev('user_created', 7, 'Ana@Example.com', 'ANA.M@Example.com'), 0),
          '{"result":"applied","effect":"created","replayed":true,
            "identity":{"odoo_instance":"prod","keys":["ana.m@example.com","ana@example.com"],"auth_user_ids":[]}}',
          'a redelivery is a replay, with the same identities');
select is((select count(*)::int from ops.ingest_deliveries where webhook_id = 'u_c1'), 1,
          'a redelivery adds no ledger row');
select is(ops.ingest_event('u_c1', repeat('b', 64), pg_temp.ev('user_updated', 9, 'Evil', null), pg_temp.at(30)),
          '{"result":"conflict"}', 'a reused id with another body is a conflict');
select is(pg_temp.user_row(9), 'ana.maria@example.com|-|ana.maria@example.com|-|active|internal|live',
          'a conflict changes nothing');

-- ---------------------------------------------------------------------------
-- Convergence: every order of the same five deliveries ends in one state.

create temp table deliveries (n int, id text, type text, m int, login text);
insert into deliveries values
    (1, 'c',  'user_created',    0, 'first'),
    (2, 'u1', 'user_updated',    1, 'second'),
    (3, 'a',  'user_archived',   3, null),
    (4, 'r',  'user_unarchived', 4, null),
    (5, 'u2', 'user_updated',    5, 'third');
create temp table orders as
    select row_number() over () as k, array[a, b, c, d, e] as o
      from generate_series(1, 5) a, generate_series(1, 5) b, generate_series(1, 5) c,
           generate_series(1, 5) d, generate_series(1, 5) e
     where cardinality(array(select distinct x from unnest(array[a, b, c, d, e]) x)) = 5;
select lives_ok($$
    select pg_temp.send('uconv-' || k || '-' || d.id,
                        pg_temp.ev(d.type, (1000 + k)::int, d.login || '-' || k || '@example.com', null), d.m)
      from orders, unnest(o) with ordinality as step(n, i)
      join deliveries d using (n)
     order by k, i
$$, 'all 120 orders are delivered');
select results_eq(
    $$select distinct split_part(odoo_login, '-', 1), active from ops.odoo_users where odoo_user_id between 1001 and 1120$$,
    $$values ('third'::text, true)$$,
    'every order converges on the latest login and activity');
select is((select count(*)::int from ops.ingest_deliveries where webhook_id like 'uconv-%' and deferred_event is not null and resolved_at is null),
          0, 'no deferred event is left waiting once its user exists');

-- ---------------------------------------------------------------------------
-- Closed by default.

set local role authenticated;
select throws_ok(
    $$select ops.apply_user_event('msg_x', '{"event_type":"user_deleted","odoo_instance":"prod","odoo_user_id":1}', now())$$,
    '42501', null, 'authenticated cannot call ops.apply_user_event');
select throws_ok(
    $$select ops.apply_deferred_user_events('prod', '{}', '{}')$$,
    '42501', null, 'authenticated cannot call ops.apply_deferred_user_events');
reset role;

select * from finish();
rollback;
