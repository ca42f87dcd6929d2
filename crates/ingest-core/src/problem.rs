//! RFC 9457 problem details: every refusal of `ops-ingest` in one shape.

use crate::{LogFields, Response, RETRY_AFTER_SECONDS};
use serde::Serialize;
use serde_json::Value;

/// One problem+json body and the headers that go with it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem; stable, so senders can match on it.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong with this request.
    pub detail: String,
    /// The header at fault, for authentication problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<&'static str>,
    /// Every broken rule, for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
    #[serde(skip)]
    extra_headers: Vec<(String, String)>,
}

impl Problem {
    fn new(slug: &str, title: &'static str, status: u16, detail: String) -> Problem {
        Problem {
            kind: function_io::problem_type(slug),
            title,
            status,
            detail,
            header: None,
            errors: None,
            extra_headers: Vec::new(),
        }
    }

    pub(crate) fn method_not_allowed(method: &str) -> Problem {
        let mut p = Problem::new(
            "method-not-allowed",
            "Method not allowed",
            405,
            format!(
                "{} is not accepted; send events with POST",
                truncate(method)
            ),
        );
        p.extra_headers.push(("allow".into(), "POST".into()));
        p
    }

    pub(crate) fn too_large(limit: usize) -> Problem {
        Problem::new(
            "body-too-large",
            "Body too large",
            413,
            format!("the body is longer than {limit} bytes"),
        )
    }

    pub(crate) fn misconfigured(reason: &str) -> Problem {
        // The reason names the setting, never its value.
        Problem::unavailable(&format!("the receiver is not configured: {reason}"))
    }

    pub(crate) fn unauthorized(error: &webhook_auth::Error) -> Problem {
        let mut p = Problem::new(
            "invalid-signature",
            "Webhook authentication failed",
            401,
            error.to_string(),
        );
        p.header = error.header();
        p
    }

    pub(crate) fn unsupported_media_type(got: Option<&str>) -> Problem {
        let detail = match got {
            Some(value) => format!(
                "content-type: expected application/json, got {:?}",
                truncate(value)
            ),
            None => "content-type: header is missing; expected application/json".to_owned(),
        };
        let mut p = Problem::new(
            "unsupported-media-type",
            "Unsupported media type",
            415,
            detail,
        );
        p.header = Some("content-type");
        p
    }

    pub(crate) fn not_json(error: &ops_events::Error) -> Problem {
        Problem::new("not-json", "Body is not JSON", 400, error.to_string())
    }

    pub(crate) fn invalid(error: &ops_events::Error) -> Problem {
        let mut p = Problem::new(
            "invalid-event",
            "Event does not match its schema",
            422,
            error.to_string(),
        );
        p.errors = serde_json::to_value(error.violations()).ok();
        p
    }

    pub(crate) fn conflict(webhook_id: &str) -> Problem {
        Problem::new(
            "idempotency-conflict",
            "webhook-id reused with a different body",
            409,
            format!(
                "webhook-id {webhook_id:?} was already delivered with a different body; a new event needs a new id"
            ),
        )
    }

    pub(crate) fn rejected_by_database(sqlstate: &str) -> Problem {
        Problem::new(
            "rejected-by-database",
            "Event refused by the control plane's constraints",
            422,
            format!(
                "the database refused the event (SQLSTATE {})",
                truncate(sqlstate)
            ),
        )
    }

    pub(crate) fn unavailable(detail: &str) -> Problem {
        let mut p = Problem::new(
            "unavailable",
            "Temporarily unavailable",
            503,
            detail.to_owned(),
        );
        p.extra_headers
            .push(("retry-after".into(), RETRY_AFTER_SECONDS.to_string()));
        p
    }

    /// The response carrying this problem; fills in the log's outcome.
    pub(crate) fn respond(self, log: &mut LogFields, outcome: &'static str) -> Response {
        log.outcome = outcome;
        log.status = self.status;
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/problem+json".to_owned(),
        )];
        headers.extend(self.extra_headers.iter().cloned());
        // Serializing a struct of strings and JSON values cannot fail; the
        // fallback keeps a body anyway.
        let body = serde_json::to_string(&self)
            .unwrap_or_else(|_| format!("{{\"status\":{}}}", self.status));
        Response {
            status: self.status,
            headers,
            body,
            log: log.clone(),
        }
    }
}

/// Echoes of a caller's input are cut short so an answer stays small.
fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}
