//! The app comes in parts (see `frontend/src/components/deferred.rs`): the sign-in
//! page first, the mailbox fetched while the person types, the reading pane and
//! compose once the first rows show. A part that fails to arrive, as on a phone
//! losing its network, is reported with a way to try again, and trying again after
//! the network is back brings it, with nothing the person did lost.

use anyhow::Result;
use fantoccini::Locator;
use serde_json::json;
use tests::browser::{Browser, dist_dir};
use tests::{Bridge, screenshot_dir};

use crate::sending::Mail;
use crate::sending_browser::type_into;

const NOT_LOADED: &str =
    "//*[@role='alert'][contains(., 'could not be loaded')]//button[normalize-space()='Try again']";

async fn block(browser: &Browser, urls: &[&str]) -> Result<()> {
    browser
        .devtools("Network.setBlockedURLs", json!({ "urls": urls }))
        .await
        .map(drop)
}

/// Waits for the note that `what` did not arrive, and keeps a screenshot of it.
async fn not_loaded(browser: &Browser, what: &str, screenshot: &str) -> Result<()> {
    browser
        .wait_for(
            Locator::XPath(NOT_LOADED),
            &format!("the note that {what} did not arrive"),
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join(screenshot))
        .await
}

#[tokio::test]
async fn a_part_of_the_app_that_fails_to_arrive_is_reported_and_fetched_again() -> Result<()> {
    let mail = Mail::start()?;
    mail.append(
        &mail.alice,
        "INBOX",
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Tunnel ahead\r\n\
         Date: Tue, 01 Dec 2026 09:30:00 +0100\r\nMessage-ID: <tunnel@example.test>\r\n\r\n\
         The train goes under the hill at ten.\r\n",
    )
    .await?;
    let bridge = Bridge::start(&[mail.account()], Some(&dist_dir()?)).await?;
    let browser = Browser::start(1280, 860).await?;
    browser.devtools("Network.enable", json!({})).await?;
    let parts = ["*/split-mailbox-*", "*/split-reader-*", "*/split-compose-*"];
    block(&browser, &parts).await?;

    browser.sign_in(&bridge.origin(), &mail.alice).await?;
    not_loaded(&browser, "the mailbox", "deferred-failed.png").await?;
    block(&browser, &parts[1..]).await?;
    browser.button("Try again").await?.click().await?;
    browser
        .wait_for(
            Locator::XPath("//nav[@aria-label='Folders']//*[normalize-space()='Inbox']"),
            "the mailbox",
        )
        .await?;

    // The reading pane's part: the list works without it, the message waits.
    let row = "//ul[@aria-label='Messages']/li//button[.//*[normalize-space()='Tunnel ahead']]";
    browser.click(Locator::XPath(row), "the row").await?;
    not_loaded(&browser, "the reading pane", "deferred-reader-failed.png").await?;
    block(&browser, &parts[2..]).await?;
    browser.button("Try again").await?.click().await?;
    browser
        .wait_for(
            Locator::XPath("//h2[@id='reader-subject'][normalize-space()='Tunnel ahead']"),
            "the message",
        )
        .await?;

    // The form's content lives outside its part: nothing typed is lost.
    browser.button("New message").await?.click().await?;
    not_loaded(&browser, "compose", "deferred-compose-failed.png").await?;
    block(&browser, &[]).await?;
    browser.button("Try again").await?.click().await?;
    type_into(&browser, "Subject", "After the tunnel").await?;
    let subject = browser.field("Subject").await?.prop("value").await?;
    assert_eq!(subject.as_deref(), Some("After the tunnel"));
    browser.close().await?;

    // On a phone, where this happens most, the note fills the one pane.
    let phone = Browser::start(390, 844).await?;
    phone.devtools("Network.enable", json!({})).await?;
    block(&phone, &parts).await?;
    phone.sign_in(&bridge.origin(), &mail.alice).await?;
    not_loaded(&phone, "the mailbox", "deferred-failed-phone.png").await?;
    phone.close().await
}
