//! The users planner's rules, one case each: what is created, updated,
//! archived, unarchived and marked deleted, by which date, and what is left
//! alone and why.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ops_events::Event;
use reconcile_plan::{
    plan_users, ControlUser, ErrorKind, Next, Timestamp, UserChange, UserSkipReason, UsersInput,
    UsersPlan,
};
use serde_json::{json, Value};

const NOW: &str = "2026-11-26T12:00:00Z";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn odoo(
    id: i64,
    login: &str,
    email: Option<&str>,
    active: bool,
    wd: &str,
    partner_wd: &str,
) -> Value {
    json!({
        "id": id, "login": login, "active": active, "share": false, "write_date": wd,
        "partner_id": id + 100, "email": email, "partner_write_date": partner_wd,
    })
}

fn control(
    id: i64,
    login: &str,
    email: Option<&str>,
    active: bool,
    changed_at: &str,
) -> ControlUser {
    ControlUser {
        odoo_user_id: id,
        odoo_login: login.to_owned(),
        odoo_email: email.map(str::to_owned),
        share: false,
        active,
        deleted_at: None,
        odoo_changed_at: at(changed_at),
        facts_at: None,
        facts_by: None,
        activity_at: None,
        activity_by: None,
    }
}

fn input(odoo_users: Vec<Value>, users: Vec<ControlUser>) -> UsersInput {
    serde_json::from_value(json!({
        "instance": "prod",
        "mode": "full",
        "watermark": null,
        "now": NOW,
        "range": { "after_id": 0, "through_id": null },
        "pass": null,
        "odoo_users": odoo_users,
        "users": serde_json::to_value(users).unwrap(),
    }))
    .unwrap()
}

fn kinds(plan: &UsersPlan) -> Vec<(&'static str, String)> {
    plan.changes
        .iter()
        .map(|c| (c.event.event_type(), c.occurred_at.to_string()))
        .collect()
}

fn reasons(plan: &UsersPlan) -> Vec<(i64, UserSkipReason)> {
    plan.skipped
        .iter()
        .map(|s| (s.odoo_user_id, s.reason))
        .collect()
}

fn sent(change: &UserChange) -> Value {
    serde_json::to_value(change).unwrap()
}

#[test]
fn a_new_user_is_created_with_its_facts_and_activity() {
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "Ana@Example.com",
            Some("ANA@Example.com"),
            false,
            "2026-11-18 11:11:11.111111",
            "2026-11-18 11:11:11.111111",
        )],
        vec![],
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan),
        [("user_created", "2026-11-18T11:11:11.111111Z".to_owned())]
    );
    let Event::UserCreated(created) = &plan.changes[0].event else {
        panic!()
    };
    assert_eq!(created.login.as_str(), "Ana@Example.com");
    assert!(!created.active, "created archived: no second event");
    assert_eq!(
        sent(&plan.changes[0]),
        json!({
            "change_id": "~reconcile:2026-11-26T12:00:00.000000Z:user_created:prod:7",
            "occurred_at": "2026-11-18T11:11:11.111111Z",
            "event": {
                "event_type": "user_created", "odoo_instance": "prod", "odoo_user_id": 7,
                "login": "Ana@Example.com", "login_key": "ana@example.com",
                "email": "ANA@Example.com", "email_key": "ana@example.com",
                "share": false, "active": false, "occurred_at": "2026-11-18T11:11:11.111111Z",
            }
        }),
        "the event with its keys, as ingest-core sends it to the database"
    );
    assert_eq!(plan.summary.created, 1);
}

#[test]
fn a_new_user_whose_partner_changed_later_gets_each_part_its_own_date() {
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "ana",
            Some("ana@example.com"),
            true,
            "2026-11-18 11:00:00",
            "2026-11-20 09:00:00",
        )],
        vec![],
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan),
        [
            ("user_created", "2026-11-18T11:00:00.000000Z".to_owned()),
            ("user_updated", "2026-11-20T09:00:00.000000Z".to_owned()),
        ]
    );
}

#[test]
fn an_email_change_is_dated_by_the_partner_and_an_archive_by_the_user() {
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "ana",
            Some("new@example.com"),
            false,
            "2026-11-18 11:00:00",
            "2026-11-20 09:00:00",
        )],
        vec![control(
            7,
            "ana",
            Some("old@example.com"),
            true,
            "2026-11-01T00:00:00Z",
        )],
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan),
        [
            ("user_updated", "2026-11-20T09:00:00.000000Z".to_owned()),
            ("user_archived", "2026-11-18T11:00:00.000000Z".to_owned()),
        ]
    );
    assert!(
        sent(&plan.changes[1])["event"].get("login_key").is_none(),
        "no facts, no keys"
    );
}

#[test]
fn equal_facts_and_activity_need_nothing() {
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "ana",
            None,
            true,
            "2026-11-18 11:00:00",
            "2026-11-20 09:00:00",
        )],
        vec![control(7, "ana", None, true, "2026-11-01T00:00:00Z")],
    ))
    .unwrap();
    assert!(plan.changes.is_empty() && plan.skipped.is_empty());
    assert_eq!(plan.summary.unchanged, 1);
}

#[test]
fn an_empty_email_is_none() {
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "ana",
            Some(""),
            true,
            "2026-11-18 11:00:00",
            "2026-11-18 11:00:00",
        )],
        vec![control(7, "ana", None, true, "2026-11-01T00:00:00Z")],
    ))
    .unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
}

#[test]
fn a_change_older_than_the_recorded_part_is_left_out() {
    let mut stored = control(
        7,
        "ana",
        Some("old@example.com"),
        true,
        "2026-11-21T00:00:00Z",
    );
    stored.facts_at = Some(at("2026-11-21T00:00:00Z"));
    stored.facts_by = Some("msg_1".to_owned());
    // The activity was never set by an event: odoo_changed_at is its version.
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "ana",
            Some("new@example.com"),
            false,
            "2026-11-18 11:00:00",
            "2026-11-20 09:00:00",
        )],
        vec![stored.clone()],
    ))
    .unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(
        reasons(&plan),
        [
            (7, UserSkipReason::StaleFacts),
            (7, UserSkipReason::StaleActivity)
        ]
    );
    // At a tie with a delivery, the reconcile wins; with its own id, not.
    stored.facts_at = Some(at("2026-11-20T09:00:00Z"));
    stored.odoo_changed_at = at("2026-11-01T00:00:00Z");
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "ana",
            Some("new@example.com"),
            true,
            "2026-11-18 11:00:00",
            "2026-11-20 09:00:00",
        )],
        vec![stored.clone()],
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan),
        [("user_updated", "2026-11-20T09:00:00.000000Z".to_owned())]
    );
    stored.facts_by = Some(plan.changes[0].change_id.clone());
    let plan = plan_users(&input(
        vec![odoo(
            7,
            "ana",
            Some("new@example.com"),
            true,
            "2026-11-18 11:00:00",
            "2026-11-20 09:00:00",
        )],
        vec![stored],
    ))
    .unwrap();
    assert_eq!(reasons(&plan), [(7, UserSkipReason::StaleFacts)]);
}

#[test]
fn unarchive_and_portal_and_system_users_are_mirrored() {
    let mut portal = odoo(
        5,
        "paula@example.com",
        Some("Paula@Example.com"),
        true,
        "2026-10-05 10:20:30.500001",
        "2026-10-05 10:20:30.500001",
    );
    portal["share"] = json!(true);
    let system = odoo(
        1,
        "__system__",
        Some("odoobot@example.com"),
        false,
        "2026-09-01 08:00:00.114203",
        "2026-09-01 08:00:00.114203",
    );
    let plan = plan_users(&input(
        vec![
            portal,
            system,
            odoo(
                6,
                "bruno",
                None,
                true,
                "2026-11-02 16:30:00",
                "2026-11-02 16:30:00",
            ),
        ],
        vec![control(6, "bruno", None, false, "2026-10-01T00:00:00Z")],
    ))
    .unwrap();
    let events: Vec<_> = plan
        .changes
        .iter()
        .map(|c| sent(c)["event"].clone())
        .collect();
    assert_eq!(events[0]["login"], "__system__");
    assert_eq!(events[0]["active"], false);
    assert_eq!(
        (events[1]["login"].clone(), events[1]["share"].clone()),
        (json!("paula@example.com"), json!(true))
    );
    assert_eq!(events[2]["event_type"], "user_unarchived");
}

#[test]
fn a_user_without_its_partner_has_unknown_facts() {
    let mut row = odoo(
        7,
        "ana",
        None,
        false,
        "2026-11-18 11:00:00",
        "2026-11-18 11:00:00",
    );
    row["partner_id"] = Value::Null;
    row["partner_write_date"] = Value::Null;
    let plan = plan_users(&input(vec![row.clone()], vec![])).unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(reasons(&plan), [(7, UserSkipReason::NoPartner)]);
    // Known already: the email is not erased, the archive still applies.
    let plan = plan_users(&input(
        vec![row],
        vec![control(
            7,
            "ana",
            Some("kept@example.com"),
            true,
            "2026-11-01T00:00:00Z",
        )],
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan),
        [("user_archived", "2026-11-18T11:00:00.000000Z".to_owned())]
    );
    assert_eq!(reasons(&plan), [(7, UserSkipReason::NoPartner)]);
}

#[test]
fn logins_and_emails_that_break_the_rules_are_skipped_not_cleaned() {
    let uuid = "0b5a1c6e-1f0e-4c8e-9a2b-3c4d5e6f7a8b";
    let long = format!("{}@example.com", "a".repeat(250));
    let plan = plan_users(&input(
        vec![
            odoo(
                1,
                uuid,
                None,
                true,
                "2026-11-18 11:00:00",
                "2026-11-18 11:00:00",
            ),
            odoo(
                2,
                "b",
                Some(&long),
                true,
                "2026-11-18 11:00:00",
                "2026-11-18 11:00:00",
            ),
            odoo(
                3,
                "c\u{7}",
                None,
                false,
                "2026-11-18 11:00:00",
                "2026-11-18 11:00:00",
            ),
        ],
        vec![control(3, "c", None, true, "2026-11-01T00:00:00Z")],
    ))
    .unwrap();
    assert_eq!(
        reasons(&plan),
        [
            (1, UserSkipReason::InvalidLogin),
            (2, UserSkipReason::InvalidEmail),
            (3, UserSkipReason::InvalidLogin),
        ]
    );
    assert_eq!(
        kinds(&plan),
        [("user_archived", "2026-11-18T11:00:00.000000Z".to_owned())]
    );
}

#[test]
fn rows_that_cannot_be_dated_are_skipped_whole() {
    let mut no_date = odoo(1, "a", None, true, "x", "2026-11-18 11:00:00");
    no_date["write_date"] = Value::Null;
    let plan = plan_users(&input(
        vec![
            no_date,
            odoo(2, "b", None, true, "2026-11-18 11:00:00", "junk"),
            odoo(
                3,
                "c",
                None,
                true,
                "2026-11-18 11:00:00",
                "2026-11-26 12:05:01",
            ),
            odoo(
                4,
                "d",
                None,
                true,
                "2026-11-26 12:05:00.999999",
                "2026-11-18 11:00:00",
            ),
            odoo(
                5,
                "e",
                None,
                true,
                "1999-12-31 23:59:59",
                "1999-12-31 23:59:59",
            ),
        ],
        vec![control(2, "old", None, true, "2026-11-01T00:00:00Z")],
    ))
    .unwrap();
    assert_eq!(
        reasons(&plan),
        [
            (1, UserSkipReason::NoWriteDate),
            (2, UserSkipReason::InvalidWriteDate),
            (3, UserSkipReason::WriteDateInFuture),
            (5, UserSkipReason::Refused),
        ]
    );
    assert_eq!(
        kinds(&plan),
        [("user_created", "2026-11-26T12:05:00.999999Z".to_owned())]
    );
    // An undated row still counts as present: user 2 is not marked deleted.
    assert_eq!(plan.summary.deleted, 0);
}

#[test]
fn incremental_judges_users_whose_partner_changed_in_the_window() {
    let mut page = input(
        vec![
            odoo(
                1,
                "a",
                Some("new@example.com"),
                true,
                "2026-01-01 00:00:00",
                "2026-11-26 11:00:00",
            ),
            odoo(
                2,
                "b",
                Some("new@example.com"),
                true,
                "2026-01-01 00:00:00",
                "2026-01-01 00:00:00",
            ),
        ],
        vec![
            control(1, "a", None, true, "2026-01-01T00:00:00Z"),
            control(2, "b", None, true, "2026-01-01T00:00:00Z"),
            control(3, "gone", None, true, "2026-01-01T00:00:00Z"),
        ],
    );
    page.mode = reconcile_plan::Mode::Incremental;
    page.watermark = Some(at("2026-11-26T11:00:00Z"));
    let plan = plan_users(&page).unwrap();
    assert_eq!(
        kinds(&plan),
        [("user_updated", "2026-11-26T11:00:00.000000Z".to_owned())]
    );
    assert_eq!(reasons(&plan), [(2, UserSkipReason::OutsideWindow)]);
    assert_eq!(plan.summary.deleted, 0, "incremental finds no deletion");
    assert_eq!(
        plan.next,
        Next::Done {
            watermark: Some(at("2026-11-26T11:00:00Z"))
        }
    );

    page.watermark = None;
    assert_eq!(plan_users(&page).unwrap_err().location(), "watermark");
}

#[test]
fn full_mode_marks_deleted_the_absent_with_the_guards() {
    let mut recent = control(4, "recent", None, true, "2026-11-01T00:00:00Z");
    recent.activity_at = Some(at("2026-11-26T11:50:00Z"));
    let mut deleted = control(5, "deleted", None, true, "2026-11-01T00:00:00Z");
    deleted.deleted_at = Some(at("2026-11-02T00:00:00Z"));
    let users = vec![
        control(3, "gone", None, true, "2026-11-01T00:00:00Z"),
        recent,
        deleted.clone(),
    ];
    let plan = plan_users(&input(
        vec![odoo(
            1,
            "a",
            None,
            true,
            "2026-11-18 11:00:00",
            "2026-11-18 11:00:00",
        )],
        users.clone(),
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan),
        [
            ("user_created", "2026-11-18T11:00:00.000000Z".to_owned()),
            ("user_deleted", "2026-11-26T12:00:00.000000Z".to_owned()),
        ]
    );
    assert_eq!(reasons(&plan), [(4, UserSkipReason::MaybeUncommitted)]);
    // Odoo's first page empty: nothing is marked.
    let plan = plan_users(&input(vec![], users)).unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(
        reasons(&plan),
        [
            (3, UserSkipReason::OdooReturnedNothing),
            (4, UserSkipReason::OdooReturnedNothing)
        ]
    );
    // A user Odoo has that the control plane marked deleted stays deleted.
    let plan = plan_users(&input(
        vec![odoo(
            5,
            "deleted",
            None,
            true,
            "2026-11-18 11:00:00",
            "2026-11-18 11:00:00",
        )],
        vec![deleted],
    ))
    .unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(reasons(&plan), [(5, UserSkipReason::DeletedInControlPlane)]);
}

#[test]
fn a_page_read_wrongly_plans_nothing() {
    let row = odoo(
        7,
        "a",
        None,
        true,
        "2026-11-18 11:00:00",
        "2026-11-18 11:00:00",
    );
    let err = plan_users(&input(vec![row.clone(), row.clone()], vec![])).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string().as_str()),
        (ErrorKind::Duplicate, "odoo_users id 7: listed twice")
    );
    let mut page = input(
        vec![row],
        vec![control(9, "b", None, true, "2026-11-01T00:00:00Z")],
    );
    page.range.through_id = Some(8);
    let err = plan_users(&page).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfRange);
    assert_eq!(err.location(), "users id 9");
    // A field the reader forgot is refused, not read as null.
    let mut value = serde_json::to_value(input(vec![], vec![])).unwrap();
    value["odoo_users"] = json!([{"id": 1, "login": "a", "active": true, "share": false,
                                   "write_date": "2026-11-18 11:00:00", "partner_id": 2, "email": null}]);
    assert!(serde_json::from_value::<UsersInput>(value.clone()).is_err());
    value["odoo_users"] = json!([]);
    value["instance"] = json!("qa");
    assert!(
        serde_json::from_value::<UsersInput>(value).is_err(),
        "an unknown instance"
    );
}

#[test]
fn a_full_page_hands_on_the_pass() {
    let mut page = input(
        vec![odoo(
            3,
            "a",
            None,
            true,
            "2026-11-18 11:00:00",
            "2026-11-19 11:00:00",
        )],
        vec![],
    );
    page.range.through_id = Some(3);
    let plan = plan_users(&page).unwrap();
    let Next::Page { after_id, pass } = plan.next else {
        panic!()
    };
    assert_eq!(after_id, 3);
    assert_eq!(pass.started_at, at(NOW));
    assert_eq!(
        pass.high_water,
        Some(at("2026-11-19T11:00:00Z")),
        "the partner's date counts"
    );
}
