-- The read-through cache of Odoo's projects (the seed's Pattern 3) and the
-- seed's cross-system queries, for members.
--
-- The cache is the materialized view ops_private.odoo_project_summary: per
-- Odoo project (`odoo-<id>`, templates left out, archived ones kept, as
-- ops.projects keeps them), its name (en_US, else any language), the count
-- of its active tasks and the sum of their allocated hours (archived tasks
-- are gone from Odoo's own counts, so they are gone from these; subtasks
-- count, each with its own hours, which their parents' do not include), and
-- when it was read. A materialized view has no row level security, so it
-- lives outside the schemas the Data API exposes and is granted to no one;
-- members read it through ops.odoo_project_summaries(), which keeps only
-- their projects' rows.
--
-- It reads the foreign tables of the instance the projects come from
-- (ops_private.odoo_instances.projects_source, `odoo_prod` on the local
-- stack), and a materialized view must name its tables when it is created.
-- That schema does not exist until an admin configures the instance, which
-- on hosted happens after `supabase db push`; so this migration does not
-- create the view: ops.create_odoo_project_summary() does, for whichever
-- instance is then the source, and the admin runs it right after
-- ops.configure_odoo_instance (the local stack's configure script does
-- too). Everything here is functions, which name the view and the foreign
-- schema only when they run.
--
-- 0029 (authenticated_security_definer_function_executable) flags a
-- SECURITY DEFINER function in an exposed schema that `authenticated` may
-- execute, and `ops` is exposed. So the members' entry points in `ops` are
-- SECURITY INVOKER, and each calls a SECURITY DEFINER helper in
-- ops_private (not exposed, as the policies' helpers are), which reads the
-- cache or the foreign tables as their owner and filters by the caller's
-- memberships (ops_private.member_project_ids('project.read'), the policies'
-- own rule), never by an argument naming the caller.

-- An Odoo project's name as the control plane shows it: the en_US
-- translation, else the first other language by code (the `_`-prefixed keys
-- are Odoo's edit variants, not names), null for a name that is not an
-- object.
create function ops_private.odoo_project_name(p_name jsonb)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
    select case
               when pg_catalog.jsonb_typeof(p_name) = 'object' then
                   coalesce(p_name ->> 'en_US',
                            (select e.value
                               from pg_catalog.jsonb_each_text(p_name) e
                              where e.key !~ '^_'
                              order by e.key
                              limit 1))
           end
$$;
revoke all on function ops_private.odoo_project_name(jsonb) from public;
comment on function ops_private.odoo_project_name(jsonb) is
    'An Odoo project''s translated name (jsonb): en_US, else the first other language by code.';

-- The foreign schema of the instance the projects come from, or an error
-- that says what to do.
create function ops_private.odoo_projects_schema()
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_schema text;
begin
    select i.foreign_schema into v_schema
      from ops_private.odoo_instances i
     where i.projects_source;
    if v_schema is null then
        raise exception 'no Odoo instance is where the projects come from'
            using errcode = '55000',
                  hint = 'An admin configures one with ops.configure_odoo_instance(…, p_projects_source => true).';
    end if;
    return v_schema;
end;
$$;
revoke all on function ops_private.odoo_projects_schema() from public;

-- ---------------------------------------------------------------------------
-- The cache.

-- Creates (or rebuilds) the cache over the projects' source instance, fills
-- it and returns its row count. Rebuilt rather than kept, so that after the
-- source moved to another instance, or after this definition changed, one
-- call makes it right. Admins only, like ops.configure_odoo_instance: it is
-- DDL, and it reads all of Odoo's projects and tasks. SECURITY DEFINER so
-- that the view belongs to `postgres`, whose user mapping reads Odoo when it
-- is refreshed, whoever refreshes it.
--
-- The task counts are grouped in a subquery of the one foreign table, which
-- postgres_fdw sends to Odoo as one GROUP BY: a refresh fetches a row per
-- project, not one per task.
create function ops.create_odoo_project_summary()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_schema text := ops_private.odoo_projects_schema();
    v_rows   bigint;
begin
    if pg_catalog.to_regclass(pg_catalog.format('%I.project_project', v_schema)) is null
       or pg_catalog.to_regclass(pg_catalog.format('%I.project_task', v_schema)) is null then
        raise exception 'ops.create_odoo_project_summary: schema % has no project_project and project_task', v_schema
            using errcode = '55000',
                  hint = 'Configure the instance again with ops.configure_odoo_instance.';
    end if;

    execute 'drop materialized view if exists ops_private.odoo_project_summary';
    -- The filters are spelt so that postgres_fdw (15) ships them: it does
    -- not ship IS [NOT] TRUE, and then counts the tasks here, after
    -- 1,000,000 rows crossed the wrapper; spelt so, Odoo counts them and
    -- one row per project crosses (BENCHMARKS.md, "The cache").
    execute pg_catalog.format($sql$
        create materialized view ops_private.odoo_project_summary as
        select 'odoo-' || p.id                            as project_id,
               ops_private.odoo_project_name(p.name)      as name,
               coalesce(t.task_count, 0)                  as task_count,
               coalesce(t.allocated_hours, 0)             as allocated_hours,
               pg_catalog.now()                           as refreshed_at
          from %1$I.project_project p
          left join (select pt.project_id,
                            count(*)                   as task_count,
                            sum(pt.allocated_hours)    as allocated_hours
                       from %1$I.project_task pt
                      where pt.active and (pt.is_template is null or not pt.is_template)
                      group by pt.project_id) t on t.project_id = p.id
         where p.is_template is null or not p.is_template
    $sql$, v_schema);
    -- The unique index is what lets the refresh run CONCURRENTLY, so that
    -- members keep reading the old rows while Odoo is read.
    execute 'create unique index odoo_project_summary_project_id on ops_private.odoo_project_summary (project_id)';
    execute 'revoke all on ops_private.odoo_project_summary from public, anon, authenticated, service_role';
    execute pg_catalog.format('comment on materialized view ops_private.odoo_project_summary is %L',
        pg_catalog.format('The read-through cache of Odoo''s projects (instance schema %s): name, active tasks, '
                          'their allocated hours. No RLS: members read it through ops.odoo_project_summaries().',
                          v_schema));

    execute 'select count(*) from ops_private.odoo_project_summary' into v_rows;
    return v_rows;
end;
$$;
revoke all on function ops.create_odoo_project_summary() from public, anon, authenticated, service_role;
comment on function ops.create_odoo_project_summary() is
    'Creates or rebuilds the cache ops_private.odoo_project_summary over the projects'' Odoo instance; returns its rows. Admins only (postgres), after ops.configure_odoo_instance.';

-- Refreshes the cache from Odoo, CONCURRENTLY (readers are not blocked), and
-- returns its row count. For the nightly job and service_role's on-demand
-- refresh. It refuses, rather than refreshes, a cache that reads another
-- instance than the projects' source: that one must be rebuilt by an admin.
-- SECURITY DEFINER: only the view's owner may refresh it.
create function ops.refresh_odoo_project_summary()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_view   regclass := pg_catalog.to_regclass('ops_private.odoo_project_summary');
    v_schema text := ops_private.odoo_projects_schema();
    v_reads  text;
    v_rows   bigint;
begin
    if v_view is null then
        raise exception 'ops.refresh_odoo_project_summary: the cache has not been created'
            using errcode = '55000',
                  hint = 'An admin runs select ops.create_odoo_project_summary(); after configuring the Odoo instance.';
    end if;
    -- The foreign schema the view's query reads, from its rule's dependencies.
    select pg_catalog.min(n.nspname::text) into v_reads
      from pg_catalog.pg_rewrite r
      join pg_catalog.pg_depend d
        on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
       and d.refclassid = 'pg_catalog.pg_class'::regclass
      join pg_catalog.pg_class c on c.oid = d.refobjid and c.relkind = 'f'
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where r.ev_class = v_view;
    if v_reads is distinct from v_schema then
        raise exception 'ops.refresh_odoo_project_summary: the cache reads %, but the projects come from %',
            coalesce(v_reads, 'no foreign schema'), v_schema
            using errcode = '55000',
                  hint = 'An admin rebuilds it: select ops.create_odoo_project_summary();';
    end if;
    execute 'refresh materialized view concurrently ops_private.odoo_project_summary';
    execute 'select count(*) from ops_private.odoo_project_summary' into v_rows;
    return v_rows;
end;
$$;
revoke all on function ops.refresh_odoo_project_summary() from public, anon, authenticated;
grant execute on function ops.refresh_odoo_project_summary() to service_role;
comment on function ops.refresh_odoo_project_summary() is
    'Refreshes the Odoo project cache concurrently and returns its rows: nightly by pg_cron, on demand by service_role.';

-- Nightly at 02:00 UTC (pg_cron's timezone, as for the other jobs), once
-- the cache exists: before an admin has created it there is nothing to
-- refresh, and the job does nothing rather than fail every night.
select cron.schedule(
    'ops-odoo-summary',
    '0 2 * * *',
    $$select ops.refresh_odoo_project_summary() where pg_catalog.to_regclass('ops_private.odoo_project_summary') is not null$$);

-- The cache's rows of the caller's projects (those in which their role has
-- project.read).
create function ops_private.member_odoo_project_summaries()
returns table (project_id text, name text, task_count bigint, allocated_hours double precision,
               refreshed_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if pg_catalog.to_regclass('ops_private.odoo_project_summary') is null then
        raise exception 'the Odoo project summary has not been created'
            using errcode = '55000',
                  hint = 'An admin runs select ops.create_odoo_project_summary(); after configuring the Odoo instance.';
    end if;
    return query execute $sql$
        select s.project_id, s.name, s.task_count, s.allocated_hours, s.refreshed_at
          from ops_private.odoo_project_summary s
         where s.project_id in (select ops_private.member_project_ids('project.read'))
         order by pg_catalog.substr(s.project_id, 6)::bigint
    $sql$;
end;
$$;
revoke all on function ops_private.member_odoo_project_summaries() from public;
grant execute on function ops_private.member_odoo_project_summaries() to authenticated;

create function ops.odoo_project_summaries()
returns table (project_id text, name text, task_count bigint, allocated_hours double precision,
               refreshed_at timestamptz)
language sql
stable
set search_path = ''
as $$
    select * from ops_private.member_odoo_project_summaries()
$$;
revoke all on function ops.odoo_project_summaries() from public, anon;
grant execute on function ops.odoo_project_summaries() to authenticated;
comment on function ops.odoo_project_summaries() is
    'The cached Odoo summary (name, active tasks, allocated hours, refreshed_at) of the caller''s projects.';

-- ---------------------------------------------------------------------------
-- The seed's cross-system queries, live through the wrapper: they read
-- Odoo's current rows, so they answer only while Odoo's database does. A
-- failure to reach it is raised again without the wrapper's detail (which
-- names Odoo's host) and with its SQLSTATE, class 08 (PostgREST answers 503)
-- or HV.

-- Each of the caller's projects: its name in Odoo now (null when Odoo no
-- longer has it), its runs and its successful runs. Driven by the caller's
-- projects rather than by Odoo's, so a project deleted in Odoo keeps its
-- runs in the answer; Odoo is read once, for those ids only.
create function ops_private.member_odoo_projects_with_runs()
returns table (project_id text, odoo_project_name text, total_runs bigint, successful_runs bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_projects text[];
    v_names    jsonb;
begin
    select coalesce(pg_catalog.array_agg(m.project_id), '{}')
      into v_projects
      from ops_private.member_project_ids('project.read') m (project_id);
    if pg_catalog.cardinality(v_projects) = 0 then
        return;
    end if;

    begin
        -- Odoo's ids are integers; a control plane id beyond that range
        -- names no Odoo project.
        execute pg_catalog.format($sql$
            select coalesce(pg_catalog.jsonb_object_agg(p.id::text, p.name), '{}')
              from %I.project_project p
             where p.id = any ($1)
        $sql$, ops_private.odoo_projects_schema())
            into v_names
            using array(select pg_catalog.substr(x, 6)::bigint::integer
                          from pg_catalog.unnest(v_projects) x
                         where pg_catalog.substr(x, 6)::bigint <= 2147483647);
    -- A stalled Odoo ends at the wrapper's statement timeout (57014).
    exception when connection_exception or fdw_error or query_canceled then
        raise exception 'Odoo''s database cannot be read now'
            using errcode = sqlstate, hint = 'Try again later.';
    end;

    return query
        select pr.project_id,
               ops_private.odoo_project_name(v_names -> pg_catalog.substr(pr.project_id, 6)),
               count(r.run_id),
               count(r.run_id) filter (where r.status = 'success')
          from ops.projects pr
          left join ops.runs r on r.project_id = pr.project_id
         where pr.project_id = any (v_projects)
         group by pr.project_id
         order by pg_catalog.substr(pr.project_id, 6)::bigint;
end;
$$;
revoke all on function ops_private.member_odoo_projects_with_runs() from public;
grant execute on function ops_private.member_odoo_projects_with_runs() to authenticated;

create function ops.odoo_projects_with_runs()
returns table (project_id text, odoo_project_name text, total_runs bigint, successful_runs bigint)
language sql
stable
set search_path = ''
as $$
    select * from ops_private.member_odoo_projects_with_runs()
$$;
revoke all on function ops.odoo_projects_with_runs() from public, anon;
grant execute on function ops.odoo_projects_with_runs() to authenticated;
comment on function ops.odoo_projects_with_runs() is
    'The caller''s projects with their live Odoo name, run count and successful runs (the seed''s cross-system query).';

-- The seed's invoice example: the posted customer invoices (`out_invoice`;
-- not drafts, cancelled ones, credit notes or vendor bills) of the
-- project's customer in Odoo, its company and that company's contacts
-- (Odoo's commercial partner), oldest first. Nothing for a project the
-- caller is not a member of, which is told apart neither from a project
-- without invoices nor from one that does not exist; Odoo is not read then.
--
-- Three reads by key, not one join: postgres_fdw 15 does not ship
-- `coalesce`, and without remote estimates it planned the join as every
-- partner paired with every posted invoice, shipped to be filtered here.
create function ops_private.member_odoo_project_invoices(p_project_id text)
returns table (invoice_id integer, name text, invoice_date date, amount_total numeric,
               currency_id integer, state text, payment_state text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_schema     text;
    v_partner    integer;
    v_commercial integer;
begin
    -- Membership first: a member's project id is well formed (odoo-<digits>).
    if p_project_id is null
       or p_project_id not in (select ops_private.member_project_ids('project.read')) then
        return;
    end if;
    if pg_catalog.substr(p_project_id, 6)::bigint > 2147483647 then
        return;
    end if;
    v_schema := ops_private.odoo_projects_schema();
    begin
        execute pg_catalog.format(
            'select p.partner_id from %I.project_project p where p.id = $1', v_schema)
            into v_partner using pg_catalog.substr(p_project_id, 6)::integer;
        if v_partner is null then
            return;
        end if;
        -- The customer's company (Odoo's commercial partner), or itself.
        execute pg_catalog.format(
            'select coalesce(c.commercial_partner_id, c.id) from %I.res_partner c where c.id = $1', v_schema)
            into v_commercial using v_partner;
        if v_commercial is null then
            return;
        end if;
        return query execute pg_catalog.format($sql$
            select m.id, m.name::text, m.invoice_date, m.amount_total, m.currency_id,
                   m.state::text, m.payment_state::text
              from %I.account_move m
             where m.commercial_partner_id = $1
               and m.move_type = 'out_invoice'
               and m.state = 'posted'
             order by m.invoice_date, m.id
        $sql$, v_schema)
            using v_commercial;
    -- A stalled Odoo ends at the wrapper's statement timeout (57014).
    exception when connection_exception or fdw_error or query_canceled then
        raise exception 'Odoo''s database cannot be read now'
            using errcode = sqlstate, hint = 'Try again later.';
    end;
end;
$$;
revoke all on function ops_private.member_odoo_project_invoices(text) from public;
grant execute on function ops_private.member_odoo_project_invoices(text) to authenticated;

create function ops.odoo_project_invoices(p_project_id text)
returns table (invoice_id integer, name text, invoice_date date, amount_total numeric,
               currency_id integer, state text, payment_state text)
language sql
stable
set search_path = ''
as $$
    select * from ops_private.member_odoo_project_invoices(p_project_id)
$$;
revoke all on function ops.odoo_project_invoices(text) from public, anon;
grant execute on function ops.odoo_project_invoices(text) to authenticated;
comment on function ops.odoo_project_invoices(text) is
    'The posted customer invoices, live from Odoo, of the customer of one of the caller''s projects (the seed''s invoice example).';
