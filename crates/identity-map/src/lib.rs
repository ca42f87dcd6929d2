//! Who is who: which Supabase Auth user is which Odoo user, per Odoo
//! instance (Rule 4 of the data boundaries).
//!
//! [`decide`] takes the Odoo users of one or more instances (`res_users`
//! joined to `res_partner`), the Supabase Auth users and the admins' explicit
//! decisions, and returns every link (instance, Odoo user id, login, auth user
//! id, active, automatic or by an admin) and, for every Odoo user without a
//! link, the reason. It reads no clock, no environment and no network, uses
//! no randomness, and the same input in any order gives the same result. The
//! caller stores the links (`ops.odoo_users`); only an active link names an
//! Odoo identity the person may act as.
//!
//! ```
//! use identity_map::{decide, How, Input, Reason};
//! use serde_json::json;
//!
//! let input: Input = serde_json::from_value(json!({
//!     "odoo_users": [
//!         // Odoo keeps logins as typed: these are two users of `prod`.
//!         { "odoo_instance": "prod", "odoo_user_id": 7, "login": "Ana@Example.com",
//!           "email": null, "active": true, "share": false },
//!         { "odoo_instance": "prod", "odoo_user_id": 8, "login": "ana@example.com",
//!           "email": null, "active": true, "share": false },
//!         { "odoo_instance": "dev", "odoo_user_id": 2, "login": "admin",
//!           "email": "ana@example.com", "active": true, "share": false }
//!     ],
//!     "auth_users": [
//!         { "id": "7d0c6a3e-0000-4000-8000-000000000001", "email": "ana@example.com",
//!           "email_confirmed": true }
//!     ],
//!     "decisions": []
//! })).unwrap();
//!
//! let mapping = decide(&input).unwrap();
//! // In dev, the partner's email matches: an automatic link.
//! assert_eq!(mapping.links.len(), 1);
//! assert_eq!(mapping.links[0].odoo_instance, "dev");
//! assert_eq!(mapping.links[0].odoo_login, "admin");
//! assert_eq!(mapping.links[0].how, How::Automatic);
//! // In prod, two logins differ only by case: neither is linked, and each
//! // says who it competes with.
//! assert_eq!(mapping.unlinked.len(), 2);
//! assert_eq!(mapping.unlinked[0].odoo_user_id, 7);
//! assert_eq!(
//!     mapping.unlinked[0].reason,
//!     Reason::Ambiguous {
//!         odoo_user_ids: vec![8],
//!         auth_user_ids: vec!["7d0c6a3e-0000-4000-8000-000000000001".into()],
//!     }
//! );
//! ```
//!
//! # The rules
//!
//! 1. **A match is a confirmed email equal to the login or the email.** An
//!    Odoo user and a Supabase user match when the Supabase user's email is
//!    confirmed (`email_confirmed_at` is set) and equals, case-insensitively,
//!    the Odoo user's login or its partner's email. Case-insensitively means
//!    equal after [`match_key`]: Rust's `str::to_lowercase`, Unicode's *full*
//!    lowercase mapping (`İ` becomes `i̇`, a final `Σ` becomes `ς`); it is not
//!    case folding (`ß` does not match `SS`), and nothing is trimmed or
//!    otherwise normalised, because a link vouches for an identity and every
//!    extra normalisation is one more way for two different addresses to
//!    meet. An empty login or email matches nothing. An unconfirmed address
//!    neither links nor competes: it proves nothing, and if it competed,
//!    anyone could block someone's link by signing up with a case variant of
//!    their address.
//! 2. **Ambiguous means no link.** An automatic link is made only when the
//!    Odoo user matches exactly one person and that person matches no other
//!    candidate of the instance. Odoo core does not lowercase logins
//!    (`Bob@x.io` and `bob@x.io` are two valid users of one database), emails
//!    are not unique in Odoo, and nothing here assumes Auth's addresses are
//!    unique up to case; guessing which one is the person could hand one employee's
//!    identity to another. So every contender is left unlinked, with
//!    [`Reason::Ambiguous`] naming the other Odoo users and the people
//!    involved, until an admin decides (rule 7). Ambiguity is judged after the
//!    admins' decisions: a person an admin linked in the instance is out of
//!    the contest, and an unlinked pair does not match, so an admin settles an
//!    ambiguity either by linking the right pair or by unlinking the wrong ones.
//! 3. **Portal users link only by an admin.** A `share` user (portal or
//!    public) is never linked automatically ([`Reason::Portal`]) and does not
//!    compete with internal users. The control plane is for the people who run
//!    Odoo, and a portal account's address is no evidence of who holds it:
//!    the portal wizard creates the user, login included, from whatever
//!    address the partner record holds, before anyone accepts the
//!    invitation, and free sign-up (when enabled) lets anyone create one for
//!    any address. If portal users competed,
//!    signing up with a case variant of an employee's address would block the
//!    employee's link. An admin may still link a portal user explicitly.
//! 4. **Archived: the link is kept, inactive.** An archived Odoo user keeps
//!    its link (automatic or an admin's) with `active: false`, so that
//!    unarchiving restores it unchanged; an inactive link names no identity
//!    the person may act as. An archived user is still a real account and
//!    still competes: an archived account and a new one with the same
//!    address are ambiguous until an admin picks one.
//! 5. **Deleted: the link ends.** A deleted Odoo user has no link, not even
//!    an admin's ([`Reason::Deleted`]). Odoo's unlink is a hard `DELETE` with
//!    no tombstone and ids come from a sequence, so the identity can never come
//!    back: an inactive link would promise an unarchive that cannot happen,
//!    and would hold the person's place in the instance for nothing (runs
//!    keep their author's login as text, so no history depends on the link).
//!    A login starting with [`DELETED_LOGIN_PREFIX`] counts as deleted too:
//!    Odoo writes it when a portal user deletes their own account, archiving
//!    the user and queueing the real deletion; that person asked to go.
//! 6. **Automatic links follow the current values.** An automatic link is
//!    not a stored decision: every call decides it again from the current
//!    logins, emails and confirmations, so a login or an email changed on
//!    either side moves, ends or creates it. There is no "previous links"
//!    input to be stale.
//! 7. **An admin's decision always wins over the automatic rules.** An
//!    explicit link links that pair ([`How::Admin`]) whatever the emails,
//!    their confirmation, `share` or any ambiguity say; an explicit unlink
//!    means that pair is never linked automatically, whatever the emails say
//!    later. Only deletion (rule 5) ends an admin's link: it is not an
//!    automatic rule but the end of the Odoo user. A decision about an Odoo
//!    user or a person not in the input has no effect and is returned in
//!    [`Mapping::stale_decisions`]; decisions that contradict each other are an
//!    error ([`ErrorKind::Conflict`]).
//! 8. **Per instance.** Each instance is decided on its own, so one person may
//!    be linked in `dev`, `staging` and `prod`. Within an instance a person
//!    has at most one Odoo user and an Odoo user at most one person.
//! 9. **Deterministic.** Links and unlinked users are sorted by (instance,
//!    Odoo user id), id lists inside reasons are sorted, and errors name
//!    records by their keys, never by their position.
//!
//! Every Odoo user of the input appears exactly once, in
//! [`Mapping::links`] or in [`Mapping::unlinked`]. When several reasons
//! apply, the first of these is given: deleted, portal, ambiguous, unlinked
//! by an admin, its only match linked by an admin to another Odoo user, no
//! confirmed match.
#![deny(missing_docs)]

mod decide;
mod error;
mod model;

pub use decide::{decide, match_key, DELETED_LOGIN_PREFIX};
pub use error::{Error, ErrorKind};
pub use model::{
    AdminDecision, AuthUser, DecisionKind, How, Input, Link, Mapping, OdooUser, Reason, Unlinked,
};
