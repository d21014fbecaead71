//! A private Dovecot on loopback, with its own throwaway CA, for the demo and the tests.
//!
//! [`Dovecot::start`] writes a config into a fresh temporary folder, picks free ports,
//! starts `dovecot -F`, and waits until it accepts connections. Dropping the value
//! stops the server and removes the folder. [`Dovecot::imap`] opens an independent
//! IMAP client (async-imap over rustls, trusting only the throwaway CA), which the
//! tests use to seed mail and to check what the bridge did. [`sample`] generates the
//! demo's mailbox.

mod postfix;
pub mod sample;
mod tls;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub use postfix::{DOMAIN, Postfix};
pub use tls::TestCa;

/// An IMAP session of the independent test client.
pub type ImapSession = async_imap::Session<TlsStream<TcpStream>>;

/// A user of the private server.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub password: String,
}

impl User {
    pub fn new(name: &str, password: &str) -> Self {
        User {
            name: name.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// A running private Dovecot. Stopped and cleaned up on drop.
pub struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    ca: TestCa,
    /// IMAP with STARTTLS.
    pub imap_port: u16,
    /// IMAP over implicit TLS.
    pub imaps_port: u16,
    /// POP3 with STLS.
    pub pop3_port: u16,
    /// POP3 over implicit TLS.
    pub pop3s_port: u16,
    /// LMTP on loopback, where [`Postfix`] delivers.
    pub lmtp_port: u16,
    /// Dovecot's authentication service, which [`Postfix`] asks about SMTP logins.
    pub auth_port: u16,
    /// Dovecot's own submission service (STARTTLS), which offers BURL, when started
    /// with [`Dovecot::start_submitting`]; it relays to a [`Postfix`].
    pub submission_port: Option<u16>,
    /// Where that service relays: a [`Postfix`] started for this Dovecot listens
    /// there for loopback clients without a login.
    pub relay_port: Option<u16>,
}

/// How the server names folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Dovecot's default: personal folders at the root, `/` between levels.
    #[default]
    Root,
    /// As Cyrus and Courier keep them: personal folders under `INBOX.`, `.` between
    /// levels, and a shared namespace `Public.` (its folder `Public.Announcements`
    /// holds one message) that users may read but not change, by Dovecot's ACL
    /// plugin.
    InboxPrefix,
}

/// The shared folder of [`Layout::InboxPrefix`], read-only for every user.
pub const PUBLIC_FOLDER: &str = "Public.Announcements";

/// Special-use folders every user gets, as (name, attribute).
pub const SPECIAL_FOLDERS: [(&str, &str); 5] = [
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Archive", "\\Archive"),
    ("Junk", "\\Junk"),
    ("Trash", "\\Trash"),
];

/// Lines for [`Dovecot::start_with`]: Dovecot's IMAP capabilities less CATENATE,
/// as a server without it offers them.
pub const WITHOUT_CATENATE: &str = "protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR \
     LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+ NAMESPACE UIDPLUS MOVE CONDSTORE QRESYNC \
     SPECIAL-USE NOTIFY MULTIAPPEND URL-PARTIAL\n}\n";

/// The same lines, as a server without `THREAD` offers them (they name none).
pub const WITHOUT_THREAD: &str = WITHOUT_CATENATE;

/// Lines for [`Dovecot::start_with`]: a full-text index (Xapian, from Debian's
/// `dovecot-fts-xapian`) for body and header searches, kept up to date as mail
/// is saved. Words are matched from their third letter on, as substrings. The
/// index answers header searches only for the address fields and the subject, so
/// Dovecot marks mail with attachments as it is saved (`$HasAttachment`).
pub const FULL_TEXT: &str = "mail_plugins = $mail_plugins fts fts_xapian
mail_attachment_detection_options = add-flags
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20
  fts_autoindex = yes
  fts_enforced = no
}
";

impl Dovecot {
    /// Starts a server with these users, each with an empty mailbox and the
    /// [`SPECIAL_FOLDERS`].
    pub fn start(users: &[User]) -> Result<Self> {
        Self::start_with(users, "")
    }

    /// Like [`Dovecot::start`], with `extra` lines appended to the configuration
    /// (say, to offer fewer capabilities than Dovecot has).
    pub fn start_with(users: &[User], extra: &str) -> Result<Self> {
        Self::start_laid_out(users, Layout::Root, extra)
    }

    /// Like [`Dovecot::start_with`], with Dovecot's submission service beside IMAP:
    /// it offers BURL (RFC 4468), fetching a message's body by an IMAP URL the
    /// user authorized (URLAUTH, for URLs naming port `urlauth_port`, by default
    /// the IMAPS port), and relays to the [`Postfix`] started for this Dovecot.
    pub fn start_submitting(users: &[User], urlauth_port: Option<u16>) -> Result<Self> {
        Self::start_full(users, Layout::Root, "", Some(urlauth_port))
    }

    /// Like [`Dovecot::start_with`], naming folders as `layout` says.
    pub fn start_laid_out(users: &[User], layout: Layout, extra: &str) -> Result<Self> {
        Self::start_full(users, layout, extra, None)
    }

    /// `submitting`: with the submission service, URLs naming this port (or IMAPS).
    fn start_full(
        users: &[User],
        layout: Layout,
        extra: &str,
        submitting: Option<Option<u16>>,
    ) -> Result<Self> {
        ensure_root_and_dovecot()?;
        let dir = tempfile::Builder::new()
            .prefix("postern-dovecot-")
            .tempdir()
            .context("cannot create a folder for Dovecot")?;
        // Dovecot's mail processes run as the `dovecot` user and must reach their files.
        set_mode(dir.path(), 0o755)?;
        let ca = TestCa::generate().context("cannot generate the throwaway CA")?;
        let server = ca.server_certificate(&["localhost", "127.0.0.1"])?;
        std::fs::write(dir.path().join("ca.pem"), &ca.cert_pem)?;
        std::fs::write(dir.path().join("server.pem"), &server.cert_pem)?;
        std::fs::write(dir.path().join("server.key"), &server.key_pem)?;
        set_mode(&dir.path().join("server.key"), 0o600)?;

        let users_file: String = users
            .iter()
            .map(|u| format!("{}:{{PLAIN}}{}\n", u.name, u.password))
            .collect();
        std::fs::write(dir.path().join("users"), users_file)?;
        for sub in ["mail", "home", "run", "state", "public"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        if layout == Layout::InboxPrefix {
            public_folder(&dir.path().join("public"))?;
        }
        let status = Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(dir.path().join("mail"))
            .arg(dir.path().join("home"))
            .arg(dir.path().join("public"))
            .status()
            .context("cannot run chown")?;
        ensure!(status.success(), "chown of Dovecot's mail folders failed");

        let [imap, imaps, pop3, pop3s, lmtp, auth, submission, relay] = free_ports::<8>()?;
        let ports = [imap, imaps, pop3, pop3s, lmtp, auth];
        let mut config = config_text(dir.path(), ports, layout);
        if let Some(urlauth_port) = submitting {
            config += &submission_text(submission, relay, urlauth_port.unwrap_or(imaps));
        }
        config += extra;
        let config_path = dir.path().join("dovecot.conf");
        std::fs::write(&config_path, config)?;

        let child = spawn_dovecot(dir.path())?;
        let mut server = Dovecot {
            child,
            dir,
            ca,
            imap_port: ports[0],
            imaps_port: ports[1],
            pop3_port: ports[2],
            pop3s_port: ports[3],
            lmtp_port: ports[4],
            auth_port: ports[5],
            submission_port: submitting.map(|_| submission),
            relay_port: submitting.map(|_| relay),
        };
        server.wait_until_listening()?;
        Ok(server)
    }

    fn wait_until_listening(&mut self) -> Result<()> {
        let mut ports = vec![
            self.imap_port,
            self.imaps_port,
            self.pop3_port,
            self.pop3s_port,
            self.lmtp_port,
            self.auth_port,
        ];
        ports.extend(self.submission_port);
        let dir = self.dir.path().to_owned();
        let logs = || read_logs(&dir, &["stderr.log", "dovecot.log"]);
        wait_until_listening(&mut self.child, "dovecot", &ports, logs)
    }

    /// Stops the server, as an operator's restart does (every connection ends
    /// with a `* BYE`), and starts it again on the same ports with the same mail.
    pub fn restart(&mut self) -> Result<()> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        wait_or_kill(&mut self.child);
        self.child = spawn_dovecot(self.dir.path())?;
        self.wait_until_listening()
    }

    /// What Dovecot logged so far, for error messages.
    pub fn logs(&self) -> String {
        read_logs(self.dir.path(), &["stderr.log", "dovecot.log"])
    }

    /// The CA that signed the server's certificate (and a [`Postfix`]'s beside it).
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn imaps_url(&self) -> String {
        format!("imaps://127.0.0.1:{}", self.imaps_port)
    }

    /// The STARTTLS URL, by name, so that the certificate's DNS name is checked too.
    pub fn imap_starttls_url(&self) -> String {
        format!("imap://localhost:{}", self.imap_port)
    }

    pub fn pop3s_url(&self) -> String {
        format!("pop3s://127.0.0.1:{}", self.pop3s_port)
    }

    /// The submission service's URL (STARTTLS, by name), when it runs.
    pub fn submission_url(&self) -> Option<String> {
        self.submission_port
            .map(|port| format!("smtp://localhost:{port}"))
    }

    /// The STLS URL, by name, so that the certificate's DNS name is checked too.
    pub fn pop3_stls_url(&self) -> String {
        format!("pop3://localhost:{}", self.pop3_port)
    }

    /// Disconnects every session of `user` (`doveadm kick`), as a server restart or
    /// a network cut would.
    pub fn kick(&self, user: &User) -> Result<()> {
        self.doveadm(&["kick", &user.name])
    }

    /// Changes `user`'s password, as a person would on their mail server; the
    /// next login needs the new one (Dovecot reads its users file again when it
    /// changes).
    pub fn set_password(&self, user: &User, password: &str) -> Result<()> {
        let file = self.dir.path().join("users");
        let prefix = format!("{}:", user.name);
        let text: String = std::fs::read_to_string(&file)?
            .lines()
            .map(|line| match line.strip_prefix(&prefix) {
                Some(_) => format!("{prefix}{{PLAIN}}{password}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&file, text)?;
        // The auth processes start again, so none answers from the old file.
        self.doveadm(&["reload"])?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self
            .doveadm(&["auth", "test", &user.name, password])
            .is_err()
        {
            ensure!(
                std::time::Instant::now() < deadline,
                "Dovecot still refuses the new password"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    /// Runs `doveadm` against this server.
    fn doveadm(&self, args: &[&str]) -> Result<()> {
        let output = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .args(args)
            .output()
            .context("cannot run doveadm")?;
        ensure!(
            output.status.success(),
            "doveadm {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Fills an existing folder of `user`'s with `count` messages, written straight
    /// into its maildir: appending thousands over IMAP would take minutes. Message
    /// `i` (from `message(i)`) gets a file name that sorts by `i`, so Dovecot gives
    /// the UIDs in that order; the folder is indexed (`doveadm index`) before this
    /// returns, as a server's own deliveries would have left it.
    pub fn seed_maildir(
        &self,
        user: &User,
        folder: &str,
        count: u32,
        message: impl Fn(u32) -> Vec<u8>,
    ) -> Result<()> {
        // LAYOUT=fs keeps INBOX in the user's maildir itself.
        let root = self.dir.path().join("mail").join(&user.name);
        let cur = if folder == "INBOX" {
            root
        } else {
            root.join(folder)
        }
        .join("cur");
        ensure!(cur.is_dir(), "no maildir at {}", cur.display());
        for i in 0..count {
            std::fs::write(
                // Like a delivery's name (time, then unique parts). Dovecot hashes
                // these names; with `i` in one place only, its hash table (rebuilt
                // on every open of the folder) took 0.6 s per open at 100,000.
                cur.join(format!(
                    "{}.M{i}P{i}.seed:2,S",
                    1_700_000_000 + u64::from(i)
                )),
                message(i),
            )?;
        }
        let status = Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(&cur)
            .status()
            .context("cannot run chown")?;
        ensure!(status.success(), "chown of {} failed", cur.display());
        // Indexed now, as a server's own delivery would have, not on first open.
        self.doveadm(&["index", "-u", &user.name, folder])
    }

    /// Appends the samples in order as `user`, as [`sample::append_all`] does, over
    /// a session of its own.
    ///
    /// With a full-text index kept up to date as mail is saved ([`FULL_TEXT`]),
    /// Dovecot 2.3's imap process can abort on a lock it shares with the indexer
    /// ("Resource deadlock avoided"), before it has taken the message. Only then
    /// does this connect again and go on from that message, up to three times.
    pub async fn append_samples(&self, user: &User, samples: &[sample::Sample]) -> Result<()> {
        let mut imap = self.imap(user).await?;
        let mut done = 0;
        let mut retries = 0;
        while done < samples.len() {
            let aborts = self.deadlock_aborts();
            match sample::append_all(&mut imap, &samples[done..=done]).await {
                Ok(()) => done += 1,
                Err(e) if retries < 3 && self.deadlock_aborts() > aborts => {
                    eprintln!("    dovecot aborted on a lock ({e:#}); connecting again");
                    retries += 1;
                    imap = self.imap(user).await?;
                }
                Err(e) => return Err(e).with_context(|| self.logs()),
            }
        }
        imap.logout().await?;
        Ok(())
    }

    /// How many times an imap process aborted on a lock deadlock so far.
    fn deadlock_aborts(&self) -> usize {
        self.logs()
            .lines()
            .filter(|l| l.contains("Panic:") && l.contains("Resource deadlock avoided"))
            .count()
    }

    /// A TLS connection to one of the server's implicit-TLS ports, trusting its CA.
    pub async fn tls_to(&self, port: u16) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.ca.client_config()?));
        let name = rustls_pki_types::ServerName::try_from("localhost")?;
        Ok(connector.connect(name, tcp).await?)
    }

    /// Opens an independent IMAP session as `user` over implicit TLS.
    pub async fn imap(&self, user: &User) -> Result<ImapSession> {
        let tls = self.tls_to(self.imaps_port).await?;
        let mut client = async_imap::Client::new(tls);
        client
            .read_response()
            .await?
            .context("no greeting from dovecot")?;
        client
            .login(&user.name, &user.password)
            .await
            .map_err(|(e, _)| e)
            .with_context(|| format!("cannot log in as {}", user.name))
    }
}

/// Starts Dovecot in the foreground on the configuration in `dir`, its own log
/// appended to `stderr.log` there.
fn spawn_dovecot(dir: &Path) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))?;
    Command::new("dovecot")
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("cannot start dovecot")
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its login and mail processes too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        wait_or_kill(&mut self.child);
    }
}

/// Waits until the server `child` (called `name`) accepts connections on every one
/// of `ports`, for at most 30 s; fails with its `logs` if it exits or is late.
fn wait_until_listening(
    child: &mut Child,
    name: &str,
    ports: &[u16],
    logs: impl Fn() -> String,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("{name} exited with {status}:\n{}", logs());
        }
        if ports
            .iter()
            .all(|p| std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, *p)).is_ok())
        {
            // Another program can hold a port picked free (a server of another
            // test); then this one fails to bind it while that one answers.
            std::thread::sleep(Duration::from_millis(100));
            let logged = logs();
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited with {status}:
{logged}"
                );
            }
            if logged.contains("Address already in use") {
                bail!(
                    "{name} could not bind a port (Address already in use):
{logged}"
                );
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{name} did not start listening in time:\n{}", logs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Gives a server that was asked to stop 5 s to exit, then kills it.
fn wait_or_kill(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The log files of a server's folder that exist, joined, for error messages.
fn read_logs(dir: &Path, files: &[&str]) -> String {
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The shared folder's maildir: one message, and an ACL that lets anyone look and
/// read, nothing more.
fn public_folder(public: &Path) -> Result<()> {
    let folder = public.join("Announcements");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(folder.join(sub))?;
    }
    std::fs::write(public.join("dovecot-acl"), "anyone lr\n")?;
    std::fs::write(folder.join("dovecot-acl"), "anyone lr\n")?;
    std::fs::write(
        folder.join("cur/1700000000.M1P1.seed:2,"),
        "From: Office <office@example.org>\r\nTo: everyone@example.org\r\n\
         Subject: The office is closed on Friday\r\n\
         Date: Thu, 19 Nov 2026 09:00:00 +0100\r\nMessage-ID: <public-1@example.org>\r\n\r\n\
         Enjoy the long weekend.\r\n",
    )?;
    Ok(())
}

fn config_text(
    dir: &Path,
    [imap, imaps, pop3, pop3s, lmtp, auth]: [u16; 6],
    layout: Layout,
) -> String {
    let d = dir.display();
    let namespaces = match layout {
        Layout::Root => "namespace inbox {\n  inbox = yes\n  separator = /\n".to_owned(),
        Layout::InboxPrefix => format!(
            "mail_plugins = $mail_plugins acl
protocol imap {{
  mail_plugins = $mail_plugins imap_acl
}}
plugin {{
  acl = vfile
}}
namespace public {{
  type = public
  prefix = Public.
  separator = .
  location = maildir:{d}/public:LAYOUT=fs:INDEX={d}/home/%u/public
  subscriptions = no
  list = children
}}
namespace inbox {{
  inbox = yes
  prefix = INBOX.
  separator = .
"
        ),
    };
    let mailboxes: String = SPECIAL_FOLDERS
        .iter()
        .map(|(name, role)| {
            format!("  mailbox {name} {{\n    special_use = {role}\n    auto = subscribe\n  }}\n")
        })
        .collect();
    format!(
        "# Written by maildev for one run; see shared/notes/dovecot.md.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u:LAYOUT=fs
# Room for the benchmark's thousand sessions of one user, and a hundred direct
# clients beside them (the imap service's own default limit is 1024 processes).
mail_max_userip_connections = 1500
default_process_limit = 1500
default_client_limit = 5000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/home/%u
}}
{namespaces}{mailboxes}}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service imap {{
  process_limit = 1500
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
# Postfix delivers over LMTP and checks SMTP logins against Dovecot's users.
service lmtp {{
  inet_listener lmtp {{
    port = {lmtp}
  }}
}}
service auth {{
  inet_listener auth {{
    port = {auth}
  }}
}}
protocol lmtp {{
  auth_username_format = %Ln
}}
"
    )
}

/// Dovecot's submission service on `port`, relaying to `relay` (a [`Postfix`]),
/// with URLAUTH for URLs naming any host and `urlauth_port`, its keys kept in a
/// file beside each user's mail.
fn submission_text(port: u16, relay: u16, urlauth_port: u16) -> String {
    format!(
        "protocols = $protocols submission
mail_attribute_dict = file:%h/dovecot-attributes
imap_urlauth_host = *
imap_urlauth_port = {urlauth_port}
submission_relay_host = 127.0.0.1
submission_relay_port = {relay}
submission_relay_trusted = no
service submission-login {{
  inet_listener submission {{
    port = {port}
  }}
}}
"
    )
}

fn ensure_root_and_dovecot() -> Result<()> {
    let dovecot = Command::new("dovecot").arg("--version").output();
    ensure!(
        dovecot.is_ok_and(|o| o.status.success()),
        "dovecot is not installed: run `cargo xtask test` or `cargo xtask demo`, which install it"
    );
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

/// A port that was free a moment ago. Dovecot cannot listen on port 0 and report it,
/// so the small race here is accepted.
/// `N` distinct free ports: each stays bound until all are found, so that the
/// system cannot hand out one twice (a server refuses a config that listens on a
/// port twice).
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
