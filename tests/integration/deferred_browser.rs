//! The app comes in parts (see `frontend/src/components/deferred.rs`): the sign-in
//! page first, the mailbox fetched while the person types, compose once the mailbox
//! shows. A part that fails to arrive, as on a phone losing its network, is
//! reported with a way to try again, and trying again after the network is back
//! brings it, with nothing the person did lost.

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

#[tokio::test]
async fn a_part_of_the_app_that_fails_to_arrive_is_reported_and_fetched_again() -> Result<()> {
    let mail = Mail::start()?;
    let bridge = Bridge::start(&[mail.account()], Some(&dist_dir()?)).await?;
    let browser = Browser::start(1280, 860).await?;
    browser.devtools("Network.enable", json!({})).await?;
    block(&browser, &["*/split-mailbox-*", "*/split-compose-*"]).await?;

    browser.sign_in(&bridge.origin(), &mail.alice).await?;
    browser
        .wait_for(
            Locator::XPath(NOT_LOADED),
            "the note that the mailbox did not arrive",
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("deferred-failed.png"))
        .await?;
    block(&browser, &["*/split-compose-*"]).await?;
    browser.button("Try again").await?.click().await?;
    browser
        .wait_for(
            Locator::XPath("//nav[@aria-label='Folders']//*[normalize-space()='Inbox']"),
            "the mailbox",
        )
        .await?;

    // The form's content lives outside its part: nothing typed is lost.
    browser.button("New message").await?.click().await?;
    browser
        .wait_for(
            Locator::XPath(NOT_LOADED),
            "the note that compose did not arrive",
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("deferred-compose-failed.png"))
        .await?;
    block(&browser, &[]).await?;
    browser.button("Try again").await?.click().await?;
    type_into(&browser, "Subject", "After the tunnel").await?;
    let subject = browser.field("Subject").await?.prop("value").await?;
    assert_eq!(subject.as_deref(), Some("After the tunnel"));
    browser.close().await
}
