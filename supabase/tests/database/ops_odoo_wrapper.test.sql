-- Reading Odoo through postgres_fdw (20261202040000_odoo_wrapper.sql),
-- against the stack's real Odoo-shaped database (xtask/sql/odoo_fixture.sql),
-- which the stack configured as instance `prod` with
-- ops.configure_odoo_instance when it started: what the foreign tables read,
-- what Odoo's side lets the wrapper's role do, what the API roles reach, and
-- what reconfiguring does and refuses.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
\ir ../helpers/outcome.psql

select plan(69);

-- The password the stack configured: the mapping's owner (postgres, the
-- server's owner) sees it, which is what lets the checks below look for it.
select o.option_value as reader_password
  from pg_catalog.pg_user_mappings um
 cross join lateral pg_catalog.pg_options_to_table(um.umoptions) o
 where um.srvname = 'odoo_prod' and um.usename = 'postgres' and o.option_name = 'password'
\gset

-- ---------------------------------------------------------------------------
-- The stack's configuration.
select results_eq(
    $$select odoo_instance, projects_source, foreign_schema, dbname, odoo_user, password_secret
        from ops_private.odoo_instances$$,
    $$values ('prod'::text, true, 'odoo_prod'::text, 'odoo'::text, 'odoo_fdw_reader'::text,
              'odoo_prod_fdw_password'::text)$$,
    'the local Odoo is instance prod, where the projects come from, its password named in Vault');
select is((select w.fdwname::text from pg_catalog.pg_foreign_server s
             join pg_catalog.pg_foreign_data_wrapper w on w.oid = s.srvfdw
            where s.srvname = 'odoo_prod'),
    'postgres_fdw', 'odoo_prod is a postgres_fdw server');
select ok((select s.srvoptions @> array['dbname=odoo', 'fetch_size=1000', 'updatable=false',
                                        'truncatable=false', 'connect_timeout=10']
             from pg_catalog.pg_foreign_server s where s.srvname = 'odoo_prod'),
    'it is read only, pages 1000 rows a fetch and gives up connecting after 10 s');
select ok((select s.srvoptions @> array['options=-c statement_timeout=60000', 'keepalives=1',
                                        'keepalives_idle=30', 'keepalives_interval=10', 'keepalives_count=3']
             from pg_catalog.pg_foreign_server s where s.srvname = 'odoo_prod')
          and (select statement_timeout_ms from ops_private.odoo_instances where odoo_instance = 'prod') = 60000,
    'Odoo times the wrapper''s statements out after 60 s, and a silent peer is found by keepalives');
select is((select pg_catalog.array_agg(um.usename::text) from pg_catalog.pg_user_mappings um
            where um.srvname = 'odoo_prod'),
    array['postgres'], 'the one user mapping is postgres''s: none for the API roles');
select ok(:'reader_password' <> '' and :'reader_password' <> 'odoo',
    'the mapping carries the reader''s password, not the owner''s');
select is((select pg_catalog.array_agg(c.relname::text || ':' || c.relkind::text order by c.relname)
             from pg_catalog.pg_class c where c.relnamespace = 'odoo_prod'::regnamespace),
    array['account_move:f', 'ir_module_module:f', 'project_project:f', 'project_task:f',
          'res_partner:f', 'res_users:f'],
    'schema odoo_prod holds the six foreign tables and nothing else');
select is((select pg_catalog.pg_get_userbyid(n.nspowner)::text from pg_catalog.pg_namespace n
            where n.nspname = 'odoo_prod'),
    'postgres', 'the schema belongs to postgres');

-- ---------------------------------------------------------------------------
-- What the foreign tables read: the fixture's rows, in Odoo's types.
select results_eq(
    $$select pg_typeof(name)::text, pg_typeof(write_date)::text, pg_typeof(is_template)::text
        from odoo_prod.project_project where id = 1$$,
    $$values ('jsonb', 'timestamp without time zone', 'boolean')$$,
    'a project''s name is jsonb and its write_date a timestamp without time zone');
select results_eq(
    $$select id, name ->> 'en_US', active, is_template, write_date
        from odoo_prod.project_project order by id$$,
    $$values (1, 'Website Redesign'::text, true, null::boolean, '2026-11-20 09:15:02.482113'::timestamp),
             (2, 'Office Move', true, false, '2026-11-24 14:03:51.907214'),
             (3, 'Legacy ERP Migration', false, null, '2026-11-25 08:00:00.000001'),
             (4, 'Implementation Template', true, true, '2026-09-12 15:00:00'),
             (5, 'Research & Development', true, null, '2026-11-27 17:42:09.000042')$$,
    'the five projects, archived and template ones too, write_date to the microsecond, is_template null where Odoo never wrote it');
select results_eq(
    $$select id, coalesce(name ->> 'fr_FR', name ->> 'en_US') from odoo_prod.project_project
       where id in (1, 2) order by id$$,
    $$values (1, 'Website Redesign'::text), (2, 'Déménagement du bureau')$$,
    'names are translated: French where Odoo has it, else en_US');
select is((select pg_typeof(allocated_hours)::text from odoo_prod.project_task where id = 1),
    'double precision', 'a task''s allocated_hours is a float8');
select results_eq(
    $$select project_id, count(*)::int, sum(allocated_hours)
        from odoo_prod.project_task group by project_id order by project_id nulls last$$,
    $$values (1, 4, 56.75::float8), (2, 2, 2), (3, 1, 40), (4, 1, 1.5), (5, 1, 30), (null, 1, 0)$$,
    'tasks per project with their allocated hours; a task without an estimate counts no hours; a private task has no project');
select results_eq(
    $$select u.id, u.login::text, u.active, u.share, p.email::text
        from odoo_prod.res_users u join odoo_prod.res_partner p on p.id = u.partner_id
       where u.id in (2, 5, 6, 7) order by u.id$$,
    $$values (2, 'admin'::text, true, false, 'admin@example.com'::text),
             (5, 'paula@example.com', true, true, 'Paula@Example.com'),
             (6, 'bruno', false, false, 'bruno@example.com'),
             (7, 'Ana@Example.com', true, false, 'ana@example.com')$$,
    'users with their partners'' emails: admin, a portal user, an archived user, a login kept as typed');
select results_eq(
    $$select state::text, latest_version::text from odoo_prod.ir_module_module where name = 'base'$$,
    $$values ('installed', '19.0.1.3')$$,
    'ir_module_module says base 19.0.1.3 is installed');
select results_eq(
    $$select name::text, partner_id, amount_total, pg_typeof(amount_total)::text
        from odoo_prod.account_move
       where move_type = 'out_invoice' and state = 'posted' order by id$$,
    $$values ('INV/2026/00001', 9, 1150.00::numeric, 'numeric'),
             ('INV/2026/00002', 11, 460.00, 'numeric'),
             ('INV/2026/00003', 10, 2875.50, 'numeric')$$,
    'the posted customer invoices, amounts in numeric');
select results_eq(
    $$select p.id, sum(m.amount_total)
        from odoo_prod.project_project p
        join odoo_prod.account_move m on m.commercial_partner_id = p.partner_id
       where m.move_type = 'out_invoice' and m.state = 'posted' and p.active
       group by p.id order by p.id$$,
    $$values (1, 1610.00::numeric), (2, 2875.50)$$,
    'invoiced per active project''s customer (a contact''s invoice counts for its company)');

-- ---------------------------------------------------------------------------
-- Odoo's side, as the wrapper's role sees it: Odoo's own information_schema,
-- read through the same server.
create schema odoo_probe;
create foreign table odoo_probe.columns (
    table_schema text, table_name text, column_name text, data_type text,
    character_maximum_length integer, is_nullable text
) server odoo_prod options (schema_name 'information_schema', table_name 'columns');
create foreign table odoo_probe.table_privileges (
    grantee text, table_schema text, table_name text, privilege_type text
) server odoo_prod options (schema_name 'information_schema', table_name 'table_privileges');
create foreign table odoo_probe.column_privileges (
    grantee text, table_schema text, table_name text, column_name text, privilege_type text
) server odoo_prod options (schema_name 'information_schema', table_name 'column_privileges');

select set_eq(
    $$select table_name, column_name, data_type, character_maximum_length, is_nullable
        from odoo_probe.columns where table_schema = 'public'$$,
    $$select table_name::text, column_name::text, data_type::text,
             character_maximum_length::integer, is_nullable::text
        from information_schema.columns where table_schema = 'odoo_prod'$$,
    'the reader sees exactly the foreign tables'' columns in Odoo, with the same types and NOT NULLs');
select is((select count(*)::int from odoo_probe.columns
            where table_schema = 'public' and column_name in ('password', 'access_token')),
    0, 'the reader cannot see the password hashes or the portal access tokens');
select is((select count(*)::int from odoo_probe.table_privileges
            where grantee = 'odoo_fdw_reader'),
    0, 'the reader has no privilege on any whole table');
select results_eq(
    $$select privilege_type, pg_catalog.array_agg(distinct table_name order by table_name)
        from odoo_probe.column_privileges where grantee = 'odoo_fdw_reader'
       group by privilege_type$$,
    $$values ('SELECT'::text, array['account_move', 'ir_module_module', 'project_project',
                                     'project_task', 'res_partner', 'res_users'])$$,
    'it may only read columns, of the six tables and no other');

-- The server is read only here, and if it were not, Odoo would refuse.
select throws_ok(
    $$insert into odoo_prod.project_project (id, name, alias_id, privacy_visibility, last_update_status)
      values (99, '{"en_US": "Forged"}', 99, 'portal', 'on_track')$$,
    '55000', null, 'the foreign tables do not take inserts');
select throws_ok($$update odoo_prod.project_project set active = false where id = 1$$,
    '55000', null, 'nor updates');
select throws_ok($$truncate odoo_prod.project_task$$,
    '55000', null, 'nor truncates');
alter server odoo_prod options (set updatable 'true', set truncatable 'true');
select throws_ok(
    $$insert into odoo_prod.project_project (id, name, alias_id, privacy_visibility, last_update_status)
      values (99, '{"en_US": "Forged"}', 99, 'portal', 'on_track')$$,
    '42501', 'permission denied for table project_project',
    'made writable here, an insert is refused by Odoo');
select throws_ok($$update odoo_prod.project_project set name = '{"en_US": "Renamed"}' where id = 1$$,
    '42501', 'permission denied for table project_project', 'so is an update');
select throws_ok($$delete from odoo_prod.res_users where id = 6$$,
    '42501', 'permission denied for table res_users', 'and a delete');
select throws_ok($$truncate odoo_prod.account_move$$,
    '42501', 'permission denied for table account_move', 'and a truncate');
alter server odoo_prod options (set updatable 'false', set truncatable 'false');
select results_eq(
    $$select count(*)::int, min(name ->> 'en_US') filter (where id = 1) from odoo_prod.project_project$$,
    $$values (5, 'Website Redesign'::text)$$, 'and Odoo''s rows are as they were');

-- ---------------------------------------------------------------------------
-- The API roles reach nothing of it.
select is(
    (select pg_catalog.array_agg(pg_temp.outcome(pg_catalog.format('select count(*) from odoo_prod.%I', t), 'anon')
                                 order by t)
       from pg_catalog.unnest(array['account_move', 'ir_module_module', 'project_project',
                                    'project_task', 'res_partner', 'res_users']) t),
    array_fill('error:42501'::text, array[6]), 'anon is refused every foreign table');
select is(
    (select pg_catalog.array_agg(pg_temp.outcome(pg_catalog.format('select count(*) from odoo_prod.%I', t),
                                                 'authenticated', 'f1111111-1111-4111-8111-111111111111')
                                 order by t)
       from pg_catalog.unnest(array['account_move', 'ir_module_module', 'project_project',
                                    'project_task', 'res_partner', 'res_users']) t),
    array_fill('error:42501'::text, array[6]), 'authenticated is refused every foreign table');
select is(
    (select pg_catalog.array_agg(pg_temp.outcome(pg_catalog.format('select count(*) from odoo_prod.%I', t), 'service_role')
                                 order by t)
       from pg_catalog.unnest(array['account_move', 'ir_module_module', 'project_project',
                                    'project_task', 'res_partner', 'res_users']) t),
    array_fill('error:42501'::text, array[6]), 'service_role too: the readers run as postgres');
select ok(not has_schema_privilege('anon', 'odoo_prod', 'usage')
          and not has_schema_privilege('authenticated', 'odoo_prod', 'usage')
          and not has_schema_privilege('service_role', 'odoo_prod', 'usage'),
    'no API role may use the schema');
select ok(not has_server_privilege('anon', 'odoo_prod', 'usage')
          and not has_server_privilege('authenticated', 'odoo_prod', 'usage')
          and not has_server_privilege('service_role', 'odoo_prod', 'usage'),
    'nor the server, to make foreign tables of their own');
select is(pg_temp.outcome(
        $$select count(*) from pg_catalog.pg_user_mappings where umoptions is not null$$, 'authenticated'),
    'rows:0', 'authenticated sees no user mapping''s options');
select is(pg_temp.outcome(pg_catalog.format(
        'select count(*) from pg_catalog.pg_user_mappings where umoptions::text like %L',
        '%' || :'reader_password' || '%'), 'authenticated'),
    'rows:0', 'the password appears nowhere it can look in pg_user_mappings');
select is(pg_temp.outcome(pg_catalog.format(
        'select count(*) from pg_catalog.pg_user_mappings where umoptions::text like %L',
        '%' || :'reader_password' || '%')),
    'rows:1', '(the same query as postgres finds it: the check can fail)');
select is(pg_temp.outcome($$select count(*) from pg_catalog.pg_user_mapping$$, 'authenticated'),
    'error:42501', 'and the catalog holding it is closed to authenticated');
select is(pg_temp.outcome($$select count(*) from pg_catalog.pg_user_mapping$$, 'anon'),
    'error:42501', 'and to anon');
select is(
    array[pg_temp.outcome($$select count(*) from ops_private.odoo_instances$$, 'anon'),
          pg_temp.outcome($$select count(*) from ops_private.odoo_instances$$, 'authenticated'),
          pg_temp.outcome($$select count(*) from ops_private.odoo_instances$$, 'service_role'),
          pg_temp.outcome($$update ops_private.odoo_instances set host = 'evil.example.com'$$, 'service_role'),
          pg_temp.outcome($$delete from ops_private.odoo_instances$$, 'service_role')],
    array['error:42501', 'error:42501', 'rows:1', 'error:42501', 'error:42501'],
    'the instances'' table: service_role reads it, no one writes it but the function');

-- Only postgres configures.
select is(
    array[pg_temp.outcome($$select ops.configure_odoo_instance('prod', 'evil.example.com', 5432, 'odoo',
                              'odoo_fdw_reader', 'odoo_prod_fdw_password')$$, 'anon'),
          pg_temp.outcome($$select ops.configure_odoo_instance('prod', 'evil.example.com', 5432, 'odoo',
                              'odoo_fdw_reader', 'odoo_prod_fdw_password')$$, 'authenticated'),
          pg_temp.outcome($$select ops.configure_odoo_instance('prod', 'evil.example.com', 5432, 'odoo',
                              'odoo_fdw_reader', 'odoo_prod_fdw_password')$$, 'service_role')],
    array_fill('error:42501'::text, array[3]),
    'anon, authenticated and service_role cannot call ops.configure_odoo_instance');
select ok(has_function_privilege('postgres',
        'ops.configure_odoo_instance(text, text, integer, text, text, text, boolean, text, integer, integer)', 'execute'),
    'postgres can');

-- ---------------------------------------------------------------------------
-- Configuring. Without Vault (the local stack has none) there is no password.
select throws_ok(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', 5432, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password')$$,
    '55000', null, 'without Vault it refuses, since the password comes from there');

-- A stand-in with Vault's view, readable by postgres as on hosted.
create schema vault;
create table vault.decrypted_secrets (name text primary key, decrypted_secret text);
insert into vault.decrypted_secrets values
    ('odoo_prod_fdw_password', :'reader_password'),
    ('odoo_dev_fdw_password', 'not-the-password');

create temp table before_reconfiguring as
select (select oid from pg_catalog.pg_foreign_server where srvname = 'odoo_prod') as server,
       (select umid from pg_catalog.pg_user_mappings where srvname = 'odoo_prod') as mapping,
       (select pg_catalog.array_agg(c.oid order by c.relname) from pg_catalog.pg_class c
         where c.relnamespace = 'odoo_prod'::regnamespace) as tables,
       (select srvoptions from pg_catalog.pg_foreign_server where srvname = 'odoo_prod') as options,
       (select to_jsonb(i) from ops_private.odoo_instances i where odoo_instance = 'prod') as instance;
select current_setting('port') as stack_port \gset

select throws_ok(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', 5432, 'odoo', 'odoo_fdw_reader', 'no_such_secret')$$,
    '22023', 'ops.configure_odoo_instance: p_password_secret: Vault has no secret named ''no_such_secret''',
    'a secret Vault does not have is refused');
select throws_ok(
    $$select ops.configure_odoo_instance('qa', '127.0.0.1', 5432, 'odoo', 'odoo_fdw_reader', 'odoo_prod_fdw_password')$$,
    '22023', 'ops.configure_odoo_instance: p_instance: expected dev, staging or prod, got ''qa''',
    'so is an instance that is not dev, staging or prod');
select throws_ok(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', 0, 'odoo', 'odoo_fdw_reader', 'odoo_prod_fdw_password')$$,
    '22023', 'ops.configure_odoo_instance: p_port: expected 1 to 65535, got 0',
    'a port out of range');
select throws_ok(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', 5432, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password', p_sslmode => 'bogus')$$,
    '22023', null, 'an sslmode libpq does not know');
select throws_ok(
    $$select ops.configure_odoo_instance('dev', '127.0.0.1', 5432, 'odoo', 'odoo_fdw_reader',
                                         'odoo_dev_fdw_password', p_projects_source => true)$$,
    '23505', 'ops.configure_odoo_instance: p_projects_source: the projects already come from prod; configure it with p_projects_source => false first',
    'and a second source of projects');
select is(
    (select to_jsonb(i) from ops_private.odoo_instances i where odoo_instance = 'prod'),
    (select instance from before_reconfiguring),
    'the refused calls changed nothing');

-- Configuring prod again, as it is: nothing is rebuilt, and what was built
-- on the foreign tables stays.
create view odoo_probe.project_names as
    select id, name ->> 'en_US' as name from odoo_prod.project_project;
select lives_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password', p_sslmode => 'disable')$$, :'stack_port'),
    'prod can be configured again');
select results_eq(
    $$select (select oid from pg_catalog.pg_foreign_server where srvname = 'odoo_prod'),
             (select umid from pg_catalog.pg_user_mappings where srvname = 'odoo_prod'),
             (select pg_catalog.array_agg(c.oid order by c.relname) from pg_catalog.pg_class c
               where c.relnamespace = 'odoo_prod'::regnamespace),
             (select srvoptions from pg_catalog.pg_foreign_server where srvname = 'odoo_prod')$$,
    $$select server, mapping, tables, options from before_reconfiguring$$,
    'the same server, mapping, foreign tables and options: configuring is idempotent');
select is((select projects_source from ops_private.odoo_instances where odoo_instance = 'prod'), true,
    'leaving p_projects_source out keeps prod the projects'' source');
select is((select count(*)::int from odoo_probe.project_names), 5,
    'a view on a foreign table survives, and reads Odoo');

-- A changed setting is altered in place.
select lives_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password', p_sslmode => 'disable', p_fetch_size => 2)$$,
    :'stack_port'), 'a new fetch size');
select results_eq(
    $$select (select oid from pg_catalog.pg_foreign_server where srvname = 'odoo_prod'),
             (select 'fetch_size=2' = any (srvoptions) from pg_catalog.pg_foreign_server where srvname = 'odoo_prod'),
             (select pg_catalog.array_agg(c.oid order by c.relname) from pg_catalog.pg_class c
               where c.relnamespace = 'odoo_prod'::regnamespace)$$,
    $$select server, true, tables from before_reconfiguring$$,
    'is set on the same server, the tables untouched');
select is((select count(*)::int from odoo_prod.project_task), 10, 'and reads page by page (2 rows a fetch)');
select lives_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password', p_sslmode => 'disable',
                                         p_statement_timeout_ms => null)$$,
    :'stack_port'), 'no statement timeout, for a pooler in front of Odoo that refuses the options');
select ok((select 'options=' = any (srvoptions) from pg_catalog.pg_foreign_server where srvname = 'odoo_prod')
          and (select statement_timeout_ms is null from ops_private.odoo_instances where odoo_instance = 'prod')
          and (select count(*) = 5 from odoo_prod.project_project),
    'sends empty options, which libpq leaves out, and still reads');
select throws_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password', p_sslmode => 'disable',
                                         p_statement_timeout_ms => 50)$$, :'stack_port'),
    '22023', 'ops.configure_odoo_instance: p_statement_timeout_ms: expected 100 to 3600000 (1 hour), or null to send none, got 50',
    'a statement timeout under 100 ms is refused, naming the parameter and the rule');

-- A foreign table that drifted from the declared columns is rebuilt; one
-- that something depends on is not dropped behind its back.
alter foreign table odoo_prod.res_users drop column share;
select lives_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password', p_sslmode => 'disable')$$, :'stack_port'),
    'configuring after a column went missing');
select is((select share from odoo_prod.res_users where id = 5), true,
    'rebuilds that table with its columns');
alter foreign table odoo_prod.project_project drop column color;
select throws_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('prod', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_prod_fdw_password', p_sslmode => 'disable')$$, :'stack_port'),
    '2BP01', null, 'but refuses to drop one a view depends on (no CASCADE)');

-- Another instance, with its own server, mapping and schema; the password
-- really is the Vault secret's.
select lives_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('dev', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_dev_fdw_password', p_sslmode => 'disable')$$, :'stack_port'),
    'dev can be configured next to prod');
select throws_ok($$select count(*) from odoo_dev.project_project$$, '08001', null,
    'with a wrong password in Vault, reading dev fails to connect');
update vault.decrypted_secrets set decrypted_secret = :'reader_password' where name = 'odoo_dev_fdw_password';
select lives_ok(pg_catalog.format(
    $$select ops.configure_odoo_instance('dev', '127.0.0.1', %s, 'odoo', 'odoo_fdw_reader',
                                         'odoo_dev_fdw_password', p_sslmode => 'disable')$$, :'stack_port'),
    'after the secret is corrected, configuring dev again');
select is((select count(*)::int from odoo_dev.project_project), 5, 'reads Odoo through dev');
select results_eq(
    $$select odoo_instance, projects_source from ops_private.odoo_instances order by odoo_instance$$,
    $$values ('dev'::text, false), ('prod', true)$$,
    'dev is not where the projects come from');
select is(
    array[pg_temp.outcome($$select count(*) from odoo_dev.project_project$$, 'anon'),
          pg_temp.outcome($$select count(*) from odoo_dev.project_project$$, 'authenticated'),
          pg_temp.outcome($$select count(*) from odoo_dev.project_project$$, 'service_role')],
    array_fill('error:42501'::text, array[3]), 'and its foreign tables are closed to the API roles as well');
select is((select pg_catalog.array_agg(um.usename::text) from pg_catalog.pg_user_mappings um
            where um.srvname = 'odoo_dev'),
    array['postgres'], 'with postgres''s mapping only');

select * from finish();
rollback;
