//! A bridge that is told to stop (SIGTERM in production) stops gracefully: it
//! takes no new connections, asks its browsers to move (close code 1012), lets a
//! download in flight finish, and is done within `shutdown_seconds`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use maildev::sample::{self, Attachment, Headers, Sample};
use tests::{AccountSpec, Bridge, Dovecot, Settings, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::seed::{T0, alice};

const SIZE: u32 = 10 << 20;

#[tokio::test]
async fn a_stopping_bridge_finishes_a_download_and_moves_its_browsers() -> Result<()> {
    let user = alice();
    let dovecot = Dovecot::start(std::slice::from_ref(&user))?;
    let file = sample::noise(SIZE);
    let raw = sample::with_attachment(
        &Headers {
            from: "\"Sam Rivera\" <sam@example.org>",
            to: "alice@example.org",
            subject: "The clip",
            date: T0,
        },
        "Here it is.",
        &Attachment {
            file_name: "clip.mp4",
            content_type: "video/mp4",
            content: &file,
        },
    );
    let mut imap = dovecot.imap(&user).await?;
    let inbox = Sample {
        folder: "INBOX".into(),
        flags: vec![],
        date: T0,
        raw,
    };
    sample::append_all(&mut imap, &[inbox]).await?;
    imap.logout().await?;

    let settings = Settings {
        keys: "shutdown_seconds = 6\n".into(),
        origin: None,
    };
    let mut bridge = Bridge::start_with(
        &[AccountSpec::trusting("Example", &dovecot)],
        None,
        &settings,
    )
    .await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    let window = client.open("INBOX", 10).await?;
    let view = client
        .open_message("INBOX", window.messages[0].uid, None)
        .await?;
    let part = view
        .parts
        .iter()
        .find(|p| p.name.as_deref() == Some("clip.mp4"))
        .context("the clip is listed")?;

    // The download starts, and is read slowly, as over a phone's link.
    let mut download = tokio::net::TcpStream::connect(bridge.addr).await?;
    let request = format!(
        "GET {}/part/{} HTTP/1.1\r\nHost: {}\r\n\r\n",
        view.link, part.id, bridge.addr
    );
    download.write_all(request.as_bytes()).await?;
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 64 << 10];
    while received.len() < 256 << 10 {
        let n = download.read(&mut buffer).await?;
        ensure!(n > 0, "the download ended early");
        received.extend_from_slice(&buffer[..n]);
    }

    bridge.begin_stopping();
    // The browser is asked to move, within the spread (a third of the 6 s).
    let code = client.close_code(Duration::from_secs(5)).await?;
    assert_eq!(code, Some(1012), "close code 1012, Service Restart");
    // Nothing new is taken.
    eventually("a stopping bridge to take no new WebSocket", || async {
        Ok(bridge.connect().await.is_err().then_some(()))
    })
    .await?;
    // The download goes on to its end.
    loop {
        let n = download.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..n]);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let body_at = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no header")?
        + 4;
    let head = String::from_utf8_lossy(&received[..body_at]);
    ensure!(head.starts_with("HTTP/1.1 200"), "{head}");
    ensure!(
        received[body_at..] == file[..],
        "the download is whole: {} of {SIZE} bytes",
        received.len() - body_at
    );
    // And the bridge is done within its deadline.
    bridge.stopped(Duration::from_secs(8)).await?;
    Ok(())
}
