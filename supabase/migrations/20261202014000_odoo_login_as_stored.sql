-- The Odoo login rule, as Odoo stores logins (replaces the definition in
-- 20261126000100_ops_rules.sql, which allowed only lowercase, email-shaped
-- logins). It is the rule of ops.odoo_users.odoo_login and, through
-- ops.is_valid_created_by, of who created, requested or decided something.
--
-- Odoo core does not lowercase or trim a login, looks it up exactly, and
-- checks no shape: `admin`, every Odoo database's first user, has no `@`.
-- So the login is kept as Odoo has it, and the rule only keeps out what no
-- login should hold:
--   * an empty text, or more than 254 characters (the longest email
--     address, what a login usually is; the limit counts characters);
--   * a control character, Unicode Cc: U+0000-U+001F and U+007F-U+009F,
--     named by their ranges since `[[:cntrl:]]` depends on the locale
--     (PostgreSQL text cannot hold U+0000, so the range starts at U+0001);
--   * a lowercase uuid, which is an auth user id: created_by tells the two
--     apart by exactly that shape, so no value may be both. An uppercase
--     uuid is a login (auth.uid()::text is never uppercase).
-- crates/ops-values/src/records.rs (OdooLogin) is the same rule in Rust;
-- supabase/tests/vectors/records.json holds the vectors both are checked
-- against. Every login the earlier rule accepted is accepted still.
create or replace function ops.is_valid_odoo_login(p_value text)
returns boolean
language sql immutable strict parallel safe
set search_path = ''
return char_length(p_value) between 1 and 254
   and p_value !~ '[\u0001-\u001f\u007f-\u009f]'
   and not ops.is_valid_auth_user_id(p_value);

comment on function ops.is_valid_odoo_login(text) is
    'An Odoo login as Odoo stores it: 1 to 254 characters, no control character, not a lowercase uuid.';

-- As for every value rule: CHECK constraints run with the writer's
-- privileges, so the API roles may execute it.
revoke all on function ops.is_valid_odoo_login(text) from public;
grant execute on function ops.is_valid_odoo_login(text) to authenticated, service_role;
