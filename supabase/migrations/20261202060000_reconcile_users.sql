-- The users half of the reconcile: ops-reconcile reads an instance's
-- res_users, each left-joined to its res_partner (where the email lives),
-- through the wrapper (odoo_<instance>), page by page; crates/reconcile-plan
-- (reconcile_plan::users) decides which user events make ops.odoo_users
-- what Odoo holds; and the changes go through ops.apply_user_event, the rule
-- ops-ingest applies, under the instance's lock, with Odoo's dates as the
-- change times: a reconcile never undoes a newer event, and a late event
-- never undoes a newer reconcile. Only new functions.

-- ---------------------------------------------------------------------------
-- One page for the planner, the parts of reconcile_plan::UsersInput that
-- come from the databases, as text so that no driver turns numbers into
-- doubles:
--   {"odoo_users": [{"id", "login", "active", "share", "write_date",
--                    "partner_id", "email", "partner_write_date"}],
--    "users": [{"odoo_user_id", "odoo_login", "odoo_email", "share", "active",
--               "deleted_at", "odoo_changed_at", "facts_at", "facts_by",
--               "activity_at", "activity_by"}],
--    "range": {"after_id", "through_id"}}
-- Odoo's users with id > p_after, at most p_limit, in id order, each with
-- its partner's id (null when the join finds none), email and write_date; in
-- incremental mode only those whose own or partner's write_date is at or
-- after p_since (the window's start the planner computed), since an email
-- change writes only the partner. The Odoo dates are naive UTC, compared in
-- UTC and written as JSON's ISO text (`2026-11-26T10:00:00.123456`), which
-- no session's DateStyle changes. Then the control plane's rows of the same
-- instance and id range: up to the page's last id, or all after p_after when
-- the page came back short (through_id null), so that what is gone from Odoo
-- shows. A failure to reach Odoo is the wrapper's error (SQLSTATE class 08
-- or HV), which the machine answers with 503, having written nothing.
create function ops.reconcile_read_users(
    p_instance text, p_after bigint, p_limit integer, p_since timestamptz,
    p_ids bigint[] default null)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_schema  text := 'odoo_' || p_instance;
    v_odoo    jsonb;
    v_last    bigint;
    v_count   integer;
    v_through bigint;
    v_ops     jsonb;
    v_changed integer[];
begin
    if p_instance is null or not ops.is_valid_environment(p_instance) then
        raise exception 'ops.reconcile_read_users: unknown Odoo instance %', p_instance
            using errcode = '22023';
    end if;
    if p_after is null or p_after < 0 or p_limit is null or p_limit < 1 then
        raise exception 'ops.reconcile_read_users: after is 0 or an id and limit at least 1, not % and %',
            p_after, p_limit
            using errcode = '22023';
    end if;
    -- Odoo's side in reads postgres_fdw cannot plan wrong: the users of the
    -- page, then their partners by id (the wrapper sends the ids as one
    -- array). As one join, planned without remote estimates, it shipped
    -- every partner (res_partner holds every contact of the company, not
    -- only the users') to be joined here, on every page. An incremental
    -- page also takes the users whose partner changed: the partners written
    -- since the window's start, read first, in the same remote transaction
    -- and so the same snapshot of Odoo.
    if p_since is not null then
        execute pg_catalog.format($sql$
            select coalesce(pg_catalog.array_agg(p.id), '{}')
              from %1$I.res_partner p
             where p.write_date >= ($1::timestamptz at time zone 'UTC')
        $sql$, v_schema) into v_changed using p_since;
    end if;
    execute pg_catalog.format($sql$
        with u as materialized (
            select u.id, u.login, u.active, u.share, u.write_date, u.partner_id
              from %1$I.res_users u
             where u.id > $1
               and ($3::timestamptz is null
                    or u.write_date >= ($3::timestamptz at time zone 'UTC')
                    or u.partner_id = any ($5::integer[]))
               and ($4::bigint[] is null or u.id = any ($4::bigint[]))
             order by u.id
             limit $2),
        p as materialized (
            select p.id, p.email, p.write_date
              from %1$I.res_partner p
             where p.id = any (array(select u.partner_id from u)))
        select coalesce(jsonb_agg(jsonb_build_object(
                   'id', u.id, 'login', u.login, 'active', u.active, 'share', u.share,
                   'write_date', u.write_date, 'partner_id', p.id, 'email', p.email,
                   'partner_write_date', p.write_date)
                   order by u.id), '[]'::jsonb),
               max(u.id), count(*)
          from u left join p on p.id = u.partner_id
    $sql$, v_schema) into v_odoo, v_last, v_count using p_after, p_limit, p_since, p_ids, v_changed;
    v_through := case when v_count < p_limit then null else v_last end;

    select coalesce(jsonb_agg(jsonb_build_object(
               'odoo_user_id', o.odoo_user_id, 'odoo_login', o.odoo_login,
               'odoo_email', o.odoo_email, 'share', o.share, 'active', o.active,
               'deleted_at', o.deleted_at, 'odoo_changed_at', o.odoo_changed_at,
               'facts_at', o.facts_at, 'facts_by', o.facts_by,
               'activity_at', o.activity_at, 'activity_by', o.activity_by)
               order by o.odoo_user_id), '[]'::jsonb)
      into v_ops
      from ops.odoo_users o
     where o.odoo_instance = p_instance
       and o.odoo_user_id > p_after
       and (v_through is null or o.odoo_user_id <= v_through)
       and (p_ids is null or o.odoo_user_id = any (p_ids));

    return jsonb_build_object(
        'odoo_users', v_odoo, 'users', v_ops,
        'range', jsonb_build_object('after_id', p_after, 'through_id', v_through))::text;
end;
$$;

comment on function ops.reconcile_read_users(text, bigint, integer, timestamptz, bigint[]) is
    'One page of an Odoo instance''s users with their partners'' emails (through the wrapper) and the control plane''s, for the reconcile planner.';

-- ---------------------------------------------------------------------------
-- Applies the planner's user changes (reconcile_plan::UserChange: change_id,
-- occurred_at, event with its login_key and email_key) of one instance, in
-- order, as ops-ingest applies a user event: under the instance's lock
-- (taken once: every change is about this instance), through
-- ops.apply_user_event with the change id in the webhook id's place, and,
-- after each change that applied, ops.apply_deferred_user_events for what
-- was waiting for that user or for the login it freed, as ops.ingest_event
-- does. A change deferred because another user still holds its login is
-- tried again once the others are through, pass after pass while a pass
-- applies something, so that renames on one page land in any order; one
-- still deferred then (a swap, or a holder on a later page) is counted and
-- left to the next pass. Nothing is written to the ledger: a reconcile's
-- changes are planned again from Odoo, never replayed. Returns
--   {"applied": n, "stale": n, "deferred": n, "effects": {"created": n, ...},
--    "identity": {"odoo_instance", "keys", "auth_user_ids"}}
-- where identity, as in ops.ingest_event's answer, says whose links to
-- decide again: the keys of every user changed, before and after, and the
-- links they had, without nulls or repeats.
create function ops.reconcile_apply_users(p_instance text, p_changes jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_pending  jsonb[];
    v_waiting  jsonb[];
    v_change   jsonb;
    v_event    jsonb;
    v_outcome  jsonb;
    v_more     jsonb;
    v_result   text;
    v_effect   text;
    v_progress boolean := true;
    v_counts   jsonb := '{"applied": 0, "stale": 0, "deferred": 0, "effects": {}}'::jsonb;
    v_keys     text[] := '{}'::text[];
    v_auth     text[] := '{}'::text[];
begin
    if p_instance is null or not ops.is_valid_environment(p_instance) then
        raise exception 'ops.reconcile_apply_users: unknown Odoo instance %', p_instance
            using errcode = '22023';
    end if;
    if p_changes is null or jsonb_typeof(p_changes) <> 'array' then
        raise exception 'ops.reconcile_apply_users: the changes are a JSON array'
            using errcode = '22023';
    end if;
    v_pending := array(select c from jsonb_array_elements(p_changes) with ordinality as e (c, n) order by n);
    -- Checked before anything is applied: all or nothing.
    if exists (select from unnest(v_pending) c
                where c -> 'event' ->> 'odoo_instance' is distinct from p_instance) then
        raise exception 'ops.reconcile_apply_users: every change must be about instance %', p_instance
            using errcode = '22023';
    end if;

    perform pg_advisory_xact_lock(pg_catalog.hashtextextended('ops.odoo_users:' || p_instance, 0));

    while v_progress and cardinality(v_pending) > 0 loop
        v_progress := false;
        v_waiting := '{}'::jsonb[];
        foreach v_change in array v_pending loop
            v_event := v_change -> 'event';
            v_outcome := ops.apply_user_event(
                v_change ->> 'change_id', v_event, (v_change ->> 'occurred_at')::timestamptz);
            v_result := v_outcome ->> 'result';
            if v_result = 'deferred' then
                v_waiting := v_waiting || v_change;
                continue;
            end if;
            v_progress := true;
            v_counts := jsonb_set(v_counts, array[v_result],
                                  to_jsonb(coalesce((v_counts ->> v_result)::integer, 0) + 1));
            v_effect := v_outcome ->> 'effect';
            if v_effect is not null then
                v_counts := jsonb_set(v_counts, array['effects', v_effect],
                    to_jsonb(coalesce((v_counts -> 'effects' ->> v_effect)::integer, 0) + 1));
            end if;
            if v_result = 'applied' then
                v_keys := v_keys || array(select jsonb_array_elements_text(v_outcome -> 'identity' -> 'keys'));
                v_auth := v_auth || array(select jsonb_array_elements_text(v_outcome -> 'identity' -> 'auth_user_ids'));
                v_more := ops.apply_deferred_user_events(
                    p_instance,
                    array['odoo-user:' || p_instance || ':' || (v_event ->> 'odoo_user_id')],
                    array_remove(array[v_outcome ->> 'released'], null));
                v_keys := v_keys || array(select jsonb_array_elements_text(v_more -> 'keys'));
                v_auth := v_auth || array(select jsonb_array_elements_text(v_more -> 'auth_user_ids'));
            end if;
        end loop;
        v_pending := v_waiting;
    end loop;

    v_counts := jsonb_set(v_counts, '{deferred}', to_jsonb(cardinality(v_pending)));
    return (v_counts || jsonb_build_object('identity', jsonb_build_object(
        'odoo_instance', p_instance,
        'keys', to_jsonb(array(select distinct k collate "C" from unnest(v_keys) k
                                where k is not null order by 1)),
        'auth_user_ids', to_jsonb(array(select distinct a collate "C" from unnest(v_auth) a
                                         where a is not null order by 1)))))::text;
end;
$$;

comment on function ops.reconcile_apply_users(text, jsonb) is
    'Applies the reconcile planner''s user changes of one Odoo instance through ops.apply_user_event, the rule of ops-ingest.';

revoke all on function
    ops.reconcile_read_users(text, bigint, integer, timestamptz, bigint[]),
    ops.reconcile_apply_users(text, jsonb)
    from public;
grant execute on function
    ops.reconcile_read_users(text, bigint, integer, timestamptz, bigint[]),
    ops.reconcile_apply_users(text, jsonb)
    to service_role;
