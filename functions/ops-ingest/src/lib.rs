//! The `ops-ingest` Edge Function's wasm module: conversions between
//! JavaScript values and [`ingest_core`], nothing else.
//!
//! The shim (`supabase/functions/ops-ingest/index.ts`) calls [`Ingest::decide`]
//! once per request; if the decision is a write, it runs the SQL and calls
//! [`Ingest::complete`] or [`Ingest::database_failed`]. The crossing is kept
//! lean because it costs more than the decision itself (BENCHMARKS.md): the
//! four headers the decision reads come in as strings, and every answer goes
//! out as JSON text for one `JSON.parse`, instead of objects built field by
//! field across the boundary.

use ingest_core::{Config, Request, Response, Write};
use serde::Serialize;
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

/// The receiver, configured once per isolate.
#[wasm_bindgen]
pub struct Ingest {
    config: Config,
}

#[wasm_bindgen]
impl Ingest {
    /// `webhook_secret` is `OPS_WEBHOOK_SECRET` as set, or undefined.
    #[wasm_bindgen(constructor)]
    pub fn new(webhook_secret: Option<String>) -> Ingest {
        Ingest {
            config: Config::new(webhook_secret.as_deref()),
        }
    }

    /// How many body bytes the shim reads at most; it reads one more to know
    /// whether the body was longer.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        ingest_core::MAX_BODY_BYTES
    }

    /// Decides about one request, as JSON text: `{"action":"respond",
    /// "response":…}` or `{"action":"apply","write":…}`. The headers are
    /// `request.headers.get(…)` of `content-type`, `webhook-id`,
    /// `webhook-timestamp` and `webhook-signature`; `now_ms` is `Date.now()`.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        method: &str,
        content_type: Option<String>,
        webhook_id: Option<String>,
        webhook_timestamp: Option<String>,
        webhook_signature: Option<String>,
        body: &[u8],
        body_complete: bool,
        now_ms: f64,
    ) -> String {
        let headers: BTreeMap<String, String> = [
            ("content-type", content_type),
            ("webhook-id", webhook_id),
            ("webhook-timestamp", webhook_timestamp),
            ("webhook-signature", webhook_signature),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), value?)))
        .collect();
        let request = Request {
            method,
            headers: &headers,
            body,
            body_complete,
        };
        let now = (now_ms / 1000.0).floor() as i64;
        json(&ingest_core::decide(&self.config, &request, now))
    }

    /// The response, as JSON text, for a write (`JSON.stringify(decision.write)`)
    /// whose statement answered `outcome`.
    pub fn complete(&self, write: &str, outcome: &str) -> String {
        json(&match serde_json::from_str::<Write>(write) {
            Ok(write) => ingest_core::complete(&write, outcome),
            Err(_) => ingest_core::unreadable_write(),
        })
    }

    /// The response, as JSON text, for a write whose statement failed;
    /// `sqlstate` is the PostgreSQL error code, or undefined when the server
    /// was not reached.
    #[wasm_bindgen(js_name = databaseFailed)]
    pub fn database_failed(&self, write: &str, sqlstate: Option<String>) -> String {
        json(&match serde_json::from_str::<Write>(write) {
            Ok(write) => ingest_core::database_failed(&write, sqlstate.as_deref()),
            Err(_) => ingest_core::unreadable_write(),
        })
    }
}

fn json<T: Serialize>(value: &T) -> String {
    // Serializing plain data cannot fail; a failure would still be answered,
    // as a retryable 503, rather than trap.
    serde_json::to_string(value).unwrap_or_else(|_| {
        serde_json::to_string::<Response>(&ingest_core::unreadable_write()).unwrap_or_default()
    })
}
