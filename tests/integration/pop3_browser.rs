//! A POP3 account in the real app: the inbox reads like an IMAP folder, what POP3
//! cannot do is not offered, delete asks and can be undone before the server
//! carries it out, and new mail appears on its own.

use anyhow::{Result, ensure};
use fantoccini::Locator;
use tests::browser::{Browser, dist_dir, message_row};
use tests::{AccountSpec, Bridge, eventually, screenshot_dir};

use crate::organizing_browser::{action, row_gone, shows_action, tests_undo_window};
use crate::pop3::{note, on_server};
use crate::seed::{T0, deliver, inbox_with};

/// Signs in through the form, choosing POP3.
async fn sign_in_over_pop3(browser: &Browser, bridge: &Bridge, user: &tests::User) -> Result<()> {
    browser.client.goto(&bridge.origin()).await?;
    browser
        .field("Mail protocol")
        .await?
        .select_by_value("pop3")
        .await?;
    browser.type_credentials(user).await?;
    browser
        .screenshot(&screenshot_dir()?.join("pop3-sign-in.png"))
        .await?;
    browser.button("Sign in").await?.click().await?;
    Ok(())
}

#[tokio::test]
async fn a_pop3_inbox_in_the_app() -> Result<()> {
    let messages: Vec<Vec<u8>> = ["Oldest", "Older", "Newer", "Newest"]
        .iter()
        .map(|s| note(s, &format!("This is the {s} message.")))
        .collect();
    let (dovecot, user) = inbox_with(&messages, "").await?;
    // An account with both servers: the form asks which to use.
    let account = AccountSpec {
        pop3: Some(dovecot.pop3s_url()),
        ..AccountSpec::trusting("Home", &dovecot)
    };
    let bridge = Bridge::start(&[account], Some(&dist_dir()?)).await?;
    let browser = Browser::start(1280, 860).await?;
    sign_in_over_pop3(&browser, &bridge, &user).await?;
    browser.open_message("Newest").await?;

    // One folder, and nothing offered that POP3 cannot do.
    let folders = browser
        .client
        .find_all(Locator::XPath("//nav[@aria-label='Folders']//li"))
        .await?;
    ensure!(folders.len() == 1, "{} folders listed", folders.len());
    for absent in [
        "select[aria-label='Move to folder']",
        "select[aria-label='Copy to folder']",
        "button.new-folder",
    ] {
        let found = browser.client.find_all(Locator::Css(absent)).await?;
        ensure!(found.is_empty(), "{absent} is offered for POP3");
    }
    let labels = browser
        .client
        .find_all(Locator::XPath(
            "//div[@role='toolbar']//summary[normalize-space()='Labels']",
        ))
        .await?;
    ensure!(labels.is_empty(), "labels are offered for POP3");
    let orders = browser
        .client
        .find_all(Locator::Css("select[aria-label='Sort messages'] option"))
        .await?;
    ensure!(orders.len() == 2, "{} orders offered", orders.len());

    // What POP3 offers instead: the whole mailbox as a file.
    browser.button("Download all").await?;

    // Flag, kept by the bridge.
    action(&browser, "Flag").await?;
    shows_action(&browser, "Remove flag").await?;
    browser
        .screenshot(&screenshot_dir()?.join("pop3-desktop.png"))
        .await?;

    // Delete asks first; undo keeps the message on the server.
    browser.open_message("Older").await?;
    action(&browser, "Delete").await?;
    browser.client.accept_alert().await?;
    row_gone(&browser, "Older").await?;
    browser
        .click(Locator::XPath("//button[normalize-space()='Undo']"), "Undo")
        .await?;
    browser
        .wait_for(Locator::XPath(&message_row("Older")), "the row back")
        .await?;
    tokio::time::sleep(tests_undo_window()).await;
    let subjects = |list: Vec<(String, u32)>| list.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
    ensure!(
        subjects(on_server(&dovecot, &user).await?).contains(&"Older".to_owned()),
        "an undone delete reached the server"
    );

    // Deleted for good once the window has passed.
    browser.open_message("Older").await?;
    action(&browser, "Delete").await?;
    browser.client.accept_alert().await?;
    row_gone(&browser, "Older").await?;
    eventually("the server to lose the message", async || {
        let left = subjects(on_server(&dovecot, &user).await?);
        Ok((!left.contains(&"Older".to_owned())).then_some(()))
    })
    .await?;

    // New mail shows up without a reload.
    deliver(
        &dovecot,
        &user,
        note("Arrived later", "Hello again."),
        T0 + 50,
    )
    .await?;
    browser
        .wait_for(
            Locator::XPath(&message_row("Arrived later")),
            "the new message",
        )
        .await?;
    browser.close().await?;

    // A phone shows one pane at a time, as for IMAP.
    let phone = Browser::start(390, 844).await?;
    sign_in_over_pop3(&phone, &bridge, &user).await?;
    phone
        .wait_for(
            Locator::XPath(&message_row("Newest")),
            "the list on a phone",
        )
        .await?;
    phone
        .screenshot(&screenshot_dir()?.join("pop3-phone.png"))
        .await?;
    phone.close().await
}

/// The drafts the bridge keeps in `data`, one file each.
fn draft_files(data: &std::path::Path) -> Result<usize> {
    let root = data.join("drafts");
    if !root.exists() {
        return Ok(0);
    }
    let mut count = 0;
    for folder in std::fs::read_dir(root)? {
        for file in std::fs::read_dir(folder?.path())? {
            let name = file?.file_name();
            count += usize::from(name.to_string_lossy().ends_with(".eml"));
        }
    }
    Ok(count)
}

#[tokio::test]
async fn a_pop3_draft_is_saved_on_close_resumed_from_drafts_and_sent() -> Result<()> {
    use crate::organizing_browser::folder_button;
    use crate::sending::{delivered, parse};
    use crate::sending_browser::{new_to_bob, no_undo, resume, sent, type_into};
    let mail = crate::sending::Mail::start()?;
    let data = tempfile::tempdir()?;
    let account = crate::pop3_drafts::pop3_account(&mail);
    let bridge =
        Bridge::start_keeping(&[account], Some(&dist_dir()?), 1, Some(data.path())).await?;
    let browser = Browser::start(1280, 860).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        no_undo(&browser).await?;
        new_to_bob(&browser, "Kept by the bridge").await?;
        type_into(&browser, "Message", "Half written.").await?;
        // Closing keeps what was written, without asking.
        browser.button("Close").await?.click().await?;
        browser.says("Draft saved.").await?;
        ensure!(draft_files(data.path())? == 1, "no draft file in data_dir");

        folder_button(&browser, "Drafts").await?;
        let text = resume(&browser, "Kept by the bridge").await?;
        let row = message_row("Kept by the bridge");
        assert_eq!(text, "Half written.");
        browser.button("Remove bob@example.test").await?;
        browser
            .screenshot(&screenshot_dir()?.join("pop3-draft.png"))
            .await?;
        type_into(&browser, "Message", " Now whole.").await?;
        browser.button("Send").await?.click().await?;
        sent(&browser).await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        let message = parse(&inbox[0].0)?;
        assert_eq!(message.subject(), Some("Kept by the bridge"));
        assert_eq!(
            message.body_text(0).as_deref().map(str::trim_end),
            Some("Half written. Now whole.")
        );
        eventually("the draft gone, from the list and data_dir", async || {
            let listed = !browser
                .client
                .find_all(Locator::XPath(&row))
                .await?
                .is_empty();
            Ok((!listed && draft_files(data.path())? == 0).then_some(()))
        })
        .await?;
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}
