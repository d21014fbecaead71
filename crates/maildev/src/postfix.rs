//! A private Postfix on loopback: SMTP submission (STARTTLS and implicit TLS) for the
//! users of a [`Dovecot`], delivering into that Dovecot over LMTP.
//!
//! Logins are checked by Dovecot's auth service, each user may send only as
//! `user@`[`DOMAIN`] (and any extra addresses given), recipients must be users of
//! the Dovecot (others are refused at `RCPT`), and every other transport is an
//! error, so nothing leaves loopback. See `shared/notes/smtp.md`.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, ensure};

use crate::{Dovecot, User, free_ports, read_logs, set_mode, wait_or_kill, wait_until_listening};

/// The mail domain of the test users: `alice` receives as `alice@example.test`.
pub const DOMAIN: &str = "example.test";

/// The largest message Postfix takes, as its EHLO `SIZE` says (in bytes).
const MESSAGE_SIZE_LIMIT: u64 = 50 * 1024 * 1024;

/// A running private Postfix. Stopped and cleaned up on drop.
pub struct Postfix {
    child: Child,
    /// Shared with the tries that came before, whose processes are gone.
    dir: std::sync::Arc<tempfile::TempDir>,
    /// Submission with mandatory STARTTLS (as port 587).
    pub submission_port: u16,
    /// Submission over implicit TLS (as port 465).
    pub submissions_port: u16,
    /// The relay for the Dovecot's own submission service, if it runs one.
    relay_port: Option<u16>,
}

impl Postfix {
    /// Starts a Postfix for `dovecot`'s users. `senders` adds addresses a user may
    /// send from, besides `user@example.test`, as (address, user name).
    pub fn start(dovecot: &Dovecot, users: &[User], senders: &[(&str, &str)]) -> Result<Self> {
        let version = Command::new("postconf")
            .arg("-d")
            .arg("mail_version")
            .output();
        ensure!(
            version.is_ok_and(|o| o.status.success()),
            "postfix is not installed: run `cargo xtask test` or `cargo xtask demo`, which install it"
        );
        let dir = std::sync::Arc::new(
            tempfile::Builder::new()
                .prefix("postern-postfix-")
                .tempdir()
                .context("cannot create a folder for Postfix")?,
        );
        set_mode(dir.path(), 0o755)?;
        let d = dir.path();
        let server = dovecot
            .ca()
            .server_certificate(&["localhost", "127.0.0.1"])?;
        std::fs::write(d.join("server.pem"), &server.cert_pem)?;
        std::fs::write(d.join("server.key"), &server.key_pem)?;
        set_mode(&d.join("server.key"), 0o600)?;
        let recipients: String = users
            .iter()
            .map(|u| format!("{}@{DOMAIN} OK\n", u.name))
            .collect();
        std::fs::write(d.join("recipients"), recipients)?;
        let logins: String = users
            .iter()
            .map(|u| (format!("{}@{DOMAIN}", u.name), u.name.as_str()))
            .chain(senders.iter().map(|(a, u)| (a.to_string(), *u)))
            .map(|(address, user)| format!("{address} {user}\n"))
            .collect();
        std::fs::write(d.join("senders"), logins)?;
        for sub in ["queue", "data"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let status = Command::new("chown")
            .args(["postfix:postfix"])
            .arg(d.join("data"))
            .status()
            .context("cannot run chown")?;
        ensure!(status.success(), "chown of Postfix's data folder failed");

        // Ports picked free can be taken by another process (an outgoing
        // connection's own port) before Postfix binds them: then again, with others.
        let mut attempt = 1;
        loop {
            let [submission_port, submissions_port] = free_ports::<2>()?;
            std::fs::write(d.join("main.cf"), main_cf(d, dovecot))?;
            std::fs::write(
                d.join("master.cf"),
                master_cf(submission_port, submissions_port, dovecot.relay_port)?,
            )?;
            let log = std::fs::File::create(d.join("stderr.log"))?;
            // In the foreground, so that the master is this child and dies with it.
            let child = Command::new("postfix")
                .arg("-c")
                .arg(d)
                .arg("start-fg")
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("cannot start postfix")?;
            let mut postfix = Postfix {
                child,
                dir: dir.clone(),
                submission_port,
                submissions_port,
                relay_port: dovecot.relay_port,
            };
            match postfix.wait_until_listening() {
                Ok(()) => return Ok(postfix),
                Err(error) if attempt < 3 && postfix.logs().contains("Address already in use") => {
                    eprintln!("postfix: a port was taken meanwhile ({error:#}); trying others");
                    drop(postfix);
                    let _ = std::fs::remove_file(d.join("postfix.log"));
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn wait_until_listening(&mut self) -> Result<()> {
        let mut ports = vec![self.submission_port, self.submissions_port];
        ports.extend(self.relay_port);
        let dir = self.dir.path().to_owned();
        let logs = || read_logs(&dir, &["stderr.log", "postfix.log"]);
        wait_until_listening(&mut self.child, "postfix", &ports, logs)
    }

    /// What Postfix logged so far, for error messages.
    pub fn logs(&self) -> String {
        read_logs(self.dir.path(), &["stderr.log", "postfix.log"])
    }

    /// Submission with STARTTLS, by name, so that the certificate's name is checked.
    pub fn smtp_starttls_url(&self) -> String {
        format!("smtp://localhost:{}", self.submission_port)
    }

    pub fn smtps_url(&self) -> String {
        format!("smtps://127.0.0.1:{}", self.submissions_port)
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.dir.path())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        wait_or_kill(&mut self.child);
    }
}

fn main_cf(dir: &Path, dovecot: &Dovecot) -> String {
    let d = dir.display();
    let lmtp = dovecot.lmtp_port;
    let auth = dovecot.auth_port;
    format!(
        "# Written by maildev for one run; see shared/notes/smtp.md.
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file_prefixes = {d}
maillog_file = {d}/postfix.log
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
mynetworks =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
message_size_limit = {MESSAGE_SIZE_LIMIT}
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{d}/recipients
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
default_transport = error:outbound mail is disabled in tests
relay_transport = error:outbound mail is disabled in tests
smtp_dns_support_level = disabled
smtpd_tls_cert_file = {d}/server.pem
smtpd_tls_key_file = {d}/server.key
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth}
smtpd_sender_login_maps = texthash:{d}/senders
# A delivery Dovecot defers (two sessions creating a new user's INBOX at once
# answer ALREADYEXISTS to one) is tried again within seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# Postfix must not mend what the bridge forgets (a Message-ID, a Date).
local_header_rewrite_clients =
"
    )
}

/// The two submission services (and, for a Dovecot's own submission service, a
/// relay for loopback clients without a login), then Debian's stock services
/// without the port-25 listener and without a chroot (the queue lives in a
/// temporary folder).
fn master_cf(submission: u16, submissions: u16, relay: Option<u16>) -> Result<String> {
    let submission_options = "  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=reject_sender_login_mismatch
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=reject_unlisted_recipient,permit_sasl_authenticated,reject
";
    let mut text = format!(
        "127.0.0.1:{submission} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
{submission_options}127.0.0.1:{submissions} inet n - n - - smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
{submission_options}"
    );
    if let Some(relay) = relay {
        text.push_str(&format!(
            "127.0.0.1:{relay} inet n - n - - smtpd
  -o syslog_name=postfix/relay
  -o mynetworks=127.0.0.0/8
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=reject_unlisted_recipient,permit_mynetworks,reject
"
        ));
    }
    let proto = std::fs::read_to_string("/etc/postfix/master.cf.proto")
        .context("cannot read /etc/postfix/master.cf.proto")?;
    let mut skipping = false;
    for line in proto.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if !skipping {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        let mut fields: Vec<&str> = line.split_whitespace().collect();
        skipping = fields.first() == Some(&"smtp") && fields.get(1) == Some(&"inet");
        if skipping || fields.len() < 8 {
            continue;
        }
        fields[4] = "n";
        text.push_str(&fields.join(" "));
        text.push('\n');
    }
    Ok(text)
}
