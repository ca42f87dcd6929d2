//! The `ops-odoo-nudge` Edge Function's wasm module: conversions between
//! JavaScript values and [`reconcile_core::nudge`], nothing else.
//!
//! The shim makes one [`NudgeInvocation`] per request with
//! [`NudgeFunction::invocation`] (the request's method, path and body,
//! `Date.now()` and a random claim holder go in) and hands it to the shared
//! executor, which polls it for every statement and the answer
//! ([`function_io::Machine`]).

use reconcile_core::nudge::{Nudge, NudgeConfig};
use wasm_bindgen::prelude::*;

/// The function, configured once per isolate.
#[wasm_bindgen]
pub struct NudgeFunction {
    config: NudgeConfig,
}

#[wasm_bindgen]
impl NudgeFunction {
    /// `OPS_NUDGE_TOKENS` and `OPS_RECONCILE_LANGUAGE` as set, or undefined.
    #[wasm_bindgen(constructor)]
    pub fn new(tokens: Option<String>, language: Option<String>) -> NudgeFunction {
        NudgeFunction {
            config: NudgeConfig::new(tokens.as_deref(), language.as_deref()),
        }
    }

    /// How many body bytes the shim reads at most.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        reconcile_core::nudge::MAX_BODY_BYTES
    }

    /// One invocation. `path` is `new URL(request.url).pathname`, `holder`
    /// a random id for the claim (`crypto.randomUUID()`), `now_ms`
    /// `Date.now()`.
    pub fn invocation(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        body_complete: bool,
        holder: &str,
        now_ms: f64,
    ) -> NudgeInvocation {
        Nudge::new(
            &self.config,
            method,
            path,
            body,
            body_complete,
            holder,
            now_ms,
        )
        .into()
    }
}

function_io::wasm_machine! {
    /// One nudge in progress: the machine the executor drives.
    NudgeInvocation(Nudge)
}
