//! Forwarding a 10 MB file the IMAP server already holds: what the bridge sends
//! up to the server to save the draft and to keep the Sent copy, where the server
//! offers CATENATE (the file is named by URL) and where it does not (the file is
//! carried again), and what it reads down to hand the file to SMTP (without BURL,
//! which this bridge does not use yet, the file passes through it once to be sent).
//! The bytes are counted by a relay between the bridge and Dovecot, so they are
//! TLS bytes, as on the network.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use maildev::sample::{self, Sample};
use maildev::{Dovecot, Postfix, User};
use protocol::{Address, ComposeKind, Draft, Reply, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

pub async fn measure(postern: &Path, report: &mut Report) -> Result<()> {
    eprintln!("==> forwarding a 10 MB file, {RUNS} times with CATENATE and {RUNS} without");
    let with = forward(postern, "").await?;
    let without = forward(postern, maildev::WITHOUT_CATENATE).await?;

    let s = Section::Forwarding;
    for (label, key, with, without) in [
        (
            "bytes up to the IMAP server, saving the draft",
            "forward_10mb_draft_up",
            with.first_save,
            without.first_save,
        ),
        (
            "the same, saving it again (the file now in the draft)",
            "forward_10mb_draft_again_up",
            with.save_again,
            without.save_again,
        ),
        (
            "bytes up to the IMAP server, sending (the Sent copy)",
            "forward_10mb_send_up",
            with.send,
            without.send,
        ),
        (
            "bytes down from the IMAP server, sending (for SMTP)",
            "forward_10mb_send_down",
            with.send_down,
            without.send_down,
        ),
    ] {
        report.bytes(
            s,
            &format!("{label}, CATENATE"),
            &format!("{key}_catenate_bytes"),
            with,
            "",
        );
        report.bytes(
            s,
            &format!("{label}, without"),
            &format!("{key}_whole_bytes"),
            without,
            "",
        );
    }
    for (mode, key, figures) in [
        ("CATENATE", "catenate", &with),
        ("without", "whole", &without),
    ] {
        report.times(
            s,
            &format!("saving the draft, {mode}"),
            &format!("forward_10mb_save_{key}_ms"),
            &figures.save_times,
            false,
        );
        report.times(
            s,
            &format!("Send until the server took it, {mode}"),
            &format!("forward_10mb_send_{key}_ms"),
            &figures.send_times,
            false,
        );
        report.times(
            s,
            &format!("Send to the recipient's INBOX, {mode}"),
            &format!("forward_10mb_to_inbox_{key}_ms"),
            &figures.delivery_times,
            false,
        );
    }
    Ok(())
}

/// Forwards a message with a 10 MB file `RUNS` times on a Dovecot configured
/// with `extra`: the draft saved twice, then sent.
async fn forward(postern: &Path, extra: &str) -> Result<Forwarded> {
    let writer = User::new("writer", "writer-password");
    let reader = User::new("reader", "reader-password");
    let users = [writer.clone(), reader.clone()];
    let dovecot = Dovecot::start_with(&users, extra)?;
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

    let relay = Relay::start(dovecot.imaps_port).await?;
    let sending = format!(
        "smtp = {:?}\ndomain = {:?}\n",
        postfix.smtp_starttls_url(),
        maildev::DOMAIN
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

/// A TCP relay to a loopback port that counts the bytes each way.
struct Relay {
    port: u16,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: u16) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let counters = (up.clone(), down.clone());
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (counted_up, counted_down) = counters.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    tokio::join!(
                        pass(&mut from_client, &mut to_server, &counted_up),
                        pass(&mut from_server, &mut to_client, &counted_down),
                    );
                });
            }
        });
        Ok(Relay {
            port,
            up,
            down,
            task,
        })
    }

    /// The bytes sent to the server so far, by every connection.
    fn up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// The bytes the server sent so far, to every connection.
    fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

/// Copies `from` to `to` until either ends, counting the bytes in `counted`.
async fn pass(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    counted: &AtomicU64,
) {
    let mut buffer = vec![0; 64 << 10];
    while let Ok(n @ 1..) = from.read(&mut buffer).await {
        counted.fetch_add(n as u64, Ordering::Relaxed);
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
