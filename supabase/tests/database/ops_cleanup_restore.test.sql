-- Restoring runs that ops-cleanup archived and deleted, and the daily trigger.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(43);

-- Timestamps as the planner writes them into archive lines.
create function pg_temp.archive_ts(p timestamptz) returns text
language sql immutable
as $$ select to_char(p at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- One runs-archive line, built the way the planner builds it: the run's
-- columns, then its events ordered by (created_at, event_id).
create function pg_temp.archive_line(p_run_id text) returns text
language sql stable
as $$
    select jsonb_build_object(
        'run', to_jsonb(r) || jsonb_build_object(
            'created_at', pg_temp.archive_ts(r.created_at),
            'started_at', pg_temp.archive_ts(r.started_at),
            'finished_at', pg_temp.archive_ts(r.finished_at),
            'updated_at', pg_temp.archive_ts(r.updated_at)),
        'events', coalesce((select jsonb_agg(to_jsonb(e) || jsonb_build_object('created_at', pg_temp.archive_ts(e.created_at))
                                             order by e.created_at, e.event_id)
                              from ops.run_events e where e.run_id = r.run_id), '[]'::jsonb))::text
      from ops.runs r where r.run_id = p_run_id
$$;

-- A project with two finished runs from January 2025, their events in that
-- month's partition, and an artifact and a backup made by the first run.
insert into ops.projects (project_id, name, odoo_version) values ('odoo-9401', 'Restore', '19.0');
select ops.create_run_event_partitions(0, '2025-01-15 00:00:00+00');
insert into ops.runs (run_id, project_id, kind, environment, status, git_ref, commit_sha, created_by,
                      metadata, created_at, started_at, finished_at, updated_at) values
    ('run-restore-a', 'odoo-9401', 'deploy', 'prod', 'success', 'main', repeat('c', 40), 'dev@restore.test',
     '{"big": 123456789012345678901234567890, "pi": 3.14159265358979323846, "nested": {"a": [1, "x", null]}}',
     '2025-01-15 10:00:00.123456+00', '2025-01-15 10:00:01.5+00',
     '2025-01-15 10:05:00.000001+00', '2025-01-15 10:05:00.000002+00'),
    ('run-restore-b', 'odoo-9401', 'build', null, 'failed', null, null, 'dev@restore.test',
     '{}', '2025-01-16 08:00:00+00', null, '2025-01-16 08:00:09.999999+00', '2025-01-16 08:00:10+00');
insert into ops.run_events (run_id, project_id, created_at, level, event_type, message, data) values
    ('run-restore-a', 'odoo-9401', '2025-01-15 10:00:01.000001+00', 'info', 'step.started', 'build', '{"n": 1}'),
    ('run-restore-a', 'odoo-9401', '2025-01-15 10:02:00+00', 'warning', 'step.log', 'slow "mirror"\nretrying', '{"ms": 1.5e3}'),
    ('run-restore-a', 'odoo-9401', '2025-01-15 10:05:00+00', 'info', 'step.finished', '', '{}'),
    ('run-restore-b', 'odoo-9401', '2025-01-16 08:00:05+00', 'error', 'step.failed', 'boom', '{"exit": 2}');
insert into ops.artifacts (artifact_id, project_id, run_id, artifact_type, storage_path, size_bytes, digest, created_at) values
    ('00000000-0000-4000-8000-000000009401', 'odoo-9401', 'run-restore-a', 'sbom',
     's3://odooops-artifacts/odoo-9401/sbom.json', 10, 'sha256:' || repeat('1', 64), '2025-01-15 10:05:00+00'),
    ('00000000-0000-4000-8000-000000009402', 'odoo-9401', 'run-restore-a', 'logs',
     's3://odooops-artifacts/odoo-9401/build.log', 20, 'sha256:' || repeat('2', 64), '2025-01-15 10:05:00+00');
insert into ops.backups (backup_id, project_id, run_id, kind, environment, storage_path, size_bytes, digest, created_at) values
    ('00000000-0000-4000-8000-000000009403', 'odoo-9401', 'run-restore-a', 'daily', 'prod',
     's3://odooops-backups/odoo-9401/2025-01-15.dump', 30, 'sha256:' || repeat('3', 64), '2025-01-15 10:04:00+00');

create temp table snapshot as
    select r.run_id, to_jsonb(r) as run,
           (select jsonb_agg(to_jsonb(e) order by e.event_id) from ops.run_events e where e.run_id = r.run_id) as events
      from ops.runs r where r.project_id = 'odoo-9401';
create temp table archive_lines as
    select run_id, pg_temp.archive_line(run_id) as line from ops.runs where project_id = 'odoo-9401';
create temp table archive_object as
    select 'runs/2025/01/run-restore-a..run-restore-b.' || repeat('ab', 32) || '.ndjson.gz' as key;
-- The calls below run as service_role and authenticated; the fixtures are not the test's subject.
grant select on snapshot, archive_lines, archive_object to service_role, authenticated;

-- Cleanup archives and deletes both runs, through its own commit.
select ops.cleanup_acquire('pgtap-restore', 60);
select is(
    (ops.cleanup_commit('pgtap-restore', jsonb_build_object(
        'archives', jsonb_build_array(jsonb_build_object(
            'key', (select key from archive_object), 'bucket', 'odooops-archives', 'sha256', repeat('ab', 32),
            'table', 'runs', 'rows', 2, 'size_bytes', 123,
            'ids', jsonb_build_array('run-restore-a', 'run-restore-b'), 'project_ids', jsonb_build_array('odoo-9401'))),
        'runs', (select jsonb_agg(jsonb_build_object('id', run_id, 'guard', ops.cleanup_run_guard(run_id),
                                                     'key', (select key from archive_object)))
                   from archive_lines)
    )) ->> 'runs')::int,
    2, 'cleanup deleted both runs');
select ops.cleanup_release('pgtap-restore');

-- While they were gone: one artifact expired, the month's partition was
-- dropped, and Odoo archived the project.
delete from ops.artifacts where artifact_id = '00000000-0000-4000-8000-000000009402';
drop table ops.run_events_p202501;
update ops.projects set active = false where project_id = 'odoo-9401';

set local role service_role;
select is(
    ops.cleanup_restore_runs((select key from archive_object),
                             (select line from archive_lines where run_id = 'run-restore-a')),
    jsonb_build_object('object_key', (select key from archive_object), 'lines', 1,
                       'runs_restored', 1, 'runs_already_present', 0, 'run_events_restored', 3,
                       'artifacts_relinked', 1, 'backups_relinked', 1),
    'service_role restores one run of an archived project, with its events and links');
select is((select to_jsonb(r) from ops.runs r where r.run_id = 'run-restore-a'),
          (select run from snapshot where run_id = 'run-restore-a'),
          'the restored run equals the deleted one, every column (updated_at too)');
select is((select jsonb_agg(to_jsonb(e) order by e.event_id) from ops.run_events e where e.run_id = 'run-restore-a'),
          (select events from snapshot where run_id = 'run-restore-a'),
          'its events equal the deleted ones, numbers and text exactly');
reset role;
select is((select count(*)::int from ops.run_events_default where run_id = 'run-restore-a'), 3,
          'events of a dropped month land in the default partition');
select is((select run_id from ops.artifacts where artifact_id = '00000000-0000-4000-8000-000000009401'),
          'run-restore-a', 'the artifact that still exists points to its run again');
select is((select run_id from ops.backups where backup_id = '00000000-0000-4000-8000-000000009403'),
          'run-restore-a', 'so does the backup');
select is((select array_agg(run_id order by run_id) from ops.cleanup_archived_runs
            where project_id = 'odoo-9401'),
          array['run-restore-b'], 'a restored run is no longer listed as archived; the other still is');
select ok(exists (select from ops.cleanup_archives where object_key = (select key from archive_object)),
          'the archive record stays: the object is still in S3');

set local role service_role;
select throws_ok(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-restore-new', 'odoo-9401', 'build', 'dev@restore.test')$$,
    '23514', 'project odoo-9401: archived in Odoo; unarchive it there to add runs',
    'the bypass ends with the restore: the archived project still takes no new runs');
reset role;

-- The whole object, after Odoo deleted the project: the run already back is
-- left alone, the other is restored.
update ops.projects set deleted_at = '2026-01-01 00:00:00+00' where project_id = 'odoo-9401';
set local role service_role;
select is(
    ops.cleanup_restore_runs((select key from archive_object),
                             (select string_agg(line, E'\n' order by run_id) || E'\n' from archive_lines)),
    jsonb_build_object('object_key', (select key from archive_object), 'lines', 2,
                       'runs_restored', 1, 'runs_already_present', 1, 'run_events_restored', 1,
                       'artifacts_relinked', 0, 'backups_relinked', 0),
    'restoring the whole object (project deleted in Odoo) restores only the missing run');
select is(
    ops.cleanup_restore_runs((select key from archive_object),
                             (select string_agg(line, E'\n' order by run_id) from archive_lines)),
    jsonb_build_object('object_key', (select key from archive_object), 'lines', 2,
                       'runs_restored', 0, 'runs_already_present', 2, 'run_events_restored', 0,
                       'artifacts_relinked', 0, 'backups_relinked', 0),
    'restoring again is harmless and says so');
select is((select count(*)::int from ops.runs r join snapshot s using (run_id)
            where to_jsonb(r) = s.run
              and (select jsonb_agg(to_jsonb(e) order by e.event_id) from ops.run_events e where e.run_id = r.run_id)
                  is not distinct from s.events),
          2, 'both runs and their events equal the originals after the repeated restores');
select is((select count(*)::int from ops.run_events where project_id = 'odoo-9401'), 4,
          'no event was restored twice');
select is((select count(*)::int from ops.cleanup_archived_runs where project_id = 'odoo-9401'), 0,
          'neither run is listed as archived any more');
select throws_ok(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-restore-new', 'odoo-9401', 'build', 'dev@restore.test')$$,
    '23514', 'project odoo-9401: deleted in Odoo; it takes no new runs',
    'the deleted project still takes no new runs');
select throws_ok(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9401', 'run-restore-a', 'dev@restore.test')$$,
    '23514', null, 'nor approval requests: restoring never reopens a project');

-- Events that went by month, before their run: back from a run_events object,
-- only for the runs asked for, only the events the object's record lists.
insert into ops.cleanup_archives (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids, run_ids)
values ('run_events/2025/01/month.ndjson.gz', 'b', repeat('c', 64), 'run_events', 2, 1,
        '{900001,900002}', '{odoo-9401}', '{run-restore-a}');
create temp table month_lines as
select string_agg(line, E'\n') as lines from (values
    (jsonb_build_object('event_id', 900001, 'run_id', 'run-restore-a', 'project_id', 'odoo-9401',
        'created_at', '2025-01-15T10:01:00.000000Z', 'level', 'info', 'event_type', 'step.log',
        'message', 'from the month', 'data', '{"n": 12345678901234567890}'::jsonb)::text),
    (jsonb_build_object('event_id', 900002, 'run_id', 'run-other', 'project_id', 'odoo-9401',
        'created_at', '2025-01-15T10:02:00.000000Z', 'level', 'info', 'event_type', 'step.log',
        'message', 'another run', 'data', '{}'::jsonb)::text)) l(line);
select is(
    ops.cleanup_restore_run_events('run_events/2025/01/month.ndjson.gz', '{run-restore-a}',
                                   (select lines from month_lines)) -> 'run_events_restored',
    '1'::jsonb, 'the event of the run asked for comes back; the other run''s line is skipped');
select is((select data::text from ops.run_events where event_id = 900001), '{"n": 12345678901234567890}',
          'exactly, numbers and all');
select throws_ok(
    $$select ops.cleanup_restore_run_events('run_events/2025/01/month.ndjson.gz', '{run-not-restored}', '')$$,
    '23503', 'ops.cleanup_restore_run_events: run run-not-restored is not in ops.runs; restore the run first',
    'events of a run that is not back are refused');
select throws_ok(
    format('select ops.cleanup_restore_run_events(%L, %L, %L)', 'run_events/2025/01/month.ndjson.gz',
           '{run-restore-a}', replace((select lines from month_lines), '900001', '900009')),
    '22023', 'ops.cleanup_restore_run_events: line 1 of run_events/2025/01/month.ndjson.gz: event 900009 is not one of the events this object holds',
    'an event the object''s record does not list is refused');
delete from ops.run_events where event_id = 900001;

-- What the restore refuses: anything the verified object does not vouch for.
delete from ops.runs where project_id = 'odoo-9401';
select throws_ok(
    $$select ops.cleanup_restore_runs('runs/2025/01/unknown.ndjson.gz', '{}')$$,
    '22023', 'ops.cleanup_restore_runs: runs/2025/01/unknown.ndjson.gz is not an archive object ops-cleanup recorded',
    'an object key cleanup never recorded is refused');
select throws_ok(
    format('select ops.cleanup_restore_runs(%L, %L)', (select key from archive_object),
           (select replace(line, 'run-restore-b', 'run-restore-z') from archive_lines where run_id = 'run-restore-b')),
    '22023', 'ops.cleanup_restore_runs: line 1 of ' || (select key from archive_object)
             || ': run run-restore-z is not one of the runs this object holds',
    'a run the object does not hold is refused');
select throws_ok(
    format('select ops.cleanup_restore_runs(%L, %L)', (select key from archive_object),
           (select jsonb_set(line::jsonb, '{run,colour}', '"red"')::text from archive_lines where run_id = 'run-restore-b')),
    '22023', 'ops.cleanup_restore_runs: line 1 of ' || (select key from archive_object)
             || ': ops.runs has no column colour',
    'a column the table does not have is refused, not dropped');
select throws_ok(
    format('select ops.cleanup_restore_runs(%L, %L)', (select key from archive_object),
           (select line from archive_lines where run_id = 'run-restore-a') || E'\n{"run": '),
    '22023', 'ops.cleanup_restore_runs: line 2 of ' || (select key from archive_object) || ' is not JSON',
    'a broken line is refused');
select throws_ok(
    format('select ops.cleanup_restore_runs(%L, %L)', (select key from archive_object),
           (select jsonb_set(line::jsonb, '{events,0,run_id}', '"run-restore-a"')::text
              from archive_lines where run_id = 'run-restore-b')),
    '22023', 'ops.cleanup_restore_runs: line 1 of ' || (select key from archive_object)
             || ': an event does not belong to run run-restore-b',
    'an event of another run is refused');
select is((select count(*)::int from ops.runs where project_id = 'odoo-9401'), 0,
          'a refused object restores nothing, not even its good lines');

-- What the restore command chooses from, and its one write
-- (ops.cleanup_restore_sources, ops.cleanup_restore; the choice is Rust's).
select is(
    (select jsonb_agg(jsonb_build_array(a ->> 'object_key', a ->> 'table', a -> 'deleted_from'))
       from jsonb_array_elements(ops.cleanup_restore_sources('run-restore-a', null)::jsonb -> 'archives') a),
    jsonb_build_array(jsonb_build_array((select key from archive_object), 'runs', false)),
    'a run''s sources: the runs archive that lists it (its deletion no longer recorded)');
select is(
    ops.cleanup_restore_sources('run-restore-a', null)::jsonb -> 'event_archives' -> 0 ->> 'object_key',
    'run_events/2025/01/month.ndjson.gz',
    'and the run_events archive with its month-archived events');
select is(
    ops.cleanup_restore_sources(null, (select key from archive_object))::jsonb
        -> 'archives' -> 0 -> 'ids',
    '["run-restore-a", "run-restore-b"]'::jsonb,
    'an object''s sources: its record, with the runs it lists');
select is(
    (ops.cleanup_restore_sources(null, 'run_events/2025/01/month.ndjson.gz')::jsonb -> 'archives' -> 0 ->> 'table')
        || '/' || (ops.cleanup_restore_sources('run-never', 'runs/unknown')::jsonb ->> 'archives'),
    'run_events/[]',
    'an events object is found as what it is; an unknown run or key has no source');
select is(
    ops.cleanup_restore((select key from archive_object),
                        (select line from archive_lines where run_id = 'run-restore-a'),
                        '{run-restore-a}', '{run_events/2025/01/month.ndjson.gz}',
                        array[(select lines from month_lines)])
        - 'object_key',
    jsonb_build_object('lines', 1, 'runs_restored', 1, 'runs_already_present', 0,
                       'run_events_restored', 4, 'artifacts_relinked', 0, 'backups_relinked', 0,
                       'event_objects', jsonb_build_array('run_events/2025/01/month.ndjson.gz')),
    'one call restores the run, then its month-archived events, and counts both');
delete from ops.runs where project_id = 'odoo-9401';
select throws_ok(
    format('select ops.cleanup_restore(%L, %L, %L, %L, %L)', (select key from archive_object),
           (select line from archive_lines where run_id = 'run-restore-a'), '{run-restore-a}',
           '{run_events/2025/01/month.ndjson.gz}',
           array[replace((select lines from month_lines), '900001', '900009')]),
    '22023', 'ops.cleanup_restore_run_events: line 1 of run_events/2025/01/month.ndjson.gz: event 900009 is not one of the events this object holds',
    'a bad events object refuses the whole restore');
select is((select count(*)::int from ops.runs where project_id = 'odoo-9401'), 0,
          'all or nothing: the run whose line was good is not back either');
select throws_ok(
    format('select ops.cleanup_restore(%L, %L, %L, %L, %L)', (select key from archive_object), '',
           '{run-restore-a}', '{a,b}', '{x}'),
    '22023', 'ops.cleanup_restore: 2 event objects but 1 texts of lines',
    'event objects and their lines go in pairs');
reset role;

set local role authenticated;
select throws_ok(
    format('select ops.cleanup_restore_runs(%L, %L)', (select key from archive_object), ''),
    '42501', null, 'the API roles cannot restore');
select throws_ok(
    format('select ops.cleanup_restore(%L, %L, null, null, null)', (select key from archive_object), ''),
    '42501', null, 'not through the restore''s one write either');
reset role;

-- The trigger. The local stack has pg_cron but neither pg_net nor Vault,
-- which is what these check.
select ok(exists (select from pg_extension where extname = 'pg_cron')
          and not exists (select from pg_extension where extname in ('pg_net', 'supabase_vault')),
          'this stack has pg_cron, and neither pg_net nor Vault');
select results_eq(
    $$select schedule, command from cron.job where jobname = 'ops-cleanup'$$,
    $$values ('0 3 * * *'::text, 'select ops.invoke_cleanup()'::text)$$,
    'ops-cleanup is scheduled daily at 03:00 (pg_cron runs in UTC) as one call');
select is(ops.invoke_cleanup(), null, 'without pg_net it sends nothing and does not fail');

-- Stand-ins with pg_net's and Vault's signatures show what it sends where they exist.
create schema net;
create table net.calls (url text, body jsonb, headers jsonb, timeout_milliseconds integer);
create function net.http_post(url text, body jsonb default '{}', params jsonb default '{}',
                              headers jsonb default '{}', timeout_milliseconds integer default 5000)
returns bigint language sql
as $$ insert into net.calls values (url, body, headers, timeout_milliseconds) returning 42::bigint $$;
create schema vault;
create table vault.decrypted_secrets (name text, decrypted_secret text);
insert into vault.decrypted_secrets values ('ops_cleanup_url', 'https://ref.supabase.co/functions/v1/ops-cleanup');
select is(ops.invoke_cleanup(), null, 'without the cron secret in Vault it sends nothing');
insert into vault.decrypted_secrets values ('ops_cron_secret', 's3cr3t');
select is(ops.invoke_cleanup(), 42::bigint, 'with both secrets it posts through pg_net');
select results_eq(
    $$select url, body, headers ->> 'Authorization', headers ->> 'Content-Type' from net.calls$$,
    $$values ('https://ref.supabase.co/functions/v1/ops-cleanup'::text, '{}'::jsonb, 'Bearer s3cr3t'::text, 'application/json'::text)$$,
    'to the function URL, with the cron secret as a bearer token and an empty JSON body');

select * from finish();
rollback;
