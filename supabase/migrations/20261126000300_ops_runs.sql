-- Runs (the build/deploy queue), their event log and their artifacts.
--
-- Children of a run carry the run's project_id too, under a composite
-- foreign key to (run_id, project_id) (for run events the same rule is kept
-- by statement-level triggers, see below): RLS then checks membership on the
-- row itself, without a join, and a child can never claim another project
-- than its run's.

-- ---------------------------------------------------------------------------
-- Runs.
create table ops.runs (
    run_id      text primary key
        default ('run-' || replace(gen_random_uuid()::text, '-', ''))
        constraint runs_run_id_format check (ops.is_valid_run_id(run_id)),
    project_id  text not null
        references ops.projects (project_id) on delete restrict,
    kind        text not null
        constraint runs_kind_valid check (ops.is_valid_run_kind(kind)),
    -- The environment a run acts on; null for runs that act on none (builds).
    environment text
        constraint runs_environment_valid check (ops.is_valid_environment(environment)),
    status      text not null default 'queued'
        constraint runs_status_valid check (ops.is_valid_run_status(status)),
    git_ref     text
        constraint runs_git_ref_length check (char_length(git_ref) between 1 and 255)
        constraint runs_git_ref_printable check (git_ref !~ '[\u0001-\u0020\u007f-\u009f]'),
    commit_sha  text
        constraint runs_commit_sha_format check (ops.is_valid_commit_sha(commit_sha)),
    created_by  text not null
        constraint runs_created_by_format check (ops.is_valid_created_by(created_by)),
    metadata    jsonb not null default '{}'::jsonb
        constraint runs_metadata_object check (jsonb_typeof(metadata) = 'object'),
    created_at  timestamptz not null default now(),
    started_at  timestamptz,
    finished_at timestamptz,
    updated_at  timestamptz not null default now(),
    -- A run is finished exactly when its status is final; a run that ran or
    -- succeeded has started.
    constraint runs_finished_when_final
        check ((finished_at is not null) = ops.is_finished_run_status(status)),
    constraint runs_started_when_ran
        check (status not in ('running', 'success') or started_at is not null),
    constraint runs_finished_after_start
        check (finished_at >= started_at),
    -- The target of the children's composite foreign keys.
    constraint runs_run_project_key unique (run_id, project_id)
);
alter table ops.runs enable row level security;

comment on table ops.runs is
    'Build, test, deploy, backup and restore runs of a project: the control plane''s work queue.';
comment on column ops.runs.created_by is
    'Who asked for the run: an auth.users.id as lowercase text, or an Odoo login (see ops.is_valid_created_by).';

-- Console: the runs of a project, newest first (keyset pagination on
-- created_at, run_id).
create index runs_project_created_idx on ops.runs (project_id, created_at desc, run_id desc);
-- Cleanup: finished runs older than the retention, oldest first.
create index runs_finished_at_idx on ops.runs (finished_at) include (project_id)
    where finished_at is not null;
-- Workers: the queue of runs still to do.
create index runs_unfinished_idx on ops.runs (created_at) include (project_id, kind)
    where finished_at is null;

-- Keeps a run's history honest: who, what and where never change, the status
-- only moves forward, and the timestamps follow the status.
create function ops.runs_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'UPDATE' then
        if (new.run_id, new.project_id, new.kind, new.created_by, new.created_at)
           is distinct from (old.run_id, old.project_id, old.kind, old.created_by, old.created_at)
        then
            raise exception 'run %: run_id, project_id, kind, created_by and created_at cannot change', old.run_id
                using errcode = '23514';
        end if;
        if new.status is distinct from old.status
           and not ops.is_valid_run_transition(old.status, new.status)
        then
            raise exception 'run %: status cannot go from % to %', old.run_id, old.status, new.status
                using errcode = '23514';
        end if;
        new.updated_at := now();
    end if;
    if new.status in ('running', 'success') and new.started_at is null then
        new.started_at := now();
    end if;
    if ops.is_finished_run_status(new.status) and new.finished_at is null then
        new.finished_at := now();
    end if;
    return new;
end;
$$;
revoke all on function ops.runs_guard() from public;

create trigger runs_guard
    before insert or update on ops.runs
    for each row execute function ops.runs_guard();

grant select, insert, update, delete on ops.runs to service_role;
grant select on ops.runs to authenticated;
grant insert (run_id, project_id, kind, environment, git_ref, commit_sha, created_by, metadata),
      update (status)
    on ops.runs to authenticated;

create policy runs_read on ops.runs
    for select to authenticated
    using (project_id in (select ops_private.member_project_ids('project.read')));

-- A member who may start runs queues one in their own name.
create policy runs_start on ops.runs
    for insert to authenticated
    with check (project_id in (select ops_private.member_project_ids('run.create'))
                and created_by = (select auth.uid())::text
                and status = 'queued');

-- The only change the API makes to a run is cancelling it; workers
-- (service_role) move it through its other states.
create policy runs_cancel on ops.runs
    for update to authenticated
    using (project_id in (select ops_private.member_project_ids('run.cancel')))
    with check (project_id in (select ops_private.member_project_ids('run.cancel'))
                and status = 'cancelled');

-- ---------------------------------------------------------------------------
-- Run events: the append-only log of a run, partitioned by month of
-- created_at (UTC month boundaries) so retention drops whole partitions.
--
-- A default partition catches any row whose month has no partition yet (the
-- cron job that creates them was off, or an event arrives with an old or
-- future timestamp): losing a worker's log line or failing its transaction
-- would be worse than one unpartitioned row. ops.create_run_event_partitions
-- moves such rows into their month when it creates it; a non-empty default
-- partition is a signal worth alerting on.
create sequence ops.run_events_event_id_seq as bigint;

create table ops.run_events (
    -- Identity columns are not allowed on partitioned tables before
    -- PostgreSQL 17, hence the explicit sequence.
    event_id   bigint not null default nextval('ops.run_events_event_id_seq'),
    run_id     text not null,
    project_id text not null,
    created_at timestamptz not null default now(),
    level      text not null default 'info'
        constraint run_events_level_valid check (ops.is_valid_event_level(level)),
    event_type text not null
        constraint run_events_event_type_format check (ops.is_valid_run_event_type(event_type)),
    message    text not null default ''
        constraint run_events_message_length check (char_length(message) <= 10000),
    data       jsonb not null default '{}'::jsonb
        constraint run_events_data_object check (jsonb_typeof(data) = 'object'),
    -- Its run: ops.runs (run_id, project_id), kept by the triggers below.
    primary key (event_id, created_at)
) partition by range (created_at);
alter table ops.run_events enable row level security;

alter sequence ops.run_events_event_id_seq owned by ops.run_events.event_id;

comment on table ops.run_events is
    'Append-only event log of runs, partitioned by UTC month of created_at.';

-- Console and the deletes of ops.runs: the events of one run, in order.
create index run_events_run_idx on ops.run_events (run_id, created_at, event_id);

create table ops.run_events_default partition of ops.run_events default;
alter table ops.run_events_default enable row level security;

-- A run's events belong to it: the rule a foreign key on (run_id,
-- project_id) to ops.runs would state, with ON DELETE CASCADE, kept instead
-- by statement-level triggers. A foreign key checks and cascades one row at
-- a time, and on a partitioned table each of those probes every monthly
-- partition: deleting 2,000 runs took 45-72 ms with it and 15 ms without
-- (BENCHMARKS.md), a third of a cleanup commit. One statement per insert,
-- update or delete does the same work with one index scan per partition.
-- Like a foreign key's checks, these run as the tables' owner (past RLS) and
-- lock the runs they find FOR KEY SHARE, so that a run cannot be deleted
-- while an event for it is being added: the deleting transaction waits, then
-- deletes the new events too; an event whose run went first is refused.
create function ops_private.run_events_have_runs()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_run_id     text;
    v_project_id text;
begin
    perform 1
       from ops.runs r
      where (r.run_id, r.project_id) in (select n.run_id, n.project_id from new_rows n)
        for key share of r;
    select n.run_id, n.project_id into v_run_id, v_project_id
      from new_rows n
     where not exists (select from ops.runs r
                        where r.run_id = n.run_id and r.project_id = n.project_id)
     limit 1;
    if found then
        raise exception 'run_events: run % of project % does not exist', v_run_id, v_project_id
            using errcode = '23503', constraint = 'run_events_run_fk',
                  schema = 'ops', table = 'run_events';
    end if;
    return null;
end;
$$;

-- The cascade: the events of the deleted runs, in one statement. (A run's
-- key cannot change, ops.runs_guard refuses it, so there is no update side.)
create function ops_private.runs_delete_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    delete from ops.run_events e
     where e.run_id = any (array(select o.run_id from old_rows o));
    return null;
end;
$$;

revoke all on function ops_private.run_events_have_runs(), ops_private.runs_delete_events() from public;

-- Puts the check on `p_table`: on the parent (every statement through
-- ops.run_events) and on each partition (ops.create_run_event_partitions),
-- for statements that name a partition directly, since a statement trigger
-- fires only for the table its statement names.
create function ops_private.check_run_events_runs(p_table regclass)
returns void
language plpgsql
set search_path = ''
as $$
begin
    execute pg_catalog.format(
        'create trigger run_events_have_runs_insert after insert on %s
             referencing new table as new_rows
             for each statement execute function ops_private.run_events_have_runs()', p_table);
    execute pg_catalog.format(
        'create trigger run_events_have_runs_update after update on %s
             referencing new table as new_rows
             for each statement execute function ops_private.run_events_have_runs()', p_table);
end;
$$;
revoke all on function ops_private.check_run_events_runs(regclass) from public;
select ops_private.check_run_events_runs('ops.run_events');
select ops_private.check_run_events_runs('ops.run_events_default');
create trigger runs_delete_events after delete on ops.runs
    referencing old table as old_rows
    for each statement execute function ops_private.runs_delete_events();

-- Creates the partitions of the month of `p_from` and the `p_months_ahead`
-- months after it, and returns the names of those it created. Idempotent and
-- safe to run concurrently (cron and a migration, say). Rows already caught
-- by the default partition for a month are moved into the new partition.
create function ops.create_run_event_partitions(
    p_months_ahead integer default 2,
    p_from timestamptz default now()
)
returns setof text
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_first date;
    v_month date;
    v_lower timestamptz;
    v_upper timestamptz;
    v_name  text;
begin
    if p_months_ahead is null or p_months_ahead not between 0 and 24 then
        raise exception 'months ahead must be between 0 and 24, got %', p_months_ahead
            using errcode = '22023';
    end if;
    if p_from is null then
        raise exception 'the start month must not be null' using errcode = '22004';
    end if;
    -- One creator at a time; the others then see its partitions as existing.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ops.create_run_event_partitions'));
    v_first := pg_catalog.date_trunc('month', p_from at time zone 'UTC')::date;
    for v_offset in 0 .. p_months_ahead loop
        v_month := (v_first + pg_catalog.make_interval(months => v_offset))::date;
        v_lower := v_month::timestamp at time zone 'UTC';
        v_upper := (v_month + interval '1 month')::timestamp at time zone 'UTC';
        v_name := 'run_events_p' || pg_catalog.to_char(v_month, 'YYYYMM');
        continue when pg_catalog.to_regclass('ops.' || v_name) is not null;

        if exists (select from ops.run_events_default d
                   where d.created_at >= v_lower and d.created_at < v_upper) then
            -- Attaching a partition fails while the default partition holds
            -- rows of its range, so those rows move first.
            execute pg_catalog.format(
                'create table ops.%I (like ops.run_events including defaults including constraints)',
                v_name);
            execute pg_catalog.format(
                'with moved as (delete from ops.run_events_default where created_at >= $1 and created_at < $2 returning *)
                 insert into ops.%I select * from moved', v_name)
                using v_lower, v_upper;
            execute pg_catalog.format(
                'alter table ops.run_events attach partition ops.%I for values from (%L) to (%L)',
                v_name, v_lower, v_upper);
        else
            execute pg_catalog.format(
                'create table ops.%I partition of ops.run_events for values from (%L) to (%L)',
                v_name, v_lower, v_upper);
        end if;
        -- Partitions are reached through ops.run_events only, but are closed
        -- by themselves too.
        execute pg_catalog.format('alter table ops.%I enable row level security', v_name);
        -- A statement that names the partition checks its events' runs too.
        perform ops_private.check_run_events_runs(
            pg_catalog.format('ops.%I', v_name)::pg_catalog.regclass);
        return next v_name;
    end loop;
end;
$$;

-- Drops the monthly partitions that lie entirely before `p_before` (the
-- retention cut-off the cleanup computed) and deletes the default
-- partition's rows older than it; returns the names of the dropped
-- partitions. A month is dropped once all of it is older than the cut-off, so
-- events live at most one month longer than their retention.
create function ops.drop_run_event_partitions(p_before timestamptz)
returns setof text
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_name text;
begin
    if p_before is null then
        raise exception 'the cut-off must not be null' using errcode = '22004';
    end if;
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ops.create_run_event_partitions'));
    for v_name in
        select c.relname::text
        from pg_catalog.pg_inherits i
        join pg_catalog.pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'ops.run_events'::regclass
          and c.relname ~ '^run_events_p[0-9]{6}$'
          and (pg_catalog.to_date(pg_catalog.substr(c.relname, 13), 'YYYYMM') + interval '1 month')::timestamp
              at time zone 'UTC' <= p_before
        order by c.relname
    loop
        execute pg_catalog.format('drop table ops.%I', v_name);
        return next v_name;
    end loop;
    delete from ops.run_events_default d where d.created_at < p_before;
end;
$$;

revoke all on function ops.create_run_event_partitions(integer, timestamptz) from public;
revoke all on function ops.drop_run_event_partitions(timestamptz) from public;
grant execute on function ops.create_run_event_partitions(integer, timestamptz) to service_role;
grant execute on function ops.drop_run_event_partitions(timestamptz) to service_role;

-- This month and the next two exist from the start.
select ops.create_run_event_partitions(2);

-- And the coming months keep existing: daily, because it is idempotent and a
-- missed run must not leave a month without its partition. pg_cron is one of
-- the extensions hosted Supabase lets `postgres` enable, in pg_catalog as its
-- docs do; where it cannot be loaded (a server without it in
-- shared_preload_libraries) this statement fails and says so.
create extension if not exists pg_cron with schema pg_catalog;

select cron.schedule(
    'ops-create-run-event-partitions', '17 3 * * *',
    'select ops.create_run_event_partitions(2)');

-- Events are appended by workers and removed only by retention: nobody
-- updates them, service_role included.
grant select, insert, delete on ops.run_events to service_role;
grant usage on sequence ops.run_events_event_id_seq to service_role;
grant select on ops.run_events to authenticated;

create policy run_events_read on ops.run_events
    for select to authenticated
    using (project_id in (select ops_private.member_project_ids('project.read')));

-- ---------------------------------------------------------------------------
-- Artifacts: metadata only; the blobs live in a registry or S3 (rule 2).
--
-- An artifact outlives its run when its retention is longer (deploy evidence:
-- a year; runs: 90 days), so deleting the run only clears run_id.
create table ops.artifacts (
    artifact_id   uuid primary key default gen_random_uuid(),
    project_id    text not null
        references ops.projects (project_id) on delete restrict,
    run_id        text,
    artifact_type text not null
        constraint artifacts_artifact_type_valid check (ops.is_valid_artifact_type(artifact_type)),
    storage_path  text not null,
    size_bytes    bigint not null
        constraint artifacts_size_bytes_nonnegative check (size_bytes >= 0),
    digest        text not null
        constraint artifacts_digest_format check (ops.is_valid_digest(digest)),
    created_at    timestamptz not null default now(),
    constraint artifacts_storage_path_location
        check (ops.is_valid_artifact_location(artifact_type, storage_path)),
    constraint artifacts_pinned_image_digest
        check (ops.image_digest_matches(storage_path, digest)),
    constraint artifacts_run_fk foreign key (run_id, project_id)
        references ops.runs (run_id, project_id) on delete set null (run_id),
    -- The ingest upsert's key: a run reports each stored object once.
    constraint artifacts_run_storage_path_key unique (run_id, storage_path)
);
alter table ops.artifacts enable row level security;

comment on table ops.artifacts is
    'Artifact metadata; images live in a container registry, everything else in S3.';

-- Console: a project's artifacts, newest first.
create index artifacts_project_created_idx on ops.artifacts (project_id, created_at desc);
-- Cleanup: artifacts of a type older than its retention.
create index artifacts_type_created_idx on ops.artifacts (artifact_type, created_at) include (project_id);
-- The run's artifacts: what deleting a run (its foreign key's SET NULL)
-- looks up, once per deleted run, so cleanup does not scan the table for each.
create index artifacts_run_idx on ops.artifacts (run_id, project_id) where run_id is not null;

grant select, insert, update, delete on ops.artifacts to service_role;
grant select on ops.artifacts to authenticated;

create policy artifacts_read on ops.artifacts
    for select to authenticated
    using (project_id in (select ops_private.member_project_ids('project.read')));
