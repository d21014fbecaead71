//! Writing mail in the real app, by accessible names: a new message, a reply and a
//! forward, each checked in the recipient's INBOX on the real Dovecot after the
//! real Postfix delivered it.

use anyhow::{Context, Result};
use fantoccini::Locator;
use fantoccini::key::Key;
use tests::browser::{Browser, dist_dir};
use tests::{Bridge, eventually, screenshot_dir};

use crate::sending::{Mail, delivered, parse};

async fn app(mail: &Mail) -> Result<Bridge> {
    Bridge::start(&[mail.account()], Some(&dist_dir()?)).await
}

/// Waits for the app's short note after a send.
pub(crate) async fn sent(browser: &Browser) -> Result<()> {
    browser.says("Message sent.").await
}

/// Sends at once from now on, as a person who turned "Undo send" off (only the
/// undo test waits out the window).
pub(crate) async fn no_undo(browser: &Browser) -> Result<()> {
    browser
        .client
        .execute(
            "localStorage.setItem('postern.undoSendSeconds', '0')",
            vec![],
        )
        .await?;
    Ok(())
}

/// Opens "New message" to Bob with `subject`.
pub(crate) async fn new_to_bob(browser: &Browser, subject: &str) -> Result<()> {
    browser.button("New message").await?.click().await?;
    type_into(browser, "To", "bob@example.test, ").await?;
    type_into(browser, "Subject", subject).await
}

/// Opens the draft with `subject` from the open Drafts folder, waits until the
/// form holds it, and gives its text.
pub(crate) async fn resume(browser: &Browser, subject: &str) -> Result<String> {
    let row =
        format!("//ul[@aria-label='Messages']/li//button[.//*[normalize-space()='{subject}']]");
    browser
        .click(Locator::XPath(&row), "the draft's row")
        .await?;
    let field = browser.field("Subject").await?;
    eventually("the resumed subject", || async {
        Ok((field.prop("value").await?.as_deref() == Some(subject)).then_some(()))
    })
    .await?;
    let text = browser.field("Message").await?.prop("value").await?;
    Ok(text.unwrap_or_default())
}

/// Types into the field labelled `label`.
pub(crate) async fn type_into(browser: &Browser, label: &str, text: &str) -> Result<()> {
    browser.field(label).await?.send_keys(text).await?;
    Ok(())
}

#[tokio::test]
async fn writing_a_new_message_sends_it() -> Result<()> {
    let mail = Mail::start()?;
    let bridge = app(&mail).await?;
    let browser = Browser::start(1280, 860).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        no_undo(&browser).await?;
        browser.button("New message").await?.click().await?;
        browser
            .wait_for(
                Locator::Css("section[role='dialog'][aria-label='New message']"),
                "the compose form",
            )
            .await?;
        // An address that is not one is marked at the field, with the reason.
        type_into(&browser, "To", "bob at example,").await?;
        browser
            .wait_for(
                Locator::XPath("//p[@class='field-error'][contains(., 'it has a space in it')]"),
                "the reason the address is invalid",
            )
            .await?;
        browser
            .button("Remove bob at example")
            .await?
            .click()
            .await?;
        type_into(&browser, "To", "Bob <bob@example.test>; ").await?;
        browser.button("Remove bob@example.test").await?;
        browser.button("Show Cc and Bcc").await?.click().await?;
        type_into(&browser, "Bcc", "carol@example.test").await?;
        type_into(&browser, "Subject", "Lunch on Friday").await?;
        type_into(&browser, "Message", "Shall we try the new place?\n\nAlice").await?;
        let dir = screenshot_dir()?;
        browser.screenshot(&dir.join("compose-desktop.png")).await?;
        // Ctrl+Enter sends.
        browser
            .field("Message")
            .await?
            .send_keys(&format!("{}{}", Key::Control, Key::Enter))
            .await?;
        sent(&browser).await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        let message = parse(&inbox[0].0)?;
        assert_eq!(message.subject(), Some("Lunch on Friday"));
        assert_eq!(
            message
                .body_text(0)
                .map(|t| t.replace("\r\n", "\n"))
                .as_deref(),
            Some("Shall we try the new place?\n\nAlice\n")
        );
        delivered(&mail.dovecot, &mail.carol, "INBOX", 1).await?;
        // The form is gone, and Sent shows the message once.
        assert!(
            browser
                .client
                .find(Locator::Css("section.compose"))
                .await
                .is_err()
        );
        delivered(&mail.dovecot, &mail.alice, "Sent", 1).await?;
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}

#[tokio::test]
async fn replying_and_forwarding_from_the_reader() -> Result<()> {
    let mail = Mail::start()?;
    mail.append(
        &mail.alice,
        "INBOX",
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Quarterly report\r\n\
         Date: Mon, 30 Nov 2026 16:00:00 +0000\r\nMessage-ID: <report@example.test>\r\n\r\n\
         The numbers are in.\r\nSee you tomorrow.\r\n",
    )
    .await?;
    let bridge = app(&mail).await?;
    let browser = Browser::start(390, 844).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        no_undo(&browser).await?;
        browser.open_message("Quarterly report").await?;
        browser
            .button("Reply")
            .await?
            .click()
            .await
            .context("clicking Reply")?;
        let subject = browser.field("Subject").await?;
        eventually("the reply's subject", || async {
            Ok(
                (subject.prop("value").await?.as_deref() == Some("Re: Quarterly report"))
                    .then_some(()),
            )
        })
        .await?;
        browser.button("Remove bob@example.test").await?;
        let text = browser.field("Message").await?;
        let quoted = text.prop("value").await?.unwrap_or_default();
        assert!(
            quoted.contains("Bob wrote:\n> The numbers are in.\n> See you tomorrow."),
            "{quoted:?}"
        );
        // The caret starts above the quote.
        text.send_keys("Thanks, Bob!")
            .await
            .context("typing the reply")?;
        let dir = screenshot_dir()?;
        browser
            .screenshot(&dir.join("compose-reply-phone.png"))
            .await?;
        browser
            .button("Send")
            .await?
            .click()
            .await
            .context("clicking Send")?;
        sent(&browser).await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        let reply = parse(&inbox[0].0)?;
        assert_eq!(reply.in_reply_to().as_text(), Some("report@example.test"));
        let body = reply.body_text(0).unwrap_or_default().replace("\r\n", "\n");
        assert!(body.starts_with("Thanks, Bob!\n\nOn "), "{body:?}");
        eventually("the original marked answered", || async {
            let original = delivered(&mail.dovecot, &mail.alice, "INBOX", 1).await?;
            Ok(original[0].1.iter().any(|f| f == "Answered").then_some(()))
        })
        .await?;

        // The keyboard's f forwards the message still open in the reader.
        browser
            .client
            .find(Locator::Css("body"))
            .await?
            .send_keys("f")
            .await
            .context("pressing f")?;
        browser
            .wait_for(
                Locator::Css("section[role='dialog'][aria-label='Forward']"),
                "the forward form",
            )
            .await?;
        type_into(&browser, "To", "carol@example.test").await?;
        browser.button("Send").await?.click().await?;
        sent(&browser).await?;
        let carol = delivered(&mail.dovecot, &mail.carol, "INBOX", 1).await?;
        let forwarded = String::from_utf8_lossy(&carol[0].0).into_owned();
        assert!(
            forwarded.contains("Subject: Fwd: Quarterly report"),
            "{forwarded}"
        );
        assert!(forwarded.contains("The numbers are in."), "{forwarded}");

        // Forwarded again, whole, as an attachment: the form lists it.
        browser
            .button("Forward as attachment")
            .await?
            .click()
            .await?;
        browser.button("Remove Quarterly report.eml").await?;
        type_into(&browser, "To", "carol@example.test").await?;
        browser.button("Send").await?.click().await?;
        sent(&browser).await?;
        let carol = delivered(&mail.dovecot, &mail.carol, "INBOX", 2).await?;
        let again = parse(&carol[1].0)?;
        let inner = again
            .attachments()
            .next()
            .and_then(|a| a.message())
            .context("no attached message")?;
        assert_eq!(inner.subject(), Some("Quarterly report"));
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}

#[tokio::test]
async fn attaching_files_with_the_picker_shows_progress_and_sends_them() -> Result<()> {
    let mail = Mail::start()?;
    let bridge = app(&mail).await?;
    let files = tempfile::tempdir()?;
    let notes = files.path().join("Notizen für Bob.txt");
    std::fs::write(&notes, "The agenda, in short.\n")?;
    let photo = files.path().join("photo.bin");
    let photo_bytes = maildev::sample::noise(6 << 20);
    std::fs::write(&photo, &photo_bytes)?;
    let browser = Browser::start(1280, 860).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        no_undo(&browser).await?;
        new_to_bob(&browser, "Agenda").await?;
        type_into(&browser, "Message", "Both files are attached.").await?;
        // Every progress bar that appears is noted, however briefly it shows.
        browser
            .client
            .execute(
                "window.progressSeen = [];
                 new MutationObserver(() => document
                     .querySelectorAll('progress[aria-label^=\"Uploading \"]')
                     .forEach(p => window.progressSeen.push(p.getAttribute('aria-label'))))
                     .observe(document.body, { childList: true, subtree: true });",
                vec![],
            )
            .await?;
        let picker = browser.field("Attach files").await?;
        picker.send_keys(&photo.display().to_string()).await?;
        browser.button("Remove photo.bin").await?;
        browser
            .field("Attach files")
            .await?
            .send_keys(&notes.display().to_string())
            .await?;
        browser.button("Remove Notizen für Bob.txt").await?;
        eventually("both files uploaded", || async {
            let statuses = browser
                .client
                .find_all(Locator::Css(".compose-file .file-status"))
                .await?;
            let mut texts = Vec::new();
            for status in statuses {
                texts.push(status.text().await?);
            }
            Ok((texts.len() == 2 && texts.iter().all(|t| t.contains('B'))).then_some(texts))
        })
        .await?;
        let seen = browser
            .client
            .execute("return window.progressSeen", vec![])
            .await?;
        assert!(
            seen.to_string().contains("Uploading photo.bin"),
            "no progress was shown: {seen}"
        );
        let dir = screenshot_dir()?;
        browser
            .screenshot(&dir.join("compose-attachments-desktop.png"))
            .await?;
        // The photo goes again; only the notes are sent.
        browser.button("Remove photo.bin").await?.click().await?;
        browser.button("Send").await?.click().await?;
        sent(&browser).await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        let message = parse(&inbox[0].0)?;
        let attachments: Vec<_> = message.attachments().collect();
        assert_eq!(attachments.len(), 1);
        use mail_parser::MimeHeaders;
        assert_eq!(
            attachments[0].attachment_name(),
            Some("Notizen für Bob.txt")
        );
        assert_eq!(attachments[0].contents(), b"The agenda, in short.\n");
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}

#[tokio::test]
async fn a_draft_saves_itself_and_resumes_in_another_browser() -> Result<()> {
    use crate::organizing_browser::folder_button;
    let mail = Mail::start()?;
    let bridge = app(&mail).await?;
    let files = tempfile::tempdir()?;
    let plan = files.path().join("plan.txt");
    std::fs::write(&plan, "Step one.\n")?;
    let browser = Browser::start(1280, 860).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        no_undo(&browser).await?;
        new_to_bob(&browser, "Half a plan").await?;
        browser
            .field("Attach files")
            .await?
            .send_keys(&plan.display().to_string())
            .await?;
        browser.button("Remove plan.txt").await?;
        type_into(&browser, "Message", "The first half").await?;
        browser
            .wait_for(
                Locator::XPath("//span[@role='status'][normalize-space()='Draft saved']"),
                "the draft saved by itself",
            )
            .await?;
        // Saving left the caret where it was: typing goes on at the end.
        let focused = browser
            .client
            .execute("return document.activeElement.id", vec![])
            .await?;
        assert_eq!(focused, serde_json::json!("compose-text"));
        type_into(&browser, "Message", ", and the rest.").await?;
        let text = browser.field("Message").await?.prop("value").await?;
        assert_eq!(text.as_deref(), Some("The first half, and the rest."));
        eventually("one draft on the server, with the whole text", || async {
            let drafts = delivered(&mail.dovecot, &mail.alice, "Drafts", 1).await?;
            let text = String::from_utf8_lossy(&drafts[0].0).into_owned();
            Ok((drafts.len() == 1 && text.contains("and the rest.")).then_some(()))
        })
        .await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    // The tab goes away with the draft on the server.
    browser.close().await?;
    result?;

    let phone = Browser::start(390, 844).await?;
    let result = async {
        phone.sign_in(&bridge.origin(), &mail.alice).await?;
        no_undo(&phone).await?;
        phone.button("Show folders").await?.click().await?;
        folder_button(&phone, "Drafts").await?;
        let text = resume(&phone, "Half a plan").await?;
        assert_eq!(text, "The first half, and the rest.");
        phone.button("Remove bob@example.test").await?;
        phone.button("Remove plan.txt").await?;
        let dir = screenshot_dir()?;
        phone
            .screenshot(&dir.join("compose-draft-phone.png"))
            .await?;
        phone.button("Send").await?.click().await?;
        sent(&phone).await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        let message = parse(&inbox[0].0)?;
        assert_eq!(message.subject(), Some("Half a plan"));
        assert_eq!(message.attachments().count(), 1);
        eventually("the draft gone from Drafts", || async {
            let mut imap = mail.dovecot.imap(&mail.alice).await?;
            let exists = imap.examine("Drafts").await?.exists;
            imap.logout().await?;
            Ok((exists == 0).then_some(()))
        })
        .await?;
        Ok(())
    }
    .await;
    phone.close().await?;
    result
}

#[tokio::test]
async fn undoing_a_send_returns_to_the_form_as_it_was() -> Result<()> {
    let mail = Mail::start()?;
    let bridge = app(&mail).await?;
    let browser = Browser::start(1280, 860).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        browser
            .client
            .execute(
                "localStorage.setItem('postern.undoSendSeconds', '5')",
                vec![],
            )
            .await?;
        new_to_bob(&browser, "Second thoughts").await?;
        type_into(&browser, "Message", "Not quite ready.").await?;
        browser.button("Send").await?.click().await?;
        browser
            .wait_for(
                Locator::XPath("//div[@role='status'][.//span[normalize-space()='Sending…']]"),
                "the undo bar",
            )
            .await?;
        browser.button("Undo").await?.click().await?;
        let subject = browser.field("Subject").await?;
        assert_eq!(
            subject.prop("value").await?.as_deref(),
            Some("Second thoughts")
        );
        let text = browser.field("Message").await?.prop("value").await?;
        assert_eq!(text.as_deref(), Some("Not quite ready."));
        browser.button("Remove bob@example.test").await?;
        type_into(&browser, "Message", " Now it is.").await?;
        browser.button("Send").await?.click().await?;
        sent(&browser).await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        assert_eq!(inbox.len(), 1, "the undone send never went");
        let body = parse(&inbox[0].0)?
            .body_text(0)
            .unwrap_or_default()
            .into_owned();
        assert!(body.contains("Not quite ready. Now it is."), "{body:?}");
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}

#[tokio::test]
async fn formatting_makes_the_selection_bold_in_the_html() -> Result<()> {
    let mail = Mail::start()?;
    let bridge = app(&mail).await?;
    let browser = Browser::start(1280, 860).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        no_undo(&browser).await?;
        new_to_bob(&browser, "Lunch").await?;
        type_into(&browser, "Message", "Lunch is on me").await?;
        browser.button("Formatting").await?.click().await?;
        browser
            .client
            .execute(
                "const t = document.getElementById('compose-text'); t.focus(); t.setSelectionRange(9, 14);",
                vec![],
            )
            .await?;
        browser.button("Bold").await?.click().await?;
        let text = browser.field("Message").await?.prop("value").await?;
        assert_eq!(text.as_deref(), Some("Lunch is **on me**"));
        let dir = screenshot_dir()?;
        browser
            .screenshot(&dir.join("compose-formatting-desktop.png"))
            .await?;
        browser.button("Send").await?.click().await?;
        sent(&browser).await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        let html = parse(&inbox[0].0)?
            .body_html(0)
            .map(|h| h.into_owned())
            .unwrap_or_default();
        assert!(html.contains("<strong>on me</strong>"), "{html}");
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}
