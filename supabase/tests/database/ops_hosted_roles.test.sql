-- The roles are hosted Supabase's: the migrations were applied, and these
-- tests run, as a `postgres` that is not a superuser, so what needs more
-- fails here as it would at `supabase db push`.
begin;
select plan(17);

select is((select rolsuper from pg_catalog.pg_roles where rolname = current_user), false,
    'the tests connect as a role that is not a superuser');
select is(current_user::text, 'postgres', 'the tests connect as postgres');

-- The Supabase CLI records each migration it applies in a table it creates
-- as the connected role: its owner is the role that applied them.
select is((select tableowner::text from pg_catalog.pg_tables
            where schemaname = 'supabase_migrations' and tablename = 'schema_migrations'),
    'postgres', 'the migrations were applied by postgres');
select is((select r.rolsuper from pg_catalog.pg_tables t
             join pg_catalog.pg_roles r on r.rolname = t.tableowner
            where t.schemaname = 'supabase_migrations' and t.tablename = 'schema_migrations'),
    false, 'the role that applied the migrations is not a superuser');
select is((select count(*)::int from pg_catalog.pg_class c
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace
             join pg_catalog.pg_roles r on r.oid = c.relowner
            where n.nspname in ('ops', 'ops_private') and r.rolsuper),
    0, 'no ops relation is owned by a superuser');
select is((select count(*)::int from pg_catalog.pg_proc p
             join pg_catalog.pg_namespace n on n.oid = p.pronamespace
             join pg_catalog.pg_roles r on r.oid = p.proowner
            where n.nspname in ('ops', 'ops_private') and r.rolsuper),
    0, 'no ops function runs with a superuser''s rights');

-- postgres has what hosted gives it, and no more.
select is((select array[rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, rolbypassrls]
             from pg_catalog.pg_roles where rolname = 'postgres'),
    array[true, true, true, true, true],
    'postgres has CREATEDB, CREATEROLE, LOGIN, REPLICATION and BYPASSRLS, as on hosted');
select is((select rolsuper from pg_catalog.pg_roles where rolname = 'supabase_admin'), true,
    'supabase_admin is the superuser');
select ok(pg_catalog.pg_has_role('postgres', 'authenticated', 'member')
          and pg_catalog.pg_has_role('postgres', 'service_role', 'member'),
    'postgres may act as the API roles');
select ok(not pg_catalog.pg_has_role('postgres', 'supabase_auth_admin', 'member'),
    'postgres is not a member of supabase_auth_admin');
select is((select tableowner::text from pg_catalog.pg_tables
            where schemaname = 'auth' and tablename = 'users'),
    'supabase_auth_admin', 'auth.users belongs to Supabase Auth''s role');
select throws_ok($$create table auth.ops_probe ()$$, '42501', null,
    'postgres cannot create objects in the auth schema');
select throws_ok($$set session_replication_role = replica$$, '42501', null,
    'postgres cannot turn off triggers and foreign keys for its session');

-- The extensions the migrations use are enabled where hosted enables them,
-- and pg_cron's jobs belong to postgres.
select is((select extnamespace::regnamespace::text from pg_catalog.pg_extension
            where extname = 'pg_cron'), 'pg_catalog', 'pg_cron is enabled in pg_catalog');
select is((select array_agg(distinct username::text) from cron.job
            where jobname like 'ops-%'), array['postgres'],
    'the ops cron jobs run as postgres');
select throws_ok($$update cron.job set command = 'select 1' where jobname = 'ops-cleanup'$$,
    '42501', null, 'postgres changes jobs only through cron.schedule');

-- Realtime's publication, as hosted creates it.
select is((select pubowner::regrole::text from pg_catalog.pg_publication
            where pubname = 'supabase_realtime'), 'postgres',
    'the supabase_realtime publication belongs to postgres');

select * from finish();
rollback;
