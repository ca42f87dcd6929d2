-- The control plane's first table: the projects Odoo tells us about, and the
-- ledger of deliveries that makes ingest exactly-once.
--
-- Odoo is the system of record for projects; a row here mirrors one Odoo
-- `project.project` by its external id (`odoo-<id>`), never by a foreign key
-- into Odoo's database.

create schema if not exists ops;

-- Nothing in ops is reachable by default: access is granted table by table,
-- and row level security decides which rows.
revoke all on schema ops from public;
grant usage on schema ops to service_role;

create table ops.projects (
    project_id   text primary key
        constraint projects_project_id_format check (project_id ~ '^odoo-[1-9][0-9]{0,17}$'),
    name         text not null
        constraint projects_name_length check (char_length(name) between 1 and 255 and btrim(name) <> '')
        constraint projects_name_printable check (name !~ '[[:cntrl:]]'),
    odoo_version text not null
        constraint projects_odoo_version_format check (odoo_version ~ '^(saas~)?[0-9]{1,3}\.[0-9]{1,2}$'),
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);
alter table ops.projects enable row level security;

comment on table ops.projects is
    'Projects mirrored from Odoo (the system of record), keyed by external id odoo-<id>.';

-- One row per accepted webhook delivery: the idempotency key is the
-- Standard Webhooks `webhook-id`; the body digest tells an honest retry
-- (same body) from a reused id (different body).
create table ops.ingest_deliveries (
    webhook_id   text primary key
        constraint ingest_deliveries_webhook_id_length check (char_length(webhook_id) between 1 and 255),
    body_sha256  text not null
        constraint ingest_deliveries_body_sha256_format check (body_sha256 ~ '^[0-9a-f]{64}$'),
    event_type   text not null,
    project_id   text not null,
    outcome      jsonb not null,
    received_at  timestamptz not null default now()
);
alter table ops.ingest_deliveries enable row level security;

comment on table ops.ingest_deliveries is
    'Ledger of applied ops-ingest deliveries, keyed by webhook-id, for exactly-once effect.';

grant select, insert, update, delete on ops.projects, ops.ingest_deliveries to service_role;

-- Applies one validated event in one transaction and says what happened:
--   {"result":"applied","created":bool}   the event took effect now;
--   {"result":"replayed","created":bool}  the same delivery was applied before;
--   {"result":"conflict"}                 the id was used with another body.
-- The function is the only writer of ingest, so a delivery and its effect
-- commit together or not at all.
create function ops.ingest_event(p_webhook_id text, p_body_sha256 text, p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_event_type text := p_event ->> 'event_type';
    v_project_id text := p_event ->> 'project_id';
    v_previous   ops.ingest_deliveries%rowtype;
    v_created    boolean;
    v_outcome    jsonb;
begin
    -- Claim the id first. A concurrent delivery of the same id waits here on
    -- the primary key until this transaction ends, then sees it as a replay.
    insert into ops.ingest_deliveries (webhook_id, body_sha256, event_type, project_id, outcome)
    values (p_webhook_id, p_body_sha256, v_event_type, v_project_id, '{}'::jsonb)
    on conflict (webhook_id) do nothing;

    if not found then
        select * into strict v_previous
        from ops.ingest_deliveries
        where webhook_id = p_webhook_id;
        if v_previous.body_sha256 <> p_body_sha256 then
            return jsonb_build_object('result', 'conflict');
        end if;
        return jsonb_set(v_previous.outcome, '{result}', '"replayed"');
    end if;

    case v_event_type
    when 'project_created' then
        -- Odoo is authoritative: a project_created for a project we already
        -- know brings our copy back to what Odoo says.
        insert into ops.projects as p (project_id, name, odoo_version)
        values (v_project_id, p_event ->> 'name', p_event ->> 'odoo_version')
        on conflict (project_id) do update
            set name = excluded.name,
                odoo_version = excluded.odoo_version,
                updated_at = now()
        returning (xmax = 0) into v_created;
    else
        raise exception 'ops.ingest_event: unknown event type %', v_event_type
            using errcode = '22023';
    end case;

    v_outcome := jsonb_build_object('result', 'applied', 'created', v_created);
    update ops.ingest_deliveries set outcome = v_outcome where webhook_id = p_webhook_id;
    return v_outcome;
end;
$$;

revoke all on function ops.ingest_event(text, text, jsonb) from public;
grant execute on function ops.ingest_event(text, text, jsonb) to service_role;
