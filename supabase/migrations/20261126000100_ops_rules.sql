-- The value rules of the control-plane records, one SQL function per rule.
--
-- Every CHECK constraint of the ops tables calls these functions, and the
-- pgTAP tests call the same functions with the shared test vectors
-- (supabase/tests/vectors/records.json) that `cargo test` checks against the
-- Rust side (crates/ops-values/src/records.rs). A rule is therefore written
-- once in SQL and once in Rust, and the vectors keep the two in step.
--
-- All functions are immutable and strict: a null is "absent", not "invalid",
-- and whether a column may be absent is the column's `not null`, not the rule's.

-- Who did something: `created_by`, `requested_by`, `decided_by`.
--
-- The seed says the column "maps to auth.users.id or odoo.res_users.login"
-- but its example regex `^[a-z0-9_-]+@` rejects every auth user id. We keep
-- both meanings, told apart by their shape (a uuid never contains `@`):
--   * a Supabase user: auth.users.id as canonical lowercase text, exactly what
--     `auth.uid()::text` gives (so RLS can compare it with the caller);
--   * an Odoo user: res_users.login, lowercase and email-shaped. The local part
--     allows `.` and `+` besides the seed's `[a-z0-9_-]` because real logins
--     (`jane.doe@example.com`) have them; the seed's regex is kept otherwise.
-- No prefix (`auth:`/`odoo:`) is added: clients already hold the bare id
-- (`user.id` in supabase-js) and the login, and the shapes cannot collide.
create function ops.is_valid_auth_user_id(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

-- An Odoo login as Odoo stores it. Odoo core does not lowercase or trim a
-- login, looks it up exactly, and checks no shape: `admin`, every Odoo
-- database's first user, has no `@`. So the login is kept as Odoo has it,
-- and the rule only keeps out what no login should hold:
--   * an empty text, or more than 254 characters (the longest email
--     address, what a login usually is; the limit counts characters);
--   * a control character, Unicode Cc: U+0000-U+001F and U+007F-U+009F,
--     named by their ranges since `[[:cntrl:]]` depends on the locale
--     (PostgreSQL text cannot hold U+0000, so the range starts at U+0001);
--   * a lowercase uuid, which is an auth user id: created_by tells the two
--     apart by exactly that shape, so no value may be both. An uppercase
--     uuid is a login (auth.uid()::text is never uppercase).
-- crates/ops-values/src/records.rs (OdooLogin) is the same rule in Rust.
create function ops.is_valid_odoo_login(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return char_length(p_value) between 1 and 254
   and p_value !~ '[\u0001-\u001f\u007f-\u009f]'
   and not ops.is_valid_auth_user_id(p_value);

create function ops.is_valid_created_by(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return ops.is_valid_auth_user_id(p_value) or ops.is_valid_odoo_login(p_value);

-- A content digest: only SHA-256 is accepted, in OCI form.
create function ops.is_valid_digest(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value ~ '^sha256:[0-9a-f]{64}$';

-- A fully qualified container image reference, pinned by tag and/or digest:
-- `<host>[:port]/<path>[:tag][@sha256:<hex>]`, e.g.
-- `ghcr.io/insightpulseai/odoo-ce:v1.2.3`. The host must be explicit (a dotted
-- name, a name with a port, or localhost) so a reference never silently means
-- Docker Hub; path components are lowercase as the distribution spec requires.
create function ops.is_valid_image_reference(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return char_length(p_value) <= 512
   and p_value ~ ('^'
       -- registry host
       || '((localhost|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+)(:[0-9]{1,5})?'
       || '|[a-z0-9]([a-z0-9-]*[a-z0-9])?:[0-9]{1,5})'
       -- repository path
       || '(/[a-z0-9]+((\.|_{1,2}|-+)[a-z0-9]+)*)+'
       -- tag, digest
       || '(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?'
       || '(@sha256:[0-9a-f]{64})?'
       || '$')
   -- An image artifact names one image: a tag or a digest is required.
   and p_value ~ '(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$';

-- An S3 object URI, `s3://<bucket>/<key>`: a DNS-compatible bucket name of
-- 3 to 63 characters and a non-empty key of at most 1024 bytes, without
-- control characters and not starting with `/`.
create function ops.is_valid_s3_uri(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value ~ '^s3://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*/[^/]'
   and char_length(split_part(substr(p_value, 6), '/', 1)) between 3 and 63
   and octet_length(substr(p_value, 7 + char_length(split_part(substr(p_value, 6), '/', 1)))) <= 1024
   and p_value !~ '[\u0001-\u001f\u007f-\u009f]';

create function ops.is_valid_artifact_type(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('image', 'sbom', 'logs', 'evidence', 'manifest');

-- Where an artifact of a type may live: images in a container registry,
-- everything else in S3 (metadata in Postgres, blobs elsewhere).
create function ops.is_valid_artifact_location(p_artifact_type text, p_storage_path text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return case
    when p_artifact_type = 'image' then ops.is_valid_image_reference(p_storage_path)
    when ops.is_valid_artifact_type(p_artifact_type) then ops.is_valid_s3_uri(p_storage_path)
    else false
end;

-- An image pinned by digest (`...@sha256:<hex>`) must be recorded with that
-- same digest; other locations carry no digest of their own.
create function ops.image_digest_matches(p_storage_path text, p_digest text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_storage_path !~ '@sha256:[0-9a-f]{64}$'
    or right(p_storage_path, 71) = p_digest;

-- A whole artifact record, as the constraints of ops.artifacts see it.
create function ops.is_valid_artifact(p_artifact_type text, p_storage_path text, p_digest text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return ops.is_valid_artifact_location(p_artifact_type, p_storage_path)
   and ops.is_valid_digest(p_digest)
   and ops.image_digest_matches(p_storage_path, p_digest);

create function ops.is_valid_run_id(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value ~ '^run-[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$';

create function ops.is_valid_run_kind(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('build', 'test', 'deploy', 'backup', 'restore');

-- The environments of a project; the seed's `odoo_instance` values.
create function ops.is_valid_environment(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('dev', 'staging', 'prod');

-- Run status is a closed set. `success`, `failed` and `cancelled` are final.
create function ops.is_valid_run_status(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('queued', 'running', 'success', 'failed', 'cancelled');

create function ops.is_finished_run_status(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('success', 'failed', 'cancelled');

-- The only moves a run can make. A queued run may fail without starting (no
-- runner, invalid input); nothing leaves a final status.
create function ops.is_valid_run_transition(p_from text, p_to text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return (p_from, p_to) in (
    ('queued', 'running'), ('queued', 'cancelled'), ('queued', 'failed'),
    ('running', 'success'), ('running', 'failed'), ('running', 'cancelled'));

create function ops.is_valid_event_level(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('debug', 'info', 'warning', 'error');

-- What happened in a run, as dotted lowercase words: `step.started`,
-- `build.log`.
create function ops.is_valid_run_event_type(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return char_length(p_value) <= 64
   and p_value ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$';

create function ops.is_valid_backup_kind(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('daily', 'weekly', 'monthly');

create function ops.is_valid_approval_status(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('pending', 'approved', 'rejected');

create function ops.is_valid_member_role(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value in ('viewer', 'developer', 'approver', 'admin');

-- A git commit id: SHA-1 (40 hex) or SHA-256 (64 hex) object names.
create function ops.is_valid_commit_sha(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value ~ '^[0-9a-f]{40}([0-9a-f]{24})?$';

-- A GitHub repository, `owner/name`, as GitHub restricts them: an owner of up
-- to 39 letters, digits and single inner hyphens; a name of up to 100
-- letters, digits, `.`, `_` and `-` that is not `.` or `..`.
create function ops.is_valid_repo_slug(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return p_value ~ '^[A-Za-z0-9](-?[A-Za-z0-9]){0,38}/[A-Za-z0-9._-]{1,100}$'
   and split_part(p_value, '/', 2) not in ('.', '..');

-- A retention rule: what it applies to, to which class of it (an artifact
-- type, a backup kind, or null for all), and how many days rows are kept
-- (null: forever). Approvals are an audit record and are never expired.
create function ops.is_valid_retention(p_target text, p_class text, p_retain_days integer)
returns boolean
language sql immutable parallel safe
set search_path = ''
return coalesce(
    case p_target
        when 'runs' then p_class is null
        when 'run_events' then p_class is null
        when 'approvals' then p_class is null and p_retain_days is null
        when 'artifacts' then p_class is null or ops.is_valid_artifact_type(p_class)
        when 'backups' then p_class is null or ops.is_valid_backup_kind(p_class)
        -- The ingest ledger: for every project at once (a sender retries on
        -- one schedule), never under 7 days (20261202010000 says why).
        when 'ingest_deliveries' then p_class is null and (p_retain_days is null or p_retain_days >= 7)
        else false
    end
    and (p_retain_days is null or p_retain_days between 1 and 3650),
    false);

-- The validators are pure; the API roles need EXECUTE because CHECK
-- constraints run with the privileges of the writer.
do $$
declare
    v_function regprocedure;
begin
    for v_function in
        select p.oid::regprocedure
        from pg_proc p
        where p.pronamespace = 'ops'::regnamespace
          and (p.proname like 'is\_valid\_%'
               or p.proname in ('is_finished_run_status', 'image_digest_matches'))
    loop
        execute format('revoke all on function %s from public', v_function);
        execute format('grant execute on function %s to authenticated, service_role', v_function);
    end loop;
end
$$;
