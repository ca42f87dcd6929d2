-- Who may do what in the ops schema: every table × every kind of caller ×
-- select, insert, update, delete, each case a separate assertion, forbidden
-- ones included. Then the access rules the matrix cannot show.
--
-- Outcomes are precise: 'error:42501' is a refusal (no privilege, or a row
-- that fails a policy's WITH CHECK); 'rows:0' is a row the caller's policies
-- hide from an update or delete (PostgreSQL reports no error for those).
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
\ir ../helpers/outcome.psql

-- ---------------------------------------------------------------------------
-- The callers. `nonmember` is a real user, admin of another project.
create temp table principals (ord int primary key, name text, role text, uid uuid, actor text);
insert into principals values
    (1, 'anon',          'anon',          null, 'anon@matrix.test'),
    (2, 'non-member',    'authenticated', 'a5555555-5555-4555-8555-555555555555', 'a5555555-5555-4555-8555-555555555555'),
    (3, 'viewer',        'authenticated', 'a1111111-1111-4111-8111-111111111111', 'a1111111-1111-4111-8111-111111111111'),
    (4, 'developer',     'authenticated', 'a2222222-2222-4222-8222-222222222222', 'a2222222-2222-4222-8222-222222222222'),
    (5, 'approver',      'authenticated', 'a3333333-3333-4333-8333-333333333333', 'a3333333-3333-4333-8333-333333333333'),
    (6, 'admin',         'authenticated', 'a4444444-4444-4444-8444-444444444444', 'a4444444-4444-4444-8444-444444444444'),
    (7, 'service_role',  'service_role',  null, 'worker@matrix.test');

-- ---------------------------------------------------------------------------
-- The fixture, written as the owner.
insert into auth.users (id, email) values
    ('a1111111-1111-4111-8111-111111111111', 'viewer@matrix.test'),
    ('a2222222-2222-4222-8222-222222222222', 'developer@matrix.test'),
    ('a3333333-3333-4333-8333-333333333333', 'approver@matrix.test'),
    ('a4444444-4444-4444-8444-444444444444', 'admin@matrix.test'),
    ('a5555555-5555-4555-8555-555555555555', 'nonmember@matrix.test'),
    ('a6666666-6666-4666-8666-666666666666', 'newcomer@matrix.test'),
    ('a7777777-7777-4777-8777-777777777777', 'bot@matrix.test');

insert into ops.projects (project_id, name, odoo_version) values
    ('odoo-9001', 'Matrix', '19.0'),
    ('odoo-9002', 'Elsewhere', '19.0'),
    ('odoo-9003', 'Empty', '18.0');

insert into ops.project_members (project_id, user_id, role) values
    ('odoo-9001', 'a1111111-1111-4111-8111-111111111111', 'viewer'),
    ('odoo-9001', 'a2222222-2222-4222-8222-222222222222', 'developer'),
    ('odoo-9001', 'a3333333-3333-4333-8333-333333333333', 'approver'),
    ('odoo-9001', 'a4444444-4444-4444-8444-444444444444', 'admin'),
    ('odoo-9001', 'a7777777-7777-4777-8777-777777777777', 'viewer'),
    ('odoo-9002', 'a5555555-5555-4555-8555-555555555555', 'admin');

-- Each user is linked to their Odoo user in prod; Odoo user 96 is linked to
-- no one, and the non-member's link is an admin's decision.
insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at, auth_user_id, link_how) values
    ('prod', 91, 'viewer@matrix.test', 'viewer@matrix.test', now(), 'a1111111-1111-4111-8111-111111111111', 'automatic'),
    ('prod', 92, 'developer@matrix.test', 'developer@matrix.test', now(), 'a2222222-2222-4222-8222-222222222222', 'automatic'),
    ('prod', 93, 'approver@matrix.test', 'approver@matrix.test', now(), 'a3333333-3333-4333-8333-333333333333', 'automatic'),
    ('prod', 94, 'admin@matrix.test', 'admin@matrix.test', now(), 'a4444444-4444-4444-8444-444444444444', 'automatic'),
    ('prod', 95, 'NonMember@matrix.test', 'nonmember@matrix.test', now(), 'a5555555-5555-4555-8555-555555555555', 'admin'),
    ('prod', 96, 'unlinked@matrix.test', 'unlinked@matrix.test', now(), null, null);
insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind, decided_by) values
    ('prod', 95, 'a5555555-5555-4555-8555-555555555555', 'link', 'a4444444-4444-4444-8444-444444444444');

insert into ops.runs (run_id, project_id, kind, environment, created_by) values
    ('run-matrix0001', 'odoo-9001', 'deploy', 'prod', 'a2222222-2222-4222-8222-222222222222'),
    ('run-matrix0003', 'odoo-9001', 'deploy', 'staging', 'a2222222-2222-4222-8222-222222222222'),
    ('run-other0001', 'odoo-9002', 'build', null, 'a5555555-5555-4555-8555-555555555555');

insert into ops.run_events (run_id, project_id, event_type, message) values
    ('run-matrix0001', 'odoo-9001', 'step.started', 'checkout');

insert into ops.artifacts (project_id, run_id, artifact_type, storage_path, size_bytes, digest) values
    ('odoo-9001', 'run-matrix0001', 'image', 'ghcr.io/matrix/odoo:1', 100,
     'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

insert into ops.backups (project_id, run_id, kind, environment, storage_path, size_bytes, digest) values
    ('odoo-9001', 'run-matrix0001', 'daily', 'prod', 's3://matrix-backups/odoo-9001/daily.dump', 100,
     'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

insert into ops.approvals (approval_id, project_id, run_id, requested_by) values
    ('b0000000-0000-4000-8000-000000000001', 'odoo-9001', 'run-matrix0001', 'a2222222-2222-4222-8222-222222222222');

insert into ops.retention_policies (project_id, target, class, retain_days) values
    ('odoo-9001', 'runs', null, 30);

insert into ops.ingest_deliveries (webhook_id, body_sha256, event_type, project_id, outcome) values
    ('msg_matrix', repeat('a', 64), 'project_created', 'odoo-9001', '{}');

-- The cleanup's own bookkeeping: service_role only.
insert into ops.cleanup_archives (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids) values
    ('runs/2026/01/matrix.ndjson.gz', 'archive', repeat('c', 64), 'runs', 1, 10, '{run-gone0001}', '{odoo-9001}'),
    ('runs/2026/01/unused.ndjson.gz', 'archive', repeat('e', 64), 'runs', 0, 10, '{}', '{odoo-9001}');
insert into ops.cleanup_archived_runs (run_id, project_id, object_key) values
    ('run-gone0001', 'odoo-9001', 'runs/2026/01/matrix.ndjson.gz');
insert into ops.cleanup_s3_deletes (uri, reason, row_id) values ('s3://dumps/matrix.dump', 'backup_dump', 'x');
insert into ops.cleanup_holds (run_id, held_until, reason) values ('run-matrix0001', now() + interval '1 day', 'matrix');
insert into ops.cleanup_checkpoints (name, cursor) values ('matrix', '{}');
insert into ops.cleanup_leases (name, holder, expires_at) values ('matrix', 'x', now());

-- ---------------------------------------------------------------------------
-- The matrix. `expect` lists the outcome per principal, in their order:
-- E = refused with 42501, a number = rows seen (select) or affected.
-- '{actor}' in a statement becomes the caller's own id.
create temp table cases (ord serial primary key, tbl text, op text, sql text, expect text[]);
insert into cases (tbl, op, sql, expect) values
    -- tbl                  op        statement                                                   anon non view dev appr adm svc
    ('projects', 'select',
     $$select count(*) from ops.projects where project_id = 'odoo-9001'$$,                        '{E,0,1,1,1,1,1}'),
    ('projects', 'insert',
     $$insert into ops.projects (project_id, name, odoo_version) values ('odoo-9100', 'New', '19.0')$$, '{E,E,E,E,E,E,1}'),
    ('projects', 'update',
     $$update ops.projects set repo_slug = 'acme/odoo-9001' where project_id = 'odoo-9001'$$,      '{E,0,0,0,0,1,1}'),
    ('projects', 'delete',
     $$delete from ops.projects where project_id = 'odoo-9003'$$,                                   '{E,E,E,E,E,E,1}'),

    ('ingest_deliveries', 'select',
     $$select count(*) from ops.ingest_deliveries where webhook_id = 'msg_matrix'$$,               '{E,E,E,E,E,E,1}'),
    ('ingest_deliveries', 'insert',
     $$insert into ops.ingest_deliveries (webhook_id, body_sha256, event_type, project_id, outcome)
       values ('msg_matrix2', repeat('b', 64), 'project_created', 'odoo-9001', '{}')$$,            '{E,E,E,E,E,E,1}'),
    ('ingest_deliveries', 'update',
     $$update ops.ingest_deliveries set outcome = '{"result":"applied"}' where webhook_id = 'msg_matrix'$$, '{E,E,E,E,E,E,1}'),
    ('ingest_deliveries', 'delete',
     $$delete from ops.ingest_deliveries where webhook_id = 'msg_matrix'$$,                         '{E,E,E,E,E,E,1}'),

    ('roles', 'select',
     $$select count(*) from ops.roles$$,                                                            '{E,4,4,4,4,4,4}'),
    ('roles', 'insert',
     $$insert into ops.roles (role, description, permissions) values ('viewer2', 'x', '{project.read}')$$, '{E,E,E,E,E,E,E}'),
    ('roles', 'update',
     $$update ops.roles set permissions = '{project.read,member.manage}' where role = 'viewer'$$,   '{E,E,E,E,E,E,E}'),
    ('roles', 'delete',
     $$delete from ops.roles where role = 'approver'$$,                                             '{E,E,E,E,E,E,E}'),

    ('project_members', 'select',
     $$select count(*) from ops.project_members where project_id = 'odoo-9001'$$,                  '{E,0,5,5,5,5,5}'),
    ('project_members', 'insert',
     $$insert into ops.project_members (project_id, user_id, role)
       values ('odoo-9001', 'a6666666-6666-4666-8666-666666666666', 'viewer')$$,                   '{E,E,E,E,E,1,1}'),
    ('project_members', 'update',
     $$update ops.project_members set role = 'developer'
       where project_id = 'odoo-9001' and user_id = 'a7777777-7777-4777-8777-777777777777'$$,      '{E,0,0,0,0,1,1}'),
    ('project_members', 'delete',
     $$delete from ops.project_members
       where project_id = 'odoo-9001' and user_id = 'a7777777-7777-4777-8777-777777777777'$$,      '{E,0,0,0,0,1,1}'),

    ('odoo_users', 'select',
     $$select count(*) from ops.odoo_users where odoo_instance = 'prod'$$,                         '{E,1,1,1,1,1,6}'),
    ('odoo_users', 'insert',
     $$insert into ops.odoo_users (odoo_instance, odoo_user_id, odoo_login, login_key, odoo_changed_at, auth_user_id, link_how)
       values ('prod', 97, 'newcomer@matrix.test', 'newcomer@matrix.test', now(),
               'a6666666-6666-4666-8666-666666666666', 'automatic')$$,                             '{E,E,E,E,E,E,1}'),
    ('odoo_users', 'update',
     $$update ops.odoo_users set link_how = 'admin' where odoo_instance = 'prod' and odoo_user_id = 91$$, '{E,E,E,E,E,E,1}'),
    ('odoo_users', 'delete',
     $$delete from ops.odoo_users where odoo_instance = 'prod' and odoo_user_id = 91$$,            '{E,E,E,E,E,E,1}'),

    ('odoo_user_decisions', 'select',
     $$select count(*) from ops.odoo_user_decisions where odoo_instance = 'prod'$$,                '{E,E,E,E,E,E,1}'),
    ('odoo_user_decisions', 'insert',
     $$insert into ops.odoo_user_decisions (odoo_instance, odoo_user_id, auth_user_id, kind)
       values ('prod', 96, 'a6666666-6666-4666-8666-666666666666', 'link')$$,                     '{E,E,E,E,E,E,1}'),
    ('odoo_user_decisions', 'update',
     $$update ops.odoo_user_decisions set kind = 'unlink' where odoo_instance = 'prod' and odoo_user_id = 95$$, '{E,E,E,E,E,E,1}'),
    ('odoo_user_decisions', 'delete',
     $$delete from ops.odoo_user_decisions where odoo_instance = 'prod' and odoo_user_id = 95$$,   '{E,E,E,E,E,E,1}'),

    ('runs', 'select',
     $$select count(*) from ops.runs where project_id = 'odoo-9001'$$,                             '{E,0,2,2,2,2,2}'),
    ('runs', 'insert',
     $$insert into ops.runs (run_id, project_id, kind, created_by)
       values ('run-matrix0002', 'odoo-9001', 'build', '{actor}')$$,                               '{E,E,E,1,E,1,1}'),
    ('runs', 'update',
     $$update ops.runs set status = 'cancelled' where run_id = 'run-matrix0001'$$,                 '{E,0,0,1,0,1,1}'),
    ('runs', 'delete',
     $$delete from ops.runs where run_id = 'run-matrix0001'$$,                                     '{E,E,E,E,E,E,1}'),

    ('run_events', 'select',
     $$select count(*) from ops.run_events where run_id = 'run-matrix0001'$$,                      '{E,0,1,1,1,1,1}'),
    ('run_events', 'insert',
     $$insert into ops.run_events (run_id, project_id, event_type)
       values ('run-matrix0001', 'odoo-9001', 'step.finished')$$,                                  '{E,E,E,E,E,E,1}'),
    ('run_events', 'update',
     $$update ops.run_events set message = 'rewritten' where run_id = 'run-matrix0001'$$,          '{E,E,E,E,E,E,E}'),
    ('run_events', 'delete',
     $$delete from ops.run_events where run_id = 'run-matrix0001'$$,                               '{E,E,E,E,E,E,1}'),

    ('artifacts', 'select',
     $$select count(*) from ops.artifacts where project_id = 'odoo-9001'$$,                        '{E,0,1,1,1,1,1}'),
    ('artifacts', 'insert',
     $$insert into ops.artifacts (project_id, run_id, artifact_type, storage_path, size_bytes, digest)
       values ('odoo-9001', 'run-matrix0001', 'sbom', 's3://matrix-artifacts/sbom.json', 10,
               'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$,       '{E,E,E,E,E,E,1}'),
    ('artifacts', 'update',
     $$update ops.artifacts set size_bytes = 2 where project_id = 'odoo-9001'$$,                   '{E,E,E,E,E,E,1}'),
    ('artifacts', 'delete',
     $$delete from ops.artifacts where project_id = 'odoo-9001'$$,                                 '{E,E,E,E,E,E,1}'),

    ('backups', 'select',
     $$select count(*) from ops.backups where project_id = 'odoo-9001'$$,                          '{E,0,1,1,1,1,1}'),
    ('backups', 'insert',
     $$insert into ops.backups (project_id, kind, environment, storage_path, size_bytes, digest)
       values ('odoo-9001', 'weekly', 'prod', 's3://matrix-backups/odoo-9001/weekly.dump', 10,
               'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')$$,       '{E,E,E,E,E,E,1}'),
    ('backups', 'update',
     $$update ops.backups set size_bytes = 2 where project_id = 'odoo-9001'$$,                     '{E,E,E,E,E,E,1}'),
    ('backups', 'delete',
     $$delete from ops.backups where project_id = 'odoo-9001'$$,                                   '{E,E,E,E,E,E,1}'),

    ('cleanup_archives', 'select',
     $$select count(*) from ops.cleanup_archives where object_key = 'runs/2026/01/matrix.ndjson.gz'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_archives', 'insert',
     $$insert into ops.cleanup_archives (object_key, bucket, sha256, archive_table, row_count, size_bytes, ids, project_ids)
       values ('runs/2026/02/m.ndjson.gz', 'archive', repeat('d', 64), 'runs', 0, 0, '{}', '{}')$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_archives', 'update',
     $$update ops.cleanup_archives set row_count = 2 where object_key = 'runs/2026/01/matrix.ndjson.gz'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_archives', 'delete',
     $$delete from ops.cleanup_archives where object_key = 'runs/2026/01/unused.ndjson.gz'$$, '{E,E,E,E,E,E,1}'),

    ('cleanup_archived_runs', 'select',
     $$select count(*) from ops.cleanup_archived_runs where run_id = 'run-gone0001'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_archived_runs', 'insert',
     $$insert into ops.cleanup_archived_runs (run_id, project_id, object_key)
       values ('run-gone0002', 'odoo-9001', 'runs/2026/01/matrix.ndjson.gz')$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_archived_runs', 'update',
     $$update ops.cleanup_archived_runs set deleted_at = now() where run_id = 'run-gone0001'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_archived_runs', 'delete',
     $$delete from ops.cleanup_archived_runs where run_id = 'run-gone0001'$$, '{E,E,E,E,E,E,1}'),

    ('cleanup_s3_deletes', 'select',
     $$select count(*) from ops.cleanup_s3_deletes where uri = 's3://dumps/matrix.dump'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_s3_deletes', 'insert',
     $$insert into ops.cleanup_s3_deletes (uri, reason, row_id) values ('s3://dumps/other.dump', 'backup_dump', 'y')$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_s3_deletes', 'update',
     $$update ops.cleanup_s3_deletes set reason = 'artifact_blob' where uri = 's3://dumps/matrix.dump'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_s3_deletes', 'delete',
     $$delete from ops.cleanup_s3_deletes where uri = 's3://dumps/matrix.dump'$$, '{E,E,E,E,E,E,1}'),

    ('cleanup_holds', 'select',
     $$select count(*) from ops.cleanup_holds where run_id = 'run-matrix0001'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_holds', 'insert',
     $$insert into ops.cleanup_holds (run_id, held_until, reason) values ('run-matrix0003', now(), 'x')$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_holds', 'update',
     $$update ops.cleanup_holds set held_until = now() where run_id = 'run-matrix0001'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_holds', 'delete',
     $$delete from ops.cleanup_holds where run_id = 'run-matrix0001'$$, '{E,E,E,E,E,E,1}'),

    ('cleanup_checkpoints', 'select',
     $$select count(*) from ops.cleanup_checkpoints where name = 'matrix'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_checkpoints', 'insert',
     $$insert into ops.cleanup_checkpoints (name, cursor) values ('matrix2', '{}')$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_checkpoints', 'update',
     $$update ops.cleanup_checkpoints set cursor = '{"a":1}' where name = 'matrix'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_checkpoints', 'delete',
     $$delete from ops.cleanup_checkpoints where name = 'matrix'$$, '{E,E,E,E,E,E,1}'),

    ('cleanup_leases', 'select',
     $$select count(*) from ops.cleanup_leases where name = 'matrix'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_leases', 'insert',
     $$insert into ops.cleanup_leases (name, holder, expires_at) values ('matrix2', 'y', now())$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_leases', 'update',
     $$update ops.cleanup_leases set holder = 'z' where name = 'matrix'$$, '{E,E,E,E,E,E,1}'),
    ('cleanup_leases', 'delete',
     $$delete from ops.cleanup_leases where name = 'matrix'$$, '{E,E,E,E,E,E,1}'),

    ('approvals', 'select',
     $$select count(*) from ops.approvals where project_id = 'odoo-9001'$$,                        '{E,0,1,1,1,1,1}'),
    ('approvals', 'insert',
     $$insert into ops.approvals (project_id, run_id, requested_by)
       values ('odoo-9001', 'run-matrix0003', '{actor}')$$,                                        '{E,E,E,1,E,1,1}'),
    ('approvals', 'update',
     $$update ops.approvals set status = 'approved', decided_by = '{actor}'
       where approval_id = 'b0000000-0000-4000-8000-000000000001'$$,                               '{E,0,0,0,1,1,1}'),
    ('approvals', 'delete',
     $$delete from ops.approvals where approval_id = 'b0000000-0000-4000-8000-000000000001'$$,     '{E,E,E,E,E,E,E}'),

    ('retention_policies', 'select',
     $$select count(*) from ops.retention_policies where project_id = 'odoo-9001' or project_id is null$$, '{E,12,13,13,13,13,13}'),
    ('retention_policies', 'insert',
     $$insert into ops.retention_policies (project_id, target, class, retain_days)
       values ('odoo-9001', 'artifacts', 'image', 7)$$,                                            '{E,E,E,E,E,1,1}'),
    ('retention_policies', 'update',
     $$update ops.retention_policies set retain_days = 60 where project_id = 'odoo-9001'$$,        '{E,0,0,0,0,1,1}'),
    ('retention_policies', 'delete',
     $$delete from ops.retention_policies where project_id = 'odoo-9001'$$,                        '{E,0,0,0,0,1,1}');

select plan((select count(*)::int * 7 from cases) + 2 + 28);

-- Every ops table is in the matrix.
select is(
    (select array_agg(c.relname::text order by c.relname)
     from pg_class c
     where c.relnamespace = 'ops'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition),
    (select array_agg(distinct tbl order by tbl) from cases),
    'the matrix covers every table of ops');
select is((select count(*)::int from cases), (select count(distinct tbl)::int * 4 from cases),
          'each table has its four operations');

select is(
    pg_temp.outcome(replace(c.sql, '{actor}', p.actor), p.role, p.uid),
    case when c.expect[p.ord] = 'E' then 'error:42501' else 'rows:' || c.expect[p.ord] end,
    format('ops.%s × %s × %s: %s', c.tbl, p.name, c.op,
        case
            when c.expect[p.ord] = 'E' then 'refused (42501)'
            when c.expect[p.ord] = '0' and c.op = 'select' then 'sees no row'
            when c.expect[p.ord] = '0' then 'affects no row'
            when c.op = 'select' then 'sees ' || c.expect[p.ord] || ' row(s)'
            else 'allowed'
        end))
from cases c cross join principals p
order by c.ord, p.ord;

-- ---------------------------------------------------------------------------
-- What the matrix cannot show.

-- Membership.
select is(pg_temp.outcome(
    $$select count(*) from ops.projects where project_id = 'odoo-9002'$$,
    'authenticated', 'a5555555-5555-4555-8555-555555555555'), 'rows:1',
    'the non-member does see their own project');
select is(pg_temp.outcome(
    $$select count(*) from ops.projects where project_id like 'odoo-900%'$$, 'authenticated', null), 'rows:0',
    'a JWT without a user sees no project');
select is(pg_temp.outcome(
    $$delete from ops.project_members where project_id = 'odoo-9001' and user_id = 'a1111111-1111-4111-8111-111111111111'$$,
    'authenticated', 'a1111111-1111-4111-8111-111111111111'), 'rows:1',
    'a member may leave a project');
select is(pg_temp.outcome(
    $$delete from ops.project_members where project_id = 'odoo-9001' and user_id = 'a4444444-4444-4444-8444-444444444444'$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:23514',
    'the last admin may not leave');
select is(pg_temp.outcome(
    $$update ops.project_members set role = 'viewer' where project_id = 'odoo-9001' and user_id = 'a4444444-4444-4444-8444-444444444444'$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:23514',
    'the last admin may not step down');
select is(pg_temp.outcome(
    $$update ops.project_members set role = 'viewer' where project_id = 'odoo-9001' and user_id = 'a4444444-4444-4444-8444-444444444444'$$,
    'service_role'), 'error:23514',
    'not even service_role leaves a project without an admin');
select is(pg_temp.outcome(
    $$update ops.project_members set role = 'admin' where project_id = 'odoo-9001' and user_id = 'a2222222-2222-4222-8222-222222222222'$$,
    'authenticated', 'a2222222-2222-4222-8222-222222222222'), 'rows:0',
    'a developer cannot make themselves admin');
select is(pg_temp.outcome(
    $$insert into ops.project_members (project_id, user_id, role) values ('odoo-9001', 'a5555555-5555-4555-8555-555555555555', 'admin')$$,
    'authenticated', 'a5555555-5555-4555-8555-555555555555'), 'error:42501',
    'a non-member cannot add themselves');
select is(pg_temp.outcome(
    $$insert into ops.project_members (project_id, user_id, role) values ('odoo-9002', 'a6666666-6666-4666-8666-666666666666', 'viewer')$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:42501',
    'an admin of one project cannot add members to another');
select is(pg_temp.outcome(
    $$update ops.project_members set project_id = 'odoo-9002' where user_id = 'a7777777-7777-4777-8777-777777777777'$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:42501',
    'an admin cannot move a member to another project');

-- Acting in one's own name only, and only through the allowed columns.
select is(pg_temp.outcome(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-matrix0004', 'odoo-9001', 'build', 'a4444444-4444-4444-8444-444444444444')$$,
    'authenticated', 'a2222222-2222-4222-8222-222222222222'), 'error:42501',
    'a developer cannot start a run in someone else''s name');
select is(pg_temp.outcome(
    $$insert into ops.runs (run_id, project_id, kind, created_by) values ('run-matrix0004', 'odoo-9001', 'build', 'developer@matrix.test')$$,
    'authenticated', 'a2222222-2222-4222-8222-222222222222'), 'error:42501',
    'a developer cannot start a run under an Odoo login (only as their auth id)');
select is(pg_temp.outcome(
    $$insert into ops.runs (run_id, project_id, kind, created_by, status) values ('run-matrix0004', 'odoo-9001', 'build', 'a2222222-2222-4222-8222-222222222222', 'success')$$,
    'authenticated', 'a2222222-2222-4222-8222-222222222222'), 'error:42501',
    'a developer cannot insert a finished run');
select is(pg_temp.outcome(
    $$update ops.runs set status = 'running' where run_id = 'run-matrix0001'$$,
    'authenticated', 'a2222222-2222-4222-8222-222222222222'), 'error:42501',
    'a developer can cancel a run but not move it otherwise (workers do)');
select is(pg_temp.outcome(
    $$update ops.runs set created_by = 'a2222222-2222-4222-8222-222222222222' where run_id = 'run-matrix0001'$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:42501',
    'an admin cannot rewrite who started a run');
select is(pg_temp.outcome(
    $$update ops.projects set name = 'Renamed' where project_id = 'odoo-9001'$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:42501',
    'an admin cannot rename a project (Odoo owns the name)');
select is(pg_temp.outcome(
    $$insert into ops.approvals (project_id, run_id, requested_by) values ('odoo-9001', 'run-matrix0003', 'a4444444-4444-4444-8444-444444444444')$$,
    'authenticated', 'a2222222-2222-4222-8222-222222222222'), 'error:42501',
    'a developer cannot request an approval in someone else''s name');
select is(pg_temp.outcome(
    $$update ops.approvals set status = 'approved', decided_by = 'a4444444-4444-4444-8444-444444444444' where approval_id = 'b0000000-0000-4000-8000-000000000001'$$,
    'authenticated', 'a3333333-3333-4333-8333-333333333333'), 'error:42501',
    'an approver cannot decide in someone else''s name');
select is(pg_temp.outcome(
    $$update ops.approvals set status = 'approved', decided_by = 'a2222222-2222-4222-8222-222222222222' where approval_id = 'b0000000-0000-4000-8000-000000000001'$$,
    'service_role'), 'error:23514',
    'nobody approves their own request, not even through service_role');

-- Retention: the defaults belong to service_role.
select is(pg_temp.outcome(
    $$update ops.retention_policies set retain_days = 1 where project_id is null$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'rows:0',
    'an admin cannot change the retention defaults');
select is(pg_temp.outcome(
    $$insert into ops.retention_policies (project_id, target, class, retain_days) values ('odoo-9002', 'runs', null, 1)$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:42501',
    'an admin cannot set the retention of another project');

-- Side doors stay shut.
select is(pg_temp.outcome(
    format('select count(*) from ops.%I', (select min(c.relname) from pg_inherits i join pg_class c on c.oid = i.inhrelid
                                           where i.inhparent = 'ops.run_events'::regclass)),
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:42501',
    'a run_events partition cannot be read directly');
select is(pg_temp.outcome(
    $$select count(*) from ops.create_run_event_partitions(1)$$,
    'authenticated', 'a4444444-4444-4444-8444-444444444444'), 'error:42501',
    'authenticated cannot create partitions');
select is(pg_temp.outcome(
    $$select count(*) from ops_private.member_project_ids('project.read')$$, 'anon'), 'error:42501',
    'anon cannot call the membership helper');
select is(pg_temp.outcome(
    $$select count(*) from ops_private.member_project_ids('project.read') where false$$,
    'authenticated', 'a3333333-3333-4333-8333-333333333333'), 'rows:0',
    'authenticated may call the membership helper');
select is(pg_temp.outcome(
    $$select count(*) from (values (1)) v
      where ops.has_project_permission('odoo-9001', 'approval.decide')
        and not ops.has_project_permission('odoo-9001', 'run.create')
        and not ops.has_project_permission('odoo-9002', 'project.read')$$,
    'authenticated', 'a3333333-3333-4333-8333-333333333333'), 'rows:1',
    'has_project_permission answers for the caller''s own roles');

-- Closed by default, checked from the catalogue.
select is(
    (select array_agg(c.oid::regclass::text order by c.relname)
     from pg_class c
     where c.relnamespace = 'ops'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity),
    null,
    'every table and partition in ops has row level security enabled');
select ok(not has_schema_privilege('anon', 'ops', 'usage'), 'anon has no usage on schema ops');

select * from finish();
rollback;
