//! The crate's one error type.

use std::fmt;

/// What was wrong with the input, broadly.
///
/// Every error means "no mapping": [`decide`](crate::decide) never returns
/// half a result, so a caller that gets an error changes no link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value is out of its range: an empty instance or auth user id, an
    /// Odoo user id that is not positive.
    Invalid,
    /// The same Odoo user (instance and id) or the same auth user id is
    /// listed twice.
    Duplicate,
    /// Admin decisions contradict each other: a link and an unlink of one
    /// pair, two links for one Odoo user, or two links for one person in
    /// one instance.
    Conflict,
}

/// Why no mapping was made: the kind, which record, and what was wrong.
///
/// Displayed as `<where>: <what>`, e.g.
/// `odoo_users ("prod", 7): listed twice`. Records are named by their keys,
/// not by their position, so the same input in another order gives the same
/// error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    at: String,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, at: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            kind,
            at: at.into(),
            message: message.into(),
        }
    }

    /// The broad kind of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Which record, as `odoo_users ("prod", 7)`, `auth_users "<id>"` or
    /// `decisions ("prod", 7, "<id>")`.
    pub fn location(&self) -> &str {
        &self.at
    }

    /// What was wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl std::error::Error for Error {}
