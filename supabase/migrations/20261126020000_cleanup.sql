-- ops-cleanup: the seed's retention table, archive first, nothing lost.
--
-- The planner (Rust, in the ops-cleanup function) decides; these functions
-- read its input and apply its decisions, each in one transaction:
--   ops.cleanup_acquire / ops.cleanup_release   one cleanup at a time (a lease
--                                               row: works through the
--                                               transaction pooler, unlike a
--                                               session advisory lock);
--   ops.cleanup_read                            the planner's input, from the
--                                               checkpoint on;
--   ops.cleanup_commit                          record the verified archives,
--                                               delete exactly the archived rows
--                                               that did not change since they
--                                               were read, queue the S3 deletes,
--                                               move the checkpoint;
--   ops.cleanup_s3_deleted                      forget S3 deletes once done.

-- Every archive object written, verified, and what it holds.
create table ops.cleanup_archives (
    object_key  text primary key
        constraint cleanup_archives_key_length check (char_length(object_key) between 1 and 1024),
    bucket      text not null,
    sha256      text not null
        constraint cleanup_archives_sha256_format check (sha256 ~ '^[0-9a-f]{64}$'),
    archive_table text not null
        constraint cleanup_archives_table_valid check (archive_table in ('runs', 'run_events', 'artifacts', 'backups')),
    row_count   integer not null check (row_count >= 0),
    size_bytes  bigint not null check (size_bytes >= 0),
    ids         text[] not null,
    project_ids text[] not null,
    archived_at timestamptz not null default now()
);
alter table ops.cleanup_archives enable row level security;
comment on table ops.cleanup_archives is
    'Archive objects written by ops-cleanup (verified by SHA-256 before any delete) and the rows they hold.';

-- Where each deleted run went, and what referred to it: deleting a run sets
-- run_id to null on its artifacts and backups, so a restore needs the links.
create table ops.cleanup_archived_runs (
    run_id       text primary key,
    project_id   text not null,
    object_key   text not null references ops.cleanup_archives (object_key),
    artifact_ids uuid[] not null default '{}',
    backup_ids   uuid[] not null default '{}',
    deleted_at   timestamptz not null default now()
);
alter table ops.cleanup_archived_runs enable row level security;
create index cleanup_archived_runs_project_idx on ops.cleanup_archived_runs (project_id, deleted_at);
-- The runs of one archive object (a restore by object key).
create index cleanup_archived_runs_object_key_idx on ops.cleanup_archived_runs (object_key);
comment on table ops.cleanup_archived_runs is
    'Every run ops-cleanup deleted: its archive object and the artifacts and backups that referred to it.';

-- S3 objects to delete (pruned backup dumps, expired artifact blobs). Queued
-- in the transaction that deletes their rows, removed once S3 confirms, so a
-- failure in between leaves a retry, never a dangling row or a lost delete.
create table ops.cleanup_s3_deletes (
    uri        text primary key,
    reason     text not null,
    row_id     text not null,
    queued_at  timestamptz not null default now()
);
alter table ops.cleanup_s3_deletes enable row level security;

-- Runs cleanup must leave alone until a date: a restored run is held, or the
-- next cleanup would archive and delete it again at once.
create table ops.cleanup_holds (
    run_id     text primary key,
    held_until timestamptz not null,
    reason     text not null
        constraint cleanup_holds_reason_length check (char_length(reason) between 1 and 200),
    created_at timestamptz not null default now()
);
alter table ops.cleanup_holds enable row level security;

-- Where the next invocation resumes, per table.
create table ops.cleanup_checkpoints (
    name       text primary key,
    cursor     jsonb not null,
    updated_at timestamptz not null default now()
);
alter table ops.cleanup_checkpoints enable row level security;

create table ops.cleanup_leases (
    name       text primary key,
    holder     text not null,
    expires_at timestamptz not null
);
alter table ops.cleanup_leases enable row level security;

grant select, insert, update, delete on
    ops.cleanup_archives, ops.cleanup_archived_runs, ops.cleanup_s3_deletes,
    ops.cleanup_holds, ops.cleanup_checkpoints, ops.cleanup_leases
    to service_role;

-- Runs as the planner reads them: `{"run": <row>, "events": [<rows>]}`,
-- events in id order. The events of the whole batch come from one scan per
-- partition (an index scan over the array of ids), not one probe per run.
create function ops.cleanup_run_candidates(p_run_ids text[])
returns table (run_id text, candidate jsonb)
language sql
stable
set search_path = ''
set timezone = 'UTC'
as $$
    with events as (
        select e.run_id, jsonb_agg(to_jsonb(e) order by e.event_id) as events
          from ops.run_events e
         where e.run_id = any (p_run_ids)
         group by e.run_id
    )
    select r.run_id, jsonb_build_object('run', to_jsonb(r), 'events', coalesce(ev.events, '[]'::jsonb))
      from ops.runs r
      left join events ev on ev.run_id = r.run_id
     where r.run_id = any (p_run_ids)
$$;

-- What a run looked like when it was read: the commit deletes it only if
-- this is unchanged. It covers the run's events too, since deleting the run
-- deletes them. (The batch form is md5(candidate::text) over
-- ops.cleanup_run_candidates, which is what read and commit use.)
create function ops.cleanup_run_guard(p_run_id text)
returns text
language sql
stable
set search_path = ''
as $$
    select md5(c.candidate::text) from ops.cleanup_run_candidates(array[p_run_id]) c
$$;

-- Takes the cleanup lease for `p_seconds`, or says someone else holds it.
create function ops.cleanup_acquire(p_holder text, p_seconds integer)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    insert into ops.cleanup_leases as l (name, holder, expires_at)
    values ('cleanup', p_holder, now() + make_interval(secs => p_seconds))
    on conflict (name) do update
        set holder = excluded.holder, expires_at = excluded.expires_at
        where l.expires_at < now() or l.holder = excluded.holder;
    return found;
end;
$$;

create function ops.cleanup_release(p_holder text)
returns void
language sql
set search_path = ''
as $$
    delete from ops.cleanup_leases where name = 'cleanup' and holder = p_holder
$$;

-- The planner's input: `{"input": PlanInput, "guards": {...}}`, as text so
-- no driver turns its numbers into doubles. Reads at most `p_limit` rows of
-- each table after its checkpoint, and only rows old enough for the
-- shortest retention of their table.
create function ops.cleanup_read(p_budget jsonb, p_limit integer)
returns text
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
    v_now        timestamptz := now();
    v_runs_days  integer;
    v_art_days   integer;
    v_events_before timestamptz;
    v_run_cursor jsonb;
    v_art_cursor jsonb;
    v_runs       jsonb;
    v_run_ids    text[];
    v_run_guards jsonb;
    v_artifacts  jsonb;
    v_backups    jsonb;
    v_events     jsonb;
    v_event_count integer;
begin
    select min(retain_days) into v_runs_days
      from ops.retention_policies where target = 'runs';
    select min(retain_days) into v_art_days
      from ops.retention_policies where target = 'artifacts';
    -- Run events go by whole months: the month holding now - retention and
    -- everything after it stays.
    select date_trunc('month', v_now - make_interval(days => min(retain_days)))
      into v_events_before
      from ops.retention_policies where target = 'run_events' and project_id is null;
    select cursor into v_run_cursor from ops.cleanup_checkpoints where name = 'runs';
    select cursor into v_art_cursor from ops.cleanup_checkpoints where name = 'artifacts';

    with picked as (
        select r.run_id, r.finished_at
          from ops.runs r
         where v_runs_days is not null
           and r.finished_at is not null
           and r.finished_at < v_now - make_interval(days => v_runs_days)
           and not exists (select from ops.cleanup_holds h
                            where h.run_id = r.run_id and h.held_until > v_now)
           and (v_run_cursor is null
                or (r.finished_at, r.run_id) > ((v_run_cursor ->> 'finished_at')::timestamptz, v_run_cursor ->> 'run_id'))
         order by r.finished_at, r.run_id
         limit p_limit
    ), candidates as (
        select p.run_id, p.finished_at, c.candidate
          from picked p
          join ops.cleanup_run_candidates(array(select run_id from picked)) c using (run_id)
    )
    select coalesce(jsonb_agg(c.candidate order by c.finished_at, c.run_id), '[]'::jsonb),
           coalesce(array_agg(c.run_id), '{}'),
           coalesce(jsonb_object_agg(c.run_id, md5(c.candidate::text)), '{}'::jsonb)
      into v_runs, v_run_ids, v_run_guards
      from candidates c;

    select coalesce(jsonb_agg(to_jsonb(a) order by a.created_at, a.artifact_id), '[]'::jsonb)
      into v_artifacts
      from (select a.*
              from ops.artifacts a
             where v_art_days is not null
               and a.created_at < v_now - make_interval(days => v_art_days)
               and (v_art_cursor is null
                    or (a.created_at, a.artifact_id::text)
                       > ((v_art_cursor ->> 'created_at')::timestamptz, v_art_cursor ->> 'artifact_id'))
             order by a.created_at, a.artifact_id
             limit p_limit) a;

    -- Backups are judged as whole series (grandfather-father-son needs the
    -- newest backup of each series to anchor its windows).
    select coalesce(jsonb_agg(to_jsonb(b) order by b.created_at, b.backup_id), '[]'::jsonb)
      into v_backups
      from ops.backups b;

    select coalesce(jsonb_agg(to_jsonb(e) order by e.created_at, e.event_id), '[]'::jsonb), count(*)
      into v_events, v_event_count
      from (select e.*
              from ops.run_events e
             where v_events_before is not null and e.created_at < v_events_before
               -- Events of the runs read above travel inside their runs.
               and not (e.run_id = any (v_run_ids))
             order by e.created_at, e.event_id
             limit p_limit) e;

    return jsonb_build_object(
        'input', jsonb_build_object(
            'now', to_jsonb(v_now),
            'policies', coalesce((select jsonb_agg(jsonb_build_object(
                    'project_id', p.project_id, 'target', p.target,
                    'class', p.class, 'retain_days', p.retain_days) order by p.policy_id)
                from ops.retention_policies p), '[]'::jsonb),
            'budget', p_budget,
            'lifecycle', jsonb_build_object('backup_locations', '[]'::jsonb),
            'runs', v_runs,
            'approvals', coalesce((select jsonb_agg(to_jsonb(a) order by a.approval_id)
                                     from ops.approvals a where a.run_id = any(v_run_ids)), '[]'::jsonb),
            'artifacts', v_artifacts,
            'backups', v_backups,
            'run_events', jsonb_build_object(
                'partitions', coalesce((select jsonb_agg(c.relname::text order by c.relname)
                                          from pg_catalog.pg_inherits i
                                          join pg_catalog.pg_class c on c.oid = i.inhrelid
                                         where i.inhparent = 'ops.run_events'::regclass), '[]'::jsonb),
                'events', v_events,
                'complete', v_event_count < p_limit)),
        'guards', jsonb_build_object(
            'runs', v_run_guards,
            'artifacts', coalesce((select jsonb_object_agg(a ->> 'artifact_id', md5(a::text))
                                     from jsonb_array_elements(v_artifacts) a), '{}'::jsonb),
            'backups', coalesce((select jsonb_object_agg(b ->> 'backup_id', md5(b::text))
                                   from jsonb_array_elements(v_backups) b), '{}'::jsonb)),
        'events_before', to_jsonb(v_events_before)
    )::text;
end;
$$;

-- Applies one verified batch. `p_commit`:
--   {"archives": [{"key","bucket","sha256","table","rows","size_bytes","ids","project_ids"}],
--    "runs": [{"id","guard","key"}], "artifacts": [{"id","guard"}], "backups": [{"id","guard"}],
--    "s3_deletes": [{"uri","reason","row_id"}],
--    "resume_after": {"runs": {...}|"reset"|null, "artifacts": {...}|"reset"|null},
--    "drop_events_before": timestamptz|null, "archived_event_ids": [text]}
-- Only rows whose guard still matches are deleted; the answer counts them.
create function ops.cleanup_commit(p_holder text, p_commit jsonb)
returns jsonb
language plpgsql
set search_path = ''
set timezone = 'UTC'
as $$
declare
    v_runs      integer := 0;
    v_artifacts integer := 0;
    v_backups   integer := 0;
    v_events    integer := 0;
    v_changed   integer := 0;
    v_dropped   text[] := '{}'::text[];
    v_item      jsonb;
    v_before    timestamptz := (p_commit ->> 'drop_events_before')::timestamptz;
begin
    perform 1 from ops.cleanup_leases
     where name = 'cleanup' and holder = p_holder and expires_at > now()
       for update;
    if not found then
        raise exception 'ops.cleanup_commit: the cleanup lease is not held by %', p_holder
            using errcode = '55P03';
    end if;

    insert into ops.cleanup_archives
        (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids)
    select a ->> 'key', a ->> 'bucket', a ->> 'sha256', a ->> 'table', (a ->> 'rows')::integer,
           (a ->> 'size_bytes')::bigint,
           array(select jsonb_array_elements_text(a -> 'ids')),
           array(select jsonb_array_elements_text(a -> 'project_ids'))
      from jsonb_array_elements(p_commit -> 'archives') a
    on conflict (object_key) do nothing;

    -- Runs whose guard still matches, that no approval refers to and no hold
    -- keeps, are recorded with their links and deleted with their events, in
    -- one statement: every part sees the rows as they were before it, so the
    -- links are recorded before the deletes clear them. The events are
    -- deleted here rather than by the foreign key's cascade, which would go
    -- run by run, each probing every monthly partition.
    with doomed as (
        select c.id as run_id, c.key as object_key
          from jsonb_to_recordset(p_commit -> 'runs') as c(id text, guard text, key text)
          join ops.cleanup_run_candidates(
                   array(select x ->> 'id' from jsonb_array_elements(p_commit -> 'runs') x)) k
            on k.run_id = c.id
         where md5(k.candidate::text) = c.guard
           and not exists (select from ops.approvals a where a.run_id = c.id)
           and not exists (select from ops.cleanup_holds h where h.run_id = c.id and h.held_until > now())
    ), recorded as (
        insert into ops.cleanup_archived_runs (run_id, project_id, object_key, artifact_ids, backup_ids)
        select r.run_id, r.project_id, d.object_key,
               array(select a.artifact_id from ops.artifacts a where a.run_id = r.run_id),
               array(select b.backup_id from ops.backups b where b.run_id = r.run_id)
          from doomed d join ops.runs r using (run_id)
        returning run_id
    ), events as (
        delete from ops.run_events e using doomed d where e.run_id = d.run_id
        returning e.event_id
    )
    delete from ops.runs r using doomed d where r.run_id = d.run_id;
    get diagnostics v_runs = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'runs', '[]'::jsonb)) - v_runs;

    for v_item in select * from jsonb_array_elements(p_commit -> 'artifacts') loop
        delete from ops.artifacts a
         where a.artifact_id = (v_item ->> 'id')::uuid and md5(to_jsonb(a)::text) = v_item ->> 'guard';
        if found then v_artifacts := v_artifacts + 1; else v_changed := v_changed + 1; end if;
    end loop;

    for v_item in select * from jsonb_array_elements(p_commit -> 'backups') loop
        delete from ops.backups b
         where b.backup_id = (v_item ->> 'id')::uuid and md5(to_jsonb(b)::text) = v_item ->> 'guard';
        if found then v_backups := v_backups + 1; else v_changed := v_changed + 1; end if;
    end loop;

    -- A blob is deleted only if its row is gone: a changed row keeps its blob.
    insert into ops.cleanup_s3_deletes (uri, reason, row_id)
    select d ->> 'uri', d ->> 'reason', d ->> 'row_id'
      from jsonb_array_elements(p_commit -> 's3_deletes') d
     where not exists (select from ops.artifacts a where a.artifact_id::text = d ->> 'row_id')
       and not exists (select from ops.backups b where b.backup_id::text = d ->> 'row_id')
    on conflict (uri) do nothing;

    -- Run-event months go only when every event left in them is in this
    -- batch's verified archives; one event that is not (a late, back-dated
    -- log line) keeps them all for the next run.
    if v_before is not null then
        if not exists (
            select from ops.run_events e
             where e.created_at < v_before
               and not (e.event_id::text = any(array(select jsonb_array_elements_text(p_commit -> 'archived_event_ids'))))
        ) then
            select count(*) into v_events from ops.run_events where created_at < v_before;
            v_dropped := array(select ops.drop_run_event_partitions(v_before));
        end if;
    end if;

    -- Checkpoints: a cursor moves on; "reset" means the table was read to its
    -- end, and the next invocation starts over from its beginning.
    for v_item in select jsonb_build_object('name', n) from unnest(array['runs', 'artifacts']) n loop
        if jsonb_typeof(p_commit -> 'resume_after' -> (v_item ->> 'name')) = 'object' then
            insert into ops.cleanup_checkpoints (name, cursor)
            values (v_item ->> 'name', p_commit -> 'resume_after' -> (v_item ->> 'name'))
            on conflict (name) do update set cursor = excluded.cursor, updated_at = now();
        elsif p_commit -> 'resume_after' ->> (v_item ->> 'name') = 'reset' then
            delete from ops.cleanup_checkpoints where name = v_item ->> 'name';
        end if;
    end loop;

    return jsonb_build_object(
        'runs', v_runs, 'artifacts', v_artifacts, 'backups', v_backups,
        'run_events', v_events, 'partitions_dropped', to_jsonb(v_dropped), 'changed', v_changed);
end;
$$;

create function ops.cleanup_s3_deleted(p_uris text[])
returns void
language sql
set search_path = ''
as $$
    delete from ops.cleanup_s3_deletes where uri = any(p_uris)
$$;

-- The S3 deletes still owed, oldest first.
create function ops.cleanup_s3_pending(p_limit integer)
returns text
language sql
stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(to_jsonb(d) order by d.queued_at), '[]'::jsonb)::text
      from (select uri, reason, row_id, queued_at from ops.cleanup_s3_deletes
             order by queued_at limit p_limit) d
$$;

revoke all on function
    ops.cleanup_run_candidates(text[]), ops.cleanup_run_guard(text),
    ops.cleanup_acquire(text, integer), ops.cleanup_release(text),
    ops.cleanup_read(jsonb, integer), ops.cleanup_commit(text, jsonb),
    ops.cleanup_s3_deleted(text[]), ops.cleanup_s3_pending(integer)
    from public;
grant execute on function
    ops.cleanup_run_candidates(text[]), ops.cleanup_run_guard(text),
    ops.cleanup_acquire(text, integer), ops.cleanup_release(text),
    ops.cleanup_read(jsonb, integer), ops.cleanup_commit(text, jsonb),
    ops.cleanup_s3_deleted(text[]), ops.cleanup_s3_pending(integer)
    to service_role;
