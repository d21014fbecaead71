//! The bridge's TOML configuration: where it listens, which origin may open the
//! WebSocket, where the built app is, and the accounts (mail servers) it serves.
//!
//! Mail servers come from here only; the browser picks an account by name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

/// The documentation printed by `postern --help`; kept beside the parser it describes.
pub const HELP: &str = "\
CONFIGURATION FILE (TOML)
  listen = \"127.0.0.1:8080\"
      Address and port the bridge listens on for HTTP and the WebSocket.
  public_origin = \"https://mail.example.org\"
      The origin (scheme://host[:port]) people load the app from. WebSocket
      handshakes whose Origin header differs, or is missing, get 403.
  static_dir = \"/usr/share/postern/dist\"
      The built frontend (what `trunk build --release` writes to dist/).
      Relative paths are relative to the configuration file.
  folder_counts_seconds = 60                (optional, 1 to 3600)
      How often the message counts of folders other than the open one are
      read again (every tenth time only, where the server pushes them with
      NOTIFY). The open folder is followed live (IDLE) regardless.

  [[account]]                  one table per mail server; at least one
  name = \"Example\"
      Shown on the sign-in page when there are several accounts.
  imap = \"imaps://imap.example.org:993\"
      imaps://HOST[:PORT] for implicit TLS (default port 993), or
      imap://HOST[:PORT] for STARTTLS (default port 143), which is then
      mandatory: the bridge never sends credentials without TLS.
  ca_file = \"/etc/postern/ca.pem\"          (optional)
      PEM certificates trusted in addition to the system's roots.
      Certificate verification cannot be turned off.
";

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_origin: String,
    pub static_dir: PathBuf,
    pub accounts: Vec<Account>,
    /// How often other folders' counts are refreshed (`folder_counts_seconds`).
    pub folder_counts_every: std::time::Duration,
}

/// One configured mail server.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub imap: ImapServer,
    /// The TLS settings for this server: system roots plus `ca_file`.
    pub tls: Arc<rustls::ClientConfig>,
}

/// Where an IMAP server is and how TLS starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapServer {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps://`).
    Implicit,
    /// Plain connection upgraded with STARTTLS before anything else (`imap://`).
    StartTls,
}

/// A configuration problem, with the line it is on when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: SocketAddr,
    public_origin: Spanned<String>,
    static_dir: PathBuf,
    folder_counts_seconds: Option<Spanned<u64>>,
    #[serde(default)]
    account: Vec<RawAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Spanned<String>,
    imap: Spanned<ImapServer>,
    ca_file: Option<Spanned<PathBuf>>,
}

impl<'de> Deserialize<'de> for ImapServer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ImapServer::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl ImapServer {
    /// Parses `imaps://host[:port]` or `imap://host[:port]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (security, rest, default_port) = if let Some(rest) = text.strip_prefix("imaps://") {
            (Security::Implicit, rest, 993)
        } else if let Some(rest) = text.strip_prefix("imap://") {
            (Security::StartTls, rest, 143)
        } else {
            return Err(format!(
                "`{text}` is not an IMAP server address: expected imaps://HOST[:PORT] or imap://HOST[:PORT]"
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let parse_port = |port: &str| {
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("`{port}` is not a valid port in `{text}`"))
        };
        // A bracketed IPv6 literal, or a name or IPv4 address with an optional port.
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (host, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("`{text}` has an unclosed `[`"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, parse_port(port)?),
                None if after.is_empty() => (host, default_port),
                None => return Err(format!("`{text}` has text after the host")),
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, parse_port(port)?),
                None => (rest, default_port),
            }
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(format!("`{text}` has no valid host name"));
        }
        Ok(ImapServer {
            host: host.to_owned(),
            port,
            security,
        })
    }
}

impl Config {
    /// Reads and validates the file; errors name the key and line.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses configuration text; relative paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            // toml's own message names the key; add the line in a form people scan for.
            match e.span() {
                Some(span) => format!("line {}: {}", line_of(text, span.start), e.message()),
                None => e.message().to_owned(),
            }
        })?;
        let at = |span: std::ops::Range<usize>, key: &str, message: String| {
            format!("line {}: `{key}`: {message}", line_of(text, span.start))
        };

        let public_origin = normalize_origin(raw.public_origin.get_ref()).ok_or_else(|| {
            at(
                raw.public_origin.span(),
                "public_origin",
                "expected an origin such as https://mail.example.org (scheme, host and optional port, no path)".into(),
            )
        })?;
        if raw.account.is_empty() {
            return Err("no `[[account]]` table: configure at least one mail server".into());
        }
        let roots = system_roots();
        let mut accounts: Vec<Account> = Vec::new();
        for account in raw.account {
            let name = account.name.get_ref().trim().to_owned();
            if name.is_empty() {
                return Err(at(account.name.span(), "name", "must not be empty".into()));
            }
            if accounts.iter().any(|a| a.name == name) {
                return Err(at(
                    account.name.span(),
                    "name",
                    format!("another account is already named `{name}`"),
                ));
            }
            let mut store = roots.clone();
            if let Some(ca_file) = &account.ca_file {
                let file = base.join(ca_file.get_ref());
                let added = add_pem_file(&mut store, &file)
                    .map_err(|message| at(ca_file.span(), "ca_file", message))?;
                if added == 0 {
                    return Err(at(
                        ca_file.span(),
                        "ca_file",
                        format!("{} holds no PEM certificate", file.display()),
                    ));
                }
            }
            accounts.push(Account {
                name,
                imap: account.imap.into_inner(),
                tls: Arc::new(client_config(store)),
            });
        }
        let folder_counts_seconds = match raw.folder_counts_seconds {
            None => 60,
            Some(seconds) if (1..=3600).contains(seconds.get_ref()) => seconds.into_inner(),
            Some(seconds) => {
                return Err(at(
                    seconds.span(),
                    "folder_counts_seconds",
                    "expected a number of seconds from 1 to 3600".into(),
                ));
            }
        };
        Ok(Config {
            listen: raw.listen,
            public_origin,
            static_dir: base.join(raw.static_dir),
            accounts,
            folder_counts_every: std::time::Duration::from_secs(folder_counts_seconds),
        })
    }

    /// The account a sign-in names; with one account the name may be left out.
    pub fn account(&self, name: Option<&str>) -> Option<&Account> {
        match name {
            Some(name) => self.accounts.iter().find(|a| a.name == name),
            None if self.accounts.len() == 1 => self.accounts.first(),
            None => None,
        }
    }
}

/// `scheme://host[:port]` in lower case without a default port, or `None` if the
/// text is not an origin.
pub fn normalize_origin(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_lowercase();
    let (scheme, rest) = text.split_once("://")?;
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let host_port = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            port.parse::<u16>().ok()?;
            if port == default_port {
                host.to_owned()
            } else {
                rest.to_owned()
            }
        }
        _ => rest.to_owned(),
    };
    Some(format!("{scheme}://{host_port}"))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// TLS for fetching from the web (the image proxy): the system's roots only.
pub fn web_tls() -> Arc<rustls::ClientConfig> {
    Arc::new(client_config(system_roots()))
}

fn system_roots() -> rustls::RootCertStore {
    let mut store = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "while loading the system's trusted certificates");
    }
    let (added, ignored) = store.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "system root certificates");
    store
}

fn add_pem_file(store: &mut rustls::RootCertStore, file: &Path) -> Result<usize, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot parse {}: {e}", file.display()))?;
    let count = certs.len();
    for cert in certs {
        store
            .add(cert)
            .map_err(|e| format!("{} holds an unusable certificate: {e}", file.display()))?;
    }
    Ok(count)
}

fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the safe default versions"))
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/srv"))
    }

    const GOOD: &str = r#"
listen = "127.0.0.1:8080"
public_origin = "HTTPS://Mail.Example.org:443/"
static_dir = "dist"

[[account]]
name = "Work"
imap = "imaps://imap.example.org"

[[account]]
name = "Home"
imap = "imap://[::1]:1143"
"#;

    #[test]
    fn a_good_file_parses_with_defaults_filled_in() {
        let config = parse(GOOD).expect("valid");
        assert_eq!(config.public_origin, "https://mail.example.org");
        assert_eq!(config.static_dir, Path::new("/srv/dist"));
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(
            config.accounts[0].imap,
            ImapServer {
                host: "imap.example.org".into(),
                port: 993,
                security: Security::Implicit
            }
        );
        assert_eq!(
            config.accounts[1].imap,
            ImapServer {
                host: "::1".into(),
                port: 1143,
                security: Security::StartTls
            }
        );
        assert_eq!(
            config.account(Some("Home")).map(|a| a.imap.port),
            Some(1143)
        );
        assert!(config.account(None).is_none(), "two accounts need a name");
        assert_eq!(
            config.folder_counts_every,
            std::time::Duration::from_secs(60)
        );
    }

    #[test]
    fn folder_counts_seconds_is_checked() {
        let with = |value: &str| parse(&format!("folder_counts_seconds = {value}\n{GOOD}"));
        assert_eq!(
            with("5").expect("valid").folder_counts_every,
            std::time::Duration::from_secs(5)
        );
        for bad in ["0", "3601"] {
            let error = with(bad).expect_err(bad);
            assert!(
                error.contains("line 1") && error.contains("folder_counts_seconds"),
                "{error}"
            );
        }
    }

    #[test]
    fn imap_addresses_parse() {
        let ok = |t: &str| ImapServer::parse(t).map(|s| (s.host, s.port, s.security));
        assert_eq!(
            ok("imaps://[::1]"),
            Ok(("::1".into(), 993, Security::Implicit))
        );
        assert_eq!(
            ok("imap://10.0.0.1:1143/"),
            Ok(("10.0.0.1".into(), 1143, Security::StartTls))
        );
        for bad in [
            "imaps://",
            "imaps://a:0",
            "imaps://a:b",
            "imaps://[::1",
            "imaps://a b",
            "https://a",
            "imaps://::1",
        ] {
            assert!(ImapServer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let cases = [
            (
                GOOD.replace("imaps://imap.example.org", "pop3://x"),
                "line 8",
                "imap",
            ),
            (GOOD.replace("listen", "lisen"), "line 2", "lisen"),
            (
                GOOD.replace("HTTPS://Mail.Example.org:443/", "mail.example.org"),
                "line 3",
                "public_origin",
            ),
            (GOOD.replace("\"Home\"", "\"Work\""), "line 11", "name"),
            (GOOD.replace("1143", "99999"), "line 12", "port"),
            (
                GOOD.replace(
                    "name = \"Work\"\n",
                    "name = \"Work\"\nca_file = \"/nonexistent.pem\"\n",
                ),
                "line 8",
                "ca_file",
            ),
        ];
        for (text, line, key) in cases {
            let error = parse(&text)
                .err()
                .unwrap_or_else(|| panic!("accepted:\n{text}"));
            assert!(error.contains(line) && error.contains(key), "{error}");
        }
        let missing =
            parse("listen = \"127.0.0.1:1\"\npublic_origin = \"http://a\"\nstatic_dir = \"d\"\n");
        assert!(missing.is_err_and(|e| e.contains("account")));
    }

    #[test]
    fn origins_are_normalized() {
        assert_eq!(
            normalize_origin("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(
            normalize_origin("http://LOCALHOST:80").as_deref(),
            Some("http://localhost")
        );
        assert_eq!(
            normalize_origin("https://[::1]:8443").as_deref(),
            Some("https://[::1]:8443")
        );
        for bad in [
            "null",
            "ftp://x",
            "https://",
            "https://a/b",
            "https://u@a",
            "https://a:x",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }
    }
}
