-- Reading Odoo (the seed's rule 3): postgres_fdw, one foreign server per Odoo
-- instance, set up by an admin with ops.configure_odoo_instance once Odoo's
-- address is known. This migration creates no server, no user mapping and
-- no secret, so `supabase db push` works on a project that knows nothing of
-- Odoo yet; the password never appears in a migration or in a call's
-- arguments: the function reads it from Vault by the secret's name.
--
-- What a configured instance is:
--   * the foreign server `odoo_<instance>` (postgres_fdw), read only
--     (updatable and truncatable false), with Odoo's host, port and
--     database, TLS as asked (`require` unless told otherwise), a fetch size
--     for paging and a connect timeout, so an Odoo that does not answer
--     fails a read in seconds rather than hanging it;
--   * one user mapping, for the function's owner (`postgres`, the role the
--     Edge Functions' SUPABASE_DB_URL and the SECURITY DEFINER readers run
--     as), never for the API roles: a mapping for anon or authenticated
--     would let them open connections to Odoo as the wrapper's role;
--   * the schema `odoo_<instance>`, not in config.toml's `[api] schemas`,
--     holding one foreign table per Odoo table the control plane reads:
--     project_project, project_task, res_users, res_partner, account_move and
--     ir_module_module, each with Odoo 19's columns and types, declared here
--     (ops_private.odoo_foreign_columns) rather than imported, so the columns
--     are ours whatever modules add to Odoo's tables. RLS cannot apply to a
--     foreign table, so nothing in these schemas is granted to anyone: the
--     API roles have no USAGE on them and no SELECT;
--   * its row in ops_private.odoo_instances.
--
-- Reconfiguring (a new host, a rotated password, another fetch size) alters
-- the server and the mapping in place and keeps the foreign tables, so the
-- views and functions built on them stay; a foreign table is rebuilt only
-- when its columns differ from the declared ones, and then without CASCADE:
-- if something depends on it, the call fails and says what.

create extension if not exists postgres_fdw with schema extensions;

-- The configured instances. Outside `ops`, which the Data API exposes: it
-- names Odoo's host, database and role, which no API caller needs, and it is
-- written only by ops.configure_odoo_instance, so that it always describes
-- the server that exists.
create table ops_private.odoo_instances (
    odoo_instance   text primary key
        constraint odoo_instances_odoo_instance_valid check (ops.is_valid_environment(odoo_instance)),
    -- The instance whose projects are the control plane's (ops.projects,
    -- `odoo-<id>`); at most one. Changing it is not a detail: a full
    -- reconcile against another Odoo would mark every project deleted.
    projects_source boolean not null default false,
    -- Both the foreign server's name and its tables' schema.
    foreign_schema  text not null generated always as ('odoo_' || odoo_instance) stored,
    host            text not null
        constraint odoo_instances_host_length check (char_length(host) between 1 and 255),
    port            integer not null
        constraint odoo_instances_port_range check (port between 1 and 65535),
    dbname          text not null
        constraint odoo_instances_dbname_length check (char_length(dbname) between 1 and 63),
    odoo_user       text not null
        constraint odoo_instances_odoo_user_length check (char_length(odoo_user) between 1 and 63),
    -- The name of the Vault secret that holds the password, never the password.
    password_secret text not null
        constraint odoo_instances_password_secret_length check (char_length(password_secret) between 1 and 255),
    sslmode         text not null
        constraint odoo_instances_sslmode_valid
        check (sslmode in ('disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full')),
    fetch_size      integer not null
        constraint odoo_instances_fetch_size_range check (fetch_size between 1 and 100000),
    -- The statement timeout Odoo's server applies to the wrapper's session
    -- (sent as its `options`), or null: none is sent.
    statement_timeout_ms integer
        constraint odoo_instances_statement_timeout_range
        check (statement_timeout_ms between 100 and 3600000),
    configured_at   timestamptz not null default now(),
    created_at      timestamptz not null default now()
);
alter table ops_private.odoo_instances enable row level security;

comment on table ops_private.odoo_instances is
    'The Odoo instances read through postgres_fdw (server and schema odoo_<instance>); written only by ops.configure_odoo_instance.';

-- At most one instance is where the projects come from.
create unique index odoo_instances_one_projects_source
    on ops_private.odoo_instances (projects_source) where projects_source;

-- service_role may read the configuration (it bypasses RLS); no one writes
-- it but the function, and the API roles do not see it.
revoke all on table ops_private.odoo_instances from public, anon, authenticated, service_role;
grant select on table ops_private.odoo_instances to service_role;

-- ---------------------------------------------------------------------------
-- The foreign tables' columns: Odoo 19.0's, as its ORM creates them from
-- the models (project_project.py, project_task.py, res_users.py,
-- res_partner.py, account_move.py, ir_module.py and base_data.sql), with
-- the types PostgreSQL gives them there, as "<column> <type>[ not null]" in
-- format_type's spelling so they compare with pg_attribute. The columns of
-- the modules every instance has: base, mail (res_users.notification_type,
-- res_partner.email_normalized), project and account; not hr_timesheet's
-- project_project.allocated_hours, which a reader would fail on in an Odoo
-- without it. Left out on purpose: res_users.password (a password hash) and
-- the portal access tokens (access_token), which open a record to whoever
-- holds one; the README's grants do not give the wrapper's role those
-- columns either. A change here is applied to an instance by configuring
-- it again.
create function ops_private.odoo_foreign_columns()
returns table (table_name text, ordinal integer, column_name text, column_type text, not_null boolean)
language sql immutable parallel safe
set search_path = ''
as $$
    select t.table_name,
           c.ordinal::integer,
           pg_catalog.split_part(c.definition, ' ', 1),
           pg_catalog.regexp_replace(
               pg_catalog.substr(c.definition, pg_catalog.strpos(c.definition, ' ') + 1),
               ' not null$', ''),
           c.definition like '% not null'
      from (values
        ('project_project', array[
            'id integer not null', 'name jsonb not null', 'active boolean', 'sequence integer',
            'partner_id integer', 'company_id integer', 'account_id integer', 'description text',
            'label_tasks jsonb', 'user_id integer', 'alias_id integer not null',
            'privacy_visibility character varying not null', 'date_start date', 'date date',
            'stage_id integer', 'last_update_status character varying not null',
            'last_update_id integer', 'is_template boolean', 'color integer',
            'allow_task_dependencies boolean', 'allow_milestones boolean',
            'allow_recurring_tasks boolean', 'duration_tracking jsonb', 'create_uid integer',
            'create_date timestamp without time zone', 'write_uid integer',
            'write_date timestamp without time zone']),
        ('project_task', array[
            'id integer not null', 'name character varying not null', 'active boolean',
            'description text', 'priority character varying', 'sequence integer',
            'stage_id integer', 'state character varying not null',
            'create_date timestamp without time zone', 'write_date timestamp without time zone',
            'date_end timestamp without time zone', 'date_assign timestamp without time zone',
            'date_deadline timestamp without time zone',
            'date_last_stage_update timestamp without time zone', 'project_id integer',
            'display_in_project boolean', 'allocated_hours double precision',
            'partner_id integer', 'email_from character varying', 'email_cc character varying',
            'partner_phone character varying', 'company_id integer', 'parent_id integer',
            'milestone_id integer', 'recurring_task boolean', 'is_template boolean',
            'has_template_ancestor boolean', 'task_properties jsonb', 'color integer',
            'create_uid integer', 'write_uid integer']),
        ('res_users', array[
            'id integer not null', 'login character varying not null',
            'partner_id integer not null', 'company_id integer not null', 'active boolean',
            'share boolean', 'signature text', 'action_id integer',
            'notification_type character varying not null', 'create_uid integer',
            'create_date timestamp without time zone', 'write_uid integer',
            'write_date timestamp without time zone']),
        ('res_partner', array[
            'id integer not null', 'name character varying', 'complete_name character varying',
            'active boolean', 'company_id integer', 'parent_id integer',
            'commercial_partner_id integer', 'email character varying',
            'email_normalized character varying', 'phone character varying',
            'is_company boolean', 'type character varying', 'partner_share boolean',
            'user_id integer', 'ref character varying', 'vat character varying',
            'company_registry character varying', 'website character varying',
            'street character varying', 'street2 character varying', 'zip character varying',
            'city character varying', 'function character varying',
            'company_name character varying', 'commercial_company_name character varying',
            'lang character varying', 'tz character varying', 'state_id integer',
            'country_id integer', 'partner_latitude numeric', 'partner_longitude numeric',
            'comment text', 'barcode jsonb', 'properties jsonb', 'color integer',
            'create_uid integer', 'create_date timestamp without time zone', 'write_uid integer',
            'write_date timestamp without time zone']),
        ('account_move', array[
            'id integer not null', 'name character varying', 'ref character varying',
            'date date not null', 'state character varying not null',
            'move_type character varying not null', 'journal_id integer not null',
            'company_id integer', 'partner_id integer', 'commercial_partner_id integer',
            'currency_id integer not null', 'amount_untaxed numeric', 'amount_tax numeric',
            'amount_total numeric', 'amount_residual numeric', 'amount_untaxed_signed numeric',
            'amount_tax_signed numeric', 'amount_total_signed numeric',
            'amount_residual_signed numeric', 'amount_untaxed_in_currency_signed numeric',
            'amount_total_in_currency_signed numeric', 'invoice_currency_rate numeric',
            'payment_state character varying', 'invoice_date date', 'invoice_date_due date',
            'auto_post character varying not null', 'posted_before boolean',
            'made_sequence_gap boolean', 'checked boolean', 'sequence_prefix character varying',
            'sequence_number integer', 'narration text', 'invoice_origin character varying',
            'payment_reference character varying',
            'invoice_partner_display_name character varying', 'reversed_entry_id integer',
            'origin_payment_id integer', 'statement_line_id integer', 'invoice_user_id integer',
            'fiscal_position_id integer', 'message_main_attachment_id integer',
            'create_uid integer', 'create_date timestamp without time zone', 'write_uid integer',
            'write_date timestamp without time zone']),
        ('ir_module_module', array[
            'id integer not null', 'create_uid integer',
            'create_date timestamp without time zone', 'write_date timestamp without time zone',
            'write_uid integer', 'website character varying', 'summary jsonb',
            'name character varying not null', 'author character varying',
            'icon character varying', 'state character varying(16)',
            'latest_version character varying', 'shortdesc jsonb', 'category_id integer',
            'description jsonb', 'application boolean', 'demo boolean', 'web boolean',
            'license character varying(32)', 'sequence integer', 'auto_install boolean',
            'to_buy boolean', 'maintainer character varying', 'contributors text',
            'published_version character varying', 'url character varying',
            'menus_by_module text', 'reports_by_module text', 'views_by_module text'])
      ) as t (table_name, columns)
     cross join lateral pg_catalog.unnest(t.columns) with ordinality as c (definition, ordinal)
$$;
revoke all on function ops_private.odoo_foreign_columns() from public;
comment on function ops_private.odoo_foreign_columns() is
    'The columns of the foreign tables of each Odoo instance (Odoo 19''s), in order.';

-- The OPTIONS list that gives a foreign server or user mapping the options
-- `p_wanted`. Creating (p_current null): `name 'value', …`. Altering: SET for
-- the options it has, ADD for the others, since ALTER refuses to SET a
-- missing option or ADD a present one; options it has beyond p_wanted stay.
create function ops_private.fdw_options_clause(p_current text[], p_wanted jsonb)
returns text
language sql immutable
set search_path = ''
as $$
    select pg_catalog.string_agg(
               pg_catalog.format('%s%I %L',
                   case
                       when p_current is null then ''
                       when w.key in (select o.option_name from pg_catalog.pg_options_to_table(p_current) o)
                           then 'set '
                       else 'add '
                   end,
                   w.key, w.value),
               ', ' order by w.key)
      from pg_catalog.jsonb_each_text(p_wanted) w
$$;
revoke all on function ops_private.fdw_options_clause(text[], jsonb) from public;

-- ---------------------------------------------------------------------------
-- (Re)configures Odoo instance p_instance (dev, staging or prod) as described
-- at the top of this file and returns its row. The password is the Vault
-- secret named p_password_secret (`vault.decrypted_secrets`), read when the
-- function runs: store it first, in the SQL editor,
--   select vault.create_secret('<the reader''s password>', 'odoo_prod_fdw_password');
-- and call again after changing it there (vault.update_secret): the mapping
-- holds a copy. p_projects_source null keeps the instance's setting (false
-- for a new one), so rotating a password cannot move the projects' source by
-- accident; making a second instance the source is refused until the first
-- is configured with false.
--
-- SECURITY DEFINER so that whoever calls it, the server, the mapping and the
-- tables belong to its owner (`postgres`), and the mapping is the owner's.
-- Only the owner may call it: not the API roles, and not service_role either,
-- whose key lives in servers and functions. Repointing an instance is
-- pointing the wrapper's password at a host: the next read would hand the
-- password to whoever answers there (PostgreSQL 15's libpq sends it in clear
-- text when the server asks), and the function reads any Vault secret by
-- name. That is an administrator's act, in the SQL editor or psql as
-- `postgres`.
--
-- The user mapping's DDL carries the password. It runs through EXECUTE,
-- which statement logging does not record (only the top-level `select
-- ops.configure_odoo_instance(…)`, with the secret's name, is), and an error
-- in it is caught and raised again without the statement, so the password
-- is not in the error's context either. plpgsql: dynamic DDL, and Vault is
-- reached by a schema name given as a format() argument, so the function
-- compiles, and `supabase db lint` passes, where Vault is not installed.
create function ops.configure_odoo_instance(
    p_instance        text,
    p_host            text,
    p_port            integer,
    p_dbname          text,
    p_user            text,
    p_password_secret text,
    p_projects_source boolean default null,
    p_sslmode         text default 'require',
    p_fetch_size      integer default 1000,
    p_statement_timeout_ms integer default 60000
)
returns ops_private.odoo_instances
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_name     text := 'odoo_' || p_instance;
    v_password text;
    v_source   text;
    v_row      ops_private.odoo_instances;
    v_current  text[];
    v_wrapper  text;
    v_mapping  text;
    v_table    record;
    v_relid    oid;
    v_liveness jsonb;
begin
    if p_instance is null or not ops.is_valid_environment(p_instance) then
        raise exception 'ops.configure_odoo_instance: p_instance: expected dev, staging or prod, got %',
            coalesce(pg_catalog.quote_literal(p_instance), 'null') using errcode = '22023';
    end if;
    if coalesce(pg_catalog.btrim(p_host), '') = '' then
        raise exception 'ops.configure_odoo_instance: p_host: expected Odoo''s database host, got %',
            coalesce(pg_catalog.quote_literal(p_host), 'null') using errcode = '22023';
    end if;
    if p_port is null or p_port not between 1 and 65535 then
        raise exception 'ops.configure_odoo_instance: p_port: expected 1 to 65535, got %',
            coalesce(p_port::text, 'null') using errcode = '22023';
    end if;
    if coalesce(p_dbname, '') = '' or coalesce(p_user, '') = '' then
        raise exception 'ops.configure_odoo_instance: p_dbname and p_user: expected Odoo''s database and the wrapper''s role, got % and %',
            coalesce(pg_catalog.quote_literal(p_dbname), 'null'),
            coalesce(pg_catalog.quote_literal(p_user), 'null') using errcode = '22023';
    end if;
    if coalesce(p_password_secret, '') = '' then
        raise exception 'ops.configure_odoo_instance: p_password_secret: expected the name of a Vault secret, got %',
            coalesce(pg_catalog.quote_literal(p_password_secret), 'null') using errcode = '22023';
    end if;
    if p_sslmode is null
       or p_sslmode not in ('disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full') then
        raise exception 'ops.configure_odoo_instance: p_sslmode: expected a libpq sslmode (require, verify-full, …), got %',
            coalesce(pg_catalog.quote_literal(p_sslmode), 'null') using errcode = '22023';
    end if;
    if p_fetch_size is null or p_fetch_size not between 1 and 100000 then
        raise exception 'ops.configure_odoo_instance: p_fetch_size: expected 1 to 100000 rows, got %',
            coalesce(p_fetch_size::text, 'null') using errcode = '22023';
    end if;
    if p_statement_timeout_ms not between 100 and 3600000 then
        raise exception 'ops.configure_odoo_instance: p_statement_timeout_ms: expected 100 to 3600000 (1 hour), or null to send none, got %',
            p_statement_timeout_ms using errcode = '22023';
    end if;

    -- One configuration at a time, so the projects-source rule is checked
    -- against a settled table; reads of it go on.
    lock table ops_private.odoo_instances in share row exclusive mode;

    if p_projects_source then
        select i.odoo_instance into v_source
          from ops_private.odoo_instances i
         where i.projects_source and i.odoo_instance <> p_instance;
        if found then
            raise exception 'ops.configure_odoo_instance: p_projects_source: the projects already come from %; configure it with p_projects_source => false first',
                v_source using errcode = '23505';
        end if;
    end if;

    if pg_catalog.to_regclass('vault.decrypted_secrets') is null then
        raise exception 'ops.configure_odoo_instance: Vault (supabase_vault) is not available, and the password is read from it'
            using errcode = '55000',
                  hint = 'Enable Vault (Database → Vault), store the password with vault.create_secret, then call again.';
    end if;
    execute pg_catalog.format(
        'select max(s.decrypted_secret) from %I.decrypted_secrets s where s.name = $1', 'vault')
        into v_password using p_password_secret;
    if coalesce(v_password, '') = '' then
        raise exception 'ops.configure_odoo_instance: p_password_secret: Vault has no secret named %',
            pg_catalog.quote_literal(p_password_secret)
            using errcode = '22023',
                  hint = 'select vault.create_secret(''<password>'', ''<name>'');';
    end if;

    insert into ops_private.odoo_instances as i
        (odoo_instance, projects_source, host, port, dbname, odoo_user, password_secret,
         sslmode, fetch_size, statement_timeout_ms, configured_at)
    values
        (p_instance, coalesce(p_projects_source, false), p_host, p_port, p_dbname, p_user,
         p_password_secret, p_sslmode, p_fetch_size, p_statement_timeout_ms, pg_catalog.now())
    on conflict (odoo_instance) do update
       set projects_source = coalesce(p_projects_source, i.projects_source),
           host            = excluded.host,
           port            = excluded.port,
           dbname          = excluded.dbname,
           odoo_user       = excluded.odoo_user,
           password_secret = excluded.password_secret,
           sslmode         = excluded.sslmode,
           fetch_size      = excluded.fetch_size,
           statement_timeout_ms = excluded.statement_timeout_ms,
           configured_at   = excluded.configured_at
    returning i.* into v_row;

    -- An Odoo that stalls must not stall the reads. A wait for a lock in
    -- Odoo (a module upgrade holds its tables for minutes) ends at the
    -- statement timeout Odoo's server applies to the wrapper's session, with
    -- SQLSTATE 57014, which the functions answer with 503: the local
    -- statement that waits cannot be timed out from within (a function's
    -- SET clause is read after its calling statement's timer started). A
    -- peer gone silent (a dropped route) is found by TCP keepalives within
    -- about a minute; libpq's default is the kernel's two hours. An empty
    -- `options` is not sent, for a pooler in front of Odoo that refuses it.
    v_liveness := pg_catalog.jsonb_build_object(
        'options', coalesce('-c statement_timeout=' || p_statement_timeout_ms, ''),
        'keepalives', '1', 'keepalives_idle', '30', 'keepalives_interval', '10',
        'keepalives_count', '3');

    -- The server, altered in place when it exists.
    select s.srvoptions, w.fdwname into v_current, v_wrapper
      from pg_catalog.pg_foreign_server s
      join pg_catalog.pg_foreign_data_wrapper w on w.oid = s.srvfdw
     where s.srvname = v_name;
    if not found then
        execute pg_catalog.format('create server %I foreign data wrapper postgres_fdw options (%s)',
            v_name, ops_private.fdw_options_clause(null, pg_catalog.jsonb_build_object(
                'host', p_host, 'port', p_port::text, 'dbname', p_dbname, 'sslmode', p_sslmode,
                'fetch_size', p_fetch_size::text, 'connect_timeout', '10',
                'application_name', 'supabase-odooops', 'updatable', 'false', 'truncatable', 'false')
                || v_liveness));
    elsif v_wrapper <> 'postgres_fdw' then
        raise exception 'ops.configure_odoo_instance: the foreign server % exists and is not a postgres_fdw server',
            v_name using errcode = '42710';
    else
        execute pg_catalog.format('alter server %I options (%s)',
            v_name, ops_private.fdw_options_clause(coalesce(v_current, '{}'), pg_catalog.jsonb_build_object(
                'host', p_host, 'port', p_port::text, 'dbname', p_dbname, 'sslmode', p_sslmode,
                'fetch_size', p_fetch_size::text, 'connect_timeout', '10',
                'application_name', 'supabase-odooops', 'updatable', 'false', 'truncatable', 'false')
                || v_liveness));
    end if;

    -- The owner's user mapping. Its options are visible to the owner, as
    -- the mapped role and the server's owner; to anyone else
    -- pg_user_mappings shows them as null.
    select um.umoptions into v_current
      from pg_catalog.pg_user_mappings um
     where um.srvname = v_name and um.usename = current_user;
    if found then
        v_mapping := pg_catalog.format('alter user mapping for current_user server %I options (%s)',
            v_name, ops_private.fdw_options_clause(coalesce(v_current, '{}'),
                pg_catalog.jsonb_build_object('user', p_user, 'password', v_password)));
    else
        v_mapping := pg_catalog.format('create user mapping for current_user server %I options (%s)',
            v_name, ops_private.fdw_options_clause(null,
                pg_catalog.jsonb_build_object('user', p_user, 'password', v_password)));
    end if;
    begin
        execute v_mapping;
    exception when others then
        raise exception 'ops.configure_odoo_instance: cannot set the user mapping of server %: %',
            v_name, sqlerrm using errcode = sqlstate;
    end;

    -- The schema: created once, and closed again on each call, so that a
    -- grant slipped in by hand does not survive a reconfiguration.
    if not exists (select from pg_catalog.pg_namespace n where n.nspname = v_name) then
        execute pg_catalog.format('create schema %I', v_name);
    elsif not exists (select from pg_catalog.pg_namespace n
                       where n.nspname = v_name and pg_catalog.pg_get_userbyid(n.nspowner) = current_user) then
        raise exception 'ops.configure_odoo_instance: the schema % exists and belongs to another role', v_name
            using errcode = '42P06';
    end if;
    execute pg_catalog.format('revoke all on schema %I from public, anon, authenticated, service_role', v_name);
    execute pg_catalog.format('comment on schema %I is %L', v_name, pg_catalog.format(
        'Odoo instance %s read through postgres_fdw (server %s): read only, not exposed by the Data API, granted to no one.',
        p_instance, v_name));

    -- The foreign tables: kept when their columns and target are the
    -- declared ones, rebuilt otherwise.
    for v_table in
        select c.table_name,
               pg_catalog.array_agg(c.column_name || ' ' || c.column_type
                                    || case when c.not_null then ' not null' else '' end
                                    order by c.ordinal) as wanted,
               pg_catalog.string_agg(pg_catalog.format('%I %s%s', c.column_name, c.column_type,
                                         case when c.not_null then ' not null' else '' end),
                                     ', ' order by c.ordinal) as columns
          from ops_private.odoo_foreign_columns() c
         group by c.table_name
         order by c.table_name
    loop
        v_relid := pg_catalog.to_regclass(pg_catalog.format('%I.%I', v_name, v_table.table_name));
        if v_relid is not null then
            if (select pg_catalog.array_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                                            || case when a.attnotnull then ' not null' else '' end
                                            order by a.attnum)
                  from pg_catalog.pg_attribute a
                 where a.attrelid = v_relid and a.attnum > 0 and not a.attisdropped) = v_table.wanted
               and exists (select from pg_catalog.pg_foreign_table f
                             join pg_catalog.pg_foreign_server s on s.oid = f.ftserver
                            where f.ftrelid = v_relid and s.srvname = v_name
                              and f.ftoptions @> array['schema_name=public',
                                                       'table_name=' || v_table.table_name]) then
                continue;
            end if;
            execute pg_catalog.format('drop foreign table %I.%I', v_name, v_table.table_name);
        end if;
        execute pg_catalog.format(
            'create foreign table %I.%I (%s) server %I options (schema_name %L, table_name %L)',
            v_name, v_table.table_name, v_table.columns, v_name, 'public', v_table.table_name);
    end loop;
    execute pg_catalog.format('revoke all on all tables in schema %I from public, anon, authenticated, service_role', v_name);

    return v_row;
end;
$$;

revoke all on function ops.configure_odoo_instance(text, text, integer, text, text, text, boolean, text, integer, integer)
    from public, anon, authenticated, service_role;
comment on function ops.configure_odoo_instance(text, text, integer, text, text, text, boolean, text, integer, integer) is
    'Creates or updates the postgres_fdw server, user mapping and foreign tables (schema odoo_<instance>) of an Odoo instance; the password comes from the named Vault secret. Admins only (postgres).';
