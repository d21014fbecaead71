//! Reading mail in the real app: the body in a sandboxed iframe, plain text as text,
//! attachments listed, and hostile messages that run nothing and fetch nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use fantoccini::Locator;
use maildev::sample::{self, Sample};
use tests::browser::{Browser, dist_dir};
use tests::{AccountSpec, Bridge, Dovecot, User, eventually, screenshot_dir, workspace_root};

use crate::hostile_mail::{HOSTILE, expand};
use crate::seed::{T0, alice};

const SANDBOX: &str = "allow-popups allow-popups-to-escape-sandbox";

/// A server whose INBOX holds `messages` (oldest first) and a bridge serving the app.
async fn app_with(messages: Vec<Vec<u8>>) -> Result<(Dovecot, User, Bridge)> {
    let user = alice();
    let dovecot = Dovecot::start(std::slice::from_ref(&user))?;
    let mut imap = dovecot.imap(&user).await?;
    let samples: Vec<Sample> = messages
        .into_iter()
        .enumerate()
        .map(|(i, raw)| Sample {
            folder: "INBOX".into(),
            flags: vec![],
            date: T0 + i as i64 * 60,
            raw,
        })
        .collect();
    sample::append_all(&mut imap, &samples).await?;
    imap.logout().await?;
    let bridge = Bridge::start(
        &[AccountSpec::trusting("Example", &dovecot)],
        Some(&dist_dir()?),
    )
    .await?;
    Ok((dovecot, user, bridge))
}

fn fixture(name: &str) -> Result<Vec<u8>> {
    let path = workspace_root().join("tests/fixtures/mime").join(name);
    std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// Signs in and waits for the message list.
async fn sign_in(browser: &Browser, bridge: &Bridge, user: &User) -> Result<()> {
    browser.sign_in(&bridge.origin(), user).await?;
    browser
        .wait_for(
            Locator::XPath("//ul[@aria-label='Messages']/li"),
            "the message list",
        )
        .await
        .map(drop)
}

/// Waits, inside the message frame, until its first image has loaded.
async fn first_image_loads(browser: &Browser, what: &str) -> Result<()> {
    eventually(what, async || {
        let loaded = browser
            .client
            .execute(
                "const i = document.images[0]; return !!i && i.complete && i.naturalWidth > 0;",
                vec![],
            )
            .await?;
        Ok((loaded == serde_json::Value::Bool(true)).then_some(()))
    })
    .await
}

async fn body_frame(browser: &Browser) -> Result<fantoccini::elements::Element> {
    let frame = browser
        .wait_for(
            Locator::Css("iframe[title='Message body']"),
            "the message body frame",
        )
        .await?;
    assert_eq!(frame.attr("sandbox").await?.as_deref(), Some(SANDBOX));
    assert_eq!(
        frame.attr("referrerpolicy").await?.as_deref(),
        Some("no-referrer")
    );
    Ok(frame)
}

#[tokio::test]
async fn messages_open_with_their_body_attachments_and_inline_images() -> Result<()> {
    let names = [
        "01-alternative.eml",
        "02-related-cid.eml",
        "03-mixed-attachments.eml",
        "08-forwarded.eml",
        "13-plain-links-quotes.eml",
    ];
    let messages = names
        .iter()
        .map(|n| fixture(n))
        .collect::<Result<Vec<_>>>()?;
    let (_dovecot, user, bridge) = app_with(messages).await?;
    let browser = Browser::start(1280, 860).await?;
    sign_in(&browser, &bridge, &user).await?;

    // HTML in a sandboxed frame, with its plain alternative a click away.
    browser.open_message("Café plans").await?;
    let frame = body_frame(&browser).await?;
    let srcdoc = frame.attr("srcdoc").await?.unwrap_or_default();
    assert!(srcdoc.contains("<b>café</b>"), "{srcdoc}");
    browser.button("Show plain text").await?.click().await?;
    browser
        .wait_for(
            Locator::XPath(
                "//div[@class='plain-text'][contains(., 'Shall we meet at the café at noon?')]",
            ),
            "the plain alternative",
        )
        .await?;
    // Opening marked it read; the person can undo that.
    browser.button("Mark as unread").await?.click().await?;
    browser.button("Mark as read").await?;
    browser
        .wait_for(
            Locator::XPath("//li[contains(@class,'unread')][.//*[normalize-space()='Café plans']]"),
            "the row shown unread again",
        )
        .await?;

    // Inline images load from the bridge inside the sandbox; remote ones are counted.
    browser.open_message("Newsletter with a logo").await?;
    browser
        .wait_for(
            Locator::XPath("//*[@role='status'][contains(., '2 remote images were blocked')]"),
            "the blocked-content bar",
        )
        .await?;
    let frame = body_frame(&browser).await?;
    frame.enter_frame().await?;
    first_image_loads(&browser, "the inline logo to load").await?;
    // The frame's own styles apply: mail is laid out as its sender meant.
    let padding = browser
        .client
        .execute("return getComputedStyle(document.body).paddingTop", vec![])
        .await?;
    assert_eq!(padding, serde_json::json!("16px"));
    browser.client.enter_parent_frame().await?;
    browser
        .screenshot(&screenshot_dir()?.join("reader-html-desktop.png"))
        .await?;
    // On request, remote images load through the bridge's proxy, never directly.
    browser.button("Load remote images").await?.click().await?;
    eventually("the images to be proxied", async || {
        // Read in one script: the frame is replaced when the new body arrives.
        let srcdoc = browser
            .client
            .execute(
                "const f = document.querySelector(\"iframe[title='Message body']\"); return f ? f.getAttribute('srcdoc') : ''",
                vec![],
            )
            .await?;
        let srcdoc = srcdoc.as_str().unwrap_or_default();
        Ok((srcdoc.contains("/remote?url=https%3A%2F%2Ftracker.example.net")).then_some(()))
    })
    .await?;
    let bars = browser
        .client
        .find_all(Locator::XPath(
            "//*[@role='status'][contains(., 'remote images were blocked')]",
        ))
        .await?;
    assert!(bars.is_empty(), "the blocked-content bar stayed");

    // Attachments are listed, and fetched only when asked for.
    browser.open_message("Quarterly report").await?;
    let pdf = browser
        .wait_for(
            Locator::XPath(
                "//section[@aria-label='Attachments']//a[@aria-label='Download Q3 résumé.pdf']",
            ),
            "the PDF's download link",
        )
        .await?;
    let href = pdf.attr("href").await?.unwrap_or_default();
    assert!(
        href.starts_with("/mail/") && href.ends_with("/part/2"),
        "{href}"
    );
    browser
        .wait_for(
            Locator::XPath("//section[@aria-label='Attachments']//*[starts-with(normalize-space(), 'PDF · ') and contains(., ' B')]"),
            "the PDF's type and size",
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("reader-attachments-desktop.png"))
        .await?;

    // Plain text: escaped, links clickable for safe schemes only, quotes marked.
    browser.open_message("Re: links and quotes").await?;
    let text = browser
        .wait_for(Locator::Css(".plain-text"), "the plain text")
        .await?;
    text.find(Locator::Css("a[href='https://example.org/docs?a=1&b=2']"))
        .await?;
    text.find(Locator::Css(".quote-1")).await?;
    text.find(Locator::Css(".quote-2")).await?;
    assert!(text.find_all(Locator::Css("b")).await?.is_empty());
    let hrefs = browser
        .client
        .execute(
            "return [...document.querySelectorAll('.plain-text a')].map(a => a.getAttribute('href'))",
            vec![],
        )
        .await?;
    assert_eq!(
        hrefs,
        serde_json::json!([
            "https://example.org/docs?a=1&b=2",
            "mailto:dana@example.org"
        ])
    );

    // An attached message opens as a message.
    browser.open_message("Fwd: budget figures").await?;
    browser
        .button("Open budget figures.eml")
        .await?
        .click()
        .await?;
    browser
        .wait_for(
            Locator::XPath(
                "//h2[@id='reader-subject'][normalize-space()='Original: budget figures']",
            ),
            "the attached message",
        )
        .await?;
    browser.button("Back to the message").await?;
    browser.close().await
}

#[tokio::test]
async fn phones_read_one_pane_at_a_time() -> Result<()> {
    let messages = vec![
        fixture("03-mixed-attachments.eml")?,
        fixture("01-alternative.eml")?,
    ];
    let (_dovecot, user, bridge) = app_with(messages).await?;
    let browser = Browser::start(390, 844).await?;
    sign_in(&browser, &bridge, &user).await?;
    browser.open_message("Quarterly report").await?;
    browser
        .wait_for(
            Locator::XPath("//section[@aria-label='Attachments']"),
            "the attachments",
        )
        .await?;
    let list_hidden = browser
        .client
        .execute(
            "return getComputedStyle(document.querySelector('.messages')).display === 'none'",
            vec![],
        )
        .await?;
    assert_eq!(list_hidden, serde_json::Value::Bool(true));
    browser
        .screenshot(&screenshot_dir()?.join("reader-phone.png"))
        .await?;
    browser.button("Back to messages").await?.click().await?;
    browser
        .wait_for(
            Locator::XPath("//ul[@aria-label='Messages']/li"),
            "the list again",
        )
        .await?;
    browser.close().await
}

/// A plain HTTP server on another loopback port that counts every connection.
async fn beacon() -> Result<(String, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = format!("http://{}", listener.local_addr()?);
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            use tokio::io::AsyncWriteExt;
            let _ = stream
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    Ok((address, hits))
}

#[tokio::test]
async fn hostile_messages_run_no_script_and_reach_nothing_but_the_bridge() -> Result<()> {
    let (beacon, hits) = beacon().await?;
    let mut messages: Vec<Vec<u8>> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, (name, content_type, body))| {
            format!(
                "From: Mallory <mallory@example.net>\r\nTo: alice@example.org\r\nSubject: Hostile {i:02} {name}\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}; charset=utf-8\r\n\r\n{}\r\n",
                expand(body, &beacon)
            )
            .into_bytes()
        })
        .collect();
    // Markup in a subject is text too.
    messages.push(
        format!(
            "From: Mallory <mallory@example.net>\r\nSubject: <img src={beacon}/subject.png onerror=alert(1)>\r\nContent-Type: text/plain\r\n\r\nx\r\n"
        )
        .into_bytes(),
    );
    // Last, a message with an inline image: once it has loaded, the frames before it
    // have had their chance to fetch.
    messages.push(fixture("02-related-cid.eml")?);
    assert!(HOSTILE.len() >= 40);
    let (_dovecot, user, bridge) = app_with(messages).await?;
    let browser = Browser::start(1280, 860).await?;
    sign_in(&browser, &bridge, &user).await?;
    browser
        .wait_for(
            Locator::XPath(
                "//ul[@aria-label='Messages']/li//*[normalize-space()='Newsletter with a logo']",
            ),
            "the list",
        )
        .await?;
    browser
        .client
        .execute(
            "window.__hits = [];
             const hook = name => { window[name] = (...args) => { window.__hits.push(name); }; };
             ['alert', 'confirm', 'prompt', 'print', 'open'].forEach(hook);
             window.addEventListener('message', e => window.__hits.push('message: ' + e.data));",
            vec![],
        )
        .await?;
    for (i, (name, _, _)) in HOSTILE.iter().enumerate() {
        let subject = format!("Hostile {i:02} {name}");
        browser.open_message(&subject).await?;
        let sandboxes = browser
            .client
            .execute(
                "return [...document.querySelectorAll('iframe')].map(f => f.getAttribute('sandbox'))",
                vec![],
            )
            .await?;
        for sandbox in sandboxes.as_array().into_iter().flatten() {
            if sandbox.as_str() != Some(SANDBOX) {
                bail!("{subject}: a frame with sandbox {sandbox}");
            }
        }
    }
    browser.open_message("Newsletter with a logo").await?;
    body_frame(&browser).await?.enter_frame().await?;
    first_image_loads(&browser, "the sentinel's inline image").await?;
    browser.client.enter_parent_frame().await?;

    let page = browser
        .client
        .execute(
            "return { hits: window.__hits, scripts: document.scripts.length,
                      handlers: document.querySelectorAll('[onerror],[onload],[onclick]').length }",
            vec![],
        )
        .await?;
    assert_eq!(page["hits"], serde_json::json!([]), "script ran: {page}");
    assert_eq!(page["handlers"], serde_json::json!(0), "{page}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the beacon was reached");
    browser.close().await
}
