//! The `ops-auth-hook` Edge Function's wasm module: conversions between
//! JavaScript values and [`auth_hook_core`], nothing else.
//!
//! The shim (`supabase/functions/ops-auth-hook/index.ts`) makes one
//! [`HookRequest`] per call of Supabase Auth with [`AuthHook::request`] and
//! hands it to the shared executor, which polls it for its I/O — the read of
//! the person's neighbourhood, then the answer — and hands back each result
//! ([`function_io::Machine`]), and, when a link must be stored, the write
//! after the answer has gone. As for ops-ingest, the headers come in as
//! strings and every I/O goes out as JSON text.

use auth_hook_core::{Config, Hook, Request};
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

/// The hook, configured once per isolate.
#[wasm_bindgen]
pub struct AuthHook {
    config: Config,
}

#[wasm_bindgen]
impl AuthHook {
    /// `secret` is `OPS_AUTH_HOOK_SECRET` as set (Auth's `v1,whsec_…` form,
    /// several separated by `|`), or undefined.
    #[wasm_bindgen(constructor)]
    pub fn new(secret: Option<String>) -> AuthHook {
        AuthHook {
            config: Config::new(secret.as_deref()),
        }
    }

    /// How many body bytes the shim reads at most; it reads one more to know
    /// whether the body was longer.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        auth_hook_core::MAX_BODY_BYTES
    }

    /// Starts one call; its first I/O is [`HookRequest::poll`]. The headers
    /// are `request.headers.get(…)` of `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature`; `now_ms` is `Date.now()`.
    // The arguments are the request's parts, each a plain value across the
    // boundary (cheaper than one object built field by field).
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        method: &str,
        webhook_id: Option<String>,
        webhook_timestamp: Option<String>,
        webhook_signature: Option<String>,
        body: &[u8],
        body_complete: bool,
        now_ms: f64,
    ) -> HookRequest {
        let headers = headers(webhook_id, webhook_timestamp, webhook_signature);
        let request = Request {
            method,
            headers: &headers,
            body,
            body_complete,
        };
        Hook::new(&self.config, &request, unix_seconds(now_ms)).into()
    }
}

fn headers(
    webhook_id: Option<String>,
    webhook_timestamp: Option<String>,
    webhook_signature: Option<String>,
) -> BTreeMap<String, String> {
    [
        ("webhook-id", webhook_id),
        ("webhook-timestamp", webhook_timestamp),
        ("webhook-signature", webhook_signature),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_owned(), value?)))
    .collect()
}

fn unix_seconds(now_ms: f64) -> i64 {
    (now_ms / 1000.0).floor() as i64
}

function_io::wasm_machine! {
    /// One call in progress: the machine the executor drives.
    HookRequest(Hook)
}
