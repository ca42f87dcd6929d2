-- The nudge queue (20261203010000_odoo_nudges.sql): coalesced per record,
-- capped per instance, read at most once per interval per model, a record
-- nudged during its re-read kept for the next, and none of it reachable
-- through the API. `prod` is the local stack's configured Odoo instance.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(12);

select is(ops.nudge_odoo('prod', 'projects', 9901, 'h1', 100, 1000, 1000, 60)::jsonb,
          '{"configured": true, "queued": true, "full": false, "ignored": null,
            "claims": [{"subject": "projects", "ids": [9901]}]}'::jsonb,
          'a first nudge is queued and claimed for its re-read at once');
select is(ops.nudge_odoo('prod', 'projects', 9902, 'h2', 100, 1000, 1000, 60)::jsonb -> 'claims',
          '[]'::jsonb,
          'the next, within the interval, is queued and not read: the model was read just now');
select is(ops.nudge_odoo('prod', 'projects', 9902, 'h3', 100, 1000, 1000, 60)::jsonb -> 'queued',
          'true'::jsonb, 'a record nudged again is still queued...');
select is((select (count(*), max(nudges))::text from ops_private.odoo_nudges
            where odoo_instance = 'prod' and odoo_id = 9902),
          '(1,2)', '...once, with its nudges counted');
select is(ops.nudge_odoo_done('prod', 'projects', 'h1', '{9901}', true), 1,
          'after its re-read, a record leaves the queue');

-- The interval has passed.
update ops_private.odoo_nudge_reads set read_at = read_at - interval '1 hour';
select is(ops.nudge_odoo('prod', null, null, 'h4', 100, 1000, 1000, 60)::jsonb -> 'claims',
          '[{"subject": "projects", "ids": [9902]}]'::jsonb,
          'an empty nudge claims what waits, once the interval has passed');
select is(ops.nudge_odoo('prod', 'projects', 9902, 'h5', 100, 1000, 1000, 60)::jsonb -> 'claims',
          '[]'::jsonb, 'a nudge during the re-read is coalesced into the claimed record');
select is(ops.nudge_odoo_done('prod', 'projects', 'h4', '{9902}', true), 0,
          'a record nudged during its re-read stays queued (its change may be newer than the read)');
select is((select claimed_by from ops_private.odoo_nudges where odoo_instance = 'prod' and odoo_id = 9902),
          null, '...and is free for the next claim');

select is(ops.nudge_odoo('prod', 'users', 9903, 'h6', 1, 1000, 1000, 60)::jsonb -> 'full',
          'true'::jsonb, 'past the cap a nudge is dropped...');
select is((select count(*)::int from ops_private.odoo_nudges where odoo_instance = 'prod' and odoo_id = 9903),
          0, '...and not queued');

select ok(not has_function_privilege('anon', 'ops.nudge_odoo(text, text, bigint, text, integer, integer, integer, integer)', 'execute')
          and not has_function_privilege('authenticated', 'ops.nudge_odoo(text, text, bigint, text, integer, integer, integer, integer)', 'execute')
          and not has_function_privilege('authenticated', 'ops.nudge_odoo_done(text, text, text, bigint[], boolean)', 'execute')
          and not has_table_privilege('authenticated', 'ops_private.odoo_nudges', 'select')
          and not has_table_privilege('anon', 'ops_private.odoo_nudges', 'select'),
          'neither the queue nor its functions are reachable by anon or authenticated');

select * from finish();
rollback;
