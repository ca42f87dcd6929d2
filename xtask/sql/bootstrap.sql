-- What a hosted Supabase database already has before any migration runs,
-- recreated for the local stack. A test fixture, never a migration: hosted
-- Supabase creates these itself, and a migration creating them would fail there.
--
-- Run by `cargo xtask` as `supabase_admin`, the cluster's superuser (initdb's
-- bootstrap user), as Supabase's own initial schema is. It mirrors the
-- supabase/postgres repository's `migrations/db/init-scripts/` and the
-- migrations that shape the roles afterwards (`10000000000000_demote-postgres`,
-- `20211115181400_update-auth-permissions`,
-- `20231020085357_revoke_writes_on_cron_job_from_postgres`,
-- `20250421084701_revoke_admin_roles_from_postgres`), reduced to what the
-- `ops` schema, its functions and its tests touch. The point is that a
-- migration which needs more than hosted `postgres` may do fails here too.

-- `postgres`: the role the Supabase CLI, the SQL editor and the functions'
-- SUPABASE_DB_URL connect as. Not a superuser. The attributes are the ones
-- `10000000000000_demote-postgres.sql` leaves it with: CREATEDB, CREATEROLE,
-- LOGIN, REPLICATION (so it may read a logical replication slot) and
-- BYPASSRLS. The password is the local stack's throwaway one.
create role postgres with nosuperuser createdb createrole login replication bypassrls
  password 'postgres';
-- Supabase's images make `postgres` the owner of the `postgres` database
-- (and so, in PostgreSQL 15, of the `public` schema) before demoting it.
alter database postgres owner to postgres;
grant all on database postgres to postgres;
-- Granted by the upgrade scripts on hosted projects ("make sure postgres
-- still has access"): reading every table, and cancelling backends.
grant pg_read_all_data, pg_signal_backend to postgres;

-- The API roles. PostgREST logs in as `authenticator` and switches to one of
-- the others according to the request's JWT.
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
create role authenticator login noinherit password 'postgres';
grant anon, authenticated, service_role to authenticator;
-- On hosted Supabase `postgres` can act as the API roles (`set role`).
grant anon, authenticated, service_role to postgres;
-- Supabase Auth's own role: it owns the `auth` tables and runs Auth's
-- database hooks. `postgres` is not a member of it (revoked on hosted by
-- `20250421084701_revoke_admin_roles_from_postgres.sql`), and it no longer
-- has CREATEROLE (`20260821154147_revoke_createrole_from_auth_admin.sql`).
create role supabase_auth_admin noinherit nocreaterole login noreplication password 'postgres';

-- Like Supabase, every object created in `public` is usable by the API roles;
-- RLS policies and revokes in the migrations decide what they may really do.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres, supabase_admin in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres, supabase_admin in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres, supabase_admin in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;

-- Extensions live in their own schema, owned by `supabase_admin`, on the
-- search path as on hosted. Hosted lets `postgres` create the extensions it
-- offers (through its `supautils` extension, which this stack does not have),
-- so here `supabase_admin` enables the ones the migrations and the tests use
-- ahead of them; a migration's `create extension if not exists` then finds
-- them and does nothing.
create schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;
alter role postgres set search_path = "$user", public, extensions;
alter role supabase_admin set search_path = "$user", public, auth, extensions;

-- Only those available, so a machine without one still gets a working stack
-- (and the migration that needs it fails with a clear message).
do $$
begin
  if exists (select from pg_available_extensions where name = 'pgcrypto') then
    create extension if not exists pgcrypto with schema extensions;
  end if;
  if exists (select from pg_available_extensions where name = 'uuid-ossp') then
    create extension if not exists "uuid-ossp" with schema extensions;
  end if;
  if exists (select from pg_available_extensions where name = 'plpgsql_check') then
    create extension if not exists plpgsql_check with schema extensions;
  end if;
  if exists (select from pg_available_extensions where name = 'postgres_fdw') then
    create extension if not exists postgres_fdw with schema extensions;
  end if;
  -- pg_cron needs shared_preload_libraries; its objects go to the `cron`
  -- schema, the extension itself to pg_catalog as Supabase enables it.
  -- `postgres` may use the schema and read cron.job, but writes jobs only
  -- through cron.schedule/unschedule, which act on its own jobs
  -- (`20231020085357_revoke_writes_on_cron_job_from_postgres.sql`).
  if exists (select from pg_available_extensions where name = 'pg_cron')
     and current_setting('shared_preload_libraries') like '%pg_cron%' then
    create extension if not exists pg_cron with schema pg_catalog;
    grant usage on schema cron to postgres with grant option;
    grant all on all tables in schema cron to postgres with grant option;
    grant all on all sequences in schema cron to postgres with grant option;
    grant all on all routines in schema cron to postgres with grant option;
    revoke all on table cron.job from postgres;
    grant select on table cron.job to postgres with grant option;
  end if;
end
$$;
-- A foreign-data wrapper is used by its servers' owners: hosted grants
-- `postgres` the use of the wrappers it may enable.
do $$
begin
  if exists (select from pg_foreign_data_wrapper where fdwname = 'postgres_fdw') then
    grant usage on foreign data wrapper postgres_fdw to postgres with grant option;
  end if;
end
$$;

-- Realtime's publication, created empty by Supabase's initial schema. Hosted
-- projects' dumps show it owned by `postgres`, which is what lets a migration
-- run `alter publication supabase_realtime add table …`.
create publication supabase_realtime;
alter publication supabase_realtime owner to postgres;

-- Supabase Auth's schema, reduced to what the database side uses. The schema
-- belongs to `supabase_admin`, its tables and functions to
-- `supabase_auth_admin`; `postgres` may use them all but create nothing in it
-- (`20211115181400_update-auth-permissions.sql`,
-- `20250421084701_revoke_admin_roles_from_postgres.sql`).
create schema auth authorization supabase_admin;
grant usage on schema auth to anon, authenticated, service_role;
grant all on schema auth to supabase_auth_admin;
grant usage on schema auth to postgres;

create table auth.users (
  instance_id uuid,
  id uuid primary key default gen_random_uuid(),
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  phone text unique,
  banned_until timestamptz,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index users_email_partial_key on auth.users (email);

-- The helpers policies call. They read the JWT claims PostgREST puts into
-- the transaction settings; the older one-setting-per-claim form is kept
-- because Supabase's own functions still read it first.
create function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;

alter table auth.users owner to supabase_auth_admin;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant all on all tables in schema auth to postgres;
grant all on all sequences in schema auth to postgres;
grant all on all routines in schema auth to postgres;
