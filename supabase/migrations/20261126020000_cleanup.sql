-- ops-cleanup: the seed's retention table, archive first, nothing lost.
--
-- The planner (Rust, in the ops-cleanup function) decides; these functions
-- read its input and apply its decisions, each in one transaction:
--   ops.cleanup_acquire / ops.cleanup_release   one cleanup at a time (a lease
--                                               row: works through the
--                                               transaction pooler, unlike a
--                                               session advisory lock);
--   ops.cleanup_policies                        the retention policies as the
--                                               planner reads them;
--   ops.cleanup_read                            the planner's input, from the
--                                               checkpoint on, within the
--                                               bounds the machine computed
--                                               (cleanup_plan::fetch_bounds)
--                                               from the policies and its now;
--   ops.cleanup_commit                          record the verified archives,
--                                               delete exactly the archived rows
--                                               that did not change since they
--                                               were read, queue the S3 deletes,
--                                               move the checkpoint;
--   ops.cleanup_s3_deleted                      forget S3 deletes once done.
--
-- Bounds and clocks: the machine (cleanup-core) reads the policies
-- (ops.cleanup_policies), computes each table's bound with
-- cleanup_plan::fetch_bounds and the invocation's now, and passes both to
-- ops.cleanup_read, which only applies them (a null bound: nothing of that
-- table expires, none of it is read). The read returns the policies of its
-- own snapshot, and the machine reads again if they no longer give the bounds
-- it asked with. Holds are compared with the same now; the lease and the
-- commit keep SQL's clock, since a lease is judged under its row's lock.
--
-- How a batch is read and committed:
--   * Runs first, then months of events: while runs fill a whole page, no
--     month events are read, so the events of expired runs go inside their
--     runs' lines (which a run's restore needs) instead of into month
--     archives ahead of their runs.
--   * Run events past retention are deleted as their archive is verified, in
--     the batch's commit (guarded like runs: only events unchanged since they
--     were read), and a month's partition is dropped once nothing is left in
--     it, so a month with more events than one page is worked off page by
--     page instead of being archived again by every batch.
--   * Batches are read as json text, not jsonb: the planner's input is text
--     in the end, and building it as jsonb first (every row converted to
--     binary jsonb, its keys sorted, then back to text) would cost most of a
--     batch. The planner parses rows into typed structs; key order is
--     nothing to it.
--   * Guards are row versions, not digests of the rows' text. A row version
--     is where the row is stored (partition, ctid) and the transaction that
--     wrote it (xmin); an update writes a new version, elsewhere, by another
--     (or, within one transaction, the same) transaction. A run's guard
--     covers its own version and each of its events' (event_id, version); an
--     archived event's, artifact's, backup's or ledger row's guard is its
--     version. An update, a late event or a deleted one changes the guard,
--     and the commit need not render every row as JSON again to find out,
--     nor delete artifacts and backups one statement at a time. (A VACUUM
--     FULL in between moves rows too: they are kept for the next cleanup,
--     never lost.)
--   * Archive records name the runs their rows are or belong to (run_ids), so
--     a restore finds the events of a run that went by month before the run
--     itself (events are kept 30 days, runs 90).

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
    archived_at timestamptz not null default now(),
    run_ids     text[] not null default '{}'
);
alter table ops.cleanup_archives enable row level security;
comment on table ops.cleanup_archives is
    'Archive objects written by ops-cleanup (verified by SHA-256 before any delete) and the rows they hold.';
comment on column ops.cleanup_archives.run_ids is
    'The runs the archived rows are or belong to: the runs of a runs object, the runs of the events of a run_events object.';
create index cleanup_archives_run_ids_idx on ops.cleanup_archives using gin (run_ids);

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

-- A row version (see above), the one form every guard takes:
-- `row(x.tableoid, x.ctid, x.xmin)::ops.row_version::text`, the same text
-- for the read that hands it out and the commit that compares it. A type
-- rather than a helper function: a SQL function is inlined into the query
-- only without a `set search_path`, which the advisors require of every
-- function, and a call per row (1-2 us) would add tens of milliseconds to a
-- 2,000-run batch, which reads and compares some 24,000 row versions. The
-- cast costs next to nothing; the text is PostgreSQL's record output, e.g.
-- `(16601,"(0,3)",812)`.
create type ops.row_version as (partition oid, ctid tid, xmin xid);
comment on type ops.row_version is
    'Where a row version is stored (partition, ctid) and the transaction that wrote it (xmin): the guard of a row ops-cleanup read.';

-- The runs `p_run_ids` as the planner reads them, each with its guard, in
-- one pass over their events: `candidate` is `{"run": {..}, "events": [..]}`
-- (only when `p_lines`; the commit needs the guards alone), `version` the
-- run's row version and every one of its events' (event_id, row version).
-- The read and the commit compute the guard here, so it has one definition.
-- The events of the whole batch come from one scan per partition (an index
-- scan over the array of ids), not one probe per run.
create function ops.cleanup_run_candidates(p_run_ids text[], p_lines boolean)
returns table (run_id text, candidate json, version text)
language sql
stable
set search_path = ''
set timezone = 'UTC'
as $$
    with events as (
        select e.run_id,
               -- Skipped row by row when only the guards are wanted.
               json_agg(e order by e.event_id) filter (where p_lines) as events,
               string_agg(e.event_id::text || '@' || row(e.tableoid, e.ctid, e.xmin)::ops.row_version::text,
                          ',' order by e.event_id) as versions
          from ops.run_events e
         where e.run_id = any (p_run_ids)
         group by e.run_id
    )
    select r.run_id,
           case when p_lines then json_build_object('run', r, 'events', coalesce(ev.events, '[]'::json)) end,
           md5(row(r.tableoid, r.ctid, r.xmin)::ops.row_version::text || ':' || coalesce(ev.versions, ''))
      from ops.runs r
      left join events ev on ev.run_id = r.run_id
     where r.run_id = any (p_run_ids)
$$;

-- The runs' guards alone (see ops.cleanup_run_candidates).
create function ops.cleanup_run_versions(p_run_ids text[])
returns table (run_id text, version text)
language sql
stable
set search_path = ''
as $$
    select c.run_id, c.version from ops.cleanup_run_candidates(p_run_ids, false) c
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

-- The retention policies as the planner reads them, in policy order: the one
-- definition of their JSON form, for the machine's bounds and for the read.
create function ops.cleanup_policies()
returns text
language sql
stable
set search_path = ''
as $$
    select coalesce(json_agg(json_build_object(
               'project_id', p.project_id, 'target', p.target,
               'class', p.class, 'retain_days', p.retain_days) order by p.policy_id), '[]'::json)::text
      from ops.retention_policies p
$$;

-- The planner's input: `{"input": PlanInput, "guards": {...}}`, as text so
-- no driver turns its numbers into doubles. Reads at most `p_limit` rows of
-- each table after its checkpoint, and only rows before their table's bound
-- (cleanup_plan::FetchBounds): finished runs by finished_at, artifacts by
-- created_at, run events by created_at (the start of a month), ledger rows
-- by received_at.
create function ops.cleanup_read(
    p_budget jsonb,
    p_limit integer,
    p_now timestamptz,
    p_runs_finished_before timestamptz,
    p_artifacts_created_before timestamptz,
    p_run_events_before timestamptz,
    p_ingest_deliveries_received_before timestamptz)
returns text
language plpgsql
stable
set search_path = ''
set timezone = 'UTC'
as $$
declare
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
    v_delivery_cursor jsonb;
    v_deliveries json;
    v_delivery_guards json;
begin
    -- Without a now, a hold would not keep its run.
    if p_now is null then
        raise exception 'ops.cleanup_read: p_now must not be null' using errcode = '22004';
    end if;
    select cursor into v_run_cursor from ops.cleanup_checkpoints where name = 'runs';
    select cursor into v_art_cursor from ops.cleanup_checkpoints where name = 'artifacts';
    select cursor into v_delivery_cursor from ops.cleanup_checkpoints where name = 'ingest_deliveries';

    with picked as (
        select r.run_id, r.finished_at
          from ops.runs r
         where r.finished_at < p_runs_finished_before
           and not exists (select from ops.cleanup_holds h
                            where h.run_id = r.run_id and h.held_until > p_now)
           and (v_run_cursor is null
                or (r.finished_at, r.run_id) > ((v_run_cursor ->> 'finished_at')::timestamptz, v_run_cursor ->> 'run_id'))
         order by r.finished_at, r.run_id
         limit p_limit
    ), candidates as (
        -- This function is stable: both read the same snapshot, so each
        -- guard is the version of exactly the rows in its candidate.
        select p.run_id, p.finished_at, c.candidate, c.version
          from picked p
          join ops.cleanup_run_candidates(array(select run_id from picked), true) c using (run_id)
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
                   row(a.tableoid, a.ctid, a.xmin)::ops.row_version::text as version
              from ops.artifacts a
             where a.created_at < p_artifacts_created_before
               and (v_art_cursor is null
                    or (a.created_at, a.artifact_id::text)
                       > ((v_art_cursor ->> 'created_at')::timestamptz, v_art_cursor ->> 'artifact_id'))
             order by a.created_at, a.artifact_id
             limit p_limit) a;

    -- Backups are judged as whole series (grandfather-father-son needs the
    -- newest backup of each series to anchor its windows).
    select coalesce(json_agg(row_to_json(b) order by b.created_at, b.backup_id), '[]'::json),
           coalesce(json_object_agg(b.backup_id, row(b.tableoid, b.ctid, b.xmin)::ops.row_version::text), '{}'::json)
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
                       row(e.tableoid, e.ctid, e.xmin)::ops.row_version::text as version
                  from ops.run_events e
                 where e.created_at < p_run_events_before
                   -- Not excluded: events of the runs read above. The
                   -- planner leaves out those of runs it deletes (they go
                   -- inside their runs' lines); a run it keeps (a project
                   -- with a longer retention) still loses its old events.
                   -- A held run (restored) keeps its events with it.
                   and not exists (select from ops.cleanup_holds h
                                    where h.run_id = e.run_id and h.held_until > p_now)
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
                   row(d.tableoid, d.ctid, d.xmin)::ops.row_version::text as version
              from ops.ingest_deliveries d
             where d.received_at < p_ingest_deliveries_received_before
               and (v_delivery_cursor is null
                    or (d.received_at, d.webhook_id collate "C")
                       > ((v_delivery_cursor ->> 'received_at')::timestamptz,
                          (v_delivery_cursor ->> 'webhook_id') collate "C"))
             order by d.received_at, d.webhook_id collate "C"
             limit p_limit) d;

    -- The answer is assembled once, as text: nested json_build_object calls
    -- copy each value once per level, and a batch's runs (or events) are
    -- megabytes. A 2,000-run batch's envelope took 22-25 ms that way and
    -- 10-13 ms this way, on one machine. Every value below is JSON text
    -- already; a null one is written `null`, as json_build_object would.
    return pg_catalog.format(
        '{"input":{"now":%s,"policies":%s,"budget":%s,"lifecycle":{"backup_locations":[]},'
        '"runs":%s,"approvals":%s,"artifacts":%s,"backups":%s,'
        '"run_events":{"partitions":%s,"events":%s,"complete":%s},"ingest_deliveries":%s},'
        '"guards":{"runs":%s,"run_events":%s,"artifacts":%s,"backups":%s,"ingest_deliveries":%s},'
        '"events_before":%s}',
        to_json(p_now), ops.cleanup_policies(), coalesce(p_budget::text, 'null'),
        v_runs,
        coalesce((select json_agg(a order by a.approval_id)
                    from ops.approvals a where a.run_id = any(v_run_ids)), '[]'::json),
        v_artifacts, v_backups,
        coalesce((select json_agg(c.relname::text order by c.relname)
                    from pg_catalog.pg_inherits i
                    join pg_catalog.pg_class c on c.oid = i.inhrelid
                   where i.inhparent = 'ops.run_events'::regclass), '[]'::json),
        v_events, coalesce(to_json(v_event_count < p_limit)::text, 'null'), v_deliveries,
        v_run_guards, v_event_guards, v_artifact_guards, v_backup_guards, v_delivery_guards,
        coalesce(to_json(p_run_events_before)::text, 'null'));
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

    -- The batch's runs are locked before their guards are computed. Writing
    -- an event or requesting an approval takes a key-share lock on its run
    -- until the writer commits (ops_private.run_events_have_runs,
    -- ops_private.run_exists_locked), so this lock waits for every such
    -- writer: their rows are then in the snapshot the statement below
    -- decides from, and no new ones can be written until this transaction
    -- ends. Without it, an event committed while the statement below ran was
    -- in no guard and no archive, and was still deleted with its run (by the
    -- trigger, which reads a later snapshot), and an approval committed then
    -- did not keep its run. tests/ops_cleanup.test.ts writes both.
    perform 1
       from ops.runs r
      where r.run_id = any (array(select x ->> 'id'
                                    from jsonb_array_elements(coalesce(p_commit -> 'runs', '[]'::jsonb)) x))
        for update of r;

    -- Runs whose guard still matches, that no approval refers to and no hold
    -- keeps, are recorded with their links and deleted, in one statement:
    -- every part sees the rows as they were before it, so the links are
    -- recorded before the deletes clear them. Their events go with them, by
    -- the runs' statement-level trigger (ops_private.runs_delete_events): one
    -- scan per partition for the whole batch. Deleting them here as well
    -- would only make that trigger scan them again to find them gone.
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
    )
    delete from ops.runs r using doomed d where r.run_id = d.run_id;
    get diagnostics v_runs = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'runs', '[]'::jsonb)) - v_runs;

    -- Artifacts and backups whose row version is the one read, in one
    -- statement each.
    delete from ops.artifacts a
     using jsonb_to_recordset(coalesce(p_commit -> 'artifacts', '[]'::jsonb)) as g(id uuid, guard text)
     where a.artifact_id = g.id and row(a.tableoid, a.ctid, a.xmin)::ops.row_version::text = g.guard;
    get diagnostics v_artifacts = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'artifacts', '[]'::jsonb)) - v_artifacts;

    delete from ops.backups b
     using jsonb_to_recordset(coalesce(p_commit -> 'backups', '[]'::jsonb)) as g(id uuid, guard text)
     where b.backup_id = g.id and row(b.tableoid, b.ctid, b.xmin)::ops.row_version::text = g.guard;
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
       and row(e.tableoid, e.ctid, e.xmin)::ops.row_version::text = g.guard;
    get diagnostics v_events = row_count;
    v_changed := v_changed + jsonb_array_length(coalesce(p_commit -> 'run_events', '[]'::jsonb)) - v_events;

    -- Ledger rows whose version is the one read and whose archive this
    -- commit records. A deferred event still waiting for its project is
    -- never deleted, whatever the commit lists: its body is the only copy of
    -- a change Odoo made (the planner keeps it too; this is the last line).
    delete from ops.ingest_deliveries d
     using jsonb_to_recordset(coalesce(p_commit -> 'ingest_deliveries', '[]'::jsonb)) as g(id text, guard text)
     where d.webhook_id = g.id
       and row(d.tableoid, d.ctid, d.xmin)::ops.row_version::text = g.guard
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

-- Months of events are read oldest first, a page at a time.
create index run_events_created_idx on ops.run_events (created_at, event_id);

revoke all on function
    ops.cleanup_run_candidates(text[], boolean), ops.cleanup_run_versions(text[]), ops.cleanup_run_guard(text),
    ops.cleanup_acquire(text, integer), ops.cleanup_release(text),
    ops.cleanup_policies(),
    ops.cleanup_read(jsonb, integer, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz),
    ops.cleanup_commit(text, jsonb),
    ops.cleanup_s3_deleted(text[]), ops.cleanup_s3_pending(integer)
    from public;
grant execute on function
    ops.cleanup_run_candidates(text[], boolean), ops.cleanup_run_versions(text[]), ops.cleanup_run_guard(text),
    ops.cleanup_acquire(text, integer), ops.cleanup_release(text),
    ops.cleanup_policies(),
    ops.cleanup_read(jsonb, integer, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz),
    ops.cleanup_commit(text, jsonb),
    ops.cleanup_s3_deleted(text[]), ops.cleanup_s3_pending(integer)
    to service_role;
