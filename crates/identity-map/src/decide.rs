//! The rules, applied: validation, then one instance at a time.

use crate::error::{Error, ErrorKind};
use crate::model::{
    AdminDecision, AuthUser, DecisionKind, How, Input, Link, Mapping, OdooUser, Reason, Unlinked,
};
use std::collections::{BTreeMap, BTreeSet};

/// The login prefix Odoo writes when a portal user deletes their own
/// account: it archives the user, rewrites the login to
/// `__deleted_user_<id>_<timestamp>` and queues the real deletion.
pub const DELETED_LOGIN_PREFIX: &str = "__deleted_user_";

/// The form in which a login or an email is compared: `None` for an empty
/// string (which matches nothing), else its Unicode lowercase (Rust's
/// `str::to_lowercase`, the full mapping; no trimming, no other
/// normalisation).
///
/// ```
/// assert_eq!(identity_map::match_key("Bob@Example.COM").as_deref(), Some("bob@example.com"));
/// assert_eq!(identity_map::match_key(" bob@example.com").as_deref(), Some(" bob@example.com"));
/// assert_eq!(identity_map::match_key(""), None);
/// ```
pub fn match_key(value: &str) -> Option<String> {
    if value.is_empty() {
        None
    } else {
        Some(value.to_lowercase())
    }
}

/// Whether the Odoo user is gone for good (rule 5).
fn is_deleted(user: &OdooUser) -> bool {
    user.deleted || user.login.starts_with(DELETED_LOGIN_PREFIX)
}

/// Decides every link of every instance in `input`.
///
/// Errors only on malformed input (see [`ErrorKind`]); any well-formed input,
/// whatever its strings, gives a [`Mapping`].
pub fn decide(input: &Input) -> Result<Mapping, Error> {
    let odoo = index_odoo_users(&input.odoo_users)?;
    let auth = index_auth_users(&input.auth_users)?;
    let decisions = check_decisions(&input.decisions)?;

    let mut stale_decisions = Vec::new();
    let mut admin_links: BTreeMap<(&str, i64), &str> = BTreeMap::new();
    let mut admin_unlinks: BTreeSet<(&str, i64, &str)> = BTreeSet::new();
    for decision in decisions {
        let odoo_key = (decision.odoo_instance.as_str(), decision.odoo_user_id);
        let auth_id = decision.auth_user_id.as_str();
        if !odoo.contains_key(&odoo_key) || !auth.contains_key(auth_id) {
            stale_decisions.push(decision.clone());
            continue;
        }
        match decision.kind {
            DecisionKind::Link => {
                admin_links.insert(odoo_key, auth_id);
            }
            DecisionKind::Unlink => {
                admin_unlinks.insert((odoo_key.0, odoo_key.1, auth_id));
            }
        }
    }
    // A deleted Odoo user's admin link has ended (rule 5), so it no longer
    // holds the person's place in the instance.
    let taken: BTreeSet<(&str, &str)> = admin_links
        .iter()
        .filter(|(key, _)| odoo.get(*key).is_some_and(|user| !is_deleted(user)))
        .map(|((instance, _), auth_id)| (*instance, *auth_id))
        .collect();

    // Only confirmed addresses take part (rule 1).
    let mut confirmed: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for user in auth.values().filter(|user| user.email_confirmed) {
        if let Some(key) = user.email.as_deref().and_then(match_key) {
            confirmed.entry(key).or_default().insert(user.id.as_str());
        }
    }

    let rules = Rules {
        admin_links: &admin_links,
        admin_unlinks: &admin_unlinks,
        taken: &taken,
        confirmed: &confirmed,
    };
    let mut mapping = Mapping {
        stale_decisions,
        ..Mapping::default()
    };
    let instances: BTreeSet<&str> = odoo.keys().map(|(instance, _)| *instance).collect();
    for instance in instances {
        let users: Vec<&OdooUser> = odoo
            .range((instance, i64::MIN)..=(instance, i64::MAX))
            .map(|(_, user)| *user)
            .collect();
        rules.decide_instance(instance, &users, &mut mapping);
    }
    mapping.links.sort();
    mapping.unlinked.sort();
    Ok(mapping)
}

/// The admin decisions and the confirmed addresses, indexed.
struct Rules<'a> {
    admin_links: &'a BTreeMap<(&'a str, i64), &'a str>,
    admin_unlinks: &'a BTreeSet<(&'a str, i64, &'a str)>,
    taken: &'a BTreeSet<(&'a str, &'a str)>,
    confirmed: &'a BTreeMap<String, BTreeSet<&'a str>>,
}

/// An Odoo user the automatic rules decide about, and the people it matches.
struct Candidate<'a> {
    user: &'a OdooUser,
    /// Matches still in play after the admin decisions.
    matches: BTreeSet<&'a str>,
    /// Matches an admin unlinked from this user.
    unlinked: BTreeSet<&'a str>,
    /// Matches an admin linked to another Odoo user of the instance.
    taken: BTreeSet<&'a str>,
}

impl<'a> Rules<'a> {
    fn decide_instance(&self, instance: &'a str, users: &[&'a OdooUser], out: &mut Mapping) {
        let mut candidates = Vec::new();
        for &user in users {
            let key = (instance, user.odoo_user_id);
            if is_deleted(user) {
                out.unlinked.push(unlinked(user, Reason::Deleted));
            } else if let Some(auth_id) = self.admin_links.get(&key) {
                out.links.push(link(user, auth_id, How::Admin));
            } else if user.share {
                out.unlinked.push(unlinked(user, Reason::Portal));
            } else {
                candidates.push(self.candidate(instance, user));
            }
        }

        // Who else wants each person: the other half of rule 2.
        let mut contenders: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
        for candidate in &candidates {
            for auth_id in &candidate.matches {
                contenders
                    .entry(auth_id)
                    .or_default()
                    .insert(candidate.user.odoo_user_id);
            }
        }

        for candidate in candidates {
            let user = candidate.user;
            let only_match = match candidate.matches.first() {
                Some(auth_id) if candidate.matches.len() == 1 => Some(*auth_id),
                _ => None,
            };
            let uncontested = only_match.filter(|auth_id| {
                contenders
                    .get(auth_id)
                    .is_some_and(|wanted_by| wanted_by.len() == 1)
            });
            if let Some(auth_id) = uncontested {
                out.links.push(link(user, auth_id, How::Automatic));
            } else if !candidate.matches.is_empty() {
                let odoo_user_ids: BTreeSet<i64> = candidate
                    .matches
                    .iter()
                    .filter_map(|auth_id| contenders.get(auth_id))
                    .flatten()
                    .copied()
                    .filter(|id| *id != user.odoo_user_id)
                    .collect();
                let reason = Reason::Ambiguous {
                    odoo_user_ids: odoo_user_ids.into_iter().collect(),
                    auth_user_ids: owned(&candidate.matches),
                };
                out.unlinked.push(unlinked(user, reason));
            } else if !candidate.unlinked.is_empty() {
                let reason = Reason::UnlinkedByAdmin {
                    auth_user_ids: owned(&candidate.unlinked),
                };
                out.unlinked.push(unlinked(user, reason));
            } else if !candidate.taken.is_empty() {
                let reason = Reason::MatchLinkedByAdmin {
                    auth_user_ids: owned(&candidate.taken),
                };
                out.unlinked.push(unlinked(user, reason));
            } else {
                out.unlinked.push(unlinked(user, Reason::NoConfirmedMatch));
            }
        }
    }

    fn candidate(&self, instance: &'a str, user: &'a OdooUser) -> Candidate<'a> {
        let mut candidate = Candidate {
            user,
            matches: BTreeSet::new(),
            unlinked: BTreeSet::new(),
            taken: BTreeSet::new(),
        };
        let keys = [Some(user.login.as_str()), user.email.as_deref()];
        for key in keys.into_iter().flatten().filter_map(match_key) {
            for &auth_id in self.confirmed.get(&key).into_iter().flatten() {
                if self
                    .admin_unlinks
                    .contains(&(instance, user.odoo_user_id, auth_id))
                {
                    candidate.unlinked.insert(auth_id);
                } else if self.taken.contains(&(instance, auth_id)) {
                    candidate.taken.insert(auth_id);
                } else {
                    candidate.matches.insert(auth_id);
                }
            }
        }
        candidate
    }
}

fn link(user: &OdooUser, auth_id: &str, how: How) -> Link {
    Link {
        odoo_instance: user.odoo_instance.clone(),
        odoo_user_id: user.odoo_user_id,
        odoo_login: user.login.clone(),
        auth_user_id: auth_id.to_owned(),
        active: user.active,
        how,
    }
}

fn unlinked(user: &OdooUser, reason: Reason) -> Unlinked {
    Unlinked {
        odoo_instance: user.odoo_instance.clone(),
        odoo_user_id: user.odoo_user_id,
        odoo_login: user.login.clone(),
        reason,
    }
}

fn owned(ids: &BTreeSet<&str>) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

// Validation walks every list in sorted order, so that when an input has
// several faults the one reported does not depend on the input's order.

fn index_odoo_users(users: &[OdooUser]) -> Result<BTreeMap<(&str, i64), &OdooUser>, Error> {
    let mut sorted: Vec<&OdooUser> = users.iter().collect();
    sorted.sort();
    let mut index = BTreeMap::new();
    for user in sorted {
        let at = format!(
            "odoo_users ({:?}, {})",
            user.odoo_instance, user.odoo_user_id
        );
        check_odoo_ref(&user.odoo_instance, user.odoo_user_id, &at)?;
        let key = (user.odoo_instance.as_str(), user.odoo_user_id);
        if index.insert(key, user).is_some() {
            return Err(Error::new(ErrorKind::Duplicate, at, "listed twice"));
        }
    }
    Ok(index)
}

fn index_auth_users(users: &[AuthUser]) -> Result<BTreeMap<&str, &AuthUser>, Error> {
    let mut sorted: Vec<&AuthUser> = users.iter().collect();
    sorted.sort();
    let mut index = BTreeMap::new();
    for user in sorted {
        let at = format!("auth_users {:?}", user.id);
        check_auth_id(&user.id, &at)?;
        if index.insert(user.id.as_str(), user).is_some() {
            return Err(Error::new(ErrorKind::Duplicate, at, "listed twice"));
        }
    }
    Ok(index)
}

/// The decisions, sorted and without repeats (a decision recorded twice
/// means the same thing once), or the first contradiction.
fn check_decisions(decisions: &[AdminDecision]) -> Result<BTreeSet<&AdminDecision>, Error> {
    let unique: BTreeSet<&AdminDecision> = decisions.iter().collect();
    let mut kinds: BTreeMap<(&str, i64, &str), DecisionKind> = BTreeMap::new();
    let mut person_of: BTreeMap<(&str, i64), &str> = BTreeMap::new();
    let mut user_of: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for decision in &unique {
        let instance = decision.odoo_instance.as_str();
        let auth_id = decision.auth_user_id.as_str();
        let at = format!(
            "decisions ({instance:?}, {}, {auth_id:?})",
            decision.odoo_user_id
        );
        check_odoo_ref(instance, decision.odoo_user_id, &at)?;
        check_auth_id(auth_id, &at)?;
        if kinds
            .insert((instance, decision.odoo_user_id, auth_id), decision.kind)
            .is_some()
        {
            // The set holds each decision once, so a second entry for the
            // pair is the other kind.
            return Err(Error::new(
                ErrorKind::Conflict,
                at,
                "both linked and unlinked by admins",
            ));
        }
        if decision.kind != DecisionKind::Link {
            continue;
        }
        if let Some(other) = person_of.insert((instance, decision.odoo_user_id), auth_id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("decisions ({instance:?}, {})", decision.odoo_user_id),
                format!("linked by admins to two people, {other:?} and {auth_id:?}"),
            ));
        }
        if let Some(other) = user_of.insert((instance, auth_id), decision.odoo_user_id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("decisions ({instance:?}, {auth_id:?})"),
                format!(
                    "linked by admins to two Odoo users of the instance, {other} and {}",
                    decision.odoo_user_id
                ),
            ));
        }
    }
    Ok(unique)
}

fn check_odoo_ref(instance: &str, odoo_user_id: i64, at: &str) -> Result<(), Error> {
    if instance.is_empty() {
        return Err(Error::new(
            ErrorKind::Invalid,
            at,
            "odoo_instance: must not be empty",
        ));
    }
    if odoo_user_id <= 0 {
        return Err(Error::new(
            ErrorKind::Invalid,
            at,
            format!("odoo_user_id: expected a positive res_users id, got {odoo_user_id}"),
        ));
    }
    Ok(())
}

fn check_auth_id(auth_id: &str, at: &str) -> Result<(), Error> {
    if auth_id.is_empty() {
        return Err(Error::new(
            ErrorKind::Invalid,
            at,
            "auth user id: must not be empty",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn odoo(instance: &str, id: i64, login: &str, email: Option<&str>) -> OdooUser {
        OdooUser {
            odoo_instance: instance.into(),
            odoo_user_id: id,
            login: login.into(),
            email: email.map(Into::into),
            active: true,
            share: false,
            deleted: false,
        }
    }

    fn person(id: &str, email: &str) -> AuthUser {
        AuthUser {
            id: id.into(),
            email: Some(email.into()),
            email_confirmed: true,
        }
    }

    fn unconfirmed(id: &str, email: &str) -> AuthUser {
        AuthUser {
            email_confirmed: false,
            ..person(id, email)
        }
    }

    fn decision(instance: &str, id: i64, auth: &str, kind: DecisionKind) -> AdminDecision {
        AdminDecision {
            odoo_instance: instance.into(),
            odoo_user_id: id,
            auth_user_id: auth.into(),
            kind,
        }
    }

    fn admin_link(instance: &str, id: i64, auth: &str) -> AdminDecision {
        decision(instance, id, auth, DecisionKind::Link)
    }

    fn admin_unlink(instance: &str, id: i64, auth: &str) -> AdminDecision {
        decision(instance, id, auth, DecisionKind::Unlink)
    }

    fn run(odoo_users: Vec<OdooUser>, auth_users: Vec<AuthUser>) -> Mapping {
        run_with(odoo_users, auth_users, vec![])
    }

    fn run_with(
        odoo_users: Vec<OdooUser>,
        auth_users: Vec<AuthUser>,
        decisions: Vec<AdminDecision>,
    ) -> Mapping {
        let mapping = decide(&Input {
            odoo_users: odoo_users.clone(),
            auth_users,
            decisions,
        })
        .unwrap();
        // Every Odoo user is accounted for exactly once.
        assert_eq!(
            mapping.links.len() + mapping.unlinked.len(),
            odoo_users.len()
        );
        mapping
    }

    fn link_of<'m>(mapping: &'m Mapping, instance: &str, id: i64) -> Option<&'m Link> {
        mapping
            .links
            .iter()
            .find(|link| link.odoo_instance == instance && link.odoo_user_id == id)
    }

    /// The auth user an Odoo user is linked to and how, or `None`.
    fn linked(mapping: &Mapping, instance: &str, id: i64) -> Option<(String, How)> {
        link_of(mapping, instance, id).map(|link| (link.auth_user_id.clone(), link.how))
    }

    fn reason(mapping: &Mapping, instance: &str, id: i64) -> Option<Reason> {
        mapping
            .unlinked
            .iter()
            .find(|u| u.odoo_instance == instance && u.odoo_user_id == id)
            .map(|u| u.reason.clone())
    }

    fn auto(auth: &str) -> Option<(String, How)> {
        Some((auth.into(), How::Automatic))
    }

    fn by_admin(auth: &str) -> Option<(String, How)> {
        Some((auth.into(), How::Admin))
    }

    fn ambiguous(odoo_user_ids: &[i64], auth_user_ids: &[&str]) -> Option<Reason> {
        Some(Reason::Ambiguous {
            odoo_user_ids: odoo_user_ids.to_vec(),
            auth_user_ids: auth_user_ids.iter().map(|id| (*id).into()).collect(),
        })
    }

    fn ids(auth_user_ids: &[&str]) -> Vec<String> {
        auth_user_ids.iter().map(|id| (*id).into()).collect()
    }

    // Rule 1: a match is a confirmed email equal to the login or the email.

    #[test]
    fn a_confirmed_email_equal_to_the_login_up_to_case_links() {
        let m = run(
            vec![odoo("prod", 7, "Ana@Example.COM", None)],
            vec![person("A", "ana@example.com")],
        );
        assert_eq!(linked(&m, "prod", 7), auto("A"));
        let link = link_of(&m, "prod", 7).unwrap();
        assert_eq!(link.odoo_login, "Ana@Example.COM");
        assert!(link.active);
    }

    #[test]
    fn a_confirmed_email_equal_to_the_partner_email_links() {
        let m = run(
            vec![odoo("prod", 7, "admin", Some("Ana@example.com"))],
            vec![person("A", "ANA@EXAMPLE.COM")],
        );
        assert_eq!(linked(&m, "prod", 7), auto("A"));
    }

    #[test]
    fn an_unconfirmed_email_does_not_link() {
        let m = run(
            vec![odoo("prod", 7, "ana@example.com", None)],
            vec![unconfirmed("A", "ana@example.com")],
        );
        assert_eq!(linked(&m, "prod", 7), None);
        assert_eq!(reason(&m, "prod", 7), Some(Reason::NoConfirmedMatch));
    }

    #[test]
    fn an_unconfirmed_case_variant_does_not_compete() {
        let m = run(
            vec![odoo("prod", 7, "ana@example.com", None)],
            vec![
                person("A", "ana@example.com"),
                unconfirmed("Z", "ANA@example.com"),
            ],
        );
        assert_eq!(linked(&m, "prod", 7), auto("A"));
    }

    #[test]
    fn empty_or_missing_addresses_match_nothing() {
        let m = run(
            vec![odoo("prod", 7, "", Some(""))],
            vec![
                person("A", ""),
                AuthUser {
                    id: "B".into(),
                    email: None,
                    email_confirmed: true,
                },
            ],
        );
        assert_eq!(reason(&m, "prod", 7), Some(Reason::NoConfirmedMatch));
    }

    #[test]
    fn nothing_but_case_is_normalised() {
        let m = run(
            vec![
                odoo("prod", 1, " ana@example.com", None),
                odoo("prod", 2, "STRASSE@example.com", None),
                odoo("prod", 3, "İ@example.com", None),
            ],
            vec![
                person("A", "ana@example.com"),
                person("S", "straße@example.com"),
                // The full lowercase of `İ` is `i` and a combining dot above.
                person("I", "i\u{307}@example.com"),
            ],
        );
        assert_eq!(reason(&m, "prod", 1), Some(Reason::NoConfirmedMatch));
        assert_eq!(reason(&m, "prod", 2), Some(Reason::NoConfirmedMatch));
        assert_eq!(linked(&m, "prod", 3), auto("I"));
        assert_eq!(match_key("ΟΔΟΣ").as_deref(), Some("οδος"));
        assert_eq!(match_key("").as_deref(), None);
    }

    // Rule 2: ambiguous means no link.

    #[test]
    fn two_logins_that_differ_only_by_case_link_neither() {
        let m = run(
            vec![
                odoo("prod", 7, "Ana@example.com", None),
                odoo("prod", 8, "ana@example.com", None),
            ],
            vec![person("A", "ana@example.com")],
        );
        assert!(m.links.is_empty());
        assert_eq!(reason(&m, "prod", 7), ambiguous(&[8], &["A"]));
        assert_eq!(reason(&m, "prod", 8), ambiguous(&[7], &["A"]));
    }

    #[test]
    fn a_login_equal_to_another_users_email_is_ambiguous() {
        let m = run(
            vec![
                odoo("prod", 7, "ana@example.com", None),
                odoo("prod", 8, "ana2", Some("ANA@example.com")),
            ],
            vec![person("A", "ana@example.com")],
        );
        assert_eq!(reason(&m, "prod", 7), ambiguous(&[8], &["A"]));
        assert_eq!(reason(&m, "prod", 8), ambiguous(&[7], &["A"]));
    }

    #[test]
    fn two_people_with_one_address_up_to_case_link_neither() {
        let m = run(
            vec![odoo("prod", 7, "ana@example.com", None)],
            vec![
                person("A", "ana@example.com"),
                person("B", "Ana@Example.com"),
            ],
        );
        assert!(m.links.is_empty());
        assert_eq!(reason(&m, "prod", 7), ambiguous(&[], &["A", "B"]));
    }

    #[test]
    fn a_login_and_an_email_matching_two_people_is_ambiguous() {
        let m = run(
            vec![odoo("prod", 7, "ana@example.com", Some("ana@home.example"))],
            vec![
                person("A", "ana@example.com"),
                person("B", "ana@home.example"),
            ],
        );
        assert_eq!(reason(&m, "prod", 7), ambiguous(&[], &["A", "B"]));
    }

    #[test]
    fn ambiguity_names_every_contender_of_every_match() {
        // 7 matches A and B; 8 also wants A, 9 also wants B.
        let m = run(
            vec![
                odoo("prod", 7, "ana@example.com", Some("ana@home.example")),
                odoo("prod", 8, "ANA@example.com", None),
                odoo("prod", 9, "ana@home.example", None),
            ],
            vec![
                person("A", "ana@example.com"),
                person("B", "ana@home.example"),
            ],
        );
        assert!(m.links.is_empty());
        assert_eq!(reason(&m, "prod", 7), ambiguous(&[8, 9], &["A", "B"]));
        assert_eq!(reason(&m, "prod", 8), ambiguous(&[7], &["A"]));
        assert_eq!(reason(&m, "prod", 9), ambiguous(&[7], &["B"]));
    }

    #[test]
    fn case_variants_nobody_matches_are_merely_unmatched() {
        let m = run(
            vec![
                odoo("prod", 7, "Ana@example.com", None),
                odoo("prod", 8, "ana@example.com", None),
            ],
            vec![person("B", "bob@example.com")],
        );
        assert_eq!(reason(&m, "prod", 7), Some(Reason::NoConfirmedMatch));
        assert_eq!(reason(&m, "prod", 8), Some(Reason::NoConfirmedMatch));
    }

    #[test]
    fn an_admin_unlink_settles_an_ambiguity() {
        let m = run_with(
            vec![
                odoo("prod", 7, "Ana@example.com", None),
                odoo("prod", 8, "ana@example.com", None),
            ],
            vec![person("A", "ana@example.com")],
            vec![admin_unlink("prod", 8, "A")],
        );
        assert_eq!(linked(&m, "prod", 7), auto("A"));
        assert_eq!(
            reason(&m, "prod", 8),
            Some(Reason::UnlinkedByAdmin {
                auth_user_ids: ids(&["A"])
            })
        );
    }

    #[test]
    fn an_admin_link_settles_an_ambiguity() {
        let m = run_with(
            vec![
                odoo("prod", 7, "Ana@example.com", None),
                odoo("prod", 8, "ana@example.com", None),
            ],
            vec![person("A", "ana@example.com")],
            vec![admin_link("prod", 8, "A")],
        );
        assert_eq!(linked(&m, "prod", 8), by_admin("A"));
        assert_eq!(
            reason(&m, "prod", 7),
            Some(Reason::MatchLinkedByAdmin {
                auth_user_ids: ids(&["A"])
            })
        );
    }

    #[test]
    fn a_person_linked_by_an_admin_leaves_the_contest() {
        // 7 matches A (linked by an admin to 9) and B: B is its only match.
        let m = run_with(
            vec![
                odoo("prod", 7, "ana@example.com", Some("ana@home.example")),
                odoo("prod", 9, "ana-old", None),
            ],
            vec![
                person("A", "ana@example.com"),
                person("B", "ana@home.example"),
            ],
            vec![admin_link("prod", 9, "A")],
        );
        assert_eq!(linked(&m, "prod", 9), by_admin("A"));
        assert_eq!(linked(&m, "prod", 7), auto("B"));
    }

    // Rule 3: portal users link only by an admin.

    #[test]
    fn a_portal_user_is_not_linked_automatically() {
        let m = run(
            vec![OdooUser {
                share: true,
                ..odoo("prod", 7, "ana@example.com", None)
            }],
            vec![person("A", "ana@example.com")],
        );
        assert!(m.links.is_empty());
        assert_eq!(reason(&m, "prod", 7), Some(Reason::Portal));
    }

    #[test]
    fn a_portal_case_variant_does_not_block_an_internal_user() {
        let m = run(
            vec![
                odoo("prod", 7, "ana@example.com", None),
                OdooUser {
                    share: true,
                    ..odoo("prod", 8, "Ana@example.com", None)
                },
            ],
            vec![person("A", "ana@example.com")],
        );
        assert_eq!(linked(&m, "prod", 7), auto("A"));
        assert_eq!(reason(&m, "prod", 8), Some(Reason::Portal));
    }

    #[test]
    fn an_admin_may_link_a_portal_user() {
        let m = run_with(
            vec![OdooUser {
                share: true,
                ..odoo("prod", 7, "customer@example.com", None)
            }],
            vec![person("A", "ana@example.com")],
            vec![admin_link("prod", 7, "A")],
        );
        assert_eq!(linked(&m, "prod", 7), by_admin("A"));
    }

    #[test]
    fn portal_comes_before_an_admin_unlink_as_the_reason() {
        let m = run_with(
            vec![OdooUser {
                share: true,
                ..odoo("prod", 7, "ana@example.com", None)
            }],
            vec![person("A", "ana@example.com")],
            vec![admin_unlink("prod", 7, "A")],
        );
        assert_eq!(reason(&m, "prod", 7), Some(Reason::Portal));
    }

    // Rule 4: archived, the link is kept, inactive.

    #[test]
    fn an_archived_user_keeps_its_automatic_link_inactive() {
        let archived = OdooUser {
            active: false,
            ..odoo("prod", 7, "ana@example.com", None)
        };
        let m = run(vec![archived], vec![person("A", "ana@example.com")]);
        let link = link_of(&m, "prod", 7).unwrap();
        assert_eq!(
            (link.auth_user_id.as_str(), link.how),
            ("A", How::Automatic)
        );
        assert!(!link.active);
    }

    #[test]
    fn an_archived_user_keeps_its_admin_link_inactive() {
        let archived = OdooUser {
            active: false,
            ..odoo("prod", 7, "admin", None)
        };
        let m = run_with(
            vec![archived],
            vec![person("A", "ana@example.com")],
            vec![admin_link("prod", 7, "A")],
        );
        let link = link_of(&m, "prod", 7).unwrap();
        assert_eq!((link.auth_user_id.as_str(), link.how), ("A", How::Admin));
        assert!(!link.active);
    }

    #[test]
    fn an_archived_user_still_competes() {
        let m = run(
            vec![
                OdooUser {
                    active: false,
                    ..odoo("prod", 7, "ana", Some("ana@example.com"))
                },
                odoo("prod", 8, "ana.new", Some("ana@example.com")),
            ],
            vec![person("A", "ana@example.com")],
        );
        assert!(m.links.is_empty());
        assert_eq!(reason(&m, "prod", 7), ambiguous(&[8], &["A"]));
        assert_eq!(reason(&m, "prod", 8), ambiguous(&[7], &["A"]));
    }

    // Rule 5: deleted, the link ends.

    #[test]
    fn a_deleted_user_has_no_link() {
        let m = run(
            vec![OdooUser {
                deleted: true,
                ..odoo("prod", 7, "ana@example.com", None)
            }],
            vec![person("A", "ana@example.com")],
        );
        assert!(m.links.is_empty());
        assert_eq!(reason(&m, "prod", 7), Some(Reason::Deleted));
    }

    #[test]
    fn deletion_ends_an_admin_link_and_frees_the_person() {
        let m = run_with(
            vec![
                OdooUser {
                    deleted: true,
                    ..odoo("prod", 7, "ana-old", None)
                },
                odoo("prod", 8, "ana@example.com", None),
            ],
            vec![person("A", "ana@example.com")],
            vec![admin_link("prod", 7, "A")],
        );
        assert_eq!(reason(&m, "prod", 7), Some(Reason::Deleted));
        assert_eq!(linked(&m, "prod", 8), auto("A"));
        // Its user is still in the input, so the decision is not stale.
        assert!(m.stale_decisions.is_empty());
    }

    #[test]
    fn a_self_deleted_portal_login_counts_as_deleted() {
        let m = run_with(
            vec![OdooUser {
                active: false,
                share: true,
                ..odoo(
                    "prod",
                    7,
                    "__deleted_user_7_1767225600",
                    Some("ana@example.com"),
                )
            }],
            vec![person("A", "ana@example.com")],
            vec![admin_link("prod", 7, "A")],
        );
        assert!(m.links.is_empty());
        assert_eq!(reason(&m, "prod", 7), Some(Reason::Deleted));
    }

    #[test]
    fn a_deleted_user_does_not_compete() {
        let m = run(
            vec![
                OdooUser {
                    deleted: true,
                    ..odoo("prod", 7, "Ana@example.com", None)
                },
                odoo("prod", 8, "ana@example.com", None),
            ],
            vec![person("A", "ana@example.com")],
        );
        assert_eq!(linked(&m, "prod", 8), auto("A"));
    }

    // Rule 6: automatic links follow the current values.

    #[test]
    fn a_changed_login_moves_the_automatic_link() {
        let people = vec![
            person("A", "ana@example.com"),
            person("B", "bob@example.com"),
        ];
        let before = run(
            vec![odoo("prod", 7, "ana@example.com", None)],
            people.clone(),
        );
        assert_eq!(linked(&before, "prod", 7), auto("A"));
        let after = run(vec![odoo("prod", 7, "bob@example.com", None)], people);
        assert_eq!(linked(&after, "prod", 7), auto("B"));
        assert_eq!(
            link_of(&after, "prod", 7).unwrap().odoo_login,
            "bob@example.com"
        );
    }

    #[test]
    fn a_changed_odoo_email_ends_the_automatic_link() {
        let people = vec![person("A", "ana@example.com")];
        let before = run(
            vec![odoo("prod", 7, "ana", Some("ana@example.com"))],
            people.clone(),
        );
        assert_eq!(linked(&before, "prod", 7), auto("A"));
        let after = run(
            vec![odoo("prod", 7, "ana", Some("ana@elsewhere.example"))],
            people,
        );
        assert_eq!(reason(&after, "prod", 7), Some(Reason::NoConfirmedMatch));
    }

    #[test]
    fn a_changed_supabase_email_moves_the_automatic_link() {
        let users = vec![odoo("prod", 7, "ana@example.com", None)];
        let before = run(
            users.clone(),
            vec![person("A", "ana@example.com"), person("B", "b@example.com")],
        );
        assert_eq!(linked(&before, "prod", 7), auto("A"));
        let after = run(
            users,
            vec![person("A", "a@example.com"), person("B", "ana@example.com")],
        );
        assert_eq!(linked(&after, "prod", 7), auto("B"));
    }

    #[test]
    fn an_admin_link_ignores_changed_values() {
        let m = run_with(
            vec![odoo("prod", 7, "renamed", Some("other@example.com"))],
            vec![unconfirmed("A", "ana@example.com"), person("B", "renamed")],
            vec![admin_link("prod", 7, "A")],
        );
        assert_eq!(linked(&m, "prod", 7), by_admin("A"));
    }

    // Rule 7: an admin's decision always wins over the automatic rules.

    #[test]
    fn an_admin_link_needs_no_matching_or_confirmed_email() {
        let m = run_with(
            vec![odoo("prod", 7, "admin", None)],
            vec![unconfirmed("A", "someone@example.com")],
            vec![admin_link("prod", 7, "A")],
        );
        assert_eq!(linked(&m, "prod", 7), by_admin("A"));
    }

    #[test]
    fn an_admin_link_beats_a_different_automatic_match() {
        let m = run_with(
            vec![odoo("prod", 7, "ana@example.com", None)],
            vec![
                person("A", "ana@example.com"),
                person("B", "bob@example.com"),
            ],
            vec![admin_link("prod", 7, "B")],
        );
        assert_eq!(linked(&m, "prod", 7), by_admin("B"));
        assert_eq!(m.links.len(), 1);
    }

    #[test]
    fn an_admin_unlink_blocks_the_automatic_link_of_that_pair() {
        let m = run_with(
            vec![odoo("prod", 7, "ana@example.com", Some("ANA@example.com"))],
            vec![person("A", "ana@example.com")],
            vec![admin_unlink("prod", 7, "A")],
        );
        assert!(m.links.is_empty());
        assert_eq!(
            reason(&m, "prod", 7),
            Some(Reason::UnlinkedByAdmin {
                auth_user_ids: ids(&["A"])
            })
        );
    }

    #[test]
    fn an_admin_unlink_is_about_one_pair_only() {
        let m = run_with(
            vec![odoo("prod", 7, "ana@example.com", None)],
            vec![
                person("A", "bob@example.com"),
                person("B", "ana@example.com"),
            ],
            vec![admin_unlink("prod", 7, "A")],
        );
        assert_eq!(linked(&m, "prod", 7), auto("B"));
    }

    #[test]
    fn an_admin_unlink_is_reported_before_a_taken_match() {
        let m = run_with(
            vec![
                odoo("prod", 7, "ana@example.com", Some("ana@home.example")),
                odoo("prod", 8, "other", None),
            ],
            vec![
                person("A", "ana@example.com"),
                person("B", "ana@home.example"),
            ],
            vec![admin_unlink("prod", 7, "A"), admin_link("prod", 8, "B")],
        );
        assert_eq!(
            reason(&m, "prod", 7),
            Some(Reason::UnlinkedByAdmin {
                auth_user_ids: ids(&["A"])
            })
        );
    }

    #[test]
    fn decisions_about_absent_users_are_stale_and_have_no_effect() {
        let gone_person = admin_link("prod", 7, "GONE");
        let gone_user = admin_unlink("prod", 99, "A");
        let m = run_with(
            vec![odoo("prod", 7, "ana@example.com", None)],
            vec![person("A", "ana@example.com")],
            vec![gone_user.clone(), gone_person.clone(), gone_person.clone()],
        );
        assert_eq!(linked(&m, "prod", 7), auto("A"));
        assert_eq!(m.stale_decisions, vec![gone_person, gone_user]);
    }

    #[test]
    fn contradicting_decisions_are_refused() {
        let input = |decisions| Input {
            odoo_users: vec![odoo("prod", 7, "a", None), odoo("prod", 8, "b", None)],
            auth_users: vec![person("A", "a@x.io"), person("B", "b@x.io")],
            decisions,
        };
        let err = decide(&input(vec![
            admin_link("prod", 7, "A"),
            admin_unlink("prod", 7, "A"),
        ]))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(
            err.to_string(),
            r#"decisions ("prod", 7, "A"): both linked and unlinked by admins"#
        );

        let err = decide(&input(vec![
            admin_link("prod", 7, "B"),
            admin_link("prod", 7, "A"),
        ]))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(
            err.to_string(),
            r#"decisions ("prod", 7): linked by admins to two people, "A" and "B""#
        );

        let err = decide(&input(vec![
            admin_link("prod", 8, "A"),
            admin_link("prod", 7, "A"),
        ]))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.location(), r#"decisions ("prod", "A")"#);
    }

    #[test]
    fn a_decision_recorded_twice_counts_once() {
        let m = run_with(
            vec![odoo("prod", 7, "admin", None)],
            vec![person("A", "ana@example.com")],
            vec![admin_link("prod", 7, "A"), admin_link("prod", 7, "A")],
        );
        assert_eq!(linked(&m, "prod", 7), by_admin("A"));
    }

    // Rule 8: per instance.

    #[test]
    fn one_person_is_linked_in_every_instance() {
        let m = run(
            vec![
                odoo("dev", 2, "admin", Some("ana@example.com")),
                odoo("staging", 2, "admin", Some("ana@example.com")),
                odoo("prod", 7, "ana@example.com", None),
            ],
            vec![person("A", "ana@example.com")],
        );
        assert_eq!(linked(&m, "dev", 2), auto("A"));
        assert_eq!(linked(&m, "staging", 2), auto("A"));
        assert_eq!(linked(&m, "prod", 7), auto("A"));
    }

    #[test]
    fn instances_do_not_compete_or_share_admin_decisions() {
        let m = run_with(
            vec![
                odoo("dev", 7, "ana@example.com", None),
                odoo("prod", 7, "ana@example.com", None),
                odoo("staging", 7, "ana@example.com", None),
            ],
            vec![
                person("A", "ana@example.com"),
                person("B", "bob@example.com"),
            ],
            vec![admin_link("dev", 7, "B"), admin_unlink("staging", 7, "A")],
        );
        assert_eq!(linked(&m, "dev", 7), by_admin("B"));
        assert_eq!(linked(&m, "prod", 7), auto("A"));
        assert_eq!(
            reason(&m, "staging", 7),
            Some(Reason::UnlinkedByAdmin {
                auth_user_ids: ids(&["A"])
            })
        );
    }

    #[test]
    fn the_same_person_may_be_linked_by_admins_in_two_instances() {
        let m = run_with(
            vec![odoo("dev", 1, "x", None), odoo("prod", 1, "y", None)],
            vec![person("A", "ana@example.com")],
            vec![admin_link("dev", 1, "A"), admin_link("prod", 1, "A")],
        );
        assert_eq!(m.links.len(), 2);
    }

    // Rule 9: deterministic.

    #[test]
    fn the_result_is_sorted_whatever_the_input_order() {
        let users = vec![
            odoo("staging", 3, "c@x.io", None),
            odoo("dev", 9, "zed", None),
            odoo("prod", 1, "a@x.io", None),
            odoo("dev", 2, "b@x.io", None),
        ];
        let people = vec![
            person("C", "c@x.io"),
            person("A", "a@x.io"),
            person("B", "b@x.io"),
        ];
        let m = run(users.clone(), people.clone());
        let keys: Vec<(&str, i64)> = m
            .links
            .iter()
            .map(|l| (l.odoo_instance.as_str(), l.odoo_user_id))
            .collect();
        assert_eq!(keys, [("dev", 2), ("prod", 1), ("staging", 3)]);
        let mut reversed_users = users;
        reversed_users.reverse();
        let mut reversed_people = people;
        reversed_people.reverse();
        assert_eq!(run(reversed_users, reversed_people), m);
    }

    #[test]
    fn malformed_input_is_refused_by_key() {
        let err = decide(&Input {
            odoo_users: vec![odoo("prod", 7, "a", None), odoo("prod", 7, "b", None)],
            ..Input::default()
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Duplicate);
        assert_eq!(err.to_string(), r#"odoo_users ("prod", 7): listed twice"#);

        let err = decide(&Input {
            auth_users: vec![person("A", "a@x.io"), unconfirmed("A", "b@x.io")],
            ..Input::default()
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Duplicate);
        assert_eq!(err.location(), r#"auth_users "A""#);

        for (odoo_users, auth_users, decisions, message) in [
            (
                vec![odoo("", 7, "a", None)],
                vec![],
                vec![],
                "odoo_instance: must not be empty",
            ),
            (
                vec![odoo("prod", 0, "a", None)],
                vec![],
                vec![],
                "odoo_user_id: expected a positive res_users id, got 0",
            ),
            (
                vec![],
                vec![person("", "a@x.io")],
                vec![],
                "auth user id: must not be empty",
            ),
            (
                vec![],
                vec![],
                vec![admin_link("prod", -1, "A")],
                "odoo_user_id: expected a positive res_users id, got -1",
            ),
            (
                vec![],
                vec![],
                vec![admin_unlink("prod", 1, "")],
                "auth user id: must not be empty",
            ),
        ] {
            let err = decide(&Input {
                odoo_users,
                auth_users,
                decisions,
            })
            .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid);
            assert_eq!(err.message(), message);
        }
    }

    #[test]
    fn the_reported_error_does_not_depend_on_input_order() {
        let users = vec![
            odoo("prod", 9, "a", None),
            odoo("prod", 9, "b", None),
            odoo("dev", 3, "c", None),
            odoo("dev", 3, "d", None),
        ];
        let first = decide(&Input {
            odoo_users: users.clone(),
            ..Input::default()
        })
        .unwrap_err();
        let mut reversed = users;
        reversed.reverse();
        let second = decide(&Input {
            odoo_users: reversed,
            ..Input::default()
        })
        .unwrap_err();
        assert_eq!(first, second);
        assert_eq!(first.location(), r#"odoo_users ("dev", 3)"#);
    }

    // The JSON the bindings speak.

    #[test]
    fn the_wire_format() {
        let input: Input = serde_json::from_value(serde_json::json!({
            "odoo_users": [
                { "odoo_instance": "prod", "odoo_user_id": 7, "login": "Ana@example.com",
                  "active": true, "share": false },
                { "odoo_instance": "prod", "odoo_user_id": 8, "login": "ana@example.com",
                  "email": null, "active": true, "share": false, "deleted": false }
            ],
            "auth_users": [{ "id": "A", "email": "ana@example.com", "email_confirmed": true }]
        }))
        .unwrap();
        let mapping = decide(&input).unwrap();
        let json = serde_json::to_value(&mapping).unwrap();
        assert_eq!(
            json["unlinked"][0],
            serde_json::json!({
                "odoo_instance": "prod", "odoo_user_id": 7, "odoo_login": "Ana@example.com",
                "reason": "ambiguous", "odoo_user_ids": [8], "auth_user_ids": ["A"]
            })
        );
        let back: Mapping = serde_json::from_value(json).unwrap();
        assert_eq!(back, mapping);

        let linked: Mapping = serde_json::from_value(serde_json::json!({
            "links": [{ "odoo_instance": "dev", "odoo_user_id": 2, "odoo_login": "admin",
                        "auth_user_id": "A", "active": false, "how": "admin" }],
            "unlinked": [{ "odoo_instance": "dev", "odoo_user_id": 3, "odoo_login": "x",
                           "reason": "no_confirmed_match" }],
            "stale_decisions": [{ "odoo_instance": "dev", "odoo_user_id": 4,
                                  "auth_user_id": "B", "kind": "unlink" }]
        }))
        .unwrap();
        assert_eq!(linked.links[0].how, How::Admin);
        assert_eq!(linked.unlinked[0].reason, Reason::NoConfirmedMatch);
        assert_eq!(linked.stale_decisions[0].kind, DecisionKind::Unlink);
    }

    #[test]
    fn a_misspelt_field_is_refused_not_defaulted() {
        let result: Result<OdooUser, _> = serde_json::from_value(serde_json::json!({
            "odoo_instance": "prod", "odoo_user_id": 7, "login": "a",
            "active": true, "share": false, "shared": true
        }));
        assert!(result.is_err());
        let result: Result<OdooUser, _> = serde_json::from_value(serde_json::json!({
            "odoo_instance": "prod", "odoo_user_id": 7, "login": "a", "active": true
        }));
        assert!(result.is_err(), "share has no default");
    }
}
