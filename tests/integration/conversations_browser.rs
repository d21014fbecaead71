//! Conversations in the real app: turning them on, reading one with the person's
//! own reply from Sent, a new reply moving its conversation to the top, deleting
//! a whole conversation, and the setting following the person to another browser.

use anyhow::Result;
use fantoccini::Locator;
use tests::browser::{Browser, message_row, signed_in_app};
use tests::{eventually, screenshot_dir};

use crate::conversations::{BOB, raw, seeded};
use crate::organizing::server_subjects;
use crate::search_browser::shows_rows;
use crate::seed::{T0, deliver};

/// The message list's conversation rows, newest first, by their newest subjects.
const GROUPED: [&str; 5] = [
    "Re: Quarterly",
    "Re: Plans, no id",
    "Re: Lunch, broken",
    "Budget",
    "Plans",
];

const MESSAGES: &str = "//ol[@aria-label='Messages in this conversation']";

/// Clicks the conversation row whose newest subject is `subject` and waits for
/// the reading pane to show it.
async fn open_conversation(browser: &Browser, subject: &str) -> Result<()> {
    browser
        .click(
            Locator::XPath(&format!(
                "//ul[@aria-label='Messages']/li//button[.//*[normalize-space()='{subject}']]"
            )),
            "the conversation's row",
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath(&format!(
                "//h2[@id='conversation-subject'][normalize-space()='{subject}']"
            )),
            "the open conversation",
        )
        .await
        .map(drop)
}

/// How many messages the open conversation shows, and how many are unfolded.
async fn entries(browser: &Browser) -> Result<(usize, usize)> {
    let all = browser
        .client
        .find_all(Locator::XPath(&format!("{MESSAGES}/li")))
        .await?;
    let open = browser
        .client
        .find_all(Locator::XPath(&format!(
            "{MESSAGES}/li/button[@aria-expanded='true']"
        )))
        .await?;
    Ok((all.len(), open.len()))
}

#[tokio::test]
async fn conversations_with_ones_own_replies_live_and_kept_per_user() -> Result<()> {
    let (dovecot, user) = seeded("").await?;
    let (bridge, browser) = signed_in_app(&dovecot, &user).await?;
    browser
        .wait_for(Locator::XPath(&message_row("Re: Plans again")), "the inbox")
        .await?;

    // One row per conversation, newest first, with its count.
    browser.button("Conversations").await?.click().await?;
    shows_rows(&browser, &GROUPED).await?;
    browser
        .wait_for(
            Locator::XPath(&format!(
                "{}//span[@class='count'][@aria-label='5 messages']",
                message_row("Re: Plans, no id")
            )),
            "the conversation's count",
        )
        .await?;

    // Opened: the whole exchange, Alice's reply from Sent in its place; only the
    // newest unfolded (the rest are read).
    open_conversation(&browser, "Re: Plans, no id").await?;
    eventually("six messages, one unfolded", async || {
        Ok((entries(&browser).await? == (6, 1)).then_some(()))
    })
    .await?;
    let own = format!("{MESSAGES}/li[.//span[@class='folder-chip'][normalize-space()='Sent']]");
    browser
        .wait_for(
            Locator::XPath(&format!(
                "({MESSAGES}/li)[3][.//span[@class='folder-chip']]"
            )),
            "the reply from Sent, third",
        )
        .await?;
    browser
        .click(
            Locator::XPath(&format!("{own}/button[@aria-expanded='false']")),
            "the reply's line",
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath(&format!(
                "{own}//div[contains(@class, 'plain-text')][contains(., 'Text.')]"
            )),
            "the reply's text",
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath(&format!(
                "{own}//div[@role='toolbar']//button[@aria-label='Delete this message']"
            )),
            "the reply's own actions",
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("conversation-desktop.png"))
        .await?;

    // A new reply to Lunch arrives: its conversation leads, one message longer.
    let date = T0 + 2000;
    let reply = raw(
        BOB,
        "Re: Lunch, again",
        "<n1@x>",
        "<c1@x> <k1@x>",
        "<k1@x>",
        date,
    );
    deliver(&dovecot, &user, reply, date).await?;
    shows_rows(
        &browser,
        &[
            "Re: Lunch, again",
            "Re: Quarterly",
            "Re: Plans, no id",
            "Budget",
            "Plans",
        ],
    )
    .await?;
    browser
        .wait_for(
            Locator::XPath(&format!(
                "{}//span[@class='count'][@aria-label='4 messages']",
                message_row("Re: Lunch, again")
            )),
            "the longer conversation",
        )
        .await?;

    // Deleting the open conversation takes all five of its Inbox messages (and
    // leaves Alice's reply in Sent).
    browser.button("Delete").await?.click().await?;
    shows_rows(
        &browser,
        &["Re: Lunch, again", "Re: Quarterly", "Budget", "Plans"],
    )
    .await?;
    eventually("the conversation in Trash", async || {
        let trash = server_subjects(&dovecot, &user, "Trash").await?;
        Ok((trash.len() == 5).then_some(()))
    })
    .await?;
    let inbox = server_subjects(&dovecot, &user, "INBOX").await?;
    assert_eq!(inbox.len(), 9, "{inbox:?}");
    assert_eq!(server_subjects(&dovecot, &user, "Sent").await?.len(), 4);

    // Another browser of the same person: conversations are on there too.
    let phone = Browser::start(390, 844).await?;
    phone.sign_in(&bridge.origin(), &user).await?;
    phone
        .wait_for(
            Locator::XPath("//button[@aria-label='Conversations'][@aria-pressed='true']"),
            "the setting, kept",
        )
        .await?;
    shows_rows(
        &phone,
        &["Re: Lunch, again", "Re: Quarterly", "Budget", "Plans"],
    )
    .await?;
    open_conversation(&phone, "Re: Lunch, again").await?;
    eventually(
        "Lunch with Alice's reply, the two unread unfolded",
        async || Ok((entries(&phone).await? == (5, 2)).then_some(())),
    )
    .await?;
    phone
        .screenshot(&screenshot_dir()?.join("conversation-phone.png"))
        .await?;
    // Listed as conversations from the start, the folder still follows the server.
    let date = T0 + 3000;
    let reply = raw(
        BOB,
        "Re: Quarterly, later",
        "<m2@x>",
        "<s0@me> <m1@x>",
        "<m1@x>",
        date,
    );
    deliver(&dovecot, &user, reply, date).await?;
    phone.button("Back to messages").await?.click().await?;
    shows_rows(
        &phone,
        &[
            "Re: Quarterly, later",
            "Re: Lunch, again",
            "Budget",
            "Plans",
        ],
    )
    .await?;
    Ok(())
}
