//! The `ops-cleanup` Edge Function's wasm module: conversions between
//! JavaScript values and [`cleanup_core`], nothing else.
//!
//! The shim makes one [`CleanupInvocation`] per request with
//! [`Cleanup::invocation`] (the request, `Date.now()` and a random lease
//! holder go in) and hands it to the shared executor, which polls it for
//! every statement, S3 call and the answer, and hands back each result
//! ([`function_io::Machine`]). Every I/O goes out as JSON text; an archive's
//! bytes come out on their own, as a `Uint8Array` ([`CleanupInvocation::content`]).
//!
//! The restore command (`scripts/restore.ts`) runs the same executor on a
//! [`CleanupRestore`] made by [`restore`]: the inverse of cleanup, reading
//! the archives this module's invocations wrote.

use cleanup_core::restore::Restore;
use cleanup_core::{Config, Invocation};
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

/// The function, configured once per isolate.
#[wasm_bindgen]
pub struct Cleanup {
    config: Config,
}

#[wasm_bindgen]
impl Cleanup {
    /// `OPS_CRON_SECRET`, `S3_BUCKET` and `OPS_CLEANUP_READ_BUDGET_BYTES`
    /// as set, or undefined.
    #[wasm_bindgen(constructor)]
    pub fn new(
        cron_secret: Option<String>,
        bucket: Option<String>,
        read_budget_bytes: Option<String>,
    ) -> Cleanup {
        Cleanup {
            config: Config::new(cron_secret.as_deref(), bucket.as_deref())
                .read_budget(read_budget_bytes.as_deref()),
        }
    }

    /// How many body bytes the shim reads at most.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        cleanup_core::MAX_BODY_BYTES
    }

    /// One invocation. `authorization` is `request.headers.get("authorization")`,
    /// `body_complete` false when the shim stopped reading at the limit,
    /// `holder` a random id for the lease (`crypto.randomUUID()`), `now_ms`
    /// `Date.now()`.
    #[allow(clippy::too_many_arguments)]
    pub fn invocation(
        &self,
        method: &str,
        authorization: Option<String>,
        body: &[u8],
        body_complete: bool,
        holder: &str,
        now_ms: f64,
    ) -> CleanupInvocation {
        // The only header the decision reads.
        let headers: BTreeMap<String, String> = authorization
            .map(|value| ("authorization".to_owned(), value))
            .into_iter()
            .collect();
        Invocation::new(
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
    CleanupInvocation(Invocation)
}

/// A restore of what `args` names (the command line after `restore`:
/// `--run <run_id>` or `--object <key>`), for the restore command's executor.
#[wasm_bindgen]
pub fn restore(args: Vec<String>) -> CleanupRestore {
    Restore::new(&args).into()
}

function_io::wasm_machine! {
    /// One restore in progress: the machine the restore command drives.
    CleanupRestore(Restore)
}
