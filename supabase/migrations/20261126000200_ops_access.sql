-- Who may do what: roles and their permissions, project membership, the
-- Supabase ↔ Odoo identity mapping, and the row level security of projects.
--
-- The access model, for every ops table:
--   * anon: nothing at all (no USAGE on the schema).
--   * authenticated: only rows of projects the caller is a member of
--     (ops.project_members, keyed by auth.uid()), and only the writes the
--     member's role permits. Writes nobody in the API may make are not
--     granted at all, so they fail with 42501 instead of silently matching
--     no row.
--   * service_role (workers, Edge Functions, Odoo's server-side calls):
--     bypasses RLS; what it may still not do is withheld by grants and, for
--     the audit rules, by triggers that hold for the table owner too.

grant usage on schema ops to authenticated;

-- Keeps `updated_at` true whatever the writer sends.
create function ops.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end;
$$;
revoke all on function ops.touch_updated_at() from public;

-- ---------------------------------------------------------------------------
-- Roles. Each role is a fixed set of permissions; policies ask for a
-- permission, never for a role name, so a role can change in one place.
-- The rows belong to the migrations: changing who may do what is a reviewed
-- schema change, so no API role, service_role included, may write them.
--
--   viewer     project.read
--   developer  project.read, run.create, run.cancel, approval.request
--   approver   project.read, approval.decide
--   admin      every permission, including member.manage (only admins
--              manage members), project.update and retention.manage
--
-- Approver is not a superset of developer on purpose: separating who asks for
-- a deployment from who allows it is the point of an approval.
create table ops.roles (
    role        text primary key
        constraint roles_role_valid check (ops.is_valid_member_role(role)),
    description text not null
        constraint roles_description_length check (char_length(description) between 1 and 500),
    permissions text[] not null
        constraint roles_permissions_known check (
            cardinality(permissions) > 0
            and array_position(permissions, null) is null
            and permissions <@ array[
                'project.read', 'project.update', 'member.manage', 'run.create',
                'run.cancel', 'approval.request', 'approval.decide', 'retention.manage'
            ]::text[])
);
alter table ops.roles enable row level security;

comment on table ops.roles is
    'Member roles and the permissions each grants; written by migrations only.';

insert into ops.roles (role, description, permissions) values
    ('viewer', 'Reads everything of the project.',
     array['project.read']),
    ('developer', 'Reads; starts and cancels runs; requests approvals.',
     array['project.read', 'run.create', 'run.cancel', 'approval.request']),
    ('approver', 'Reads; approves or rejects requested deployments.',
     array['project.read', 'approval.decide']),
    ('admin', 'Everything, including managing members and retention.',
     array['project.read', 'project.update', 'member.manage', 'run.create',
           'run.cancel', 'approval.request', 'approval.decide', 'retention.manage']);

grant select on ops.roles to authenticated, service_role;

-- The role catalogue is not project data: every signed-in user may read it
-- (the console shows what a role allows before anyone is invited).
create policy roles_read on ops.roles
    for select to authenticated
    using (true);

-- ---------------------------------------------------------------------------
-- Project membership: which Supabase user holds which role in which project.
-- auth.users lives in this database, so the foreign key is allowed (the
-- seed's rule 1 forbids only cross-database keys).
create table ops.project_members (
    project_id text not null
        references ops.projects (project_id) on delete cascade,
    user_id    uuid not null
        references auth.users (id) on delete cascade,
    role       text not null
        references ops.roles (role)
        constraint project_members_role_valid check (ops.is_valid_member_role(role)),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (project_id, user_id)
);
alter table ops.project_members enable row level security;

comment on table ops.project_members is
    'Project membership of Supabase users, with their role; the basis of every RLS policy in ops.';

-- The membership lookup every policy makes: the caller's projects.
create index project_members_user_id_idx on ops.project_members (user_id, project_id) include (role);
create index project_members_role_idx on ops.project_members (role);

create trigger project_members_touch_updated_at
    before update on ops.project_members
    for each row execute function ops.touch_updated_at();

-- Helpers that policies call but no client should: a schema the API does not
-- expose (it is not in config.toml's `[api] schemas`), so PostgREST has no
-- `/rpc` route to them. A SECURITY DEFINER function in an exposed schema that
-- `authenticated` may execute is what Supabase's advisors flag (lint 0029).
-- The roles whose queries evaluate the policies need USAGE here.
create schema ops_private;
comment on schema ops_private is
    'Helpers of ops policies; never exposed through the API.';
revoke all on schema ops_private from public;
grant usage on schema ops_private to authenticated, service_role;

-- The caller's projects in which their role grants `p_permission`.
--
-- SECURITY DEFINER so that policies on ops.project_members itself can use it
-- without recursing into their own RLS; it reveals only the caller's own
-- memberships. Policies call it as `project_id in (select ...)`, which the
-- planner runs once per statement as a hashed subplan, not once per row.
create function ops_private.member_project_ids(p_permission text)
returns setof text
language sql
stable
security definer
set search_path = ''
rows 10
as $$
    select m.project_id
    from ops.project_members m
    join ops.roles r on r.role = m.role
    where m.user_id = (select auth.uid())
      and p_permission = any (r.permissions)
$$;

revoke all on function ops_private.member_project_ids(text) from public;
grant execute on function ops_private.member_project_ids(text) to authenticated;

-- Whether the caller holds `p_permission` in one project; for the console,
-- which asks "may I approve?" before showing the button (`/rpc`). SECURITY
-- INVOKER: the caller's own membership row is visible to them under the
-- policies below, so no elevated rights are needed to answer.
create function ops.has_project_permission(p_project_id text, p_permission text)
returns boolean
language sql
stable
set search_path = ''
as $$
    select exists (
        select
        from ops.project_members m
        join ops.roles r on r.role = m.role
        where m.project_id = p_project_id
          and m.user_id = (select auth.uid())
          and p_permission = any (r.permissions)
    )
$$;

revoke all on function ops.has_project_permission(text, text) from public;
grant execute on function ops.has_project_permission(text, text) to authenticated;

-- A project must keep an admin while it exists, or nobody could manage its
-- members again. Two removals stay possible: the project's own deletion, and
-- the deletion of the user's account (erasing an account must never fail
-- because of a project; service_role then appoints a new admin). Checked
-- after the statement's change, so swapping admins in one statement works.
-- Security definer to see auth.users, which the API roles cannot read.
create function ops.project_members_keep_an_admin()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if old.role = 'admin'
       and exists (select from ops.projects p where p.project_id = old.project_id)
       and exists (select from auth.users u where u.id = old.user_id)
       and not exists (
           select from ops.project_members m
           where m.project_id = old.project_id and m.role = 'admin')
    then
        raise exception 'project % would be left without an admin', old.project_id
            using errcode = '23514',
                  hint = 'make another member admin first';
    end if;
    return null;
end;
$$;
revoke all on function ops.project_members_keep_an_admin() from public;

create trigger project_members_keep_an_admin
    after update or delete on ops.project_members
    for each row execute function ops.project_members_keep_an_admin();

grant select, insert, update, delete on ops.project_members to service_role;
grant select, delete on ops.project_members to authenticated;
grant insert (project_id, user_id, role), update (role) on ops.project_members to authenticated;

-- Members see who else is in their projects.
create policy project_members_read on ops.project_members
    for select to authenticated
    using (project_id in (select ops_private.member_project_ids('project.read')));

create policy project_members_add on ops.project_members
    for insert to authenticated
    with check (project_id in (select ops_private.member_project_ids('member.manage')));

create policy project_members_change on ops.project_members
    for update to authenticated
    using (project_id in (select ops_private.member_project_ids('member.manage')))
    with check (project_id in (select ops_private.member_project_ids('member.manage')));

-- Admins remove members; anyone may leave a project (the last admin cannot,
-- see the trigger above).
create policy project_members_remove on ops.project_members
    for delete to authenticated
    using (project_id in (select ops_private.member_project_ids('member.manage'))
           or user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------
-- Identity mapping between Supabase users and Odoo users (the seed's rule 4).
-- The identity-mapping issue refines how rows get here; for now the mapping
-- is written by service_role only, and a user reads their own row.
create table ops.odoo_users (
    auth_user_id  uuid primary key
        references auth.users (id) on delete cascade,
    odoo_user_id  integer not null
        constraint odoo_users_odoo_user_id_positive check (odoo_user_id > 0),
    odoo_login    text not null unique
        constraint odoo_users_odoo_login_format check (ops.is_valid_odoo_login(odoo_login)),
    odoo_instance text not null
        constraint odoo_users_odoo_instance_valid check (ops.is_valid_environment(odoo_instance)),
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    -- One Odoo user of one instance is one person.
    constraint odoo_users_instance_user_key unique (odoo_instance, odoo_user_id)
);
alter table ops.odoo_users enable row level security;

comment on table ops.odoo_users is
    'Maps a Supabase user (auth.users.id) to their Odoo user (res_users id and login) on one instance.';

create trigger odoo_users_touch_updated_at
    before update on ops.odoo_users
    for each row execute function ops.touch_updated_at();

grant select, insert, update, delete on ops.odoo_users to service_role;
grant select on ops.odoo_users to authenticated;

create policy odoo_users_read_own on ops.odoo_users
    for select to authenticated
    using (auth_user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------
-- Projects: the repository a project builds from, and who sees and edits it.
-- Odoo stays authoritative for name and version (ops.ingest_event writes
-- them); repo_slug is control-plane configuration, set by the project's
-- admins or by service_role. It is null until someone sets it.
alter table ops.projects
    add column repo_slug text
        constraint projects_repo_slug_format check (ops.is_valid_repo_slug(repo_slug));

comment on column ops.projects.repo_slug is
    'The GitHub repository (owner/name) the project builds from; null until configured.';

create trigger projects_touch_updated_at
    before update on ops.projects
    for each row execute function ops.touch_updated_at();

grant select on ops.projects to authenticated;
grant update (repo_slug) on ops.projects to authenticated;

create policy projects_read on ops.projects
    for select to authenticated
    using (project_id in (select ops_private.member_project_ids('project.read')));

create policy projects_configure on ops.projects
    for update to authenticated
    using (project_id in (select ops_private.member_project_ids('project.update')))
    with check (project_id in (select ops_private.member_project_ids('project.update')));
