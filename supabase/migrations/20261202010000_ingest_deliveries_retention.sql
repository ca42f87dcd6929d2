-- The ingest ledger's retention: ops.ingest_deliveries no longer grows by
-- one row per delivery forever.
--
-- A ledger row is what answers a redelivery of its webhook-id as a replay
-- (200, `idempotent-replayed: true`) instead of applying it again, so it must
-- outlive every retry of its sender. Standard Webhooks senders retry for
-- days: Svix's schedule ends about 28 hours after the first attempt,
-- Stripe's after 3 days. The default is 30 days: ten times the longest
-- automatic schedule, and room for a sender's operator to replay a failed
-- delivery by hand after a long outage. The rule is configurable in
-- ops.retention_policies (target `ingest_deliveries`), for all projects at
-- once (the sender retries on one schedule for every project), and never
-- shorter than 7 days, or a late retry would take effect a second time.
-- Days count from `received_at`, the first delivery.
--
-- A deferred event (an archive, unarchive or delete that arrived before its
-- project) keeps its body in the ledger until its project arrives. Until it
-- is applied (`resolved_at`) it stays, whatever its age: it is the only copy
-- of that change. Once applied it is an ordinary row.
--
-- ops-cleanup applies the rule like the others, archive first: the planner
-- (Rust) picks the rows, they are written one NDJSON line each into gzip
-- objects `ingest_deliveries/<yyyy>/<mm>/<sha256>.ndjson.gz`, read back and
-- verified, then ops.cleanup_commit records the archives and deletes exactly
-- the archived rows whose row version is still the one read (an event
-- applied in between has a new version and stays for the next run). Those
-- two functions, and the rule ops.is_valid_retention, are defined once, in
-- the migrations that first create them (20261126020000_cleanup,
-- 20261126000100_ops_rules); this one changes only the tables.

alter table ops.retention_policies
    add constraint retention_policies_ingest_deliveries_global
        check (target <> 'ingest_deliveries' or project_id is null);

insert into ops.retention_policies (project_id, target, class, retain_days)
values (null, 'ingest_deliveries', null, 30);

comment on table ops.retention_policies is
    'How long cleanup keeps runs, run events, artifacts, backups and ingest deliveries; defaults (project_id null) and per-project overrides.';
comment on table ops.ingest_deliveries is
    'Ledger of applied ops-ingest deliveries, keyed by webhook-id, for exactly-once effect; kept per the ingest_deliveries retention policy, deferred events until applied.';

-- Archive records may hold ledger rows.
alter table ops.cleanup_archives
    drop constraint cleanup_archives_table_valid,
    add constraint cleanup_archives_table_valid
        check (archive_table in ('runs', 'run_events', 'artifacts', 'backups', 'ingest_deliveries'));

-- The ledger is read oldest first, a page at a time, in the planner's order.
create index ingest_deliveries_received_idx
    on ops.ingest_deliveries (received_at, webhook_id collate "C");
