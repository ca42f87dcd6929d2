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
-- back short (through_id null), so that what is gone from Odoo shows. In
-- incremental mode, which finds no deletion, only the control plane's rows
-- of the ids Odoo's page holds. With p_ids (ops-odoo-nudge's re-read of the
-- ids Odoo nudged), both sides are only those ids: Odoo's by its primary
-- key, never a scan. A failure to reach Odoo is the wrapper's error
-- (SQLSTATE class 08 or HV), which the machine answers with 503, having
-- written nothing.
--
-- p_agreement ({"language", "series", "base_latest_version", "now"}, from
-- reconcile_plan::agreement) leaves out the pairs that already agree, and
-- counts them in "agreed": {"count", "latest_write_date"}. A full pass
-- compares every project, and shipping 100,000 pairs that agree to the
-- planner cost five times what comparing them here does. The rule is the
-- planner's "unchanged", restated for the one case it is sure of, and only
-- for it: both sides present, the control plane's row not deleted, Odoo's
-- not a template, written after the window's start and not after the
-- machine's now, its name in the language (else en_US) a string equal to
-- the control plane's, the same series and the same active. The series
-- counts only if base's latest_version is the one the machine derived it
-- from; otherwise nothing is left out. Everything else goes to the planner,
-- which decides (supabase/tests/database/ops_reconcile_agreement.test.sql
-- shows each case sent).
create function ops.reconcile_read(
    p_instance text, p_after bigint, p_limit integer, p_since timestamptz,
    p_ids bigint[] default null, p_agreement jsonb default null)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_schema    text := 'odoo_' || p_instance;
    v_series    text;
    v_agree     boolean;
    v_page      text;
begin
    if not ops.is_valid_environment(p_instance) then
        raise exception 'ops.reconcile_read: unknown Odoo instance %', p_instance
            using errcode = '22023';
    end if;
    execute pg_catalog.format($sql$
        select max(latest_version) from %1$I.ir_module_module where name = 'base'
    $sql$, v_schema) into v_series;
    -- The agreement holds only for the series the machine derived from this
    -- very latest_version.
    v_agree := p_agreement ->> 'base_latest_version' is not distinct from v_series
               and p_agreement ->> 'series' is not null;

    -- Odoo's write_date is UTC without a zone: the window's start and now
    -- are compared in UTC. One statement: Odoo's page is read once, and
    -- both sides are joined here.
    execute pg_catalog.format($sql$
        with odoo as materialized (
            select id, name, active, write_date, is_template
              from %1$I.project_project
             where id > $1
               and ($3::timestamptz is null or write_date >= ($3::timestamptz at time zone 'UTC'))
               and ($4::bigint[] is null or id = any ($4::bigint[]))
             order by id
             limit $2),
        page as (
            select max(id) as last_id, count(*) as rows,
                   case when count(*) < $2 then null else max(id) end as through_id
              from odoo),
        control as (
            select substr(p.project_id, 6)::bigint as id, p.project_id, p.name, p.odoo_version,
                   p.active, p.deleted_at, p.described_at, p.described_by, p.activity_at, p.activity_by
              from ops.projects p, page
             where substr(p.project_id, 6)::bigint > $1
               and substr(p.project_id, 6)::bigint <= coalesce(page.through_id, 9223372036854775807)
               and ($4::bigint[] is null or substr(p.project_id, 6)::bigint = any ($4::bigint[]))
               and ($3::timestamptz is null
                    or substr(p.project_id, 6)::bigint in (select odoo.id from odoo))),
        pairs as materialized (
            select o.id as odoo_id, o.name as odoo_name, o.active as odoo_active,
                   o.write_date, o.is_template, c.*,
                   coalesce($5::boolean
                        and o.id is not null and c.id is not null and c.deleted_at is null
                        and o.is_template is not true
                        and o.write_date is not null
                        and ($3::timestamptz is null or o.write_date > ($3::timestamptz at time zone 'UTC'))
                        and o.write_date <= ($8::timestamptz at time zone 'UTC')
                        and c.active = (o.active is true)
                        and c.odoo_version = $7::text
                        and c.name = case
                            when jsonb_typeof(o.name) = 'string' then o.name #>> '{}'
                            when jsonb_typeof(o.name) <> 'object' then null
                            when jsonb_typeof(o.name -> $9::text) = 'string' then o.name ->> $9::text
                            when jsonb_typeof(o.name -> 'en_US') = 'string' then o.name ->> 'en_US'
                        end, false) as agreed
              from odoo o full join control c on c.id = o.id)
        select json_build_object(
                   'base_latest_version', $6::text,
                   'range', json_build_object('after_id', $1, 'through_id', (select through_id from page)),
                   'odoo_projects', coalesce(json_agg(json_build_object(
                       'id', odoo_id, 'name', odoo_name, 'active', odoo_active,
                       'write_date', write_date::text, 'is_template', is_template)
                       order by odoo_id) filter (where odoo_id is not null and not agreed), '[]'::json),
                   'projects', coalesce(json_agg(json_build_object(
                       'project_id', project_id, 'name', name, 'odoo_version', odoo_version,
                       'active', active, 'deleted_at', deleted_at,
                       'described_at', described_at, 'described_by', described_by,
                       'activity_at', activity_at, 'activity_by', activity_by)
                       order by id) filter (where id is not null and not agreed), '[]'::json),
                   'agreed', json_build_object(
                       'count', count(*) filter (where agreed),
                       'latest_write_date', (max(write_date) filter (where agreed))::text))::text
          from pairs
    $sql$, v_schema) into v_page using p_after, p_limit, p_since, p_ids, coalesce(v_agree, false), v_series,
                  p_agreement ->> 'series', (p_agreement ->> 'now')::timestamptz,
                  p_agreement ->> 'language';
    return v_page;
end;
$$;

comment on function ops.reconcile_read(text, bigint, integer, timestamptz, bigint[], jsonb) is
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
    ops.reconcile_read(text, bigint, integer, timestamptz, bigint[], jsonb),
    ops.reconcile_apply(jsonb),
    ops.reconcile_record(text, text, text, bigint, jsonb, timestamptz, jsonb),
    ops.reconcile_status(text)
    from public;
grant execute on function
    ops.reconcile_acquire(text, text, integer),
    ops.reconcile_release(text, text),
    ops.reconcile_read(text, bigint, integer, timestamptz, bigint[], jsonb),
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
