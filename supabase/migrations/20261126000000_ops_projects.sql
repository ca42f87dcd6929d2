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

-- Ingest writes both tables through one function, ops.ingest_event, so a
-- delivery and its effect commit together or not at all. It is defined with
-- the project lifecycle it applies (20261126010000_ingest_project_lifecycle).
