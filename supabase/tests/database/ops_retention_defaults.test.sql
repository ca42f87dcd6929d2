-- The retention defaults the migrations seed, checked against the shared
-- file that the Rust side reads as its one definition of them
-- (ops_values::retention_defaults, and cleanup_plan's seed_defaults from it),
-- so the two cannot drift. SQL cannot read the file at deploy time, so the
-- migrations insert the rows themselves; this test is what ties them.
--
-- pg_prove runs this file through psql from the repository root; psql reads
-- the defaults file client-side.
\set defaults `cat supabase/tests/vectors/retention_defaults.json`
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

create temp table file_defaults as
select ordinality as ord,
       d ->> 'target' as target,
       d ->> 'class' as class,
       (d ->> 'retain_days')::integer as retain_days,
       d ? 'class' and d ? 'retain_days' as complete
from jsonb_array_elements((:'defaults'::jsonb) -> 'defaults') with ordinality as t(d, ordinality);

select plan(4);

select ok((select count(*) from file_defaults) > 0,
    'the defaults file is read (' || (select count(*) from file_defaults) || ' rows)');

-- Every column is written out, null when empty, as the Rust side requires:
-- a missing retain_days must not read as "forever" here and as an error there.
select is(
    (select array_agg(ord order by ord) from file_defaults where not complete),
    null,
    'every default names its class and retain_days');

select is(
    (select array_agg(ord order by ord) from file_defaults
     where ops.is_valid_retention(target, class, retain_days) is not true),
    null,
    'every default is a rule ops.is_valid_retention accepts');

-- Row for row and in order: the seeded rows are exactly the file's, with no
-- other default and no project's override.
select results_eq(
    $$select project_id, target, class, retain_days from ops.retention_policies order by policy_id$$,
    $$select null::text, target, class, retain_days from file_defaults order by ord$$,
    'the seeded retention policies are the defaults file, row for row');

select * from finish();
rollback;
