-- The whole project lifecycle from Odoo, exactly once, in Odoo's order.
--
-- Deliveries are at-least-once and may arrive late or out of order. Each event
-- carries the state Odoo has now (not a difference), and the date of the
-- change in Odoo (`occurred_at`; for the seed's undated project_created, the
-- delivery's signed timestamp). The ordering rule:
--
--   * A project's state has three parts, each last-writer-wins on
--     (occurred_at, webhook_id): its description (name, odoo_version: set by
--     project_created and project_updated), whether it is active (project_
--     archived / project_unarchived), and whether it exists (project_deleted).
--     The webhook id breaks ties between changes dated the same, so every
--     order of arrival ends in the same state.
--   * An event older than what is recorded for its part is `stale`: recorded
--     in the ledger, no effect, answered 200.
--   * Deletion is final (Odoo never reuses ids): the row stays, marked
--     deleted, because runs, backups and approvals still refer to it; later
--     events about it are stale.
--   * An archive, unarchive or delete of a project not known yet is
--     `deferred`: kept in the ledger and applied as soon as a project_created
--     or project_updated brings the project (202 Accepted).
--
-- All events of one project are serialized by a transaction-scoped advisory
-- lock, so a deferred event cannot slip past the creation that resolves it.

alter table ops.projects
    add column active boolean not null default true,
    add column deleted_at timestamptz,
    -- The version of each part of the state: the (occurred_at, webhook id) of
    -- the change that set it.
    add column described_at timestamptz,
    add column described_by text,
    add column activity_at timestamptz,
    add column activity_by text;

comment on column ops.projects.active is 'Odoo''s active flag: false once archived in Odoo.';
comment on column ops.projects.deleted_at is 'When the project was deleted in Odoo; the row stays for the audit trail.';
comment on column ops.projects.described_at is 'occurred_at of the change that set name and odoo_version.';
comment on column ops.projects.activity_at is 'occurred_at of the change that set active.';

alter table ops.ingest_deliveries
    add column occurred_at timestamptz,
    -- Only a deferred event keeps its body, to be applied later.
    add column deferred_event jsonb,
    add column resolved_at timestamptz;

create index ingest_deliveries_deferred
    on ops.ingest_deliveries (project_id, occurred_at, webhook_id)
    where deferred_event is not null and resolved_at is null;

-- Applies one event to its project and says what happened. Called with the
-- project's advisory lock held.
create function ops.apply_project_event(p_webhook_id text, p_event jsonb, p_occurred_at timestamptz)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_type    text := p_event ->> 'event_type';
    v_id      text := p_event ->> 'project_id';
    v_project ops.projects%rowtype;
begin
    select * into v_project from ops.projects where project_id = v_id for update;

    if v_type in ('project_created', 'project_updated') then
        if not found then
            insert into ops.projects (project_id, name, odoo_version, described_at, described_by)
            values (v_id, p_event ->> 'name', p_event ->> 'odoo_version', p_occurred_at, p_webhook_id);
            return '{"result":"applied","effect":"created"}'::jsonb;
        end if;
        if v_project.deleted_at is not null
           or (p_occurred_at, p_webhook_id) <= (v_project.described_at, v_project.described_by) then
            return '{"result":"stale"}'::jsonb;
        end if;
        update ops.projects
           set name = p_event ->> 'name',
               odoo_version = p_event ->> 'odoo_version',
               described_at = p_occurred_at,
               described_by = p_webhook_id
         where project_id = v_id;
        return '{"result":"applied","effect":"updated"}'::jsonb;
    end if;

    if v_type not in ('project_archived', 'project_unarchived', 'project_deleted') then
        raise exception 'ops.apply_project_event: unknown event type %', v_type
            using errcode = '22023';
    end if;
    if not found then
        return '{"result":"deferred"}'::jsonb;
    end if;
    if v_project.deleted_at is not null then
        return '{"result":"stale"}'::jsonb;
    end if;
    if v_type = 'project_deleted' then
        update ops.projects set deleted_at = p_occurred_at where project_id = v_id;
        return '{"result":"applied","effect":"deleted"}'::jsonb;
    end if;
    if v_project.activity_at is not null
       and (p_occurred_at, p_webhook_id) <= (v_project.activity_at, v_project.activity_by) then
        return '{"result":"stale"}'::jsonb;
    end if;
    update ops.projects
       set active = (v_type = 'project_unarchived'),
           activity_at = p_occurred_at,
           activity_by = p_webhook_id
     where project_id = v_id;
    return jsonb_build_object('result', 'applied', 'effect',
        case v_type when 'project_archived' then 'archived' else 'unarchived' end);
end;
$$;

revoke all on function ops.apply_project_event(text, jsonb, timestamptz) from public;

-- One delivery, in one transaction: claim its webhook id (a lock on it, then
-- a look in the ledger), apply its event, record it in the ledger with its
-- outcome, then apply any deferred events the event made applicable.
--   {"result":"applied","effect":...} | {"result":"stale"} | {"result":"deferred"}
--   {"result":"conflict"}      the id was used with another body
--   {..., "replayed": true}    the same delivery was handled before
--   {..., "identity": {...}}   user events: whose links to decide again
-- Project events take the project's lock and the project lifecycle
-- (ops.apply_project_event); user events take their instance's lock and
-- ops.apply_user_event (20261202020000_ingest_user_events.sql; plpgsql
-- resolves a call when it runs, so the function may come later).
create function ops.ingest_event(
    p_webhook_id text, p_body_sha256 text, p_event jsonb, p_occurred_at timestamptz)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_type       text := p_event ->> 'event_type';
    v_project_id text := p_event ->> 'project_id';
    v_instance   text := p_event ->> 'odoo_instance';
    v_key        text;
    v_previous   ops.ingest_deliveries%rowtype;
    v_outcome    jsonb;
    v_applied    jsonb;
    v_more       jsonb;
    v_deferred   record;
begin
    -- The id first: every delivery of one id, whatever its body or subject,
    -- waits here for the one before it, then finds the id taken and answers
    -- as a replay (or a conflict). Then the project or the instance: its
    -- events apply one at a time. Always in this order, and never a project
    -- and an instance together, so two deliveries cannot deadlock.
    perform pg_advisory_xact_lock(hashtextextended('ops.ingest_deliveries:' || p_webhook_id, 0));
    select * into v_previous from ops.ingest_deliveries where webhook_id = p_webhook_id;
    if found then
        if v_previous.body_sha256 <> p_body_sha256 then
            return '{"result":"conflict"}'::jsonb;
        end if;
        return v_previous.outcome || '{"replayed":true}';
    end if;

    if v_type in ('user_created', 'user_updated', 'user_archived', 'user_unarchived', 'user_deleted') then
        v_key := 'odoo-user:' || v_instance || ':' || (p_event ->> 'odoo_user_id');
        perform pg_advisory_xact_lock(hashtextextended('ops.odoo_users:' || v_instance, 0));
        v_applied := ops.apply_user_event(p_webhook_id, p_event, p_occurred_at);
        v_outcome := v_applied - 'identity' - 'released';
        if v_applied ? 'identity' then
            v_outcome := v_outcome || jsonb_build_object('identity',
                jsonb_build_object('odoo_instance', v_instance) || (v_applied -> 'identity'));
        end if;
        insert into ops.ingest_deliveries
            (webhook_id, body_sha256, event_type, project_id, outcome, occurred_at, deferred_event)
        values (p_webhook_id, p_body_sha256, v_type, v_key, v_outcome, p_occurred_at,
                case when v_outcome ->> 'result' = 'deferred' then p_event end);

        -- What was waiting for this user, or for the login it freed. The
        -- ledger row above is rewritten only when that changed someone.
        v_more := ops.apply_deferred_user_events(
            v_instance, array[v_key], array_remove(array[v_applied ->> 'released'], null));
        if jsonb_array_length(v_more -> 'keys') > 0 or jsonb_array_length(v_more -> 'auth_user_ids') > 0 then
            v_outcome := v_outcome || jsonb_build_object('identity', jsonb_build_object(
                'odoo_instance', v_instance,
                'keys', to_jsonb(array(
                    select distinct k collate "C" from (
                        select jsonb_array_elements_text(v_outcome -> 'identity' -> 'keys')
                        union all
                        select jsonb_array_elements_text(v_more -> 'keys')) as u (k)
                     order by 1)),
                'auth_user_ids', to_jsonb(array(
                    select distinct a collate "C" from (
                        select jsonb_array_elements_text(v_outcome -> 'identity' -> 'auth_user_ids')
                        union all
                        select jsonb_array_elements_text(v_more -> 'auth_user_ids')) as u (a)
                     order by 1))));
            update ops.ingest_deliveries set outcome = v_outcome where webhook_id = p_webhook_id;
        end if;
        return v_outcome;
    end if;

    perform pg_advisory_xact_lock(hashtextextended('ops.projects:' || v_project_id, 0));

    -- The ledger row is written once, with its outcome: under the id's lock
    -- no other delivery of the id can be in between.
    v_outcome := ops.apply_project_event(p_webhook_id, p_event, p_occurred_at);
    insert into ops.ingest_deliveries
        (webhook_id, body_sha256, event_type, project_id, outcome, occurred_at, deferred_event)
    values (p_webhook_id, p_body_sha256, p_event ->> 'event_type', v_project_id, v_outcome, p_occurred_at,
            case when v_outcome ->> 'result' = 'deferred' then p_event end);

    -- The project may exist now: apply what was waiting for it, in order.
    if v_outcome ->> 'effect' = 'created' then
        for v_deferred in
            select webhook_id, deferred_event, occurred_at
              from ops.ingest_deliveries
             where project_id = v_project_id
               and deferred_event is not null
               and resolved_at is null
             order by occurred_at, webhook_id
        loop
            perform ops.apply_project_event(
                v_deferred.webhook_id, v_deferred.deferred_event, v_deferred.occurred_at);
            update ops.ingest_deliveries
               set resolved_at = now()
             where webhook_id = v_deferred.webhook_id;
        end loop;
    end if;
    return v_outcome;
end;
$$;

revoke all on function ops.ingest_event(text, text, jsonb, timestamptz) from public;
grant execute on function ops.ingest_event(text, text, jsonb, timestamptz) to service_role;
