//! The events Odoo sends to the control plane, and the rules that make one
//! valid.
//!
//! Odoo is the system of record for business data; these events are how the
//! control plane learns what Odoo did (the event-driven sync of the data
//! boundaries). A body is checked completely before anything is written: every
//! offending field is reported at once, with the rule it broke, so the sender
//! can fix all of them in one go.
//!
//! This crate is the room for events: the project events and the Odoo user
//! events, their published JSON Schema and [`parse_event`], with the rules of
//! the fields they carry (project id, name, Odoo series, user id, email,
//! `occurred_at`). The values of the control-plane records (run statuses,
//! digests, image references, roles, retention rules, and the Odoo login and
//! instance the user events share with the records) are not here but in
//! `ops-values`; this crate takes them from there, with [`Rule`], the JSON
//! Schema keyword each violation names.
//!
//! ```
//! use ops_events::{parse_event, Event, Subject};
//!
//! let now = 1_795_000_000; // the receiver's clock, Unix seconds
//! let body = br#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;
//! let event = parse_event(body, now).unwrap();
//! assert!(matches!(event.subject(), Subject::Project(id) if id.as_str() == "odoo-42"));
//! assert!(matches!(event, Event::ProjectCreated(_)));
//!
//! let body = br#"{"event_type":"user_archived","odoo_instance":"prod","odoo_user_id":7,"occurred_at":"2026-11-18T08:00:00Z"}"#;
//! let Subject::OdooUser { odoo_instance, odoo_user_id } = parse_event(body, now).unwrap().subject() else {
//!     panic!("a user event is about a user")
//! };
//! assert_eq!((odoo_instance.as_str(), odoo_user_id.get()), ("prod", 7));
//!
//! let err = parse_event(br#"{"event_type":"project_created","project_id":"42"}"#, now).unwrap_err();
//! let fields: Vec<&str> = err.violations().iter().map(|v| v.field.as_str()).collect();
//! assert_eq!(fields, ["project_id", "name", "odoo_version"]);
//! ```
#![deny(missing_docs)]

mod rules;

pub use ops_values::{Environment, OdooLogin, Rule};
pub use rules::{
    OccurredAt, OdooEmail, OdooUserId, OdooVersion, ProjectId, ProjectName,
    FUTURE_TOLERANCE_SECONDS, MAX_EMAIL_CHARS,
};

use ops_values::RuleError;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// One event from Odoo, validated.
///
/// Events carry the state of their project or user rather than a difference
/// from the last event, so a redelivered, late or reordered event can be
/// judged on its own: each part of the state takes the value of the latest
/// change Odoo made to it, ordered by `occurred_at`. A project's parts are
/// its name and series, whether it is active, and whether it exists; a
/// user's are its facts (login, email, share), whether it is active, and
/// whether it exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum Event {
    /// A project was created in Odoo: the seed's `project_created`.
    ProjectCreated(ProjectCreated),
    /// A project's name or series changed in Odoo; carries both, as they are now.
    ProjectUpdated(ProjectUpdated),
    /// A project was archived in Odoo (`active` became false).
    ProjectArchived(ProjectChange),
    /// An archived project was restored in Odoo (`active` became true).
    ProjectUnarchived(ProjectChange),
    /// A project was deleted in Odoo. The control plane keeps its row, marked
    /// deleted, because runs, backups and approvals still refer to it.
    ProjectDeleted(ProjectChange),
    /// A user was created in an Odoo instance (`res_users`), possibly
    /// archived already.
    UserCreated(UserCreated),
    /// A user's login, partner email or `share` changed in Odoo; carries all
    /// three, as they are now.
    UserUpdated(UserUpdated),
    /// A user was archived in Odoo (`active` became false).
    UserArchived(UserChange),
    /// An archived user was restored in Odoo (`active` became true).
    UserUnarchived(UserChange),
    /// A user was deleted in Odoo (a hard `DELETE`; its id is never reused).
    /// The control plane keeps the row, marked deleted and linked to no one.
    UserDeleted(UserChange),
}

/// What an event is about: the unit its changes are ordered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A project, by its external id.
    Project(&'a ProjectId),
    /// One Odoo user of one instance.
    OdooUser {
        /// The instance.
        odoo_instance: Environment,
        /// `res_users.id` in that instance.
        odoo_user_id: OdooUserId,
    },
}

impl Event {
    /// The `event_type` string of this event.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::ProjectCreated(_) => "project_created",
            Event::ProjectUpdated(_) => "project_updated",
            Event::ProjectArchived(_) => "project_archived",
            Event::ProjectUnarchived(_) => "project_unarchived",
            Event::ProjectDeleted(_) => "project_deleted",
            Event::UserCreated(_) => "user_created",
            Event::UserUpdated(_) => "user_updated",
            Event::UserArchived(_) => "user_archived",
            Event::UserUnarchived(_) => "user_unarchived",
            Event::UserDeleted(_) => "user_deleted",
        }
    }

    /// The project or user the event is about.
    pub fn subject(&self) -> Subject<'_> {
        let user = |odoo_instance, odoo_user_id| Subject::OdooUser {
            odoo_instance,
            odoo_user_id,
        };
        match self {
            Event::ProjectCreated(e) => Subject::Project(&e.project_id),
            Event::ProjectUpdated(e) => Subject::Project(&e.project_id),
            Event::ProjectArchived(e) | Event::ProjectUnarchived(e) | Event::ProjectDeleted(e) => {
                Subject::Project(&e.project_id)
            }
            Event::UserCreated(e) => user(e.odoo_instance, e.odoo_user_id),
            Event::UserUpdated(e) => user(e.odoo_instance, e.odoo_user_id),
            Event::UserArchived(e) | Event::UserUnarchived(e) | Event::UserDeleted(e) => {
                user(e.odoo_instance, e.odoo_user_id)
            }
        }
    }

    /// When the change happened in Odoo, if the event says (every event but
    /// the seed's `project_created` must).
    pub fn occurred_at(&self) -> Option<OccurredAt> {
        match self {
            Event::ProjectCreated(e) => e.occurred_at,
            Event::ProjectUpdated(e) => Some(e.occurred_at),
            Event::ProjectArchived(e) | Event::ProjectUnarchived(e) | Event::ProjectDeleted(e) => {
                Some(e.occurred_at)
            }
            Event::UserCreated(e) => Some(e.occurred_at),
            Event::UserUpdated(e) => Some(e.occurred_at),
            Event::UserArchived(e) | Event::UserUnarchived(e) | Event::UserDeleted(e) => {
                Some(e.occurred_at)
            }
        }
    }

    /// The user's login and partner email, for the events that carry them
    /// (`user_created`, `user_updated`).
    pub fn user_facts(&self) -> Option<(&OdooLogin, Option<&OdooEmail>)> {
        match self {
            Event::UserCreated(e) => Some((&e.login, e.email.as_ref())),
            Event::UserUpdated(e) => Some((&e.login, e.email.as_ref())),
            _ => None,
        }
    }
}

/// `project_created`: exactly the seed's shape, plus an optional `occurred_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProjectCreated {
    /// The external id of the Odoo project, `odoo-<id>`.
    pub project_id: ProjectId,
    /// The project's name in Odoo.
    pub name: ProjectName,
    /// The Odoo series the project runs, such as `19.0`.
    pub odoo_version: OdooVersion,
    /// When Odoo created the project. Optional, as the seed's event has no
    /// date; without it the delivery's `webhook-timestamp` stands in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<OccurredAt>,
}

/// `project_updated`: the project's name and series as they are now in Odoo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProjectUpdated {
    /// The external id of the Odoo project, `odoo-<id>`.
    pub project_id: ProjectId,
    /// The project's name in Odoo.
    pub name: ProjectName,
    /// The Odoo series the project runs.
    pub odoo_version: OdooVersion,
    /// When Odoo made the change (its `write_date`).
    pub occurred_at: OccurredAt,
}

/// `project_archived`, `project_unarchived`, `project_deleted`: which
/// project, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProjectChange {
    /// The external id of the Odoo project, `odoo-<id>`.
    pub project_id: ProjectId,
    /// When Odoo made the change.
    pub occurred_at: OccurredAt,
}

/// `user_created`: the new user as it is in Odoo, `active` included (Odoo can
/// create an archived user).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UserCreated {
    /// The Odoo instance the user belongs to.
    #[schemars(with = "rules::OdooInstanceSchema")]
    pub odoo_instance: Environment,
    /// `res_users.id`.
    pub odoo_user_id: OdooUserId,
    /// `res_users.login`, exactly as Odoo stores it.
    #[schemars(with = "rules::OdooLoginSchema")]
    pub login: OdooLogin,
    /// The partner's email, or null when it has none.
    #[schemars(with = "rules::NullableEmailSchema")]
    pub email: Option<OdooEmail>,
    /// `res_users.share`: true for a portal or public user.
    pub share: bool,
    /// `res_users.active`: false for a user created archived.
    pub active: bool,
    /// When Odoo created the user (its `create_date`/`write_date`).
    pub occurred_at: OccurredAt,
}

/// `user_updated`: the user's login, email and `share` as they are now in
/// Odoo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UserUpdated {
    /// The Odoo instance the user belongs to.
    #[schemars(with = "rules::OdooInstanceSchema")]
    pub odoo_instance: Environment,
    /// `res_users.id`.
    pub odoo_user_id: OdooUserId,
    /// `res_users.login`, exactly as Odoo stores it.
    #[schemars(with = "rules::OdooLoginSchema")]
    pub login: OdooLogin,
    /// The partner's email, or null when it has none.
    #[schemars(with = "rules::NullableEmailSchema")]
    pub email: Option<OdooEmail>,
    /// `res_users.share`: true for a portal or public user.
    pub share: bool,
    /// When Odoo made the change (its `write_date`).
    pub occurred_at: OccurredAt,
}

/// `user_archived`, `user_unarchived`, `user_deleted`: which user, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UserChange {
    /// The Odoo instance the user belongs to.
    #[schemars(with = "rules::OdooInstanceSchema")]
    pub odoo_instance: Environment,
    /// `res_users.id`.
    pub odoo_user_id: OdooUserId,
    /// When Odoo made the change.
    pub occurred_at: OccurredAt,
}

/// The event types this receiver knows.
pub const EVENT_TYPES: &[&str] = &[
    "project_created",
    "project_updated",
    "project_archived",
    "project_unarchived",
    "project_deleted",
    "user_created",
    "user_updated",
    "user_archived",
    "user_unarchived",
    "user_deleted",
];

/// The JSON Schema of every event, generated from the types above. The
/// committed copy (`schemas/ops-ingest-events.schema.json`) is checked
/// against it by a test.
pub fn json_schema() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Event>();
    let mut value = schema.to_value();
    if let Value::Object(object) = &mut value {
        object.insert(
            "$id".to_owned(),
            Value::from("urn:odooops:schema:ops-ingest-events"),
        );
        object.insert(
            "description".to_owned(),
            Value::from(
                "The events Odoo sends to ops-ingest. Every field is required unless marked optional (a field that may be null is still required); no other fields are accepted. The receiver accepts exactly the events this schema accepts (patterns read as ECMA-262, where $ is the end of the text), but for one rule JSON Schema cannot state: occurred_at at most 5 minutes ahead of the receiver's clock.",
            ),
        );
    }
    value
}

/// Parses and validates one event body.
///
/// `now` is the receiver's clock in Unix seconds, used to refuse an
/// `occurred_at` too far in the future.
pub fn parse_event(body: &[u8], now: i64) -> Result<Event, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Error {
        kind: ErrorKind::NotJson(e.to_string()),
    })?;
    let Value::Object(object) = value else {
        return Err(Error::invalid(vec![Violation::new(
            "",
            Rule::Type,
            "the body must be a JSON object",
        )]));
    };
    let mut fields = Fields::new(&object);
    let event_type = fields.required("event_type", |v| match v.as_str() {
        Some(t) if EVENT_TYPES.contains(&t) => Ok(t.to_owned()),
        Some(t) => Err(RuleError::new(
            Rule::Enum,
            format!(
                "unknown event type {t:?}; expected one of {}",
                EVENT_TYPES.join(", ")
            ),
        )),
        None => Err(RuleError::new(Rule::Type, "expected a string")),
    });
    // Without a known event type the other fields cannot be judged, so only
    // that one is reported.
    let Some(event_type) = event_type else {
        return Err(Error::invalid(fields.violations));
    };
    let event = match event_type.as_str() {
        "project_created" | "project_updated" | "project_archived" | "project_unarchived"
        | "project_deleted" => project_event(&event_type, &mut fields, now),
        "user_created" | "user_updated" | "user_archived" | "user_unarchived" | "user_deleted" => {
            user_event(&event_type, &mut fields, now)
        }
        other => {
            // EVENT_TYPES and this match are kept in step; a type listed there
            // without a branch here is refused rather than guessed at.
            return Err(Error::invalid(vec![Violation::new(
                "event_type",
                Rule::Enum,
                &format!("event type {other:?} is not handled"),
            )]));
        }
    };
    // Every field is judged before the first violation is returned, so the
    // sender learns about all of them at once.
    match event {
        Some(event) if fields.ok() => Ok(event),
        _ => Err(Error::invalid(fields.violations)),
    }
}

/// The `occurred_at` rule over a JSON value.
fn occurred_at(now: i64) -> impl Fn(&Value) -> Result<OccurredAt, RuleError> {
    move |v: &Value| match v.as_str() {
        Some(text) => OccurredAt::parse(text, now),
        None => Err(RuleError::new(
            Rule::Type,
            format!("expected a string, got {}", type_name(v)),
        )),
    }
}

/// The fields of a project event; `None` when any is broken (the
/// violations are in `fields`).
fn project_event(event_type: &str, fields: &mut Fields<'_>, now: i64) -> Option<Event> {
    let project_id = fields.required("project_id", string(ProjectId::parse));
    if matches!(event_type, "project_created" | "project_updated") {
        let name = fields.required("name", string(ProjectName::parse));
        let odoo_version = fields.required("odoo_version", string(OdooVersion::parse));
        let at = if event_type == "project_created" {
            fields.optional("occurred_at", occurred_at(now))
        } else {
            fields.required("occurred_at", occurred_at(now)).map(Some)
        };
        fields.reject_unknown(&[
            "event_type",
            "project_id",
            "name",
            "odoo_version",
            "occurred_at",
        ]);
        let (project_id, name, odoo_version, at) = (project_id?, name?, odoo_version?, at?);
        return Some(if event_type == "project_created" {
            Event::ProjectCreated(ProjectCreated {
                project_id,
                name,
                odoo_version,
                occurred_at: at,
            })
        } else {
            Event::ProjectUpdated(ProjectUpdated {
                project_id,
                name,
                odoo_version,
                occurred_at: at?,
            })
        });
    }
    let at = fields.required("occurred_at", occurred_at(now));
    fields.reject_unknown(&["event_type", "project_id", "occurred_at"]);
    let change = ProjectChange {
        project_id: project_id?,
        occurred_at: at?,
    };
    Some(match event_type {
        "project_archived" => Event::ProjectArchived(change),
        "project_unarchived" => Event::ProjectUnarchived(change),
        _ => Event::ProjectDeleted(change),
    })
}

/// The fields of a user event; `None` when any is broken (the violations
/// are in `fields`).
fn user_event(event_type: &str, fields: &mut Fields<'_>, now: i64) -> Option<Event> {
    let odoo_instance = fields.required("odoo_instance", string(Environment::parse));
    let odoo_user_id = fields.required("odoo_user_id", OdooUserId::parse);
    if matches!(event_type, "user_created" | "user_updated") {
        let login = fields.required("login", string(OdooLogin::parse));
        // Required even though it may be null: a sender that forgot the
        // field must not erase the email the control plane holds.
        let email = fields.required("email", |v| match v {
            Value::Null => Ok(None),
            v => string(OdooEmail::parse)(v).map(Some),
        });
        let share = fields.required("share", boolean);
        let active = if event_type == "user_created" {
            fields.required("active", boolean)
        } else {
            Some(true)
        };
        let at = fields.required("occurred_at", occurred_at(now));
        let mut known = vec![
            "event_type",
            "odoo_instance",
            "odoo_user_id",
            "login",
            "email",
            "share",
            "occurred_at",
        ];
        if event_type == "user_created" {
            known.push("active");
        }
        fields.reject_unknown(&known);
        let (odoo_instance, odoo_user_id, login, email, share, active, occurred_at) = (
            odoo_instance?,
            odoo_user_id?,
            login?,
            email?,
            share?,
            active?,
            at?,
        );
        return Some(if event_type == "user_created" {
            Event::UserCreated(UserCreated {
                odoo_instance,
                odoo_user_id,
                login,
                email,
                share,
                active,
                occurred_at,
            })
        } else {
            Event::UserUpdated(UserUpdated {
                odoo_instance,
                odoo_user_id,
                login,
                email,
                share,
                occurred_at,
            })
        });
    }
    let at = fields.required("occurred_at", occurred_at(now));
    fields.reject_unknown(&["event_type", "odoo_instance", "odoo_user_id", "occurred_at"]);
    let change = UserChange {
        odoo_instance: odoo_instance?,
        odoo_user_id: odoo_user_id?,
        occurred_at: at?,
    };
    Some(match event_type {
        "user_archived" => Event::UserArchived(change),
        "user_unarchived" => Event::UserUnarchived(change),
        _ => Event::UserDeleted(change),
    })
}

fn boolean(value: &Value) -> Result<bool, RuleError> {
    value.as_bool().ok_or_else(|| {
        RuleError::new(
            Rule::Type,
            format!("expected a boolean, got {}", type_name(value)),
        )
    })
}

/// Adapts a rule over `&str` to a rule over a JSON value that must be a string.
fn string<T>(rule: fn(&str) -> Result<T, RuleError>) -> impl Fn(&Value) -> Result<T, RuleError> {
    move |value| match value.as_str() {
        Some(text) => rule(text),
        None => Err(RuleError::new(
            Rule::Type,
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
        rule: impl Fn(&Value) -> Result<T, RuleError>,
    ) -> Option<T> {
        match self.object.get(name) {
            None => {
                self.violations
                    .push(Violation::new(name, Rule::Required, "the field is missing"));
                None
            }
            Some(value) => match rule(value) {
                Ok(parsed) => Some(parsed),
                Err(err) => {
                    self.violations
                        .push(Violation::new(name, err.rule, &err.message));
                    None
                }
            },
        }
    }

    /// Like [`Fields::required`], but an absent or null field is
    /// `Some(None)` (Odoo's Python sends `None` as null); a present but broken
    /// one is `None`.
    fn optional<T>(
        &mut self,
        name: &str,
        rule: impl Fn(&Value) -> Result<T, RuleError>,
    ) -> Option<Option<T>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(_) => self.required(name, rule).map(Some),
        }
    }

    fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    fn reject_unknown(&mut self, known: &[&str]) {
        for name in self.object.keys() {
            if !known.contains(&name.as_str()) {
                self.violations.push(Violation::new(
                    name,
                    Rule::AdditionalProperties,
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
    /// The rule, serialized as its JSON Schema keyword: `required`, `type`,
    /// `pattern`, `format`, `enum`, `minLength`, `maxLength`,
    /// `additionalProperties`; and `maximum` for the one rule the schema
    /// cannot state, a date too far ahead of the receiver's clock.
    pub rule: Rule,
    /// What was wrong, in words.
    pub detail: String,
}

impl Violation {
    fn new(field: &str, rule: Rule, detail: &str) -> Violation {
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

    const NOW: i64 = 1_795_000_000; // 2026-11-18T08:53:20Z

    const SEED: &str = r#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;

    fn violations(body: &str) -> Vec<(String, &'static str)> {
        parse_event(body.as_bytes(), NOW)
            .unwrap_err()
            .violations()
            .iter()
            .map(|v| (v.field.clone(), v.rule.as_str()))
            .collect()
    }

    #[test]
    fn accepts_the_seed_payload() {
        let Event::ProjectCreated(p) = parse_event(SEED.as_bytes(), NOW).unwrap() else {
            panic!("expected project_created")
        };
        assert_eq!(p.project_id.as_str(), "odoo-42");
        assert_eq!(p.name.as_str(), "Alpha");
        assert_eq!(p.odoo_version.as_str(), "19.0");
    }

    #[test]
    fn serializes_back_to_the_seed_shape() {
        let event = parse_event(SEED.as_bytes(), NOW).unwrap();
        let again: Value = serde_json::to_value(&event).unwrap();
        let seed: Value = serde_json::from_str(SEED).unwrap();
        assert_eq!(again, seed);
    }

    #[test]
    fn not_json_is_its_own_kind() {
        for body in ["", "{", "odoo", "{\"a\":}"] {
            let err = parse_event(body.as_bytes(), NOW).unwrap_err();
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
        let err = parse_event(br#"{"event_type":"project_created","project_id":"abc","name":"A","odoo_version":"19.0"}"#, NOW)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"project_id: expected "odoo-<digits>", got "abc""#
        );
        assert_eq!(err.violations()[0].pointer, "#/project_id");
    }

    #[test]
    fn the_project_lifecycle_events() {
        let at = "2026-11-18T08:00:00.5Z";
        let updated = format!(
            r#"{{"event_type":"project_updated","project_id":"odoo-7","name":"Beta","odoo_version":"18.0","occurred_at":"{at}"}}"#
        );
        let Event::ProjectUpdated(u) = parse_event(updated.as_bytes(), NOW).unwrap() else {
            panic!("expected project_updated")
        };
        assert_eq!(
            (u.name.as_str(), u.occurred_at.to_rfc3339().as_str()),
            ("Beta", "2026-11-18T08:00:00.5Z")
        );
        for (event_type, expect) in [
            ("project_archived", "project_archived"),
            ("project_unarchived", "project_unarchived"),
            ("project_deleted", "project_deleted"),
        ] {
            let body = format!(
                r#"{{"event_type":"{event_type}","project_id":"odoo-7","occurred_at":"{at}"}}"#
            );
            let event = parse_event(body.as_bytes(), NOW).unwrap();
            assert_eq!(event.event_type(), expect);
            assert_eq!(
                event.subject(),
                Subject::Project(&ProjectId::parse("odoo-7").unwrap())
            );
            assert!(event.occurred_at().is_some());
        }
    }

    #[test]
    fn occurred_at_is_optional_only_for_project_created() {
        assert_eq!(
            parse_event(SEED.as_bytes(), NOW).unwrap().occurred_at(),
            None
        );
        let null = SEED.replace('}', r#","occurred_at":null}"#);
        assert_eq!(
            parse_event(null.as_bytes(), NOW).unwrap().occurred_at(),
            None
        );
        assert_eq!(
            violations(
                r#"{"event_type":"project_updated","project_id":"odoo-7","name":"B","odoo_version":"18.0"}"#
            ),
            vec![("occurred_at".into(), "required")]
        );
        assert_eq!(
            violations(r#"{"event_type":"project_archived","project_id":"odoo-7"}"#),
            vec![("occurred_at".into(), "required")]
        );
        assert_eq!(
            violations(
                r#"{"event_type":"project_created","project_id":"odoo-7","name":"B","odoo_version":"18.0","occurred_at":"soon"}"#
            ),
            vec![("occurred_at".into(), "format")]
        );
        assert_eq!(
            violations(
                r#"{"event_type":"project_deleted","project_id":"odoo-7","occurred_at":"2099-01-01T00:00:00Z","name":"x"}"#
            ),
            vec![
                ("occurred_at".into(), "maximum"),
                ("name".into(), "additionalProperties")
            ]
        );
    }

    const USER_CREATED: &str = r#"{"event_type":"user_created","odoo_instance":"prod","odoo_user_id":7,"login":"Ana@Example.com","email":null,"share":false,"active":false,"occurred_at":"2026-11-18T08:00:00Z"}"#;

    /// A user event of `event_type` with the fields it needs, then `change`
    /// applied: a field set, or removed when its value is absent.
    fn user_event(event_type: &str, change: &[(&str, Option<Value>)]) -> String {
        let mut event: Map<String, Value> = serde_json::from_str(USER_CREATED).unwrap();
        event.insert("event_type".into(), event_type.into());
        match event_type {
            "user_created" => {}
            "user_updated" => {
                event.remove("active");
            }
            _ => {
                for field in ["login", "email", "share", "active"] {
                    event.remove(field);
                }
            }
        }
        for (field, value) in change {
            match value {
                Some(value) => event.insert((*field).into(), value.clone()),
                None => event.remove(*field),
            };
        }
        Value::Object(event).to_string()
    }

    const USER_TYPES: [&str; 5] = [
        "user_created",
        "user_updated",
        "user_archived",
        "user_unarchived",
        "user_deleted",
    ];

    #[test]
    fn the_user_events() {
        let Event::UserCreated(created) = parse_event(USER_CREATED.as_bytes(), NOW).unwrap() else {
            panic!("expected user_created")
        };
        assert_eq!(created.odoo_instance, Environment::Prod);
        assert_eq!(created.odoo_user_id.get(), 7);
        // The login as Odoo stores it: not lowercased.
        assert_eq!(created.login.as_str(), "Ana@Example.com");
        assert_eq!(created.email, None);
        assert!(!created.share && !created.active);

        let body = user_event(
            "user_updated",
            &[
                ("login", Some("admin".into())),
                ("email", Some(" Ana@Example.com".into())),
                ("share", Some(true.into())),
            ],
        );
        let event = parse_event(body.as_bytes(), NOW).unwrap();
        let Event::UserUpdated(updated) = &event else {
            panic!("expected user_updated")
        };
        assert_eq!(updated.login.as_str(), "admin");
        assert_eq!(
            updated.email.as_ref().map(OdooEmail::as_str),
            Some(" Ana@Example.com")
        );
        assert!(updated.share);
        assert_eq!(
            event
                .user_facts()
                .map(|(l, e)| (l.as_str(), e.map(OdooEmail::as_str))),
            Some(("admin", Some(" Ana@Example.com")))
        );

        for event_type in USER_TYPES {
            let body = user_event(event_type, &[]);
            let event = parse_event(body.as_bytes(), NOW).unwrap();
            assert_eq!(event.event_type(), event_type);
            assert_eq!(
                event.subject(),
                Subject::OdooUser {
                    odoo_instance: Environment::Prod,
                    odoo_user_id: OdooUserId::parse(&7.into()).unwrap(),
                }
            );
            assert_eq!(
                event.occurred_at().map(|at| at.to_rfc3339()).as_deref(),
                Some("2026-11-18T08:00:00Z")
            );
            // The events go to the database as they came, nulls included.
            let again = serde_json::to_value(&event).unwrap();
            assert_eq!(
                again,
                serde_json::from_str::<Value>(&body).unwrap(),
                "{event_type}"
            );
            assert_eq!(
                event.user_facts().is_some(),
                matches!(event_type, "user_created" | "user_updated")
            );
        }
    }

    #[test]
    fn every_user_field_is_required_on_every_user_event() {
        for event_type in USER_TYPES {
            let full: Map<String, Value> =
                serde_json::from_str(&user_event(event_type, &[])).unwrap();
            for field in full.keys().filter(|f| *f != "event_type") {
                assert_eq!(
                    violations(&user_event(event_type, &[(field, None)])),
                    vec![(field.clone(), "required")],
                    "{event_type} without {field}"
                );
            }
        }
    }

    #[test]
    fn every_user_field_is_refused_by_its_rule() {
        let uuid = "550e8400-e29b-41d4-a716-446655440000";
        let cases: Vec<(&str, Value, &str)> = vec![
            ("odoo_instance", "production".into(), "enum"),
            ("odoo_instance", "Prod".into(), "enum"),
            ("odoo_instance", Value::Null, "type"),
            ("odoo_user_id", 0.into(), "minimum"),
            ("odoo_user_id", (-7).into(), "minimum"),
            ("odoo_user_id", 2_147_483_648_i64.into(), "maximum"),
            ("odoo_user_id", 7.5.into(), "type"),
            ("odoo_user_id", "7".into(), "type"),
            ("login", "".into(), "minLength"),
            ("login", "a".repeat(255).into(), "maxLength"),
            ("login", "ana\tmaria".into(), "pattern"),
            ("login", "admin\n".into(), "pattern"),
            ("login", uuid.into(), "pattern"),
            ("login", 7.into(), "type"),
            ("login", Value::Null, "type"),
            ("email", "".into(), "minLength"),
            ("email", "é".repeat(255).into(), "maxLength"),
            ("email", "ana@example.com\u{85}".into(), "pattern"),
            ("email", false.into(), "type"),
            ("share", "false".into(), "type"),
            ("share", Value::Null, "type"),
            ("active", 1.into(), "type"),
            ("active", Value::Null, "type"),
            ("occurred_at", "2026-11-18 08:00:00Z".into(), "format"),
            ("occurred_at", "2099-01-01T00:00:00Z".into(), "maximum"),
            ("occurred_at", Value::Null, "type"),
        ];
        for (field, value, rule) in cases {
            let event_type = if field == "active" {
                "user_created"
            } else {
                "user_updated"
            };
            let event_types: &[&str] = match field {
                "odoo_instance" | "odoo_user_id" | "occurred_at" => &USER_TYPES,
                _ => &[event_type],
            };
            for event_type in event_types {
                let body = user_event(event_type, &[(field, Some(value.clone()))]);
                assert_eq!(
                    violations(&body),
                    vec![(field.to_owned(), rule)],
                    "{event_type} with {field} = {value}"
                );
            }
        }
        // A 254-character login and email, an uppercase uuid as a login.
        let body = user_event(
            "user_created",
            &[
                ("login", Some(uuid.to_uppercase().into())),
                ("email", Some("é".repeat(254).into())),
            ],
        );
        assert!(parse_event(body.as_bytes(), NOW).is_ok());
        let body = user_event("user_created", &[("login", Some("é".repeat(254).into()))]);
        assert!(parse_event(body.as_bytes(), NOW).is_ok());
        // 7.0 is the integer 7 to JSON Schema, and so here.
        let body = user_event("user_deleted", &[("odoo_user_id", Some(7.0.into()))]);
        assert_eq!(
            parse_event(body.as_bytes(), NOW).unwrap().subject(),
            Subject::OdooUser {
                odoo_instance: Environment::Prod,
                odoo_user_id: OdooUserId::parse(&7.into()).unwrap(),
            }
        );
    }

    #[test]
    fn user_events_refuse_the_fields_they_do_not_have() {
        // `active` is the creation's only: archiving has its own events.
        assert_eq!(
            violations(&user_event(
                "user_updated",
                &[("active", Some(true.into()))]
            )),
            vec![("active".into(), "additionalProperties")]
        );
        for event_type in ["user_archived", "user_unarchived", "user_deleted"] {
            for field in ["login", "email", "share", "active", "project_id"] {
                assert_eq!(
                    violations(&user_event(event_type, &[(field, Some("x".into()))])),
                    vec![(field.into(), "additionalProperties")],
                    "{event_type} with {field}"
                );
            }
        }
        for event_type in USER_TYPES {
            assert_eq!(
                violations(&user_event(event_type, &[("Login", Some("x".into()))])),
                vec![("Login".into(), "additionalProperties")],
                "{event_type}"
            );
        }
    }

    #[test]
    fn a_broken_user_event_reports_every_field_in_order() {
        let got = violations(
            r#"{"event_type":"user_created","odoo_instance":"qa","odoo_user_id":0,"login":"","email":"","share":"no","occurred_at":"soon","x":1}"#,
        );
        assert_eq!(
            got,
            vec![
                ("odoo_instance".into(), "enum"),
                ("odoo_user_id".into(), "minimum"),
                ("login".into(), "minLength"),
                ("email".into(), "minLength"),
                ("share".into(), "type"),
                ("active".into(), "required"),
                ("occurred_at".into(), "format"),
                ("x".into(), "additionalProperties"),
            ]
        );
        let err = parse_event(
            br#"{"event_type":"user_deleted","odoo_instance":"prod","odoo_user_id":-1,"occurred_at":"2026-11-18T08:00:00Z"}"#,
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "odoo_user_id: must be at least 1, got -1");
        assert_eq!(err.violations()[0].pointer, "#/odoo_user_id");
    }

    #[test]
    fn the_committed_json_schema_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/ops-ingest-events.schema.json"
        );
        let generated = format!(
            "{}\n",
            serde_json::to_string_pretty(&json_schema()).unwrap()
        );
        if std::env::var_os("OPS_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/ops-ingest-events.schema.json is out of date: regenerate it with `OPS_BLESS=1 cargo test -p ops-events`"
        );
    }

    #[test]
    fn the_json_schema_names_every_event_and_closes_objects() {
        let schema = json_schema().to_string();
        for event_type in EVENT_TYPES {
            assert!(
                schema.contains(&format!("\"{event_type}\"")),
                "{event_type}"
            );
        }
        assert!(
            schema.contains("\"additionalProperties\":false"),
            "{schema}"
        );
        assert!(schema.contains("^odoo-[1-9][0-9]{0,17}$"));
    }

    /// Any JSON value, nested a few levels, with the event's field names
    /// likely to appear so the validation paths are reached.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            prop::sample::select(EVENT_TYPES).prop_map(Value::from),
            Just(Value::from("odoo-42")),
            Just(Value::from("2026-11-18T08:00:00Z")),
            Just(Value::from("prod")),
            Just(Value::from(7)),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            let key = prop_oneof![
                prop::sample::select(vec![
                    "event_type",
                    "project_id",
                    "name",
                    "odoo_version",
                    "occurred_at",
                    "odoo_instance",
                    "odoo_user_id",
                    "login",
                    "email",
                    "share",
                    "active",
                ])
                .prop_map(str::to_owned),
                ".{0,12}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(key, inner, 0..7)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_json_values(value in any_json()) {
            let body = serde_json::to_vec(&value).unwrap();
            match parse_event(&body, NOW) {
                Ok(event) => prop_assert!(EVENT_TYPES.contains(&event.event_type())),
                Err(err) => prop_assert!(!err.violations().is_empty()),
            }
        }

        #[test]
        fn never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_event(&body, NOW);
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
            if let Err(err) = parse_event(&body, NOW) {
                prop_assert!(!err.violations().is_empty());
            }
        }
    }
}
