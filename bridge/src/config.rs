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
      NOTIFY). The open folder is followed live (IDLE) regardless. POP3
      mailboxes, which cannot tell of new mail, are checked this often.
  data_dir = \"/var/lib/postern\"              (needed with POP3 accounts)
      Where the bridge keeps what mail servers cannot, per account and user
      (one file, postern.redb, and a drafts folder): POP3 messages' read
      and flagged state, the drafts of POP3 accounts, the identities people
      set in Settings, and whom they wrote to and read from, for
      suggestions. Without it, identities and suggestions last
      only as long as the bridge process.
      Relative paths are relative to the configuration file.
  session_key_file = \"/etc/postern/session.key\"     (optional; or a list)
      The key that seals resume tokens, which sign a person in again after
      a reload, a dropped connection or a move to another bridge, without
      their password: 32 random bytes in base64, on one line, readable by
      the bridge's user only. A missing file is created (mode 0600). Give
      every bridge behind one load balancer the same file. To rotate, list
      a new file first (it seals) and keep the old one after it for a
      while (it still opens). Without this key, a key made up at start
      serves until the bridge stops.
  session_hours = 12                        (optional, 1 to 720)
      How long a resume token can be renewed after the password was typed;
      then the person signs in again. Each token lasts 30 minutes and is
      renewed while the app is connected.
  shutdown_seconds = 30                     (optional, 1 to 3600)
      On SIGTERM the bridge stops taking connections, asks each browser to
      move to another bridge (WebSocket close code 1012; the app resumes by
      itself), lets downloads, sends and requests in flight finish, logs out
      of the mail servers and exits 0, waiting at most this long.
  log_format = \"text\"                      (optional: text or json)
      How the log is written (to standard output; RUST_LOG sets the level,
      info by default): as text for people, or as one JSON object a line
      for a log collector. Every line of a connection carries its
      `session` id; no line ever holds a password, a resume token or a
      message's content.
  trusted_proxies = [\"10.0.0.0/8\"]          (optional)
      The load balancers in front of the bridge (addresses or networks).
      Through one of them, the client is the address its X-Forwarded-For
      names, for the sign-in throttle and the log; from anywhere else the
      header is ignored.
  metrics_listen = \"127.0.0.1:9464\"       (optional; off by default)
      Where Prometheus scrapes GET /metrics (sessions, sign-ins, requests
      and their latency, errors, events, bytes, downloads, memory). An
      address of its own, never the public listener: keep it private.

  [[account]]                  one table per mail server; at least one
  name = \"Example\"
      Shown on the sign-in page when there are several accounts.
  imap = \"imaps://imap.example.org:993\"
      imaps://HOST[:PORT] for implicit TLS (default port 993), or
      imap://HOST[:PORT] for STARTTLS (default port 143), which is then
      mandatory: the bridge never sends credentials without TLS.
  pop3 = \"pop3s://pop.example.org:995\"     (instead of, or beside, imap)
      pop3s://HOST[:PORT] for implicit TLS (default port 995), or
      pop3://HOST[:PORT] for STLS (default port 110), which is then
      mandatory. A POP3 account shows one folder, Inbox; the bridge keeps
      its read and flagged state in `data_dir`. With both keys, people
      choose the protocol when signing in; IMAP is the default.
  ca_file = \"/etc/postern/ca.pem\"          (optional)
      PEM certificates trusted in addition to the system's roots.
      Certificate verification cannot be turned off.
  smtp = \"smtps://smtp.example.org:465\"    (optional: without it, no sending)
      Where people's mail is submitted: smtps://HOST[:PORT] for implicit TLS
      (default port 465), or smtp://HOST[:PORT] for STARTTLS (default port
      587), which is then mandatory. The bridge signs in with the user's own
      sign-in name and password, only after TLS.
  sent_copy = \"auto\"                        (optional: auto, append, server)
      Who keeps the copy in Sent: the bridge appends it over IMAP (\"append\"),
      the server does it itself (\"server\"), or the bridge unless the IMAP
      server is known to (\"auto\": Gmail's X-GM-EXT-1).
  max_message_mb = 25                       (optional, 1 to 2048)
      The largest message, encoded, a person may send, in megabytes (MiB).
      By default the SMTP server's own limit (its EHLO SIZE), else 25.
  domain = \"example.org\"                    (optional)
      The mail domain of users whose sign-in name is not an address: they send
      as NAME@DOMAIN. A sign-in name with an @ is the address itself.
  urlauth_server = \"imap://imap.example.org:993\"   (optional)
      How the IMAP server names itself in the URLs it authorizes (Dovecot's
      imap_urlauth_host and imap_urlauth_port), when not as `imap` says
      (default port 143, as in IMAP URLs). Where the IMAP server offers
      URLAUTH and the SMTP server BURL, a message's body is submitted by URL:
      the SMTP server fetches it from the Sent copy, so no attachment passes
      through the bridge twice. Without a URL the message goes as usual.
";

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_origin: String,
    pub static_dir: PathBuf,
    /// Where POP3 state is kept (`data_dir`); set whenever an account has POP3.
    pub data_dir: Option<PathBuf>,
    pub accounts: Vec<Account>,
    /// How often other folders' counts are refreshed (`folder_counts_seconds`).
    pub folder_counts_every: std::time::Duration,
    /// The keys of resume tokens, the sealing one first (`session_key_file`).
    pub session_keys: SessionKeys,
    /// How long after the sign-in resume tokens are renewed (`session_hours`).
    pub session_limit: std::time::Duration,
    /// How long a stopping bridge waits for what is in flight (`shutdown_seconds`).
    pub shutdown_after: std::time::Duration,
    /// Where `/metrics` is served, if anywhere (`metrics_listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// Logs as JSON lines (`log_format = "json"`) rather than text.
    pub json_logs: bool,
    /// The load balancers whose `X-Forwarded-For` is believed (`trusted_proxies`).
    pub trusted_proxies: Vec<crate::proxies::Network>,
}

/// Resume token keys, and the revocation list beside the first key file; the
/// keys are a secret, so they never print.
#[derive(Clone, Default)]
pub struct SessionKeys(pub Vec<crate::resume::Key>, pub Option<PathBuf>);

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKeys({} keys, <redacted>)", self.0.len())
    }
}

/// `session_key_file`: one path or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeyFiles {
    One(PathBuf),
    Several(Vec<PathBuf>),
}

/// One configured account: an IMAP server, a POP3 server, or both.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub imap: Option<Server>,
    pub pop3: Option<Server>,
    /// The TLS settings for this server: system roots plus `ca_file`.
    pub tls: Arc<rustls::ClientConfig>,
    /// Where mail is submitted (`smtp`); without it the account only reads.
    pub smtp: Option<Server>,
    /// Who keeps the copy of sent mail (`sent_copy`).
    pub sent_copy: SentCopy,
    /// The configured largest message in bytes (`max_message_mb`), if set.
    pub max_message_bytes: Option<u64>,
    /// The mail domain for sign-in names that are not addresses (`domain`).
    pub domain: Option<String>,
    /// How the IMAP server names itself in IMAP URLs (`urlauth_server`), when
    /// not as `imap` says.
    pub urlauth_server: Option<Server>,
}

/// Who keeps the copy of a sent message in the Sent folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SentCopy {
    /// The bridge, unless the IMAP server is known to keep one itself.
    #[default]
    Auto,
    /// Always the bridge (IMAP `APPEND`).
    Append,
    /// The server, on its own; the bridge keeps none.
    Server,
}

/// Where a mail server (IMAP or POP3) is and how TLS starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps://`, `pop3s://`).
    Implicit,
    /// Plain connection upgraded with STARTTLS (IMAP) or STLS (POP3) before
    /// anything else (`imap://`, `pop3://`).
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
    data_dir: Option<PathBuf>,
    session_key_file: Option<Spanned<KeyFiles>>,
    session_hours: Option<Spanned<u64>>,
    shutdown_seconds: Option<Spanned<u64>>,
    metrics_listen: Option<SocketAddr>,
    log_format: Option<Spanned<String>>,
    trusted_proxies: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    account: Vec<RawAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Spanned<String>,
    imap: Option<Spanned<ImapAddress>>,
    pop3: Option<Spanned<Pop3Address>>,
    ca_file: Option<Spanned<PathBuf>>,
    smtp: Option<Spanned<SmtpAddress>>,
    sent_copy: Option<Spanned<String>>,
    max_message_mb: Option<Spanned<u64>>,
    domain: Option<Spanned<String>>,
    urlauth_server: Option<Spanned<String>>,
}

/// The text of an `imap` key, parsed.
struct ImapAddress(Server);
/// The text of a `pop3` key, parsed.
struct Pop3Address(Server);
/// The text of an `smtp` key, parsed.
struct SmtpAddress(Server);

impl<'de> Deserialize<'de> for SmtpAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Server::parse(&text, Protocol::Smtp)
            .map(SmtpAddress)
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ImapAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Server::parse(&text, Protocol::Imap)
            .map(ImapAddress)
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Pop3Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Server::parse(&text, Protocol::Pop3)
            .map(Pop3Address)
            .map_err(serde::de::Error::custom)
    }
}

/// The mail protocols an account may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
    /// Mail submission (RFC 6409), for sending.
    Smtp,
}

impl Server {
    /// Parses `imaps://host[:port]` or `imap://host[:port]` (for POP3, `pop3s://`
    /// or `pop3://`).
    pub fn parse(text: &str, protocol: Protocol) -> Result<Self, String> {
        let (secure, plain, secure_port, plain_port) = match protocol {
            Protocol::Imap => ("imaps://", "imap://", 993, 143),
            Protocol::Pop3 => ("pop3s://", "pop3://", 995, 110),
            Protocol::Smtp => ("smtps://", "smtp://", 465, 587),
        };
        let (security, rest, default_port) = if let Some(rest) = text.strip_prefix(secure) {
            (Security::Implicit, rest, secure_port)
        } else if let Some(rest) = text.strip_prefix(plain) {
            (Security::StartTls, rest, plain_port)
        } else {
            let what = match protocol {
                Protocol::Imap => "an IMAP",
                Protocol::Pop3 => "a POP3",
                Protocol::Smtp => "an SMTP",
            };
            return Err(format!(
                "`{text}` is not {what} server address: expected {secure}HOST[:PORT] or {plain}HOST[:PORT]"
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
        Ok(Server {
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
            if account.imap.is_none() && account.pop3.is_none() {
                return Err(at(
                    account.name.span(),
                    "account",
                    format!("`{name}` needs an `imap` or a `pop3` server"),
                ));
            }
            if account.pop3.is_some() && raw.data_dir.is_none() {
                return Err(at(
                    account.name.span(),
                    "data_dir",
                    format!(
                        "`{name}` has a POP3 server, whose read and flagged state the bridge keeps: set `data_dir`"
                    ),
                ));
            }
            let max_message_bytes = match account.max_message_mb {
                None => None,
                Some(mb) if (1..=2048).contains(mb.get_ref()) => Some(mb.into_inner() << 20),
                Some(mb) => {
                    return Err(at(
                        mb.span(),
                        "max_message_mb",
                        "expected a number of megabytes from 1 to 2048".into(),
                    ));
                }
            };
            let sent_copy = match account.sent_copy {
                None => SentCopy::Auto,
                Some(text) => match text.get_ref().as_str() {
                    "auto" => SentCopy::Auto,
                    "append" => SentCopy::Append,
                    "server" => SentCopy::Server,
                    _ => {
                        return Err(at(
                            text.span(),
                            "sent_copy",
                            "expected \"auto\", \"append\" or \"server\"".into(),
                        ));
                    }
                },
            };
            let domain = match account.domain {
                None => None,
                Some(domain) => {
                    let text = domain.get_ref().trim().to_ascii_lowercase();
                    let valid = !text.is_empty()
                        && text.split('.').all(|label| {
                            !label.is_empty()
                                && label.len() <= 63
                                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        });
                    if !valid {
                        return Err(at(
                            domain.span(),
                            "domain",
                            "expected a mail domain such as example.org".into(),
                        ));
                    }
                    Some(text)
                }
            };
            let urlauth_server = match account.urlauth_server {
                None => None,
                Some(text) => {
                    let invalid = |message: String| at(text.span(), "urlauth_server", message);
                    if !text.get_ref().starts_with("imap://") {
                        return Err(invalid(
                            "expected imap://HOST[:PORT], as the IMAP server's URLs begin".into(),
                        ));
                    }
                    Some(Server::parse(text.get_ref(), Protocol::Imap).map_err(invalid)?)
                }
            };
            accounts.push(Account {
                name,
                imap: account.imap.map(|a| a.into_inner().0),
                pop3: account.pop3.map(|a| a.into_inner().0),
                tls: Arc::new(client_config(store)),
                smtp: account.smtp.map(|a| a.into_inner().0),
                sent_copy,
                max_message_bytes,
                domain,
                urlauth_server,
            });
        }
        // A number key with a default and bounds.
        let bounded = |value: Option<Spanned<u64>>,
                       default: u64,
                       range: std::ops::RangeInclusive<u64>,
                       key: &str,
                       unit: &str| match value {
            None => Ok(default),
            Some(value) if range.contains(value.get_ref()) => Ok(value.into_inner()),
            Some(value) => Err(at(
                value.span(),
                key,
                format!(
                    "expected a number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        };
        let folder_counts_seconds = bounded(
            raw.folder_counts_seconds,
            60,
            1..=3600,
            "folder_counts_seconds",
            "seconds",
        )?;
        let session_hours = bounded(raw.session_hours, 12, 1..=720, "session_hours", "hours")?;
        let shutdown_seconds = bounded(
            raw.shutdown_seconds,
            30,
            1..=3600,
            "shutdown_seconds",
            "seconds",
        )?;
        let json_logs = match raw.log_format {
            None => false,
            Some(format) => match format.get_ref().as_str() {
                "text" => false,
                "json" => true,
                _ => {
                    return Err(at(
                        format.span(),
                        "log_format",
                        "expected \"text\" or \"json\"".into(),
                    ));
                }
            },
        };
        let mut trusted_proxies = Vec::new();
        if let Some(listed) = raw.trusted_proxies {
            for text in listed.get_ref() {
                let network = crate::proxies::Network::parse(text).ok_or_else(|| {
                    at(
                        listed.span(),
                        "trusted_proxies",
                        format!("`{text}` is not an address or a network such as 10.0.0.0/8"),
                    )
                })?;
                trusted_proxies.push(network);
            }
        }
        let session_keys = match raw.session_key_file {
            None => SessionKeys::default(),
            Some(files) => {
                let span = files.span();
                let files = match files.into_inner() {
                    KeyFiles::One(file) => vec![file],
                    KeyFiles::Several(files) => files,
                };
                if files.is_empty() {
                    return Err(at(span, "session_key_file", "lists no file".into()));
                }
                let mut keys = Vec::new();
                let list = files.first().map(|first| {
                    let mut name = base.join(first).into_os_string();
                    name.push(".revoked");
                    PathBuf::from(name)
                });
                for (i, file) in files.iter().enumerate() {
                    let file = base.join(file);
                    keys.push(
                        session_key(&file, i == 0)
                            .map_err(|message| at(span.clone(), "session_key_file", message))?,
                    );
                }
                SessionKeys(keys, list)
            }
        };
        Ok(Config {
            listen: raw.listen,
            public_origin,
            static_dir: base.join(raw.static_dir),
            data_dir: raw.data_dir.map(|dir| base.join(dir)),
            accounts,
            folder_counts_every: std::time::Duration::from_secs(folder_counts_seconds),
            session_keys,
            session_limit: std::time::Duration::from_secs(session_hours * 3600),
            shutdown_after: std::time::Duration::from_secs(shutdown_seconds),
            metrics_listen: raw.metrics_listen,
            json_logs,
            trusted_proxies,
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

/// Reads a resume token key; the first (`create`) is made if it is missing.
fn session_key(file: &Path, create: bool) -> Result<crate::resume::Key, String> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let shown = file.display();
    if create && !file.exists() {
        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| "the system's random source failed".to_owned())?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut out = options
            .open(file)
            .map_err(|e| format!("cannot create {shown}: {e}"))?;
        out.write_all(format!("{}\n", STANDARD.encode(key)).as_bytes())
            .map_err(|e| format!("cannot write {shown}: {e}"))?;
        zeroize::Zeroize::zeroize(&mut key);
    }
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    #[cfg(unix)]
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{shown} may be read by others: make it readable by the bridge's user only (chmod 600)"
        ));
    }
    let _ = meta;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {shown}: {e}"))?,
    );
    let bytes = zeroize::Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| format!("{shown} does not hold a key in base64"))?,
    );
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("{shown} holds {} bytes; a key is 32", bytes.len()))
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
            Some(Server {
                host: "imap.example.org".into(),
                port: 993,
                security: Security::Implicit
            })
        );
        assert_eq!(
            config.accounts[1].imap,
            Some(Server {
                host: "::1".into(),
                port: 1143,
                security: Security::StartTls
            })
        );
        assert_eq!(
            config
                .account(Some("Home"))
                .and_then(|a| a.imap.as_ref())
                .map(|s| s.port),
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
    fn operating_keys_parse_and_are_checked() {
        let config = parse(&format!(
            "session_hours = 2\nshutdown_seconds = 9\nlog_format = \"json\"\nmetrics_listen = \"127.0.0.1:9464\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n{GOOD}"
        ))
        .expect("valid");
        assert_eq!(config.session_limit, std::time::Duration::from_secs(7200));
        assert_eq!(config.shutdown_after, std::time::Duration::from_secs(9));
        assert!(config.json_logs);
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9464".parse().expect("address"))
        );
        assert_eq!(config.trusted_proxies.len(), 2);
        let defaults = parse(GOOD).expect("valid");
        assert_eq!(
            defaults.session_limit,
            std::time::Duration::from_secs(12 * 3600)
        );
        assert_eq!(defaults.shutdown_after, std::time::Duration::from_secs(30));
        assert!(!defaults.json_logs && defaults.metrics_listen.is_none());
        assert!(defaults.session_keys.0.is_empty());
        for (line, key) in [
            ("session_hours = 0", "session_hours"),
            ("session_hours = 721", "session_hours"),
            ("shutdown_seconds = 0", "shutdown_seconds"),
            ("log_format = \"xml\"", "log_format"),
            ("trusted_proxies = [\"10.0.0.0/40\"]", "trusted_proxies"),
            ("session_key_file = []", "session_key_file"),
        ] {
            let error = parse(&format!("{line}\n{GOOD}")).expect_err(line);
            assert!(error.contains("line 1") && error.contains(key), "{error}");
        }
    }

    #[test]
    fn a_session_key_is_made_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temporary directory");
        let text = format!("session_key_file = \"session.key\"\n{GOOD}");
        let made = Config::parse(&text, dir.path()).expect("valid");
        let file = dir.path().join("session.key");
        let mode = std::fs::metadata(&file).expect("made").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Config::parse(&text, dir.path()).expect("valid");
        assert_eq!(
            made.session_keys.0, again.session_keys.0,
            "the same key, read back"
        );
        assert!(!format!("{made:?}").contains(&format!("{:?}", made.session_keys.0[0])));
        // A key others may read is refused; so is one that is not a key.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = Config::parse(&text, dir.path()).expect_err("readable by others");
        assert!(error.contains("chmod 600"), "{error}");
        std::fs::write(&file, "c2hvcnQ=\n").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let error = Config::parse(&text, dir.path()).expect_err("too short");
        assert!(error.contains("a key is 32"), "{error}");
        // A second file must exist: only the first is made.
        let text = format!("session_key_file = [\"new.key\", \"old.key\"]\n{GOOD}");
        let error = Config::parse(&text, dir.path()).expect_err("missing old key");
        assert!(error.contains("old.key"), "{error}");
    }

    #[test]
    fn sending_keys_parse_and_are_checked() {
        let sending = GOOD.replace(
            "imap = \"imaps://imap.example.org\"\n",
            "imap = \"imaps://imap.example.org\"\nsmtp = \"smtp://smtp.example.org\"\nsent_copy = \"server\"\nmax_message_mb = 10\ndomain = \"Example.ORG\"\n",
        );
        let config = parse(&sending).expect("valid");
        let work = &config.accounts[0];
        assert_eq!(
            work.smtp,
            Some(Server {
                host: "smtp.example.org".into(),
                port: 587,
                security: Security::StartTls
            })
        );
        assert_eq!(work.sent_copy, SentCopy::Server);
        assert_eq!(work.max_message_bytes, Some(10 << 20));
        assert_eq!(work.domain.as_deref(), Some("example.org"));
        let home = &config.accounts[1];
        assert_eq!((home.smtp.as_ref(), home.sent_copy), (None, SentCopy::Auto));
        assert_eq!(
            Server::parse("smtps://mx", Protocol::Smtp).map(|s| (s.port, s.security)),
            Ok((465, Security::Implicit))
        );
        for (from, to, key) in [
            ("smtp://smtp.example.org", "imaps://x", "smtp"),
            ("\"server\"", "\"sometimes\"", "sent_copy"),
            (
                "max_message_mb = 10",
                "max_message_mb = 0",
                "max_message_mb",
            ),
            ("Example.ORG", "exa mple", "domain"),
        ] {
            let error = parse(&sending.replace(from, to)).expect_err(to);
            assert!(error.contains(key) && error.contains("line "), "{error}");
        }
    }

    #[test]
    fn urlauth_server_is_an_imap_url_server() {
        let with = |value: &str| {
            parse(&GOOD.replace(
                "imap = \"imaps://imap.example.org\"\n",
                &format!("imap = \"imaps://imap.example.org\"\nurlauth_server = {value:?}\n"),
            ))
        };
        let config = with("imap://mail.example.org:993").expect("valid");
        let named = config.accounts[0].urlauth_server.as_ref().expect("set");
        assert_eq!((named.host.as_str(), named.port), ("mail.example.org", 993));
        let config = with("imap://mail.example.org").expect("valid");
        assert_eq!(
            config.accounts[0].urlauth_server.as_ref().map(|s| s.port),
            Some(143)
        );
        assert_eq!(config.accounts[1].urlauth_server, None);
        for bad in [
            "imaps://mail.example.org",
            "mail.example.org:993",
            "imap://a:0",
        ] {
            let error = with(bad).expect_err(bad);
            assert!(
                error.contains("urlauth_server") && error.contains("line "),
                "{error}"
            );
        }
    }

    #[test]
    fn imap_addresses_parse() {
        let ok = |t: &str| Server::parse(t, Protocol::Imap).map(|s| (s.host, s.port, s.security));
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
            assert!(Server::parse(bad, Protocol::Imap).is_err(), "{bad}");
        }
    }

    #[test]
    fn pop3_addresses_parse_and_need_a_data_dir() {
        let ok = |t: &str| Server::parse(t, Protocol::Pop3).map(|s| (s.host, s.port, s.security));
        assert_eq!(
            ok("pop3s://pop.example.org"),
            Ok(("pop.example.org".into(), 995, Security::Implicit))
        );
        assert_eq!(
            ok("pop3://pop.example.org"),
            Ok(("pop.example.org".into(), 110, Security::StartTls))
        );
        assert!(Server::parse("imaps://a", Protocol::Pop3).is_err());
        assert!(Server::parse("pop3s://a", Protocol::Imap).is_err());

        let pop3_only = GOOD.replace(
            "imap = \"imaps://imap.example.org\"",
            "pop3 = \"pop3s://pop.example.org\"",
        );
        let error = parse(&pop3_only).expect_err("no data_dir");
        assert!(
            error.contains("data_dir") && error.contains("line 7"),
            "{error}"
        );
        let config = parse(&format!("data_dir = \"state\"\n{pop3_only}")).expect("valid");
        assert_eq!(config.data_dir.as_deref(), Some(Path::new("/srv/state")));
        assert!(config.accounts[0].imap.is_none());
        assert_eq!(config.accounts[0].pop3.as_ref().map(|s| s.port), Some(995));

        let both = GOOD.replace(
            "imap = \"imap://[::1]:1143\"",
            "imap = \"imap://[::1]:1143\"\npop3 = \"pop3://[::1]:1110\"",
        );
        let config = parse(&format!("data_dir = \"/state\"\n{both}")).expect("valid");
        assert!(config.accounts[1].imap.is_some() && config.accounts[1].pop3.is_some());

        let neither = GOOD.replace("imap = \"imaps://imap.example.org\"\n", "");
        assert!(
            parse(&neither)
                .expect_err("no server")
                .contains("needs an `imap` or a `pop3`")
        );
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
