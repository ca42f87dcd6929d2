-- ops.ingest_event: exactly-once effect, and convergence on Odoo's latest
-- state whatever order the deliveries arrive in.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(30);

select has_table('ops', 'projects', 'ops.projects exists');
select has_table('ops', 'ingest_deliveries', 'ops.ingest_deliveries exists');
select ok((select relrowsecurity from pg_class where oid = 'ops.projects'::regclass),
          'RLS is enabled on ops.projects');
select ok((select relrowsecurity from pg_class where oid = 'ops.ingest_deliveries'::regclass),
          'RLS is enabled on ops.ingest_deliveries');

-- An event for project p of type t, dated minute m of the test hour.
create function pg_temp.ev(p text, t text, m int, name text default null, version text default '19.0')
returns jsonb language sql as $$
    select jsonb_strip_nulls(jsonb_build_object(
        'event_type', t, 'project_id', p,
        'name', case when t in ('project_created', 'project_updated') then coalesce(name, 'Alpha') end,
        'odoo_version', case when t in ('project_created', 'project_updated') then version end))
$$;
create function pg_temp.at(m int) returns timestamptz language sql as $$
    select '2026-11-01 10:00:00+00'::timestamptz + make_interval(mins => m)
$$;
create function pg_temp.send(id text, e jsonb, m int) returns jsonb language sql as $$
    select ops.ingest_event(id, encode(sha256(convert_to(id || e::text, 'UTF8')), 'hex'), e, pg_temp.at(m))
$$;

-- The seed's event: applied, and the row holds its values.
select is(pg_temp.send('msg_t1', pg_temp.ev('odoo-42', 'project_created', 0), 0),
          '{"result":"applied","effect":"created"}', 'the seed event is applied');
select results_eq(
    $$select project_id, name, odoo_version, active, deleted_at from ops.projects where project_id = 'odoo-42'$$,
    $$values ('odoo-42'::text, 'Alpha'::text, '19.0'::text, true, null::timestamptz)$$,
    'the project row holds the event''s values');

-- Exactly once: a redelivery replays the outcome, a reused id conflicts.
select is(pg_temp.send('msg_t1', pg_temp.ev('odoo-42', 'project_created', 0), 0),
          '{"result":"applied","effect":"created","replayed":true}', 'a redelivery is a replay');
select is((select count(*)::int from ops.ingest_deliveries where webhook_id = 'msg_t1'), 1,
          'a redelivery adds no ledger row');
select is(ops.ingest_event('msg_t1', repeat('b', 64), pg_temp.ev('odoo-42', 'project_updated', 9, 'Evil'), pg_temp.at(9)),
          '{"result":"conflict"}', 'a reused id with another body is a conflict');
select is((select name from ops.projects where project_id = 'odoo-42'), 'Alpha', 'a conflict changes nothing');

-- Later changes win, earlier ones are stale.
select is(pg_temp.send('msg_t2', pg_temp.ev('odoo-42', 'project_updated', 5, 'Alpha 2', '18.0'), 5),
          '{"result":"applied","effect":"updated"}', 'a later update applies');
select is(pg_temp.send('msg_t3', pg_temp.ev('odoo-42', 'project_updated', 3, 'Alpha old'), 3),
          '{"result":"stale"}', 'an earlier update arriving late is stale');
select is((select name || '/' || odoo_version from ops.projects where project_id = 'odoo-42'), 'Alpha 2/18.0',
          'a stale update changes nothing');
select is(pg_temp.send('msg_t4', pg_temp.ev('odoo-42', 'project_archived', 6), 6),
          '{"result":"applied","effect":"archived"}', 'an archive applies');
select is(pg_temp.send('msg_t5', pg_temp.ev('odoo-42', 'project_unarchived', 4), 4),
          '{"result":"stale"}', 'an unarchive older than the archive is stale');
select is((select active from ops.projects where project_id = 'odoo-42'), false, 'the project stays archived');
select is(pg_temp.send('msg_t6', pg_temp.ev('odoo-42', 'project_deleted', 7), 7),
          '{"result":"applied","effect":"deleted"}', 'a delete applies');
select is(pg_temp.send('msg_t7', pg_temp.ev('odoo-42', 'project_updated', 8, 'After'), 8),
          '{"result":"stale"}', 'nothing changes a deleted project');
select is((select deleted_at from ops.projects where project_id = 'odoo-42'), pg_temp.at(7),
          'the deleted project keeps its row, marked deleted');

-- An archive before the project exists waits for it.
select is(pg_temp.send('msg_d1', pg_temp.ev('odoo-43', 'project_archived', 2), 2),
          '{"result":"deferred"}', 'an archive of an unknown project is deferred');
select is((select count(*)::int from ops.projects where project_id = 'odoo-43'), 0,
          'a deferred event creates nothing');
select is(pg_temp.send('msg_d2', pg_temp.ev('odoo-43', 'project_created', 1), 1),
          '{"result":"applied","effect":"created"}', 'the creation applies');
select is((select active from ops.projects where project_id = 'odoo-43'), false,
          'the deferred archive took effect with the creation');
select is(pg_temp.send('msg_d1', pg_temp.ev('odoo-43', 'project_archived', 2), 2),
          '{"result":"deferred","replayed":true}', 'a redelivered deferred event replays its outcome');

-- Convergence: every order of the same five deliveries ends in one state,
-- the one Odoo has after the latest change.
create temp table deliveries (n int, id text, type text, m int, name text, version text);
insert into deliveries values
    (1, 'c', 'project_created',    0, 'Alpha', '19.0'),
    (2, 'u1', 'project_updated',   1, 'Old',   '19.0'),
    (3, 'a', 'project_archived',   3, null,    null),
    (4, 'r', 'project_unarchived', 4, null,    null),
    (5, 'u2', 'project_updated',   5, 'Beta',  '18.0');
create temp table orders as
    select row_number() over () as k, array[a, b, c, d, e] as o
      from generate_series(1, 5) a, generate_series(1, 5) b, generate_series(1, 5) c,
           generate_series(1, 5) d, generate_series(1, 5) e
     where cardinality(array(select distinct x from unnest(array[a, b, c, d, e]) x)) = 5;
select is((select count(*)::int from orders), 120, 'all 120 orders of five deliveries');
select lives_ok($$
    select pg_temp.send('conv-' || k || '-' || d.id,
                        pg_temp.ev('odoo-' || (1000 + k), d.type, d.m, d.name, coalesce(d.version, '19.0')), d.m)
      from orders, unnest(o) with ordinality as step(n, i)
      join deliveries d using (n)
     order by k, i
$$, 'every order is delivered');
select results_eq(
    $$select distinct name, odoo_version, active from ops.projects where project_id like 'odoo-1___'$$,
    $$values ('Beta'::text, '18.0'::text, true)$$,
    'every order converges on the latest name, series and activity');
select is((select count(*)::int from ops.ingest_deliveries where webhook_id like 'conv-%' and deferred_event is not null and resolved_at is null),
          0, 'no deferred event is left waiting once its project exists');

-- Closed by default: the API roles cannot read or call anything.
set local role anon;
select throws_ok($$select * from ops.ingest_deliveries$$, '42501', null, 'anon cannot read the ledger');
reset role;
set local role authenticated;
select throws_ok(
    $$select ops.ingest_event('msg_x', repeat('a', 64), '{}', now())$$,
    '42501', null, 'authenticated cannot call ops.ingest_event');
reset role;

select * from finish();
rollback;
