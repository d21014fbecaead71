//! Sending: a short message from "Send" to the recipient's INBOX through the release
//! bridge and the real Postfix, against a direct SMTP client handing the same bytes
//! to the same Postfix.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use maildev::{Dovecot, Postfix, User};
use protocol::{Address, Draft, Reply, Request};

use crate::BridgeProcess;
use crate::report::{Report, Section};

const RUNS: usize = 20;

pub async fn measure(postern: &Path, report: &mut Report) -> Result<()> {
    eprintln!("==> sending: {RUNS} messages through the bridge and {RUNS} directly to Postfix");
    let sender = User::new("writer", "writer-password");
    let reader = User::new("reader", "reader-password");
    let users = [sender.clone(), reader.clone()];
    let dovecot = Dovecot::start(&users)?;
    let postfix = Postfix::start(&dovecot, &users, &[])?;
    let sending = format!(
        "smtp = {:?}\ndomain = {:?}\n",
        postfix.smtp_starttls_url(),
        maildev::DOMAIN
    );
    let process = BridgeProcess::start_sending(postern, &dovecot, &sending).await?;
    let mut client = process.signed_in(&sender).await?;
    let mut inbox = dovecot.imap(&reader).await?;
    let mut arrived = 0;

    let draft = |i: usize| Draft {
        to: vec![Address {
            name: Some("Reader".into()),
            email: format!("reader@{}", maildev::DOMAIN),
        }],
        subject: format!("Bench message {i}"),
        text: "A short message, as most are.\n\nWriter".into(),
        ..Draft::default()
    };
    let mut bridge_times = Vec::new();
    let mut accepted_times = Vec::new();
    let mut bytes = 0;
    for i in 0..RUNS {
        let before = client.bytes_received;
        let start = Instant::now();
        let reply = client
            .ok(Request::SendMessage {
                draft: Box::new(draft(i)),
                hold_seconds: 0,
            })
            .await?;
        accepted_times.push(start.elapsed());
        if !matches!(reply, Reply::MessageSent { .. }) {
            bail!("expected message_sent, got {reply:?}");
        }
        arrived += 1;
        wait_for(&mut inbox, arrived).await?;
        bridge_times.push(start.elapsed());
        bytes = client.bytes_received - before;
    }

    // Suggestions as one types a recipient: the reader is now someone written to
    // (noted just after the send, so the first answers may come before it).
    let suggest = async |client: &mut tests::WsClient| -> Result<usize> {
        match client
            .ok(Request::SuggestRecipients { text: "rea".into() })
            .await?
        {
            Reply::RecipientSuggestions { people, .. } => Ok(people.len()),
            other => bail!("expected recipient_suggestions, got {other:?}"),
        }
    };
    let noted = Instant::now();
    while suggest(&mut client).await? == 0 {
        if noted.elapsed() > Duration::from_secs(10) {
            bail!("the reader was never suggested");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut suggest_times = Vec::new();
    let mut suggest_bytes = 0;
    for _ in 0..RUNS {
        let before = client.bytes_received;
        let start = Instant::now();
        suggest(&mut client).await?;
        suggest_times.push(start.elapsed());
        suggest_bytes = client.bytes_received - before;
    }

    // The same bytes again, as a program talking SMTP itself would send them.
    let raw = last_message(&dovecot, &reader).await?;
    let tls = Arc::new(dovecot.ca().client_config()?);
    let mut direct_times = Vec::new();
    let mut with_copy_times = Vec::new();
    let mut outbox = dovecot.imap(&sender).await?;
    for _ in 0..RUNS {
        let start = Instant::now();
        send_directly(postfix.submission_port, &tls, &sender, &raw).await?;
        arrived += 1;
        wait_for(&mut inbox, arrived).await?;
        direct_times.push(start.elapsed());
        // What the bridge also does before it answers: keep the copy in Sent.
        outbox.append("Sent", Some("(\\Seen)"), None, &raw).await?;
        with_copy_times.push(start.elapsed());
    }
    outbox.logout().await?;

    let big = with_attachment(
        &process,
        &dovecot,
        &postfix,
        &sender,
        &mut inbox,
        &mut arrived,
    )
    .await?;
    inbox.logout().await?;
    drop(client);
    drop(process);

    let s = Section::Sending;
    let through = report.times(
        s,
        "from Send to the recipient's INBOX, bridge",
        "send_to_inbox_bridge_ms",
        &bridge_times,
        false,
    );
    report.times(
        s,
        "of which until the server took it (the reply)",
        "send_accepted_bridge_ms",
        &accepted_times,
        false,
    );
    let direct = report.times(
        s,
        "direct SMTP client: the same bytes, to the INBOX",
        "send_to_inbox_direct_ms",
        &direct_times,
        false,
    );
    let with_copy = report.times(
        s,
        "direct: the same, then APPEND of the Sent copy",
        "send_and_append_direct_ms",
        &with_copy_times,
        false,
    );
    report.ratio(s, "ratio, bridge / direct SMTP", &through, &direct);
    report.ratio(
        s,
        "ratio, bridge / direct SMTP and APPEND",
        &through,
        &with_copy,
    );
    report.bytes(
        s,
        "bytes to the browser for one send",
        "send_websocket_bytes",
        bytes as u64,
        "the reply (the request goes the other way)",
    );
    report.times(
        s,
        "suggestions for a typed \"rea\" (WebSocket round trip)",
        "suggest_recipients_ms",
        &suggest_times,
        false,
    );
    report.bytes(
        s,
        "bytes to the browser for one suggestion answer",
        "suggest_recipients_bytes",
        suggest_bytes as u64,
        "one person suggested",
    );
    let through = report.times(
        s,
        "10 MB attachment: upload, Send, to the INBOX, bridge",
        "send_10mb_to_inbox_bridge_ms",
        &big.bridge,
        false,
    );
    let with_copy = report.times(
        s,
        "direct: the same message by SMTP, then APPEND to Sent",
        "send_10mb_and_append_direct_ms",
        &big.direct,
        false,
    );
    report.ratio(s, "ratio, bridge / direct (10 MB)", &through, &with_copy);
    report.kib(
        s,
        "bridge memory growth, uploading and sending 10 MB",
        "send_10mb_rss_growth_kib",
        big.growth_kib,
        "peak over idle, read every 5 ms; the file and message stay on disk".to_owned(),
    );
    Ok(())
}

const FILE: u32 = 10 << 20;
const FILE_RUNS: usize = 5;

struct Big {
    bridge: Vec<Duration>,
    direct: Vec<Duration>,
    growth_kib: u64,
}

/// A 10 MB file uploaded over HTTP and sent, from the upload's start to the
/// recipient's INBOX, against a direct client sending the same message and
/// appending its Sent copy; and the bridge's peak memory meanwhile.
async fn with_attachment(
    process: &BridgeProcess,
    dovecot: &Dovecot,
    postfix: &Postfix,
    sender: &User,
    inbox: &mut maildev::ImapSession,
    arrived: &mut u32,
) -> Result<Big> {
    eprintln!("==> sending: a 10 MB attachment, {FILE_RUNS} times each way");
    let mut client = process.bridge.connect().await?;
    let reply = client.sign_in(Some("Bench"), sender).await??;
    let Reply::SignedIn {
        sending: Some(protocol::Sending {
            upload: Some(link), ..
        }),
        ..
    } = reply
    else {
        bail!("no upload link in {reply:?}");
    };
    let content = maildev::sample::noise(FILE);
    let mut bridge = Vec::new();
    let mut growth_kib = 0;
    for i in 0..FILE_RUNS {
        let idle = crate::rss_kib(process.pid)?;
        let sampler = crate::PeakRss::start(process.pid, idle);
        let start = Instant::now();
        let uploaded = tests::upload(
            &process.bridge,
            &link,
            "report.bin",
            "application/octet-stream",
            content.clone(),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("upload refused: {e:?}"))?;
        let draft = Draft {
            to: vec![Address {
                name: None,
                email: format!("reader@{}", maildev::DOMAIN),
            }],
            subject: format!("Bench file {i}"),
            text: "The file.".into(),
            attachments: vec![uploaded.into()],
            ..Draft::default()
        };
        client
            .ok(Request::SendMessage {
                draft: Box::new(draft),
                hold_seconds: 0,
            })
            .await?;
        *arrived += 1;
        wait_for(inbox, *arrived).await?;
        bridge.push(start.elapsed());
        growth_kib = growth_kib.max(sampler.stop().await?.saturating_sub(idle));
    }
    let raw = last_message(dovecot, &User::new("reader", "reader-password")).await?;
    let tls = Arc::new(dovecot.ca().client_config()?);
    let mut outbox = dovecot.imap(sender).await?;
    let mut direct = Vec::new();
    for _ in 0..FILE_RUNS {
        let start = Instant::now();
        send_directly(postfix.submission_port, &tls, sender, &raw).await?;
        *arrived += 1;
        wait_for(inbox, *arrived).await?;
        outbox.append("Sent", Some("(\\Seen)"), None, &raw).await?;
        direct.push(start.elapsed());
    }
    outbox.logout().await?;
    Ok(Big {
        bridge,
        direct,
        growth_kib,
    })
}

/// Submits `raw` to Postfix from writer to reader, as a program talking SMTP
/// itself would.
async fn send_directly(
    port: u16,
    tls: &Arc<rustls::ClientConfig>,
    sender: &User,
    raw: &[u8],
) -> Result<()> {
    let mut smtp = mail_send::SmtpClientBuilder::new_with_tls_connector(
        "localhost",
        port,
        tokio_rustls::TlsConnector::from(tls.clone()),
    )
    .implicit_tls(false)
    .helo_host("localhost")
    .credentials(mail_send::Credentials::new(
        sender.name.as_str(),
        sender.password.as_str(),
    ))
    .connect()
    .await
    .context("the direct SMTP client cannot connect")?;
    // As the bridge does: without it, mail-send's two writes at the end of DATA
    // wait out the server's delayed acknowledgement (40 ms).
    let _ = smtp.stream.get_ref().0.set_nodelay(true);
    let message = mail_send::smtp::message::Message::new(
        format!("writer@{}", maildev::DOMAIN),
        [format!("reader@{}", maildev::DOMAIN)],
        raw,
    );
    smtp.send(message).await?;
    let _ = smtp.quit().await;
    Ok(())
}

/// Waits until the INBOX holds `count` messages (every 2 ms, for at most 30 s).
pub async fn wait_for(inbox: &mut maildev::ImapSession, count: u32) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = inbox.status("INBOX", "(MESSAGES)").await?;
        if status.exists >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("message {count} did not arrive");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The newest message of the INBOX, without the headers Postfix and Dovecot added.
async fn last_message(dovecot: &Dovecot, reader: &User) -> Result<Vec<u8>> {
    use futures::TryStreamExt;
    // A session of its own: the waiting one asks STATUS, which a server need not
    // keep current for the selected folder.
    let mut inbox = dovecot.imap(reader).await?;
    let mailbox = inbox.examine("INBOX").await?;
    let fetches: Vec<_> = inbox
        .fetch(mailbox.exists.to_string(), "BODY.PEEK[]")
        .await?
        .try_collect()
        .await?;
    let raw = fetches
        .first()
        .and_then(|f| f.body())
        .context("no message to resend")?
        .to_vec();
    inbox.logout().await?;
    let text = String::from_utf8_lossy(&raw);
    // Added on the way: the trace fields at the top.
    let start = text
        .find("\r\nFrom:")
        .or_else(|| text.find("\r\nDate:"))
        .map_or(0, |i| i + 2);
    Ok(raw[start..].to_vec())
}
