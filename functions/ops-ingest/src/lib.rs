//! The `ops-ingest` Edge Function's wasm module: conversions between
//! JavaScript values and [`ingest_core`], nothing else.
//!
//! The shim (`supabase/functions/ops-ingest/index.ts`) makes one
//! [`IngestRequest`] per request with [`Ingest::request`] (which decides)
//! and hands it to the shared executor, which polls it for its I/O — the one
//! SQL statement of a write, then the response — and hands back each answer
//! ([`function_io::Machine`]). The crossing is kept lean because it costs
//! more than the decision itself (BENCHMARKS.md): the four headers the
//! decision reads come in as strings, and every I/O goes out as JSON text for
//! one `JSON.parse`, instead of objects built field by field across the
//! boundary. A write is three calls: `request`, `poll` (the statement) and
//! `sqlAnswered` (the response).

use ingest_core::{Config, Ingestion, Request};
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

    /// Decides about one request; its first I/O is [`IngestRequest::poll`].
    /// The headers are `request.headers.get(…)` of `content-type`,
    /// `webhook-id`, `webhook-timestamp` and `webhook-signature`; `now_ms` is
    /// `Date.now()`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        method: &str,
        content_type: Option<String>,
        webhook_id: Option<String>,
        webhook_timestamp: Option<String>,
        webhook_signature: Option<String>,
        body: &[u8],
        body_complete: bool,
        now_ms: f64,
    ) -> IngestRequest {
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
        Ingestion::new(&self.config, &request, now).into()
    }
}

function_io::wasm_machine! {
    /// One request in progress: the machine the executor drives.
    IngestRequest(Ingestion)
}
