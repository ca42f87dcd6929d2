-- ops.reconcile_read's agreement (20261202050000_reconcile.sql), against the
-- fixture's five projects read through the real wrapper: a pair is left out
-- only when both sides agree as the planner's "unchanged" does; each way of
-- differing is sent. The Rust side of the same rule is the property
-- pairs_left_out_by_the_agreement_plan_as_if_read (crates/reconcile-plan).
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;
select plan(15);

-- The control plane as the fixture's projects were last mirrored: 1 and 3
-- as Odoo has them (3 archived), 2 in French, 4 (Odoo's template) with
-- Odoo's values, 5 under an older name.
insert into ops.projects (project_id, name, odoo_version, active) values
    ('odoo-1', 'Website Redesign', '19.0', true),
    ('odoo-2', 'Déménagement du bureau', '19.0', true),
    ('odoo-3', 'Legacy ERP Migration', '19.0', false),
    ('odoo-4', 'Implementation Template', '19.0', true),
    ('odoo-5', 'R&D', '19.0', true)
on conflict (project_id) do update
    set name = excluded.name, odoo_version = excluded.odoo_version, active = excluded.active,
        deleted_at = null;

-- The ids each side sends, and what was left out, for one agreement.
create function pg_temp.sent(p_agreement jsonb, p_since timestamptz default null)
returns jsonb language sql as $$
    select jsonb_build_object(
        'odoo', (select coalesce(jsonb_agg((o ->> 'id')::int order by (o ->> 'id')::int), '[]')
                   from jsonb_array_elements(r -> 'odoo_projects') o),
        'control', (select coalesce(jsonb_agg(c ->> 'project_id' order by c ->> 'project_id'), '[]')
                      from jsonb_array_elements(r -> 'projects') c),
        'agreed', r -> 'agreed')
      from (select ops.reconcile_read('prod', 0, 5, p_since, null, p_agreement)::jsonb as r) page
$$;
create function pg_temp.agreement(p_language text default 'fr_FR', p_series text default '19.0',
                                  p_base text default '19.0.1.3', p_now text default '2026-12-01T00:00:00Z')
returns jsonb language sql as $$
    select jsonb_build_object('language', p_language, 'series', p_series,
                              'base_latest_version', p_base, 'now', p_now)
$$;

select is(pg_temp.sent(null),
          '{"odoo": [1, 2, 3, 4, 5], "control": ["odoo-1", "odoo-2", "odoo-3", "odoo-4", "odoo-5"],
            "agreed": {"count": 0, "latest_write_date": null}}'::jsonb,
          'without an agreement every pair is sent');
select is(pg_temp.sent(pg_temp.agreement()),
          '{"odoo": [4, 5], "control": ["odoo-4", "odoo-5"],
            "agreed": {"count": 3, "latest_write_date": "2026-11-25 08:00:00.000001"}}'::jsonb,
          'the pairs that agree are left out and counted, with their latest write_date as Odoo wrote it; '
          'a template and a changed name are sent');
select is(pg_temp.sent(pg_temp.agreement(p_language => 'en_US')) -> 'odoo', '[2, 4, 5]'::jsonb,
          'the name is the configured language''s: in en_US the French name differs');
select is(pg_temp.sent(pg_temp.agreement(p_language => 'de_DE')) -> 'odoo', '[2, 4, 5]'::jsonb,
          '...and without that language, en_US''s');
select is(pg_temp.sent(pg_temp.agreement(p_series => '18.0')) -> 'odoo', '[1, 2, 3, 4, 5]'::jsonb,
          'another series: nothing agrees');
select is(pg_temp.sent(pg_temp.agreement(p_base => '19.0.1.2')) -> 'odoo', '[1, 2, 3, 4, 5]'::jsonb,
          'a series derived from another base version than Odoo''s now: nothing is left out');
select is(pg_temp.sent(pg_temp.agreement(p_now => '2026-11-24T00:00:00Z')) -> 'odoo', '[2, 3, 4, 5]'::jsonb,
          'a write_date after the machine''s now is sent (the planner skips it as in the future)');
select is(pg_temp.sent(pg_temp.agreement(), '2026-11-20 09:15:02.482113+00') -> 'odoo', '[1, 5]'::jsonb,
          'incremental: a row at the window''s very start is sent (the planner finds it outside); '
          'the template, written before the window, is not read');
select is(pg_temp.sent(pg_temp.agreement(), '2026-11-20 09:15:02.482113+00') -> 'control',
          '["odoo-1", "odoo-5"]'::jsonb,
          'incremental: only the control plane''s rows of the ids Odoo sent, and of no id Odoo left out');

update ops.projects set active = true where project_id = 'odoo-3';
select is(pg_temp.sent(pg_temp.agreement()) -> 'odoo', '[3, 4, 5]'::jsonb,
          'active differs: sent');
update ops.projects set active = false, odoo_version = '18.0' where project_id = 'odoo-3';
select is(pg_temp.sent(pg_temp.agreement()) -> 'odoo', '[3, 4, 5]'::jsonb,
          'the series differs: sent');
update ops.projects set odoo_version = '19.0', deleted_at = now() where project_id = 'odoo-3';
select is(pg_temp.sent(pg_temp.agreement()) -> 'odoo', '[3, 4, 5]'::jsonb,
          'marked deleted in the control plane: sent');
delete from ops.projects where project_id = 'odoo-1';
select is(pg_temp.sent(pg_temp.agreement()),
          '{"odoo": [1, 3, 4, 5], "control": ["odoo-3", "odoo-4", "odoo-5"],
            "agreed": {"count": 1, "latest_write_date": "2026-11-24 14:03:51.907214"}}'::jsonb,
          'a project the control plane lacks: sent');

-- What the control plane has and Odoo does not is always sent: a full
-- page's range stops at its last id, a short page's does not.
insert into ops.projects (project_id, name, odoo_version, active) values
    ('odoo-1', 'Website Redesign', '19.0', true), ('odoo-9001', 'Gone', '19.0', true);
select is((select jsonb_agg(c ->> 'project_id')
             from jsonb_array_elements(ops.reconcile_read('prod', 0, 100, null, null, pg_temp.agreement())::jsonb
                                       -> 'projects') c
            where c ->> 'project_id' = 'odoo-9001'),
          '["odoo-9001"]'::jsonb, 'a project gone from Odoo is sent');
select is(ops.reconcile_read('prod', 0, 100, null, null, pg_temp.agreement())::jsonb -> 'range',
          '{"after_id": 0, "through_id": null}'::jsonb, '...from a short page, whose range is open');

select * from finish();
rollback;
