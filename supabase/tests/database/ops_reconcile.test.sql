-- The reconcile's SQL (20261202050000_reconcile.sql): its changes go through
-- the ordering rule of ops-ingest, its state only moves forward, and none of
-- it is reachable through the API.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(19);

insert into ops.projects (project_id, name, odoo_version, described_at, described_by) values
    ('odoo-9801', 'Named by an event', '19.0', '2026-11-26 10:00:00+00', 'msg_1');

select is(ops.reconcile_apply('[
    {"change_id": "~reconcile:a:project_updated:odoo-9801", "occurred_at": "2026-11-26T09:00:00Z",
     "event": {"event_type": "project_updated", "project_id": "odoo-9801", "name": "Older in Odoo",
               "odoo_version": "19.0", "occurred_at": "2026-11-26T09:00:00Z"}}]')::jsonb,
    '{"applied": 0, "stale": 1, "deferred": 0, "effects": {}}'::jsonb,
    'a change older than the event that set the name is stale');
select is((select name from ops.projects where project_id = 'odoo-9801'), 'Named by an event',
          '...and changes nothing');
select is(ops.reconcile_apply('[
    {"change_id": "~reconcile:b:project_updated:odoo-9801", "occurred_at": "2026-11-26T11:00:00Z",
     "event": {"event_type": "project_updated", "project_id": "odoo-9801", "name": "Newer in Odoo",
               "odoo_version": "19.0", "occurred_at": "2026-11-26T11:00:00Z"}},
    {"change_id": "~reconcile:b:project_archived:odoo-9801", "occurred_at": "2026-11-26T11:00:00Z",
     "event": {"event_type": "project_archived", "project_id": "odoo-9801", "occurred_at": "2026-11-26T11:00:00Z"}}]')::jsonb,
    '{"applied": 2, "stale": 0, "deferred": 0, "effects": {"updated": 1, "archived": 1}}'::jsonb,
    'newer changes apply, in order');
select is((select (name, active, described_by)::text from ops.projects where project_id = 'odoo-9801'),
          '("Newer in Odoo",f,~reconcile:b:project_updated:odoo-9801)',
          'recorded under the change''s id, as a delivery is under its webhook id');

-- A creation applies what was waiting for the project, as a delivery does.
insert into ops.ingest_deliveries (webhook_id, body_sha256, event_type, project_id, outcome, occurred_at, deferred_event)
values ('msg_waiting', repeat('0', 64), 'project_archived', 'odoo-9802', '{"result": "deferred"}',
        '2026-11-26 12:00:00+00',
        '{"event_type": "project_archived", "project_id": "odoo-9802", "occurred_at": "2026-11-26T12:00:00Z"}');
select is(ops.reconcile_apply('[
    {"change_id": "~reconcile:c:project_created:odoo-9802", "occurred_at": "2026-11-26T08:00:00Z",
     "event": {"event_type": "project_created", "project_id": "odoo-9802", "name": "New",
               "odoo_version": "19.0", "occurred_at": "2026-11-26T08:00:00Z"}}]')::jsonb ->> 'applied',
          '1', 'a creation');
select is((select active from ops.projects where project_id = 'odoo-9802'), false,
          'the archive that was waiting for it applied');

-- The state, per phase: resume, then complete; the watermark never goes
-- back to null.
select ops.reconcile_record('prod', 'projects', 'full', 1000, '{"started_at": "2026-11-26T12:00:00Z", "high_water": null}',
                            null, '{}');
select is((select (resume_mode, resume_after)::text from ops_private.reconcile_state where odoo_instance = 'prod' and subject = 'projects'),
          '(full,1000)', 'a pass stopped at its budget records where to resume');
select ops.reconcile_record('prod', 'users', 'full', 5, '{"started_at": "2026-11-26T12:00:00Z", "high_water": null}',
                            null, '{}');
select ops.reconcile_record('prod', 'projects', 'full', null, null, '2026-11-26 11:00:00+00', '{}');
select is((select (resume_mode is null, watermark)::text from ops_private.reconcile_state
            where odoo_instance = 'prod' and subject = 'projects'),
          '(t,"2026-11-26 11:00:00+00")', 'a completed pass sets the watermark and clears the resume');
select is((select (resume_mode, resume_after, watermark)::text from ops_private.reconcile_state
            where odoo_instance = 'prod' and subject = 'users'),
          '(full,5,)', '...and leaves the other phase''s resume alone');
select ops.reconcile_record('prod', 'projects', 'incremental', null, null, null, '{}');
select is((select watermark from ops_private.reconcile_state where odoo_instance = 'prod' and subject = 'projects'),
          '2026-11-26 11:00:00+00'::timestamptz, 'a pass that saw nothing keeps the watermark');
select throws_ok($$select ops.reconcile_record('prod', 'tasks', 'full', null, null, null, '{}')$$, '23514', null,
                 'a subject is projects or users');

select ok(ops.reconcile_acquire('prod', 'holder-a', 60) and not ops.reconcile_acquire('prod', 'holder-b', 60),
          'one holder at a time');
select is((select count(*)::int from ops_private.reconcile_state where lease_holder is not null), 1,
          'the lease is one row: the projects'' instance''s projects');
select ops.reconcile_release('prod', 'holder-b');
select ok(not ops.reconcile_acquire('prod', 'holder-b', 60), 'only its holder releases it');
select ops.reconcile_release('prod', 'holder-a');

select ok(not has_function_privilege('authenticated', 'ops.reconcile_apply(jsonb)', 'execute')
          and not has_function_privilege('anon', 'ops.reconcile_read(text, bigint, integer, timestamptz, bigint[], jsonb)', 'execute')
          and not has_function_privilege('authenticated', 'ops.invoke_reconcile(text)', 'execute'),
          'the API roles cannot run the reconcile');
select ok(not has_table_privilege('authenticated', 'ops_private.reconcile_state', 'select'),
          'nor read its state');

-- Odoo away: the read fails with the wrapper's connection error (class 08),
-- which the machine answers 503. An instance at a port nobody listens on,
-- configured as an admin does (Vault stands in for this transaction).
create schema vault;
create table vault.decrypted_secrets (name text primary key, decrypted_secret text);
insert into vault.decrypted_secrets values ('odoo_dev_fdw_password', 'unused');
select ops.configure_odoo_instance(p_instance => 'dev', p_host => '127.0.0.1', p_port => 9,
    p_dbname => 'odoo', p_user => 'odoo_fdw_reader', p_password_secret => 'odoo_dev_fdw_password',
    p_sslmode => 'disable');
drop schema vault cascade;
select throws_ok($$select ops.reconcile_read('dev', 0, 10, null)$$, '08001', null,
                 'Odoo unreachable: the read fails with a connection error');
select is(ops.reconcile_status('dev')::jsonb ->> 'projects_source', 'false',
          'an instance other than the projects'' source says so');
-- The phases in the order the machine runs them: the projects' instance's
-- projects, its users, then the other instances' users by name; each with
-- where it stands.
select is((select jsonb_agg(jsonb_build_array(p ->> 'subject', p ->> 'odoo_instance', p ->> 'resume_after'))
             from jsonb_array_elements(ops.reconcile_status('prod')::jsonb -> 'phases') p),
          '[["projects", "prod", null], ["users", "prod", "5"], ["users", "dev", null]]'::jsonb,
          'the phases: projects, then the users of every instance, the projects'' instance first');

select * from finish();
rollback;
