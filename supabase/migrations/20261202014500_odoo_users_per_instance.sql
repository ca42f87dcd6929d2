-- The seed's rule 4, per Odoo instance: ops.odoo_users as first created
-- (20261126000200_ops_access.sql) allowed one Odoo instance per person and
-- one `admin` across all instances, and nothing ever wrote it. It is
-- replaced, empty, by one row per Odoo user of each instance, and the
-- admins' decisions get their own table.
drop table ops.odoo_users;

-- Identity mapping between Supabase users and Odoo users (the seed's rule 4),
-- per Odoo instance. One row per Odoo user of an instance, whether or not a
-- Supabase user is linked to it: the Odoo facts (login, email, active, share,
-- deleted) come from Odoo's events and the reconcile, and the link
-- (auth_user_id, link_how) is what crates/identity-map decided from them, the
-- Supabase users and the admins' decisions. One person may have a row in
-- each instance, and at most one per instance.
create table ops.odoo_users (
    odoo_instance   text not null
        constraint odoo_users_odoo_instance_valid check (ops.is_valid_environment(odoo_instance)),
    odoo_user_id    integer not null
        constraint odoo_users_odoo_user_id_positive check (odoo_user_id > 0),
    -- As Odoo stores it: Odoo does not lowercase or trim logins.
    odoo_login      text not null
        constraint odoo_users_odoo_login_format check (ops.is_valid_odoo_login(odoo_login)),
    -- The partner's email (res_partner.email), if any.
    odoo_email      text
        constraint odoo_users_odoo_email_length check (char_length(odoo_email) between 1 and 254),
    -- identity_map::match_key of the login and of the email, computed in
    -- Rust (Unicode full lowercase, which SQL's lower() is not), so that the
    -- candidates of a person are an index lookup.
    login_key       text not null,
    email_key       text,
    active          boolean not null default true,
    -- res_users.share: a portal or public user.
    share           boolean not null default false,
    -- Deleted in Odoo (a hard DELETE there). The row stays, so that a late
    -- event about the user cannot bring it back.
    deleted_at      timestamptz,
    -- When the row was last taken from Odoo (the event's occurred_at or a
    -- reconcile's write_date).
    odoo_changed_at timestamptz not null,
    -- The versions that order the user's events (ops.apply_user_event), one
    -- per part of the state, as ops.projects has them: the facts (login,
    -- email, share) and whether the user is active each take the value of
    -- the latest change Odoo made to them, ordered by (occurred_at, webhook
    -- id). One version for the whole row would lose changes: an archive
    -- dated before a login change that arrives after it would be stale, and
    -- the user would stay active although Odoo archived it. Existence needs
    -- none: deletion is final, and deleted_at is its date. Null means no
    -- event has set that part (the row was written whole, by a reconcile):
    -- odoo_changed_at is then the version of both.
    facts_at        timestamptz,
    facts_by        text,
    activity_at     timestamptz,
    activity_by     text,
    -- The link, as decided; null when the Odoo user is linked to no one.
    auth_user_id    uuid
        references auth.users (id) on delete set null,
    link_how        text
        constraint odoo_users_link_how_valid check (link_how in ('automatic', 'admin')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint odoo_users_pkey primary key (odoo_instance, odoo_user_id),
    constraint odoo_users_link_complete check ((auth_user_id is null) = (link_how is null)),
    -- A deleted Odoo user is linked to no one (identity-map, rule 5).
    constraint odoo_users_deleted_unlinked check (deleted_at is null or auth_user_id is null)
);
alter table ops.odoo_users enable row level security;

comment on table ops.odoo_users is
    'The Odoo users of each instance, and the Supabase user (auth.users.id) each is linked to, if any.';
comment on column ops.odoo_users.facts_at is
    'occurred_at of the event that set odoo_login, odoo_email and share; null: odoo_changed_at.';
comment on column ops.odoo_users.facts_by is
    'webhook-id of that event, which breaks ties between changes dated the same.';
comment on column ops.odoo_users.activity_at is
    'occurred_at of the event that set active; null: odoo_changed_at.';
comment on column ops.odoo_users.activity_by is
    'webhook-id of that event, which breaks ties between changes dated the same.';

-- Odoo's own rule (res_users_login_key), per instance; a deleted user's
-- login may be given to a new user.
create unique index odoo_users_instance_login_key
    on ops.odoo_users (odoo_instance, odoo_login) where deleted_at is null;
-- Within an instance, a person is at most one Odoo user.
create unique index odoo_users_instance_person_key
    on ops.odoo_users (odoo_instance, auth_user_id) where auth_user_id is not null;
-- The lookups of a person's candidates (ops.identity_neighbourhood).
create index odoo_users_login_key on ops.odoo_users (login_key);
create index odoo_users_email_key on ops.odoo_users (email_key) where email_key is not null;
create index odoo_users_auth_user_id on ops.odoo_users (auth_user_id) where auth_user_id is not null;

-- Deleting a Supabase user unlinks their Odoo users. The foreign key's
-- `on delete set null` sets auth_user_id alone (PostgreSQL sets only the
-- key's own columns), which would leave link_how behind and break
-- odoo_users_link_complete, failing the account's deletion. A link and its
-- how go together; only a link that goes is completed this way, so setting
-- a how on an Odoo user linked to no one is still refused.
create function ops_private.odoo_users_unlinked_has_no_how()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.auth_user_id is null and old.auth_user_id is not null then
        new.link_how := null;
    end if;
    return new;
end;
$$;
revoke all on function ops_private.odoo_users_unlinked_has_no_how() from public;

create trigger odoo_users_unlinked_has_no_how
    before update of auth_user_id on ops.odoo_users
    for each row execute function ops_private.odoo_users_unlinked_has_no_how();

create trigger odoo_users_touch_updated_at
    before update on ops.odoo_users
    for each row execute function ops.touch_updated_at();

grant select, insert, update, delete on ops.odoo_users to service_role;
grant select on ops.odoo_users to authenticated;

-- The seed's console query: a user reads their own rows, in every instance.
create policy odoo_users_read_own on ops.odoo_users
    for select to authenticated
    using (auth_user_id = (select auth.uid()));

-- An admin's explicit decision about one pair, which the automatic rules
-- never override (identity-map, rule 7). Written by service_role (the admin
-- tools); no one else reads it through the API.
create table ops.odoo_user_decisions (
    odoo_instance text not null,
    odoo_user_id  integer not null,
    auth_user_id  uuid not null
        references auth.users (id) on delete cascade,
    kind          text not null
        constraint odoo_user_decisions_kind_valid check (kind in ('link', 'unlink')),
    decided_by    uuid
        references auth.users (id) on delete set null,
    decided_at    timestamptz not null default now(),
    constraint odoo_user_decisions_pkey primary key (odoo_instance, odoo_user_id, auth_user_id),
    constraint odoo_user_decisions_odoo_user_fk foreign key (odoo_instance, odoo_user_id)
        references ops.odoo_users (odoo_instance, odoo_user_id) on delete cascade
);
alter table ops.odoo_user_decisions enable row level security;

comment on table ops.odoo_user_decisions is
    'Admins'' explicit links and unlinks of an Odoo user and a Supabase user.';

-- Decisions that contradict each other cannot be stored: one explicit link
-- per Odoo user, and per person within an instance.
create unique index odoo_user_decisions_one_link_per_odoo_user
    on ops.odoo_user_decisions (odoo_instance, odoo_user_id) where kind = 'link';
create unique index odoo_user_decisions_one_link_per_person
    on ops.odoo_user_decisions (odoo_instance, auth_user_id) where kind = 'link';
create index odoo_user_decisions_auth_user_id on ops.odoo_user_decisions (auth_user_id);
create index odoo_user_decisions_decided_by on ops.odoo_user_decisions (decided_by)
    where decided_by is not null;

grant select, insert, update, delete on ops.odoo_user_decisions to service_role;
