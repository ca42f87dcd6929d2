-- Who is who (the seed's rule 4): what ops-auth-hook reads to decide a
-- person's Odoo identities. crates/identity-map decides; this only gathers
-- the part of the picture the decision about one person depends on.

-- ---------------------------------------------------------------------------
-- The neighbourhood of one person, as identity_map::Input JSON:
--   {"auth_user": {"id", "email", "email_confirmed"} | null,
--    "input": {"odoo_users": [...], "auth_users": [...], "decisions": [...]},
--    "stored": [{"odoo_instance", "odoo_user_id", "auth_user_id", "link_how"}],
--    "version": md5 of the rest}
-- `stored` is what ops.odoo_users holds for the Odoo users of 1 below, and
-- `version` lets ops.identity_store tell that nothing changed since.
--
-- `p_key` is identity_map::match_key of the person's email, computed in Rust
-- (the caller takes it from Auth's claims; when auth.users says otherwise it
-- asks again with the right one). The decision about the person needs:
--   1. the Odoo users that may be theirs: a login_key or email_key equal to
--      p_key, an admin decision naming them, or a stored link to them;
--   2. every Supabase user that matches one of those Odoo users, since a
--      rival makes a match ambiguous: every address whose ASCII lowercase is
--      one of their keys, and every non-ASCII address. Rust's full lowercase
--      of an ASCII address is its ASCII lowercase, and lower() under the "C"
--      collation is exactly that, so no address that Rust would match is
--      left out; Rust then compares them exactly;
--   3. every Odoo user of those instances that matches one of those keys,
--      the other contenders for the same people;
--   4. the admins' decisions about any of these Odoo users or people, and
--      the people and Odoo users those decisions name: an admin's link
--      settles a pair whatever the emails say, and takes both out of the
--      contest.
-- The Odoo users of 1 are then decided exactly as with the whole instance
-- (identity-map's docs say why: a decision depends only on the user's
-- matches and on who else matches them). It reads and never locks: plain
-- reads do not wait for row locks, so the hook answers while Auth's sign-in
-- transaction holds the person's auth.users row.
create function ops.identity_neighbourhood(p_auth_user_id uuid, p_key text)
returns jsonb
language sql stable
set search_path = ''
begin atomic
    with theirs as (
        select o.odoo_instance, o.odoo_user_id, o.login_key, o.email_key
          from ops.odoo_users o
         where p_key is not null and (o.login_key = p_key or o.email_key = p_key)
        union
        select o.odoo_instance, o.odoo_user_id, o.login_key, o.email_key
          from ops.odoo_users o
         where o.auth_user_id = p_auth_user_id
        union
        select o.odoo_instance, o.odoo_user_id, o.login_key, o.email_key
          from ops.odoo_user_decisions d
          join ops.odoo_users o using (odoo_instance, odoo_user_id)
         where d.auth_user_id = p_auth_user_id
    ),
    keys as (
        select distinct t.odoo_instance, k.key
          from theirs t
         cross join lateral (values (t.login_key), (t.email_key)) as k (key)
         where k.key is not null
    ),
    near as (
        select o.odoo_instance, o.odoo_user_id
          from ops.odoo_users o
         where exists (select from keys k
                        where k.odoo_instance = o.odoo_instance
                          and (k.key = o.login_key or k.key = o.email_key))
        union
        select t.odoo_instance, t.odoo_user_id from theirs t
    ),
    near_decisions as (
        select d.odoo_instance, d.odoo_user_id, d.auth_user_id, d.kind
          from ops.odoo_user_decisions d
          join near n using (odoo_instance, odoo_user_id)
    ),
    people as (
        select u.id, u.email, u.email_confirmed_at is not null as email_confirmed
          from auth.users u
         where (u.email is not null
                and (lower(u.email collate "C") in (select k.key from keys k)
                     or (u.email ~ '[^\x01-\x7f]' and exists (select from keys))))
            or u.id = p_auth_user_id
            or u.id in (select d.auth_user_id from near_decisions d)
    ),
    -- An admin's link of a rival takes the rival out of the contest, so the
    -- Odoo users those decisions name come along.
    people_decisions as (
        select d.odoo_instance, d.odoo_user_id, d.auth_user_id, d.kind
          from ops.odoo_user_decisions d
         where d.auth_user_id in (select p.id from people p)
    ),
    odoo as (
        select o.*
          from ops.odoo_users o
         where (o.odoo_instance, o.odoo_user_id) in (
                   select n.odoo_instance, n.odoo_user_id from near n
                   union
                   select d.odoo_instance, d.odoo_user_id from people_decisions d)
    ),
    decisions as (
        select * from near_decisions
        union
        select * from people_decisions
    )
    select n || jsonb_build_object('version', md5(n::text))
      from (select jsonb_build_object(
        'auth_user', (select to_jsonb(p) from people p where p.id = p_auth_user_id),
        'input', jsonb_build_object(
            'odoo_users', coalesce((
                select jsonb_agg(jsonb_build_object(
                           'odoo_instance', o.odoo_instance,
                           'odoo_user_id', o.odoo_user_id,
                           'login', o.odoo_login,
                           'email', o.odoo_email,
                           'active', o.active,
                           'share', o.share,
                           'deleted', o.deleted_at is not null)
                       order by o.odoo_instance, o.odoo_user_id)
                  from odoo o), '[]'::jsonb),
            'auth_users', coalesce((
                select jsonb_agg(to_jsonb(p) order by p.id) from people p), '[]'::jsonb),
            'decisions', coalesce((
                select jsonb_agg(to_jsonb(d)
                       order by d.odoo_instance, d.odoo_user_id, d.auth_user_id)
                  from decisions d), '[]'::jsonb)),
        -- The Odoo users of 1, decided exactly here, and their stored links.
        'stored', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'odoo_instance', o.odoo_instance,
                       'odoo_user_id', o.odoo_user_id,
                       'auth_user_id', o.auth_user_id,
                       'link_how', o.link_how)
                   order by o.odoo_instance, o.odoo_user_id)
              from ops.odoo_users o
             where (o.odoo_instance, o.odoo_user_id) in
                   (select t.odoo_instance, t.odoo_user_id from theirs t)), '[]'::jsonb)
      ) as n) as neighbourhood;
end;

comment on function ops.identity_neighbourhood(uuid, text) is
    'What ops-auth-hook reads to decide one person''s Odoo identities (identity_map::Input JSON); it takes no lock.';

revoke all on function ops.identity_neighbourhood(uuid, text) from public;
grant execute on function ops.identity_neighbourhood(uuid, text) to service_role;

-- ---------------------------------------------------------------------------
-- Stores the links decided for one person's neighbourhood: `p_links` holds,
-- for Odoo users of its `stored` list, the link identity_map decided
-- ({"odoo_instance", "odoo_user_id", "auth_user_id" | null, "link_how" | null}).
-- ops-auth-hook calls it after it has answered Auth (never inside the
-- sign-in: the foreign key to auth.users waits for the row Auth's
-- transaction holds). Writes only when the neighbourhood is still the one
-- decided from (`p_version`), so a decision made from an older picture is
-- never stored over a newer one; {"result": "changed"} then, and the next
-- sign-in decides again. Stores are serialized: they are rare (only when a
-- decision differs from what is stored) and short.
--   {"result": "stored", "rows": n} | {"result": "changed"}
create function ops.identity_store(
    p_auth_user_id uuid, p_key text, p_version text, p_links jsonb)
returns jsonb
language plpgsql
-- The person's auth.users row may still be held by the sign-in that just
-- ended; wait for it, but not for ever.
set lock_timeout = '5s'
set search_path = ''
as $$
declare
    v_now   jsonb;
    v_links jsonb;
    v_rows  integer := 0;
    v_count integer;
begin
    perform pg_advisory_xact_lock(hashtext('ops.identity_store'));
    v_now := ops.identity_neighbourhood(p_auth_user_id, p_key);
    if v_now ->> 'version' is distinct from p_version then
        return '{"result": "changed"}'::jsonb;
    end if;

    -- Only the Odoo users this neighbourhood decides exactly.
    select coalesce(jsonb_agg(l), '[]'::jsonb) into v_links
      from jsonb_array_elements(p_links) l
     where exists (select from jsonb_array_elements(v_now -> 'stored') s
                    where s ->> 'odoo_instance' = l ->> 'odoo_instance'
                      and s -> 'odoo_user_id' = l -> 'odoo_user_id');

    -- Links that end or move first, then the people's other Odoo users of
    -- the instance (a person is one Odoo user per instance), then the new
    -- links: the unique index is checked row by row.
    update ops.odoo_users o
       set auth_user_id = null, link_how = null
      from jsonb_to_recordset(v_links)
           as l (odoo_instance text, odoo_user_id integer, auth_user_id uuid, link_how text)
     where o.odoo_instance = l.odoo_instance and o.odoo_user_id = l.odoo_user_id
       and o.auth_user_id is not null
       and (o.auth_user_id, o.link_how) is distinct from (l.auth_user_id, l.link_how);
    get diagnostics v_count = row_count;
    v_rows := v_rows + v_count;
    update ops.odoo_users o
       set auth_user_id = null, link_how = null
      from jsonb_to_recordset(v_links)
           as l (odoo_instance text, odoo_user_id integer, auth_user_id uuid, link_how text)
     where l.auth_user_id is not null
       and o.odoo_instance = l.odoo_instance and o.auth_user_id = l.auth_user_id
       and o.odoo_user_id <> l.odoo_user_id;
    get diagnostics v_count = row_count;
    v_rows := v_rows + v_count;
    update ops.odoo_users o
       set auth_user_id = l.auth_user_id, link_how = l.link_how
      from jsonb_to_recordset(v_links)
           as l (odoo_instance text, odoo_user_id integer, auth_user_id uuid, link_how text)
     where o.odoo_instance = l.odoo_instance and o.odoo_user_id = l.odoo_user_id
       and l.auth_user_id is not null
       and (o.auth_user_id, o.link_how) is distinct from (l.auth_user_id, l.link_how);
    get diagnostics v_count = row_count;
    v_rows := v_rows + v_count;
    return jsonb_build_object('result', 'stored', 'rows', v_rows);
end;
$$;

comment on function ops.identity_store(uuid, text, text, jsonb) is
    'Stores the links identity_map decided for one person''s neighbourhood, if it is unchanged since (ops-auth-hook, after its answer).';

revoke all on function ops.identity_store(uuid, text, text, jsonb) from public;
grant execute on function ops.identity_store(uuid, text, text, jsonb) to service_role;
