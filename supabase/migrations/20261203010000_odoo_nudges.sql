-- Odoo's native webhook as a nudge: an Odoo 19 automation rule ("Send
-- Webhook Notification") posts `{"_model", "_id", …}` to ops-odoo-nudge,
-- unsigned, once, with a one-second timeout. The payload is only a hint:
-- the function queues the id here and, at most once a second per instance
-- and model, re-reads the queued ids from Odoo through the wrapper
-- (ops.reconcile_read and ops.reconcile_read_users by primary key) and
-- applies them as the reconcile does. A forged or stale nudge can cause a
-- re-read, nothing more; a flood is coalesced per record and capped per
-- instance, so that Odoo's database sees at most one read per model per
-- instance per second, of at most 1,000 ids. Only new objects.

-- The queue: one row per record nudged and not yet re-read. A record
-- nudged again before its re-read is one row (`nudges` counts the
-- nudges, so that a re-read that began before the last nudge does not
-- drop it).
create table ops_private.odoo_nudges (
    odoo_instance  text not null
        constraint odoo_nudges_instance_valid check (ops.is_valid_environment(odoo_instance)),
    subject        text not null
        constraint odoo_nudges_subject_valid check (subject in ('projects', 'users')),
    odoo_id        bigint not null
        constraint odoo_nudges_id_positive check (odoo_id > 0),
    nudged_at      timestamptz not null default now(),
    nudges         integer not null default 1,
    -- The invocation re-reading it, since when, and at how many nudges.
    claimed_by     text,
    claimed_at     timestamptz,
    claimed_nudges integer,
    primary key (odoo_instance, subject, odoo_id),
    constraint odoo_nudges_claim_complete
        check ((claimed_by is null) = (claimed_at is null) and (claimed_by is null) = (claimed_nudges is null))
);
alter table ops_private.odoo_nudges enable row level security;
grant select, insert, update, delete on ops_private.odoo_nudges to service_role;

comment on table ops_private.odoo_nudges is
    'The records Odoo''s webhook nudged, per instance and model, waiting for ops-odoo-nudge to re-read them from Odoo.';

-- When each instance's model was last read for nudges: the rate bound.
create table ops_private.odoo_nudge_reads (
    odoo_instance text not null
        constraint odoo_nudge_reads_instance_valid check (ops.is_valid_environment(odoo_instance)),
    subject       text not null
        constraint odoo_nudge_reads_subject_valid check (subject in ('projects', 'users')),
    read_at       timestamptz not null,
    primary key (odoo_instance, subject)
);
alter table ops_private.odoo_nudge_reads enable row level security;
grant select, insert, update, delete on ops_private.odoo_nudge_reads to service_role;

comment on table ops_private.odoo_nudge_reads is
    'When ops-odoo-nudge last re-read each Odoo instance''s model: at most one read per p_interval_ms.';

-- ---------------------------------------------------------------------------
-- One nudge: queues (p_subject, p_id) of p_instance, unless the queue holds
-- p_cap records of that instance already (then the hourly reconcile, which
-- reads by write_date, repairs the record), and claims for p_holder what is
-- due to be re-read: per model whose last read is p_interval_ms old or
-- more, up to p_batch queued ids, oldest nudge first, skipping those another
-- invocation claimed less than p_claim_seconds ago. p_subject and p_id null
-- only claim. Project nudges count only from the instance the projects come
-- from (ops_private.odoo_instances): from another, a re-read would take the
-- control plane's projects from the wrong Odoo. Returns
--   {"configured": bool, "queued": bool, "full": bool, "ignored": text|null,
--    "claims": [{"subject", "ids": [id, ...]}]}
-- with `configured` false, and nothing done, for an instance not configured.
create function ops.nudge_odoo(
    p_instance text, p_subject text, p_id bigint, p_holder text,
    p_cap integer, p_interval_ms integer, p_batch integer, p_claim_seconds integer)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_source  boolean;
    v_queued  boolean := false;
    v_full    boolean := false;
    v_ignored text;
    v_claims  jsonb := '[]'::jsonb;
    v_subject text;
    v_ids     bigint[];
begin
    if p_instance is null or not ops.is_valid_environment(p_instance) then
        raise exception 'ops.nudge_odoo: p_instance: expected dev, staging or prod, got %',
            coalesce(pg_catalog.quote_literal(p_instance), 'null') using errcode = '22023';
    end if;
    if (p_subject is null) <> (p_id is null)
       or p_subject not in ('projects', 'users') or p_id < 1 then
        raise exception 'ops.nudge_odoo: p_subject and p_id: expected projects or users and an id, or both null, got % and %',
            coalesce(pg_catalog.quote_literal(p_subject), 'null'), coalesce(p_id::text, 'null')
            using errcode = '22023';
    end if;
    if p_holder is null or p_cap is null or p_cap < 1 or p_interval_ms is null or p_interval_ms < 0
       or p_batch is null or p_batch < 1 or p_claim_seconds is null or p_claim_seconds < 1 then
        raise exception 'ops.nudge_odoo: p_holder, p_cap, p_interval_ms, p_batch and p_claim_seconds are required and positive'
            using errcode = '22023';
    end if;

    select i.projects_source into v_source
      from ops_private.odoo_instances i where i.odoo_instance = p_instance;
    if not found then
        return '{"configured": false}';
    end if;

    if p_subject = 'projects' and not v_source then
        v_ignored := 'the control plane''s projects come from another Odoo instance';
    elsif p_subject is not null then
        -- The cap is counted and kept under the instance's queue lock.
        perform pg_advisory_xact_lock(pg_catalog.hashtextextended('ops.odoo_nudges:' || p_instance, 0));
        update ops_private.odoo_nudges n
           set nudged_at = now(), nudges = n.nudges + 1
         where n.odoo_instance = p_instance and n.subject = p_subject and n.odoo_id = p_id;
        if found then
            v_queued := true;
        elsif (select count(*) from ops_private.odoo_nudges n where n.odoo_instance = p_instance) >= p_cap then
            v_full := true;
        else
            insert into ops_private.odoo_nudges (odoo_instance, subject, odoo_id)
            values (p_instance, p_subject, p_id);
            v_queued := true;
        end if;
    end if;

    foreach v_subject in array case when v_source then array['projects', 'users'] else array['users'] end loop
        continue when not exists (
            select from ops_private.odoo_nudges n
             where n.odoo_instance = p_instance and n.subject = v_subject
               and (n.claimed_at is null or n.claimed_at < now() - make_interval(secs => p_claim_seconds)));
        -- The rate bound: this model's read slot, taken only if the last
        -- read is old enough; a concurrent taker waits on the row, then
        -- finds it taken.
        insert into ops_private.odoo_nudge_reads as r (odoo_instance, subject, read_at)
        values (p_instance, v_subject, clock_timestamp())
        on conflict (odoo_instance, subject) do update
            set read_at = excluded.read_at
            where r.read_at <= excluded.read_at - make_interval(secs => p_interval_ms / 1000.0);
        continue when not found;
        with due as (
            select n.odoo_id
              from ops_private.odoo_nudges n
             where n.odoo_instance = p_instance and n.subject = v_subject
               and (n.claimed_at is null or n.claimed_at < now() - make_interval(secs => p_claim_seconds))
             order by n.nudged_at, n.odoo_id
             limit p_batch
               for update skip locked
        ), claimed as (
            update ops_private.odoo_nudges n
               set claimed_by = p_holder, claimed_at = now(), claimed_nudges = n.nudges
              from due
             where n.odoo_instance = p_instance and n.subject = v_subject and n.odoo_id = due.odoo_id
            returning n.odoo_id
        )
        select array_agg(c.odoo_id order by c.odoo_id) into v_ids from claimed c;
        if v_ids is not null then
            v_claims := v_claims || jsonb_build_object('subject', v_subject, 'ids', to_jsonb(v_ids));
        end if;
    end loop;

    return jsonb_build_object('configured', true, 'queued', v_queued, 'full', v_full,
                              'ignored', v_ignored, 'claims', v_claims)::text;
end;
$$;

comment on function ops.nudge_odoo(text, text, bigint, text, integer, integer, integer, integer) is
    'Queues one nudge of Odoo''s webhook, coalesced and capped, and claims what is due to be re-read, at most once per interval per model.';

-- After p_holder's re-read of p_ids: p_read true, the ids read and applied
-- leave the queue, except those nudged again since the claim (their change
-- may be newer than the read), which wait for the next read; p_read false
-- (Odoo was away), every claim is let go, to be read again. Returns how many
-- left the queue.
create function ops.nudge_odoo_done(
    p_instance text, p_subject text, p_holder text, p_ids bigint[], p_read boolean)
returns integer
language sql
set search_path = ''
begin atomic
    with gone as (
        delete from ops_private.odoo_nudges n
         where p_read
           and n.odoo_instance = p_instance and n.subject = p_subject
           and n.claimed_by = p_holder and n.odoo_id = any (p_ids)
           and n.nudges = n.claimed_nudges
        returning 1
    ), released as (
        update ops_private.odoo_nudges n
           set claimed_by = null, claimed_at = null, claimed_nudges = null
         where n.odoo_instance = p_instance and n.subject = p_subject
           and n.claimed_by = p_holder and n.odoo_id = any (p_ids)
           and not (p_read and n.nudges = n.claimed_nudges)
        returning 1
    )
    -- Both statements run whether or not their rows are read.
    select count(*)::integer from gone;
end;

revoke all on function
    ops.nudge_odoo(text, text, bigint, text, integer, integer, integer, integer),
    ops.nudge_odoo_done(text, text, text, bigint[], boolean)
    from public;
grant execute on function
    ops.nudge_odoo(text, text, bigint, text, integer, integer, integer, integer),
    ops.nudge_odoo_done(text, text, text, bigint[], boolean)
    to service_role;
