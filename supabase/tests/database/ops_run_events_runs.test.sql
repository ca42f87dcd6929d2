-- A run's events belong to it (the statement triggers that stand for a
-- foreign key to ops.runs, see 20261126000300_ops_runs.sql): an event names a
-- run of its own project, and a run's events go with it.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(13);

insert into ops.projects (project_id, name, odoo_version) values
    ('odoo-9501', 'Events', '19.0'), ('odoo-9502', 'Other', '19.0');
select ops.create_run_event_partitions(0, '2025-03-10 00:00:00+00');
insert into ops.runs (run_id, project_id, kind, created_by) values
    ('run-events0001', 'odoo-9501', 'build', 'dev@events.test'),
    ('run-events0002', 'odoo-9501', 'build', 'dev@events.test'),
    ('run-events0003', 'odoo-9502', 'build', 'dev@events.test');

set local role service_role;
select lives_ok(
    $$insert into ops.run_events (run_id, project_id, created_at, event_type) values
        ('run-events0001', 'odoo-9501', '2025-03-10 10:00:00+00', 'step.log'),
        ('run-events0001', 'odoo-9501', '2020-01-01 00:00:00+00', 'step.log'),
        ('run-events0002', 'odoo-9501', '2025-03-11 10:00:00+00', 'step.log'),
        ('run-events0003', 'odoo-9502', '2025-03-11 10:00:00+00', 'step.log')$$,
    'events of existing runs go in, into a month''s partition and the default one');
select throws_ok(
    $$insert into ops.run_events (run_id, project_id, event_type) values ('run-nosuchrun', 'odoo-9501', 'step.log')$$,
    '23503', 'run_events: run run-nosuchrun of project odoo-9501 does not exist',
    'an event of a run that does not exist is refused');
select throws_ok(
    $$insert into ops.run_events (run_id, project_id, event_type) values ('run-events0003', 'odoo-9501', 'step.log')$$,
    '23503', 'run_events: run run-events0003 of project odoo-9501 does not exist',
    'an event cannot claim another project than its run''s');
select throws_ok(
    $$insert into ops.run_events (run_id, project_id, event_type) values
        ('run-events0002', 'odoo-9501', 'step.log'), ('run-gone', 'odoo-9501', 'step.log')$$,
    '23503', null, 'one bad row refuses the whole statement');
select is((select count(*)::int from ops.run_events where project_id = 'odoo-9501'), 3,
          'and nothing of it was written');
reset role;
-- The log is append-only for service_role; its owner can update.
select throws_ok(
    $$update ops.run_events set run_id = 'run-nosuchrun' where run_id = 'run-events0002'$$,
    '23503', null, 'an event cannot be moved to a run that does not exist');
select throws_ok(
    $$insert into ops.run_events_p202503 (run_id, project_id, created_at, event_type)
      values ('run-nosuchrun', 'odoo-9501', '2025-03-12 00:00:00+00', 'step.log')$$,
    '23503', null, 'nor through a month''s partition named directly');
select throws_ok(
    $$insert into ops.run_events_default (run_id, project_id, created_at, event_type)
      values ('run-nosuchrun', 'odoo-9501', '2019-01-01 00:00:00+00', 'step.log')$$,
    '23503', null, 'nor through the default partition');

select lives_ok($$delete from ops.runs where run_id = 'run-events0001'$$, 'a run can be deleted');
select is((select count(*)::int from ops.run_events where run_id = 'run-events0001'), 0,
          'its events go with it, from every partition');
select is((select array_agg(run_id order by run_id) from ops.run_events where project_id in ('odoo-9501', 'odoo-9502')),
          array['run-events0002', 'run-events0003'], 'the other runs keep theirs');
select lives_ok($$delete from ops.runs where project_id in ('odoo-9501', 'odoo-9502')$$,
                'several runs at once');
select is((select count(*)::int from ops.run_events where project_id in ('odoo-9501', 'odoo-9502')), 0,
          'with all their events');

select * from finish();
rollback;
