//! The `ops-cleanup` Edge Function's wasm module: conversions between
//! JavaScript values and [`cleanup_core`], nothing else.
//!
//! The shim calls [`Cleanup::start`] once per request; for a run it creates a
//! [`CleanupRun`] and, batch by batch and page by page of S3 deletes, hands
//! it what the database and the archive store answered. Every returned value is a plain JSON-compatible
//! object; archive bytes come out as `Uint8Array`s.

use cleanup_core::{Config, Run, Stage};
use serde::Serialize;
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

    /// Decides about one request; `headers` is `Object.fromEntries(request.headers)`,
    /// `body_complete` false when the shim stopped reading at the limit.
    pub fn start(
        &self,
        method: &str,
        headers: JsValue,
        body: &[u8],
        body_complete: bool,
    ) -> JsValue {
        // Headers that are not an object of strings count as absent: the
        // request is then refused for the authorization it lacks.
        let headers: BTreeMap<String, String> =
            serde_wasm_bindgen::from_value(headers).unwrap_or_default();
        to_js(&cleanup_core::start(
            &self.config,
            method,
            &headers,
            body,
            body_complete,
        ))
    }

    /// The answer when another invocation holds the lease.
    pub fn busy(&self) -> JsValue {
        to_js(&cleanup_core::busy())
    }
}

/// One invocation in progress.
#[wasm_bindgen]
pub struct CleanupRun {
    run: Run,
}

#[wasm_bindgen]
impl CleanupRun {
    /// Starts the bookkeeping of one invocation, with what `start` answered.
    #[wasm_bindgen(constructor)]
    pub fn new(dry_run: bool, bucket: &str, limit: u32, read_budget_bytes: f64) -> CleanupRun {
        // A JavaScript number; `as` saturates (and maps NaN to 0, which stops
        // after one batch: the safe side).
        CleanupRun {
            run: Run::new(dry_run, bucket, limit, read_budget_bytes as u64),
        }
    }

    /// Plans a batch from `ops.cleanup_read`'s text: `{step}` or `{response}`.
    pub fn step(&mut self, read: &str) -> JsValue {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Answer {
            Step(cleanup_core::Step),
            Response(cleanup_core::Response),
        }
        match self.run.step(read) {
            Ok(step) => to_js(&Answer::Step(step)),
            Err(response) => to_js(&Answer::Response(response)),
        }
    }

    /// Whether the bytes read back are the archive put (`sha256_hex`).
    pub fn verifies(&self, sha256_hex: &str, stored: &[u8]) -> bool {
        Run::verifies(sha256_hex, stored)
    }

    /// Records `ops.cleanup_commit`'s answer (text).
    pub fn committed(&mut self, answer: &str) {
        self.run.committed(answer);
    }

    /// The page size to ask `ops.cleanup_s3_pending` for.
    #[wasm_bindgen(getter, js_name = s3Page)]
    pub fn s3_page(&self) -> u32 {
        self.run.s3_page()
    }

    /// The objects of one page of `ops.cleanup_s3_pending`, as `{uri, bucket, key}`.
    #[wasm_bindgen(js_name = s3Targets)]
    pub fn s3_targets(&mut self, pending: &str) -> JsValue {
        to_js(&self.run.s3_targets(pending))
    }

    /// Records S3 objects deleted.
    #[wasm_bindgen(js_name = s3Deleted)]
    pub fn s3_deleted(&mut self, count: u32) {
        self.run.s3_deleted(u64::from(count));
    }

    /// After a page of S3 deletes: whether to delete another, `elapsed_ms`
    /// into the invocation.
    #[wasm_bindgen(js_name = shouldDrain)]
    pub fn should_drain(&self, elapsed_ms: f64) -> bool {
        self.run.should_drain(elapsed_ms)
    }

    /// Whether another batch fits, `elapsed_ms` into the invocation.
    #[wasm_bindgen(js_name = shouldContinue)]
    pub fn should_continue(&self, elapsed_ms: f64) -> bool {
        self.run.should_continue(elapsed_ms)
    }

    /// Whether to ask for the next invocation (`ops.invoke_cleanup()`).
    #[wasm_bindgen(js_name = wantsFollowUp)]
    pub fn wants_follow_up(&self) -> bool {
        self.run.wants_follow_up()
    }

    /// Records whether `ops.invoke_cleanup()` queued the next invocation.
    #[wasm_bindgen(js_name = followUp)]
    pub fn follow_up(&mut self, requested: bool) {
        self.run.follow_up(requested);
    }

    /// The answer after a failure in `stage`: `read`, `archive`, `commit` or
    /// `s3_delete`.
    pub fn failed(&self, stage: &str) -> JsValue {
        let stage = match stage {
            "read" => Stage::Read,
            "archive" => Stage::Archive,
            "commit" => Stage::Commit,
            _ => Stage::S3Delete,
        };
        to_js(&self.run.failed(stage))
    }

    /// The summary answer.
    pub fn finish(&self) -> JsValue {
        to_js(&self.run.finish())
    }
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    // Plain objects rather than Maps, so the shim can use them as they are;
    // byte buffers still become Uint8Arrays.
    // (json_compatible() would also turn bytes into arrays of numbers.)
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_maps_as_objects(true)
        .serialize_missing_as_null(true);
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}
