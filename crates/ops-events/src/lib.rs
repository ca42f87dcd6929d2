//! The events Odoo sends to the control plane, and the rules that make one
//! valid.
//!
//! Odoo is the system of record for business data; these events are how the
//! control plane learns what Odoo did (the event-driven sync of the data
//! boundaries). A body is checked completely before anything is written: every
//! offending field is reported at once, with the rule it broke, so the sender
//! can fix all of them in one go.
//!
//! ```
//! use ops_events::{parse_event, Event};
//!
//! let body = br#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;
//! let Event::ProjectCreated(project) = parse_event(body).unwrap();
//! assert_eq!(project.project_id.as_str(), "odoo-42");
//!
//! let err = parse_event(br#"{"event_type":"project_created","project_id":"42"}"#).unwrap_err();
//! let fields: Vec<&str> = err.violations().iter().map(|v| v.field.as_str()).collect();
//! assert_eq!(fields, ["project_id", "name", "odoo_version"]);
//! ```
#![deny(missing_docs)]

mod rules;

pub use rules::{OdooVersion, ProjectId, ProjectName};

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// One event from Odoo, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum Event {
    /// A project was created in Odoo (the seed's `project_created`).
    ProjectCreated(ProjectCreated),
}

impl Event {
    /// The `event_type` string of this event.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::ProjectCreated(_) => "project_created",
        }
    }

    /// The project the event is about.
    pub fn project_id(&self) -> &ProjectId {
        match self {
            Event::ProjectCreated(e) => &e.project_id,
        }
    }
}

/// `project_created`: exactly the seed's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectCreated {
    /// The external id of the Odoo project, `odoo-<id>`.
    pub project_id: ProjectId,
    /// The project's name in Odoo.
    pub name: ProjectName,
    /// The Odoo series the project runs, such as `19.0`.
    pub odoo_version: OdooVersion,
}

/// The event types this receiver knows.
pub const EVENT_TYPES: &[&str] = &["project_created"];

/// Parses and validates one event body.
pub fn parse_event(body: &[u8]) -> Result<Event, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Error {
        kind: ErrorKind::NotJson(e.to_string()),
    })?;
    let Value::Object(object) = value else {
        return Err(Error::invalid(vec![Violation::new(
            "",
            "type",
            "the body must be a JSON object",
        )]));
    };
    let mut fields = Fields::new(&object);
    let event_type = fields.required("event_type", |v| match v.as_str() {
        Some(t) if EVENT_TYPES.contains(&t) => Ok(t.to_owned()),
        Some(t) => Err((
            "enum",
            format!(
                "unknown event type {t:?}; expected one of {}",
                EVENT_TYPES.join(", ")
            ),
        )),
        None => Err(("type", "expected a string".to_owned())),
    });
    // Without a known event type the other fields cannot be judged, so only
    // that one is reported.
    let Some(event_type) = event_type else {
        return Err(Error::invalid(fields.violations));
    };
    let event = match event_type.as_str() {
        "project_created" => {
            let project_id = fields.required("project_id", string(ProjectId::parse));
            let name = fields.required("name", string(ProjectName::parse));
            let odoo_version = fields.required("odoo_version", string(OdooVersion::parse));
            fields.reject_unknown(&["event_type", "project_id", "name", "odoo_version"]);
            match (project_id, name, odoo_version) {
                (Some(project_id), Some(name), Some(odoo_version))
                    if fields.violations.is_empty() =>
                {
                    Event::ProjectCreated(ProjectCreated {
                        project_id,
                        name,
                        odoo_version,
                    })
                }
                _ => return Err(Error::invalid(fields.violations)),
            }
        }
        other => {
            // EVENT_TYPES and this match are kept in step; a type listed there
            // without a branch here is refused rather than panicking.
            return Err(Error::invalid(vec![Violation::new(
                "event_type",
                "enum",
                &format!("event type {other:?} is not handled"),
            )]));
        }
    };
    Ok(event)
}

/// Adapts a rule over `&str` to a rule over a JSON value that must be a string.
fn string<T>(
    rule: fn(&str) -> Result<T, (&'static str, String)>,
) -> impl Fn(&Value) -> Result<T, (&'static str, String)> {
    move |value| match value.as_str() {
        Some(text) => rule(text),
        None => Err((
            "type",
            format!("expected a string, got {}", type_name(value)),
        )),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collects the violations of one object, field by field.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    violations: Vec<Violation>,
}

impl<'a> Fields<'a> {
    fn new(object: &'a Map<String, Value>) -> Fields<'a> {
        Fields {
            object,
            violations: Vec::new(),
        }
    }

    fn required<T>(
        &mut self,
        name: &str,
        rule: impl Fn(&Value) -> Result<T, (&'static str, String)>,
    ) -> Option<T> {
        match self.object.get(name) {
            None => {
                self.violations
                    .push(Violation::new(name, "required", "the field is missing"));
                None
            }
            Some(value) => match rule(value) {
                Ok(parsed) => Some(parsed),
                Err((rule, detail)) => {
                    self.violations.push(Violation::new(name, rule, &detail));
                    None
                }
            },
        }
    }

    fn reject_unknown(&mut self, known: &[&str]) {
        for name in self.object.keys() {
            if !known.contains(&name.as_str()) {
                self.violations.push(Violation::new(
                    name,
                    "additionalProperties",
                    "unknown field; this event does not have it",
                ));
            }
        }
    }
}

/// One broken rule: which field, which rule, and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The field's name at the top level of the body; empty for the body itself.
    pub field: String,
    /// The field as a JSON Pointer in URI fragment form (RFC 6901), as
    /// RFC 9457 suggests for validation problems.
    pub pointer: String,
    /// The rule, named as in JSON Schema: `required`, `type`, `pattern`,
    /// `enum`, `minLength`, `maxLength`, `additionalProperties`.
    pub rule: &'static str,
    /// What was wrong, in words.
    pub detail: String,
}

impl Violation {
    fn new(field: &str, rule: &'static str, detail: &str) -> Violation {
        Violation {
            field: field.to_owned(),
            pointer: format!("#/{}", field.replace('~', "~0").replace('/', "~1")),
            rule,
            detail: detail.to_owned(),
        }
    }
}

/// Why a body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
}

/// The kinds of [`Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The body is not JSON at all; holds the parser's message.
    NotJson(String),
    /// The body is JSON but breaks the event's rules.
    Invalid(Vec<Violation>),
}

impl Error {
    fn invalid(violations: Vec<Violation>) -> Error {
        Error {
            kind: ErrorKind::Invalid(violations),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The broken rules; empty when the body is not JSON.
    pub fn violations(&self) -> &[Violation] {
        match &self.kind {
            ErrorKind::Invalid(v) => v,
            ErrorKind::NotJson(_) => &[],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::NotJson(message) => write!(f, "body is not JSON: {message}"),
            ErrorKind::Invalid(violations) => {
                let parts: Vec<String> = violations
                    .iter()
                    .map(|v| {
                        let field = if v.field.is_empty() { "body" } else { &v.field };
                        format!("{field}: {}", v.detail)
                    })
                    .collect();
                f.write_str(&parts.join("; "))
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEED: &str = r#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;

    fn violations(body: &str) -> Vec<(String, &'static str)> {
        parse_event(body.as_bytes())
            .unwrap_err()
            .violations()
            .iter()
            .map(|v| (v.field.clone(), v.rule))
            .collect()
    }

    #[test]
    fn accepts_the_seed_payload() {
        let Event::ProjectCreated(p) = parse_event(SEED.as_bytes()).unwrap();
        assert_eq!(p.project_id.as_str(), "odoo-42");
        assert_eq!(p.name.as_str(), "Alpha");
        assert_eq!(p.odoo_version.as_str(), "19.0");
    }

    #[test]
    fn serializes_back_to_the_seed_shape() {
        let event = parse_event(SEED.as_bytes()).unwrap();
        let again: Value = serde_json::to_value(&event).unwrap();
        let seed: Value = serde_json::from_str(SEED).unwrap();
        assert_eq!(again, seed);
    }

    #[test]
    fn not_json_is_its_own_kind() {
        for body in ["", "{", "odoo", "{\"a\":}"] {
            let err = parse_event(body.as_bytes()).unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::NotJson(_)), "{body:?}");
        }
    }

    #[test]
    fn non_objects_are_refused_at_the_root() {
        for body in ["[]", "1", "\"x\"", "null", "true"] {
            assert_eq!(violations(body), vec![(String::new(), "type")], "{body}");
        }
    }

    #[test]
    fn reports_every_offending_field() {
        let got = violations(
            r#"{"event_type":"project_created","project_id":"abc","name":"","odoo_version":19,"extra":1}"#,
        );
        assert_eq!(
            got,
            vec![
                ("project_id".into(), "pattern"),
                ("name".into(), "minLength"),
                ("odoo_version".into(), "type"),
                ("extra".into(), "additionalProperties"),
            ]
        );
    }

    #[test]
    fn unknown_or_missing_event_type() {
        assert_eq!(
            violations(r#"{"project_id":"odoo-1"}"#),
            vec![("event_type".into(), "required")]
        );
        assert_eq!(
            violations(r#"{"event_type":"project_exploded"}"#),
            vec![("event_type".into(), "enum")]
        );
        assert_eq!(
            violations(r#"{"event_type":7}"#),
            vec![("event_type".into(), "type")]
        );
    }

    #[test]
    fn messages_name_the_field() {
        let err = parse_event(br#"{"event_type":"project_created","project_id":"abc","name":"A","odoo_version":"19.0"}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"project_id: expected "odoo-<digits>", got "abc""#
        );
        assert_eq!(err.violations()[0].pointer, "#/project_id");
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_event(&body);
        }

        #[test]
        fn never_panics_on_objects(
            keys in proptest::collection::vec("[a-z_]{0,12}", 0..6),
            values in proptest::collection::vec(any::<i64>().prop_map(Value::from), 0..6),
            event_type in proptest::option::of("[a-z_]{0,20}"),
        ) {
            let mut object: Map<String, Value> = keys.into_iter().zip(values).collect();
            if let Some(t) = event_type {
                object.insert("event_type".into(), Value::from(t));
            }
            let body = serde_json::to_vec(&object).unwrap();
            if let Err(err) = parse_event(&body) {
                prop_assert!(!err.violations().is_empty());
            }
        }
    }
}
