-- The record rules in SQL, checked against the shared test vectors that
-- `cargo test -p ops-values` checks against the Rust side
-- (crates/ops-values/src/records.rs), so the two cannot drift.
--
-- Each vector is checked twice: against the rule's SQL function, and, for
-- the rules a column enforces, by writing it into that column (allowed when
-- valid, refused with 23514 when not), which proves the constraint really
-- uses the function.
--
-- pg_prove runs this file through psql from the repository root; psql reads
-- the vectors file client-side.
\set vectors `cat supabase/tests/vectors/records.json`
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
\ir ../helpers/outcome.psql

create temp table vectors as
select ordinality as ord,
       v ->> 'rule' as rule,
       v -> 'value' as value,
       (v ->> 'valid')::boolean as valid,
       v ->> 'note' as note
from jsonb_array_elements((:'vectors'::jsonb) -> 'vectors') with ordinality as t(v, ordinality);

-- The SQL side of each rule; null for a rule SQL does not know (which fails).
create function pg_temp.sql_rule(p_rule text, p_value jsonb)
returns boolean
language sql
as $$
    select case p_rule
        when 'created_by' then ops.is_valid_created_by(p_value #>> '{}')
        when 'auth_user_id' then ops.is_valid_auth_user_id(p_value #>> '{}')
        when 'odoo_login' then ops.is_valid_odoo_login(p_value #>> '{}')
        when 'digest' then ops.is_valid_digest(p_value #>> '{}')
        when 'image_reference' then ops.is_valid_image_reference(p_value #>> '{}')
        when 's3_uri' then ops.is_valid_s3_uri(p_value #>> '{}')
        when 'artifact_type' then ops.is_valid_artifact_type(p_value #>> '{}')
        when 'artifact' then ops.is_valid_artifact(
            p_value ->> 'artifact_type', p_value ->> 'storage_path', p_value ->> 'digest')
        when 'run_id' then ops.is_valid_run_id(p_value #>> '{}')
        when 'run_kind' then ops.is_valid_run_kind(p_value #>> '{}')
        when 'environment' then ops.is_valid_environment(p_value #>> '{}')
        when 'run_status' then ops.is_valid_run_status(p_value #>> '{}')
        when 'run_transition' then ops.is_valid_run_transition(p_value ->> 'from', p_value ->> 'to')
        when 'event_level' then ops.is_valid_event_level(p_value #>> '{}')
        when 'run_event_type' then ops.is_valid_run_event_type(p_value #>> '{}')
        when 'backup_kind' then ops.is_valid_backup_kind(p_value #>> '{}')
        when 'approval_status' then ops.is_valid_approval_status(p_value #>> '{}')
        when 'member_role' then ops.is_valid_member_role(p_value #>> '{}')
        when 'commit_sha' then ops.is_valid_commit_sha(p_value #>> '{}')
        when 'repo_slug' then ops.is_valid_repo_slug(p_value #>> '{}')
        when 'retention' then ops.is_valid_retention(
            p_value ->> 'target', p_value ->> 'class', (p_value ->> 'retain_days')::integer)
        -- The role table is data: the vectors pin every role × permission.
        when 'role_permission' then exists (
            select from ops.roles r
            where r.role = p_value ->> 'role' and p_value ->> 'permission' = any (r.permissions))
    end
$$;

-- Writing a vector into the column that enforces its rule. %1$L is the value
-- (or its first field), %2$L and %3$L further fields.
create temp table column_checks (rule text primary key, statement text, fields text[]);
insert into column_checks values
    ('created_by',
     $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-vector', 'odoo-9101', 'build', %1$L)$$, null),
    -- login_key is identity_map::match_key, computed in Rust; lower() stands
    -- in for it, since no constraint reads it.
    ('odoo_login',
     $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at)
       values ('dev', 1, %1$L, lower(%1$L), now())$$, null),
    ('digest',
     $$insert into ops.backups (project_id, kind, environment, storage_path, size_bytes, digest)
       values ('odoo-9101', 'daily', 'prod', 's3://vector-backups/k', 1, %1$L)$$, null),
    ('s3_uri',
     $$insert into ops.backups (project_id, kind, environment, storage_path, size_bytes, digest)
       values ('odoo-9101', 'daily', 'prod', %1$L, 1, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$, null),
    ('image_reference',
     $$insert into ops.artifacts (project_id, artifact_type, storage_path, size_bytes, digest)
       values ('odoo-9101', 'image', %1$L, 1, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$, null),
    ('artifact_type',
     $$insert into ops.artifacts (project_id, artifact_type, storage_path, size_bytes, digest)
       values ('odoo-9101', %1$L, case when %1$L = 'image' then 'ghcr.io/vector/odoo:1' else 's3://vector-artifacts/k' end,
               1, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$, null),
    ('artifact',
     $$insert into ops.artifacts (project_id, artifact_type, storage_path, size_bytes, digest)
       values ('odoo-9101', %1$L, %2$L, 1, %3$L)$$, '{artifact_type,storage_path,digest}'),
    ('run_id',
     $$insert into ops.runs (run_id, project_id, kind, created_by) values (%1$L, 'odoo-9101', 'build', 'vector@example.com')$$, null),
    ('run_kind',
     $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-vector', 'odoo-9101', %1$L, 'vector@example.com')$$, null),
    ('environment',
     $$insert into ops.backups (project_id, kind, environment, storage_path, size_bytes, digest)
       values ('odoo-9101', 'daily', %1$L, 's3://vector-backups/k', 1, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$, null),
    ('run_status',
     $$insert into ops.runs (run_id, project_id, kind, created_by, status) values ('run-vector', 'odoo-9101', 'build', 'vector@example.com', %1$L)$$, null),
    ('run_transition',
     $$update ops.runs set status = %2$L where run_id = 'run-from-' || %1$L$$, '{from,to}'),
    ('event_level',
     $$insert into ops.run_events (run_id, project_id, event_type, level) values ('run-from-queued', 'odoo-9101', 'vector.test', %1$L)$$, null),
    ('run_event_type',
     $$insert into ops.run_events (run_id, project_id, event_type) values ('run-from-queued', 'odoo-9101', %1$L)$$, null),
    ('backup_kind',
     $$insert into ops.backups (project_id, kind, environment, storage_path, size_bytes, digest)
       values ('odoo-9101', %1$L, 'prod', 's3://vector-backups/k', 1, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$, null),
    ('approval_status',
     $$update ops.approvals set status = %1$L, decided_by = case when %1$L <> 'pending' then 'decider@example.com' end
       where run_id = 'run-from-queued'$$, null),
    ('member_role',
     $$update ops.project_members set role = %1$L where project_id = 'odoo-9101'$$, null),
    ('commit_sha',
     $$insert into ops.runs (run_id, project_id, kind, created_by, commit_sha) values ('run-vector', 'odoo-9101', 'build', 'vector@example.com', %1$L)$$, null),
    ('repo_slug',
     $$update ops.projects set repo_slug = %1$L where project_id = 'odoo-9101'$$, null),
    ('retention',
     $$insert into ops.retention_policies (project_id, target, class, retain_days) values (null, %1$L, %2$L, %3$L::integer)$$,
     '{target,class,retain_days}');

-- The vectors a column can show. Staying in the same status is no move (the
-- rule refuses it), but an update that leaves the status alone is fine.
create temp table column_vectors as
select v.*, c.statement, c.fields
from vectors v join column_checks c using (rule)
where not (v.rule = 'run_transition' and v.value ->> 'from' = v.value ->> 'to');

-- The fixture the statements write next to. Retention defaults go, so a
-- vector's global rule does not collide with them.
insert into auth.users (id, email) values
    ('c0000000-0000-4000-8000-000000000001', 'vector@example.com'),
    ('c0000000-0000-4000-8000-000000000002', 'vector-admin@example.com');
insert into ops.projects (project_id, name, odoo_version) values ('odoo-9101', 'Vectors', '19.0');
insert into ops.project_members (project_id, user_id, role) values
    ('odoo-9101', 'c0000000-0000-4000-8000-000000000001', 'viewer');
insert into ops.runs (run_id, project_id, kind, created_by, status)
select 'run-from-' || s, 'odoo-9101', 'build', 'vector@example.com', s
from unnest(array['queued', 'running', 'success', 'failed', 'cancelled']) s;
insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9101', 'run-from-queued', 'vector@example.com');
delete from ops.retention_policies;

select plan(
    4
    + (select count(*)::int from vectors)
    + (select count(*)::int from column_vectors));

select ok((select count(*) from vectors) > 200, 'the shared vectors are read (' || (select count(*) from vectors) || ')');
select is(
    (select array_agg(distinct rule order by rule) from vectors where pg_temp.sql_rule(rule, value) is null),
    null,
    'SQL knows every rule the vectors name');
select is(
    (select array_agg(rule order by rule) from (select distinct rule from vectors) r
     where not exists (select from vectors v where v.rule = r.rule and v.valid)
        or not exists (select from vectors v where v.rule = r.rule and not v.valid)),
    null,
    'every rule has valid and invalid vectors');
select results_eq(
    $$select role from ops.roles order by role$$,
    $$values ('admin'::text), ('approver'), ('developer'), ('viewer')$$,
    'ops.roles holds exactly the member roles');

-- Each vector against its SQL function.
select is(pg_temp.sql_rule(rule, value), valid,
    format('%s %s is %s%s', rule, left(value::text, 80), case when valid then 'valid' else 'invalid' end,
           coalesce(' (' || note || ')', '')))
from vectors
order by ord;

-- Each vector written into its column.
select is(
    pg_temp.outcome(format(v.statement,
        case when v.fields is null then v.value #>> '{}' else v.value ->> v.fields[1] end,
        v.value ->> v.fields[2],
        v.value ->> v.fields[3])),
    case when v.valid then 'rows:1' else 'error:23514' end,
    format('%s %s is %s by the column', v.rule, left(v.value::text, 80),
           case when v.valid then 'accepted' else 'refused' end))
from column_vectors v
order by v.ord;

select * from finish();
rollback;
