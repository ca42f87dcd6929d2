//! The rules as properties, on random inputs.
//!
//! Logins and emails are drawn mostly from a small pool of addresses that
//! collide under lowercasing (and a few that only look as if they should:
//! `ß`/`SS`, a dotted `İ`), so that matches, case variants and ambiguities are
//! common; the rest are arbitrary strings. The checks below restate the rules
//! with plain loops over every pair, written to be obviously right rather
//! than fast, and never call the crate's own matching code.

// Test code: a panic is a failing test (clippy.toml allows it in #[test]
// functions; this covers the helpers too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use identity_map::{
    decide, AdminDecision, AuthUser, DecisionKind, How, Input, Mapping, OdooUser, Reason,
    DELETED_LOGIN_PREFIX,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const ADDRESSES: &[&str] = &[
    "ana@x.io",
    "Ana@X.io",
    "ANA@x.io",
    "bob@x.io",
    "BOB@x.io",
    "",
    "admin",
    "İ@x.io",
    "i\u{307}@x.io",
    "straße@x.io",
    "STRASSE@x.io",
    "__deleted_user_3_1700000000",
];
const INSTANCES: &[&str] = &["dev", "staging", "prod"];
const AUTH_IDS: &[&str] = &["A", "B", "C", "D", "E"];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::sample::select(ADDRESSES).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn instance() -> impl Strategy<Value = String> {
    prop::sample::select(INSTANCES).prop_map(str::to_owned)
}

fn odoo_user() -> impl Strategy<Value = OdooUser> {
    (
        instance(),
        1i64..=6,
        text(),
        prop::option::of(text()),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(odoo_instance, odoo_user_id, login, email, active, share, deleted)| OdooUser {
                odoo_instance,
                odoo_user_id,
                login,
                email,
                active,
                share,
                deleted,
            },
        )
}

fn auth_user() -> impl Strategy<Value = AuthUser> {
    (
        prop::sample::select(AUTH_IDS),
        prop::option::of(text()),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(id, email, email_confirmed)| AuthUser {
            id: id.to_owned(),
            email,
            email_confirmed,
        })
}

fn decision() -> impl Strategy<Value = AdminDecision> {
    (
        instance(),
        // Up to 7, and one more auth id than there are users: some decisions
        // are stale.
        1i64..=7,
        prop::sample::select(&["A", "B", "C", "D", "E", "F"][..]),
        prop_oneof![Just(DecisionKind::Link), Just(DecisionKind::Unlink)],
    )
        .prop_map(
            |(odoo_instance, odoo_user_id, auth_user_id, kind)| AdminDecision {
                odoo_instance,
                odoo_user_id,
                auth_user_id: auth_user_id.to_owned(),
                kind,
            },
        )
}

/// Drops what would make the input malformed: repeated users and
/// contradicting decisions (keeping the first of each).
fn well_formed(
    odoo_users: Vec<OdooUser>,
    auth_users: Vec<AuthUser>,
    decisions: Vec<AdminDecision>,
) -> Input {
    let mut seen = BTreeSet::new();
    let odoo_users = odoo_users
        .into_iter()
        .filter(|u| seen.insert((u.odoo_instance.clone(), u.odoo_user_id)))
        .collect();
    let mut seen = BTreeSet::new();
    let auth_users = auth_users
        .into_iter()
        .filter(|u| seen.insert(u.id.clone()))
        .collect();
    let mut kinds = BTreeMap::new();
    let mut person_of = BTreeMap::new();
    let mut user_of = BTreeMap::new();
    let decisions = decisions
        .into_iter()
        .filter(|d| {
            let pair = (
                d.odoo_instance.clone(),
                d.odoo_user_id,
                d.auth_user_id.clone(),
            );
            if kinds.get(&pair).is_some_and(|kind| *kind != d.kind) {
                return false;
            }
            if d.kind == DecisionKind::Link {
                let user = (d.odoo_instance.clone(), d.odoo_user_id);
                let person = (d.odoo_instance.clone(), d.auth_user_id.clone());
                if person_of.get(&user).is_some_and(|p| *p != d.auth_user_id)
                    || user_of.get(&person).is_some_and(|u| *u != d.odoo_user_id)
                {
                    return false;
                }
                person_of.insert(user, d.auth_user_id.clone());
                user_of.insert(person, d.odoo_user_id);
            }
            kinds.insert(pair, d.kind);
            true
        })
        .collect();
    Input {
        odoo_users,
        auth_users,
        decisions,
    }
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop::collection::vec(odoo_user(), 0..12),
        prop::collection::vec(auth_user(), 0..6),
        prop::collection::vec(decision(), 0..8),
    )
        .prop_map(|(o, a, d)| well_formed(o, a, d))
}

/// Anything at all: repeats, contradictions, empty ids, any id, any string.
fn anything() -> impl Strategy<Value = Input> {
    let id = prop_oneof![3 => 1i64..=4, 1 => any::<i64>()];
    let name = prop_oneof![3 => instance(), 1 => any::<String>()];
    let auth_id = prop_oneof![
        3 => prop::sample::select(AUTH_IDS).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let odoo_users = prop::collection::vec(
        (
            name.clone(),
            id.clone(),
            text(),
            prop::option::of(text()),
            any::<[bool; 3]>(),
        )
            .prop_map(
                |(odoo_instance, odoo_user_id, login, email, flags)| OdooUser {
                    odoo_instance,
                    odoo_user_id,
                    login,
                    email,
                    active: flags[0],
                    share: flags[1],
                    deleted: flags[2],
                },
            ),
        0..10,
    );
    let auth_users = prop::collection::vec(
        (auth_id.clone(), prop::option::of(text()), any::<bool>()).prop_map(
            |(id, email, email_confirmed)| AuthUser {
                id,
                email,
                email_confirmed,
            },
        ),
        0..6,
    );
    let decisions = prop::collection::vec(
        (name, id, auth_id, any::<bool>()).prop_map(
            |(odoo_instance, odoo_user_id, auth_user_id, link)| AdminDecision {
                odoo_instance,
                odoo_user_id,
                auth_user_id,
                kind: if link {
                    DecisionKind::Link
                } else {
                    DecisionKind::Unlink
                },
            },
        ),
        0..6,
    );
    (odoo_users, auth_users, decisions).prop_map(|(odoo_users, auth_users, decisions)| Input {
        odoo_users,
        auth_users,
        decisions,
    })
}

/// The same input, each list in another order.
fn with_shuffle(strategy: impl Strategy<Value = Input>) -> impl Strategy<Value = (Input, Input)> {
    strategy.prop_flat_map(|input| {
        let shuffled = (
            Just(input.odoo_users.clone()).prop_shuffle(),
            Just(input.auth_users.clone()).prop_shuffle(),
            Just(input.decisions.clone()).prop_shuffle(),
        )
            .prop_map(|(odoo_users, auth_users, decisions)| Input {
                odoo_users,
                auth_users,
                decisions,
            });
        (Just(input), shuffled)
    })
}

// The rules, restated independently.

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn deleted(u: &OdooUser) -> bool {
    u.deleted || u.login.starts_with(DELETED_LOGIN_PREFIX)
}

/// Rule 1, pair by pair.
fn matches(u: &OdooUser, s: &AuthUser) -> bool {
    let Some(email) = s.email.as_deref().filter(|e| !e.is_empty()) else {
        return false;
    };
    s.email_confirmed
        && (lower(&u.login) == lower(email)
            || u.email
                .as_deref()
                .is_some_and(|own| !own.is_empty() && lower(own) == lower(email)))
}

fn is_decided(input: &Input, u: &OdooUser, s: &AuthUser, kind: DecisionKind) -> bool {
    input.decisions.iter().any(|d| {
        d.kind == kind
            && d.odoo_instance == u.odoo_instance
            && d.odoo_user_id == u.odoo_user_id
            && d.auth_user_id == s.id
    })
}

fn user<'i>(input: &'i Input, instance: &str, id: i64) -> Option<&'i OdooUser> {
    input
        .odoo_users
        .iter()
        .find(|u| u.odoo_instance == instance && u.odoo_user_id == id)
}

fn person<'i>(input: &'i Input, id: &str) -> Option<&'i AuthUser> {
    input.auth_users.iter().find(|s| s.id == id)
}

/// Has an admin linked this Odoo user, or this person in this instance, to
/// anyone still there (and not deleted)?
fn admin_linked(input: &Input, u: &OdooUser) -> bool {
    input.decisions.iter().any(|d| {
        d.kind == DecisionKind::Link
            && d.odoo_instance == u.odoo_instance
            && d.odoo_user_id == u.odoo_user_id
            && person(input, &d.auth_user_id).is_some()
    })
}

fn person_admin_linked(input: &Input, instance: &str, s: &AuthUser) -> bool {
    input.decisions.iter().any(|d| {
        d.kind == DecisionKind::Link
            && d.odoo_instance == instance
            && d.auth_user_id == s.id
            && user(input, instance, d.odoo_user_id).is_some_and(|u| !deleted(u))
    })
}

/// The Odoo users the automatic rules decide about.
fn candidate(input: &Input, u: &OdooUser) -> bool {
    !deleted(u) && !u.share && !admin_linked(input, u)
}

/// A match that survives the admin decisions (rule 2's edges).
fn live_match(input: &Input, u: &OdooUser, s: &AuthUser) -> bool {
    candidate(input, u)
        && matches(u, s)
        && !is_decided(input, u, s, DecisionKind::Unlink)
        && !person_admin_linked(input, &u.odoo_instance, s)
}

/// The unambiguous pairs: each other's only live match.
fn unambiguous(input: &Input, u: &OdooUser, s: &AuthUser) -> bool {
    live_match(input, u, s)
        && input
            .auth_users
            .iter()
            .all(|other| other.id == s.id || !live_match(input, u, other))
        && input.odoo_users.iter().all(|other| {
            other.odoo_instance != u.odoo_instance
                || other.odoo_user_id == u.odoo_user_id
                || !live_match(input, other, s)
        })
}

/// Invariants every mapping keeps, whatever the input.
fn check_shape(input: &Input, mapping: &Mapping) -> Result<(), TestCaseError> {
    let mut seen = BTreeSet::new();
    for (instance, id) in mapping
        .links
        .iter()
        .map(|l| (&l.odoo_instance, l.odoo_user_id))
        .chain(
            mapping
                .unlinked
                .iter()
                .map(|u| (&u.odoo_instance, u.odoo_user_id)),
        )
    {
        prop_assert!(
            seen.insert((instance.clone(), id)),
            "({instance:?}, {id}) twice"
        );
    }
    let all: BTreeSet<_> = input
        .odoo_users
        .iter()
        .map(|u| (u.odoo_instance.clone(), u.odoo_user_id))
        .collect();
    prop_assert_eq!(seen, all, "every Odoo user exactly once");

    let mut people = BTreeSet::new();
    for link in &mapping.links {
        prop_assert!(
            people.insert((link.odoo_instance.clone(), link.auth_user_id.clone())),
            "person {:?} linked twice in {:?}",
            link.auth_user_id,
            link.odoo_instance
        );
        let u = user(input, &link.odoo_instance, link.odoo_user_id).unwrap();
        prop_assert!(person(input, &link.auth_user_id).is_some());
        prop_assert_eq!(&link.odoo_login, &u.login);
        prop_assert_eq!(link.active, u.active);
        prop_assert!(!deleted(u), "a deleted user is linked");
    }
    for unlinked in &mapping.unlinked {
        let u = user(input, &unlinked.odoo_instance, unlinked.odoo_user_id).unwrap();
        prop_assert_eq!(&unlinked.odoo_login, &u.login);
    }
    prop_assert!(mapping.links.windows(2).all(|w| w[0] < w[1]));
    prop_assert!(mapping.unlinked.windows(2).all(|w| w[0] < w[1]));
    prop_assert!(mapping.stale_decisions.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}

proptest! {
    #[test]
    fn the_same_input_in_any_order_gives_the_same_result((input, shuffled) in with_shuffle(input())) {
        let first = decide(&input);
        prop_assert!(first.is_ok());
        prop_assert_eq!(first, decide(&shuffled));
    }

    #[test]
    fn even_malformed_input_gives_the_same_error_in_any_order(
        (input, shuffled) in with_shuffle(anything())
    ) {
        prop_assert_eq!(decide(&input), decide(&shuffled));
    }

    #[test]
    fn never_panics_and_any_mapping_is_well_shaped(input in anything()) {
        match decide(&input) {
            Ok(mapping) => check_shape(&input, &mapping)?,
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
    }

    #[test]
    fn at_most_one_link_per_odoo_user_and_per_person(input in input()) {
        check_shape(&input, &decide(&input).unwrap())?;
    }

    #[test]
    fn an_automatic_link_is_always_an_unambiguous_pair(input in input()) {
        let mapping = decide(&input).unwrap();
        for link in mapping.links.iter().filter(|l| l.how == How::Automatic) {
            let u = user(&input, &link.odoo_instance, link.odoo_user_id).unwrap();
            let s = person(&input, &link.auth_user_id).unwrap();
            prop_assert!(unambiguous(&input, u, s), "{u:?} linked to {s:?}");
        }
    }

    #[test]
    fn without_admin_decisions_no_link_has_a_contender(mut input in input()) {
        input.decisions.clear();
        let mapping = decide(&input).unwrap();
        for link in &mapping.links {
            prop_assert_eq!(link.how, How::Automatic);
            let u = user(&input, &link.odoo_instance, link.odoo_user_id).unwrap();
            let s = person(&input, &link.auth_user_id).unwrap();
            prop_assert!(matches(u, s) && !u.share && !deleted(u));
            for other in &input.auth_users {
                prop_assert!(other.id == s.id || !matches(u, other), "{u:?} also matches {other:?}");
            }
            for other in &input.odoo_users {
                let rival = other.odoo_instance == u.odoo_instance
                    && other.odoo_user_id != u.odoo_user_id
                    && !other.share
                    && !deleted(other)
                    && matches(other, s);
                prop_assert!(!rival, "{other:?} also matches {s:?}");
            }
        }
    }

    #[test]
    fn every_unambiguous_pair_is_linked(input in input()) {
        let mapping = decide(&input).unwrap();
        for u in &input.odoo_users {
            for s in &input.auth_users {
                if unambiguous(&input, u, s) {
                    let linked = mapping.links.iter().any(|l| {
                        l.odoo_instance == u.odoo_instance
                            && l.odoo_user_id == u.odoo_user_id
                            && l.auth_user_id == s.id
                            && l.how == How::Automatic
                    });
                    prop_assert!(linked, "{u:?} and {s:?} not linked");
                }
            }
        }
    }

    #[test]
    fn an_ambiguous_odoo_user_is_told_who_competes(input in input()) {
        let mapping = decide(&input).unwrap();
        for unlinked in &mapping.unlinked {
            if let Reason::Ambiguous { odoo_user_ids, auth_user_ids } = &unlinked.reason {
                let u = user(&input, &unlinked.odoo_instance, unlinked.odoo_user_id).unwrap();
                let expected: Vec<String> = input
                    .auth_users
                    .iter()
                    .filter(|s| live_match(&input, u, s))
                    .map(|s| s.id.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                prop_assert_eq!(auth_user_ids, &expected);
                // The rivals: other Odoo users of the instance with a live
                // match in common.
                let rivals: Vec<i64> = input
                    .odoo_users
                    .iter()
                    .filter(|other| {
                        other.odoo_instance == u.odoo_instance
                            && other.odoo_user_id != u.odoo_user_id
                            && input
                                .auth_users
                                .iter()
                                .any(|s| live_match(&input, u, s) && live_match(&input, other, s))
                    })
                    .map(|other| other.odoo_user_id)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                prop_assert_eq!(odoo_user_ids, &rivals);
                prop_assert!(odoo_user_ids.len() + auth_user_ids.len() > 1, "nobody to compete with");
            }
        }
    }

    #[test]
    fn an_admins_decision_always_wins(input in input()) {
        let mapping = decide(&input).unwrap();
        for d in &input.decisions {
            let (Some(u), Some(s)) = (
                user(&input, &d.odoo_instance, d.odoo_user_id),
                person(&input, &d.auth_user_id),
            ) else {
                prop_assert!(mapping.stale_decisions.contains(d), "{d:?} not reported stale");
                continue;
            };
            prop_assert!(!mapping.stale_decisions.contains(d));
            let link = mapping.links.iter().find(|l| {
                l.odoo_instance == u.odoo_instance && l.odoo_user_id == u.odoo_user_id
            });
            match d.kind {
                DecisionKind::Link if deleted(u) => prop_assert!(link.is_none()),
                DecisionKind::Link => {
                    let link = link.unwrap();
                    prop_assert_eq!(&link.auth_user_id, &s.id);
                    prop_assert_eq!(link.how, How::Admin);
                }
                DecisionKind::Unlink => {
                    prop_assert!(link.is_none_or(|l| l.auth_user_id != s.id), "{d:?} overridden");
                }
            }
        }
    }

    #[test]
    fn an_admin_link_added_to_any_input_wins(
        input in input(),
        pick_user in any::<prop::sample::Index>(),
        pick_person in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!input.odoo_users.is_empty() && !input.auth_users.is_empty());
        let u = pick_user.get(&input.odoo_users).clone();
        let s = pick_person.get(&input.auth_users).clone();
        let mut with_link = input.clone();
        // Make room: the new link replaces whatever decided this user or
        // this person in the instance before.
        with_link.decisions.retain(|d| {
            d.odoo_instance != u.odoo_instance
                || (d.odoo_user_id != u.odoo_user_id && d.auth_user_id != s.id)
        });
        with_link.decisions.push(AdminDecision {
            odoo_instance: u.odoo_instance.clone(),
            odoo_user_id: u.odoo_user_id,
            auth_user_id: s.id.clone(),
            kind: DecisionKind::Link,
        });
        let mapping = decide(&with_link).unwrap();
        let link = mapping
            .links
            .iter()
            .find(|l| l.odoo_instance == u.odoo_instance && l.odoo_user_id == u.odoo_user_id);
        if deleted(&u) {
            prop_assert!(link.is_none());
        } else {
            let link = link.unwrap();
            prop_assert_eq!(&link.auth_user_id, &s.id);
            prop_assert_eq!(link.how, How::Admin);
        }
    }

    #[test]
    fn an_admin_unlink_added_to_any_input_wins(
        input in input(),
        pick_user in any::<prop::sample::Index>(),
        pick_person in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!input.odoo_users.is_empty() && !input.auth_users.is_empty());
        let u = pick_user.get(&input.odoo_users).clone();
        let s = pick_person.get(&input.auth_users).clone();
        let mut with_unlink = input.clone();
        with_unlink.decisions.retain(|d| {
            !(d.odoo_instance == u.odoo_instance
                && d.odoo_user_id == u.odoo_user_id
                && d.auth_user_id == s.id)
        });
        with_unlink.decisions.push(AdminDecision {
            odoo_instance: u.odoo_instance.clone(),
            odoo_user_id: u.odoo_user_id,
            auth_user_id: s.id.clone(),
            kind: DecisionKind::Unlink,
        });
        let mapping = decide(&with_unlink).unwrap();
        let relinked = mapping.links.iter().any(|l| {
            l.odoo_instance == u.odoo_instance
                && l.odoo_user_id == u.odoo_user_id
                && l.auth_user_id == s.id
        });
        prop_assert!(!relinked, "{:?} linked to {:?} after an unlink", u, s);
    }

    #[test]
    fn each_instance_is_decided_on_its_own(input in input(), pick in prop::sample::select(INSTANCES)) {
        let whole = decide(&input).unwrap();
        let alone = decide(&Input {
            odoo_users: input.odoo_users.iter().filter(|u| u.odoo_instance == pick).cloned().collect(),
            auth_users: input.auth_users.clone(),
            decisions: input.decisions.iter().filter(|d| d.odoo_instance == pick).cloned().collect(),
        })
        .unwrap();
        let links: Vec<_> = whole.links.iter().filter(|l| l.odoo_instance == pick).cloned().collect();
        let unlinked: Vec<_> = whole.unlinked.iter().filter(|u| u.odoo_instance == pick).cloned().collect();
        prop_assert_eq!(alone.links, links);
        prop_assert_eq!(alone.unlinked, unlinked);
    }

    #[test]
    fn portal_and_deleted_users_are_never_linked_automatically(input in input()) {
        let mapping = decide(&input).unwrap();
        for link in mapping.links.iter().filter(|l| l.how == How::Automatic) {
            let u = user(&input, &link.odoo_instance, link.odoo_user_id).unwrap();
            prop_assert!(!u.share && !deleted(u));
        }
        for unlinked in &mapping.unlinked {
            let u = user(&input, &unlinked.odoo_instance, unlinked.odoo_user_id).unwrap();
            if deleted(u) {
                prop_assert_eq!(&unlinked.reason, &Reason::Deleted);
            } else if u.share {
                prop_assert_eq!(&unlinked.reason, &Reason::Portal);
            }
        }
    }
}

// What ops.identity_neighbourhood reads for one person (supabase/migrations/
// 20261202030000_identity.sql), restated over an in-memory input, step for
// step, with SQL's own comparisons: stored keys compared exactly, Auth's
// addresses by their ASCII lowercase (lower() under the "C" collation) or,
// when not ASCII, all of them.
fn neighbourhood(input: &Input, me: &str, key: Option<&str>) -> Input {
    let key_of = |text: &str| identity_map::match_key(text);
    let keys_of = |u: &OdooUser| [key_of(&u.login), u.email.as_deref().and_then(key_of)];
    let named = |u: &OdooUser, id: &str| {
        input.decisions.iter().any(|d| {
            d.odoo_instance == u.odoo_instance
                && d.odoo_user_id == u.odoo_user_id
                && d.auth_user_id == id
        })
    };
    let same = |a: &OdooUser, b: &OdooUser| {
        a.odoo_instance == b.odoo_instance && a.odoo_user_id == b.odoo_user_id
    };
    // 1. The Odoo users that may be mine (no stored links in memory).
    let theirs: Vec<&OdooUser> = input
        .odoo_users
        .iter()
        .filter(|u| {
            key.is_some_and(|k| keys_of(u).iter().flatten().any(|own| own == k)) || named(u, me)
        })
        .collect();
    let keys: BTreeSet<(String, String)> = theirs
        .iter()
        .flat_map(|u| {
            keys_of(u)
                .into_iter()
                .flatten()
                .map(|k| (u.odoo_instance.clone(), k))
        })
        .collect();
    let near: Vec<&OdooUser> = input
        .odoo_users
        .iter()
        .filter(|u| {
            keys_of(u)
                .iter()
                .flatten()
                .any(|k| keys.contains(&(u.odoo_instance.clone(), k.clone())))
                || theirs.iter().any(|t| same(t, u))
        })
        .collect();
    let near_decisions: Vec<&AdminDecision> = input
        .decisions
        .iter()
        .filter(|d| {
            near.iter()
                .any(|u| u.odoo_instance == d.odoo_instance && u.odoo_user_id == d.odoo_user_id)
        })
        .collect();
    let any_key: BTreeSet<&String> = keys.iter().map(|(_, k)| k).collect();
    let people: Vec<AuthUser> = input
        .auth_users
        .iter()
        .filter(|s| {
            let by_address = s.email.as_deref().is_some_and(|e| {
                any_key.contains(&e.to_ascii_lowercase()) || (!e.is_ascii() && !keys.is_empty())
            });
            by_address || s.id == me || near_decisions.iter().any(|d| d.auth_user_id == s.id)
        })
        .cloned()
        .collect();
    let people_decisions: Vec<&AdminDecision> = input
        .decisions
        .iter()
        .filter(|d| people.iter().any(|p| p.id == d.auth_user_id))
        .collect();
    let odoo_users: Vec<OdooUser> = input
        .odoo_users
        .iter()
        .filter(|u| {
            near.iter().any(|n| same(n, u))
                || people_decisions
                    .iter()
                    .any(|d| d.odoo_instance == u.odoo_instance && d.odoo_user_id == u.odoo_user_id)
        })
        .cloned()
        .collect();
    let mut decisions: Vec<AdminDecision> = near_decisions
        .into_iter()
        .chain(people_decisions)
        .cloned()
        .collect();
    decisions.sort();
    decisions.dedup();
    Input {
        odoo_users,
        auth_users: people,
        decisions,
    }
}

proptest! {
    #[test]
    fn a_persons_neighbourhood_gives_their_links_as_the_whole_input_does(
        input in input(),
        me in prop::sample::select(AUTH_IDS),
    ) {
        let whole = decide(&input).unwrap();
        let key = person(&input, me).and_then(|s| s.email.as_deref()).and_then(identity_map::match_key);
        let part = decide(&neighbourhood(&input, me, key.as_deref())).unwrap();
        let mine = |mapping: &Mapping| -> Vec<_> {
            mapping.links.iter().filter(|l| l.auth_user_id == me).cloned().collect()
        };
        prop_assert_eq!(mine(&part), mine(&whole));
    }
}
