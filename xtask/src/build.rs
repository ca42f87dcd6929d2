//! Builds every `functions/<name>/` crate to `pkg/<name>/` for Deno.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::install::{self, Tools};

/// The wasm features current rustc emits by default for
/// wasm32-unknown-unknown; wasm-opt must accept them to keep the module valid.
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// The function crates: each folder of `functions/` with a Cargo.toml. The
/// package is named after its folder.
pub fn function_packages(root: &Path) -> Result<Vec<String>> {
    folders_with(&root.join("functions"), "Cargo.toml")
}

/// The names of the folders of `dir` that hold `file`, sorted; none when
/// `dir` does not exist.
pub fn folders_with(dir: &Path, file: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(names);
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.path().join(file).is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Builds every function crate to `pkg/<name>/` for Deno, optimising the wasm
/// with wasm-opt when it is installed.
pub fn build(root: &Path, tools: &Tools) -> Result<()> {
    let packages = function_packages(root)?;
    if packages.is_empty() {
        eprintln!("xtask: no crates in functions/; nothing to build");
        return Ok(());
    }
    eprintln!("xtask: building {} (wasm, release)", packages.join(", "));
    let mut cargo = install::cargo_command();
    cargo
        .current_dir(root)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"]);
    for package in &packages {
        cargo.arg("-p").arg(package);
    }
    cmd::run(&mut cargo).context("building the function crates for wasm failed")?;

    let target_dir = target_dir(root);
    for package in &packages {
        let stem = package.replace('-', "_");
        let wasm = target_dir
            .join("wasm32-unknown-unknown/release")
            .join(format!("{stem}.wasm"));
        if !wasm.is_file() {
            bail!(
                "{} was not built; functions/{package}/Cargo.toml needs \
                 `[lib] crate-type = [\"cdylib\"]`",
                wasm.display()
            );
        }
        let out_dir = root.join("pkg").join(package);
        let (bindgen_wasm, optimised) = bindgen(tools, &wasm, &out_dir, &stem)?;
        let size = fs::metadata(&bindgen_wasm)
            .with_context(|| format!("cannot read {}", bindgen_wasm.display()))?
            .len();
        eprintln!(
            "xtask: pkg/{package}/{stem}_bg.wasm: {:.1} KiB{optimised}",
            size as f64 / 1024.0
        );
    }
    Ok(())
}

/// Whether `pkg/<package>/` was built after every source it comes from
/// changed (the crates, the function crates, the manifests and the lock):
/// a command that only needs the wasm then skips the build (and its
/// wasm-bindgen and wasm-opt passes, seconds each).
pub fn is_fresh(root: &Path, package: &str) -> bool {
    let glue = root
        .join("pkg")
        .join(package)
        .join(format!("{}.js", package.replace('-', "_")));
    let Ok(built) = fs::metadata(&glue).and_then(|meta| meta.modified()) else {
        return false;
    };
    let sources = ["crates", "functions", "Cargo.toml", "Cargo.lock"];
    !sources
        .iter()
        .any(|source| changed_after(&root.join(source), built))
}

/// Whether `path`, or anything below it, was modified after `time`.
fn changed_after(path: &Path, time: std::time::SystemTime) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if meta.modified().is_ok_and(|modified| modified > time) {
        return true;
    }
    meta.is_dir()
        && fs::read_dir(path).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|entry| changed_after(&entry.path(), time))
        })
}

/// Runs wasm-bindgen for Deno on `wasm` into a fresh `out_dir` and shrinks
/// the result with wasm-opt when it is installed; returns the wasm written
/// and what was done to it.
pub fn bindgen(
    tools: &Tools,
    wasm: &Path,
    out_dir: &Path,
    stem: &str,
) -> Result<(PathBuf, &'static str)> {
    // Stale files of an earlier build must not linger next to new ones.
    if out_dir.exists() {
        fs::remove_dir_all(out_dir)
            .with_context(|| format!("cannot clear {}", out_dir.display()))?;
    }
    cmd::run(
        Command::new(&tools.wasm_bindgen)
            .args(["--target", "deno", "--out-dir"])
            .arg(out_dir)
            .arg(wasm),
    )
    .with_context(|| format!("wasm-bindgen failed on {}", wasm.display()))?;
    let bindgen_wasm = out_dir.join(format!("{stem}_bg.wasm"));
    let bindgen_js = out_dir.join(format!("{stem}.js"));
    let optimised = match &tools.wasm_opt {
        Some(wasm_opt) => optimise(tools, wasm_opt, &bindgen_wasm, &bindgen_js)?,
        None => " (not optimised: wasm-opt is not installed)",
    };
    Ok((bindgen_wasm, optimised))
}

/// Shrinks the wasm in place, keeping the original if the optimised module
/// no longer loads: a wasm-opt bug must cost size, not a broken function.
fn optimise(tools: &Tools, wasm_opt: &Path, wasm: &Path, js: &Path) -> Result<&'static str> {
    let original = wasm.with_extension("orig.wasm");
    fs::copy(wasm, &original).with_context(|| format!("cannot copy {}", wasm.display()))?;
    cmd::run(
        Command::new(wasm_opt)
            .arg("-Os")
            .args(WASM_OPT_FEATURES)
            .arg(&original)
            .arg("-o")
            .arg(wasm),
    )
    .with_context(|| format!("wasm-opt failed on {}", wasm.display()))?;
    let verdict = if loads_in_deno(tools, js) {
        " (wasm-opt -Os)"
    } else {
        eprintln!(
            "xtask: warning: the wasm-opt output of {} does not load in Deno; \
             keeping the unoptimised wasm",
            wasm.display()
        );
        fs::copy(&original, wasm).with_context(|| format!("cannot restore {}", wasm.display()))?;
        " (not optimised: wasm-opt broke it)"
    };
    fs::remove_file(&original).with_context(|| format!("cannot remove {}", original.display()))?;
    Ok(verdict)
}

/// Whether the wasm-bindgen module imports (and so instantiates) in Deno.
fn loads_in_deno(tools: &Tools, js: &Path) -> bool {
    let Ok(js) = js.canonicalize() else {
        return false;
    };
    Command::new(&tools.deno)
        .args([
            "eval",
            "--no-config",
            "await import(Deno.env.get(\"MODULE\"));",
        ])
        .env("MODULE", format!("file://{}", js.display()))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}
