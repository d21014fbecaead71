//! A folder of 10,000 messages in the app: the list keeps a bounded number of rows
//! in the page however far it is scrolled, fetches the windows it scrolls to, and
//! reaches the oldest message.

use anyhow::{Context, Result, ensure};
use fantoccini::Locator;
use maildev::sample::{self, Headers};
use tests::browser::{Browser, signed_in_app};
use tests::{eventually, screenshot_dir};

use crate::seed::{T0, seeded_server};

const COUNT: u32 = 10_000;

/// The most rows the list may hold in the page at once: a screen of rows plus the
/// margins, far below the folder's size.
const MAX_ROWS: usize = 60;

async fn rows_in_page(browser: &Browser) -> Result<usize> {
    Ok(browser
        .client
        .find_all(Locator::XPath("//ul[@aria-label='Messages']/li"))
        .await?
        .len())
}

/// Scrolls the list to `fraction` of its height and waits until the message at
/// `position` (1-based) is shown with its subject.
async fn scroll_to(browser: &Browser, fraction: f64, position: u32) -> Result<String> {
    browser
        .client
        .execute(
            "const list = document.querySelector(\"ul[aria-label='Messages']\").parentElement;
             list.scrollTop = (list.scrollHeight - list.clientHeight) * arguments[0];",
            vec![serde_json::json!(fraction)],
        )
        .await?;
    let find = format!(
        "const row = document.querySelector(\"ul[aria-label='Messages'] li[aria-posinset='{position}'] .subject\");
         return row ? row.textContent : null;"
    );
    let subject = eventually(&format!("the message at {position}"), async || {
        let text = browser.client.execute(&find, vec![]).await?;
        Ok(text.as_str().map(str::to_owned))
    })
    .await;
    let subject = match subject {
        Ok(subject) => subject,
        Err(error) => {
            let state = browser
                .client
                .execute(
                    "const l = document.querySelector(\"ul[aria-label='Messages']\").parentElement;
                     const items = [...l.querySelectorAll('li')];
                     return [l.scrollTop, l.scrollHeight, l.clientHeight, l.getAttribute('style'),
                             items.length, items.slice(0, 2).map(i => i.outerHTML.slice(0, 200))];",
                    vec![],
                )
                .await?;
            return Err(error.context(format!("list: {state}")));
        }
    };
    let rows = rows_in_page(browser).await?;
    ensure!(
        rows <= MAX_ROWS,
        "{rows} rows in the page at position {position}"
    );
    Ok(subject)
}

#[tokio::test]
async fn ten_thousand_messages_scroll_with_a_bounded_page() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let mut imap = dovecot.imap(&user).await?;
    imap.create("Big").await?;
    dovecot.seed_maildir(&user, "Big", COUNT, |i| {
        sample::plain(
            &Headers {
                from: "Lists <list@example.org>",
                to: "alice@example.org",
                subject: &format!("Bulk {i:05}"),
                date: T0 + i64::from(i),
            },
            "One of many.\r\n",
        )
    })?;
    let mailbox = imap.select("Big").await?;
    ensure!(mailbox.exists == COUNT, "{} messages", mailbox.exists);
    imap.logout().await?;

    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;
    browser
        .click(
            Locator::XPath("//nav[@aria-label='Folders']//button[.//*[normalize-space()='Big']]"),
            "the Big folder",
        )
        .await?;
    let newest = scroll_to(&browser, 0.0, 1).await?;
    assert_eq!(newest, "Bulk 09999");

    let middle = scroll_to(&browser, 0.5, COUNT / 2).await?;
    assert!(middle.starts_with("Bulk "), "{middle}");
    let oldest = scroll_to(&browser, 1.0, COUNT).await?;
    assert_eq!(oldest, "Bulk 00000");
    browser
        .screenshot(&screenshot_dir()?.join("big-folder-end-desktop.png"))
        .await?;

    // Every position on the way down is reachable, a screen at a time.
    let size = browser
        .client
        .execute(
            "return document.querySelector(\"ul[aria-label='Messages'] li[data-uid]\").getAttribute('aria-setsize');",
            vec![],
        )
        .await?;
    assert_eq!(size.as_str().context("aria-setsize")?, COUNT.to_string());
    let back = scroll_to(&browser, 0.2, COUNT / 5).await?;
    assert!(back.starts_with("Bulk "), "{back}");
    eventually("the list to settle", async || {
        Ok((rows_in_page(&browser).await? <= MAX_ROWS).then_some(()))
    })
    .await?;
    browser.close().await
}
