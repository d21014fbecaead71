//! Files the IMAP server holds already are not carried again: where it offers
//! CATENATE, a forward's draft names the original's file by URL and the Sent copy
//! names it too, so the file keeps the very bytes the server stored (here, base64
//! in 64-character lines, where the bridge would write 76). Without CATENATE the
//! same forward is written out whole, and arrives the same.

use anyhow::{Result, ensure};
use protocol::ComposeKind;
use tests::Bridge;

use crate::attachments::files;
use crate::sending::{Mail, delivered, send, to};

/// A file as another client stored it: base64 in lines of 64 characters.
fn original(content: &[u8]) -> (String, String) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let lines = encoded
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).expect("ascii"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let raw = format!(
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Figures\r\n\
         Message-ID: <figures@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nThe figures.\r\n\
         --b\r\nContent-Type: application/octet-stream; name=\"figures.bin\"\r\n\
         Content-Disposition: attachment; filename=\"figures.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{lines}\r\n--b--\r\n"
    );
    (raw, lines)
}

/// Forwards the original, saves the draft, sends it from there: the draft as
/// saved, the Sent copy, and what Carol got.
async fn forward(mail: &Mail, content: &[u8]) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let (raw, _) = original(content);
    mail.append(&mail.alice, "INBOX", &raw).await?;
    let bridge = Bridge::start(&[mail.account()], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &mail.alice).await??;
    let (mut draft, _) = client
        .start_compose("INBOX", 1, ComposeKind::Forward)
        .await?;
    draft.to = vec![to("carol@example.test")];
    draft.text = "The figures, forwarded.".into();
    let (saved, message_id, attachments) = client.save_draft(&draft).await?;
    let kept = delivered(&mail.dovecot, &mail.alice, "Drafts", 1).await?;
    draft.saved = Some(saved);
    draft.message_id = Some(message_id);
    draft.attachments = attachments;
    send(&mut client, draft).await??;
    let got = delivered(&mail.dovecot, &mail.carol, "INBOX", 1).await?;
    let sent = delivered(&mail.dovecot, &mail.alice, "Sent", 1).await?;
    for raw in [&kept[0].0, &sent[0].0, &got[0].0] {
        ensure!(
            files(raw)?
                == [(
                    "figures.bin".to_owned(),
                    "application/octet-stream".to_owned(),
                    content.to_vec()
                )],
            "the file changed on the way"
        );
    }
    Ok((kept[0].0.clone(), sent[0].0.clone(), got[0].0.clone()))
}

fn holds(raw: &[u8], lines: &str) -> bool {
    String::from_utf8_lossy(raw).contains(lines)
}

#[tokio::test]
async fn a_forwarded_file_is_named_by_url_and_kept_as_the_server_stored_it() -> Result<()> {
    let content = maildev::sample::noise(150_000);
    let (_, lines) = original(&content);
    let mail = Mail::start()?;
    let (draft, sent, got) = forward(&mail, &content).await?;
    assert!(holds(&draft, &lines), "the draft took the stored file");
    assert!(holds(&sent, &lines), "the Sent copy took the stored file");
    assert!(holds(&got, &lines), "the file went out as stored");
    Ok(())
}

#[tokio::test]
async fn without_catenate_a_forwarded_file_is_written_out_whole() -> Result<()> {
    let content = maildev::sample::noise(150_000);
    let (_, lines) = original(&content);
    let mail = Mail::start_with(maildev::WITHOUT_CATENATE)?;
    let (draft, sent, got) = forward(&mail, &content).await?;
    // Written anew in 76-character lines; the same file all the same.
    for raw in [&draft, &sent, &got] {
        assert!(!holds(raw, &lines));
    }
    Ok(())
}
