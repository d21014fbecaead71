//! Forwarding a 10 MB file the IMAP server already holds: what the bridge sends
//! up to the server to save the draft and to keep the Sent copy, where the server
//! offers CATENATE (the file is named by URL) and where it does not (the file is
//! carried again), and what it reads down to hand the file to SMTP: through
//! Postfix the file passes through the bridge once to be sent; through Dovecot's
//! submission service, which offers BURL, the server fetches it from IMAP itself.
//! The bytes are counted by a relay between the bridge and Dovecot, so they are
//! TLS bytes, as on the network.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use maildev::sample::{self, Sample};
use maildev::{Dovecot, Postfix, User};
use protocol::{Address, ComposeKind, Draft, Reply, Request};

use crate::BridgeProcess;
use crate::report::{Report, Section};

const RUNS: usize = 3;

/// One server's figures: bytes to and from it and times, per step.
struct Forwarded {
    first_save: u64,
    save_again: u64,
    send: u64,
    send_down: u64,
    save_times: Vec<Duration>,
    send_times: Vec<Duration>,
    delivery_times: Vec<Duration>,
}

/// A row of bytes: its label, its key, and its figure.
type Row = (&'static str, &'static str, fn(&Forwarded) -> u64);

/// How the bridge and the servers are set up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Dovecot as it is, submitting to Postfix.
    Catenate,
    /// Dovecot without CATENATE, submitting to Postfix.
    Whole,
    /// Dovecot's submission service (BURL), relaying to Postfix.
    Burl,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Catenate, Mode::Whole, Mode::Burl];

    fn label(self) -> &'static str {
        match self {
            Mode::Catenate => "CATENATE",
            Mode::Whole => "without",
            Mode::Burl => "CATENATE and BURL",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Mode::Catenate => "catenate",
            Mode::Whole => "whole",
            Mode::Burl => "burl",
        }
    }
}

pub async fn measure(postern: &Path, report: &mut Report) -> Result<()> {
    eprintln!(
        "==> forwarding a 10 MB file, {RUNS} times each with CATENATE, without, and with BURL"
    );
    let mut figures = Vec::new();
    for mode in Mode::ALL {
        figures.push((mode, forward(postern, mode).await?));
    }
    let s = Section::Forwarding;
    let rows: [Row; 4] = [
        (
            "bytes up to the IMAP server, saving the draft",
            "forward_10mb_draft_up",
            |f| f.first_save,
        ),
        (
            "the same, saving it again (the file now in the draft)",
            "forward_10mb_draft_again_up",
            |f| f.save_again,
        ),
        (
            "bytes up to the IMAP server, sending (the Sent copy)",
            "forward_10mb_send_up",
            |f| f.send,
        ),
        (
            "bytes down from the IMAP server, sending (for SMTP)",
            "forward_10mb_send_down",
            |f| f.send_down,
        ),
    ];
    for (label, key, value) in rows {
        for (mode, forwarded) in &figures {
            // Drafts do not depend on how mail is submitted.
            if *mode == Mode::Burl && !key.contains("send") {
                continue;
            }
            report.bytes(
                s,
                &format!("{label}, {}", mode.label()),
                &format!("{key}_{}_bytes", mode.key()),
                value(forwarded),
                "",
            );
        }
    }
    for (mode, forwarded) in &figures {
        let (label, key) = (mode.label(), mode.key());
        if *mode != Mode::Burl {
            report.times(
                s,
                &format!("saving the draft, {label}"),
                &format!("forward_10mb_save_{key}_ms"),
                &forwarded.save_times,
                false,
            );
        }
        report.times(
            s,
            &format!("Send until the server took it, {label}"),
            &format!("forward_10mb_send_{key}_ms"),
            &forwarded.send_times,
            false,
        );
        report.times(
            s,
            &format!("Send to the recipient's INBOX, {label}"),
            &format!("forward_10mb_to_inbox_{key}_ms"),
            &forwarded.delivery_times,
            false,
        );
    }
    Ok(())
}

/// Forwards a message with a 10 MB file `RUNS` times, servers set up as `mode`
/// says: the draft saved twice, then sent.
async fn forward(postern: &Path, mode: Mode) -> Result<Forwarded> {
    let writer = User::new("writer", "writer-password");
    let reader = User::new("reader", "reader-password");
    let users = [writer.clone(), reader.clone()];
    let dovecot = match mode {
        Mode::Catenate => Dovecot::start(&users)?,
        // Without NOTIFY too: Dovecot 2.3.19 can write a NOTIFY STATUS into the
        // middle of a FETCH literal, which ends the bridge's IMAP connection and
        // fails that send ("Try again"); here, where every range is read again,
        // it did so in two runs of two.
        Mode::Whole => {
            Dovecot::start_with(&users, &maildev::WITHOUT_CATENATE.replace(" NOTIFY", ""))?
        }
        Mode::Burl => Dovecot::start_submitting(&users, None)?,
    };
    let postfix = Postfix::start(&dovecot, &users, &[])?;
    let mut imap = dovecot.imap(&writer).await?;
    let original = crate::with_file("The 10 MB clip", 10 << 20);
    let samples: Vec<Sample> = (0..RUNS)
        .map(|_| Sample {
            folder: "INBOX".into(),
            flags: vec![],
            date: 1_793_523_600,
            raw: original.clone(),
        })
        .collect();
    sample::append_all(&mut imap, &samples).await?;
    imap.logout().await?;

    let smtp = match dovecot.submission_url() {
        Some(url) => url,
        None => postfix.smtp_starttls_url(),
    };
    // The bridge reaches IMAP through the relay, and says how the server's URLs
    // name it.
    let relay = tests::Relay::start(dovecot.imaps_port).await?;
    let sending = format!(
        "smtp = {smtp:?}\ndomain = {:?}\nurlauth_server = \"imap://127.0.0.1:{}\"\n",
        maildev::DOMAIN,
        dovecot.imaps_port
    );
    let imap_url = format!("imaps://127.0.0.1:{}", relay.port);
    let process = BridgeProcess::start_sending_via(postern, &dovecot, &imap_url, &sending).await?;
    let mut client = process.signed_in(&writer).await?;
    let mut inbox = dovecot.imap(&reader).await?;

    let mut figures = Forwarded {
        first_save: 0,
        save_again: 0,
        send: 0,
        send_down: 0,
        save_times: Vec::new(),
        send_times: Vec::new(),
        delivery_times: Vec::new(),
    };
    for uid in 1..=RUNS as u32 {
        let (mut draft, _) = client
            .start_compose("INBOX", uid, ComposeKind::Forward)
            .await?;
        draft.to = vec![Address {
            name: None,
            email: format!("reader@{}", maildev::DOMAIN),
        }];
        draft.text = "The clip, forwarded.".into();

        let before = relay.up();
        let start = Instant::now();
        save(&mut client, &mut draft).await?;
        figures.save_times.push(start.elapsed());
        figures.first_save = relay.up() - before;

        draft.text.push_str("\n\nWriter");
        let before = relay.up();
        save(&mut client, &mut draft).await?;
        figures.save_again = relay.up() - before;

        let (before, before_down) = (relay.up(), relay.down());
        let start = Instant::now();
        let reply = client
            .ok(Request::SendMessage {
                draft: Box::new(draft),
                hold_seconds: 0,
            })
            .await?;
        figures.send_times.push(start.elapsed());
        if !matches!(reply, Reply::MessageSent { .. }) {
            bail!("expected message_sent, got {reply:?}");
        }
        figures.send = relay.up() - before;
        figures.send_down = relay.down() - before_down;
        crate::sending::wait_for(&mut inbox, uid).await?;
        figures.delivery_times.push(start.elapsed());
    }
    inbox.logout().await?;
    Ok(figures)
}

/// Saves `draft` and takes up what the bridge answers, as the app does.
async fn save(client: &mut tests::WsClient, draft: &mut Draft) -> Result<()> {
    let (saved, message_id, attachments) = client.save_draft(draft).await?;
    draft.saved = Some(saved);
    draft.message_id = Some(message_id);
    draft.attachments = attachments;
    Ok(())
}
