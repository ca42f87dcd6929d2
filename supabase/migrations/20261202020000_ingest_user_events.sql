-- Odoo's users through ops-ingest: user_created, user_updated, user_archived,
-- user_unarchived and user_deleted, applied to ops.odoo_users exactly once,
-- in Odoo's order, by ops.ingest_event (20261126010000_ingest_project_lifecycle.sql),
-- which dispatches them here.
--
-- The ordering rule is the projects' (20261126010000_ingest_project_lifecycle):
--
--   * A user's state has three parts, each last-writer-wins on (occurred_at,
--     webhook_id): its facts (login, email, share: set by user_created and
--     user_updated), whether it is active (user_created, user_archived,
--     user_unarchived), and whether it exists (user_deleted). The versions
--     are the columns facts_at/facts_by and activity_at/activity_by.
--   * An event older than what is recorded for its part is `stale`:
--     recorded in the ledger, no effect.
--   * Deletion is final. Odoo's unlink is a hard DELETE and ids come from a
--     sequence, so a user never comes back: the row stays, marked
--     deleted_at, and its link ends (auth_user_id and link_how become null,
--     as odoo_users_deleted_unlinked requires; identity-map, rule 5). Every
--     later event about the user is stale, a user_created with a newer date
--     too: it cannot come from Odoo, and taking it would bring back a person's
--     identity that Odoo ended.
--   * An event about a user not created yet is `deferred`: kept in the ledger
--     and applied when its user_created arrives.
--
-- Logins are unique per instance among live users (Odoo's
-- res_users_login_key; the index odoo_users_instance_login_key). When an
-- event gives user X a login that the table still holds for another live
-- user Y, Y's row is behind: Odoo renamed or deleted Y before X got the
-- login, and that event has not arrived yet. X's event is then `deferred`,
-- not refused: nothing is lost and the sender gets no error it cannot fix.
-- It is applied as soon as an event frees the login (Y renamed or deleted),
-- and retried whenever another event about X applies (a later change of X's
-- facts makes it stale). A user_created that waits for a login would keep
-- the user out even when Odoo has since given X another login (Y's claim is
-- the newer one, and X's rename has arrived): so a creation takes the facts
-- of the newest of itself and the updates waiting for the user whose login
-- is free, and a user whose deletion is waiting is created deleted (a
-- deleted row holds no login).
--
-- Locks: the webhook id first (as for projects), then the user's instance.
-- The login rule is per instance, so the user events of an instance are
-- applied one at a time, deferred ones included: a deferred event cannot
-- slip past the creation or the rename that makes it applicable, and the
-- events a rename frees, about other users, are applied under the same
-- lock. A delivery never holds a project's lock and an instance's at once,
-- so no two deliveries deadlock. Whoever else writes the facts of
-- ops.odoo_users (a reconcile) takes the same lock,
-- pg_advisory_xact_lock(hashtextextended('ops.odoo_users:' || instance, 0)).
--
-- In the ledger, a user event's project_id column holds the user's key,
-- 'odoo-user:<instance>:<id>', which no project id can be (those are
-- odoo-<digits>): the deferred events of a user are found, kept by the
-- cleanup and applied like a project's.
--
-- The answer of every delivery that applied a user event, its own or
-- deferred ones, says whose links to decide again (identity-map decides
-- them from the current facts, rule 6):
--   "identity": {"odoo_instance": "prod",
--                "keys": [the login_key and email_key of each changed user,
--                         before and after the change, without nulls or repeats],
--                "auth_user_ids": [the link each had before the change]}

-- Applies one user event to its user and says what happened. Called with the
-- instance's advisory lock held. Besides the ledger's outcome the answer
-- holds, when it applied, "identity" ({"keys", "auth_user_ids"} of this one
-- change) and, when the change freed a login, "released" (that login); the
-- caller takes both out.
create function ops.apply_user_event(p_webhook_id text, p_event jsonb, p_occurred_at timestamptz)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_type         text := p_event ->> 'event_type';
    v_instance     text := p_event ->> 'odoo_instance';
    v_id           integer := (p_event ->> 'odoo_user_id')::integer;
    v_key          text := 'odoo-user:' || (p_event ->> 'odoo_instance') || ':' || (p_event ->> 'odoo_user_id');
    v_user         ops.odoo_users%rowtype;
    v_facts        jsonb;
    v_facts_at     timestamptz;
    v_facts_by     text;
    v_deleted_at   timestamptz;
    v_new_facts    boolean;
    v_new_activity boolean;
    v_keys         text[];
begin
    if v_type not in ('user_created', 'user_updated', 'user_archived', 'user_unarchived', 'user_deleted') then
        raise exception 'ops.apply_user_event: unknown event type %', v_type
            using errcode = '22023';
    end if;

    select * into v_user
      from ops.odoo_users
     where odoo_instance = v_instance and odoo_user_id = v_id
       for update;

    if not found then
        if v_type <> 'user_created' then
            return '{"result":"deferred"}'::jsonb;
        end if;
        -- A deletion already waiting: the user is created deleted.
        select d.occurred_at into v_deleted_at
          from ops.ingest_deliveries d
         where d.project_id = v_key
           and d.deferred_event is not null and d.resolved_at is null
           and d.event_type = 'user_deleted'
         order by d.occurred_at, d.webhook_id
         limit 1;
        -- The facts: the newest of this creation and the later updates
        -- waiting for the user, among those whose login no live user holds.
        select c.event, c.occurred_at, c.webhook_id
          into v_facts, v_facts_at, v_facts_by
          from (select p_event as event, p_occurred_at as occurred_at, p_webhook_id as webhook_id
                union all
                select d.deferred_event, d.occurred_at, d.webhook_id
                  from ops.ingest_deliveries d
                 where d.project_id = v_key
                   and d.deferred_event is not null and d.resolved_at is null
                   and d.event_type = 'user_updated'
                   and (d.occurred_at, d.webhook_id) > (p_occurred_at, p_webhook_id)) c
         where v_deleted_at is not null
            or not exists (select from ops.odoo_users o
                            where o.odoo_instance = v_instance
                              and o.odoo_login = c.event ->> 'login'
                              and o.deleted_at is null)
         order by c.occurred_at desc, c.webhook_id desc
         limit 1;
        if not found then
            return '{"result":"deferred"}'::jsonb;
        end if;
        insert into ops.odoo_users
            (odoo_instance, odoo_user_id, odoo_login, odoo_email, login_key, email_key, active, share,
             deleted_at, odoo_changed_at, facts_at, facts_by, activity_at, activity_by)
        values (v_instance, v_id, v_facts ->> 'login', v_facts ->> 'email', v_facts ->> 'login_key',
                v_facts ->> 'email_key', (p_event ->> 'active')::boolean, (v_facts ->> 'share')::boolean,
                v_deleted_at, greatest(p_occurred_at, v_facts_at, v_deleted_at),
                v_facts_at, v_facts_by, p_occurred_at, p_webhook_id);
        v_keys := array[v_facts ->> 'login_key', v_facts ->> 'email_key'];
        return jsonb_build_object(
            'result', 'applied', 'effect', 'created',
            'identity', jsonb_build_object(
                'keys', to_jsonb(array(select distinct k collate "C" from unnest(v_keys) k
                                        where k is not null order by 1)),
                'auth_user_ids', '[]'::jsonb));
    end if;

    if v_user.deleted_at is not null then
        return '{"result":"stale"}'::jsonb;
    end if;

    if v_type = 'user_deleted' then
        update ops.odoo_users
           set deleted_at = p_occurred_at,
               auth_user_id = null,
               link_how = null,
               odoo_changed_at = greatest(odoo_changed_at, p_occurred_at)
         where odoo_instance = v_instance and odoo_user_id = v_id;
        v_keys := array[v_user.login_key, v_user.email_key];
        return jsonb_build_object(
            'result', 'applied', 'effect', 'deleted',
            'identity', jsonb_build_object(
                'keys', to_jsonb(array(select distinct k collate "C" from unnest(v_keys) k
                                        where k is not null order by 1)),
                'auth_user_ids', to_jsonb(array_remove(array[v_user.auth_user_id], null))),
            'released', v_user.odoo_login);
    end if;

    -- Each part against its own version; a part no event has set yet was
    -- taken from Odoo with the whole row, at odoo_changed_at.
    v_new_facts := v_type in ('user_created', 'user_updated')
        and (p_occurred_at, p_webhook_id)
            > (coalesce(v_user.facts_at, v_user.odoo_changed_at), coalesce(v_user.facts_by, ''));
    v_new_activity := v_type in ('user_created', 'user_archived', 'user_unarchived')
        and (p_occurred_at, p_webhook_id)
            > (coalesce(v_user.activity_at, v_user.odoo_changed_at), coalesce(v_user.activity_by, ''));
    if not (v_new_facts or v_new_activity) then
        return '{"result":"stale"}'::jsonb;
    end if;
    if v_new_facts
       and p_event ->> 'login' <> v_user.odoo_login
       and exists (select from ops.odoo_users o
                    where o.odoo_instance = v_instance
                      and o.odoo_login = p_event ->> 'login'
                      and o.deleted_at is null) then
        -- Another live user still holds the login; see the top of the file.
        return '{"result":"deferred"}'::jsonb;
    end if;

    update ops.odoo_users
       set odoo_login  = case when v_new_facts then p_event ->> 'login' else odoo_login end,
           odoo_email  = case when v_new_facts then p_event ->> 'email' else odoo_email end,
           login_key   = case when v_new_facts then p_event ->> 'login_key' else login_key end,
           email_key   = case when v_new_facts then p_event ->> 'email_key' else email_key end,
           share       = case when v_new_facts then (p_event ->> 'share')::boolean else share end,
           -- The version of a part this event leaves alone is kept as it
           -- was, odoo_changed_at included, before odoo_changed_at moves on.
           facts_at    = case when v_new_facts then p_occurred_at else coalesce(facts_at, odoo_changed_at) end,
           facts_by    = case when v_new_facts then p_webhook_id else facts_by end,
           active      = case when not v_new_activity then active
                              when v_type = 'user_created' then (p_event ->> 'active')::boolean
                              else v_type = 'user_unarchived' end,
           activity_at = case when v_new_activity then p_occurred_at else coalesce(activity_at, odoo_changed_at) end,
           activity_by = case when v_new_activity then p_webhook_id else activity_by end,
           odoo_changed_at = greatest(odoo_changed_at, p_occurred_at)
     where odoo_instance = v_instance and odoo_user_id = v_id;

    v_keys := array[v_user.login_key, v_user.email_key];
    if v_new_facts then
        v_keys := v_keys || array[p_event ->> 'login_key', p_event ->> 'email_key'];
    end if;
    return jsonb_strip_nulls(jsonb_build_object(
        'result', 'applied',
        'effect', case v_type when 'user_archived' then 'archived'
                              when 'user_unarchived' then 'unarchived'
                              else 'updated' end,
        'identity', jsonb_build_object(
            'keys', to_jsonb(array(select distinct k collate "C" from unnest(v_keys) k
                                    where k is not null order by 1)),
            'auth_user_ids', to_jsonb(array_remove(array[v_user.auth_user_id], null))),
        'released', case when v_new_facts and p_event ->> 'login' <> v_user.odoo_login
                         then v_user.odoo_login end));
end;
$$;

comment on function ops.apply_user_event(text, jsonb, timestamptz) is
    'Applies one Odoo user event to ops.odoo_users under its instance''s lock: applied, stale or deferred.';

revoke all on function ops.apply_user_event(text, jsonb, timestamptz) from public;

-- Applies the deferred user events of one instance that may have become
-- applicable: those of the users in p_keys (ledger keys), and those waiting
-- for a login in p_logins; each it applies may free another login, whose
-- waiting events come next. Called with the instance's lock held. Answers
-- {"keys", "auth_user_ids"} of what it changed, empty when nothing.
--
-- A user's waiting events are applied in Odoo's order, pass after pass until
-- a pass changes nothing: an event that still waits (a login not free yet)
-- does not hold back the later ones, and one they make stale is then
-- resolved too. It ends: every pass but the last resolves an event.
create function ops.apply_deferred_user_events(p_instance text, p_keys text[], p_logins text[])
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_queue    text[] := p_keys;
    v_key      text;
    v_login    text;
    v_waiting  record;
    v_result   jsonb;
    v_progress boolean;
    v_keys     text[] := '{}';
    v_auth     text[] := '{}';
begin
    foreach v_login in array coalesce(p_logins, '{}') loop
        v_queue := v_queue || array(
            select distinct d.project_id
              from ops.ingest_deliveries d
             where d.deferred_event is not null and d.resolved_at is null
               and d.deferred_event ->> 'odoo_instance' = p_instance
               and d.deferred_event ->> 'login' = v_login);
    end loop;

    while cardinality(v_queue) > 0 loop
        v_key := v_queue[1];
        v_queue := v_queue[2:];
        loop
            v_progress := false;
            for v_waiting in
                select d.webhook_id, d.deferred_event, d.occurred_at
                  from ops.ingest_deliveries d
                 where d.project_id = v_key
                   and d.deferred_event is not null and d.resolved_at is null
                 order by d.occurred_at, d.webhook_id
            loop
                v_result := ops.apply_user_event(
                    v_waiting.webhook_id, v_waiting.deferred_event, v_waiting.occurred_at);
                continue when v_result ->> 'result' = 'deferred';
                update ops.ingest_deliveries
                   set resolved_at = now()
                 where webhook_id = v_waiting.webhook_id;
                v_progress := true;
                v_keys := v_keys || array(select jsonb_array_elements_text(v_result -> 'identity' -> 'keys'));
                v_auth := v_auth || array(select jsonb_array_elements_text(v_result -> 'identity' -> 'auth_user_ids'));
                if v_result ? 'released' then
                    v_queue := v_queue || array(
                        select distinct d.project_id
                          from ops.ingest_deliveries d
                         where d.deferred_event is not null and d.resolved_at is null
                           and d.deferred_event ->> 'odoo_instance' = p_instance
                           and d.deferred_event ->> 'login' = v_result ->> 'released'
                           and d.project_id <> all (v_queue));
                end if;
            end loop;
            exit when not v_progress;
        end loop;
    end loop;

    return jsonb_build_object(
        'keys', to_jsonb(array(select distinct k collate "C" from unnest(v_keys) k order by 1)),
        'auth_user_ids', to_jsonb(array(select distinct a collate "C" from unnest(v_auth) a order by 1)));
end;
$$;

comment on function ops.apply_deferred_user_events(text, text[], text[]) is
    'Applies the deferred Odoo user events of an instance that a creation, a change or a freed login made applicable.';

revoke all on function ops.apply_deferred_user_events(text, text[], text[]) from public;

