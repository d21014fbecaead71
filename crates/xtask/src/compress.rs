//! `cargo xtask compress`: writes a Brotli (`.br`) and a gzip (`.gz`) copy beside
//! each file of the built app, at the best compression either offers, so that the
//! bridge serves them as they are instead of compressing on every request, and
//! smaller than it could afford to on the fly. Trunk runs it after a release build
//! (see `Trunk.toml`), on its staging folder, after the wasm is split (see `split`)
//! and the JavaScript minified (see `minify`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Files smaller than this go out as they are: compression would save next to
/// nothing, and the bridge compresses on the fly what has no copy.
const SMALLEST: u64 = 512;

/// What Trunk runs after each build (see `Trunk.toml`), in its staging folder: the
/// wasm split at its split points, then, in a release build, the JavaScript
/// minified and every file compressed (`trunk serve` need not wait for those).
pub fn trunk_hook() -> Result<()> {
    let staging = std::env::var_os("TRUNK_STAGING_DIR")
        .map(PathBuf::from)
        .context("Trunk names its staging folder in TRUNK_STAGING_DIR")?;
    let release = std::env::var("TRUNK_PROFILE").as_deref() == Ok("release");
    crate::split::app(&staging, release)?;
    if !release {
        eprintln!("==> not a release build: the app is served as it is");
        return Ok(());
    }
    crate::minify::scripts(&staging)?;
    compress(&staging)
}

/// Compresses the app in `dir`.
pub fn compress(dir: &Path) -> Result<()> {
    eprintln!(
        "==> compressing the app in {} (Brotli and gzip)",
        dir.display()
    );
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if worth_compressing(&path)? {
            write_compressed(&path)?;
        }
    }
    Ok(())
}

fn worth_compressing(path: &Path) -> Result<bool> {
    let text_or_wasm = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("html" | "js" | "css" | "wasm" | "svg" | "json" | "txt")
    );
    Ok(text_or_wasm && path.is_file() && path.metadata()?.len() >= SMALLEST)
}

fn write_compressed(path: &Path) -> Result<()> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut br = Vec::new();
    {
        // Quality 11 with a 4 MiB window: the smallest Brotli makes.
        let mut writer = brotli::CompressorWriter::new(&mut br, 64 << 10, 11, 22);
        writer.write_all(&data)?;
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&data)?;
    let gz = gz.finish()?;
    for (copy, suffix) in [(&br, "br"), (&gz, "gz")] {
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(suffix);
        std::fs::write(&name, copy).with_context(|| format!("cannot write {name:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn copies_decompress_to_the_original_and_small_files_are_left_alone() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let script: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("let v{i} = {};\n", i % 97).into_bytes())
            .collect();
        std::fs::write(dir.path().join("app.js"), &script)?;
        std::fs::write(dir.path().join("tiny.css"), "p{}")?;
        std::fs::write(dir.path().join("photo.png"), vec![7u8; 4096])?;
        compress(dir.path())?;

        let br = std::fs::read(dir.path().join("app.js.br"))?;
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut back)?;
        assert_eq!(back, script);
        let gz = std::fs::read(dir.path().join("app.js.gz"))?;
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back)?;
        assert_eq!(back, script);
        assert!(br.len() < gz.len() && gz.len() < script.len() / 4);

        for left in ["tiny.css.br", "tiny.css.gz", "photo.png.br", "photo.png.gz"] {
            assert!(!dir.path().join(left).exists(), "{left} was written");
        }
        Ok(())
    }
}
