-- An Odoo 19 database for the local stack: the tables the control plane
-- reads through postgres_fdw, in the shape Odoo 19 gives them, with a little
-- sample data, and the read-only role the wrapper logs in as. A test
-- fixture, never a migration: on hosted Supabase, Odoo's database is
-- another server, which its own administrator runs.
--
-- Run by `cargo xtask` as `supabase_admin` right after the bootstrap, with
-- the psql variable `reader_password` (random per stack). It plays two
-- people: the PostgreSQL administrator of Odoo's server, who creates the
-- roles and the database, and then Odoo itself, which owns the database and
-- creates its tables. The reader's grants are made as the database owner,
-- as the README tells an Odoo administrator to make them.
--
-- The shapes are Odoo 19.0's, as its ORM makes them from the models
-- (project_project.py, project_task.py, res_users.py, res_partner.py,
-- account_move.py, ir_module.py) and `base_data.sql`: a translated field is
-- jsonb, a Datetime a timestamp without time zone, a Float without digits a
-- float8, a Monetary a numeric, a required field NOT NULL. The database has
-- `base`, `mail`, `portal`, `project` and `account` installed and
-- `hr_timesheet` not (so project_project has no allocated_hours;
-- project_task has its own). Not all of Odoo's columns are here, only those
-- of the fields the control plane may read, and none that Odoo lacks.
--
-- Odoo's ORM writes no SQL DEFAULT except for the tables `base_data.sql`
-- creates by hand (res_users.active, ir_module_module's booleans and
-- sequence), so a Boolean Odoo never wrote is NULL, which Odoo reads as
-- false: the ordinary projects' is_template below are NULL, as in a
-- database upgraded from 18.0. The foreign keys are those among these six
-- tables (Many2one: `set null`, or `restrict` when required or declared so),
-- added after the data, as Odoo adds them after it creates its tables.

-- Odoo's own database user, as Odoo's docs create it (`createuser -d -R -S`):
-- it may create databases and owns them; the password is the local stack's
-- throwaway one (Odoo's Docker image uses the same).
create role odoo with login createdb nocreaterole nosuperuser password 'odoo';
-- The wrapper's role: it logs in and nothing more; what it may read is
-- granted in the database below.
create role odoo_fdw_reader with login nocreatedb nocreaterole nosuperuser
  password :'reader_password';

create database odoo owner odoo template template0 encoding 'UTF8';

\connect odoo
set role odoo;

create table res_partner (
    id                      serial not null,
    name                    character varying,
    complete_name           character varying,
    active                  boolean,
    company_id              integer,
    parent_id               integer,
    commercial_partner_id   integer,
    email                   character varying,
    email_normalized        character varying,
    phone                   character varying,
    is_company              boolean,
    type                    character varying,
    partner_share           boolean,
    user_id                 integer,
    ref                     character varying,
    vat                     character varying,
    company_registry        character varying,
    website                 character varying,
    street                  character varying,
    street2                 character varying,
    zip                     character varying,
    city                    character varying,
    function                character varying,
    company_name            character varying,
    commercial_company_name character varying,
    lang                    character varying,
    tz                      character varying,
    state_id                integer,
    country_id              integer,
    partner_latitude        numeric,
    partner_longitude       numeric,
    comment                 text,
    barcode                 jsonb,
    properties              jsonb,
    color                   integer,
    create_uid              integer,
    create_date             timestamp without time zone,
    write_uid               integer,
    write_date              timestamp without time zone,
    primary key (id),
    constraint res_partner_check_name
        check ((type = 'contact' and name is not null) or (type != 'contact'))
);
create index res_partner_company_id_index on res_partner (company_id);

-- `base_data.sql` creates res_users with `active boolean default True` and
-- `password varchar default null`; the ORM then widens `login` to an
-- unbounded varchar. The password column holds a passlib hash.
create table res_users (
    id                serial not null,
    login             character varying not null,
    password          character varying default null,
    partner_id        integer not null,
    company_id        integer not null,
    active            boolean default true,
    share             boolean,
    signature         text,
    action_id         integer,
    notification_type character varying not null,
    create_uid        integer,
    create_date       timestamp without time zone,
    write_uid         integer,
    write_date        timestamp without time zone,
    primary key (id),
    constraint res_users_login_key unique (login)
);
create index res_users_partner_id_index on res_users (partner_id);

create table project_project (
    id                      serial not null,
    name                    jsonb not null,
    active                  boolean,
    sequence                integer,
    partner_id              integer,
    company_id              integer,
    account_id              integer,
    description             text,
    label_tasks             jsonb,
    user_id                 integer,
    alias_id                integer not null,
    privacy_visibility      character varying not null,
    date_start              date,
    date                    date,
    stage_id                integer,
    last_update_status      character varying not null,
    last_update_id          integer,
    is_template             boolean,
    access_token            character varying,
    color                   integer,
    allow_task_dependencies boolean,
    allow_milestones        boolean,
    allow_recurring_tasks   boolean,
    duration_tracking       jsonb,
    create_uid              integer,
    create_date             timestamp without time zone,
    write_uid               integer,
    write_date              timestamp without time zone,
    primary key (id),
    constraint project_project_project_date_greater check (date >= date_start)
);

create table project_task (
    id                     serial not null,
    name                   character varying not null,
    active                 boolean,
    description            text,
    priority               character varying,
    sequence               integer,
    stage_id               integer,
    state                  character varying not null,
    create_date            timestamp without time zone,
    write_date             timestamp without time zone,
    date_end               timestamp without time zone,
    date_assign            timestamp without time zone,
    date_deadline          timestamp without time zone,
    date_last_stage_update timestamp without time zone,
    project_id             integer,
    display_in_project     boolean,
    allocated_hours        double precision,
    partner_id             integer,
    email_from             character varying,
    email_cc               character varying,
    partner_phone          character varying,
    company_id             integer,
    parent_id              integer,
    milestone_id           integer,
    recurring_task         boolean,
    is_template            boolean,
    has_template_ancestor  boolean,
    task_properties        jsonb,
    color                  integer,
    access_token           character varying,
    create_uid             integer,
    write_uid              integer,
    primary key (id),
    constraint project_task_private_task_has_no_parent
        check (not (project_id is null and parent_id is not null)),
    constraint project_task_recurring_task_has_no_parent
        check (not (recurring_task is true and parent_id is not null))
);
create index project_task_create_date_index on project_task (create_date);
create index project_task_is_template_idx on project_task (is_template) where is_template is true;
-- Both Many2ones are declared with index=True (addons/project/models/
-- project_task.py), so a task's project and its sub-tasks are found by
-- index: the cache's counts, and deleting a project or a task, which checks
-- the tasks that refer to it.
create index project_task_project_id_index on project_task (project_id);
create index project_task_parent_id_index on project_task (parent_id);

create table account_move (
    id                                serial not null,
    name                              character varying,
    ref                               character varying,
    date                              date not null,
    state                             character varying not null,
    move_type                         character varying not null,
    journal_id                        integer not null,
    company_id                        integer,
    partner_id                        integer,
    commercial_partner_id             integer,
    currency_id                       integer not null,
    amount_untaxed                    numeric,
    amount_tax                        numeric,
    amount_total                      numeric,
    amount_residual                   numeric,
    amount_untaxed_signed             numeric,
    amount_tax_signed                 numeric,
    amount_total_signed               numeric,
    amount_residual_signed            numeric,
    amount_untaxed_in_currency_signed numeric,
    amount_total_in_currency_signed   numeric,
    invoice_currency_rate             numeric,
    payment_state                     character varying,
    invoice_date                      date,
    invoice_date_due                  date,
    auto_post                         character varying not null,
    posted_before                     boolean,
    made_sequence_gap                 boolean,
    checked                           boolean,
    sequence_prefix                   character varying,
    sequence_number                   integer,
    narration                         text,
    invoice_origin                    character varying,
    payment_reference                 character varying,
    invoice_partner_display_name      character varying,
    reversed_entry_id                 integer,
    origin_payment_id                 integer,
    statement_line_id                 integer,
    invoice_user_id                   integer,
    fiscal_position_id                integer,
    access_token                      character varying,
    message_main_attachment_id        integer,
    create_uid                        integer,
    create_date                       timestamp without time zone,
    write_uid                         integer,
    write_date                        timestamp without time zone,
    primary key (id)
);
create unique index account_move_unique_name on account_move (name, journal_id)
    where (state = 'posted' and name != '/');

-- As `base_data.sql` creates it, with the columns the ORM adds; the
-- translated Char and Text fields (shortdesc, summary, description) are
-- jsonb, `state` and `license` keep their bootstrap widths.
create table ir_module_module (
    id                serial not null,
    create_uid        integer,
    create_date       timestamp without time zone,
    write_date        timestamp without time zone,
    write_uid         integer,
    website           character varying,
    summary           jsonb,
    name              character varying not null,
    author            character varying,
    icon              character varying,
    state             character varying(16),
    latest_version    character varying,
    shortdesc         jsonb,
    category_id       integer,
    description       jsonb,
    application       boolean default false,
    demo              boolean default false,
    web               boolean default false,
    license           character varying(32),
    sequence          integer default 100,
    auto_install      boolean default false,
    to_buy            boolean default false,
    maintainer        character varying,
    contributors      text,
    published_version character varying,
    url               character varying,
    menus_by_module   text,
    reports_by_module text,
    views_by_module   text,
    primary key (id),
    constraint ir_module_module_name_uniq unique (name)
);

-- ---------------------------------------------------------------------------
-- Sample data. Times are naive UTC with microseconds, as Odoo's
-- `cr.now()` writes them (the transaction's start). Ids are given, and each
-- sequence restarts after them, so rows a developer adds get the next ids.

insert into res_partner
    (id, name, complete_name, active, company_id, parent_id, commercial_partner_id, email,
     email_normalized, is_company, type, partner_share, lang, tz, create_uid, create_date,
     write_uid, write_date) values
    (1, 'My Company', 'My Company', true, 1, null, 1, 'info@yourcompany.example.com',
     'info@yourcompany.example.com', true, 'contact', false, 'en_US', 'Europe/Brussels', 1,
     '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203'),
    (2, 'OdooBot', 'OdooBot', false, null, null, 2, 'odoobot@example.com',
     'odoobot@example.com', false, 'contact', false, 'en_US', null, 1,
     '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203'),
    (3, 'Administrator', 'Administrator', true, 1, null, 3, 'admin@example.com',
     'admin@example.com', false, 'contact', false, 'en_US', 'Europe/Brussels', 1,
     '2026-09-01 08:00:00.114203', 2, '2026-10-02 07:45:12.000311'),
    (4, 'Public user', 'Public user', false, 1, null, 4, null,
     null, false, 'contact', true, 'en_US', null, 1,
     '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203'),
    (5, 'Portal User Template', 'Portal User Template', false, 1, null, 5, null,
     null, false, 'contact', true, 'en_US', null, 1,
     '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203'),
    (6, 'Paula Portal', 'Paula Portal', true, 1, null, 6, 'Paula@Example.com',
     'paula@example.com', false, 'contact', true, 'en_US', null, 2,
     '2026-10-05 10:20:30.500001', 2, '2026-10-05 10:20:30.500001'),
    (7, 'Bruno Archived', 'Bruno Archived', false, 1, null, 7, 'bruno@example.com',
     'bruno@example.com', false, 'contact', false, 'fr_FR', 'Europe/Paris', 2,
     '2026-09-15 12:00:00.250000', 2, '2026-11-02 16:30:00.987654'),
    (8, 'Ana García', 'Ana García', true, 1, null, 8, 'ana@example.com',
     'ana@example.com', false, 'contact', false, 'es_ES', 'Europe/Madrid', 2,
     '2026-09-10 09:00:00.000001', 2, '2026-11-18 11:11:11.111111'),
    (9, 'Azure Interior', 'Azure Interior', true, 1, null, 9, 'azure.interior24@example.com',
     'azure.interior24@example.com', true, 'contact', true, 'en_US', null, 2,
     '2026-09-20 13:00:00.424242', 2, '2026-09-20 13:00:00.424242'),
    (10, 'Deco Addict', 'Deco Addict', true, 1, null, 10, 'deco.addict82@example.com',
     'deco.addict82@example.com', true, 'contact', true, 'en_US', null, 2,
     '2026-09-20 13:05:00.131313', 2, '2026-09-20 13:05:00.131313'),
    (11, 'Brandon Freeman', 'Azure Interior, Brandon Freeman', true, 1, 9, 9,
     'brandon.freeman55@example.com', 'brandon.freeman55@example.com', false, 'contact', true,
     'en_US', null, 2, '2026-09-20 13:10:00.777777', 2, '2026-09-20 13:10:00.777777');
alter sequence res_partner_id_seq restart with 12;

-- __system__ (the superuser, archived in every database), admin (every
-- database's first login), the public user and the portal template as
-- Odoo creates them; a portal user, an archived employee, and an employee
-- whose login keeps its capitals (Odoo stores logins as typed). The
-- password hashes are made up, there to show the reader cannot read them.
insert into res_users
    (id, login, password, partner_id, company_id, active, share, notification_type,
     create_uid, create_date, write_uid, write_date) values
    (1, '__system__', null, 2, 1, false, false, 'inbox',
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203'),
    (2, 'admin', '$pbkdf2-sha512$600000$bG9jYWxvbmx5$bG9jYWxvbmx5bG9jYWxvbmx5', 3, 1, true, false, 'inbox',
     1, '2026-09-01 08:00:00.114203', 2, '2026-10-02 07:45:12.000311'),
    (3, 'public', null, 4, 1, false, true, 'email',
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203'),
    (4, 'portaltemplate', null, 5, 1, false, true, 'email',
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203'),
    (5, 'paula@example.com', '$pbkdf2-sha512$600000$cG9ydGFs$cG9ydGFscG9ydGFscG9ydGFs', 6, 1, true, true, 'email',
     2, '2026-10-05 10:20:30.500001', 2, '2026-10-05 10:20:30.500001'),
    (6, 'bruno', '$pbkdf2-sha512$600000$YnJ1bm8$YnJ1bm9icnVub2JydW5v', 7, 1, false, false, 'email',
     2, '2026-09-15 12:00:00.250000', 2, '2026-11-02 16:30:00.987654'),
    (7, 'Ana@Example.com', '$pbkdf2-sha512$600000$YW5h$YW5hYW5hYW5hYW5hYW5h', 8, 1, true, false, 'inbox',
     2, '2026-09-10 09:00:00.000001', 7, '2026-11-18 11:11:11.111111');
alter sequence res_users_id_seq restart with 8;
update res_partner set user_id = 2 where id in (9, 10, 11);

-- Five projects: two active (one named in French too), one archived, one
-- template, one with no customer. Only the template and "Office Move"
-- (saved from the 19.0 form) have is_template set.
insert into project_project
    (id, name, active, sequence, partner_id, company_id, label_tasks, user_id, alias_id,
     privacy_visibility, date_start, date, last_update_status, is_template, access_token,
     color, allow_task_dependencies, allow_milestones, allow_recurring_tasks,
     create_uid, create_date, write_uid, write_date) values
    (1, '{"en_US": "Website Redesign"}', true, 10, 9, 1, '{"en_US": "Tasks"}', 2, 1,
     'portal', '2026-10-01', '2026-12-31', 'on_track', null, 'a0c1e8d6-3f54-4b2f-9a1c-5d7e8f901234',
     3, false, true, false, 2, '2026-10-01 09:00:00.100000', 2, '2026-11-20 09:15:02.482113'),
    (2, '{"en_US": "Office Move", "fr_FR": "Déménagement du bureau"}', true, 20, 10, 1,
     '{"en_US": "Tasks", "fr_FR": "Tâches"}', 7, 2,
     'employees', '2026-11-02', null, 'at_risk', false, 'b1d2f9e7-4a65-4c30-8b2d-6e8f90a12345',
     5, true, false, false, 7, '2026-11-02 08:30:00.000000', 7, '2026-11-24 14:03:51.907214'),
    (3, '{"en_US": "Legacy ERP Migration"}', false, 30, 9, 1, '{"en_US": "Tasks"}', 2, 3,
     'followers', '2026-03-01', '2026-09-30', 'done', null, 'c2e3a0f8-5b76-4d41-9c3e-7f90a1b23456',
     0, false, false, false, 2, '2026-03-01 10:00:00.000000', 2, '2026-11-25 08:00:00.000001'),
    (4, '{"en_US": "Implementation Template"}', true, 40, null, 1, '{"en_US": "Steps"}', 2, 4,
     'employees', null, null, 'to_define', true, 'd3f4b1a9-6c87-4e52-8d4f-80a1b2c34567',
     0, true, true, false, 2, '2026-09-12 15:00:00.000000', 2, '2026-09-12 15:00:00.000000'),
    (5, '{"en_US": "Research & Development"}', true, 50, null, 1, '{"en_US": "Tasks"}', 2, 5,
     'invited_users', '2026-11-01', null, 'to_define', null, 'e4a5c2b0-7d98-4f63-9e50-91b2c3d45678',
     11, false, false, true, 2, '2026-11-01 07:00:00.000000', 2, '2026-11-27 17:42:09.000042');
alter sequence project_project_id_seq restart with 6;

-- Tasks with allocated_hours (float8), one without an estimate, a subtask,
-- the archived project's archived task, a template task, and a private task
-- (no project).
insert into project_task
    (id, name, active, priority, sequence, state, create_date, write_date, date_deadline,
     project_id, display_in_project, allocated_hours, partner_id, company_id, parent_id,
     recurring_task, is_template, has_template_ancestor, access_token, create_uid, write_uid) values
    (1, 'Wireframes', true, '1', 10, '1_done', '2026-10-01 09:05:00.000000', '2026-10-20 16:00:00.000000',
     '2026-10-15 17:00:00', 1, true, 16, 9, 1, null, false, null, false, 'f5b6d3c1-0001-4a00-8000-000000000001', 2, 2),
    (2, 'Visual design', true, '0', 20, '01_in_progress', '2026-10-01 09:06:00.000000', '2026-11-20 09:15:02.482113',
     '2026-11-30 17:00:00', 1, true, 24.5, 9, 1, null, false, null, false, 'f5b6d3c1-0002-4a00-8000-000000000002', 2, 7),
    (3, 'Content migration', true, '0', 30, '04_waiting_normal', '2026-10-01 09:07:00.000000', '2026-11-19 10:00:00.000000',
     null, 1, true, 12, 9, 1, null, false, null, false, 'f5b6d3c1-0003-4a00-8000-000000000003', 2, 2),
    (4, 'SEO review', true, '0', 31, '01_in_progress', '2026-11-19 10:00:00.000000', '2026-11-19 10:00:00.000000',
     null, 1, false, 4.25, 9, 1, 3, false, null, false, 'f5b6d3c1-0004-4a00-8000-000000000004', 2, 2),
    (5, 'Book movers', true, '1', 10, '03_approved', '2026-11-02 08:35:00.000000', '2026-11-24 14:03:51.907214',
     '2026-12-10 12:00:00', 2, true, 2, 10, 1, null, false, null, false, 'f5b6d3c1-0005-4a00-8000-000000000005', 7, 7),
    (6, 'Pack archives', true, '0', 20, '01_in_progress', '2026-11-02 08:36:00.000000', '2026-11-02 08:36:00.000000',
     null, 2, true, null, 10, 1, null, false, null, false, 'f5b6d3c1-0006-4a00-8000-000000000006', 7, 7),
    (7, 'Data export', false, '0', 10, '1_canceled', '2026-03-01 10:05:00.000000', '2026-11-25 08:00:00.000001',
     null, 3, true, 40, 9, 1, null, false, null, false, 'f5b6d3c1-0007-4a00-8000-000000000007', 2, 2),
    (8, 'Kick-off meeting', true, '0', 10, '01_in_progress', '2026-09-12 15:01:00.000000', '2026-09-12 15:01:00.000000',
     null, 4, true, 1.5, null, 1, null, false, true, false, 'f5b6d3c1-0008-4a00-8000-000000000008', 2, 2),
    (9, 'Literature survey', true, '0', 10, '01_in_progress', '2026-11-01 07:05:00.000000', '2026-11-27 17:42:09.000042',
     null, 5, true, 30, null, 1, null, false, null, false, 'f5b6d3c1-0009-4a00-8000-000000000009', 2, 2),
    (10, 'Renew my passport', true, '0', 10, '01_in_progress', '2026-11-03 18:00:00.000000', '2026-11-03 18:00:00.000000',
     '2026-12-20 09:00:00', null, true, 0, null, 1, null, false, null, false, 'f5b6d3c1-0010-4a00-8000-000000000010', 7, 7);
alter sequence project_task_id_seq restart with 11;

-- Customer invoices of the projects' customers (posted, one paid, one
-- partly), one for a customer's contact, a draft (named '/' until posted),
-- a cancelled one, a credit note, a vendor bill and a journal entry.
-- Journals 1 (sales), 2 (purchases) and 3 (miscellaneous); currency 1 (USD).
insert into account_move
    (id, name, ref, date, state, move_type, journal_id, company_id, partner_id, commercial_partner_id,
     currency_id, amount_untaxed, amount_tax, amount_total, amount_residual,
     amount_untaxed_signed, amount_tax_signed, amount_total_signed, amount_residual_signed,
     amount_untaxed_in_currency_signed, amount_total_in_currency_signed, invoice_currency_rate,
     payment_state, invoice_date, invoice_date_due, auto_post, posted_before, made_sequence_gap,
     checked, sequence_prefix, sequence_number, invoice_origin, payment_reference,
     invoice_partner_display_name, reversed_entry_id, invoice_user_id, access_token,
     create_uid, create_date, write_uid, write_date) values
    (1, 'INV/2026/00001', null, '2026-11-02', 'posted', 'out_invoice', 1, 1, 9, 9,
     1, 1000.00, 150.00, 1150.00, 0.00,
     1000.00, 150.00, 1150.00, 0.00,
     1000.00, 1150.00, 1.0,
     'paid', '2026-11-02', '2026-12-02', 'no', true, false,
     true, 'INV/2026/', 1, 'Website Redesign', 'INV/2026/00001',
     'Azure Interior', null, 2, '0a1b2c3d-0001-4e00-9000-000000000001',
     2, '2026-11-02 10:00:00.000000', 2, '2026-11-28 09:30:00.654321'),
    (2, 'INV/2026/00002', 'PO-4471', '2026-11-16', 'posted', 'out_invoice', 1, 1, 11, 9,
     1, 400.00, 60.00, 460.00, 460.00,
     400.00, 60.00, 460.00, 460.00,
     400.00, 460.00, 1.0,
     'not_paid', '2026-11-16', '2026-12-16', 'no', true, false,
     false, 'INV/2026/', 2, 'Website Redesign', 'INV/2026/00002',
     'Azure Interior, Brandon Freeman', null, 2, '0a1b2c3d-0002-4e00-9000-000000000002',
     2, '2026-11-16 11:00:00.000000', 2, '2026-11-16 11:00:00.000000'),
    (3, 'INV/2026/00003', null, '2026-11-20', 'posted', 'out_invoice', 1, 1, 10, 10,
     1, 2500.43, 375.07, 2875.50, 1000.00,
     2500.43, 375.07, 2875.50, 1000.00,
     2500.43, 2875.50, 1.0,
     'partial', '2026-11-20', '2026-12-20', 'no', true, false,
     false, 'INV/2026/', 3, 'Office Move', 'INV/2026/00003',
     'Deco Addict', null, 7, '0a1b2c3d-0003-4e00-9000-000000000003',
     7, '2026-11-20 15:00:00.000000', 7, '2026-11-26 08:12:00.000000'),
    (4, '/', null, '2026-11-30', 'draft', 'out_invoice', 1, 1, 10, 10,
     1, 278.26, 41.74, 320.00, 320.00,
     278.26, 41.74, 320.00, 320.00,
     278.26, 320.00, 1.0,
     'not_paid', null, null, 'no', false, false,
     false, null, null, 'Office Move', null,
     'Deco Addict', null, 7, null,
     7, '2026-11-30 09:00:00.000000', 7, '2026-11-30 09:00:00.000000'),
    (5, 'INV/2026/00004', null, '2026-11-21', 'cancel', 'out_invoice', 1, 1, 9, 9,
     1, 86.09, 12.91, 99.00, 99.00,
     86.09, 12.91, 99.00, 99.00,
     86.09, 99.00, 1.0,
     'not_paid', '2026-11-21', '2026-12-21', 'no', true, false,
     false, 'INV/2026/', 4, null, 'INV/2026/00004',
     'Azure Interior', null, 2, '0a1b2c3d-0005-4e00-9000-000000000005',
     2, '2026-11-21 10:00:00.000000', 2, '2026-11-21 10:30:00.000000'),
    (6, 'RINV/2026/00001', 'Reversal of: INV/2026/00001', '2026-11-25', 'posted', 'out_refund', 1, 1, 9, 9,
     1, 100.00, 15.00, 115.00, 115.00,
     -100.00, -15.00, -115.00, -115.00,
     -100.00, -115.00, 1.0,
     'not_paid', '2026-11-25', '2026-11-25', 'no', true, false,
     false, 'RINV/2026/', 1, null, null,
     'Azure Interior', 1, 2, '0a1b2c3d-0006-4e00-9000-000000000006',
     2, '2026-11-25 14:00:00.000000', 2, '2026-11-25 14:00:00.000000'),
    (7, 'BILL/2026/11/0001', 'MOVE-8812', '2026-11-10', 'posted', 'in_invoice', 2, 1, 10, 10,
     1, 556.52, 83.48, 640.00, 640.00,
     -556.52, -83.48, -640.00, -640.00,
     -556.52, -640.00, 1.0,
     'not_paid', '2026-11-10', '2026-12-10', 'no', true, false,
     false, 'BILL/2026/11/', 1, null, null,
     'Deco Addict', null, 2, '0a1b2c3d-0007-4e00-9000-000000000007',
     2, '2026-11-10 09:00:00.000000', 2, '2026-11-10 09:00:00.000000'),
    (8, 'MISC/2026/11/0001', 'Accrual', '2026-11-30', 'posted', 'entry', 3, 1, null, null,
     1, 0.00, 0.00, 500.00, 0.00,
     0.00, 0.00, 500.00, 0.00,
     0.00, 500.00, null,
     'not_paid', null, null, 'no', true, false,
     false, 'MISC/2026/11/', 1, null, null,
     null, null, null, null,
     2, '2026-11-30 18:00:00.000000', 2, '2026-11-30 18:00:00.000000');
alter sequence account_move_id_seq restart with 9;

insert into ir_module_module
    (id, name, state, latest_version, shortdesc, summary, author, license, application,
     auto_install, sequence, website, create_uid, create_date, write_uid, write_date) values
    (1, 'base', 'installed', '19.0.1.3', '{"en_US": "Base"}', '{"en_US": "The kernel of Odoo, needed for all installation"}',
     'Odoo S.A.', 'LGPL-3', false, false, 100, 'https://www.odoo.com',
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:05.000017'),
    (2, 'web', 'installed', '19.0.1.0', '{"en_US": "Web"}', null,
     'Odoo S.A.', 'LGPL-3', false, true, 100, null,
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:05.000017'),
    (3, 'mail', 'installed', '19.0.1.19', '{"en_US": "Discuss"}', '{"en_US": "Chat, mail gateway and private channels"}',
     'Odoo S.A.', 'LGPL-3', true, false, 100, null,
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:01:00.000000'),
    (4, 'portal', 'installed', '19.0.1.0', '{"en_US": "Customer Portal"}', null,
     'Odoo S.A.', 'LGPL-3', false, false, 100, null,
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:01:30.000000'),
    (5, 'project', 'installed', '19.0.1.3', '{"en_US": "Project", "fr_FR": "Projet"}', '{"en_US": "Organize and plan your projects"}',
     'Odoo S.A.', 'LGPL-3', true, false, 10, null,
     1, '2026-09-01 08:00:00.114203', 2, '2026-09-12 14:00:00.000000'),
    (6, 'account', 'installed', '19.0.1.4', '{"en_US": "Invoicing"}', '{"en_US": "Invoices, Payments, Follow-ups & Bank Synchronization"}',
     'Odoo S.A.', 'LGPL-3', true, false, 30, null,
     1, '2026-09-01 08:00:00.114203', 2, '2026-09-20 12:00:00.000000'),
    (7, 'hr_timesheet', 'uninstalled', null, '{"en_US": "Task Logs"}', '{"en_US": "Track employee time on tasks"}',
     'Odoo S.A.', 'LGPL-3', false, false, 100, null,
     1, '2026-09-01 08:00:00.114203', 1, '2026-09-01 08:00:00.114203');
alter sequence ir_module_module_id_seq restart with 8;

-- The foreign keys among these tables, as the ORM adds them after the data.
alter table res_partner
    add constraint res_partner_parent_id_fkey foreign key (parent_id) references res_partner (id) on delete set null,
    add constraint res_partner_commercial_partner_id_fkey foreign key (commercial_partner_id) references res_partner (id) on delete set null,
    add constraint res_partner_user_id_fkey foreign key (user_id) references res_users (id) on delete set null,
    add constraint res_partner_create_uid_fkey foreign key (create_uid) references res_users (id) on delete set null,
    add constraint res_partner_write_uid_fkey foreign key (write_uid) references res_users (id) on delete set null;
alter table res_users
    add constraint res_users_partner_id_fkey foreign key (partner_id) references res_partner (id) on delete restrict,
    add constraint res_users_create_uid_fkey foreign key (create_uid) references res_users (id) on delete set null,
    add constraint res_users_write_uid_fkey foreign key (write_uid) references res_users (id) on delete set null;
alter table project_project
    add constraint project_project_partner_id_fkey foreign key (partner_id) references res_partner (id) on delete set null,
    add constraint project_project_user_id_fkey foreign key (user_id) references res_users (id) on delete set null,
    add constraint project_project_create_uid_fkey foreign key (create_uid) references res_users (id) on delete set null,
    add constraint project_project_write_uid_fkey foreign key (write_uid) references res_users (id) on delete set null;
alter table project_task
    add constraint project_task_project_id_fkey foreign key (project_id) references project_project (id) on delete set null,
    add constraint project_task_partner_id_fkey foreign key (partner_id) references res_partner (id) on delete set null,
    add constraint project_task_parent_id_fkey foreign key (parent_id) references project_task (id) on delete set null,
    add constraint project_task_create_uid_fkey foreign key (create_uid) references res_users (id) on delete set null,
    add constraint project_task_write_uid_fkey foreign key (write_uid) references res_users (id) on delete set null;
alter table account_move
    add constraint account_move_partner_id_fkey foreign key (partner_id) references res_partner (id) on delete restrict,
    add constraint account_move_commercial_partner_id_fkey foreign key (commercial_partner_id) references res_partner (id) on delete restrict,
    add constraint account_move_reversed_entry_id_fkey foreign key (reversed_entry_id) references account_move (id) on delete set null,
    add constraint account_move_invoice_user_id_fkey foreign key (invoice_user_id) references res_users (id) on delete set null,
    add constraint account_move_create_uid_fkey foreign key (create_uid) references res_users (id) on delete set null,
    add constraint account_move_write_uid_fkey foreign key (write_uid) references res_users (id) on delete set null;
alter table ir_module_module
    add constraint ir_module_module_create_uid_fkey foreign key (create_uid) references res_users (id) on delete set null,
    add constraint ir_module_module_write_uid_fkey foreign key (write_uid) references res_users (id) on delete set null;

-- ---------------------------------------------------------------------------
-- The wrapper's grants, made by the database owner, as the README gives
-- them ("Reading Odoo: postgres_fdw"): connect, look up names in
-- `public`, and read the six tables, every column but the secrets (the
-- password hashes and the portal access tokens, which open a record to
-- whoever holds one). No write, no other table.
grant connect on database odoo to odoo_fdw_reader;
grant usage on schema public to odoo_fdw_reader;
do $$
declare
    v_table record;
begin
    for v_table in
        select c.table_name,
               string_agg(quote_ident(c.column_name), ', ' order by c.ordinal_position) as columns
          from information_schema.columns c
         where c.table_schema = 'public'
           and c.table_name in ('project_project', 'project_task', 'res_users',
                                'res_partner', 'account_move', 'ir_module_module')
           and c.column_name not in ('password', 'access_token')
         group by c.table_name
    loop
        execute format('grant select (%s) on public.%I to odoo_fdw_reader',
                       v_table.columns, v_table.table_name);
    end loop;
end
$$;

reset role;
