//! `cargo xtask fuzz`: builds the libFuzzer targets of `fuzz/` (cargo-fuzz, with
//! coverage instrumentation and debug assertions) and runs each for a set time,
//! starting from its seed corpus. `cargo xtask test` runs every target for a few
//! seconds, so a regression on the seeds or near them fails CI.
//!
//! What a run finds stays out of the tree: new inputs go to
//! `target/fuzz/corpus/<target>`, crashes to `target/fuzz/artifacts/<target>`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::setup::Tools;

/// The targets that read whole messages also start from the MIME fixtures.
const MESSAGE_TARGETS: &[&str] = &["mime_scan", "headers"];

/// What one target's run did.
pub struct Outcome {
    pub target: String,
    pub runs: u64,
    pub corpus: usize,
}

/// Builds every target, then runs those named (all when none are) for `seconds`
/// each. Fails on the first crash, naming its input.
pub fn run_all(root: &Path, tools: &Tools, seconds: u64, only: &[String]) -> Result<Vec<Outcome>> {
    let targets = targets(root)?;
    for name in only {
        if !targets.contains(name) {
            bail!("no fuzz target {name}; there are {}", targets.join(", "));
        }
    }
    crate::run(
        "building the fuzz targets (cargo fuzz, with debug assertions)",
        tools
            .command("cargo")
            .current_dir(root)
            .args(["fuzz", "build", "--sanitizer", "none", "--debug-assertions"])
            .arg("--target-dir")
            .arg(target_dir(root)),
    )?;
    let mut outcomes = Vec::new();
    for target in targets
        .iter()
        .filter(|t| only.is_empty() || only.contains(t))
    {
        eprintln!("==> fuzzing {target} for {seconds} s");
        outcomes.push(run_one(root, target, seconds)?);
    }
    for outcome in &outcomes {
        eprintln!(
            "    {:<16} {:>10} runs, corpus of {}",
            outcome.target, outcome.runs, outcome.corpus
        );
    }
    Ok(outcomes)
}

fn target_dir(root: &Path) -> PathBuf {
    root.join("target/fuzz")
}

/// The targets, by the files under `fuzz/fuzz_targets`.
fn targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz/fuzz_targets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {dir:?}"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem()
        {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn run_one(root: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let work = target_dir(root).join("corpus").join(target);
    let artifacts = target_dir(root).join("artifacts").join(target);
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&artifacts)?;
    let binary = target_dir(root)
        .join(host_triple()?)
        .join("release")
        .join(target);
    let mut command = Command::new(&binary);
    // New inputs are written to the first folder; the seeds are only read.
    command
        .arg(&work)
        .arg(root.join("fuzz/corpus").join(target));
    if MESSAGE_TARGETS.contains(&target) {
        command.arg(root.join("tests/fixtures/mime"));
    }
    let output = command
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(["-max_len=65536", "-timeout=10", "-rss_limit_mb=2048"])
        .arg("-print_final_stats=1")
        .output()
        .with_context(|| format!("cannot run {binary:?}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "fuzz target {target} failed ({}); its input is in {}; put it under \
             fuzz/corpus/{target}/ named after the bug once fixed:\n{}",
            output.status,
            artifacts.display(),
            tail.join("\n")
        );
    }
    let stat = |name: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Outcome {
        target: target.to_owned(),
        runs: stat("number_of_executed_units"),
        corpus: std::fs::read_dir(&work)?.count(),
    })
}

/// The triple cargo-fuzz builds for: this machine's.
fn host_triple() -> Result<String> {
    let output = Command::new("rustc").arg("-vV").output()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}
