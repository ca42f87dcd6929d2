//! The shared fixtures of the ingest benchmarks: `target/bench/fixtures.json`,
//! written by `bench/deno/fixtures.ts` (or the file named by `OPS_BENCH_FIXTURES`).
//! See BENCHMARKS.md.
//!
//! Built for wasm, the crate is also a probe: `Probe` runs
//! `ingest_core::decide` on a fixture entirely inside wasm, so the Deno bench
//! can tell the decision's own time from the cost of crossing into it.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ingest_core::{decide, Config, Decision, Request};
use serde_json::Value;

/// One signed request and the decision every implementation must reach.
pub struct Case {
    /// The case's name, shared with the Deno benches.
    pub name: String,
    /// The HTTP method.
    pub method: String,
    /// The headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body's bytes.
    pub body: Vec<u8>,
    /// `"apply"` or `"respond"`.
    pub expect_action: String,
    /// The status of a `"respond"` decision.
    pub expect_status: u16,
}

/// The fixture file.
pub struct Fixtures {
    /// The `whsec_` secret the cases are signed with.
    pub secret: String,
    /// The receiver's clock for every decision, Unix seconds.
    pub now: i64,
    /// The requests.
    pub cases: Vec<Case>,
}

impl Case {
    /// Decides this case: `("apply", 0)` or `("respond", status)`.
    pub fn decide(&self, config: &Config, now: i64) -> (&'static str, u16) {
        let request = Request {
            method: &self.method,
            headers: &self.headers,
            body: &self.body,
            body_complete: true,
        };
        match decide(config, &request, now) {
            Decision::Apply { .. } => ("apply", 0),
            Decision::Respond { response } => ("respond", response.status),
        }
    }

    /// Whether `decided` (from [`Case::decide`]) is what the fixture expects.
    pub fn expects(&self, decided: (&str, u16)) -> bool {
        match decided {
            ("apply", _) => self.expect_action == "apply",
            (_, status) => self.expect_action == "respond" && self.expect_status == status,
        }
    }
}

/// Where the fixtures are: `OPS_BENCH_FIXTURES`, else `target/bench/fixtures.json`
/// in the workspace.
pub fn fixtures_path() -> PathBuf {
    match std::env::var_os("OPS_BENCH_FIXTURES").filter(|path| !path.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/fixtures.json"),
    }
}

/// Reads the fixtures; the message says how to write them when they are missing.
pub fn load() -> Result<Fixtures, String> {
    let path = fixtures_path();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e}; write the fixtures with `deno run --allow-write bench/deno/fixtures.ts` \
             or run `cargo xtask bench`",
            path.display()
        )
    })?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of a fixture file.
pub fn parse(text: &str) -> Result<Fixtures, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let text_at = |value: &Value, pointer: &str| -> Result<String, String> {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{pointer} is not a string"))
    };
    let now_ms = value
        .pointer("/now_ms")
        .and_then(Value::as_i64)
        .ok_or("/now_ms is not an integer")?;
    let mut cases = Vec::new();
    for case in value
        .pointer("/cases")
        .and_then(Value::as_array)
        .ok_or("/cases is not an array")?
    {
        let headers = case
            .pointer("/headers")
            .and_then(Value::as_object)
            .ok_or("a case has no headers")?
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
            .collect();
        cases.push(Case {
            name: text_at(case, "/name")?,
            method: text_at(case, "/method")?,
            headers,
            body: text_at(case, "/body")?.into_bytes(),
            expect_action: text_at(case, "/expect/action")?,
            expect_status: case
                .pointer("/expect/status")
                .and_then(Value::as_u64)
                .and_then(|status| u16::try_from(status).ok())
                .ok_or("a case has no expected status")?,
        });
    }
    Ok(Fixtures {
        secret: text_at(&value, "/secret")?,
        now: now_ms.div_euclid(1000),
        cases,
    })
}

#[cfg(target_arch = "wasm32")]
pub use probe::Probe;

#[cfg(target_arch = "wasm32")]
mod probe {
    use super::{parse, Fixtures};
    use ingest_core::Config;
    use wasm_bindgen::prelude::*;

    /// The fixtures, held inside wasm.
    #[wasm_bindgen]
    pub struct Probe {
        fixtures: Fixtures,
        config: Config,
    }

    #[wasm_bindgen]
    impl Probe {
        /// Takes the text of the fixture file.
        #[wasm_bindgen(constructor)]
        pub fn new(fixtures_json: &str) -> Result<Probe, JsError> {
            let fixtures = parse(fixtures_json).map_err(|e| JsError::new(&e))?;
            let config = Config::new(Some(&fixtures.secret));
            Ok(Probe { fixtures, config })
        }

        /// Decides case `index` inside wasm; returns 0 for an apply, else the
        /// status, and 1 when the decision is not the expected one.
        pub fn decide(&self, index: usize) -> u16 {
            let Some(case) = self.fixtures.cases.get(index) else {
                return 1;
            };
            let decided = case.decide(&self.config, self.fixtures.now);
            if case.expects(decided) {
                decided.1
            } else {
                1
            }
        }
    }
}
