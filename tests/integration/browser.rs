//! The real app in headless Chromium, served by the bridge, against a real Dovecot.
//! Screenshots land in `target/screenshots/` for people to look at.

use anyhow::Result;
use fantoccini::Locator;
use tests::browser::{Browser, dist_dir};
use tests::{AccountSpec, Bridge, Dovecot, User, screenshot_dir};

use crate::seed::{INBOX_NEWEST_FIRST, seeded_server};

async fn app() -> Result<(Dovecot, User, Bridge)> {
    let (dovecot, user) = seeded_server().await?;
    let bridge = Bridge::start(
        &[AccountSpec::trusting("Example", &dovecot)],
        Some(&dist_dir()?),
    )
    .await?;
    Ok((dovecot, user, bridge))
}

/// The row (list item) holding both texts.
fn row_with(subject: &str, sender: &str) -> String {
    format!(
        "//*[@role='listitem' or self::li][.//*[normalize-space()='{subject}'] and .//*[normalize-space()='{sender}']]"
    )
}

#[tokio::test]
async fn signing_in_through_the_form_shows_folders_and_the_newest_messages() -> Result<()> {
    let (_dovecot, user, bridge) = app().await?;
    let browser = Browser::start(1280, 800).await?;
    browser.sign_in(&bridge.origin(), &user).await?;

    let folders = browser
        .wait_for(
            Locator::XPath("//nav[@aria-label='Folders']"),
            "the Folders navigation",
        )
        .await?;
    for name in ["Inbox", "Sent", "Trash", "Reports"] {
        let xpath =
            format!("//nav[@aria-label='Folders']//button[.//*[normalize-space()='{name}']]");
        browser
            .wait_for(Locator::XPath(&xpath), &format!("folder {name}"))
            .await?;
    }
    browser
        .wait_for(
            Locator::XPath(&row_with(INBOX_NEWEST_FIRST[0], "Grace Hopper")),
            "the newest message",
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath(&row_with(INBOX_NEWEST_FIRST[1], "José Núñez")),
            "the decoded message",
        )
        .await?;
    let rows = browser
        .client
        .find_all(Locator::XPath("//ul[@aria-label='Messages']/li"))
        .await?;
    let mut shown = Vec::new();
    for row in &rows {
        shown.push(row.text().await?);
    }
    assert_eq!(shown.len(), INBOX_NEWEST_FIRST.len());
    for (text, subject) in shown.iter().zip(INBOX_NEWEST_FIRST) {
        assert!(text.contains(subject), "{text:?} should show {subject:?}");
    }
    browser
        .screenshot(&screenshot_dir()?.join("mailbox-desktop.png"))
        .await?;

    // Another folder opens from the list.
    folders
        .find(Locator::XPath(
            ".//button[.//*[normalize-space()='Reports']]",
        ))
        .await?
        .click()
        .await?;
    browser
        .wait_for(
            Locator::XPath(&row_with("Weekly report", "Boss")),
            "the Reports folder",
        )
        .await?;
    browser.close().await
}

#[tokio::test]
async fn on_a_phone_one_pane_shows_at_a_time() -> Result<()> {
    let (_dovecot, user, bridge) = app().await?;
    let browser = Browser::start(390, 844).await?;
    browser.client.goto(&bridge.origin()).await?;
    browser.field("User name").await?;
    browser
        .screenshot(&screenshot_dir()?.join("sign-in-phone.png"))
        .await?;
    browser.sign_in(&bridge.origin(), &user).await?;
    let newest = browser
        .wait_for(
            Locator::XPath(&row_with(INBOX_NEWEST_FIRST[0], "Grace Hopper")),
            "the newest message",
        )
        .await?;
    assert!(newest.is_displayed().await?);
    let nav = browser
        .client
        .find(Locator::XPath("//nav[@aria-label='Folders']"))
        .await?;
    assert!(
        !nav.is_displayed().await?,
        "the folder list hides behind its button on a phone"
    );
    browser
        .screenshot(&screenshot_dir()?.join("mailbox-phone.png"))
        .await?;
    browser.button("Show folders").await?.click().await?;
    // The app re-renders after the click returns; wait for it.
    tests::eventually("the folder list to show", || async {
        Ok(nav.is_displayed().await?.then_some(()))
    })
    .await?;
    browser
        .screenshot(&screenshot_dir()?.join("folders-phone.png"))
        .await?;
    browser.close().await
}

#[tokio::test]
async fn a_wrong_password_shows_the_error_and_keeps_the_form() -> Result<()> {
    let (_dovecot, _user, bridge) = app().await?;
    let browser = Browser::start(1280, 800).await?;
    browser
        .sign_in(&bridge.origin(), &User::new("alice", "not the password"))
        .await?;
    let alert = browser
        .wait_for(Locator::XPath("//*[@role='alert']"), "an error")
        .await?;
    assert_eq!(
        alert.text().await?,
        "The user name or password is not correct."
    );
    let user_field = browser.field("User name").await?;
    assert_eq!(user_field.prop("value").await?.as_deref(), Some("alice"));
    browser
        .screenshot(&screenshot_dir()?.join("sign-in-error.png"))
        .await?;
    browser.close().await
}

#[tokio::test]
async fn the_app_is_served_compressed_with_security_headers() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dist = dist_dir()?;
    let wasm = std::fs::read_dir(&dist)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|name| name.ends_with("_bg.wasm"))
        .expect("the app's main module in dist");
    let bridge = Bridge::start(&[AccountSpec::unreachable("X")], Some(&dist)).await?;
    // The release build leaves Brotli and gzip copies of each file (`cargo xtask
    // compress`); a browser that takes Brotli gets that copy as it is.
    let cases = [
        ("/".to_owned(), "gzip", "gzip"),
        (format!("/{wasm}"), "gzip", "gzip"),
        (format!("/{wasm}"), "gzip, deflate, br, zstd", "br"),
        (format!("/{wasm}"), "identity", ""),
    ];
    for (path, accept, encoding) in cases {
        let mut tcp = tokio::net::TcpStream::connect(bridge.addr).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: {accept}\r\nConnection: close\r\n\r\n",
            bridge.addr
        );
        tcp.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        tcp.read_to_end(&mut response).await?;
        let end = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("headers end");
        let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        for header in [
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
            "content-security-policy: default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'sha256-",
        ] {
            assert!(head.contains(header), "{path} lacks {header:?}:\n{head}");
        }
        if encoding.is_empty() {
            assert!(
                !head.contains("content-encoding"),
                "{path}, {accept}:\n{head}"
            );
        } else {
            let header = format!("content-encoding: {encoding}");
            assert!(
                head.contains(&header),
                "{path}, {accept}: lacks {header:?}:\n{head}"
            );
        }
        if path != "/" {
            assert!(head.contains("content-type: application/wasm"), "{head}");
            let body = &response[end + 4..];
            let raw = std::fs::read(dist.join(&wasm))?;
            match encoding {
                "br" => assert_eq!(
                    body,
                    std::fs::read(dist.join(format!("{wasm}.br")))?,
                    "not the Brotli copy"
                ),
                "gzip" => assert!(body.len() < raw.len() / 2, "the wasm is not compressed"),
                _ => assert_eq!(body, raw, "not the wasm as built"),
            }
        }
    }
    Ok(())
}
