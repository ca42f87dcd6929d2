-- A project Odoo archived or deleted takes no new work: no new runs, no new
-- approval requests. Work already queued finishes or is cancelled as usual,
-- and everything recorded stays readable. Unarchiving in Odoo reopens the
-- project. This holds for service_role too: a worker must not deploy a
-- project that no longer exists in the system of record.
--
-- A restore puts back a run of a project that Odoo may have archived or
-- deleted since: that is history, not new work. ops.cleanup_restore_runs
-- (20261126020100_cleanup_restore_schedule) sets ops.restoring for its own
-- inserts only (and resets it before it returns), and the bypass covers runs
-- only, never approval requests. Setting the flag by hand needs a SQL
-- session that may insert runs, i.e. service_role or the owner, who can
-- reopen a project anyway; the API roles cannot set it.
create function ops.refuse_work_on_closed_projects()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    v_active     boolean;
    v_deleted_at timestamptz;
begin
    if tg_argv[0] = 'runs' and current_setting('ops.restoring', true) = 'on' then
        return new;
    end if;
    select active, deleted_at into v_active, v_deleted_at
      from ops.projects
     where project_id = new.project_id;
    if v_deleted_at is not null then
        raise exception 'project %: deleted in Odoo; it takes no new %', new.project_id, tg_argv[0]
            using errcode = '23514';
    end if;
    if v_active is false then
        raise exception 'project %: archived in Odoo; unarchive it there to add %', new.project_id, tg_argv[0]
            using errcode = '23514';
    end if;
    return new;
end;
$$;
revoke all on function ops.refuse_work_on_closed_projects() from public;

create trigger runs_project_open
    before insert on ops.runs
    for each row execute function ops.refuse_work_on_closed_projects('runs');

create trigger approvals_project_open
    before insert on ops.approvals
    for each row execute function ops.refuse_work_on_closed_projects('approval requests');
