-- Backups (metadata; the dumps live in S3) and approvals (the audit record of
-- who allowed what).

-- ---------------------------------------------------------------------------
-- Backups.
--
-- Like artifacts, a backup outlives the run that made it (monthly backups
-- are kept a year, runs 90 days): deleting the run only clears run_id.
create table ops.backups (
    backup_id    uuid primary key default gen_random_uuid(),
    project_id   text not null
        references ops.projects (project_id) on delete restrict,
    run_id       text,
    kind         text not null
        constraint backups_kind_valid check (ops.is_valid_backup_kind(kind)),
    environment  text not null
        constraint backups_environment_valid check (ops.is_valid_environment(environment)),
    storage_path text not null
        constraint backups_storage_path_s3 check (ops.is_valid_s3_uri(storage_path))
        constraint backups_storage_path_key unique,
    size_bytes   bigint not null
        constraint backups_size_bytes_nonnegative check (size_bytes >= 0),
    digest       text not null
        constraint backups_digest_format check (ops.is_valid_digest(digest)),
    created_at   timestamptz not null default now(),
    constraint backups_run_fk foreign key (run_id, project_id)
        references ops.runs (run_id, project_id) on delete set null (run_id)
);
alter table ops.backups enable row level security;

comment on table ops.backups is
    'Backup metadata (daily, weekly, monthly) of a project environment; the dumps live in S3.';

-- Console: a project's backups, newest first (and "the latest prod backup").
create index backups_project_created_idx on ops.backups (project_id, environment, created_at desc);
-- Cleanup: backups of a kind older than its retention.
create index backups_kind_created_idx on ops.backups (kind, created_at) include (project_id);
-- The run's backups, for its foreign key's SET NULL when cleanup deletes it.
create index backups_run_idx on ops.backups (run_id, project_id) where run_id is not null;

grant select, insert, update, delete on ops.backups to service_role;
grant select on ops.backups to authenticated;

create policy backups_read on ops.backups
    for select to authenticated
    using (project_id in (select ops_private.member_project_ids('project.read')));

-- ---------------------------------------------------------------------------
-- Approvals: kept forever (an audit requirement). A request is made once;
-- it is decided once; after that the row never changes and is never deleted,
-- by anyone: grants keep the API roles out, and triggers hold for
-- service_role and the table owner too. Only a superuser who disables the
-- triggers (session_replication_role = replica, or ALTER TABLE ... DISABLE
-- TRIGGER) can get around them, and that is visible in the database logs.
--
-- run_id is not a foreign key on purpose: runs are deleted after their
-- retention (archived to S3 first), and the approval must outlive the run it
-- approved. That the run exists in the approval's project is checked when
-- the approval is requested.
create table ops.approvals (
    approval_id   uuid primary key default gen_random_uuid(),
    project_id    text not null
        references ops.projects (project_id) on delete restrict,
    run_id        text not null
        constraint approvals_run_id_format check (ops.is_valid_run_id(run_id)),
    status        text not null default 'pending'
        constraint approvals_status_valid check (ops.is_valid_approval_status(status)),
    requested_by  text not null
        constraint approvals_requested_by_format check (ops.is_valid_created_by(requested_by)),
    requested_at  timestamptz not null default now(),
    request_note  text
        constraint approvals_request_note_length check (char_length(request_note) <= 2000),
    decided_by    text
        constraint approvals_decided_by_format check (ops.is_valid_created_by(decided_by)),
    decided_at    timestamptz,
    decision_note text
        constraint approvals_decision_note_length check (char_length(decision_note) <= 2000),
    -- Decided exactly when it has a decider and a time.
    constraint approvals_decision_complete check (
        (status = 'pending') = (decided_by is null)
        and (status = 'pending') = (decided_at is null)),
    -- Four eyes: nobody approves their own request.
    constraint approvals_not_self_decided check (decided_by <> requested_by),
    constraint approvals_decided_after_request check (decided_at >= requested_at)
);
alter table ops.approvals enable row level security;

comment on table ops.approvals is
    'Approval requests and decisions for runs; immutable once decided and never deleted (audit).';

-- One open request per run.
create unique index approvals_pending_run_key on ops.approvals (run_id) where status = 'pending';
-- Console: a project's approvals, newest first; and "what was decided for this run".
create index approvals_project_requested_idx on ops.approvals (project_id, requested_at desc);
create index approvals_run_idx on ops.approvals (run_id);

create function ops.approvals_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        if new.status <> 'pending' or new.decided_by is not null or new.decided_at is not null then
            raise exception 'an approval is requested first and decided afterwards'
                using errcode = '23514';
        end if;
        return new;
    elsif tg_op = 'UPDATE' then
        if old.status <> 'pending' then
            raise exception 'approval % was % and is immutable', old.approval_id, old.status
                using errcode = '42501',
                      hint = 'a decided approval is an audit record; request a new approval instead';
        end if;
        if (new.approval_id, new.project_id, new.run_id, new.requested_by, new.requested_at, new.request_note)
           is distinct from
           (old.approval_id, old.project_id, old.run_id, old.requested_by, old.requested_at, old.request_note)
        then
            raise exception 'approval %: only the decision may be recorded', old.approval_id
                using errcode = '42501';
        end if;
        if new.status <> 'pending' and new.decided_at is null then
            new.decided_at := now();
        end if;
        return new;
    else
        raise exception 'approvals are never deleted (audit requirement)'
            using errcode = '42501';
    end if;
end;
$$;
revoke all on function ops.approvals_guard() from public;

create trigger approvals_guard
    before insert or update or delete on ops.approvals
    for each row execute function ops.approvals_guard();

-- Whether the run exists, holding a key-share lock on it to the end of the
-- transaction, as a foreign key's check would. Cleanup locks a batch's runs
-- before it decides which of them an approval keeps (ops.cleanup_commit), so
-- a request for one of them either waits for that decision and then finds
-- the run gone, or is seen by it and keeps the run. Security definer: the
-- lock would otherwise need the requester's UPDATE right on ops.runs, which
-- a member who may request but not cancel does not pass.
create function ops_private.run_exists_locked(p_run_id text, p_project_id text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform 1 from ops.runs r
     where r.run_id = p_run_id and r.project_id = p_project_id
       for key share of r;
    return found;
end;
$$;
revoke all on function ops_private.run_exists_locked(text, text) from public;
grant execute on function ops_private.run_exists_locked(text, text) to authenticated, service_role;

-- The requested run must be a run of the approval's project. Checked AFTER
-- the row passed the policies' WITH CHECK (BEFORE triggers run ahead of it),
-- and as the invoker, so that a non-member is refused before anything tells
-- them which runs exist in a project they cannot see.
create function ops.approvals_run_exists()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    -- First as the invoker (see above), then under the run's lock (see
    -- ops_private.run_exists_locked).
    if not exists (select from ops.runs r
                   where r.run_id = new.run_id and r.project_id = new.project_id)
       or not ops_private.run_exists_locked(new.run_id, new.project_id) then
        raise exception 'run % is not a run of project %', new.run_id, new.project_id
            using errcode = '23503';
    end if;
    return null;
end;
$$;
revoke all on function ops.approvals_run_exists() from public;

create trigger approvals_run_exists
    after insert on ops.approvals
    for each row execute function ops.approvals_run_exists();

create trigger approvals_no_truncate
    before truncate on ops.approvals
    for each statement execute function ops.approvals_guard();

-- No DELETE and no TRUNCATE for anyone.
grant select, insert, update on ops.approvals to service_role;
grant select on ops.approvals to authenticated;
grant insert (project_id, run_id, requested_by, request_note),
      update (status, decided_by, decision_note)
    on ops.approvals to authenticated;

create policy approvals_read on ops.approvals
    for select to authenticated
    using (project_id in (select ops_private.member_project_ids('project.read')));

-- A member who may request approvals asks in their own name.
create policy approvals_request on ops.approvals
    for insert to authenticated
    with check (project_id in (select ops_private.member_project_ids('approval.request'))
                and requested_by = (select auth.uid())::text
                and status = 'pending');

-- A member who may decide decides an open request, in their own name.
create policy approvals_decide on ops.approvals
    for update to authenticated
    using (project_id in (select ops_private.member_project_ids('approval.decide'))
           and status = 'pending')
    with check (project_id in (select ops_private.member_project_ids('approval.decide'))
                and decided_by = (select auth.uid())::text
                and status in ('approved', 'rejected'));
