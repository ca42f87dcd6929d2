//! The ingest decision (verify + validate + plan), natively: the number the
//! wasm in Deno is compared with. Run by `cargo xtask bench`; on its own:
//!
//! ```sh
//! deno run --allow-read --allow-env --allow-write bench/deno/fixtures.ts
//! cargo bench -p odooops-bench --bench decide
//! ```
//!
//! With `--features soft-sha` the group is `decide-soft-sha`: SHA-256 without
//! the CPU's SHA instructions, as wasm computes it.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ingest_core::{decide, Config, Request};

const GROUP: &str = if cfg!(feature = "soft-sha") {
    "decide-soft-sha"
} else {
    "decide"
};

fn bench_decide(c: &mut Criterion) {
    let fixtures = match odooops_bench::load() {
        Ok(fixtures) => fixtures,
        Err(message) => {
            eprintln!("bench/rust/decide.rs: {message}");
            std::process::exit(2);
        }
    };
    let config = Config::new(Some(&fixtures.secret));
    let mut group = c.benchmark_group(GROUP);
    for case in &fixtures.cases {
        // A bench of the wrong decision measures nothing: check it first.
        let decided = case.decide(&config, fixtures.now);
        if !case.expects(decided) {
            eprintln!(
                "bench/rust/decide.rs: case {}: decided {decided:?}, expected {} {}",
                case.name, case.expect_action, case.expect_status
            );
            std::process::exit(1);
        }
        let request = Request {
            method: &case.method,
            headers: &case.headers,
            body: &case.body,
            body_complete: true,
        };
        group.bench_function(&case.name, |b| {
            b.iter(|| decide(&config, black_box(&request), black_box(fixtures.now)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the machine is small and shared; the intervals criterion
    // prints say whether that was enough.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_decide
}
criterion_main!(benches);
