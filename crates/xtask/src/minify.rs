//! Minifies the app's JavaScript (wasm-bindgen's glue, which Trunk leaves as
//! generated) with terser, before `compress` makes its copies: 52 KB become 24 KB,
//! 7.6 KB with Brotli become 5.9 KB. The page names each script with its
//! Subresource Integrity hash, so those are rewritten to the minified files'.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use base64::Engine;

/// Minifies every `.js` file in `dir` and updates `dir/index.html` to match. Without
/// terser on `PATH` (a build outside `cargo xtask`), the scripts stay as they are.
pub fn scripts(dir: &Path) -> Result<()> {
    if Command::new("terser").arg("--version").output().is_err() {
        eprintln!(
            "==> terser is not on PATH (cargo xtask setup installs it): JavaScript left as built"
        );
        return Ok(());
    }
    let index = dir.join("index.html");
    let mut page = std::fs::read_to_string(&index)
        .with_context(|| format!("cannot read {}", index.display()))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("js") {
            continue;
        }
        let before = integrity(&std::fs::read(&path)?);
        eprintln!("==> minifying {}", path.display());
        let status = Command::new("terser")
            .arg(&path)
            .args(["--module", "--compress", "--mangle", "--output"])
            .arg(&path)
            .status()?;
        if !status.success() {
            bail!("terser failed on {} ({status})", path.display());
        }
        page = page.replace(&before, &integrity(&std::fs::read(&path)?));
    }
    std::fs::write(&index, page)?;
    Ok(())
}

/// The value of an `integrity` attribute for `data`, as Trunk writes it.
pub fn integrity(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA384, data);
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_is_trunks_sha384_in_base64() {
        // `printf 'abc' | openssl dgst -sha384 -binary | base64`
        assert_eq!(
            integrity(b"abc"),
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
    }
}
