-- Configures the local Odoo database (xtask/sql/odoo_fixture.sql) as the
-- control plane's Odoo instance `prod`, where the projects come from, the
-- way an admin does it on hosted Supabase: the reader's password in Vault,
-- then ops.configure_odoo_instance as `postgres`.
--
-- Run by `cargo xtask` as `supabase_admin` after the migrations, with the
-- psql variables `port` (the stack's) and `reader_password`. The local stack
-- has no Vault (supabase_vault is not packaged for Debian), so this stands
-- in for it for the length of one transaction: a `vault.decrypted_secrets`
-- holding the one secret, readable by `postgres` as on hosted, dropped
-- before the commit. What stays is what the function made: the server, the
-- user mapping and the foreign tables; no Vault, as the tests that check
-- for its absence expect.
begin;
create schema vault;
create table vault.decrypted_secrets (name text primary key, decrypted_secret text not null);
grant usage on schema vault to postgres;
grant select on vault.decrypted_secrets to postgres;
insert into vault.decrypted_secrets values ('odoo_prod_fdw_password', :'reader_password');

set local role postgres;
\o /dev/null
select odoo_instance, foreign_schema, projects_source
  from ops.configure_odoo_instance(
      p_instance => 'prod',
      p_host => '127.0.0.1',
      p_port => :port,
      p_dbname => 'odoo',
      p_user => 'odoo_fdw_reader',
      p_password_secret => 'odoo_prod_fdw_password',
      p_projects_source => true,
      -- The local cluster has no TLS; hosted defaults to `require`.
      p_sslmode => 'disable');
\o
reset role;

drop table vault.decrypted_secrets;
drop schema vault;
commit;

-- The read-through cache over the instance just configured, as the README's
-- admin steps create it (20261202070000_odoo_cache_queries.sql).
set role postgres;
\o /dev/null
select ops.create_odoo_project_summary();
\o
reset role;
