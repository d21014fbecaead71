//! Splits the app's wasm at its split points (`#[wasm_split]` in the frontend), so
//! that the first screen loads only what it shows and the rest comes in chunks
//! fetched when needed. Trunk cannot do this itself: it runs wasm-bindgen on the
//! whole module. So this step, run from Trunk's hook, starts again from cargo's
//! output (linked with `--emit-relocs`, see `.cargo/config.toml`):
//!
//! 1. `wasm_split_cli_support` cuts it into a main module, one module per split
//!    point and chunks they share, plus a small JavaScript loader;
//! 2. wasm-bindgen makes the main module's glue, as Trunk did, under Trunk's names;
//! 3. in a release build, wasm-opt shrinks every module (Trunk's own pass is off:
//!    `data-wasm-opt="0"`);
//! 4. the chunks and the loader are named by their content, as Trunk names its
//!    files (a chunk also by the split points that need it: `shared-a-b-<hash>`),
//!    so that the bridge lets browsers keep them for a year; the page preloads the
//!    loader and its integrity hashes are brought up to date.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::minify::integrity;

/// The module name the split points import their loaders from, as the splitter
/// writes it into the glue.
const LOADER_IMPORT: &str = "./__wasm_split.js";

/// Splits the app Trunk has just staged in `staging`.
pub fn app(staging: &Path, release: bool) -> Result<()> {
    let built = cargo_output(release)?;
    let stem = staged_stem(staging)?;
    eprintln!(
        "==> splitting {} at its split points",
        built.file_name().unwrap_or_default().to_string_lossy()
    );
    let work = tempfile::tempdir()?;
    let input =
        std::fs::read(&built).with_context(|| format!("cannot read {}", built.display()))?;
    let main_in = work.path().join("main.wasm");
    let main_module = format!("./{stem}.js");
    let mut options = wasm_split_cli_support::Options::new(&input);
    options.output_dir = work.path();
    options.main_out_path = &main_in;
    options.main_module = &main_module;
    options.target.web();
    let split = wasm_split_cli_support::transform(options)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("the wasm splitter failed")?;

    let bindgen = work.path().join("bindgen");
    let status = Command::new("wasm-bindgen")
        .args(["--target=web", "--keep-lld-exports", "--no-typescript"])
        .arg(format!("--out-dir={}", bindgen.display()))
        .arg("--out-name=frontend")
        .arg(&main_in)
        .status()
        .context("cannot run wasm-bindgen (cargo xtask setup installs it)")?;
    if !status.success() {
        bail!("wasm-bindgen failed ({status})");
    }

    let mut page = std::fs::read_to_string(staging.join("index.html"))?;
    let main_wasm = staging.join(format!("{stem}_bg.wasm"));
    let glue = staging.join(format!("{stem}.js"));
    let old = (
        integrity(&std::fs::read(&main_wasm)?),
        integrity(&std::fs::read(&glue)?),
    );
    std::fs::copy(bindgen.join("frontend_bg.wasm"), &main_wasm)?;
    if release {
        optimize(&main_wasm)?;
    }

    let mut loader = std::fs::read_to_string(work.path().join("__wasm_split.js"))
        .context("the splitter wrote no loader")?;
    for chunk in &split.split_modules {
        if release {
            optimize(chunk)?;
        }
        let name = chunk
            .file_stem()
            .and_then(|s| s.to_str())
            .context("a chunk without a name")?;
        let reference = format!("\"./{name}.wasm\"");
        if !loader.contains(&reference) {
            // An empty module: the loader has nothing to fetch for it.
            continue;
        }
        let bytes = std::fs::read(chunk)?;
        let named = format!(
            "{}-{}.wasm",
            file_name(name, &split.prefetch_map),
            content_hash(&bytes)
        );
        replace_once(&mut loader, &reference, &format!("\"./{named}\""))?;
        std::fs::write(staging.join(&named), bytes)?;
    }
    let loader_name = format!("split-{}.js", content_hash(loader.as_bytes()));
    std::fs::write(staging.join(&loader_name), &loader)?;

    let mut script = std::fs::read_to_string(bindgen.join("frontend.js"))?;
    let imports = script.matches(&format!("from \"{LOADER_IMPORT}\"")).count();
    if imports == 0 && !split.split_modules.is_empty() {
        bail!("the glue does not import the split loader");
    }
    script = script.replace(
        &format!("from \"{LOADER_IMPORT}\""),
        &format!("from \"./{loader_name}\""),
    );
    std::fs::write(&glue, &script)?;

    replace_once(&mut page, &old.0, &integrity(&std::fs::read(&main_wasm)?))
        .context("the page has no integrity for the wasm")?;
    replace_once(&mut page, &old.1, &integrity(script.as_bytes()))
        .context("the page has no integrity for the glue")?;
    // The glue imports the loader: preloaded, it costs no extra round trip.
    let preload = format!(
        "<link rel=\"modulepreload\" href=\"/{loader_name}\" crossorigin=\"anonymous\" integrity=\"{}\">",
        integrity(loader.as_bytes())
    );
    replace_once(&mut page, "</head>", &format!("{preload}</head>"))
        .context("the page has no </head>")?;
    std::fs::write(staging.join("index.html"), page)?;
    eprintln!(
        "==> {} split modules and {loader_name} written",
        split.split_modules.len()
    );
    Ok(())
}

/// What a module's file is called, before its hash: `split-<point>` for a split
/// point's own code, `shared-<point>-<point>…` for a chunk, after the points that
/// need it (so that one can tell from the names what a part costs in all).
fn file_name(stem: &str, needs: &HashMap<String, Vec<String>>) -> String {
    if !stem.starts_with("chunk_") {
        return stem.replace('_', "-");
    }
    let mut users: Vec<&str> = needs
        .iter()
        .filter(|(_, files)| files.iter().any(|f| f == stem))
        .map(|(point, _)| point.as_str())
        .collect();
    users.sort_unstable();
    format!("shared-{}", users.join("-"))
}

/// The module cargo linked for the frontend, in the profile Trunk built.
fn cargo_output(release: bool) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    // `data-cargo-profile-release` in frontend/index.html.
    let profile = if release { "wasm-release" } else { "debug" };
    let path = target
        .join("wasm32-unknown-unknown")
        .join(profile)
        .join("frontend.wasm");
    if !path.is_file() {
        bail!("{} is missing: is this Trunk's hook?", path.display());
    }
    Ok(path)
}

/// The name Trunk gave the app in `staging`: `frontend-<hash>` of its `_bg.wasm`.
fn staged_stem(staging: &Path) -> Result<String> {
    for entry in std::fs::read_dir(staging)? {
        let name = entry?.file_name();
        if let Some(stem) = name.to_str().and_then(|n| n.strip_suffix("_bg.wasm")) {
            return Ok(stem.to_owned());
        }
    }
    bail!("Trunk staged no wasm in {}", staging.display())
}

fn optimize(wasm: &Path) -> Result<()> {
    // The features rustc's wasm32 target enables by default: what the browsers
    // that run the main module already support.
    let status = Command::new("wasm-opt")
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-reference-types",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-multivalue",
        ])
        .arg(wasm)
        .arg("-o")
        .arg(wasm)
        .status()
        .context("cannot run wasm-opt (cargo xtask setup installs it)")?;
    if !status.success() {
        bail!("wasm-opt failed on {} ({status})", wasm.display());
    }
    Ok(())
}

/// 16 hex digits of the SHA-256 of `data`, the length of Trunk's own names.
fn content_hash(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Replaces the one occurrence of `from` in `text`, failing if there is none.
fn replace_once(text: &mut String, from: &str, to: &str) -> Result<()> {
    let Some(at) = text.find(from) else {
        bail!("{from:?} not found");
    };
    text.replace_range(at..at + from.len(), to);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_named_like_trunks_files() -> Result<()> {
        let hash = content_hash(b"abc");
        // `printf abc | sha256sum`
        assert_eq!(hash, "ba7816bf8f01cfea");
        let mut text = "a \"./x.wasm\" b".to_owned();
        replace_once(&mut text, "\"./x.wasm\"", "\"./x-1.wasm\"")?;
        assert_eq!(text, "a \"./x-1.wasm\" b");
        assert!(replace_once(&mut text, "missing", "").is_err());
        Ok(())
    }

    #[test]
    fn chunks_are_named_after_the_points_that_need_them() {
        let needs = HashMap::from([
            (
                "reader".to_owned(),
                vec!["chunk_5".to_owned(), "split_reader".to_owned()],
            ),
            (
                "mailbox".to_owned(),
                vec!["chunk_5".to_owned(), "chunk_4".to_owned()],
            ),
        ]);
        assert_eq!(file_name("split_reader", &needs), "split-reader");
        assert_eq!(file_name("chunk_5", &needs), "shared-mailbox-reader");
        assert_eq!(file_name("chunk_4", &needs), "shared-mailbox");
    }
}
