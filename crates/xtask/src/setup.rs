//! Installs what the demo and the tests need, skipping what is already there at the
//! right version: Debian packages, the wasm32 target, Trunk, wasm-bindgen, cargo-fuzz,
//! and from npm wasm-opt and terser.
//! See `shared/notes/toolchain.md` for why each version is what it is.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run;

/// Must match `Trunk.toml`; newer Trunk needs a newer rustc.
pub const TRUNK: &str = "0.21.14";
/// Must match the exact `wasm-bindgen` pin in the workspace `Cargo.toml` and `Trunk.toml`.
pub const WASM_BINDGEN: &str = "0.2.130";
/// Binaryen's wasm-opt from npm. Debian's (version 108) corrupts the externref table of
/// wasm-bindgen's output, so it cannot be used. Must match `Trunk.toml`.
pub const BINARYEN: &str = "132";
/// Builds and runs the fuzz targets (`cargo xtask fuzz`, and briefly in `test`).
const CARGO_FUZZ: &str = "0.13.2";
/// Minifies wasm-bindgen's JavaScript glue after a release build (`minify`).
const TERSER: &str = "5.51.4";

const DEBIAN_PACKAGES: [&str; 11] = [
    "dovecot-imapd",
    "dovecot-pop3d",
    // Delivery from the private Postfix into the private Dovecot.
    "dovecot-lmtpd",
    // Dovecot's own submission service, which offers BURL.
    "dovecot-submissiond",
    // A full-text index for body search (Xapian), for the demo and the bench.
    "dovecot-fts-xapian",
    // Installed unconfigured (see `debian_packages`); maildev runs its own instances.
    "postfix",
    // The load balancers in front of several bridges in the scale-out tests,
    // each run as a private instance (Debian's own HAProxy configuration listens
    // nowhere, and its nginx service is not started where services cannot be).
    "haproxy",
    "nginx",
    "chromium",
    "chromium-driver",
    "ca-certificates",
];

/// Where the installed tools are, for commands that need them.
pub struct Tools {
    path: OsString,
}

impl Tools {
    /// A command that finds the project's tools first on its `PATH`.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("PATH", &self.path);
        command
    }
}

pub fn ensure_tools(root: &Path) -> Result<Tools> {
    debian_packages()?;
    wasm_target()?;
    let cargo_bin = cargo_home().join("bin");
    // Only the features Postern uses: no update check against crates.io.
    cargo_install(
        &cargo_bin,
        "trunk",
        TRUNK,
        &["--locked", "--no-default-features", "--features", "rustls"],
        "about 5 minutes",
    )?;
    // Its lock file wants a crate version the registry lacks, so no --locked.
    cargo_install(
        &cargo_bin,
        "wasm-bindgen-cli",
        WASM_BINDGEN,
        &[],
        "about 3 minutes",
    )?;
    cargo_install(
        &cargo_bin,
        "cargo-fuzz",
        CARGO_FUZZ,
        &["--locked"],
        "about 3 minutes",
    )?;
    let binaryen_bin = binaryen(root)?;
    let terser_bin = terser(root)?;
    let mut paths = vec![binaryen_bin, terser_bin, cargo_bin];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    Ok(Tools {
        path: std::env::join_paths(paths)?,
    })
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

/// What `program --version` prints, or `None` if it does not run.
fn version_of(program: &Path) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn debian_packages() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|package| {
            let status = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", package])
                .output();
            !status
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect::<Vec<_>>();
    // Machines of this kind ship Node.js and npm outside Debian's packages; only a
    // machine without any npm gets Debian's.
    let mut missing = missing;
    if version_of(Path::new("npm")).is_none() {
        missing.push("npm");
    }
    if missing.is_empty() {
        return Ok(());
    }
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut command = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            command.arg("apt-get");
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    if missing.contains(&"postfix") {
        // Without this answer the package asks, or configures a system mailer that
        // listens on port 25; the tests and the demo run private instances only.
        let mut preseed = Command::new(sudo.first().copied().unwrap_or("debconf-set-selections"));
        if !sudo.is_empty() {
            preseed.arg("debconf-set-selections");
        }
        run_with_input(
            "telling Debian's postfix package to stay unconfigured",
            &mut preseed,
            "postfix postfix/main_mailer_type select No configuration\n",
        )?;
    }
    run(
        "updating Debian's package lists",
        &mut apt(&["update", "-qq"]),
    )?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    run(
        &format!("installing {}", missing.join(", ")),
        &mut apt(&install),
    )
}

/// Like [`run`], writing `input` to the command's standard input.
fn run_with_input(description: &str, command: &mut Command, input: &str) -> Result<()> {
    use std::io::Write;
    eprintln!("==> {description}");
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {command:?}"))?;
    child
        .stdin
        .take()
        .context("no standard input")?
        .write_all(input.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("{description} failed ({status})");
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm32 target")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    run(
        "adding the wasm32-unknown-unknown target",
        Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
    )
}

/// How the tools are compiled: for a quick build rather than the quickest program.
/// Trunk and wasm-bindgen spend their time in cargo, wasm-opt and reading a few
/// megabytes of wasm, so they behave and perform the same without Trunk's fat LTO
/// and single codegen unit, at a fraction of the build time.
const QUICK_RELEASE: [(&str, &str); 4] = [
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "0"),
];

/// `cargo install`s a crate unless its binary already reports `version`; `takes` says
/// how long that usually is, so nobody thinks it hung.
fn cargo_install(
    bin: &Path,
    krate: &str,
    version: &str,
    extra: &[&str],
    takes: &str,
) -> Result<()> {
    let program = match krate {
        "wasm-bindgen-cli" => "wasm-bindgen",
        other => other,
    };
    if version_of(&bin.join(program)).is_some_and(|v| v.split_whitespace().nth(1) == Some(version))
    {
        return Ok(());
    }
    run(
        &format!("installing {krate} {version}, once: {takes} on 2 cores"),
        crate::cargo()
            .args(["install", krate, "--version", version, "--force"])
            .args(extra)
            .envs(QUICK_RELEASE),
    )
}

/// Installs binaryen's wasm-opt from npm under `target/tools`, returning its bin folder.
fn binaryen(root: &Path) -> Result<PathBuf> {
    npm_tool(
        root,
        "binaryen",
        &format!("{BINARYEN}.0.0"),
        "wasm-opt",
        &format!("version_{BINARYEN}"),
    )
}

/// Installs terser from npm under `target/tools`, returning its bin folder.
fn terser(root: &Path) -> Result<PathBuf> {
    npm_tool(
        root,
        "terser",
        TERSER,
        "terser",
        &format!("terser {TERSER}"),
    )
}

/// Installs npm's `package@version` into `target/tools/<package>` unless its `program`
/// already reports `wanted` in its `--version`; returns the folder of its programs.
fn npm_tool(
    root: &Path,
    package: &str,
    version: &str,
    program: &str,
    wanted: &str,
) -> Result<PathBuf> {
    let prefix = root.join("target").join("tools").join(package);
    let bin = prefix.join("node_modules").join(".bin");
    if version_of(&bin.join(program)).is_some_and(|v| v.contains(wanted)) {
        return Ok(bin);
    }
    std::fs::create_dir_all(&prefix)?;
    run(
        &format!("installing {package} {version} ({program}) from npm"),
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(format!("{package}@{version}")),
    )?;
    if !version_of(&bin.join(program)).is_some_and(|v| v.contains(wanted)) {
        bail!("{program} from npm does not report {wanted}");
    }
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pins live in three files; this keeps them in step.
    #[test]
    fn versions_match_trunk_toml_and_the_workspace() {
        let root = crate::workspace_root().expect("root");
        let trunk = std::fs::read_to_string(root.join("Trunk.toml")).expect("Trunk.toml");
        assert!(trunk.contains(&format!("wasm_bindgen = \"{WASM_BINDGEN}\"")));
        assert!(trunk.contains(&format!("wasm_opt = \"version_{BINARYEN}\"")));
        let cargo = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        assert!(cargo.contains(&format!("wasm-bindgen = \"={WASM_BINDGEN}\"")));
    }
}
