//! The auth hook's decision natively: one Custom Access Token call of
//! Supabase Auth (`bench/fixtures/auth_hook.json`) from the signed request to
//! the claims, the database's answer handed in as the executor hands it.
//! `bench/deno/auth_hook.bench.ts` runs the same in wasm; BENCHMARKS.md
//! compares the two.
//!
//! ```sh
//! cargo bench -p odooops-bench --bench hook
//! ```

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use auth_hook_core::{Config, Hook, Request};
use criterion::{criterion_group, criterion_main, Criterion};
use function_io::{Answer, Io, Machine};
use serde_json::Value;

const FIXTURE: &str = include_str!("../fixtures/auth_hook.json");

fn text<'a>(fixture: &'a Value, field: &str) -> &'a str {
    fixture[field].as_str().unwrap_or_default()
}

/// One call, as the executor drives it; the size of the answer's body.
fn call(config: &Config, request: &Request<'_>, now: i64, neighbourhood: &str) -> usize {
    let mut hook = Hook::new(config, request, now);
    if let Io::Sql { .. } = hook.poll() {
        hook.handle(Answer::Sql(Some(neighbourhood)), 1.0);
    }
    match hook.poll() {
        Io::Respond { response } => response.body.len(),
        _ => 0,
    }
}

fn bench_hook(c: &mut Criterion) {
    let fixture: Value = match serde_json::from_str(FIXTURE) {
        Ok(value) => value,
        Err(error) => {
            eprintln!("bench/rust/hook.rs: bench/fixtures/auth_hook.json: {error}");
            std::process::exit(2);
        }
    };
    let config = Config::new(Some(text(&fixture, "secret")));
    let headers: BTreeMap<String, String> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    text(&fixture, &name.replace('-', "_")).to_owned(),
                )
            })
            .collect();
    let body = text(&fixture, "body").as_bytes();
    let request = Request {
        method: "POST",
        headers: &headers,
        body,
        body_complete: true,
    };
    let now = fixture["now"].as_i64().unwrap_or_default();
    let neighbourhood = text(&fixture, "neighbourhood");
    // A bench of the wrong answer measures nothing: check it first.
    let mut hook = Hook::new(&config, &request, now);
    hook.handle(Answer::Sql(Some(neighbourhood)), 1.0);
    let identities = match hook.poll() {
        Io::Respond { response } if response.status == 200 => response.log.identities,
        _ => 0,
    };
    if Some(identities as u64) != fixture["identities"].as_u64() {
        eprintln!("bench/rust/hook.rs: the fixture decided {identities} identities");
        std::process::exit(1);
    }
    let mut group = c.benchmark_group("auth-hook");
    group.bench_function("signed call to claims", |b| {
        b.iter(|| {
            call(
                &config,
                black_box(&request),
                black_box(now),
                black_box(neighbourhood),
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_hook
}
criterion_main!(benches);
