//! A server that keeps folders under `INBOX.`, in the real app: new folders at the
//! top level and inside others, moving a folder, the shared section, and a
//! refusal that says why; each change checked on the server.

use anyhow::Result;
use fantoccini::Locator;
use tests::browser::{Browser, signed_in_app};
use tests::{Dovecot, User, eventually, screenshot_dir};

use crate::organizing_browser::{create_folder, fill_new_folder, folder_button, folder_option};
use crate::seed::alice;

async fn server_has(dovecot: &Dovecot, user: &User, present: &str, absent: &str) -> Result<()> {
    use futures::TryStreamExt;
    eventually(
        &format!("{present} (and no {absent}) on the server"),
        async || {
            let mut imap = dovecot.imap(user).await?;
            let all: Vec<String> = imap
                .list(Some(""), Some("*"))
                .await?
                .map_ok(|n| n.name().to_owned())
                .try_collect()
                .await?;
            imap.logout().await?;
            let found = all.iter().any(|n| n == present) && !all.iter().any(|n| n == absent);
            Ok(found.then_some(()))
        },
    )
    .await
}

async fn new_folder(browser: &Browser, name: &str, inside: Option<&str>) -> Result<()> {
    fill_new_folder(browser, name, inside).await?;
    create_folder(browser).await
}

#[tokio::test]
async fn folders_are_made_and_moved_under_the_personal_prefix_in_the_app() -> Result<()> {
    let user = alice();
    let dovecot = Dovecot::start_laid_out(
        std::slice::from_ref(&user),
        maildev::Layout::InboxPrefix,
        "",
    )?;
    let (bridge, browser) = signed_in_app(&dovecot, &user).await?;

    // Shared folders have a section of their own; the prefix is not a folder.
    browser
        .wait_for(
            Locator::XPath("//nav[@aria-label='Folders']//h2[normalize-space()='Shared folders']"),
            "the shared section",
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath("//nav[@aria-label='Folders']//button[@title][.//*[normalize-space()='Announcements']]"),
            "the read-only shared folder",
        )
        .await?;

    // A shared message opens; what would change it is not offered.
    folder_button(&browser, "Announcements").await?;
    browser
        .open_message("The office is closed on Friday")
        .await?;
    browser
        .wait_for(
            Locator::XPath("//div[@role='toolbar']//*[normalize-space()='Read-only folder']"),
            "the read-only note",
        )
        .await?;
    let deletes = browser
        .client
        .find_all(Locator::XPath(
            "//div[@role='toolbar']//button[normalize-space()='Delete']",
        ))
        .await?;
    assert!(deletes.is_empty(), "no Delete in a read-only folder");
    browser
        .screenshot(&screenshot_dir()?.join("folder-read-only-desktop.png"))
        .await?;
    folder_button(&browser, "Inbox").await?;

    // At the top level, as the dialog offers by default.
    new_folder(&browser, "Receipts", None).await?;
    server_has(&dovecot, &user, "INBOX.Receipts", "Receipts").await?;
    new_folder(&browser, "2026", Some("INBOX.Receipts")).await?;
    server_has(&dovecot, &user, "INBOX.Receipts.2026", "INBOX.2026").await?;

    // Moved out to the top level: the app follows the open folder.
    folder_button(&browser, "2026").await?;
    folder_option(&browser, "Move folder").await?;
    let dialog = "//*[@role='dialog'][@aria-label='Move folder']";
    browser
        .client
        .find(Locator::XPath(&format!("{dialog}//select")))
        .await?
        .select_by_value("")
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("folder-move-desktop.png"))
        .await?;
    browser
        .click(
            Locator::XPath(&format!("{dialog}//button[normalize-space()='Move']")),
            "Move",
        )
        .await?;
    server_has(&dovecot, &user, "INBOX.2026", "INBOX.Receipts.2026").await?;
    browser
        .wait_for(
            Locator::XPath("//h2[@id='list-title'][normalize-space()='2026']"),
            "the moved folder still open",
        )
        .await?;

    // A refusal says why.
    new_folder(&browser, "Receipts", None).await?;
    browser
        .wait_for(
            Locator::XPath("//*[normalize-space()='The mail server refused to create the folder: Mailbox already exists']"),
            "the server's reason",
        )
        .await?;
    browser
        .screenshot(&screenshot_dir()?.join("folders-namespaced-desktop.png"))
        .await?;
    browser.close().await?;

    // On a phone, the folder list with its sections.
    let phone = Browser::start(390, 844).await?;
    phone.sign_in(&bridge.origin(), &user).await?;
    phone
        .click(
            Locator::XPath("//button[@aria-label='Back to folders']"),
            "Back to folders",
        )
        .await?;
    phone
        .wait_for(
            Locator::XPath("//h2[normalize-space()='Shared folders']"),
            "the shared section on a phone",
        )
        .await?;
    phone
        .screenshot(&screenshot_dir()?.join("folders-namespaced-phone.png"))
        .await?;
    phone.close().await
}
