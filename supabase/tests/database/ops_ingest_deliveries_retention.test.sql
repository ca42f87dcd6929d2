-- The ingest ledger's retention, SQL side: the rule, what ops.cleanup_read
-- hands the planner, and what ops.cleanup_commit deletes (only archived,
-- unchanged rows, never a deferred event still waiting for its project).
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
\ir ../helpers/outcome.psql
select plan(25);

-- ---------------------------------------------------------------------------
-- The rule.
select results_eq(
    $$select retain_days, class from ops.retention_policies
       where target = 'ingest_deliveries' and project_id is null$$,
    $$values (30, null::text)$$,
    'the ledger is kept 30 days by default');
select is(pg_temp.outcome(
    $$update ops.retention_policies set retain_days = 6 where target = 'ingest_deliveries'$$, 'service_role'),
    'error:23514', 'a rule shorter than a week (a sender may still retry) is refused');
select is(pg_temp.outcome(
    $$update ops.retention_policies set retain_days = 7 where target = 'ingest_deliveries'$$, 'service_role'),
    'rows:1', 'a week is allowed');
select is(pg_temp.outcome(
    $$update ops.retention_policies set retain_days = null where target = 'ingest_deliveries'$$, 'service_role'),
    'rows:1', 'keeping the ledger forever is allowed');
select is(pg_temp.outcome(
    $$update ops.retention_policies set class = 'daily' where target = 'ingest_deliveries'$$, 'service_role'),
    'error:23514', 'the ledger has no classes');

insert into ops.projects (project_id, name, odoo_version) values ('odoo-9501', 'Ledger', '19.0');
select is(pg_temp.outcome(
    $$insert into ops.retention_policies (project_id, target, retain_days) values ('odoo-9501', 'ingest_deliveries', 60)$$,
    'service_role'),
    'error:23514', 'the ledger has one rule for every project');
select is(pg_temp.outcome(
    $$insert into ops.cleanup_archives (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids)
      values ('ingest_deliveries/2026/01/x.ndjson.gz', 'b', repeat('a', 64), 'ingest_deliveries', 1, 1, '{m}', '{odoo-9501}')$$),
    'rows:1', 'an archive record may hold ledger rows');
select is(pg_temp.outcome(
    $$insert into ops.cleanup_archives (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids)
      values ('bogus/2026/01/x.ndjson.gz', 'b', repeat('a', 64), 'bogus', 1, 1, '{m}', '{odoo-9501}')$$),
    'error:23514', '... but not rows of a table cleanup does not know');

-- ---------------------------------------------------------------------------
-- A ledger as ops-ingest writes it, then aged.
create function pg_temp.deliver(p_id text, p_event jsonb, p_at timestamptz default now())
returns jsonb
language sql
as $$
    select ops.ingest_event(p_id, encode(sha256(convert_to(p_event::text, 'UTF8')), 'hex'), p_event, p_at)
$$;

select is(pg_temp.deliver('msg_ret_old',
              '{"event_type":"project_updated","project_id":"odoo-9501","name":"Old","odoo_version":"19.0"}')
          ->> 'result', 'applied', 'an update is applied');
select pg_temp.deliver('msg_ret_recent',
    '{"event_type":"project_updated","project_id":"odoo-9501","name":"Recent","odoo_version":"19.0"}',
    now() + interval '1 second');
select pg_temp.deliver('msg_ret_unlisted',
    '{"event_type":"project_updated","project_id":"odoo-9501","name":"Unlisted","odoo_version":"19.0"}',
    now() + interval '2 seconds');
select is(pg_temp.deliver('msg_ret_waiting',
              '{"event_type":"project_archived","project_id":"odoo-9502","occurred_at":"2025-01-01T00:00:00Z"}',
              '2025-01-01T00:00:00Z') ->> 'result', 'deferred',
          'an archive before its project is deferred');
select pg_temp.deliver('msg_ret_applied',
    '{"event_type":"project_archived","project_id":"odoo-9503","occurred_at":"2025-01-01T00:00:00Z"}',
    '2025-01-01T00:00:00Z');
-- Its project arrives: the deferred event is applied.
select pg_temp.deliver('msg_ret_9503',
    '{"event_type":"project_created","project_id":"odoo-9503","name":"Late","odoo_version":"19.0"}',
    '2025-01-02T00:00:00Z');
select ok((select resolved_at is not null from ops.ingest_deliveries where webhook_id = 'msg_ret_applied'),
          'the deferred event of a project that arrived is applied');

update ops.ingest_deliveries set received_at = now() - interval '40 days'
 where webhook_id in ('msg_ret_old', 'msg_ret_unlisted');
update ops.ingest_deliveries set received_at = now() - interval '29 days' where webhook_id = 'msg_ret_recent';
update ops.ingest_deliveries set received_at = now() - interval '400 days'
 where webhook_id in ('msg_ret_waiting', 'msg_ret_applied');
update ops.retention_policies set retain_days = 30 where target = 'ingest_deliveries';

-- ---------------------------------------------------------------------------
-- The read: rows past the rule, whole, with their row versions.
delete from ops.cleanup_checkpoints where name = 'ingest_deliveries';
create temp table ledger_read as
-- The bound the ledger's 30-day rule gives (cleanup_plan::fetch_bounds);
-- the other tables are not read.
select ops.cleanup_read('{"max_rows":50000,"max_bytes":33554432}', 2000,
                        now(), null, null, null, now() - interval '30 days')::jsonb as read;
create temp table ledger_rows as
select d ->> 'webhook_id' as webhook_id, d as line,
       (select read -> 'guards' -> 'ingest_deliveries' ->> (d ->> 'webhook_id') from ledger_read) as guard
  from ledger_read, jsonb_array_elements(read -> 'input' -> 'ingest_deliveries') d
 where d ->> 'webhook_id' like 'msg_ret_%';

select results_eq(
    $$select webhook_id from ledger_rows order by webhook_id$$,
    $$values ('msg_ret_applied'::text), ('msg_ret_old'), ('msg_ret_unlisted'), ('msg_ret_waiting')$$,
    'the read holds the rows past 30 days, deferred ones included, and nothing younger');
select is((select count(guard)::int from ledger_rows), 4, 'each row read has its guard');
select results_eq(
    $$select array_agg(k order by k) from ledger_rows, jsonb_object_keys(line) k where webhook_id = 'msg_ret_old'$$,
    $$values (array['body_sha256', 'deferred_event', 'event_type', 'occurred_at', 'outcome', 'project_id',
                    'received_at', 'resolved_at', 'webhook_id'])$$,
    'a row is read whole: every column of ops.ingest_deliveries');

-- Someone writes msg_ret_applied after the read: its version changes.
update ops.ingest_deliveries set outcome = outcome where webhook_id = 'msg_ret_applied';

-- ---------------------------------------------------------------------------
-- The commit, asked (as no correct planner would) to delete every row read,
-- with all of them in its archive but msg_ret_unlisted.
select ok(ops.cleanup_acquire('ledger-test', 60), 'the lease is taken');
create temp table ledger_commit as
select ops.cleanup_commit('ledger-test', jsonb_build_object(
        'archives', jsonb_build_array(jsonb_build_object(
            'key', 'ingest_deliveries/2025/01/ledger-test.ndjson.gz', 'bucket', 'b', 'sha256', repeat('d', 64),
            'table', 'ingest_deliveries', 'rows', 3, 'size_bytes', 10,
            'ids', '["msg_ret_old", "msg_ret_waiting", "msg_ret_applied"]'::jsonb,
            'project_ids', '["odoo-9501", "odoo-9502", "odoo-9503"]'::jsonb, 'run_ids', '[]'::jsonb)),
        'runs', '[]'::jsonb, 'artifacts', '[]'::jsonb, 'backups', '[]'::jsonb, 'run_events', '[]'::jsonb,
        'ingest_deliveries', (select jsonb_agg(jsonb_build_object('id', webhook_id, 'guard', guard)) from ledger_rows),
        's3_deletes', '[]'::jsonb,
        'resume_after', jsonb_build_object('ingest_deliveries',
            jsonb_build_object('received_at', now() - interval '40 days', 'webhook_id', 'msg_ret_unlisted')),
        'events_before', null, 'drop_events_before', null)) as answer;

select is((select answer -> 'ingest_deliveries' from ledger_commit), '1'::jsonb,
          'one ledger row is deleted');
select is((select answer -> 'changed' from ledger_commit), '3'::jsonb,
          'the three it kept count as changed');
select results_eq(
    $$select webhook_id from ops.ingest_deliveries where webhook_id like 'msg_ret_%' order by webhook_id$$,
    $$values ('msg_ret_9503'::text), ('msg_ret_applied'), ('msg_ret_recent'), ('msg_ret_unlisted'), ('msg_ret_waiting')$$,
    'only the archived, unchanged row that waits for nothing is gone');
select ok((select deferred_event is not null and resolved_at is null
             from ops.ingest_deliveries where webhook_id = 'msg_ret_waiting'),
          'a deferred event waiting for its project stays, 400 days old and listed with its guard');
select results_eq(
    $$select archive_table, ids from ops.cleanup_archives where object_key = 'ingest_deliveries/2025/01/ledger-test.ndjson.gz'$$,
    $$values ('ingest_deliveries'::text, array['msg_ret_old', 'msg_ret_waiting', 'msg_ret_applied'])$$,
    'the archive is recorded with the ids it holds');
select is((select cursor ->> 'webhook_id' from ops.cleanup_checkpoints where name = 'ingest_deliveries'),
          'msg_ret_unlisted', 'the ledger checkpoint moves on');

-- ---------------------------------------------------------------------------
-- What the rows left answer.
select is(pg_temp.deliver('msg_ret_recent',
              '{"event_type":"project_updated","project_id":"odoo-9501","name":"Recent","odoo_version":"19.0"}',
              now() + interval '1 second') -> 'replayed',
          'true'::jsonb, 'a redelivery inside the window is still a replay');
select is(pg_temp.deliver('msg_ret_created_9502',
              '{"event_type":"project_created","project_id":"odoo-9502","name":"Arrived","odoo_version":"19.0"}')
          ->> 'effect', 'created', 'the project of the waiting event arrives');
select is((select active from ops.projects where project_id = 'odoo-9502'), false,
          'and the kept deferred archive is applied to it');

select ops.cleanup_commit('ledger-test', jsonb_build_object(
    'archives', '[]'::jsonb, 'runs', '[]'::jsonb, 'artifacts', '[]'::jsonb, 'backups', '[]'::jsonb,
    'run_events', '[]'::jsonb, 's3_deletes', '[]'::jsonb,
    'resume_after', '{"ingest_deliveries": "reset"}'::jsonb));
select is((select count(*)::int from ops.cleanup_checkpoints where name = 'ingest_deliveries'), 0,
          'a ledger read to its end starts over next time');

select * from finish();
rollback;
