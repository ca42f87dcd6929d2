//! The crate's one error type.

use std::fmt;

/// What was wrong with the input, broadly.
///
/// Every error means "no plan": the planner never returns half a plan, so an
/// executor that gets an error deletes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A retention policy row breaks a rule of `ops.retention_policies`
    /// (unknown class, days out of range, a per-project run-events rule, an
    /// expiring approvals rule, two rules for one scope).
    Policy,
    /// A candidate row is inconsistent: a duplicate id, an event filed under
    /// another run, an id that cannot go into an object key, a storage path
    /// that is not where its type must live, an event newer than the cut-off.
    Candidate,
    /// The budget allows nothing, so no progress could ever be made.
    Budget,
    /// The storage configuration is malformed (a backup location that is
    /// not an `s3://` URI).
    Config,
    /// A timestamp is not RFC 3339, is outside the years 0000 to 9999, or is
    /// more precise than a microsecond.
    Timestamp,
    /// An archive object could not be encoded (JSON or gzip).
    Archive,
}

/// Why no plan was made: the kind, where in the input, and what was wrong.
///
/// Displayed as `<where>: <what>`, e.g.
/// `runs[3].events[0].run_id: expected "run-a", the run it is filed under, got "run-b"`.
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

    /// Returns this error with `at` as its location, keeping kind and message.
    pub(crate) fn at(mut self, at: impl Into<String>) -> Error {
        self.at = at.into();
        self
    }

    /// The broad kind of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Where in the input, as a path like `backups[7].storage_path`; empty
    /// when the error is about no single place.
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
        if self.at.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

impl std::error::Error for Error {}
