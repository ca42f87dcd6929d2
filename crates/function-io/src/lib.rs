//! The one protocol between the Edge Functions' machines and their executor.
//!
//! Each function is a machine, in quinn-proto's shape: the request, `now` and
//! any random value go in when it is made; then it is polled for its next
//! [`Io`] — an SQL statement, an S3 put-and-verify, an S3 get, an S3
//! delete, or the response — and handed the [`Answer`] to it, a result or a failure, until
//! the response. The executor (`supabase/functions/_shared/executor.ts`)
//! performs each `Io` and knows no business rule: the order of the steps,
//! what a failure means and what to answer are the machine's.
//!
//! The wire form is JSON text, one object per `Io`:
//!
//! | `kind`      | fields                                             | the executor hands back                         |
//! | ----------- | -------------------------------------------------- | ----------------------------------------------- |
//! | `sql`       | `text`, `params`                                   | the `result` column of the first row, or the SQLSTATE and message of the failure |
//! | `s3_put`    | `bucket`, `key`, `content_type`, `sha256_base64`   | the object's bytes as stored, read back, or a failure |
//! | `s3_get`    | `bucket`, `key`                                    | the object's bytes as stored, or a failure      |
//! | `s3_delete` | `bucket`, `key`                                    | success or a failure                            |
//! | `respond`   | `response`: `status`, `headers`, `body`, `log`     | nothing: the machine is done                    |
//! | `respond_then` | `response`, as `respond`                        | that it was sent ([`Machine::responded`]); the machine goes on |
//!
//! `respond_then` is for work the caller must not wait for: the executor
//! sends the response at once and keeps polling in the background (on the
//! Edge Runtime under `EdgeRuntime.waitUntil`) until a `respond`, whose
//! response is then only logged.
//!
//! Every statement a machine sends answers one row whose one column, named
//! `result`, is text or null. Every parameter is cast in the statement's
//! text (`$1::text`, `$2::int`, `$3::text[]`), so the driver sends it as
//! what it is and never guesses a type. The bytes of a put do not go
//! through JSON: the executor takes them with [`Machine::content`].
//!
//! ```
//! use function_io::{Io, Param};
//!
//! let params = [Param::Text("holder".into()), Param::Int(300)];
//! let io: Io<'_, ()> = Io::Sql { text: "select ops.cleanup_acquire($1::text, $2::int)::text as result", params: &params };
//! assert_eq!(
//!     serde_json::to_string(&io).unwrap(),
//!     r#"{"kind":"sql","text":"select ops.cleanup_acquire($1::text, $2::int)::text as result","params":["holder",300]}"#,
//! );
//! ```
#![deny(missing_docs)]

use serde::Serialize;

/// The next thing a machine needs done.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Io<'a, R> {
    /// Run one statement; answer [`Answer::Sql`] or [`Answer::SqlFailed`].
    Sql {
        /// The statement; it returns one row with one text column, `result`.
        text: &'a str,
        /// Its parameters, in order.
        params: &'a [Param],
    },
    /// Put [`Machine::content`] under `key` unless an object is already
    /// there, then read back what is stored; answer [`Answer::Stored`] or
    /// [`Answer::S3Failed`].
    S3Put {
        /// The bucket.
        bucket: &'a str,
        /// The key.
        key: &'a str,
        /// The `Content-Type` to store the object with.
        content_type: &'a str,
        /// The content's SHA-256 in base64, for S3's `ChecksumSHA256`.
        sha256_base64: &'a str,
    },
    /// Read one object as stored (no content decoding); answer
    /// [`Answer::Stored`] or [`Answer::S3Failed`].
    S3Get {
        /// The bucket.
        bucket: &'a str,
        /// The key.
        key: &'a str,
    },
    /// Delete one object; answer [`Answer::Deleted`] or [`Answer::S3Failed`].
    S3Delete {
        /// The bucket.
        bucket: &'a str,
        /// The key.
        key: &'a str,
    },
    /// Send this response and log its line; the machine is done.
    Respond {
        /// The response.
        response: &'a R,
    },
    /// Send this response and log its line now, then go on: the executor
    /// calls [`Machine::responded`] and keeps polling, and the `Respond`
    /// that ends the rest is logged, not sent.
    RespondThen {
        /// The response.
        response: &'a R,
    },
}

/// One parameter of a statement, as the driver should send it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Param {
    /// SQL null.
    Null,
    /// Text (also what timestamps and JSON are sent as, cast in the statement).
    Text(String),
    /// A whole number.
    Int(i64),
    /// An array of text.
    TextArray(Vec<String>),
}

impl Param {
    /// Text, or null for `None`.
    pub fn text_or_null(value: Option<String>) -> Param {
        value.map_or(Param::Null, Param::Text)
    }
}

/// What the executor hands back for the last [`Io`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// The statement's `result` column; `None` for SQL null (or no row).
    Sql(Option<&'a str>),
    /// The statement failed: PostgreSQL's error code and message, or `None`
    /// when the server was not reached.
    SqlFailed {
        /// The SQLSTATE.
        sqlstate: Option<&'a str>,
        /// The server's message. A machine decides whether it may be shown:
        /// a function's caller is not told the database's words.
        message: Option<&'a str>,
    },
    /// The object's bytes as stored: after a put (or when it was already
    /// there), read back; after a get, as read.
    Stored(&'a [u8]),
    /// The object was deleted (deleting a missing object succeeds, as in S3).
    Deleted,
    /// The S3 call failed or timed out.
    S3Failed,
}

/// A function's machine, as the bindings and the tests drive it.
pub trait Machine {
    /// The response the machine ends with.
    type Response: Serialize;

    /// The next I/O; the same until an answer is handed in.
    fn poll(&self) -> Io<'_, Self::Response>;

    /// Hands in the answer to the last [`Machine::poll`], `elapsed_ms` into
    /// the request (the executor's monotonic clock).
    fn handle(&mut self, answer: Answer<'_>, elapsed_ms: f64);

    /// The bytes of the pending [`Io::S3Put`]; empty when none is pending.
    fn content(&self) -> &[u8] {
        &[]
    }

    /// The response of a pending [`Io::RespondThen`] was sent. Machines
    /// that never ask for one need not care.
    fn responded(&mut self) {}

    /// [`Machine::poll`] as JSON text, the executor's wire form.
    fn poll_json(&self) -> String {
        // Serializing plain data cannot fail; if it did, the caller is told
        // to retry rather than the isolate trapping.
        serde_json::to_string(&self.poll()).unwrap_or_else(|_| UNENCODABLE.to_owned())
    }
}

/// A response, ready to send: what [`Io::Respond`] carries for every
/// function. `L` is the function's own log fields; the executor writes them
/// as the request's one log line, with its duration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Response<L> {
    /// Status code.
    pub status: u16,
    /// Header pairs.
    pub headers: Vec<(String, String)>,
    /// The body: JSON, or problem+json for a refusal.
    pub body: String,
    /// The fields of the log line, free of secrets and payloads.
    pub log: L,
}

/// How long a caller should wait before retrying a `503`, in seconds: one
/// policy for every function (the `Retry-After` header). Odoo's retries and
/// pg_cron's next run both come later anyway; 30 s lets a restarted
/// database or pooler come back without a stampede.
pub const RETRY_AFTER_SECONDS: u32 = 30;

/// The `type` of a problem+json body (RFC 9457) of kind `slug`:
/// `urn:odooops:problem:<slug>`, stable so that callers can match on it.
pub fn problem_type(slug: &str) -> String {
    format!("urn:odooops:problem:{slug}")
}

/// The headers and body of a plain problem+json answer (RFC 9457) of kind
/// `slug`: `type`, `title`, `status` and `detail`, with `Retry-After` on a
/// 503 ([`RETRY_AFTER_SECONDS`]) and `Allow: POST` on a 405. For functions
/// whose refusals need no more members than these.
pub fn problem_parts(
    status: u16,
    slug: &str,
    title: &str,
    detail: &str,
) -> (Vec<(String, String)>, String) {
    let mut headers = vec![(
        "content-type".to_owned(),
        "application/problem+json".to_owned(),
    )];
    if status == 503 {
        headers.push(("retry-after".to_owned(), RETRY_AFTER_SECONDS.to_string()));
    }
    if status == 405 {
        headers.push(("allow".to_owned(), "POST".to_owned()));
    }
    let body = serde_json::json!({
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
    })
    .to_string();
    (headers, body)
}

/// How a log line spells the outcome of a problem of kind `slug`: the same
/// words in snake_case, as every other outcome (`applied`, `complete`, …).
pub fn outcome_of(slug: &str) -> String {
    slug.replace('-', "_")
}

/// The answer when an [`Io`] could not be encoded: a retryable 503.
pub const UNENCODABLE: &str = concat!(
    r#"{"kind":"respond","response":{"status":503,"#,
    r#""headers":[["content-type","application/problem+json"],["retry-after","30"]],"#,
    r#""body":"{\"type\":\"urn:odooops:problem:unavailable\",\"title\":\"Temporarily unavailable\",\"status\":503,\"detail\":\"the function could not encode its next step\"}","#,
    r#""log":{"outcome":"unencodable","status":503}}}"#
);

/// The wasm binding of a machine, the same for every function: a
/// `#[wasm_bindgen]` struct holding it, with the methods the executor
/// (`supabase/functions/_shared/executor.ts`) calls — `poll`,
/// `sqlAnswered`, `sqlFailed`, `content`, `s3Answered`, `s3Failed`,
/// `responded` — each
/// answering the next I/O as JSON text. Used by the `functions/` crates,
/// which depend on `wasm-bindgen`; this crate does not.
///
/// ```ignore
/// function_io::wasm_machine! {
///     /// One request in progress: the machine the executor drives.
///     IngestRequest(ingest_core::Ingestion)
/// }
/// ```
#[macro_export]
macro_rules! wasm_machine {
    ($(#[$meta:meta])* $name:ident($machine:ty)) => {
        $(#[$meta])*
        #[::wasm_bindgen::prelude::wasm_bindgen]
        pub struct $name {
            machine: $machine,
        }

        impl From<$machine> for $name {
            fn from(machine: $machine) -> $name {
                $name { machine }
            }
        }

        #[::wasm_bindgen::prelude::wasm_bindgen]
        impl $name {
            /// The next I/O, as JSON text (`{"kind": "sql" | "s3_put" | "s3_get" | "s3_delete" | "respond", …}`).
            pub fn poll(&self) -> String {
                $crate::Machine::poll_json(&self.machine)
            }

            /// Hands in the statement's `result` column (undefined for
            /// null); the next I/O.
            #[wasm_bindgen(js_name = sqlAnswered)]
            pub fn sql_answered(&mut self, result: Option<String>, elapsed_ms: f64) -> String {
                $crate::Machine::handle(
                    &mut self.machine,
                    $crate::Answer::Sql(result.as_deref()),
                    elapsed_ms,
                );
                $crate::Machine::poll_json(&self.machine)
            }

            /// Hands in a failed statement: PostgreSQL's error code and
            /// message, or undefined when the server was not reached; the
            /// next I/O.
            #[wasm_bindgen(js_name = sqlFailed)]
            pub fn sql_failed(
                &mut self,
                sqlstate: Option<String>,
                message: Option<String>,
                elapsed_ms: f64,
            ) -> String {
                $crate::Machine::handle(
                    &mut self.machine,
                    $crate::Answer::SqlFailed {
                        sqlstate: sqlstate.as_deref(),
                        message: message.as_deref(),
                    },
                    elapsed_ms,
                );
                $crate::Machine::poll_json(&self.machine)
            }

            /// The bytes of the pending S3 put; empty when none is pending.
            pub fn content(&self) -> Vec<u8> {
                $crate::Machine::content(&self.machine).to_vec()
            }

            /// Hands in a finished S3 call: the object's bytes for a put
            /// (read back) or a get; undefined for a delete. The next I/O.
            #[wasm_bindgen(js_name = s3Answered)]
            pub fn s3_answered(&mut self, stored: Option<Vec<u8>>, elapsed_ms: f64) -> String {
                let answer = match &stored {
                    Some(bytes) => $crate::Answer::Stored(bytes),
                    None => $crate::Answer::Deleted,
                };
                $crate::Machine::handle(&mut self.machine, answer, elapsed_ms);
                $crate::Machine::poll_json(&self.machine)
            }

            /// Hands in a failed S3 call; the next I/O.
            #[wasm_bindgen(js_name = s3Failed)]
            pub fn s3_failed(&mut self, elapsed_ms: f64) -> String {
                $crate::Machine::handle(&mut self.machine, $crate::Answer::S3Failed, elapsed_ms);
                $crate::Machine::poll_json(&self.machine)
            }

            /// Says that the response of a `respond_then` was sent; the
            /// next I/O.
            pub fn responded(&mut self) -> String {
                $crate::Machine::responded(&mut self.machine);
                $crate::Machine::poll_json(&self.machine)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn every_io_has_its_wire_form() {
        let put: Io<'_, ()> = Io::S3Put {
            bucket: "b",
            key: "k",
            content_type: "application/gzip",
            sha256_base64: "AA==",
        };
        assert_eq!(
            serde_json::to_value(put).unwrap(),
            json!({"kind": "s3_put", "bucket": "b", "key": "k",
                   "content_type": "application/gzip", "sha256_base64": "AA=="})
        );
        let get: Io<'_, ()> = Io::S3Get {
            bucket: "b",
            key: "k",
        };
        assert_eq!(
            serde_json::to_value(get).unwrap(),
            json!({"kind": "s3_get", "bucket": "b", "key": "k"})
        );
        let delete: Io<'_, ()> = Io::S3Delete {
            bucket: "b",
            key: "k",
        };
        assert_eq!(
            serde_json::to_value(delete).unwrap(),
            json!({"kind": "s3_delete", "bucket": "b", "key": "k"})
        );
        let respond: Io<'_, Value> = Io::Respond {
            response: &json!({"status": 200}),
        };
        assert_eq!(
            serde_json::to_value(respond).unwrap(),
            json!({"kind": "respond", "response": {"status": 200}})
        );
        let then: Io<'_, Value> = Io::RespondThen {
            response: &json!({"status": 200}),
        };
        assert_eq!(
            serde_json::to_value(then).unwrap(),
            json!({"kind": "respond_then", "response": {"status": 200}})
        );
    }

    #[test]
    fn params_are_plain_json_values() {
        let params = [
            Param::Null,
            Param::Text("t".into()),
            Param::Int(-3),
            Param::TextArray(vec!["a".into()]),
            Param::text_or_null(None),
        ];
        assert_eq!(
            serde_json::to_value(params).unwrap(),
            json!([null, "t", -3, ["a"], null])
        );
    }

    #[test]
    fn problems_have_one_vocabulary() {
        assert_eq!(
            problem_type("body-too-large"),
            "urn:odooops:problem:body-too-large"
        );
        assert_eq!(outcome_of("body-too-large"), "body_too_large");
        let io: Value = serde_json::from_str(UNENCODABLE).unwrap();
        let headers = io["response"]["headers"].as_array().unwrap();
        assert!(headers.contains(&json!(["retry-after", RETRY_AFTER_SECONDS.to_string()])));
    }

    #[test]
    fn plain_problems_carry_their_status_headers() {
        let (headers, body) = problem_parts(503, "unavailable", "Temporarily unavailable", "later");
        assert!(headers.contains(&("retry-after".to_owned(), RETRY_AFTER_SECONDS.to_string())));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["type"], "urn:odooops:problem:unavailable");
        assert_eq!(body["status"], 503);
        let (headers, _) = problem_parts(405, "method-not-allowed", "Method not allowed", "POST");
        assert!(headers.contains(&("allow".to_owned(), "POST".to_owned())));
        let (headers, _) = problem_parts(401, "unauthorized", "Unauthorized", "no");
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn the_unencodable_answer_is_a_retryable_problem() {
        let io: Value = serde_json::from_str(UNENCODABLE).unwrap();
        assert_eq!(io["kind"], "respond");
        assert_eq!(io["response"]["status"], 503);
        let body: Value = serde_json::from_str(io["response"]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["status"], 503);
    }
}
