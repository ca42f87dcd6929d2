-- Retention: how long the cleanup keeps each kind of row.
--
-- One row per (scope, target, class):
--   project_id   null for the defaults of every project, or one project's
--                override (set by its admins);
--   target       runs | run_events | artifacts | backups | approvals;
--   class        the artifact type or backup kind the row is about, or null
--                for the whole target;
--   retain_days  days kept after creation (runs: after finishing), or null
--                for "keep forever".
-- The effective policy of a row is the most specific match: the project's
-- own (target, class), then the project's (target, null), then the defaults'
-- (target, class), then the defaults' (target, null); no match means keep.
-- Approvals can only be kept forever (ops.is_valid_retention), and run
-- events only have a default: they are dropped a monthly partition at a
-- time, for all projects at once.
create table ops.retention_policies (
    policy_id   bigint generated always as identity primary key,
    project_id  text
        references ops.projects (project_id) on delete cascade,
    target      text not null,
    class       text,
    retain_days integer,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint retention_policies_rule check (ops.is_valid_retention(target, class, retain_days)),
    constraint retention_policies_run_events_global check (target <> 'run_events' or project_id is null),
    constraint retention_policies_scope_key unique nulls not distinct (project_id, target, class)
);
alter table ops.retention_policies enable row level security;

comment on table ops.retention_policies is
    'How long cleanup keeps runs, run events, artifacts and backups; defaults (project_id null) and per-project overrides.';
comment on column ops.retention_policies.retain_days is
    'Days kept; null keeps forever.';

create index retention_policies_project_idx on ops.retention_policies (project_id)
    where project_id is not null;

create trigger retention_policies_touch_updated_at
    before update on ops.retention_policies
    for each row execute function ops.touch_updated_at();

-- The seed's defaults. For the artifact types the seed leaves open: logs go
-- with the run events they extend (30 days), a manifest with the SBOM that
-- describes the same build (90 days), and deploy evidence is audit material
-- kept as long as the longest-lived backup (a year).
insert into ops.retention_policies (project_id, target, class, retain_days) values
    (null, 'runs', null, 90),
    (null, 'run_events', null, 30),
    (null, 'artifacts', 'image', 30),
    (null, 'artifacts', 'sbom', 90),
    (null, 'artifacts', 'logs', 30),
    (null, 'artifacts', 'manifest', 90),
    (null, 'artifacts', 'evidence', 365),
    (null, 'backups', 'daily', 30),
    (null, 'backups', 'weekly', 90),
    (null, 'backups', 'monthly', 365),
    (null, 'approvals', null, null);

grant select, insert, update, delete on ops.retention_policies to service_role;
grant select, delete on ops.retention_policies to authenticated;
grant insert (project_id, target, class, retain_days), update (retain_days)
    on ops.retention_policies to authenticated;

-- Members see the defaults and their projects' overrides.
create policy retention_policies_read on ops.retention_policies
    for select to authenticated
    using (project_id is null
           or project_id in (select ops_private.member_project_ids('project.read')));

-- Admins manage their projects' overrides; the defaults belong to service_role.
create policy retention_policies_add on ops.retention_policies
    for insert to authenticated
    with check (project_id in (select ops_private.member_project_ids('retention.manage')));

create policy retention_policies_change on ops.retention_policies
    for update to authenticated
    using (project_id in (select ops_private.member_project_ids('retention.manage')))
    with check (project_id in (select ops_private.member_project_ids('retention.manage')));

create policy retention_policies_remove on ops.retention_policies
    for delete to authenticated
    using (project_id in (select ops_private.member_project_ids('retention.manage')));
