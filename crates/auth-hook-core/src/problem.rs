//! The hook's refusals: RFC 9457 problem details that also carry the error
//! object Supabase Auth reads (`{"error": {"http_code", "message"}}`).
//!
//! Auth, by its code, turns a 400 into "Invalid payload sent to hook" and a
//! 401 into "Hook requires authorization token" without reading the body;
//! the `error` member is there so that the body says the same thing in
//! Auth's words to whoever does read it.

use crate::{LogFields, Response};
use function_io::RETRY_AFTER_SECONDS;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    /// The field or header at fault, and the rule it broke.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
    error: AuthError,
    #[serde(skip)]
    slug: &'static str,
    #[serde(skip)]
    extra_headers: Vec<(String, String)>,
}

/// Auth's hook error object.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct AuthError {
    http_code: u16,
    message: String,
}

impl Problem {
    fn new(slug: &'static str, title: &'static str, status: u16, detail: String) -> Problem {
        Problem {
            kind: function_io::problem_type(slug),
            title,
            status,
            error: AuthError {
                http_code: status,
                message: detail.clone(),
            },
            detail,
            field: None,
            rule: None,
            slug,
            extra_headers: Vec::new(),
        }
    }

    pub(crate) fn method_not_allowed(method: &str) -> Problem {
        let mut p = Problem::new(
            "method-not-allowed",
            "Method not allowed",
            405,
            format!(
                "{} is not accepted; Auth calls the hook with POST",
                truncate(method)
            ),
        );
        p.extra_headers.push(("allow".into(), "POST".into()));
        p
    }

    pub(crate) fn too_large(limit: usize) -> Problem {
        let mut p = Problem::new(
            "body-too-large",
            "Body too large",
            413,
            format!("the body is longer than {limit} bytes"),
        );
        p.field = Some("body".into());
        p.rule = Some("maxLength");
        p
    }

    pub(crate) fn misconfigured(reason: &str) -> Problem {
        // The reason names the setting, never its value.
        let mut p = Problem::new(
            "unavailable",
            "Temporarily unavailable",
            503,
            format!("the hook is not configured: {reason}"),
        );
        p.extra_headers
            .push(("retry-after".into(), RETRY_AFTER_SECONDS.to_string()));
        p
    }

    pub(crate) fn unauthorized(error: &webhook_auth::Error) -> Problem {
        let mut p = Problem::new(
            "invalid-signature",
            "Webhook authentication failed",
            401,
            error.to_string(),
        );
        p.field = error.header().map(str::to_owned);
        p.rule = Some("signature");
        p
    }

    pub(crate) fn invalid(field: &str, rule: &'static str, message: String) -> Problem {
        let mut p = Problem::new(
            "invalid-hook-input",
            "Body is not Auth's hook input",
            400,
            format!("{field}: {message}"),
        );
        p.field = Some(field.to_owned());
        p.rule = Some(rule);
        p
    }

    /// The response carrying this problem; fills in the log's outcome.
    pub(crate) fn respond(self, log: &mut LogFields) -> Response {
        log.outcome = function_io::outcome_of(self.slug);
        log.status = self.status;
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/problem+json".to_owned(),
        )];
        headers.extend(self.extra_headers.iter().cloned());
        // Serializing a struct of strings cannot fail; the fallback keeps a
        // body anyway.
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
