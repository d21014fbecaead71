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

async fn sign_in(browser: &Browser, bridge: &Bridge, user: &User) -> Result<()> {
    browser.client.goto(&bridge.origin()).await?;
    browser
        .field("User name")
        .await?
        .send_keys(&user.name)
        .await?;
    browser
        .field("Password")
        .await?
        .send_keys(&user.password)
        .await?;
    browser.button("Sign in").await?.click().await?;
    Ok(())
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
    sign_in(&browser, &bridge, &user).await?;

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
    sign_in(&browser, &bridge, &user).await?;
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
    assert!(nav.is_displayed().await?);
    browser
        .screenshot(&screenshot_dir()?.join("folders-phone.png"))
        .await?;
    browser.close().await
}

#[tokio::test]
async fn a_wrong_password_shows_the_error_and_keeps_the_form() -> Result<()> {
    let (_dovecot, _user, bridge) = app().await?;
    let browser = Browser::start(1280, 800).await?;
    sign_in(&browser, &bridge, &User::new("alice", "not the password")).await?;
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
