-- Reconciliation (the seed's Pattern 2: hourly, Odoo wins): ops-reconcile
-- reads Odoo's projects through the wrapper (odoo_<instance>, see
-- 20261202040000_odoo_wrapper.sql) page by page, crates/reconcile-plan
-- decides what changed, and the changes go through ops.apply_project_event,
-- the rule ops-ingest applies, with Odoo's write_date as the change's time:
-- a reconcile never undoes a newer event, and a late event never undoes a
-- newer reconcile.

-- Where each phase of the reconcile stands, per instance and subject (its
-- projects, or its users: 20261202060000_reconcile_users.sql): the
-- incremental watermark (Odoo's write_date, UTC, as Odoo stores it) and the
-- cursor of a pass stopped at its budget, to resume from.
create table ops_private.reconcile_state (
    odoo_instance text not null
        constraint reconcile_state_instance_valid check (ops.is_valid_environment(odoo_instance)),
    subject       text not null
        constraint reconcile_state_subject_valid check (subject in ('projects', 'users')),
    -- What the last completed pass left for the next incremental one
    -- (reconcile_plan's Next::Done): the newest write_date it saw, in UTC.
    watermark     timestamptz,
    -- A pass stopped at its budget: its mode, the last Odoo id it covered
    -- and what it carries to its next page (reconcile_plan::Pass).
    resume_mode   text
        constraint reconcile_state_resume_mode_valid check (resume_mode in ('incremental', 'full')),
    resume_after  bigint,
    resume_pass   jsonb,
    last_full_at  timestamptz,
    last_run_at   timestamptz,
    last_summary  jsonb,
    -- One invocation at a time: a lease, as ops-cleanup's, held on the
    -- projects' instance's 'projects' row, since one invocation runs every
    -- phase.
    lease_holder  text,
    lease_expires_at timestamptz,
    primary key (odoo_instance, subject),
    constraint reconcile_state_resume_complete
        check ((resume_mode is null) = (resume_after is null) and (resume_mode is null) = (resume_pass is null))
);
alter table ops_private.reconcile_state enable row level security;
grant select, insert, update, delete on ops_private.reconcile_state to service_role;

comment on table ops_private.reconcile_state is
    'Where the reconcile of each Odoo instance''s projects and users stands: its watermark, and the cursor of a pass to resume.';

-- The control plane's projects by their Odoo id, for the reconcile's pages.
create index projects_odoo_id on ops.projects ((substr(project_id, 6)::bigint));

-- ---------------------------------------------------------------------------
-- One page for the planner, the parts of reconcile_plan::Input that come
-- from the databases, as text so that no driver turns numbers into doubles:
--   {"odoo_projects": [{"id", "name", "active", "write_date", "is_template"}],
--    "projects": [{"project_id", "name", "odoo_version", "active", "deleted_at",
--                  "described_at", "described_by", "activity_at", "activity_by"}],
--    "base_latest_version": Odoo's `base` module's latest_version, or null,
--    "range": {"after_id", "through_id"}}
-- Odoo's projects with id > p_after, at most p_limit, in id order (in
-- incremental mode only those written at or after p_since, the window's
-- start the planner computed), and the control plane's rows of the same id
-- range: up to the page's last id, or all after p_after when the page came
-- back short (through_id null), so that what is gone from Odoo shows. With
-- p_ids (ops-odoo-nudge's re-read of the ids Odoo nudged), both sides are
-- only those ids: Odoo's by its primary key, never a scan. A failure to
-- reach Odoo is the wrapper's error (SQLSTATE class 08 or HV), which the
-- machine answers with 503, having written nothing.
create function ops.reconcile_read(
    p_instance text, p_after bigint, p_limit integer, p_since timestamptz,
    p_ids bigint[] default null)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_schema  text := 'odoo_' || p_instance;
    v_odoo    jsonb;
    v_series  text;
    v_last    bigint;
    v_count   integer;
    v_through bigint;
    v_ops     jsonb;
begin
    if not ops.is_valid_environment(p_instance) then
        raise exception 'ops.reconcile_read: unknown Odoo instance %', p_instance
            using errcode = '22023';
    end if;
    -- Odoo's write_date is UTC without a zone: the window's start is
    -- compared in UTC.
    execute pg_catalog.format($sql$
        select coalesce(jsonb_agg(jsonb_build_object(
                   'id', p.id, 'name', p.name, 'active', p.active,
                   'write_date', p.write_date::text, 'is_template', p.is_template)
                   order by p.id), '[]'::jsonb),
               max(p.id), count(*)
          from (select id, name, active, write_date, is_template
                  from %1$I.project_project
                 where id > $1
                   and ($3::timestamptz is null or write_date >= ($3::timestamptz at time zone 'UTC'))
                   and ($4::bigint[] is null or id = any ($4::bigint[]))
                 order by id
                 limit $2) p
    $sql$, v_schema) into v_odoo, v_last, v_count using p_after, p_limit, p_since, p_ids;
    execute pg_catalog.format($sql$
        select max(latest_version) from %1$I.ir_module_module where name = 'base'
    $sql$, v_schema) into v_series;
    v_through := case when v_count < p_limit then null else v_last end;

    select coalesce(jsonb_agg(jsonb_build_object(
               'project_id', p.project_id, 'name', p.name, 'odoo_version', p.odoo_version,
               'active', p.active, 'deleted_at', p.deleted_at,
               'described_at', p.described_at, 'described_by', p.described_by,
               'activity_at', p.activity_at, 'activity_by', p.activity_by)
               order by substr(p.project_id, 6)::bigint), '[]'::jsonb)
      into v_ops
      from ops.projects p
     where substr(p.project_id, 6)::bigint > p_after
       and (v_through is null or substr(p.project_id, 6)::bigint <= v_through)
       and (p_ids is null or substr(p.project_id, 6)::bigint = any (p_ids));

    return jsonb_build_object(
        'odoo_projects', v_odoo, 'projects', v_ops, 'base_latest_version', v_series,
        'range', jsonb_build_object('after_id', p_after, 'through_id', v_through))::text;
end;
$$;

comment on function ops.reconcile_read(text, bigint, integer, timestamptz, bigint[]) is
    'One page of Odoo''s projects (through the wrapper) and the control plane''s, for the reconcile planner.';

-- ---------------------------------------------------------------------------
-- Applies the planner's changes (reconcile_plan::Change: change_id,
-- occurred_at, event), in order, each as ops-ingest applies an event of its
-- project: under the project's lock, through ops.apply_project_event, with
-- Odoo's write_date as occurred_at and the change id in the webhook id's
-- place; after a creation, the events that were waiting for the project
-- are applied, as ops.ingest_event does. Returns the count of each outcome:
-- {"applied": n, "stale": n, "deferred": n, "effects": {"updated": n, ...}}.
create function ops.reconcile_apply(p_changes jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_change   jsonb;
    v_project  text;
    v_outcome  jsonb;
    v_counts   jsonb := '{"applied": 0, "stale": 0, "deferred": 0, "effects": {}}'::jsonb;
    v_result   text;
    v_effect   text;
    v_deferred record;
begin
    for v_change in select c from jsonb_array_elements(p_changes) c loop
        v_project := v_change -> 'event' ->> 'project_id';
        perform pg_advisory_xact_lock(pg_catalog.hashtextextended('ops.projects:' || v_project, 0));
        v_outcome := ops.apply_project_event(
            v_change ->> 'change_id', v_change -> 'event', (v_change ->> 'occurred_at')::timestamptz);
        v_result := v_outcome ->> 'result';
        v_counts := jsonb_set(v_counts, array[v_result],
                              to_jsonb(coalesce((v_counts ->> v_result)::integer, 0) + 1));
        v_effect := v_outcome ->> 'effect';
        if v_effect is not null then
            v_counts := jsonb_set(v_counts, array['effects', v_effect],
                to_jsonb(coalesce((v_counts -> 'effects' ->> v_effect)::integer, 0) + 1));
        end if;
        if v_effect = 'created' then
            for v_deferred in
                select webhook_id, deferred_event, occurred_at
                  from ops.ingest_deliveries
                 where project_id = v_project
                   and deferred_event is not null
                   and resolved_at is null
                 order by occurred_at, webhook_id
            loop
                perform ops.apply_project_event(
                    v_deferred.webhook_id, v_deferred.deferred_event, v_deferred.occurred_at);
                update ops.ingest_deliveries
                   set resolved_at = now()
                 where webhook_id = v_deferred.webhook_id;
            end loop;
        end if;
    end loop;
    return v_counts::text;
end;
$$;

comment on function ops.reconcile_apply(jsonb) is
    'Applies the reconcile planner''s changes through ops.apply_project_event, the rule of ops-ingest.';

-- Records where a phase's pass stands: stopped at its budget
-- (p_resume_after and p_resume_pass set: the next invocation resumes there)
-- or completed (the watermark becomes the pass's; a full pass also records
-- its time).
create function ops.reconcile_record(
    p_instance text, p_subject text, p_mode text, p_resume_after bigint, p_resume_pass jsonb,
    p_watermark timestamptz, p_summary jsonb)
returns void
language sql
set search_path = ''
-- A string body: the migration tool's statement splitter reads the CASE
-- expressions' END in a BEGIN ATOMIC body as the body's end.
as $$
    insert into ops_private.reconcile_state as s
        (odoo_instance, subject, watermark, resume_mode, resume_after, resume_pass,
         last_full_at, last_run_at, last_summary)
    values (p_instance, p_subject,
            case when p_resume_after is null then p_watermark end,
            case when p_resume_after is not null then p_mode end,
            p_resume_after,
            case when p_resume_after is not null then p_resume_pass end,
            case when p_resume_after is null and p_mode = 'full' then now() end,
            now(), p_summary)
    on conflict (odoo_instance, subject) do update
        set watermark = case when excluded.resume_after is null
                             then coalesce(excluded.watermark, s.watermark)
                             else s.watermark end,
            resume_mode = excluded.resume_mode,
            resume_after = excluded.resume_after,
            resume_pass = excluded.resume_pass,
            last_full_at = coalesce(excluded.last_full_at, s.last_full_at),
            last_run_at = excluded.last_run_at,
            last_summary = excluded.last_summary;
$$;

-- Takes the reconcile's lease for p_seconds, unless another holder has it:
-- on the row of the projects of p_instance, the instance the invocation
-- reconciles the projects of.
create function ops.reconcile_acquire(p_instance text, p_holder text, p_seconds integer)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    insert into ops_private.reconcile_state as s (odoo_instance, subject, lease_holder, lease_expires_at)
    values (p_instance, 'projects', p_holder, now() + make_interval(secs => p_seconds))
    on conflict (odoo_instance, subject) do update
        set lease_holder = excluded.lease_holder, lease_expires_at = excluded.lease_expires_at
        where s.lease_expires_at is null or s.lease_expires_at < now()
           or s.lease_holder = excluded.lease_holder;
    return found;
end;
$$;

create function ops.reconcile_release(p_instance text, p_holder text)
returns void
language sql
set search_path = ''
begin atomic
    update ops_private.reconcile_state
       set lease_holder = null, lease_expires_at = null
     where odoo_instance = p_instance and subject = 'projects' and lease_holder = p_holder;
end;

-- Where the reconcile stands, for the machine's start:
--   {"projects_source": bool,
--    "phases": [{"subject", "odoo_instance", "watermark", "resume_mode",
--                "resume_after", "resume_pass"}]}
-- `projects_source` says whether p_instance is the one the control plane's
-- projects come from (ops_private.odoo_instances): a pass against any other
-- would create, rename and, in full mode, mark deleted the control plane's
-- projects from the wrong Odoo. The phases, in the order one invocation
-- runs them: p_instance's projects, then the users of every configured
-- instance, p_instance's first and the others by name; a phase never run
-- has nulls.
create function ops.reconcile_status(p_instance text)
returns text
language sql
stable
set search_path = ''
as $$
    with phases (n, subject, odoo_instance) as (
        select 0, 'projects', p_instance
        union all
        select case when i.odoo_instance = p_instance then 1 else 2 end, 'users', i.odoo_instance
          from ops_private.odoo_instances i
    )
    select jsonb_build_object(
               'projects_source', exists (select from ops_private.odoo_instances i
                                           where i.odoo_instance = p_instance and i.projects_source),
               'phases', (select jsonb_agg(jsonb_build_object(
                                     'subject', p.subject, 'odoo_instance', p.odoo_instance,
                                     'watermark', s.watermark, 'resume_mode', s.resume_mode,
                                     'resume_after', s.resume_after, 'resume_pass', s.resume_pass)
                                     order by p.n, p.odoo_instance)
                            from phases p
                            left join ops_private.reconcile_state s using (odoo_instance, subject)))::text;
$$;

revoke all on function
    ops.reconcile_acquire(text, text, integer),
    ops.reconcile_release(text, text),
    ops.reconcile_read(text, bigint, integer, timestamptz, bigint[]),
    ops.reconcile_apply(jsonb),
    ops.reconcile_record(text, text, text, bigint, jsonb, timestamptz, jsonb),
    ops.reconcile_status(text)
    from public;
grant execute on function
    ops.reconcile_acquire(text, text, integer),
    ops.reconcile_release(text, text),
    ops.reconcile_read(text, bigint, integer, timestamptz, bigint[]),
    ops.reconcile_apply(jsonb),
    ops.reconcile_record(text, text, text, bigint, jsonb, timestamptz, jsonb),
    ops.reconcile_status(text)
    to service_role;

-- ---------------------------------------------------------------------------
-- Queues a call of ops-reconcile through pg_net, with its URL and secret
-- from Vault (`ops_reconcile_url`, `ops_reconcile_secret`), as
-- ops.invoke_cleanup does: hourly by the cron job (incremental; the pass
-- after midnight UTC is full, which also finds deletions), and by
-- ops-reconcile itself when it stopped at its budget with work left.
create function ops.invoke_reconcile(p_mode text default 'incremental')
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_url        text;
    v_secret     text;
    v_request_id bigint;
begin
    if p_mode not in ('incremental', 'full') then
        raise exception 'ops.invoke_reconcile: mode is incremental or full, not %', p_mode
            using errcode = '22023';
    end if;
    if not exists (select from pg_catalog.pg_proc p
                     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                    where n.nspname = 'net' and p.proname = 'http_post') then
        raise notice 'ops.invoke_reconcile: pg_net is not enabled (Database → Extensions); ops-reconcile was not called';
        return null;
    end if;
    if pg_catalog.to_regclass('vault.decrypted_secrets') is null then
        raise notice 'ops.invoke_reconcile: Vault (supabase_vault) is not available; ops-reconcile was not called';
        return null;
    end if;
    execute pg_catalog.format($sql$
        select max(decrypted_secret) filter (where name = 'ops_reconcile_url'),
               max(decrypted_secret) filter (where name = 'ops_reconcile_secret')
          from %I.decrypted_secrets
         where name in ('ops_reconcile_url', 'ops_reconcile_secret')
    $sql$, 'vault') into v_url, v_secret;
    if coalesce(v_url, '') = '' or coalesce(v_secret, '') = '' then
        raise notice 'ops.invoke_reconcile: the Vault secrets ops_reconcile_url and ops_reconcile_secret are not both set; ops-reconcile was not called';
        return null;
    end if;
    execute pg_catalog.format($sql$
        select %I.http_post(
            url := $1,
            body := pg_catalog.jsonb_build_object('mode', $3),
            headers := pg_catalog.jsonb_build_object(
                'Content-Type', 'application/json',
                'Authorization', 'Bearer ' || $2),
            timeout_milliseconds := 150000)
    $sql$, 'net') into v_request_id using v_url, v_secret, p_mode;
    return v_request_id;
end;
$$;

revoke all on function ops.invoke_reconcile(text) from public;
comment on function ops.invoke_reconcile(text) is
    'Queues a call of ops-reconcile through pg_net (URL and secret from Vault): hourly by the cron job, and by ops-reconcile itself when it stopped at its budget.';

do $$
begin
    perform cron.schedule('ops-reconcile', '5 1-23 * * *', 'select ops.invoke_reconcile(''incremental'')');
    perform cron.schedule('ops-reconcile-full', '5 0 * * *', 'select ops.invoke_reconcile(''full'')');
end
$$;
