//! The users planner's rules as properties, on random pages.
//!
//! Ids and logins come from small pools so that the sides overlap and
//! logins collide, dates from a few instants around `now`. Plans are applied
//! to an in-memory `ops.odoo_users` that follows `ops.apply_user_event` and
//! `ops.reconcile_apply_users` (restated from the SQL, not from the
//! planner): each part last-writer-wins on (occurred_at, id) against its
//! version or `odoo_changed_at`, deletion final, a login another live user
//! holds deferred and tried again after the rest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ops_events::{parse_event, Event};
use proptest::prelude::*;
use reconcile_plan::{
    plan_users, window_start, ControlUser, Mode, Next, OdooUser, PageRange, Timestamp,
    UserSkipReason, UsersInput, UsersPlan,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const NOW_MICROS: i64 = 1_795_000_000_000_000;
const MINUTE: i64 = 60_000_000;

fn instant() -> impl Strategy<Value = Timestamp> {
    prop::sample::select(vec![
        -600 * MINUTE,
        -120 * MINUTE,
        -16 * MINUTE,
        -15 * MINUTE,
        -15 * MINUTE + 1,
        -MINUTE,
        -1,
        0,
        1,
        5 * MINUTE + 999_999,
        5 * MINUTE + 1_000_000,
    ])
    .prop_map(|offset| Timestamp::from_unix_micros(NOW_MICROS + offset).unwrap())
}

fn now() -> Timestamp {
    Timestamp::from_unix_micros(NOW_MICROS).unwrap()
}

/// PostgreSQL's text of a timestamp without time zone holding `at` (UTC).
fn odoo_text(at: Timestamp) -> String {
    let rfc = at.to_string();
    let (date, time) = rfc.trim_end_matches('Z').split_once('T').unwrap();
    format!("{date} {time}")
}

fn write_date() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => instant().prop_map(|t| Some(odoo_text(t))),
        1 => Just(None),
        1 => prop::sample::select(vec!["junk", "1999-12-31 23:59:59"]).prop_map(|s| Some(s.to_owned())),
    ]
}

const LOGINS: &[&str] = &["ana", "Ana", "bob", "__system__", "c"];
const EMAILS: &[Option<&str>] = &[
    None,
    Some("ana@example.com"),
    Some("ANA@example.com"),
    Some(""),
];
/// The ids a part's version may hold: a delivery's, an earlier and a later
/// reconcile's, and exactly the ids this plan gives users 1 and 2, so that
/// ties with the planner's own change are common.
fn recorded_id() -> impl Strategy<Value = String> {
    let now = now();
    prop::sample::select(vec![
        "msg_a".to_owned(),
        "~reconcile:2026-01-01T00:00:00.000000Z:user_updated:prod:1".to_owned(),
        "~reconcile:2099-01-01T00:00:00.000000Z:user_updated:prod:1".to_owned(),
        "~~".to_owned(),
        format!("~reconcile:{now}:user_updated:prod:1"),
        format!("~reconcile:{now}:user_archived:prod:1"),
        format!("~reconcile:{now}:user_unarchived:prod:2"),
        format!("~reconcile:{now}:user_updated:prod:2"),
    ])
}

fn odoo_user() -> impl Strategy<Value = OdooUser> {
    (
        1i64..=4,
        prop::sample::select(LOGINS),
        prop::option::weighted(0.9, any::<bool>()),
        prop::option::weighted(0.9, prop::bool::weighted(0.2)),
        write_date(),
        prop::bool::weighted(0.9),
        prop::sample::select(EMAILS),
        prop::option::weighted(0.8, write_date().prop_filter_map("dated", |d| d)),
    )
        .prop_map(
            |(id, login, active, share, write_date, partnered, email, partner_wd)| OdooUser {
                id,
                login: login.to_owned(),
                active,
                share,
                write_date,
                partner_id: partnered.then_some(id + 100),
                email: if partnered {
                    email.map(str::to_owned)
                } else {
                    None
                },
                partner_write_date: if partnered { partner_wd } else { None },
            },
        )
}

fn control_user() -> impl Strategy<Value = ControlUser> {
    let version = || {
        (
            prop::option::weighted(0.7, instant()),
            prop::option::weighted(0.8, recorded_id()),
        )
    };
    (
        1i64..=4,
        prop::sample::select(LOGINS),
        prop::sample::select(&EMAILS[..3]),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.15, instant()),
        instant(),
        version(),
        version(),
    )
        .prop_map(
            |(id, login, email, share, active, deleted_at, changed, facts, activity)| ControlUser {
                odoo_user_id: id,
                odoo_login: login.to_owned(),
                odoo_email: email.map(str::to_owned),
                share,
                active,
                deleted_at,
                odoo_changed_at: changed,
                facts_at: facts.0,
                facts_by: facts.0.and(facts.1),
                activity_at: activity.0,
                activity_by: activity.0.and(activity.1),
            },
        )
}

/// A page as the databases can hold it: ids once per side, logins unique
/// among Odoo's users (res_users_login_key) and among the control plane's
/// live ones (odoo_users_instance_login_key).
fn page() -> impl Strategy<Value = UsersInput> {
    (
        prop::collection::vec(odoo_user(), 0..8),
        prop::collection::vec(control_user(), 0..8),
        prop::bool::ANY,
        prop::option::weighted(0.8, instant()),
        prop::option::of(0i64..=3),
    )
        .prop_map(|(odoo, control, full, watermark, cut)| {
            let mut ids = BTreeSet::new();
            let mut logins = BTreeSet::new();
            let odoo_users: Vec<OdooUser> = odoo
                .into_iter()
                .filter(|u| ids.insert(u.id) && logins.insert(u.login.clone()))
                .collect();
            let mut ids = BTreeSet::new();
            let mut logins = BTreeSet::new();
            let users: Vec<ControlUser> = control
                .into_iter()
                .filter(|u| {
                    ids.insert(u.odoo_user_id)
                        && (u.deleted_at.is_some() || logins.insert(u.odoo_login.clone()))
                })
                .collect();
            let mode = if full || watermark.is_none() {
                Mode::Full
            } else {
                Mode::Incremental
            };
            // A page that starts after `cut` covers only the ids above it.
            let after_id = cut.unwrap_or(0);
            UsersInput {
                instance: ops_values::Environment::parse("prod").unwrap(),
                mode,
                watermark,
                now: now(),
                range: PageRange {
                    after_id,
                    through_id: None,
                },
                pass: None,
                odoo_users: odoo_users.into_iter().filter(|u| u.id > after_id).collect(),
                users: users
                    .into_iter()
                    .filter(|u| u.odoo_user_id > after_id)
                    .collect(),
            }
        })
}

fn shuffled() -> impl Strategy<Value = (UsersInput, UsersInput)> {
    page().prop_flat_map(|input| {
        let other = (
            Just(input.odoo_users.clone()).prop_shuffle(),
            Just(input.users.clone()).prop_shuffle(),
        )
            .prop_map({
                let input = input.clone();
                move |(odoo_users, users)| UsersInput {
                    odoo_users,
                    users,
                    ..input.clone()
                }
            });
        (Just(input), other)
    })
}

/// Anything serde lets through, strings included.
fn anything() -> impl Strategy<Value = (UsersInput, UsersInput)> {
    (
        page(),
        prop::collection::vec(
            (any::<String>(), any::<Option<String>>(), any::<i64>()),
            0..4,
        ),
    )
        .prop_map(|(mut input, junk)| {
            for (i, (login, email, id)) in junk.into_iter().enumerate() {
                let base = 1_000 + i as i64;
                input.odoo_users.push(OdooUser {
                    id: if i == 0 {
                        id.max(input.range.after_id + 1)
                    } else {
                        base
                    },
                    login,
                    active: Some(true),
                    share: None,
                    write_date: email.clone(),
                    partner_id: Some(1),
                    email,
                    partner_write_date: Some(odoo_text(now())),
                });
            }
            input
        })
        .prop_flat_map(|input| {
            let other = Just(input.odoo_users.clone()).prop_shuffle().prop_map({
                let input = input.clone();
                move |odoo_users| UsersInput {
                    odoo_users,
                    ..input.clone()
                }
            });
            (Just(input), other)
        })
}

// The rule, restated: an in-memory ops.odoo_users.

#[derive(Clone, Debug, PartialEq)]
struct Row {
    login: String,
    login_key: String,
    email: Option<String>,
    email_key: Option<String>,
    share: bool,
    active: bool,
    deleted_at: Option<Timestamp>,
    changed_at: Timestamp,
    facts_at: Option<Timestamp>,
    facts_by: Option<String>,
    activity_at: Option<Timestamp>,
    activity_by: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Applied,
    Stale,
    Deferred,
}

struct Store {
    rows: BTreeMap<i64, Row>,
}

fn newer(
    at: Timestamp,
    id: &str,
    part_at: Option<Timestamp>,
    part_by: &Option<String>,
    changed: Timestamp,
) -> bool {
    (at, id.as_bytes())
        > (
            part_at.unwrap_or(changed),
            part_by.as_deref().unwrap_or("").as_bytes(),
        )
}

impl Store {
    fn from_rows(rows: &[ControlUser]) -> Store {
        Store {
            rows: rows
                .iter()
                .map(|u| {
                    (
                        u.odoo_user_id,
                        Row {
                            login: u.odoo_login.clone(),
                            login_key: u.odoo_login.to_lowercase(),
                            email: u.odoo_email.clone(),
                            email_key: u.odoo_email.as_ref().map(|e| e.to_lowercase()),
                            share: u.share,
                            active: u.active,
                            deleted_at: u.deleted_at,
                            changed_at: u.odoo_changed_at,
                            facts_at: u.facts_at,
                            facts_by: u.facts_by.clone(),
                            activity_at: u.activity_at,
                            activity_by: u.activity_by.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn rows(&self) -> Vec<ControlUser> {
        self.rows
            .iter()
            .map(|(&id, r)| ControlUser {
                odoo_user_id: id,
                odoo_login: r.login.clone(),
                odoo_email: r.email.clone(),
                share: r.share,
                active: r.active,
                deleted_at: r.deleted_at,
                odoo_changed_at: r.changed_at,
                facts_at: r.facts_at,
                facts_by: r.facts_by.clone(),
                activity_at: r.activity_at,
                activity_by: r.activity_by.clone(),
            })
            .collect()
    }

    fn login_held(&self, login: &str, by_other_than: i64) -> bool {
        self.rows
            .iter()
            .any(|(&id, r)| id != by_other_than && r.deleted_at.is_none() && r.login == login)
    }

    fn apply(&mut self, id_: &str, event: &Value, at: Timestamp) -> Outcome {
        let kind = event["event_type"].as_str().unwrap();
        let user = event["odoo_user_id"].as_i64().unwrap();
        let text = |f: &str| event[f].as_str().map(str::to_owned);
        let Some(row) = self.rows.get(&user).cloned() else {
            if kind != "user_created" {
                return Outcome::Deferred;
            }
            if self.login_held(event["login"].as_str().unwrap(), user) {
                return Outcome::Deferred;
            }
            self.rows.insert(
                user,
                Row {
                    login: text("login").unwrap(),
                    login_key: text("login_key").unwrap(),
                    email: text("email"),
                    email_key: text("email_key"),
                    share: event["share"].as_bool().unwrap(),
                    active: event["active"].as_bool().unwrap(),
                    deleted_at: None,
                    changed_at: at,
                    facts_at: Some(at),
                    facts_by: Some(id_.to_owned()),
                    activity_at: Some(at),
                    activity_by: Some(id_.to_owned()),
                },
            );
            return Outcome::Applied;
        };
        if row.deleted_at.is_some() {
            return Outcome::Stale;
        }
        let mut next = row.clone();
        next.changed_at = row.changed_at.max(at);
        if kind == "user_deleted" {
            next.deleted_at = Some(at);
            self.rows.insert(user, next);
            return Outcome::Applied;
        }
        let facts = matches!(kind, "user_created" | "user_updated")
            && newer(at, id_, row.facts_at, &row.facts_by, row.changed_at);
        let activity = matches!(kind, "user_created" | "user_archived" | "user_unarchived")
            && newer(at, id_, row.activity_at, &row.activity_by, row.changed_at);
        if !facts && !activity {
            return Outcome::Stale;
        }
        let login = text("login");
        if facts
            && login.as_deref() != Some(row.login.as_str())
            && self.login_held(login.as_deref().unwrap(), user)
        {
            return Outcome::Deferred;
        }
        if facts {
            next.login = login.unwrap();
            next.login_key = text("login_key").unwrap();
            next.email = text("email");
            next.email_key = text("email_key");
            next.share = event["share"].as_bool().unwrap();
            next.facts_at = Some(at);
            next.facts_by = Some(id_.to_owned());
        } else {
            next.facts_at = Some(row.facts_at.unwrap_or(row.changed_at));
        }
        if activity {
            next.active = match kind {
                "user_created" => event["active"].as_bool().unwrap(),
                k => k == "user_unarchived",
            };
            next.activity_at = Some(at);
            next.activity_by = Some(id_.to_owned());
        } else {
            next.activity_at = Some(row.activity_at.unwrap_or(row.changed_at));
        }
        self.rows.insert(user, next);
        Outcome::Applied
    }

    /// As ops.reconcile_apply_users: in order, then the deferred ones again
    /// while a pass applies something. The final outcome of each change.
    fn apply_plan(&mut self, plan: &UsersPlan) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Deferred; plan.changes.len()];
        let mut pending: Vec<usize> = (0..plan.changes.len()).collect();
        loop {
            let mut waiting = Vec::new();
            for &i in &pending {
                let sent = serde_json::to_value(&plan.changes[i]).unwrap();
                let outcome = self.apply(
                    sent["change_id"].as_str().unwrap(),
                    &sent["event"],
                    sent["occurred_at"].as_str().unwrap().parse().unwrap(),
                );
                outcomes[i] = outcome;
                if outcome == Outcome::Deferred {
                    waiting.push(i);
                }
            }
            if waiting.len() == pending.len() {
                return outcomes;
            }
            pending = waiting;
        }
    }
}

fn user_id(event: &Event) -> i64 {
    let body = serde_json::to_value(event).unwrap();
    body["odoo_user_id"].as_i64().unwrap()
}

fn now_seconds(input: &UsersInput) -> i64 {
    input.now.unix_micros().div_euclid(1_000_000)
}

/// A date the event rules accept: parsed, not ahead, not before 2000.
fn accepted(text: &str, input: &UsersInput) -> Option<Timestamp> {
    let t: Timestamp = format!("{}Z", text.replacen(' ', "T", 1)).parse().ok()?;
    let ok = t.unix_micros().div_euclid(1_000_000) <= now_seconds(input) + 300
        && t >= "2000-01-01T00:00:00Z".parse().unwrap();
    ok.then_some(t)
}

/// The facts' date of an Odoo row (the later of the two writes), when the
/// row can be dated at all.
fn facts_date(row: &OdooUser, input: &UsersInput) -> Option<(Timestamp, Timestamp)> {
    let user = accepted(row.write_date.as_deref()?, input)?;
    let partner = match row.partner_write_date.as_deref() {
        None => user,
        Some(text) => accepted(text, input)?,
    };
    Some((user, user.max(partner)))
}

fn in_window(t: Timestamp, input: &UsersInput) -> bool {
    match input.mode {
        Mode::Full => true,
        Mode::Incremental => t > window_start(input.watermark.unwrap()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn deterministic_and_order_free((input, other) in shuffled()) {
        let first = plan_users(&input);
        prop_assert_eq!(&first, &plan_users(&input));
        prop_assert_eq!(&first, &plan_users(&other));
    }

    #[test]
    fn never_panics_and_every_change_is_one_ops_ingest_accepts((input, other) in anything()) {
        let result = plan_users(&input);
        match (&result, &plan_users(&other)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.kind(), b.kind()),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
        if let Ok(plan) = result {
            let mut ids = BTreeSet::new();
            for change in &plan.changes {
                let body = serde_json::to_vec(&change.event).unwrap();
                let again = parse_event(&body, now_seconds(&input));
                prop_assert_eq!(again.as_ref().ok(), Some(&change.event), "{:?}", again);
                let at: Timestamp = change.event.occurred_at().unwrap().to_rfc3339().parse().unwrap();
                prop_assert_eq!(at, change.occurred_at);
                prop_assert!(change.change_id.len() <= 255);
                prop_assert!(ids.insert(change.change_id.clone()), "{}", change.change_id);
                // The keys are there exactly for the events with facts, and
                // are the lowercase of what they key.
                let sent = serde_json::to_value(change).unwrap();
                let event = &sent["event"];
                match change.event.user_facts() {
                    Some((login, email)) => {
                        prop_assert_eq!(&event["login_key"], &json!(login.as_str().to_lowercase()));
                        prop_assert_eq!(&event["email_key"], &json!(email.map(|e| e.as_str().to_lowercase())));
                    }
                    None => prop_assert!(event.get("login_key").is_none() && event.get("email_key").is_none()),
                }
            }
            let _ = serde_json::to_string(&plan).unwrap();
        }
    }

    #[test]
    fn no_change_is_stale_under_the_rule(input in page()) {
        let plan = plan_users(&input).unwrap();
        let mut store = Store::from_rows(&input.users);
        for (change, outcome) in plan.changes.iter().zip(store.apply_plan(&plan)) {
            // Deferred is the login rule's, not the planner's (rule 9).
            prop_assert!(outcome != Outcome::Stale, "{:?}", change);
        }
    }

    #[test]
    fn converges_plan_apply_plan_leaves_only_what_waits_for_a_login(input in page()) {
        let first = plan_users(&input).unwrap();
        let mut store = Store::from_rows(&input.users);
        let outcomes = store.apply_plan(&first);
        let waiting: BTreeSet<&str> = first
            .changes
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| **o == Outcome::Deferred)
            .map(|(c, _)| c.change_id.as_str())
            .collect();
        let again = plan_users(&UsersInput { users: store.rows(), ..input.clone() }).unwrap();
        for change in &again.changes {
            prop_assert!(waiting.contains(change.change_id.as_str()), "{:?}", change);
        }
        // Applying again changes nothing more.
        let before = store.rows.clone();
        let outcomes = store.apply_plan(&again);
        prop_assert!(outcomes.iter().all(|o| *o == Outcome::Deferred), "{:?}", outcomes);
        prop_assert_eq!(before, store.rows);
    }

    #[test]
    fn ends_in_odoo_state_unless_newer_or_waiting(input in page()) {
        let plan = plan_users(&input).unwrap();
        let mut store = Store::from_rows(&input.users);
        let outcomes = store.apply_plan(&plan);
        let mut left: BTreeSet<i64> = plan.skipped.iter().map(|s| s.odoo_user_id).collect();
        left.extend(plan.changes.iter().zip(&outcomes)
            .filter(|(_, o)| **o == Outcome::Deferred)
            .map(|(c, _)| user_id(&c.event)));
        for row in &input.odoo_users {
            let Some((_, facts_at)) = facts_date(row, &input) else { continue };
            if !in_window(facts_at, &input) || left.contains(&row.id) || row.partner_id.is_none() {
                continue;
            }
            let mirrored = &store.rows[&row.id];
            prop_assert_eq!(&mirrored.login, &row.login);
            prop_assert_eq!(mirrored.email.as_deref(), row.email.as_deref().filter(|e| !e.is_empty()));
            prop_assert_eq!(mirrored.share, row.share == Some(true));
            prop_assert_eq!(mirrored.active, row.active == Some(true));
            prop_assert_eq!(&mirrored.login_key, &row.login.to_lowercase());
        }
    }

    #[test]
    fn full_mode_marks_deleted_exactly_the_absent(input in page()) {
        let plan = plan_users(&input).unwrap();
        let deleted: BTreeSet<i64> = plan
            .changes
            .iter()
            .filter(|c| matches!(c.event, Event::UserDeleted(_)))
            .map(|c| user_id(&c.event))
            .collect();
        let odoo: BTreeSet<i64> = input.odoo_users.iter().map(|u| u.id).collect();
        let first_page_empty = input.range.after_id == 0 && input.odoo_users.is_empty();
        let settled = input.now.unix_micros() - 15 * MINUTE;
        let expected: BTreeSet<i64> = input
            .users
            .iter()
            .filter(|_| input.mode == Mode::Full && !first_page_empty)
            .filter(|u| !odoo.contains(&u.odoo_user_id) && u.deleted_at.is_none())
            .filter(|u| {
                [Some(u.odoo_changed_at), u.facts_at, u.activity_at]
                    .iter()
                    .flatten()
                    .all(|at| at.unix_micros() <= settled)
            })
            .map(|u| u.odoo_user_id)
            .collect();
        prop_assert_eq!(&deleted, &expected);
        for change in plan.changes.iter().filter(|c| matches!(c.event, Event::UserDeleted(_))) {
            prop_assert_eq!(change.occurred_at, input.now);
        }
        for u in &input.users {
            if input.mode == Mode::Full && !odoo.contains(&u.odoo_user_id) && u.deleted_at.is_none()
                && !deleted.contains(&u.odoo_user_id)
            {
                let reason = plan.skipped.iter().find(|s| s.odoo_user_id == u.odoo_user_id).map(|s| s.reason);
                prop_assert!(
                    matches!(reason, Some(UserSkipReason::MaybeUncommitted | UserSkipReason::OdooReturnedNothing)),
                    "{:?}", reason
                );
            }
        }
    }

    #[test]
    fn the_watermark_counts_partners_and_never_goes_back(input in page()) {
        let plan = plan_users(&input).unwrap();
        // Rows skipped for a date in the future or unparsable do not count;
        // pre-2000 ones do (they were read and judged).
        let seen = input
            .odoo_users
            .iter()
            .filter_map(|row| {
                let parse = |text: &str| -> Option<Timestamp> {
                    let t: Timestamp = format!("{}Z", text.replacen(' ', "T", 1)).parse().ok()?;
                    (t.unix_micros().div_euclid(1_000_000) <= now_seconds(&input) + 300).then_some(t)
                };
                let user = parse(row.write_date.as_deref()?)?;
                let partner = match row.partner_write_date.as_deref() {
                    None => user,
                    Some(text) => parse(text)?,
                };
                Some(user.max(partner)).filter(|t| in_window(*t, &input))
            })
            .max();
        match plan.next {
            Next::Done { watermark } => {
                prop_assert!(watermark >= input.watermark);
                prop_assert_eq!(watermark, input.watermark.max(seen));
            }
            Next::Page { .. } => prop_assert!(false, "a short page ends the pass"),
        }
    }
}
