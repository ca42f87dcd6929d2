-- The ingest ledger's retention: ops.ingest_deliveries no longer grows by
-- one row per delivery forever.
--
-- A ledger row is what answers a redelivery of its webhook-id as a replay
-- (200, `idempotent-replayed: true`) instead of applying it again, so it must
-- outlive every retry of its sender. Standard Webhooks senders retry for
-- days: Svix's schedule ends about 28 hours after the first attempt,
-- Stripe's after 3 days. The default is 30 days: ten times the longest
-- automatic schedule, and room for a sender's operator to replay a failed
-- delivery by hand after a long outage. The rule is configurable in
-- ops.retention_policies (target `ingest_deliveries`), for all projects at
-- once (the sender retries on one schedule for every project), and never
-- shorter than 7 days, or a late retry would take effect a second time.
-- Days count from `received_at`, the first delivery.
--
-- A deferred event (an archive, unarchive or delete that arrived before its
-- project) keeps its body in the ledger until its project arrives. Until it
-- is applied (`resolved_at`) it stays, whatever its age: it is the only copy
-- of that change. Once applied it is an ordinary row.
--
-- ops-cleanup applies the rule like the others, archive first: the planner
-- (Rust) picks the rows, they are written one NDJSON line each into gzip
-- objects `ingest_deliveries/<yyyy>/<mm>/<sha256>.ndjson.gz`, read back and
-- verified, then ops.cleanup_commit records the archives and deletes exactly
-- the archived rows whose row version is still the one read (an event
-- applied in between has a new version and stays for the next run).

-- ---------------------------------------------------------------------------
-- The rule (the same in crates/ops-events/src/records.rs, both checked
-- against supabase/tests/vectors/records.json).
create or replace function ops.is_valid_retention(p_target text, p_class text, p_retain_days integer)
returns boolean
language sql immutable parallel safe
set search_path = ''
return coalesce(
    case p_target
        when 'runs' then p_class is null
        when 'run_events' then p_class is null
        when 'approvals' then p_class is null and p_retain_days is null
        when 'artifacts' then p_class is null or ops.is_valid_artifact_type(p_class)
        when 'backups' then p_class is null or ops.is_valid_backup_kind(p_class)
        when 'ingest_deliveries' then p_class is null and (p_retain_days is null or p_retain_days >= 7)
        else false
    end
    and (p_retain_days is null or p_retain_days between 1 and 3650),
    false);

alter table ops.retention_policies
    add constraint retention_policies_ingest_deliveries_global
        check (target <> 'ingest_deliveries' or project_id is null);

insert into ops.retention_policies (project_id, target, class, retain_days)
values (null, 'ingest_deliveries', null, 30);

comment on table ops.retention_policies is
    'How long cleanup keeps runs, run events, artifacts, backups and ingest deliveries; defaults (project_id null) and per-project overrides.';
comment on table ops.ingest_deliveries is
    'Ledger of applied ops-ingest deliveries, keyed by webhook-id, for exactly-once effect; kept per the ingest_deliveries retention policy, deferred events until applied.';

-- Archive records may hold ledger rows.
alter table ops.cleanup_archives
    drop constraint cleanup_archives_table_valid,
    add constraint cleanup_archives_table_valid
        check (archive_table in ('runs', 'run_events', 'artifacts', 'backups', 'ingest_deliveries'));

-- The ledger is read oldest first, a page at a time, in the planner's order.
create index ingest_deliveries_received_idx
    on ops.ingest_deliveries (received_at, webhook_id collate "C");

-- ---------------------------------------------------------------------------
-- The planner's input: `{"input": PlanInput, "guards": {...}}`, as text so
-- no driver turns its numbers into doubles. Reads at most `p_limit` rows of
-- each table after its checkpoint, and only rows old enough for the
-- shortest retention of their table. As in 20261126030000_cleanup_batches,
-- plus the ledger rows past their rule.
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
-- As in 20261126030000_cleanup_batches, plus the ledger rows.
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

