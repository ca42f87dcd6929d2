//! What goes in and what comes out, as plain serde data.

use serde::{Deserialize, Serialize};

/// One Odoo user (`res_users` joined to its `res_partner`) of one instance.
///
/// Unknown fields are refused: a misspelt `share` that silently defaulted
/// would decide who is an operator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdooUser {
    /// The Odoo instance (database) the user belongs to: `dev`, `staging`,
    /// `prod`, …
    pub odoo_instance: String,
    /// `res_users.id`.
    pub odoo_user_id: i64,
    /// `res_users.login`, exactly as Odoo stores it (Odoo does not lowercase
    /// or trim it).
    pub login: String,
    /// The partner's `email` (`res_partner.email`, not `email_normalized`),
    /// if any.
    #[serde(default)]
    pub email: Option<String>,
    /// `res_users.active`; `false` for an archived user.
    pub active: bool,
    /// `res_users.share`: `true` for portal and public users, `false` for
    /// internal users.
    pub share: bool,
    /// The user was deleted in Odoo (a `user_deleted` event, or gone from
    /// `res_users` at a reconcile).
    #[serde(default)]
    pub deleted: bool,
}

/// One Supabase Auth user (`auth.users`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthUser {
    /// `auth.users.id`.
    pub id: String,
    /// `auth.users.email`, if any.
    #[serde(default)]
    pub email: Option<String>,
    /// `auth.users.email_confirmed_at is not null`.
    pub email_confirmed: bool,
}

/// What an admin decided about one pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// This Odoo user is this person, whatever their emails say.
    Link,
    /// This Odoo user is not this person, whatever their emails say.
    Unlink,
}

/// An admin's explicit decision about one (instance, Odoo user, auth user).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminDecision {
    /// The Odoo instance.
    pub odoo_instance: String,
    /// `res_users.id` in that instance.
    pub odoo_user_id: i64,
    /// `auth.users.id`.
    pub auth_user_id: String,
    /// Link or unlink.
    pub kind: DecisionKind,
}

/// Everything [`decide`](crate::decide) looks at.
///
/// It must be the whole picture of each instance it names: every known Odoo
/// user of the instance, every Supabase user and every admin decision.
/// Ambiguity can only be seen when both contenders are in the input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The Odoo users, of any number of instances, in any order.
    pub odoo_users: Vec<OdooUser>,
    /// The Supabase Auth users, in any order.
    pub auth_users: Vec<AuthUser>,
    /// The admins' decisions, in any order.
    #[serde(default)]
    pub decisions: Vec<AdminDecision>,
}

/// How a link was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// By the email rules; it is re-decided on every call.
    Automatic,
    /// By an admin's explicit link.
    Admin,
}

/// One Odoo user of one instance linked to one person.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Link {
    /// The Odoo instance.
    pub odoo_instance: String,
    /// `res_users.id`.
    pub odoo_user_id: i64,
    /// The Odoo user's current login.
    pub odoo_login: String,
    /// `auth.users.id`.
    pub auth_user_id: String,
    /// `false` when the Odoo user is archived: the link is kept, but it
    /// names no identity the person may act as.
    pub active: bool,
    /// Automatic or by an admin.
    pub how: How,
}

/// Why an Odoo user has no link.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// No Supabase user with a confirmed email equal to the login or the
    /// email.
    NoConfirmedMatch,
    /// More than one candidate on either side; these are the contenders.
    Ambiguous {
        /// The other Odoo users of the instance that match the same people.
        odoo_user_ids: Vec<i64>,
        /// The people this Odoo user matches.
        auth_user_ids: Vec<String>,
    },
    /// A portal or public user (`share`), which only an admin links.
    Portal,
    /// The only people it matches were unlinked from it by an admin.
    UnlinkedByAdmin {
        /// Those people.
        auth_user_ids: Vec<String>,
    },
    /// The only people it matches are linked by an admin to another Odoo
    /// user of the instance.
    MatchLinkedByAdmin {
        /// Those people.
        auth_user_ids: Vec<String>,
    },
    /// Deleted in Odoo.
    Deleted,
}

/// An Odoo user without a link, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Unlinked {
    /// The Odoo instance.
    pub odoo_instance: String,
    /// `res_users.id`.
    pub odoo_user_id: i64,
    /// The Odoo user's current login.
    pub odoo_login: String,
    /// Why it has no link.
    #[serde(flatten)]
    pub reason: Reason,
}

/// The decision: every Odoo user of the input is in exactly one of `links`
/// and `unlinked`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// Sorted by (instance, Odoo user id).
    pub links: Vec<Link>,
    /// Sorted by (instance, Odoo user id).
    pub unlinked: Vec<Unlinked>,
    /// Admin decisions about an Odoo user or a person that is not in the
    /// input (deleted since): they had no effect, and the caller may drop
    /// them. Sorted, without repeats.
    pub stale_decisions: Vec<AdminDecision>,
}
