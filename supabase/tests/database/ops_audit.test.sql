-- The audit rules and lifecycles of the ops schema: approvals that nobody
-- can change once decided or ever delete, runs that only move forward,
-- monthly run_events partitions, and the retention defaults.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
\ir ../helpers/outcome.psql

select plan(57);

insert into auth.users (id, email) values
    ('d1111111-1111-4111-8111-111111111111', 'dev@audit.test'),
    ('d2222222-2222-4222-8222-222222222222', 'approver@audit.test');
insert into ops.projects (project_id, name, odoo_version) values
    ('odoo-9201', 'Audit', '19.0'),
    ('odoo-9202', 'Other', '19.0');
insert into ops.project_members (project_id, user_id, role) values
    ('odoo-9201', 'd1111111-1111-4111-8111-111111111111', 'developer'),
    ('odoo-9201', 'd2222222-2222-4222-8222-222222222222', 'approver');
insert into ops.runs (run_id, project_id, kind, environment, created_by) values
    ('run-audit0001', 'odoo-9201', 'deploy', 'prod', 'd1111111-1111-4111-8111-111111111111'),
    ('run-audit0002', 'odoo-9201', 'deploy', 'prod', 'd1111111-1111-4111-8111-111111111111'),
    ('run-audit0003', 'odoo-9201', 'deploy', 'prod', 'd1111111-1111-4111-8111-111111111111'),
    ('run-other0001', 'odoo-9202', 'deploy', 'prod', 'someone@audit.test');
insert into ops.approvals (approval_id, project_id, run_id, requested_by, request_note) values
    ('e0000000-0000-4000-8000-000000000001', 'odoo-9201', 'run-audit0001', 'd1111111-1111-4111-8111-111111111111', 'ship it'),
    ('e0000000-0000-4000-8000-000000000002', 'odoo-9201', 'run-audit0002', 'd1111111-1111-4111-8111-111111111111', null);

-- ---------------------------------------------------------------------------
-- Approvals.

-- Deciding, as the approver does through the API.
select is(pg_temp.outcome(
    $$update ops.approvals set status = 'approved', decided_by = 'd2222222-2222-4222-8222-222222222222'
      where approval_id = 'e0000000-0000-4000-8000-000000000001'$$,
    'authenticated', 'd2222222-2222-4222-8222-222222222222'), 'rows:1',
    'an approver decides a pending approval');
-- The same, for real this time (outcome undoes its statement).
set local role authenticated;
set local request.jwt.claims = '{"sub":"d2222222-2222-4222-8222-222222222222","role":"authenticated"}';
update ops.approvals set status = 'approved', decided_by = 'd2222222-2222-4222-8222-222222222222'
where approval_id = 'e0000000-0000-4000-8000-000000000001';
reset role;
select ok((select decided_at is not null from ops.approvals where approval_id = 'e0000000-0000-4000-8000-000000000001'),
          'deciding records when');

create temp table decided as
select * from ops.approvals where approval_id = 'e0000000-0000-4000-8000-000000000001';

select is(pg_temp.outcome(
    $$update ops.approvals set status = 'rejected' where approval_id = 'e0000000-0000-4000-8000-000000000001'$$,
    'authenticated', 'd2222222-2222-4222-8222-222222222222'), 'rows:0',
    'the approver cannot revisit a decision');
select is(pg_temp.outcome(
    $$update ops.approvals set status = 'rejected', decided_by = 'worker@audit.test' where approval_id = 'e0000000-0000-4000-8000-000000000001'$$,
    'service_role'), 'error:42501',
    'service_role cannot change a decided approval');
select is(pg_temp.outcome(
    $$update ops.approvals set decision_note = 'backdated' where approval_id = 'e0000000-0000-4000-8000-000000000001'$$,
    'service_role'), 'error:42501',
    'service_role cannot annotate a decided approval');
select is(pg_temp.outcome(
    $$update ops.approvals set status = 'rejected', decided_by = 'owner@audit.test' where approval_id = 'e0000000-0000-4000-8000-000000000001'$$),
    'error:42501',
    'the table owner cannot change a decided approval');
select is(pg_temp.outcome(
    $$delete from ops.approvals where approval_id = 'e0000000-0000-4000-8000-000000000001'$$, 'service_role'),
    'error:42501',
    'service_role cannot delete a decided approval');
select is(pg_temp.outcome(
    $$delete from ops.approvals where approval_id = 'e0000000-0000-4000-8000-000000000002'$$, 'service_role'),
    'error:42501',
    'service_role cannot delete a pending approval');
select is(pg_temp.outcome(
    $$delete from ops.approvals where approval_id = 'e0000000-0000-4000-8000-000000000001'$$),
    'error:42501',
    'the table owner cannot delete an approval');
select is(pg_temp.outcome($$truncate ops.approvals$$), 'error:42501',
    'the table owner cannot truncate approvals');
select is(pg_temp.outcome($$truncate ops.approvals$$, 'service_role'), 'error:42501',
    'service_role cannot truncate approvals');
select is(pg_temp.outcome(
    $$delete from ops.projects where project_id = 'odoo-9201'$$, 'service_role'), 'error:23503',
    'a project with approvals cannot be deleted');
select results_eq(
    $$select * from ops.approvals where approval_id = 'e0000000-0000-4000-8000-000000000001'$$,
    $$select * from decided$$,
    'the decided approval is exactly as it was decided');

select is(pg_temp.outcome(
    $$update ops.approvals set requested_by = 'someone@audit.test' where approval_id = 'e0000000-0000-4000-8000-000000000002'$$,
    'service_role'), 'error:42501',
    'a pending request cannot be rewritten, only decided');
select is(pg_temp.outcome(
    $$insert into ops.approvals (project_id, run_id, requested_by, status, decided_by, decided_at)
      values ('odoo-9201', 'run-audit0003', 'worker@audit.test', 'approved', 'boss@audit.test', now())$$,
    'service_role'), 'error:23514',
    'an approval is requested before it is decided');
select is(pg_temp.outcome(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9201', 'run-other0001', 'worker@audit.test')$$,
    'service_role'), 'error:23503',
    'an approval names a run of its own project');
select is(pg_temp.outcome(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9201', 'run-audit0002', 'worker@audit.test')$$,
    'service_role'), 'error:23505',
    'a run has one open request at a time');
select is(pg_temp.outcome(
    $$update ops.approvals set status = 'approved', decided_by = 'd1111111-1111-4111-8111-111111111111'
      where approval_id = 'e0000000-0000-4000-8000-000000000002'$$,
    'service_role'), 'error:23514',
    'four eyes: the requester cannot approve their own request');
select is(pg_temp.outcome(
    $$delete from ops.runs where run_id = 'run-audit0001'$$, 'service_role'), 'rows:1',
    'runs with approvals can still be cleaned up');
delete from ops.runs where run_id = 'run-audit0001';
select results_eq(
    $$select * from ops.approvals where approval_id = 'e0000000-0000-4000-8000-000000000001'$$,
    $$select * from decided$$,
    'the approval outlives its run, unchanged');

-- ---------------------------------------------------------------------------
-- Runs: forward only, timestamps follow the status, history stays.

update ops.runs set status = 'running' where run_id = 'run-audit0002';
select ok((select started_at is not null and finished_at is null from ops.runs where run_id = 'run-audit0002'),
          'starting a run records started_at');
update ops.runs set status = 'success' where run_id = 'run-audit0002';
select ok((select finished_at >= started_at from ops.runs where run_id = 'run-audit0002'),
          'finishing a run records finished_at');
select is(pg_temp.outcome($$update ops.runs set status = 'running' where run_id = 'run-audit0002'$$, 'service_role'),
          'error:23514', 'a finished run cannot run again');
select is(pg_temp.outcome($$update ops.runs set status = 'success' where run_id = 'run-audit0003'$$, 'service_role'),
          'error:23514', 'a queued run cannot succeed without running');
select is(pg_temp.outcome($$update ops.runs set project_id = 'odoo-9202' where run_id = 'run-audit0003'$$, 'service_role'),
          'error:23514', 'a run cannot move to another project');
select is(pg_temp.outcome($$update ops.runs set created_by = 'worker@audit.test' where run_id = 'run-audit0003'$$, 'service_role'),
          'error:23514', 'who started a run cannot be rewritten');
select is(pg_temp.outcome($$update ops.runs set status = 'running', started_at = null where run_id = 'run-audit0003'$$, 'service_role'),
          'rows:1', 'a worker may start a run without giving the time');
select is(pg_temp.outcome($$update ops.runs set finished_at = now() where run_id = 'run-audit0003'$$, 'service_role'),
          'error:23514', 'an unfinished run has no finished_at');
insert into ops.runs (project_id, kind, created_by) values ('odoo-9201', 'build', 'worker@audit.test');
select ok((select bool_and(run_id ~ '^run-[0-9a-f]{32}$') from ops.runs where created_by = 'worker@audit.test'),
          'a run without an id gets one: run- and a random uuid''s hex');

-- Children follow their run's project, and outlive it where retention says so.
insert into ops.run_events (run_id, project_id, event_type) values ('run-audit0003', 'odoo-9201', 'step.started');
insert into ops.artifacts (project_id, run_id, artifact_type, storage_path, size_bytes, digest) values
    ('odoo-9201', 'run-audit0003', 'evidence', 's3://audit-artifacts/evidence.json', 1,
     'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
insert into ops.backups (project_id, run_id, kind, environment, storage_path, size_bytes, digest) values
    ('odoo-9201', 'run-audit0003', 'monthly', 'prod', 's3://audit-backups/monthly.dump', 1,
     'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
select is(pg_temp.outcome(
    $$insert into ops.artifacts (project_id, run_id, artifact_type, storage_path, size_bytes, digest)
      values ('odoo-9202', 'run-audit0003', 'logs', 's3://audit-artifacts/x.log', 1,
              'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$, 'service_role'),
    'error:23503', 'an artifact cannot claim another project than its run''s');
delete from ops.runs where run_id = 'run-audit0003';
select is((select count(*)::int from ops.run_events where run_id = 'run-audit0003'), 0,
          'deleting a run deletes its events');
select is((select run_id from ops.artifacts where storage_path = 's3://audit-artifacts/evidence.json'), null,
          'deleting a run keeps its artifacts, without the run');
select is((select run_id from ops.backups where storage_path = 's3://audit-backups/monthly.dump'), null,
          'deleting a run keeps its backups, without the run');

-- ---------------------------------------------------------------------------
-- run_events partitions.

select has_table('ops', 'run_events_default', 'run_events has a default partition');
select is(
    (select count(*)::int from generate_series(0, 2) m
     where to_regclass('ops.run_events_p' || to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => m), 'YYYYMM')) is not null),
    3, 'this month''s and the next two months'' partitions exist');
select is((select count(*)::int from ops.create_run_event_partitions(2)), 0,
          'creating partitions again creates nothing');
select is((select array_agg(p order by p) from ops.create_run_event_partitions(1, '2020-01-15 12:00+00') p),
          array['run_events_p202001', 'run_events_p202002'],
          'a start month and one ahead create two partitions');
select is((select pg_get_expr(relpartbound, oid) from pg_class where oid = 'ops.run_events_p202001'::regclass),
          $$FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')$$,
          'a partition spans one UTC month');
select ok((select relrowsecurity from pg_class where oid = 'ops.run_events_p202001'::regclass),
          'new partitions have row level security on');
select is(pg_temp.outcome($$select count(*) from ops.create_run_event_partitions(0, '2021-03-01')$$, 'service_role'),
          'rows:1', 'service_role may create partitions');
select is(pg_temp.outcome($$select count(*) from ops.create_run_event_partitions(25)$$, 'service_role'),
          'error:22023', 'more than 24 months ahead is refused');

-- An event whose month has no partition is kept, then moved into place.
insert into ops.runs (run_id, project_id, kind, created_by) values ('run-audit0004', 'odoo-9201', 'build', 'worker@audit.test');
insert into ops.run_events (run_id, project_id, event_type, created_at) values
    ('run-audit0004', 'odoo-9201', 'step.started', '2020-05-10 08:00+00');
select is((select tableoid::regclass::text from ops.run_events where run_id = 'run-audit0004'),
          'ops.run_events_default', 'an event without its month''s partition lands in the default partition');
create temp table early_event as select event_id from ops.run_events where run_id = 'run-audit0004';
select is((select array_agg(p) from ops.create_run_event_partitions(0, '2020-05-01') p),
          array['run_events_p202005'], 'its month''s partition can still be created');
select is((select tableoid::regclass::text from ops.run_events where run_id = 'run-audit0004'),
          'ops.run_events_p202005', 'the event moved into its month''s partition');
select results_eq($$select event_id from ops.run_events where run_id = 'run-audit0004'$$,
                  $$select event_id from early_event$$, 'the moved event kept its id');
select is((select count(*)::int from ops.run_events_default where created_at < '2020-06-01'), 0,
          'the default partition no longer holds it');

-- Retention drops whole months.
insert into ops.run_events (run_id, project_id, event_type, created_at) values
    ('run-audit0004', 'odoo-9201', 'step.finished', '2019-12-31 23:00+00');
select is((select array_agg(p order by p) from ops.drop_run_event_partitions('2020-02-01') p),
          array['run_events_p202001'], 'months entirely before the cut-off are dropped');
select is((select count(*)::int from ops.run_events where run_id = 'run-audit0004'), 1,
          'older events caught by the default partition go too, newer ones stay');

-- The job that keeps creating them, where pg_cron is enabled.
select is(
    case when exists (select from pg_extension where extname = 'pg_cron')
         then pg_temp.outcome($$select count(*) from cron.job where jobname = 'ops-create-run-event-partitions'$$)
         else 'rows:1' end,
    'rows:1', 'partitions are created by a daily pg_cron job (where pg_cron is enabled)');

-- ---------------------------------------------------------------------------
-- Accounts.

insert into auth.users (id, email) values ('d3333333-3333-4333-8333-333333333333', 'lone-admin@audit.test');
insert into ops.project_members (project_id, user_id, role) values
    ('odoo-9202', 'd3333333-3333-4333-8333-333333333333', 'admin');
select is(pg_temp.outcome($$delete from auth.users where id = 'd3333333-3333-4333-8333-333333333333'$$),
          'rows:1', 'deleting an account is not blocked by the projects it administers');
select is(pg_temp.outcome(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9202', 'run-other0001', 'd1111111-1111-4111-8111-111111111111')$$,
    'authenticated', 'd1111111-1111-4111-8111-111111111111'), 'error:42501',
    'a non-member asking about an existing run of another project is refused…');
select is(pg_temp.outcome(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9202', 'run-nosuchrun', 'd1111111-1111-4111-8111-111111111111')$$,
    'authenticated', 'd1111111-1111-4111-8111-111111111111'), 'error:42501',
    '… exactly as about a missing one: no hint about which runs exist');
select is(pg_temp.outcome(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9201', 'run-nosuchrun', 'd1111111-1111-4111-8111-111111111111')$$,
    'authenticated', 'd1111111-1111-4111-8111-111111111111'), 'error:23503',
    'a member asking about a run that is not in their project is told so');

-- ---------------------------------------------------------------------------
-- Retention defaults.

select results_eq(
    $$select target, class, retain_days from ops.retention_policies where project_id is null
      order by target, class nulls first$$,
    $$values ('approvals'::text, null::text, null::integer),
             ('artifacts', 'evidence', 365), ('artifacts', 'image', 30), ('artifacts', 'logs', 30),
             ('artifacts', 'manifest', 90), ('artifacts', 'sbom', 90),
             ('backups', 'daily', 30), ('backups', 'monthly', 365), ('backups', 'weekly', 90),
             ('ingest_deliveries', null, 30), ('run_events', null, 30), ('runs', null, 90)$$,
    'the seed''s retention defaults');
select is(pg_temp.outcome(
    $$update ops.retention_policies set retain_days = 3650 where target = 'approvals'$$, 'service_role'),
    'error:23514', 'approvals cannot be given an expiry');
select is(pg_temp.outcome(
    $$insert into ops.retention_policies (project_id, target, retain_days) values ('odoo-9201', 'run_events', 7)$$, 'service_role'),
    'error:23514', 'run events have one global retention (they go by partition)');
select is(pg_temp.outcome(
    $$insert into ops.retention_policies (project_id, target, retain_days) values (null, 'runs', 7)$$, 'service_role'),
    'error:23505', 'one rule per scope, target and class');

select * from finish();
rollback;
