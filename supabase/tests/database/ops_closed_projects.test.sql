-- Projects archived or deleted in Odoo take no new runs or approval requests.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(8);

insert into ops.projects (project_id, name, odoo_version) values
    ('odoo-9301', 'Open', '19.0'), ('odoo-9302', 'Archived', '19.0'), ('odoo-9303', 'Deleted', '19.0');
insert into ops.runs (run_id, project_id, kind, created_by) values
    ('run-closed0001', 'odoo-9302', 'build', 'worker@closed.test');
update ops.projects set active = false where project_id = 'odoo-9302';
update ops.projects set deleted_at = now() where project_id = 'odoo-9303';

set local role service_role;
select lives_ok(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-closed0002', 'odoo-9301', 'build', 'worker@closed.test')$$,
    'an open project takes new runs');
select throws_ok(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-closed0003', 'odoo-9302', 'build', 'worker@closed.test')$$,
    '23514', 'project odoo-9302: archived in Odoo; unarchive it there to add runs',
    'an archived project takes no new runs, not even from service_role');
select throws_ok(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-closed0004', 'odoo-9303', 'build', 'worker@closed.test')$$,
    '23514', 'project odoo-9303: deleted in Odoo; it takes no new runs',
    'a deleted project takes no new runs');
select throws_ok(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9302', 'run-closed0001', 'worker@closed.test')$$,
    '23514', null, 'an archived project takes no new approval requests');
select lives_ok(
    $$update ops.runs set status = 'cancelled' where run_id = 'run-closed0001'$$,
    'work already queued on an archived project can still be cancelled');
select is((select count(*)::int from ops.runs where project_id = 'odoo-9302'), 1,
          'what was recorded stays readable');
reset role;

-- Unarchiving in Odoo reopens the project.
select is(ops.ingest_event('msg_closed1', repeat('e', 64),
              '{"event_type":"project_unarchived","project_id":"odoo-9302"}', now()),
          '{"result":"applied","effect":"unarchived"}'::jsonb, 'Odoo unarchives the project');
set local role service_role;
select lives_ok(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-closed0005', 'odoo-9302', 'build', 'worker@closed.test')$$,
    'an unarchived project takes new runs again');
reset role;

select * from finish();
rollback;
