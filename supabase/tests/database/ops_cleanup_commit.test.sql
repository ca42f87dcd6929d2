-- ops.cleanup_commit deletes only what is unchanged since it was read.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(16);

insert into ops.projects (project_id, name, odoo_version) values ('odoo-9401', 'Guards', '19.0');
-- Rows as an earlier transaction left them.
insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at, updated_at)
select 'run-guard000' || n, 'odoo-9401', 'build', 'success', 'dev@guard.test',
       now() - interval '200 days', now() - interval '200 days', now() - interval '199 days',
       now() - interval '199 days'
  from generate_series(1, 3) n;
insert into ops.run_events (run_id, project_id, created_at, event_type, message)
select 'run-guard000' || n, 'odoo-9401', now() - interval '200 days', 'build.step', 'x'
  from generate_series(1, 3) n;
insert into ops.cleanup_archives (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids)
values ('runs/guard.ndjson.gz', 'b', repeat('a', 64), 'runs', 3, 1, '{run-guard0001,run-guard0002,run-guard0003}', '{odoo-9401}');
select ok(ops.cleanup_acquire('guard-test', 60), 'the lease is taken');

create temp table read_guards as
select run_id, ops.cleanup_run_guard(run_id) as guard from ops.runs where project_id = 'odoo-9401';
select is((select count(distinct guard)::int from read_guards), 3, 'each run has its own guard');

-- After the read: a late event for run 1, a metadata change on run 2.
insert into ops.run_events (run_id, project_id, created_at, event_type, message)
values ('run-guard0001', 'odoo-9401', now() - interval '200 days', 'build.late', 'late');
update ops.runs set metadata = '{"note": "changed"}' where run_id = 'run-guard0002';
select isnt(ops.cleanup_run_guard('run-guard0001'),
            (select guard from read_guards where run_id = 'run-guard0001'), 'a new event changes the guard');
select isnt(ops.cleanup_run_guard('run-guard0002'),
            (select guard from read_guards where run_id = 'run-guard0002'), 'an update changes the guard');

select is(
    ops.cleanup_commit('guard-test', jsonb_build_object(
        'archives', '[]'::jsonb,
        'runs', (select jsonb_agg(jsonb_build_object('id', run_id, 'guard', guard, 'key', 'runs/guard.ndjson.gz'))
                   from read_guards),
        'artifacts', '[]'::jsonb, 'backups', '[]'::jsonb, 's3_deletes', '[]'::jsonb,
        'resume_after', '{}'::jsonb, 'run_events', '[]'::jsonb, 'events_before', null,
        'drop_events_before', null))
      -> 'runs', '1'::jsonb, 'only the unchanged run is deleted');
select results_eq(
    $$select run_id from ops.runs where project_id = 'odoo-9401' order by run_id$$,
    $$values ('run-guard0001'::text), ('run-guard0002'::text)$$,
    'the changed runs stay, with their events');
select is((select count(*)::int from ops.run_events where run_id = 'run-guard0001'), 2,
          'the late event is still there');
select is((select count(*)::int from ops.cleanup_archived_runs where run_id like 'run-guard%'), 1,
          'only the deleted run is recorded as archived');

-- Month events of a kept run: archived events go with the commit, each only
-- if unchanged since the read; the month stays while one is left.
insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at)
values ('run-guardkept', 'odoo-9401', 'build', 'success', 'dev@guard.test',
        now() - interval '2 days', now() - interval '2 days', now() - interval '1 day');
-- The oldest events in the database, so the first page of the read holds them.
insert into ops.run_events (run_id, project_id, created_at, event_type, message)
select 'run-guardkept', 'odoo-9401', timestamptz '2001-01-01 00:00:00+00' + n * interval '1 second',
       'build.step', 'step ' || n
  from generate_series(1, 3) n;
-- Read with the run-events bound of the seed's 30-day rule.
create temp table read_events as
select e.event_id, (ops.cleanup_read('{"max_rows":50000,"max_bytes":33554432}', 2000, now(), null, null,
                                     date_trunc('month', now() - interval '30 days'), null)::jsonb
                    -> 'guards' -> 'run_events' ->> e.event_id::text) as guard,
       date_trunc('month', now() - interval '30 days') as cut
  from ops.run_events e where e.run_id = 'run-guardkept';
select is((select count(guard)::int from read_events), 3, 'the read guards each month event');
update ops.run_events set message = 'edited'
 where event_id = (select max(event_id) from ops.run_events where run_id = 'run-guardkept');

create temp table event_commit as
select ops.cleanup_commit('guard-test', jsonb_build_object(
        'archives', '[]'::jsonb, 'runs', '[]'::jsonb, 'artifacts', '[]'::jsonb, 'backups', '[]'::jsonb,
        's3_deletes', '[]'::jsonb, 'resume_after', '{}'::jsonb,
        'run_events', (select jsonb_agg(jsonb_build_object('id', event_id::text, 'guard', guard)) from read_events),
        'events_before', (select max(cut) from read_events),
        'drop_events_before', (select max(cut) from read_events))) as answer;
select is((select answer -> 'run_events' from event_commit), '2'::jsonb,
          'the unchanged archived events are deleted');
select is((select answer -> 'changed' from event_commit), '1'::jsonb, 'the edited one is counted as changed');
select results_eq(
    $$select message from ops.run_events where run_id = 'run-guardkept'$$,
    $$values ('edited'::text)$$,
    'the edited event stays for the next run, with its run');
select is((select answer -> 'partitions_dropped' from event_commit), '[]'::jsonb,
          'nothing is dropped while an event is left before the cut-off');

-- Artifacts too: one read, then changed, is kept; the unchanged one goes.
insert into ops.artifacts (project_id, artifact_type, storage_path, size_bytes, digest, created_at)
select 'odoo-9401', 'sbom', 's3://odooops-artifacts/odoo-9401/sbom-' || n || '.json', 1,
       'sha256:' || repeat(n::text, 64), timestamptz '2001-01-01 00:00:00+00' + n * interval '1 day'
  from generate_series(1, 2) n;
create temp table read_artifacts as
select a.artifact_id, (ops.cleanup_read('{"max_rows":50000,"max_bytes":33554432}', 2000, now(), null,
                                        now() - interval '30 days', null, null)::jsonb
                       -> 'guards' -> 'artifacts' ->> a.artifact_id::text) as guard
  from ops.artifacts a where a.project_id = 'odoo-9401';
select is((select count(guard)::int from read_artifacts), 2, 'the read guards each artifact');
update ops.artifacts set size_bytes = 2 where storage_path like '%sbom-2.json';
create temp table artifact_commit as
select ops.cleanup_commit('guard-test', jsonb_build_object(
        'archives', '[]'::jsonb, 'runs', '[]'::jsonb, 'backups', '[]'::jsonb, 'run_events', '[]'::jsonb,
        's3_deletes', '[]'::jsonb, 'resume_after', '{}'::jsonb,
        'artifacts', (select jsonb_agg(jsonb_build_object('id', artifact_id, 'guard', guard)) from read_artifacts)))
       as answer;
select is((select answer -> 'artifacts' from artifact_commit), '1'::jsonb, 'the unchanged artifact is deleted');
select results_eq(
    $$select size_bytes from ops.artifacts where project_id = 'odoo-9401'$$,
    $$values (2::bigint)$$,
    'the changed one stays');

select * from finish();
rollback;
