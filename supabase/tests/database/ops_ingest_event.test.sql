-- ops.projects and ops.ingest_event: the write path of ops-ingest.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(17);

-- The tables exist with row level security on.
select has_table('ops', 'projects', 'ops.projects exists');
select has_table('ops', 'ingest_deliveries', 'ops.ingest_deliveries exists');
select ok((select relrowsecurity from pg_class where oid = 'ops.projects'::regclass),
          'RLS is enabled on ops.projects');
select ok((select relrowsecurity from pg_class where oid = 'ops.ingest_deliveries'::regclass),
          'RLS is enabled on ops.ingest_deliveries');

-- The seed's event is applied and says it created the project.
select is(
    ops.ingest_event('msg_t1', repeat('a', 64),
        '{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}'),
    '{"result":"applied","created":true}'::jsonb,
    'the seed event is applied');
select results_eq(
    $$select project_id, name, odoo_version from ops.projects where project_id = 'odoo-42'$$,
    $$values ('odoo-42'::text, 'Alpha'::text, '19.0'::text)$$,
    'the project row holds the event''s values');

-- The same delivery again is a replay of the same outcome and writes nothing.
select is(
    ops.ingest_event('msg_t1', repeat('a', 64),
        '{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}'),
    '{"result":"replayed","created":true}'::jsonb,
    'a redelivery is a replay');
select is((select count(*)::int from ops.ingest_deliveries where webhook_id = 'msg_t1'), 1,
          'a redelivery adds no ledger row');

-- The same id with another body is a conflict and changes nothing.
select is(
    ops.ingest_event('msg_t1', repeat('b', 64),
        '{"event_type":"project_created","project_id":"odoo-42","name":"Beta","odoo_version":"19.0"}'),
    '{"result":"conflict"}'::jsonb,
    'a reused id with another body is a conflict');
select is((select name from ops.projects where project_id = 'odoo-42'), 'Alpha',
          'a conflict changes nothing');

-- Odoo is authoritative: a new delivery about a known project updates it.
select is(
    ops.ingest_event('msg_t2', repeat('c', 64),
        '{"event_type":"project_created","project_id":"odoo-42","name":"Alpha 2","odoo_version":"19.0"}'),
    '{"result":"applied","created":false}'::jsonb,
    'a second project_created updates the project');

-- The constraints refuse what validation would refuse, as a last line.
select throws_ok(
    $$insert into ops.projects (project_id, name, odoo_version) values ('42', 'x', '19.0')$$,
    '23514', null, 'a project id that is not odoo-<digits> is refused');
select throws_ok(
    $$insert into ops.projects (project_id, name, odoo_version) values ('odoo-1', '  ', '19.0')$$,
    '23514', null, 'a blank name is refused');
select throws_ok(
    $$insert into ops.projects (project_id, name, odoo_version) values ('odoo-1', 'x', 'nineteen')$$,
    '23514', null, 'an odoo_version that is not a series is refused');

-- Closed by default: the API roles cannot read or call anything.
set local role anon;
select throws_ok($$select * from ops.projects$$, '42501', null, 'anon cannot read ops.projects');
reset role;
set local role authenticated;
select throws_ok(
    $$select ops.ingest_event('msg_x', repeat('a', 64), '{}')$$,
    '42501', null, 'authenticated cannot call ops.ingest_event');
reset role;
set local role service_role;
select is(
    ops.ingest_event('msg_t3', repeat('d', 64),
        '{"event_type":"project_created","project_id":"odoo-43","name":"Gamma","odoo_version":"18.0"}'),
    '{"result":"applied","created":true}'::jsonb,
    'service_role applies events');
reset role;

select * from finish();
rollback;
