-- ops-cleanup, continued: putting archived runs back, and the daily trigger.
--
--   ops.cleanup_restore_runs        inserts the runs (and their events) of
--                                   lines of a verified runs archive object,
--                                   re-links their artifacts and backups;
--   ops.cleanup_restore_run_events  puts back the events of restored runs that
--                                   had gone by month, before their runs, from
--                                   a verified run_events archive object;
--   ops.cleanup_restore_sources     the archive records a restore chooses
--                                   from;
--   ops.cleanup_restore             the restore command's one write: the two
--                                   above in one transaction;
--   ops.invoke_cleanup              calls the ops-cleanup Edge Function through
--                                   pg_net, with its URL and secret from Vault:
--                                   daily, and again whenever an invocation
--                                   stopped at its budget with work left;
--   cron job ops-cleanup            runs ops.invoke_cleanup() daily at 03:00 UTC.
--
-- An invocation stops at its CPU stand-in (bytes read, see cleanup-core's
-- READ_BUDGET_BYTES) as well as its time; with work left it releases the
-- lease and calls ops.invoke_cleanup() for the next invocation. Each
-- invocation stays within the platform's 2 s of CPU, and a large backlog is
-- still worked off the same night, by a chain of invocations.

-- ---------------------------------------------------------------------------
-- Restores runs from lines of the runs archive object `p_object_key`, which
-- the caller has already checked against ops.cleanup_archives.sha256. Each
-- line is `{"run": {..}, "events": [..]}` as the planner writes it; lines
-- travel as text so that no driver rounds the numbers in metadata or data.
--
-- One transaction: every line is restored, or none. A run already in
-- ops.runs is left as it is (restoring twice is harmless; the answer counts
-- it under runs_already_present). A restored run gets back the artifacts and
-- backups that referred to it when it was deleted, where they still exist
-- and nothing else took their run_id; its ops.cleanup_archived_runs row goes,
-- since the run is no longer archived-only. Events whose monthly partition
-- was dropped land in the default partition.
--
-- Rows come back exactly: every column is taken from the line, and runs_guard
-- only fills started_at/finished_at when they are null, which a finished run's
-- are not. A key the table has no column for is refused rather than dropped,
-- so a restore never silently loses part of an archived row.
create function ops.cleanup_restore_runs(p_object_key text, p_lines text)
returns jsonb
language plpgsql
set search_path = ''
set timezone = 'UTC'
as $$
declare
    v_archive         ops.cleanup_archives;
    v_previous        text := current_setting('ops.restoring', true);
    v_line_text       text;
    v_line_number     bigint;
    v_line            jsonb;
    v_run             ops.runs;
    v_unknown         text[];
    v_links           ops.cleanup_archived_runs;
    v_count           integer;
    v_lines           integer := 0;
    v_runs_restored   integer := 0;
    v_runs_present    integer := 0;
    v_events_restored integer := 0;
    v_artifacts       integer := 0;
    v_backups         integer := 0;
    v_run_columns     text[] := array(
        select a.attname::text from pg_catalog.pg_attribute a
         where a.attrelid = 'ops.runs'::regclass and a.attnum > 0 and not a.attisdropped);
    v_event_columns   text[] := array(
        select a.attname::text from pg_catalog.pg_attribute a
         where a.attrelid = 'ops.run_events'::regclass and a.attnum > 0 and not a.attisdropped);
begin
    select * into v_archive from ops.cleanup_archives where object_key = p_object_key;
    if not found then
        raise exception 'ops.cleanup_restore_runs: % is not an archive object ops-cleanup recorded', p_object_key
            using errcode = '22023';
    end if;
    if v_archive.archive_table <> 'runs' then
        raise exception 'ops.cleanup_restore_runs: % holds % rows, not runs', p_object_key, v_archive.archive_table
            using errcode = '22023';
    end if;

    perform pg_catalog.set_config('ops.restoring', 'on', true);

    for v_line_text, v_line_number in
        select t.line, t.n from pg_catalog.string_to_table(p_lines, E'\n') with ordinality as t(line, n)
    loop
        continue when pg_catalog.btrim(v_line_text) = '';
        v_lines := v_lines + 1;
        begin
            v_line := v_line_text::jsonb;
        exception when invalid_text_representation then
            raise exception 'ops.cleanup_restore_runs: line % of % is not JSON', v_line_number, p_object_key
                using errcode = '22023';
        end;
        if pg_catalog.jsonb_typeof(v_line) is distinct from 'object'
           or pg_catalog.jsonb_typeof(v_line -> 'run') is distinct from 'object'
           or pg_catalog.jsonb_typeof(v_line -> 'events') is distinct from 'array'
           or (select count(*) from pg_catalog.jsonb_object_keys(v_line)) <> 2 then
            raise exception 'ops.cleanup_restore_runs: line % of %: expected {"run": {...}, "events": [...]}',
                v_line_number, p_object_key
                using errcode = '22023';
        end if;

        v_unknown := array(select k from pg_catalog.jsonb_object_keys(v_line -> 'run') k
                            where k <> all (v_run_columns));
        if cardinality(v_unknown) > 0 then
            raise exception 'ops.cleanup_restore_runs: line % of %: ops.runs has no column %',
                v_line_number, p_object_key, pg_catalog.array_to_string(v_unknown, ', ')
                using errcode = '22023';
        end if;
        v_unknown := array(select distinct k
                             from pg_catalog.jsonb_array_elements(v_line -> 'events') e,
                                  pg_catalog.jsonb_object_keys(e) k
                            where k <> all (v_event_columns));
        if cardinality(v_unknown) > 0 then
            raise exception 'ops.cleanup_restore_runs: line % of %: ops.run_events has no column %',
                v_line_number, p_object_key, pg_catalog.array_to_string(v_unknown, ', ')
                using errcode = '22023';
        end if;

        v_run := pg_catalog.jsonb_populate_record(null::ops.runs, v_line -> 'run');
        -- The object's recorded ids are what the verified digest vouches for.
        if v_run.run_id is null or not (v_run.run_id = any (v_archive.ids)) then
            raise exception 'ops.cleanup_restore_runs: line % of %: run % is not one of the runs this object holds',
                v_line_number, p_object_key, coalesce(v_run.run_id, 'null')
                using errcode = '22023';
        end if;
        if exists (select from pg_catalog.jsonb_array_elements(v_line -> 'events') e
                    where e ->> 'run_id' is distinct from v_run.run_id
                       or e ->> 'project_id' is distinct from v_run.project_id) then
            raise exception 'ops.cleanup_restore_runs: line % of %: an event does not belong to run %',
                v_line_number, p_object_key, v_run.run_id
                using errcode = '22023';
        end if;

        insert into ops.runs select v_run.* on conflict (run_id) do nothing;
        get diagnostics v_count = row_count;
        if v_count = 0 then
            v_runs_present := v_runs_present + 1;
            continue;
        end if;
        v_runs_restored := v_runs_restored + 1;
        -- Someone wanted this run back: cleanup leaves it alone for 30 days
        -- instead of archiving it again the next night.
        insert into ops.cleanup_holds (run_id, held_until, reason)
        values (v_run.run_id, now() + interval '30 days', 'restored from ' || left(p_object_key, 180))
        on conflict (run_id) do update set held_until = excluded.held_until, reason = excluded.reason;

        insert into ops.run_events
        select * from pg_catalog.jsonb_populate_recordset(null::ops.run_events, v_line -> 'events');
        get diagnostics v_count = row_count;
        v_events_restored := v_events_restored + v_count;

        delete from ops.cleanup_archived_runs where run_id = v_run.run_id returning * into v_links;
        if found then
            update ops.artifacts set run_id = v_run.run_id
             where artifact_id = any (v_links.artifact_ids)
               and run_id is null and project_id = v_run.project_id;
            get diagnostics v_count = row_count;
            v_artifacts := v_artifacts + v_count;
            update ops.backups set run_id = v_run.run_id
             where backup_id = any (v_links.backup_ids)
               and run_id is null and project_id = v_run.project_id;
            get diagnostics v_count = row_count;
            v_backups := v_backups + v_count;
        end if;
    end loop;

    -- The bypass must not outlive the restore in the caller's transaction.
    perform pg_catalog.set_config('ops.restoring', coalesce(v_previous, ''), true);

    return pg_catalog.jsonb_build_object(
        'object_key', p_object_key,
        'lines', v_lines,
        'runs_restored', v_runs_restored,
        'runs_already_present', v_runs_present,
        'run_events_restored', v_events_restored,
        'artifacts_relinked', v_artifacts,
        'backups_relinked', v_backups);
end;
$$;

revoke all on function ops.cleanup_restore_runs(text, text) from public;
grant execute on function ops.cleanup_restore_runs(text, text) to service_role;

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

-- ---------------------------------------------------------------------------
-- What a restore chooses from; the choice is the restore machine's
-- (cleanup-core). `archives`: for a run, every runs archive that lists it,
-- each saying whether ops.cleanup_archived_runs records the run as deleted
-- from it; for an object key, that key's record, whatever table it holds.
-- `event_archives`: the run_events archives that hold events of the runs
-- concerned (the run, or every run the object lists), which went by month
-- before their runs.
create function ops.cleanup_restore_sources(p_run_id text, p_object_key text)
returns text
language sql
stable
set search_path = ''
as $$
    with archives as (
        select a.*,
               exists (select from ops.cleanup_archived_runs r
                        where r.run_id = p_run_id and r.object_key = a.object_key) as deleted_from
          from ops.cleanup_archives a
         where a.object_key = p_object_key
            or (a.archive_table = 'runs' and p_run_id = any (a.ids))
    ), runs as (
        select case when p_object_key is null then array[p_run_id]
                    else (select a.ids from archives a where a.object_key = p_object_key
                           and a.archive_table = 'runs') end as run_ids
    )
    select json_build_object(
        'archives', coalesce((select json_agg(json_build_object(
                'object_key', a.object_key, 'bucket', a.bucket, 'sha256', a.sha256,
                'table', a.archive_table, 'ids', a.ids, 'archived_at', a.archived_at,
                'deleted_from', a.deleted_from) order by a.archived_at desc, a.object_key)
            from archives a), '[]'::json),
        'event_archives', coalesce((select json_agg(json_build_object(
                'object_key', e.object_key, 'bucket', e.bucket, 'sha256', e.sha256)
                order by e.object_key)
            from ops.cleanup_archives e, runs
           where e.archive_table = 'run_events' and e.run_ids && runs.run_ids), '[]'::json))::text
$$;

-- The one call that writes a restore, in one transaction: the runs from the
-- lines of the verified runs object, then the events of `p_run_ids` from each
-- verified run_events object (`p_event_keys[i]` holds `p_event_lines[i]`).
-- The answer is ops.cleanup_restore_runs's, with the events of both kinds
-- counted and the event objects named.
create function ops.cleanup_restore(
    p_object_key text,
    p_lines text,
    p_run_ids text[],
    p_event_keys text[],
    p_event_lines text[])
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_result jsonb;
    v_events integer := 0;
    v_count  integer := coalesce(cardinality(p_event_keys), 0);
begin
    if v_count <> coalesce(cardinality(p_event_lines), 0) then
        raise exception 'ops.cleanup_restore: % event objects but % texts of lines',
            v_count, coalesce(cardinality(p_event_lines), 0) using errcode = '22023';
    end if;
    v_result := ops.cleanup_restore_runs(p_object_key, p_lines);
    for i in 1 .. v_count loop
        v_events := v_events + (ops.cleanup_restore_run_events(
            p_event_keys[i], p_run_ids, p_event_lines[i]) ->> 'run_events_restored')::integer;
    end loop;
    return v_result || jsonb_build_object(
        'run_events_restored', (v_result ->> 'run_events_restored')::integer + v_events,
        'event_objects', to_jsonb(coalesce(p_event_keys, '{}'::text[])));
end;
$$;

revoke all on function
    ops.cleanup_restore_sources(text, text),
    ops.cleanup_restore(text, text, text[], text[], text[])
    from public;
grant execute on function
    ops.cleanup_restore_sources(text, text),
    ops.cleanup_restore(text, text, text[], text[], text[])
    to service_role;

-- ---------------------------------------------------------------------------
-- The daily trigger, the way Supabase schedules Edge Functions: pg_cron runs
-- SQL that calls the function over HTTP with pg_net, and the function's URL
-- and the cron secret come from Vault, so no secret is in a migration or in
-- cron.job.
--
-- Store them once per project (SQL editor):
--   select vault.create_secret('https://<ref>.supabase.co/functions/v1/ops-cleanup', 'ops_cleanup_url');
--   select vault.create_secret('<OPS_CRON_SECRET>', 'ops_cron_secret');
--
-- Returns pg_net's request id, or null when it sent nothing. Where pg_net or
-- Vault is missing (the local stack) or the secrets are not stored yet, it
-- says why in a notice and does nothing: a cron job that errors every night
-- would only fill cron.job_run_details. pg_net and Vault are reached through
-- dynamic SQL whose schema is a format() argument, so the function compiles
-- without them and plpgsql_check (supabase db lint) does not check the
-- statements against a database that lacks them.
create function ops.invoke_cleanup()
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_url        text;
    v_secret     text;
    v_request_id bigint;
begin
    if not exists (select from pg_catalog.pg_proc p
                     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                    where n.nspname = 'net' and p.proname = 'http_post') then
        raise notice 'ops.invoke_cleanup: pg_net is not enabled (Database → Extensions); ops-cleanup was not called';
        return null;
    end if;
    if pg_catalog.to_regclass('vault.decrypted_secrets') is null then
        raise notice 'ops.invoke_cleanup: Vault (supabase_vault) is not available; ops-cleanup was not called';
        return null;
    end if;
    execute pg_catalog.format($sql$
        select max(decrypted_secret) filter (where name = 'ops_cleanup_url'),
               max(decrypted_secret) filter (where name = 'ops_cron_secret')
          from %I.decrypted_secrets
         where name in ('ops_cleanup_url', 'ops_cron_secret')
    $sql$, 'vault') into v_url, v_secret;
    if coalesce(v_url, '') = '' or coalesce(v_secret, '') = '' then
        raise notice 'ops.invoke_cleanup: the Vault secrets ops_cleanup_url and ops_cron_secret are not both set; ops-cleanup was not called';
        return null;
    end if;
    -- pg_net sends the request after this transaction commits and does not
    -- wait for it; the timeout matches the function's 150 s wall clock so a
    -- long batch is not reported as failed while it is still working.
    execute pg_catalog.format($sql$
        select %I.http_post(
            url := $1,
            body := '{}'::jsonb,
            headers := pg_catalog.jsonb_build_object(
                'Content-Type', 'application/json',
                'Authorization', 'Bearer ' || $2),
            timeout_milliseconds := 150000)
    $sql$, 'net') into v_request_id using v_url, v_secret;
    return v_request_id;
end;
$$;

-- Only the cron job (run as the owner that scheduled it) calls this: it
-- reads a secret, and one cleanup a day is the intended pace.
revoke all on function ops.invoke_cleanup() from public;
comment on function ops.invoke_cleanup() is
    'Queues a call of ops-cleanup through pg_net (URL and secret from Vault): daily by the cron job, and by ops-cleanup itself when it stopped at a budget with work left.';

-- pg_cron's timezone is GMT unless cron.timezone says otherwise, as on
-- hosted Supabase; schedule replaces a job of the same name, so applying this
-- again changes nothing.
do $$
begin
    -- pg_cron is enabled by the runs migration.
    perform cron.schedule('ops-cleanup', '0 3 * * *', 'select ops.invoke_cleanup()');
    if not exists (select from pg_catalog.pg_extension where extname = 'pg_net')
       or pg_catalog.to_regclass('vault.decrypted_secrets') is null then
        raise notice 'ops-cleanup is scheduled daily at 03:00 UTC, but pg_net or Vault is missing: each run will only log a notice until both are enabled';
    end if;
end
$$;
