//! The `ops-ingest` Edge Function's wasm module: conversions between
//! JavaScript values and [`ingest_core`], nothing else.
//!
//! The shim (`supabase/functions/ops-ingest/index.ts`) calls [`Ingest::decide`]
//! once per request; if the decision is a write, it runs the SQL and calls
//! [`Ingest::complete`] or [`Ingest::database_failed`]. Every returned value is
//! a plain JSON-compatible object.

use ingest_core::{Config, Request, Write};
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

    /// Decides about one request. `headers` is `Object.fromEntries(request.headers)`;
    /// `now_ms` is `Date.now()`.
    pub fn decide(
        &self,
        method: &str,
        headers: JsValue,
        body: &[u8],
        body_complete: bool,
        now_ms: f64,
    ) -> JsValue {
        // Headers that cannot be read as strings are treated as absent; the
        // decision then refuses the request for the header it misses.
        let headers: BTreeMap<String, String> =
            serde_wasm_bindgen::from_value(headers).unwrap_or_default();
        let request = Request {
            method,
            headers: &headers,
            body,
            body_complete,
        };
        let now = (now_ms / 1000.0).floor() as i64;
        to_js(&ingest_core::decide(&self.config, &request, now))
    }

    /// The response for a write whose statement answered `outcome`.
    pub fn complete(&self, write: JsValue, outcome: &str) -> JsValue {
        match serde_wasm_bindgen::from_value::<Write>(write) {
            Ok(write) => to_js(&ingest_core::complete(&write, outcome)),
            Err(_) => to_js(&ingest_core::unreadable_write()),
        }
    }

    /// The response for a write whose statement failed; `sqlstate` is the
    /// PostgreSQL error code, or undefined when the server was not reached.
    #[wasm_bindgen(js_name = databaseFailed)]
    pub fn database_failed(&self, write: JsValue, sqlstate: Option<String>) -> JsValue {
        match serde_wasm_bindgen::from_value::<Write>(write) {
            Ok(write) => to_js(&ingest_core::database_failed(&write, sqlstate.as_deref())),
            Err(_) => to_js(&ingest_core::unreadable_write()),
        }
    }
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    // Plain objects and arrays rather than Maps, so the shim can use them as
    // they are.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}
