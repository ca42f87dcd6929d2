-- ops-cleanup, batches that always progress and cost less.
--
-- 1. Run events past retention are deleted as their archive is verified, in
--    the batch's commit (guarded like runs: only events unchanged since they
--    were read), and a month's partition is dropped once nothing is left in
--    it. Before, archived events stayed until the whole month could be
--    dropped at once, and every batch read the same first page of them
--    again: a month with more events than one page (any real month) was
--    archived over and over and never dropped.
-- 2. Runs first, then months of events: while runs fill a whole page, no
--    month events are read, so the events of expired runs go inside their
--    runs' lines (which a run's restore needs) instead of into month
--    archives ahead of their runs.
-- 3. Batches are read as json text, not jsonb: the planner's input is text
--    in the end, and building it as jsonb first (every row converted to
--    binary jsonb, its keys sorted, then back to text) cost most of a batch.
--    The planner parses rows into typed structs; key order is nothing to it.
-- 4. Guards are row versions, not digests of the rows' text. A row version
--    is where the row is stored (partition, ctid) and the transaction that
--    wrote it (xmin); an update writes a new version, elsewhere, by another
--    (or, within one transaction, the same) transaction. A run's guard covers
--    its own version and each of its events' (event_id, version); an
--    archived event's, artifact's or backup's guard is its version. An
--    update, a late event or a deleted one changes the guard, as the digest
--    did, and the commit no longer renders every row as JSON again to find
--    out, nor deletes artifacts and backups one statement at a time. (A
--    VACUUM FULL in between moves rows too: they are kept for the next
--    cleanup, never lost.)
-- 5. An invocation stops at its CPU stand-in (bytes read, see cleanup-core's
--    READ_BUDGET_BYTES) as well as its time; with work left it releases the
--    lease and calls ops.invoke_cleanup() for the next invocation. Each
--    invocation stays within the platform's 2 s of CPU (before, a large
--    backlog ran on until the platform stopped it), and the backlog is still
--    worked off the same night, by a chain of invocations.
-- 6. Archive records name the runs their rows are or belong to (run_ids), so
--    a restore finds the events of a run that went by month, before the run
--    itself (events are kept 30 days, runs 90): ops.cleanup_restore_run_events
--    puts them back. Events of a held run (restored) are not archived again.

alter table ops.cleanup_archives add column run_ids text[] not null default '{}';
comment on column ops.cleanup_archives.run_ids is
    'The runs the archived rows are or belong to: the runs of a runs object, the runs of the events of a run_events object.';
create index cleanup_archives_run_ids_idx on ops.cleanup_archives using gin (run_ids);

drop function ops.cleanup_run_guard(text);
drop function ops.cleanup_run_candidates(text[]);

-- Runs as the planner reads them: `{"run": <row>, "events": [<rows>]}`,
-- events in id order. The events of the whole batch come from one scan per
-- partition (an index scan over the array of ids), not one probe per run.
create function ops.cleanup_run_candidates(p_run_ids text[])
returns table (run_id text, candidate json)
language sql
stable
set search_path = ''
set timezone = 'UTC'
as $$
    with events as (
        select e.run_id, json_agg(e order by e.event_id) as events
          from ops.run_events e
         where e.run_id = any (p_run_ids)
         group by e.run_id
    )
    select r.run_id, json_build_object('run', r, 'events', coalesce(ev.events, '[]'::json))
      from ops.runs r
      left join events ev on ev.run_id = r.run_id
     where r.run_id = any (p_run_ids)
$$;

-- What a run is made of, as row versions (see 4. above): its own and, in id
-- order, each event's id and version. Any change to the run or its events
-- since it was read (an update, an event added or deleted) changes it, so
-- the commit deletes a run only while this is what the read saw.
create function ops.cleanup_run_versions(p_run_ids text[])
returns table (run_id text, version text)
language sql
stable
set search_path = ''
as $$
    with events as (
        select e.run_id,
               string_agg(e.event_id::text || '@' || e.tableoid::text || '/' || e.ctid::text || '/' || e.xmin::text,
                          ',' order by e.event_id) as versions
          from ops.run_events e
         where e.run_id = any (p_run_ids)
         group by e.run_id
    )
    select r.run_id, md5(r.ctid::text || '/' || r.xmin::text || ':' || coalesce(ev.versions, ''))
      from ops.runs r
      left join events ev on ev.run_id = r.run_id
     where r.run_id = any (p_run_ids)
$$;

-- One run's guard (ops.cleanup_run_versions), for tests and by hand.
create function ops.cleanup_run_guard(p_run_id text)
returns text
language sql
stable
set search_path = ''
as $$
    select v.version from ops.cleanup_run_versions(array[p_run_id]) v
$$;

-- The planner's input: `{"input": PlanInput, "guards": {...}}`, as text so
-- no driver turns its numbers into doubles. Reads at most `p_limit` rows of
-- each table after its checkpoint, and only rows old enough for the
-- shortest retention of their table; ledger rows only once past their rule.
create or replace function ops.cleanup_read(p_budget jsonb, p_limit integer)
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
    v_runs       json;
    v_run_ids    text[];
    v_run_guards json;
    v_artifacts  json;
    v_backups    json;
    v_artifact_guards json;
    v_backup_guards json;
    v_events     json;
    v_event_count integer;
    v_event_guards json;
    v_deliveries_days integer;
    v_delivery_cursor jsonb;
    v_deliveries json;
    v_delivery_guards json;
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
    select min(retain_days) into v_deliveries_days
      from ops.retention_policies where target = 'ingest_deliveries';
    select cursor into v_delivery_cursor from ops.cleanup_checkpoints where name = 'ingest_deliveries';

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
        -- This function is stable: both read the same snapshot, so each
        -- guard is the version of exactly the rows in its candidate.
        select p.run_id, p.finished_at, c.candidate, v.version
          from picked p
          join ops.cleanup_run_candidates(array(select run_id from picked)) c using (run_id)
          join ops.cleanup_run_versions(array(select run_id from picked)) v using (run_id)
    )
    select coalesce(json_agg(c.candidate order by c.finished_at, c.run_id), '[]'::json),
           coalesce(array_agg(c.run_id), '{}'),
           coalesce(json_object_agg(c.run_id, c.version), '{}'::json)
      into v_runs, v_run_ids, v_run_guards
      from candidates c;

    select coalesce(json_agg(a.line order by a.created_at, a.artifact_id), '[]'::json),
           coalesce(json_object_agg(a.artifact_id, a.version), '{}'::json)
      into v_artifacts, v_artifact_guards
      from (select row_to_json(a) as line, a.created_at, a.artifact_id,
                   a.ctid::text || '/' || a.xmin::text as version
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
    select coalesce(json_agg(row_to_json(b) order by b.created_at, b.backup_id), '[]'::json),
           coalesce(json_object_agg(b.backup_id, b.ctid::text || '/' || b.xmin::text), '{}'::json)
      into v_backups, v_backup_guards
      from ops.backups b;

    -- Months of events only once the runs are read to their end (a full
    -- page of runs means more may follow, with events of their own); the
    -- batch then says its events are incomplete, so nothing is dropped.
    if cardinality(v_run_ids) < p_limit then
        select coalesce(json_agg(e.line order by e.created_at, e.event_id), '[]'::json), count(*),
               coalesce(json_object_agg(e.event_id, e.version), '{}'::json)
          into v_events, v_event_count, v_event_guards
          from (select row_to_json(e) as line, e.created_at, e.event_id,
                       e.tableoid::text || '/' || e.ctid::text || '/' || e.xmin::text as version
                  from ops.run_events e
                 where v_events_before is not null and e.created_at < v_events_before
                   -- Not excluded: events of the runs read above. The
                   -- planner leaves out those of runs it deletes (they go
                   -- inside their runs' lines); a run it keeps (a project
                   -- with a longer retention) still loses its old events.
                   -- A held run (restored) keeps its events with it.
                   and not exists (select from ops.cleanup_holds h
                                    where h.run_id = e.run_id and h.held_until > v_now)
                 order by e.created_at, e.event_id
                 limit p_limit) e;
    else
        v_events := '[]'::json;
        v_event_count := p_limit;
        v_event_guards := '{}'::json;
    end if;

    -- Ledger rows past the rule, in key order after the checkpoint. Deferred
    -- events still waiting for their project are read too: the planner
    -- keeps them (and says so), and the cursor moves past them, so a page
    -- of them never blocks the rows behind it. The id is compared byte by
    -- byte (collate "C"), as the planner orders it.
    select coalesce(json_agg(d.line order by d.received_at, d.webhook_id collate "C"), '[]'::json),
           coalesce(json_object_agg(d.webhook_id, d.version), '{}'::json)
      into v_deliveries, v_delivery_guards
      from (select row_to_json(d) as line, d.received_at, d.webhook_id,
                   d.ctid::text || '/' || d.xmin::text as version
              from ops.ingest_deliveries d
             where v_deliveries_days is not null
               and d.received_at < v_now - make_interval(days => v_deliveries_days)
               and (v_delivery_cursor is null
                    or (d.received_at, d.webhook_id collate "C")
                       > ((v_delivery_cursor ->> 'received_at')::timestamptz,
                          (v_delivery_cursor ->> 'webhook_id') collate "C"))
             order by d.received_at, d.webhook_id collate "C"
             limit p_limit) d;

    return json_build_object(
        'input', json_build_object(
            'now', to_json(v_now),
            'policies', coalesce((select json_agg(json_build_object(
                    'project_id', p.project_id, 'target', p.target,
                    'class', p.class, 'retain_days', p.retain_days) order by p.policy_id)
                from ops.retention_policies p), '[]'::json),
            'budget', p_budget,
            'lifecycle', json_build_object('backup_locations', '[]'::json),
            'runs', v_runs,
            'approvals', coalesce((select json_agg(a order by a.approval_id)
                                     from ops.approvals a where a.run_id = any(v_run_ids)), '[]'::json),
            'artifacts', v_artifacts,
            'backups', v_backups,
            'run_events', json_build_object(
                'partitions', coalesce((select json_agg(c.relname::text order by c.relname)
                                          from pg_catalog.pg_inherits i
                                          join pg_catalog.pg_class c on c.oid = i.inhrelid
                                         where i.inhparent = 'ops.run_events'::regclass), '[]'::json),
                'events', v_events,
                'complete', v_event_count < p_limit),
            'ingest_deliveries', v_deliveries),
        'guards', json_build_object(
            'runs', v_run_guards,
            'run_events', v_event_guards,
            'artifacts', v_artifact_guards,
            'backups', v_backup_guards,
            'ingest_deliveries', v_delivery_guards),
        'events_before', to_json(v_events_before)
    )::text;
end;
$$;

-- Applies one verified batch. `p_commit`:
--   {"archives": [{"key","bucket","sha256","table","rows","size_bytes","ids","project_ids","run_ids"}],
--    "runs": [{"id","guard","key"}], "artifacts": [{"id","guard"}], "backups": [{"id","guard"}],
--    "ingest_deliveries": [{"id","guard"}],
--    "s3_deletes": [{"uri","reason","row_id"}],
--    "resume_after": {"runs"|"artifacts"|"ingest_deliveries": {...}|"reset"|null},
--    "run_events": [{"id","guard"}], "events_before": timestamptz|null,
--    "drop_events_before": timestamptz|null}
-- Only rows whose guard still matches are deleted; the answer counts them.
create or replace function ops.cleanup_commit(p_holder text, p_commit jsonb)
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
    v_deliveries integer := 0;
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
        (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids, run_ids)
    select a ->> 'key', a ->> 'bucket', a ->> 'sha256', a ->> 'table', (a ->> 'rows')::integer,
           (a ->> 'size_bytes')::bigint,
           array(select jsonb_array_elements_text(a -> 'ids')),
           array(select jsonb_array_elements_text(a -> 'project_ids')),
           array(select jsonb_array_elements_text(coalesce(a -> 'run_ids', '[]'::jsonb)))
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
          join ops.cleanup_run_versions(
                   array(select x ->> 'id' from jsonb_array_elements(p_commit -> 'runs') x)) k
            on k.run_id = c.id
         where k.version = c.guard
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

    -- Artifacts and backups whose row version is the one read, in one
    -- statement each.
    delete from ops.artifacts a
     using jsonb_to_recordset(coalesce(p_commit -> 'artifacts', '[]'::jsonb)) as g(id uuid, guard text)
     where a.artifact_id = g.id and a.ctid::text || '/' || a.xmin::text = g.guard;
    get diagnostics v_artifacts = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'artifacts', '[]'::jsonb)) - v_artifacts;

    delete from ops.backups b
     using jsonb_to_recordset(coalesce(p_commit -> 'backups', '[]'::jsonb)) as g(id uuid, guard text)
     where b.backup_id = g.id and b.ctid::text || '/' || b.xmin::text = g.guard;
    get diagnostics v_backups = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'backups', '[]'::jsonb)) - v_backups;

    -- A blob is deleted only if its row is gone: a changed row keeps its blob.
    insert into ops.cleanup_s3_deletes (uri, reason, row_id)
    select d ->> 'uri', d ->> 'reason', d ->> 'row_id'
      from jsonb_array_elements(p_commit -> 's3_deletes') d
     where not exists (select from ops.artifacts a where a.artifact_id::text = d ->> 'row_id')
       and not exists (select from ops.backups b where b.backup_id::text = d ->> 'row_id')
    on conflict (uri) do nothing;

    -- Archived run events go now, each only if unchanged since it was read.
    delete from ops.run_events e
     using jsonb_to_recordset(coalesce(p_commit -> 'run_events', '[]'::jsonb)) as g(id bigint, guard text)
     where e.event_id = g.id
       -- Archived events are older than the cut-off: only those months are probed.
       and e.created_at < (p_commit ->> 'events_before')::timestamptz
       and e.tableoid::text || '/' || e.ctid::text || '/' || e.xmin::text = g.guard;
    get diagnostics v_events = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'run_events', '[]'::jsonb)) - v_events;

    -- Ledger rows whose version is the one read and whose archive this
    -- commit records. A deferred event still waiting for its project is
    -- never deleted, whatever the commit lists: its body is the only copy of
    -- a change Odoo made (the planner keeps it too; this is the last line).
    delete from ops.ingest_deliveries d
     using jsonb_to_recordset(coalesce(p_commit -> 'ingest_deliveries', '[]'::jsonb)) as g(id text, guard text)
     where d.webhook_id = g.id
       and d.ctid::text || '/' || d.xmin::text = g.guard
       and not (d.deferred_event is not null and d.resolved_at is null)
       and g.id in (select jsonb_array_elements_text(a -> 'ids')
                      from jsonb_array_elements(coalesce(p_commit -> 'archives', '[]'::jsonb)) a
                     where a ->> 'table' = 'ingest_deliveries');
    get diagnostics v_deliveries = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'ingest_deliveries', '[]'::jsonb)) - v_deliveries;

    -- A month goes when nothing is left in it: one event that is not
    -- archived (a late, back-dated log line, or one that changed) keeps it
    -- for the next run. Its partition is empty by then, so dropping it is
    -- cheap and loses nothing.
    if v_before is not null
       and not exists (select from ops.run_events e where e.created_at < v_before) then
        v_dropped := array(select ops.drop_run_event_partitions(v_before));
    end if;

    -- Checkpoints: a cursor moves on; "reset" means the table was read to its
    -- end, and the next invocation starts over from its beginning.
    for v_item in select jsonb_build_object('name', n) from unnest(array['runs', 'artifacts', 'ingest_deliveries']) n loop
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
        'run_events', v_events, 'ingest_deliveries', v_deliveries,
        'partitions_dropped', to_jsonb(v_dropped), 'changed', v_changed);
end;
$$;

-- ---------------------------------------------------------------------------
-- Restores the events of `p_run_ids` from lines of the run_events archive
-- object `p_object_key`, which the caller has already checked against
-- ops.cleanup_archives.sha256: the events of runs restored from a runs
-- archive (ops.cleanup_restore_runs) that had gone by month before their
-- run. Each line is an event row as the planner writes it. Lines of other
-- runs are skipped; an event already present is left as it is; a run that
-- is not in ops.runs (not restored) is refused. One transaction, all or
-- nothing; events whose month was dropped land in the default partition.
create function ops.cleanup_restore_run_events(p_object_key text, p_run_ids text[], p_lines text)
returns jsonb
language plpgsql
set search_path = ''
set timezone = 'UTC'
as $$
declare
    v_archive       ops.cleanup_archives;
    v_line_text     text;
    v_line_number   bigint;
    v_line          jsonb;
    v_event         ops.run_events;
    v_unknown       text[];
    v_count         integer;
    v_lines         integer := 0;
    v_restored      integer := 0;
    v_present       integer := 0;
    v_event_columns text[] := array(
        select a.attname::text from pg_catalog.pg_attribute a
         where a.attrelid = 'ops.run_events'::regclass and a.attnum > 0 and not a.attisdropped);
begin
    select * into v_archive from ops.cleanup_archives where object_key = p_object_key;
    if not found then
        raise exception 'ops.cleanup_restore_run_events: % is not an archive object ops-cleanup recorded', p_object_key
            using errcode = '22023';
    end if;
    if v_archive.archive_table <> 'run_events' then
        raise exception 'ops.cleanup_restore_run_events: % holds % rows, not run_events', p_object_key, v_archive.archive_table
            using errcode = '22023';
    end if;
    v_unknown := array(select r from pg_catalog.unnest(p_run_ids) r
                        where not exists (select from ops.runs x where x.run_id = r));
    if cardinality(v_unknown) > 0 then
        raise exception 'ops.cleanup_restore_run_events: run % is not in ops.runs; restore the run first',
            pg_catalog.array_to_string(v_unknown, ', ')
            using errcode = '23503';
    end if;

    for v_line_text, v_line_number in
        select t.line, t.n from pg_catalog.string_to_table(p_lines, E'\n') with ordinality as t(line, n)
    loop
        continue when pg_catalog.btrim(v_line_text) = '';
        v_lines := v_lines + 1;
        begin
            v_line := v_line_text::jsonb;
        exception when invalid_text_representation then
            raise exception 'ops.cleanup_restore_run_events: line % of % is not JSON', v_line_number, p_object_key
                using errcode = '22023';
        end;
        if pg_catalog.jsonb_typeof(v_line) is distinct from 'object' then
            raise exception 'ops.cleanup_restore_run_events: line % of %: expected an event row', v_line_number, p_object_key
                using errcode = '22023';
        end if;
        continue when not coalesce(v_line ->> 'run_id' = any (p_run_ids), false);
        v_unknown := array(select k from pg_catalog.jsonb_object_keys(v_line) k
                            where k <> all (v_event_columns));
        if cardinality(v_unknown) > 0 then
            raise exception 'ops.cleanup_restore_run_events: line % of %: ops.run_events has no column %',
                v_line_number, p_object_key, pg_catalog.array_to_string(v_unknown, ', ')
                using errcode = '22023';
        end if;
        v_event := pg_catalog.jsonb_populate_record(null::ops.run_events, v_line);
        -- The object's recorded ids are what the verified digest vouches for.
        if not (v_event.event_id::text = any (v_archive.ids)) then
            raise exception 'ops.cleanup_restore_run_events: line % of %: event % is not one of the events this object holds',
                v_line_number, p_object_key, coalesce(v_event.event_id::text, 'null')
                using errcode = '22023';
        end if;
        insert into ops.run_events select v_event.* on conflict do nothing;
        get diagnostics v_count = row_count;
        v_restored := v_restored + v_count;
        v_present := v_present + 1 - v_count;
    end loop;

    return pg_catalog.jsonb_build_object(
        'object_key', p_object_key,
        'lines', v_lines,
        'run_events_restored', v_restored,
        'run_events_already_present', v_present);
end;
$$;

revoke all on function ops.cleanup_restore_run_events(text, text[], text) from public;
grant execute on function ops.cleanup_restore_run_events(text, text[], text) to service_role;

comment on function ops.invoke_cleanup() is
    'Queues a call of ops-cleanup through pg_net (URL and secret from Vault): daily by the cron job, and by ops-cleanup itself when it stopped at a budget with work left.';

-- Months of events are read oldest first, a page at a time.
create index run_events_created_idx on ops.run_events (created_at, event_id);

revoke all on function
    ops.cleanup_run_candidates(text[]), ops.cleanup_run_versions(text[]), ops.cleanup_run_guard(text)
    from public;
grant execute on function
    ops.cleanup_run_candidates(text[]), ops.cleanup_run_versions(text[]), ops.cleanup_run_guard(text)
    to service_role;
