//! The crate's one error type.

use std::fmt;

/// What was wrong with the input, broadly.
///
/// Every error means "no plan": [`plan`](crate::plan) never returns half a
/// plan, so a caller that gets one changes nothing. Only a page the caller
/// read or assembled wrongly is an error; what Odoo holds (a broken name, an
/// odd `write_date`, a template) never is: such a project is skipped, with
/// its reason, and the rest of the page is planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value is out of its domain: an empty or `_`-prefixed language, an
    /// incremental pass without a watermark, a control-plane `project_id`
    /// that is not `odoo-<id>`, a range that ends before it starts.
    Invalid,
    /// The same id is listed twice on one side.
    Duplicate,
    /// A row lies outside the page's id range: the two sides were not read
    /// for the same range, so absence could not mean deletion.
    OutOfRange,
    /// A timestamp is not RFC 3339, is outside the years 0000 to 9999, or is
    /// more precise than a microsecond.
    Timestamp,
}

/// Why no plan was made: the kind, where in the input, and what was wrong.
///
/// Displayed as `<where>: <what>`, e.g.
/// `odoo_projects id 42: listed twice`. Rows are named by their ids, not
/// by their position, so the same input in another order gives the same
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

    /// Where in the input, as `language`, `range`, `odoo_projects id 42` or
    /// `projects "odoo-42"`; empty when the error is about no single place.
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
