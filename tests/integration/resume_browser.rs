//! Resuming in the real app: a reload, a dropped connection and a move to another
//! bridge bring the person back to the same folder and message without their
//! password; a bridge that cannot open the token sends them to the sign-in page
//! with a sentence; signing out leaves nothing to resume.
//!
//! The browser reaches the bridges through a relay that can cut every connection
//! and send new ones to another bridge, as a network drop or a load balancer would.

use anyhow::Result;
use fantoccini::Locator;
use tests::browser::{Browser, dist_dir};
use tests::{AccountSpec, Bridge, Relay, Settings, screenshot_dir};

use crate::seed::seeded_server;

const FOLDER: &str =
    "//nav[@aria-label='Folders']//button[contains(normalize-space(.), 'Reports')]";
const OPEN_FOLDER: &str = "//nav[@aria-label='Folders']//button[@aria-current='page'][contains(normalize-space(.), 'Reports')]";
const OPEN_MESSAGE: &str = "//h2[@id='reader-subject'][normalize-space()='Weekly report']";

/// Opens the Inbox's oldest note, waiting longer than the usual deadline: the
/// app notices a dead link only after 25 quiet seconds and 10 without a pong.
async fn eventually_long(browser: &Browser, what: &str) -> Result<()> {
    browser
        .click(
            Locator::XPath(
                "//nav[@aria-label='Folders']//button[contains(normalize-space(.), 'Inbox')]",
            ),
            "the Inbox",
        )
        .await?;
    let heading = "//h2[@id='reader-subject'][normalize-space()='Oldest note']";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if browser.open_message("Oldest note").await.is_ok()
            && browser.client.find(Locator::XPath(heading)).await.is_ok()
        {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
    }
}

/// Waits until the app shows the Reports folder with its message open.
async fn in_place(browser: &Browser, when: &str) -> Result<()> {
    browser
        .wait_for(
            Locator::XPath(OPEN_FOLDER),
            &format!("{when}: Reports open"),
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath(OPEN_MESSAGE),
            &format!("{when}: the message open"),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_app_comes_back_where_it_was() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let keys = tempfile::tempdir()?;
    let relay = Relay::start(1).await?;
    let origin = format!("http://127.0.0.1:{}", relay.port);
    let keyed = |file: &str| Settings {
        keys: format!(
            "session_key_file = {:?}\n",
            keys.path().join(file).display().to_string()
        ),
        origin: Some(origin.clone()),
    };
    let accounts = [AccountSpec::trusting("Example", &dovecot)];
    let dist = dist_dir()?;
    let first = Bridge::start_with(&accounts, Some(&dist), &keyed("session.key")).await?;
    relay.set_target(first.addr.port());
    let shots = screenshot_dir()?;

    let browser = Browser::start(1280, 860).await?;
    browser.sign_in(&origin, &user).await?;
    browser
        .click(Locator::XPath(FOLDER), "the folder Reports")
        .await?;
    browser.open_message("Weekly report").await?;

    // A reload: the same folder and message, and no password asked for.
    browser.client.refresh().await?;
    in_place(&browser, "after a reload").await?;
    browser
        .screenshot(&shots.join("resume-reloaded.png"))
        .await?;

    // On a phone, where one pane shows at a time, the open message comes back.
    let phone = Browser::start(390, 844).await?;
    phone.sign_in(&origin, &user).await?;
    phone.open_message("Oldest note").await?;
    phone.client.refresh().await?;
    phone
        .wait_for(
            Locator::XPath("//h2[@id='reader-subject'][normalize-space()='Oldest note']"),
            "the message open again on the phone",
        )
        .await?;
    phone
        .screenshot(&shots.join("resume-reloaded-phone.png"))
        .await?;
    phone.close().await?;

    // The connection drops: the app reconnects to the same bridge by itself.
    relay.cut();
    in_place(&browser, "after a drop").await?;
    browser.open_message("Weekly report").await?;

    // The link goes dead without closing (a machine that vanished): after a
    // quiet while the app's ping goes unanswered, and it opens another socket.
    relay.freeze();
    eventually_long(
        &browser,
        "a message opened over a new socket after the dead link",
    )
    .await?;
    browser
        .click(Locator::XPath(FOLDER), "the folder Reports")
        .await?;
    browser.open_message("Weekly report").await?;

    // The bridge goes away and new connections reach another with the same key.
    let second = Bridge::start_with(&accounts, Some(&dist), &keyed("session.key")).await?;
    relay.set_target(second.addr.port());
    relay.cut();
    drop(first);
    in_place(&browser, "on another bridge").await?;
    browser
        .click(Locator::XPath(FOLDER), "the folder Reports again")
        .await?;
    browser.open_message("Weekly report").await?;

    // A bridge that does not hold the key: back to the sign-in page, with a sentence.
    let stranger = Bridge::start_with(&accounts, Some(&dist), &keyed("other.key")).await?;
    relay.set_target(stranger.addr.port());
    relay.cut();
    browser
        .wait_for(
            Locator::XPath(
                "//p[@role='alert'][normalize-space()='Your session has ended. Please sign in again.']",
            ),
            "the sentence on the sign-in page",
        )
        .await?;
    browser.field("Password").await?;
    browser
        .screenshot(&shots.join("resume-refused.png"))
        .await?;

    // Signed in again, out, and in again: the app still works after a sign-out
    // (it used to stop when the mailbox it took down was told of the cleared
    // state); signed out, a reload finds nothing to resume.
    browser.type_credentials(&user).await?;
    browser.button("Sign in").await?.click().await?;
    browser.button("Sign out").await?.click().await?;
    browser.type_credentials(&user).await?;
    browser.button("Sign in").await?.click().await?;
    browser.open_message("Oldest note").await?;
    browser.button("Sign out").await?.click().await?;
    browser.field("Password").await?;
    browser.client.refresh().await?;
    browser.field("Password").await?;
    let kept = browser
        .client
        .execute("return sessionStorage.length", vec![])
        .await?;
    assert_eq!(kept, serde_json::json!(0), "nothing is left in the tab");
    browser.close().await?;
    drop(second);
    Ok(())
}
