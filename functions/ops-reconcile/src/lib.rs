//! The `ops-reconcile` Edge Function's wasm module: conversions between
//! JavaScript values and [`reconcile_core`], nothing else.
//!
//! The shim makes one [`ReconcileInvocation`] per request with
//! [`ReconcileFunction::invocation`] (the request, `Date.now()` and a random
//! lease holder go in) and hands it to the shared executor, which polls it
//! for every statement and the answer ([`function_io::Machine`]).

use reconcile_core::{Config, Reconcile};
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

/// The function, configured once per isolate.
#[wasm_bindgen]
pub struct ReconcileFunction {
    config: Config,
}

#[wasm_bindgen]
impl ReconcileFunction {
    /// `OPS_RECONCILE_SECRET`, `OPS_RECONCILE_INSTANCE` and
    /// `OPS_RECONCILE_LANGUAGE` as set, or undefined.
    #[wasm_bindgen(constructor)]
    pub fn new(
        secret: Option<String>,
        instance: Option<String>,
        language: Option<String>,
    ) -> ReconcileFunction {
        ReconcileFunction {
            config: Config::new(secret.as_deref(), instance.as_deref(), language.as_deref()),
        }
    }

    /// How many body bytes the shim reads at most.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        reconcile_core::MAX_BODY_BYTES
    }

    /// One invocation. `authorization` is
    /// `request.headers.get("authorization")`, `holder` a random id for the
    /// lease (`crypto.randomUUID()`), `now_ms` `Date.now()`.
    pub fn invocation(
        &self,
        method: &str,
        authorization: Option<String>,
        body: &[u8],
        body_complete: bool,
        holder: &str,
        now_ms: f64,
    ) -> ReconcileInvocation {
        // The only header the decision reads.
        let headers: BTreeMap<String, String> = authorization
            .map(|value| ("authorization".to_owned(), value))
            .into_iter()
            .collect();
        Reconcile::new(
            &self.config,
            method,
            &headers,
            body,
            body_complete,
            holder,
            now_ms,
        )
        .into()
    }
}

function_io::wasm_machine! {
    /// One invocation in progress: the machine the executor drives.
    ReconcileInvocation(Reconcile)
}
