-- The read-through cache of Odoo's projects and the cross-system queries
-- (20261202070000_odoo_cache_queries.sql), against the stack's real
-- Odoo-shaped database (xtask/sql/odoo_fixture.sql) through the real
-- wrapper: the stack configured it as instance `prod` and created the cache
-- when it started. What the cache holds, how it is refreshed and by whom,
-- and what each kind of caller sees of it and of the live queries.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
\ir ../helpers/outcome.psql

select plan(54);

-- Runs `p_sql` as `p_role` (JWT sub `p_user`), after `p_setup` as the owner
-- when given, and undoes both: its rows as a jsonb array ('[]' for none),
-- or {"error": SQLSTATE, "message": …}. pgTAP's own bookkeeping cannot run as
-- the API roles, so the assertions compare what this returns.
create function pg_temp.rows_as(p_sql text, p_role text, p_user uuid default null, p_setup text default null)
returns jsonb
language plpgsql
as $$
declare
    v_rows  jsonb;
    v_state text;
    v_text  text;
begin
    begin
        if p_setup is not null then
            execute p_setup;
        end if;
        perform set_config('request.jwt.claims',
            json_build_object('sub', p_user, 'role', p_role)::text, true);
        perform set_config('role', p_role, true);
        execute format('select coalesce(jsonb_agg(to_jsonb(x)), ''[]'') from (%s) x', p_sql) into v_rows;
        raise exception using errcode = 'OPSOK', message = v_rows::text;
    exception when others then
        get stacked diagnostics v_state = returned_sqlstate, v_text = message_text;
        if v_state = 'OPSOK' then
            return v_text::jsonb;
        end if;
        return jsonb_build_object('error', v_state, 'message', v_text);
    end;
end;
$$;

-- ---------------------------------------------------------------------------
-- The people and their projects, written as the owner. Ana views Website
-- Redesign (Odoo 1) and develops Office Move (Odoo 2); Bruno views
-- Research & Development (Odoo 5) and a project Odoo does not have
-- (odoo-999); the stranger is a member of nothing.
insert into auth.users (id, email) values
    ('c1111111-1111-4111-8111-111111111111', 'ana@cache.test'),
    ('c2222222-2222-4222-8222-222222222222', 'bruno@cache.test'),
    ('c3333333-3333-4333-8333-333333333333', 'stranger@cache.test');

insert into ops.projects (project_id, name, odoo_version) values
    ('odoo-1', 'Website Redesign', '19.0'),
    ('odoo-2', 'Office Move', '19.0'),
    ('odoo-5', 'Research & Development', '19.0'),
    ('odoo-999', 'Gone from Odoo', '19.0')
on conflict (project_id) do nothing;

insert into ops.project_members (project_id, user_id, role) values
    ('odoo-1', 'c1111111-1111-4111-8111-111111111111', 'viewer'),
    ('odoo-2', 'c1111111-1111-4111-8111-111111111111', 'developer'),
    ('odoo-5', 'c2222222-2222-4222-8222-222222222222', 'viewer'),
    ('odoo-999', 'c2222222-2222-4222-8222-222222222222', 'viewer');

-- Whatever runs the projects had before, these are counted on top.
create temp table runs_before as
select p.project_id,
       count(r.run_id) as total,
       count(r.run_id) filter (where r.status = 'success') as successful
  from ops.projects p left join ops.runs r on r.project_id = p.project_id
 where p.project_id in ('odoo-1', 'odoo-2', 'odoo-5', 'odoo-999')
 group by p.project_id;

insert into ops.runs (run_id, project_id, kind, environment, status, created_by) values
    ('run-cache0001', 'odoo-1', 'deploy', 'prod', 'success', 'c1111111-1111-4111-8111-111111111111'),
    ('run-cache0002', 'odoo-1', 'deploy', 'staging', 'success', 'c1111111-1111-4111-8111-111111111111'),
    ('run-cache0003', 'odoo-1', 'build', null, 'failed', 'c1111111-1111-4111-8111-111111111111'),
    ('run-cache0004', 'odoo-2', 'build', null, 'queued', 'c1111111-1111-4111-8111-111111111111'),
    ('run-cache0005', 'odoo-5', 'build', null, 'success', 'c2222222-2222-4222-8222-222222222222'),
    ('run-cache0006', 'odoo-999', 'test', null, 'success', 'c2222222-2222-4222-8222-222222222222');

-- ---------------------------------------------------------------------------
-- Odoo unreachable, before anything in this session connected to it (a
-- connection in use stays open until the transaction ends): the live
-- queries fail with the wrapper's SQLSTATE and without its detail, which
-- names Odoo's host; the cache still answers.
select is(pg_temp.rows_as($$select * from ops.odoo_projects_with_runs()$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111',
              $$alter server odoo_prod options (set port '1')$$),
    '{"error": "08001", "message": "Odoo''s database cannot be read now"}'::jsonb,
    'Odoo down: the runs query fails with 08001 (PostgREST: 503), the host not named');
select is(pg_temp.rows_as($$select * from ops.odoo_project_invoices('odoo-1')$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111',
              $$alter server odoo_prod options (set port '1')$$),
    '{"error": "08001", "message": "Odoo''s database cannot be read now"}'::jsonb,
    'Odoo down: the invoice query fails the same way');
select is(pg_temp.rows_as($$select * from ops.odoo_project_invoices('odoo-1')$$,
              'authenticated', 'c3333333-3333-4333-8333-333333333333',
              $$alter server odoo_prod options (set port '1')$$),
    '[]'::jsonb, 'Odoo down: a stranger''s invoice query answers nothing, since Odoo is not even read for him');
select is(jsonb_array_length(pg_temp.rows_as($$select * from ops.odoo_project_summaries()$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111',
              $$alter server odoo_prod options (set port '1')$$)),
    2, 'Odoo down: the cache still answers a member');

-- ---------------------------------------------------------------------------
-- The cache's shape and place.
select is((select c.relkind::text || ':' || c.relnamespace::regnamespace::text || ':' || pg_get_userbyid(c.relowner)
             from pg_class c where c.oid = to_regclass('ops_private.odoo_project_summary')),
    'm:ops_private:postgres', 'the cache is a materialized view in ops_private, owned by postgres');
select ok((select i.indisunique and pg_get_indexdef(i.indexrelid) like '%(project_id)'
             from pg_index i where i.indrelid = 'ops_private.odoo_project_summary'::regclass),
    'with a unique index on project_id');
select is((select array_agg(distinct n.nspname::text || '.' || c.relname::text)
             from pg_rewrite r
             join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
                             and d.refclassid = 'pg_class'::regclass
             join pg_class c on c.oid = d.refobjid and c.relkind = 'f'
             join pg_namespace n on n.oid = c.relnamespace
            where r.ev_class = 'ops_private.odoo_project_summary'::regclass),
    array['odoo_prod.project_project', 'odoo_prod.project_task'],
    'it reads the projects'' source, odoo_prod''s projects and tasks');
select is((select array_agg(a.attname::text || ' ' || format_type(a.atttypid, a.atttypmod) order by a.attnum)
             from pg_attribute a
            where a.attrelid = 'ops_private.odoo_project_summary'::regclass and a.attnum > 0),
    array['project_id text', 'name text', 'task_count bigint', 'allocated_hours double precision',
          'refreshed_at timestamp with time zone'],
    'its columns');

-- What it holds: the fixture's projects but the template (4); active tasks
-- only (project 3's one task is archived, task 10 has no project), subtasks
-- included (task 4 of project 1), a task without an estimate counted with
-- no hours (task 6 of project 2); names in en_US.
select results_eq(
    $$select project_id, name, task_count, allocated_hours
        from ops_private.odoo_project_summary order by project_id$$,
    $$values ('odoo-1', 'Website Redesign', 4::bigint, 56.75::float8),
             ('odoo-2', 'Office Move', 2::bigint, 2::float8),
             ('odoo-3', 'Legacy ERP Migration', 0::bigint, 0::float8),
             ('odoo-5', 'Research & Development', 1::bigint, 30::float8)$$,
    'the summary''s counts and hours are the fixture''s');
select results_eq(
    $$select project_id, task_count, allocated_hours from ops_private.odoo_project_summary order by project_id$$,
    $$select 'odoo-' || p.id, count(t.id), coalesce(sum(t.allocated_hours), 0)
        from odoo_prod.project_project p
        left join odoo_prod.project_task t on t.project_id = p.id and t.active
       where p.is_template is not true
       group by p.id order by 1$$,
    'and what Odoo holds now, counted another way');

-- The name: en_US, else the first other language by code, never an edit
-- variant; null for what is not an object.
select results_eq(
    $$select ops_private.odoo_project_name(n) from (values
        ('{"fr_FR": "Projet", "en_US": "Project"}'::jsonb), ('{"fr_FR": "Projet", "de_DE": "Projekt"}'),
        ('{"_en_US": "draft", "nl_NL": "Project"}'), ('"Project"'), ('{}'), (null)) v (n)$$,
    $$values ('Project'::text), ('Projekt'), ('Project'), (null), (null), (null)$$,
    'names: en_US, else the first language by code, never an _edit variant');

-- ---------------------------------------------------------------------------
-- Refreshing.
select ok((select max(refreshed_at) < now() from ops_private.odoo_project_summary),
    'the cache was read when the stack started');
select is(ops.refresh_odoo_project_summary(), 4::bigint, 'the refresh answers its rows');
select ok((select bool_and(refreshed_at = now()) from ops_private.odoo_project_summary),
    'and read Odoo again, concurrently, inside this transaction');
select is(pg_temp.outcome($$select ops.refresh_odoo_project_summary()$$, 'service_role'),
    'rows:4', 'service_role may refresh on demand');
select is(pg_temp.outcome($$select ops.refresh_odoo_project_summary()$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111'),
    'error:42501', 'a member may not refresh');
select is(pg_temp.outcome($$select ops.refresh_odoo_project_summary()$$, 'anon'),
    'error:42501', 'anon may not refresh');
select is(pg_temp.outcome($$refresh materialized view ops_private.odoo_project_summary$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111'),
    'error:42501', 'nor refresh the view directly');
select is(pg_temp.outcome($$refresh materialized view concurrently ops_private.odoo_project_summary$$, 'service_role'),
    'error:42501', 'service_role refreshes only through the function');
select is(pg_temp.rows_as($$select ops.refresh_odoo_project_summary()$$, 'postgres', null,
              $$drop index ops_private.odoo_project_summary_project_id$$) ->> 'error',
    '55000', 'without the unique index a concurrent refresh is refused: the index is what makes it possible');
select is(pg_temp.rows_as($$select ops.refresh_odoo_project_summary()$$, 'postgres', null,
              $$update ops_private.odoo_instances set projects_source = false$$),
    '{"error": "55000", "message": "no Odoo instance is where the projects come from"}'::jsonb,
    'with no projects'' source there is nothing to refresh from');
select is((select schedule || ' ' || command || ' ' || username from cron.job where jobname = 'ops-odoo-summary'),
    '0 2 * * * select ops.refresh_odoo_project_summary() where pg_catalog.to_regclass(''ops_private.odoo_project_summary'') is not null postgres',
    'pg_cron refreshes it at 02:00 UTC as postgres, once it exists');

-- Creating it: admins only; rebuilt in place; refused without a source.
select is(pg_temp.outcome($$select ops.create_odoo_project_summary()$$, 'service_role'),
    'error:42501', 'service_role may not create the cache');
select is(pg_temp.outcome($$select ops.create_odoo_project_summary()$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111'),
    'error:42501', 'nor may a member');
select is(pg_temp.rows_as($$select ops.create_odoo_project_summary()$$, 'postgres', null,
              $$update ops_private.odoo_instances set projects_source = false$$) ->> 'error',
    '55000', 'creating it needs a projects'' source');
select is(ops.create_odoo_project_summary(), 4::bigint, 'an admin rebuilds it');
select is(pg_temp.outcome($$select count(*) from ops_private.odoo_project_summary$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111'),
    'error:42501', 'rebuilt, it is still granted to no member');
select is(ops.refresh_odoo_project_summary(), 4::bigint, 'and still refreshes concurrently');

-- ---------------------------------------------------------------------------
-- Who reads the cache.
select is(pg_temp.rows_as($$select project_id, name, task_count, allocated_hours from ops.odoo_project_summaries()$$,
              'authenticated', 'c1111111-1111-4111-8111-111111111111'),
    '[{"project_id": "odoo-1", "name": "Website Redesign", "task_count": 4, "allocated_hours": 56.75},
      {"project_id": "odoo-2", "name": "Office Move", "task_count": 2, "allocated_hours": 2}]'::jsonb,
    'Ana sees the summaries of her two projects, and only those');
select is(pg_temp.rows_as($$select project_id, task_count from ops.odoo_project_summaries()$$,
              'authenticated', 'c2222222-2222-4222-8222-222222222222'),
    '[{"project_id": "odoo-5", "task_count": 1}]'::jsonb,
    'Bruno sees his (odoo-999 has no summary: Odoo has no such project)');
select is(pg_temp.rows_as($$select * from ops.odoo_project_summaries()$$,
              'authenticated', 'c3333333-3333-4333-8333-333333333333'),
    '[]'::jsonb, 'a stranger sees none');
select is(pg_temp.rows_as($$select * from ops.odoo_project_summaries()$$, 'authenticated', null),
    '[]'::jsonb, 'nor does a token without a user');
select is(pg_temp.outcome($$select count(*) from ops.odoo_project_summaries()$$, 'anon'),
    'error:42501', 'anon cannot call it');
select is(pg_temp.outcome($$select count(*) from ops_private.odoo_project_summary$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111'),
    'error:42501', 'a member cannot select the materialized view');
select is(pg_temp.outcome($$select count(*) from ops_private.odoo_project_summary$$, 'anon'),
    'error:42501', 'nor can anon');
select is(pg_temp.outcome($$select count(*) from ops_private.odoo_project_summary$$, 'service_role'),
    'error:42501', 'nor service_role: it is granted to no one');
select is(pg_temp.rows_as($$select project_id from ops.odoo_project_summaries()$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111',
              $$update ops.project_members set role = 'viewer' where user_id = 'c1111111-1111-4111-8111-111111111111' and project_id = 'odoo-2'$$),
    '[{"project_id": "odoo-1"}, {"project_id": "odoo-2"}]'::jsonb, 'any role with project.read reads');

-- ---------------------------------------------------------------------------
-- Odoo projects with their runs, live.
select is(pg_temp.rows_as($$select * from ops.odoo_projects_with_runs()$$,
              'authenticated', 'c1111111-1111-4111-8111-111111111111'),
    (select jsonb_agg(jsonb_build_object('project_id', v.project_id, 'odoo_project_name', v.name,
                                         'total_runs', b.total + v.total, 'successful_runs', b.successful + v.successful)
                      order by v.ord)
       from (values (1, 'odoo-1', 'Website Redesign', 3, 2), (2, 'odoo-2', 'Office Move', 1, 0))
            v (ord, project_id, name, total, successful)
       join runs_before b using (project_id)),
    'Ana: her projects, their Odoo names, runs and successful runs');
select is(pg_temp.rows_as($$select * from ops.odoo_projects_with_runs()$$,
              'authenticated', 'c2222222-2222-4222-8222-222222222222'),
    (select jsonb_agg(jsonb_build_object('project_id', v.project_id, 'odoo_project_name', v.name,
                                         'total_runs', b.total + v.total, 'successful_runs', b.successful + v.successful)
                      order by v.ord)
       from (values (1, 'odoo-5', 'Research & Development', 1, 1), (2, 'odoo-999', null, 1, 1))
            v (ord, project_id, name, total, successful)
       join runs_before b using (project_id)),
    'Bruno: a project Odoo no longer has keeps its runs, with no Odoo name');
select is(pg_temp.rows_as($$select * from ops.odoo_projects_with_runs()$$,
              'authenticated', 'c3333333-3333-4333-8333-333333333333'),
    '[]'::jsonb, 'a stranger sees no project and no run');
select is(pg_temp.rows_as($$select odoo_project_name from ops.odoo_projects_with_runs() where project_id = 'odoo-1'$$,
              'authenticated', 'c1111111-1111-4111-8111-111111111111',
              $$update ops.projects set name = 'Stale name' where project_id = 'odoo-1'$$),
    '[{"odoo_project_name": "Website Redesign"}]'::jsonb, 'the name is Odoo''s, not the control plane''s copy');
select is(pg_temp.outcome($$select count(*) from ops.odoo_projects_with_runs()$$, 'anon'),
    'error:42501', 'anon cannot call it');
select is(pg_temp.rows_as($$select * from ops.odoo_projects_with_runs()$$, 'authenticated',
              'c1111111-1111-4111-8111-111111111111',
              $$update ops_private.odoo_instances set projects_source = false$$) ->> 'error',
    '55000', 'no projects'' source: refused, not an empty answer');

-- ---------------------------------------------------------------------------
-- The invoice example, live: posted customer invoices of the project's
-- customer (Azure Interior for project 1: its own and its contact
-- Brandon's; not the cancelled one, the credit note); Deco Addict for
-- project 2 (not the draft, not the vendor bill).
select is(pg_temp.rows_as($$select * from ops.odoo_project_invoices('odoo-1')$$,
              'authenticated', 'c1111111-1111-4111-8111-111111111111'),
    '[{"invoice_id": 1, "name": "INV/2026/00001", "invoice_date": "2026-11-02", "amount_total": 1150.00,
       "currency_id": 1, "state": "posted", "payment_state": "paid"},
      {"invoice_id": 2, "name": "INV/2026/00002", "invoice_date": "2026-11-16", "amount_total": 460.00,
       "currency_id": 1, "state": "posted", "payment_state": "not_paid"}]'::jsonb,
    'Ana: project 1''s customer''s posted invoices, its contact''s included');
select is(pg_temp.rows_as($$select invoice_id, amount_total, state from ops.odoo_project_invoices('odoo-2')$$,
              'authenticated', 'c1111111-1111-4111-8111-111111111111'),
    '[{"invoice_id": 3, "amount_total": 2875.50, "state": "posted"}]'::jsonb,
    'project 2: no draft, no vendor bill');
select is(pg_temp.rows_as($$select * from ops.odoo_project_invoices('odoo-5')$$,
              'authenticated', 'c2222222-2222-4222-8222-222222222222'),
    '[]'::jsonb, 'a project without a customer has no invoices');
select is(pg_temp.rows_as($$select * from ops.odoo_project_invoices('odoo-999')$$,
              'authenticated', 'c2222222-2222-4222-8222-222222222222'),
    '[]'::jsonb, 'nor has a project Odoo does not have');
select is(pg_temp.rows_as($$select * from ops.odoo_project_invoices('odoo-1')$$,
              'authenticated', 'c2222222-2222-4222-8222-222222222222'),
    '[]'::jsonb, 'Bruno sees nothing of a project he is not a member of');
select is(pg_temp.rows_as($$select * from ops.odoo_project_invoices('odoo-1')$$,
              'authenticated', 'c3333333-3333-4333-8333-333333333333'),
    '[]'::jsonb, 'nor does a stranger');
select is(pg_temp.rows_as($$select i.* from (values ('abc'), (null), ('odoo-99999999999')) v (x)
                  cross join lateral ops.odoo_project_invoices(v.x) i$$,
              'authenticated', 'c1111111-1111-4111-8111-111111111111'),
    '[]'::jsonb, 'a malformed, null or unknown id answers nothing');
select is(pg_temp.outcome($$select count(*) from ops.odoo_project_invoices('odoo-1')$$, 'anon'),
    'error:42501', 'anon cannot call it');

-- ---------------------------------------------------------------------------
-- Privileges as the advisors see them: the entry points in `ops` (exposed)
-- are SECURITY INVOKER, executable by authenticated and no one else of the
-- API; the SECURITY DEFINER helpers live in ops_private (not exposed).
select results_eq(
    $$select p.proname::text collate "default", p.prosecdef,
             has_function_privilege('anon', p.oid, 'execute'),
             has_function_privilege('authenticated', p.oid, 'execute'),
             has_function_privilege('service_role', p.oid, 'execute')
        from pg_proc p
       where p.pronamespace = 'ops'::regnamespace
         and p.proname in ('odoo_project_summaries', 'odoo_projects_with_runs', 'odoo_project_invoices',
                           'refresh_odoo_project_summary', 'create_odoo_project_summary')
       order by p.proname$$,
    $$values ('create_odoo_project_summary'::text, true, false, false, false),
             ('odoo_project_invoices', false, false, true, false),
             ('odoo_project_summaries', false, false, true, false),
             ('odoo_projects_with_runs', false, false, true, false),
             ('refresh_odoo_project_summary', true, false, false, true)$$,
    'ops entry points: members'' are security invoker; the definer ones are not executable by anon or authenticated');
select results_eq(
    $$select p.proname::text collate "default", p.prosecdef, has_function_privilege('anon', p.oid, 'execute'),
             p.proconfig = array['search_path=""']
        from pg_proc p
       where p.pronamespace = 'ops_private'::regnamespace and p.proname like 'member_odoo_%'
       order by p.proname$$,
    $$values ('member_odoo_project_invoices'::text, true, false, true),
             ('member_odoo_project_summaries', true, false, true),
             ('member_odoo_projects_with_runs', true, false, true)$$,
    'the definer helpers sit in ops_private, pin search_path, and anon cannot execute them');
select is(pg_temp.outcome($$select count(*) from ops_private.member_odoo_projects_with_runs()$$, 'anon'),
    'error:42501', 'anon cannot reach a helper either');

select * from finish();
rollback;
