//! Organizing in the real app: archive, delete with undo, flag, move, and deleting
//! for good from Trash, each checked on the server by an independent client. (The
//! messages used have plain ASCII subjects, which the check reads undecoded.)

use anyhow::Result;
use fantoccini::Locator;
use tests::browser::{Browser, message_row, signed_in_app};
use tests::{Dovecot, User, eventually, screenshot_dir};

use crate::organizing::server_subjects;
use crate::seed::{INBOX_NEWEST_FIRST, seeded_server};

/// A folder's subjects as the server has them, flagged ones marked `[flagged]`.
async fn subjects(dovecot: &Dovecot, user: &User, folder: &str) -> Result<Vec<String>> {
    Ok(server_subjects(dovecot, user, folder)
        .await?
        .into_iter()
        .map(|(subject, flagged)| {
            if flagged {
                format!("{subject} [flagged]")
            } else {
                subject
            }
        })
        .collect())
}

/// Clicks a button in the message's toolbar (the folder list has an "Archive" button too).
pub(crate) async fn action(browser: &Browser, name: &str) -> Result<()> {
    let xpath = format!("//div[@role='toolbar']//button[normalize-space()='{name}']");
    browser
        .click(Locator::XPath(&xpath), &format!("the {name:?} action"))
        .await
}

/// Waits for a button in the message's toolbar.
pub(crate) async fn shows_action(browser: &Browser, name: &str) -> Result<()> {
    let xpath = format!("//div[@role='toolbar']//button[normalize-space()='{name}']");
    browser
        .wait_for(Locator::XPath(&xpath), &format!("the {name:?} action"))
        .await
        .map(drop)
}

pub(crate) async fn row_gone(browser: &Browser, subject: &str) -> Result<()> {
    let row = message_row(subject);
    eventually(&format!("the row {subject:?} to leave"), async || {
        Ok(browser
            .client
            .find_all(Locator::XPath(&row))
            .await?
            .is_empty()
            .then_some(()))
    })
    .await
}

async fn on_server(dovecot: &Dovecot, user: &User, folder: &str, subject: &str) -> Result<()> {
    eventually(&format!("{subject:?} in {folder}"), async || {
        Ok(subjects(dovecot, user, folder)
            .await?
            .iter()
            .any(|s| s == subject || s.strip_suffix(" [flagged]") == Some(subject))
            .then_some(()))
    })
    .await
}

#[tokio::test]
async fn archive_delete_undo_flag_move_and_delete_for_good() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;

    // Archive: the row leaves at once; the server follows after the undo window.
    browser.open_message(INBOX_NEWEST_FIRST[0]).await?;
    action(&browser, "Archive").await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[0]).await?;
    browser
        .wait_for(
            Locator::XPath("//*[@role='status'][.//button[normalize-space()='Undo']]"),
            "the undo bar",
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("organize-undo-bar.png"))
        .await?;
    on_server(&dovecot, &user, "Archive", INBOX_NEWEST_FIRST[0]).await?;

    // Delete, then undo: the row comes back and the server never sees a move.
    browser.open_message(INBOX_NEWEST_FIRST[2]).await?;
    action(&browser, "Delete").await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[2]).await?;
    browser
        .click(Locator::XPath("//button[normalize-space()='Undo']"), "Undo")
        .await?;
    browser.open_message(INBOX_NEWEST_FIRST[2]).await?;

    // Flag: the button and the server agree.
    action(&browser, "Flag").await?;
    shows_action(&browser, "Remove flag").await?;
    let flagged = format!("{} [flagged]", INBOX_NEWEST_FIRST[2]);
    on_server(&dovecot, &user, "INBOX", &flagged).await?;

    // The undone delete was never sent, also after its window.
    tokio::time::sleep(tests_undo_window()).await;
    assert!(
        subjects(&dovecot, &user, "INBOX").await?.contains(&flagged),
        "an undone delete reached the server"
    );

    // Move through the menu.
    browser.open_message(INBOX_NEWEST_FIRST[4]).await?;
    eventually("choosing Work in the move menu", async || {
        use fantoccini::error::{CmdError, ErrorStatus};
        let Ok(menu) = browser
            .client
            .find(Locator::Css("select[aria-label='Move to folder']"))
            .await
        else {
            return Ok(None);
        };
        match menu.select_by_value("Work").await {
            Ok(()) => Ok(Some(())),
            Err(CmdError::Standard(e)) if e.error == ErrorStatus::StaleElementReference => Ok(None),
            Err(other) => Err(other.into()),
        }
    })
    .await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[4]).await?;
    on_server(&dovecot, &user, "Work", INBOX_NEWEST_FIRST[4]).await?;

    // Delete to Trash, then for good from Trash after confirming.
    browser.open_message(INBOX_NEWEST_FIRST[3]).await?;
    action(&browser, "Delete").await?;
    on_server(&dovecot, &user, "Trash", INBOX_NEWEST_FIRST[3]).await?;
    browser
        .click(
            Locator::XPath("//nav[@aria-label='Folders']//button[.//*[normalize-space()='Trash']]"),
            "the Trash folder",
        )
        .await?;
    browser.open_message(INBOX_NEWEST_FIRST[3]).await?;
    action(&browser, "Delete permanently").await?;
    browser.client.accept_alert().await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[3]).await?;
    eventually("Trash to be empty on the server", async || {
        Ok(subjects(&dovecot, &user, "Trash")
            .await?
            .is_empty()
            .then_some(()))
    })
    .await?;
    browser.close().await
}

/// The app's undo window plus a margin, for the one check that time has passed.
pub(crate) fn tests_undo_window() -> std::time::Duration {
    std::time::Duration::from_secs(6)
}

/// Types keys as a person would, to whatever has the focus.
async fn press(browser: &Browser, keys: &str) -> Result<()> {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut actions = KeyActions::new("keyboard".into());
    for value in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
    }
    browser.client.perform_actions(actions).await?;
    Ok(())
}

/// Waits until the focused element's text contains `text`.
async fn focus_on(browser: &Browser, text: &str) -> Result<()> {
    eventually(&format!("the focus on {text:?}"), async || {
        let focused = browser
            .client
            .execute("return document.activeElement.textContent;", vec![])
            .await?;
        Ok(focused
            .as_str()
            .is_some_and(|t| t.contains(text))
            .then_some(()))
    })
    .await
}

/// Waits until the message with `subject` is the one open.
async fn open_is(browser: &Browser, subject: &str) -> Result<()> {
    let xpath = format!("{}//button[@aria-current='true']", message_row(subject));
    browser
        .wait_for(Locator::XPath(&xpath), &format!("{subject:?} open"))
        .await?;
    browser
        .wait_for(Locator::XPath("//div[@role='toolbar']"), "the toolbar")
        .await
        .map(drop)
}

#[tokio::test]
async fn keyboard_shortcuts_drive_the_mailbox() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;
    browser
        .wait_for(
            Locator::XPath(&message_row(INBOX_NEWEST_FIRST[4])),
            "the inbox",
        )
        .await?;

    // j moves down the list, Enter opens, j and k then open the next and previous.
    press(&browser, "jj").await?;
    focus_on(&browser, INBOX_NEWEST_FIRST[1]).await?;
    press(&browser, "\u{e007}").await?;
    open_is(&browser, INBOX_NEWEST_FIRST[1]).await?;
    press(&browser, "j").await?;
    open_is(&browser, INBOX_NEWEST_FIRST[2]).await?;
    press(&browser, "kj").await?;
    open_is(&browser, INBOX_NEWEST_FIRST[2]).await?;

    // s flags; Shift+U and Shift+I mark unread and read.
    press(&browser, "s").await?;
    shows_action(&browser, "Remove flag").await?;
    on_server(
        &dovecot,
        &user,
        "INBOX",
        &format!("{} [flagged]", INBOX_NEWEST_FIRST[2]),
    )
    .await?;
    press(&browser, "U").await?;
    shows_action(&browser, "Mark as read").await?;
    press(&browser, "I").await?;
    shows_action(&browser, "Mark as unread").await?;

    // ? lists the shortcuts; Escape closes them.
    press(&browser, "?").await?;
    let help = "//*[@role='dialog'][@aria-label='Keyboard shortcuts']";
    browser
        .wait_for(Locator::XPath(help), "the shortcuts")
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("shortcuts-desktop.png"))
        .await?;
    press(&browser, "\u{e00c}").await?;
    eventually("the shortcuts to close", async || {
        Ok(browser
            .client
            .find_all(Locator::XPath(help))
            .await?
            .is_empty()
            .then_some(()))
    })
    .await?;

    // u goes back to the list with the focus on the message; Enter reopens it;
    // e archives it.
    press(&browser, "u").await?;
    focus_on(&browser, INBOX_NEWEST_FIRST[2]).await?;
    assert!(
        browser
            .client
            .find_all(Locator::XPath("//div[@role='toolbar']"))
            .await?
            .is_empty(),
        "the message is still open"
    );
    press(&browser, "\u{e007}").await?;
    open_is(&browser, INBOX_NEWEST_FIRST[2]).await?;
    press(&browser, "e").await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[2]).await?;
    // The keyboard carries on from the message that took its place.
    focus_on(&browser, INBOX_NEWEST_FIRST[3]).await?;
    // Leaving the page sends the archive at once rather than losing it.
    let undo_left = browser
        .client
        .execute_async(
            "const done = arguments[0];
             window.dispatchEvent(new Event('pagehide'));
             setTimeout(() => done(!document.evaluate(\"//button[normalize-space()='Undo']\",
                 document, null, XPathResult.BOOLEAN_TYPE, null).booleanValue), 200);",
            vec![],
        )
        .await?;
    assert_eq!(
        undo_left,
        serde_json::Value::Bool(true),
        "the archive still waited for its undo window after the page was hidden"
    );
    on_server(&dovecot, &user, "Archive", INBOX_NEWEST_FIRST[2]).await?;

    // # deletes (to Trash), and the focus again moves on to the next message.
    press(&browser, "k").await?;
    focus_on(&browser, INBOX_NEWEST_FIRST[1]).await?;
    press(&browser, "\u{e007}").await?;
    open_is(&browser, INBOX_NEWEST_FIRST[1]).await?;
    press(&browser, "#").await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[1]).await?;
    focus_on(&browser, INBOX_NEWEST_FIRST[3]).await?;
    browser.close().await
}

/// The folders on the server, and those subscribed, as an independent client sees them.
async fn server_folders(dovecot: &Dovecot, user: &User) -> Result<(Vec<String>, Vec<String>)> {
    use futures::TryStreamExt;
    let mut imap = dovecot.imap(user).await?;
    let all: Vec<String> = imap
        .list(Some(""), Some("*"))
        .await?
        .map_ok(|n| n.name().to_owned())
        .try_collect()
        .await?;
    let subscribed: Vec<String> = imap
        .lsub(Some(""), Some("*"))
        .await?
        .map_ok(|n| n.name().to_owned())
        .try_collect()
        .await?;
    imap.logout().await?;
    Ok((all, subscribed))
}

pub(crate) async fn folder_button(browser: &Browser, name: &str) -> Result<()> {
    let xpath = format!("//nav[@aria-label='Folders']//button[.//*[normalize-space()='{name}']]");
    browser
        .click(Locator::XPath(&xpath), &format!("the folder {name:?}"))
        .await
}

pub(crate) async fn folder_option(browser: &Browser, name: &str) -> Result<()> {
    browser
        .click(
            Locator::XPath("//summary[@aria-label='Folder options']"),
            "Folder options",
        )
        .await?;
    let xpath = format!("//*[@aria-label='Folder options']//button[normalize-space()='{name}']");
    browser.click(Locator::XPath(&xpath), name).await
}

/// Opens the New folder dialog and fills it in: `name`, inside `inside` (by id) or
/// at the top level.
pub(crate) async fn fill_new_folder(
    browser: &Browser,
    name: &str,
    inside: Option<&str>,
) -> Result<()> {
    browser
        .click(
            Locator::XPath("//button[normalize-space()='New folder']"),
            "New folder",
        )
        .await?;
    browser.field("Folder name").await?.send_keys(name).await?;
    if let Some(inside) = inside {
        browser
            .client
            .find(Locator::XPath(
                "//*[@role='dialog'][@aria-label='New folder']//select",
            ))
            .await?
            .select_by_value(inside)
            .await?;
    }
    Ok(())
}

/// Clicks "Create" in the New folder dialog.
pub(crate) async fn create_folder(browser: &Browser) -> Result<()> {
    browser
        .click(
            Locator::XPath(
                "//*[@role='dialog'][@aria-label='New folder']//button[normalize-space()='Create']",
            ),
            "Create",
        )
        .await
}

#[tokio::test]
async fn folders_are_created_renamed_unsubscribed_and_deleted_in_the_app() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;

    // Create, inside Work.
    fill_new_folder(&browser, "Projects 2027", Some("Work")).await?;
    browser
        .screenshot(&screenshot_dir()?.join("folder-new-desktop.png"))
        .await?;
    create_folder(&browser).await?;
    folder_button(&browser, "Projects 2027").await?;
    eventually("Work/Projects 2027 on the server", async || {
        let (all, subscribed) = server_folders(&dovecot, &user).await?;
        let name = "Work/Projects 2027".to_owned();
        Ok((all.contains(&name) && subscribed.contains(&name)).then_some(()))
    })
    .await?;

    // Rename the open folder: the app follows it.
    folder_option(&browser, "Rename folder").await?;
    browser.client.send_alert_text("Plans").await?;
    browser.client.accept_alert().await?;
    browser
        .wait_for(
            Locator::XPath("//h2[@id='list-title'][normalize-space()='Plans']"),
            "the renamed folder open",
        )
        .await?;
    eventually("Work/Plans on the server", async || {
        let (all, _) = server_folders(&dovecot, &user).await?;
        Ok((all.contains(&"Work/Plans".to_owned())
            && !all.contains(&"Work/Projects 2027".to_owned()))
        .then_some(()))
    })
    .await?;

    // Unsubscribe.
    folder_option(&browser, "Unsubscribe").await?;
    eventually("Work/Plans unsubscribed", async || {
        let (_, subscribed) = server_folders(&dovecot, &user).await?;
        Ok((!subscribed.contains(&"Work/Plans".to_owned())).then_some(()))
    })
    .await?;
    browser
        .wait_for(
            Locator::XPath("//nav[@aria-label='Folders']//button[contains(@class,'unsubscribed')][.//*[normalize-space()='Plans']]"),
            "Plans shown as unsubscribed",
        )
        .await?;

    // Delete, after confirming: the app goes back to the inbox.
    folder_option(&browser, "Delete folder").await?;
    browser.client.accept_alert().await?;
    browser
        .wait_for(
            Locator::XPath("//h2[@id='list-title'][normalize-space()='Inbox']"),
            "the inbox open again",
        )
        .await?;
    eventually("Work/Plans gone from the server", async || {
        let (all, _) = server_folders(&dovecot, &user).await?;
        Ok((!all.contains(&"Work/Plans".to_owned())).then_some(()))
    })
    .await?;
    browser.close().await
}

#[tokio::test]
async fn several_messages_are_flagged_and_archived_together_and_dragged_to_a_folder() -> Result<()>
{
    let (dovecot, user) = seeded_server().await?;
    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;

    // Pick two messages: the reading pane offers what applies to both.
    for subject in [INBOX_NEWEST_FIRST[3], INBOX_NEWEST_FIRST[4]] {
        let checkbox = format!("//input[@type='checkbox'][@aria-label='Select {subject}']");
        browser
            .click(Locator::XPath(&checkbox), &format!("select {subject:?}"))
            .await?;
    }
    browser
        .wait_for(
            Locator::XPath("//*[@role='status'][normalize-space()='2 messages selected']"),
            "the selection",
        )
        .await?;
    action(&browser, "Flag").await?;
    shows_action(&browser, "Remove flag").await?;
    for subject in [INBOX_NEWEST_FIRST[3], INBOX_NEWEST_FIRST[4]] {
        on_server(&dovecot, &user, "INBOX", &format!("{subject} [flagged]")).await?;
    }
    let flagged = subjects(&dovecot, &user, "INBOX").await?;
    assert!(
        flagged.contains(&format!("{} [flagged]", INBOX_NEWEST_FIRST[4])),
        "{flagged:?}"
    );
    browser
        .screenshot(&screenshot_dir()?.join("selection-desktop.png"))
        .await?;
    // Copy both to Work: they stay here too.
    browser
        .client
        .find(Locator::Css("select[aria-label='Copy to folder']"))
        .await?
        .select_by_value("Work")
        .await?;
    browser
        .wait_for(
            Locator::XPath("//*[@role='status'][normalize-space()='Copied 2 messages to Work.']"),
            "the copy confirmation",
        )
        .await?;
    for subject in [INBOX_NEWEST_FIRST[3], INBOX_NEWEST_FIRST[4]] {
        on_server(&dovecot, &user, "Work", subject).await?;
        on_server(&dovecot, &user, "INBOX", subject).await?;
    }
    action(&browser, "Archive").await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[3]).await?;
    row_gone(&browser, INBOX_NEWEST_FIRST[4]).await?;
    browser
        .wait_for(
            Locator::XPath("//*[@role='status'][.//*[normalize-space()='Archived: 2 messages.']]"),
            "the undo bar for both",
        )
        .await?;
    on_server(&dovecot, &user, "Archive", INBOX_NEWEST_FIRST[3]).await?;
    on_server(&dovecot, &user, "Archive", INBOX_NEWEST_FIRST[4]).await?;

    // Drag a message onto a folder.
    let dropped = browser
        .client
        .execute(
            "const find = x => document.evaluate(x, document, null, 9, null).singleNodeValue;
             const row = find(\"//ul[@aria-label='Messages']/li[.//*[normalize-space()='HTML newsletter']]\");
             const work = find(\"//nav[@aria-label='Folders']//button[.//*[normalize-space()='Work']]\");
             if (!row || !work) return false;
             const data = new DataTransfer();
             row.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: data}));
             const over = new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: data});
             work.dispatchEvent(over);
             work.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: data}));
             return over.defaultPrevented;",
            vec![],
        )
        .await?;
    assert_eq!(
        dropped,
        serde_json::Value::Bool(true),
        "the folder did not accept the drag"
    );
    row_gone(&browser, INBOX_NEWEST_FIRST[2]).await?;
    on_server(&dovecot, &user, "Work", INBOX_NEWEST_FIRST[2]).await?;
    browser.close().await
}

/// The keywords of the INBOX message with this (ASCII) subject, on the server.
async fn server_keywords(dovecot: &Dovecot, user: &User, subject: &str) -> Result<Vec<String>> {
    use futures::TryStreamExt;
    let mut imap = dovecot.imap(user).await?;
    imap.examine("INBOX").await?;
    let fetches: Vec<_> = imap
        .fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await?
        .try_collect()
        .await?;
    let mut keywords = Vec::new();
    for fetch in &fetches {
        let header = String::from_utf8_lossy(fetch.header().unwrap_or_default()).into_owned();
        if header.trim().strip_prefix("Subject:").map(str::trim) == Some(subject) {
            keywords = fetch
                .flags()
                .filter_map(|f| match f {
                    async_imap::types::Flag::Custom(name) => Some(name.into_owned()),
                    _ => None,
                })
                .collect();
        }
    }
    imap.logout().await?;
    Ok(keywords)
}

#[tokio::test]
async fn labels_are_added_shown_and_removed() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let (_bridge, browser) = signed_in_app(&dovecot, &user).await?;
    let subject = INBOX_NEWEST_FIRST[2];
    browser.open_message(subject).await?;

    let summary = "//div[@role='toolbar']//summary[normalize-space()='Labels']";
    browser.click(Locator::XPath(summary), "Labels").await?;
    // A name that cannot be a keyword is refused with a reason.
    browser
        .field("New label")
        .await?
        .send_keys("two words")
        .await?;
    browser
        .click(
            Locator::XPath("//button[normalize-space()='Add label']"),
            "Add label",
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath("//*[@role='alert'][contains(., 'no spaces')]"),
            "the refusal",
        )
        .await?;
    browser
        .client
        .execute(
            "const i = document.querySelector(\"input[aria-label='New label']\"); i.value = ''; i.dispatchEvent(new Event('input', {bubbles: true}));",
            vec![],
        )
        .await?;
    browser
        .field("New label")
        .await?
        .send_keys("Travel")
        .await?;
    browser
        .click(
            Locator::XPath("//button[normalize-space()='Add label']"),
            "Add label",
        )
        .await?;
    let chip = format!(
        "{}//*[@class='label-chip'][normalize-space()='Travel']",
        message_row(subject)
    );
    browser
        .wait_for(Locator::XPath(&chip), "the Travel chip")
        .await?;
    eventually("Travel on the server", async || {
        Ok(server_keywords(&dovecot, &user, subject)
            .await?
            .contains(&"Travel".to_owned())
            .then_some(()))
    })
    .await?;
    browser
        .screenshot(&screenshot_dir()?.join("labels-desktop.png"))
        .await?;

    // Pressed again, it comes off.
    browser
        .click(
            Locator::XPath("//*[@aria-label='Labels']//button[@aria-pressed='true'][normalize-space()='✓Travel' or contains(normalize-space(), 'Travel')]"),
            "the Travel label",
        )
        .await?;
    eventually("Travel off the server", async || {
        Ok((!server_keywords(&dovecot, &user, subject)
            .await?
            .contains(&"Travel".to_owned()))
        .then_some(()))
    })
    .await?;
    eventually("the chip to go", async || {
        Ok(browser
            .client
            .find_all(Locator::XPath(&chip))
            .await?
            .is_empty()
            .then_some(()))
    })
    .await?;
    browser.close().await
}
