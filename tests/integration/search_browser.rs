//! Search in the real app: typing in "Search mail", opening a hit, searching every
//! folder, stopping a long search, and mistakes shown as they are typed.

use std::time::Duration;

use anyhow::Result;
use fantoccini::Locator;
use fantoccini::key::Key;
use tests::browser::{Browser, message_row, signed_in_app};
use tests::{AccountSpec, Bridge, Relay, eventually, screenshot_dir};

use crate::search::seeded;

/// Types `query` into the search field, replacing what was there, and submits it.
async fn search_for(browser: &Browser, query: &str) -> Result<()> {
    let field = browser.field("Search mail").await?;
    field.clear().await?;
    field.send_keys(&format!("{query}{}", Key::Enter)).await?;
    Ok(())
}

/// Waits until the list shows exactly these rows, in this order.
pub async fn shows_rows(browser: &Browser, subjects: &[&str]) -> Result<()> {
    eventually(&format!("the rows {subjects:?}"), async || {
        // Read in one go in the page: rows replaced meanwhile cannot go stale.
        let shown = browser
            .client
            .execute(
                "return Array.from(document.querySelectorAll(\"ul[aria-label='Messages'] li.message:not(.gap) .subject\")).map(e => e.innerText.trim());",
                vec![],
            )
            .await?;
        Ok((shown == serde_json::json!(subjects)).then_some(()))
    })
    .await
}

#[tokio::test]
async fn search_open_a_hit_and_search_every_folder() -> Result<()> {
    let (dovecot, user) = seeded(&[]).await?;
    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;
    browser
        .wait_for(Locator::XPath(&message_row("Invoice 1041")), "the inbox")
        .await?;

    // `/` goes to the field; a word of a body finds its message.
    browser
        .client
        .find(Locator::Css("body"))
        .await?
        .send_keys("/")
        .await?;
    let focused = browser
        .client
        .execute(
            "return document.activeElement.getAttribute('aria-label')",
            vec![],
        )
        .await?;
    assert_eq!(focused, serde_json::json!("Search mail"));
    search_for(&browser, "pizza").await?;
    shows_rows(&browser, &["Team lunch"]).await?;
    browser.open_message("Team lunch").await?;
    browser
        .screenshot(&screenshot_dir()?.join("search-hit-desktop.png"))
        .await?;

    // A mistake is shown as it is typed, and nothing is searched.
    let field = browser.field("Search mail").await?;
    field.clear().await?;
    field.send_keys("form:bob").await?;
    browser
        .wait_for(
            Locator::XPath(
                "//p[@id='search-problem'][contains(., 'is not something to search by')]",
            ),
            "the mistake",
        )
        .await?;
    field.send_keys(&Key::Enter.to_string()).await?;
    shows_rows(&browser, &["Team lunch"]).await?;

    // Every folder: hits of three folders, newest first, each with its folder.
    search_for(&browser, "invoice in:all").await?;
    shows_rows(
        &browser,
        &["Invoice for Q3", "Invoice 1041", "Invoice 0999"],
    )
    .await?;
    browser
        .wait_for(
            Locator::XPath(&format!(
                "{}//span[@class='folder-chip'][normalize-space()='Archive']",
                message_row("Invoice 0999")
            )),
            "the hit's folder",
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath("//ul[@aria-label='Search terms']/li[normalize-space()='All folders']"),
            "the query's chips",
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("search-all-folders-desktop.png"))
        .await?;
    // A hit of another folder opens as usual.
    browser.open_message("Invoice 0999").await?;

    // Clearing goes back to the folder.
    browser.button("Clear search").await?.click().await?;
    browser
        .wait_for(Locator::XPath(&message_row("Big photo")), "the inbox again")
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_long_search_can_be_stopped() -> Result<()> {
    let many: Vec<String> = (0..40).map(|n| format!("Project {n:02}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (dovecot, user) = seeded(&many).await?;
    // A server 40 ms away: each folder takes a few round trips.
    let relay = Relay::distant(dovecot.imaps_port, Duration::from_millis(20)).await?;
    let account = AccountSpec {
        imap: format!("imaps://127.0.0.1:{}", relay.port),
        ..AccountSpec::trusting("Example", &dovecot)
    };
    let bridge = Bridge::start(&[account], Some(&tests::browser::dist_dir()?)).await?;
    let browser = Browser::start(1280, 860).await?;
    browser.sign_in(&bridge.origin(), &user).await?;
    browser
        .wait_for(Locator::XPath(&message_row("Invoice 1041")), "the inbox")
        .await?;
    search_for(&browser, "invoice in:all").await?;
    let progress = "//p[@class='search-progress'][starts-with(normalize-space(), 'Searched ')]";
    browser
        .wait_for(Locator::XPath(progress), "the progress line")
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("search-progress-desktop.png"))
        .await?;
    browser.button("Stop searching").await?.click().await?;
    eventually("the progress line to go", async || {
        Ok(browser
            .client
            .find_all(Locator::XPath(progress))
            .await?
            .is_empty()
            .then_some(()))
    })
    .await?;
    // The hits found so far stay listed: the Inbox is searched first.
    browser
        .wait_for(
            Locator::XPath(&message_row("Invoice 1041")),
            "the hits so far",
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn search_on_a_phone() -> Result<()> {
    let (dovecot, user) = seeded(&[]).await?;
    let bridge = Bridge::start(
        &[AccountSpec::trusting("Example", &dovecot)],
        Some(&tests::browser::dist_dir()?),
    )
    .await?;
    let browser = Browser::start(390, 844).await?;
    browser.sign_in(&bridge.origin(), &user).await?;
    browser
        .wait_for(Locator::XPath(&message_row("Invoice 1041")), "the inbox")
        .await?;
    search_for(&browser, "lunch -from:grace").await?;
    shows_rows(&browser, &["Re: Team lunch"]).await?;
    browser
        .screenshot(&screenshot_dir()?.join("search-phone.png"))
        .await?;
    browser.open_message("Re: Team lunch").await?;
    Ok(())
}
