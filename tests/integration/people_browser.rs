//! Identities and suggestions in the real app, by accessible names: identities
//! set in Settings, their signatures in the form, and the people one read from
//! offered while typing a recipient.

use anyhow::{Context, Result, ensure};
use fantoccini::Locator;
use fantoccini::key::Key;
use tests::browser::{Browser, dist_dir};
use tests::{Bridge, eventually, screenshot_dir};

use crate::sending::{Mail, delivered, parse};

async fn app(mail: &Mail) -> Result<Bridge> {
    Bridge::start(&[mail.account()], Some(&dist_dir()?)).await
}

/// The field labelled `label` in the identities dialog's "Identity `number`".
async fn identity_field(
    browser: &Browser,
    number: u32,
    label: &str,
) -> Result<fantoccini::elements::Element> {
    let xpath = format!(
        "//fieldset[legend[starts-with(normalize-space(), 'Identity {number}')]]\
         //*[@id=//label[normalize-space()='{label}']/@for]"
    );
    browser
        .wait_for(
            Locator::XPath(&xpath),
            &format!("{label} of identity {number}"),
        )
        .await
}

async fn value(element: &fantoccini::elements::Element) -> Result<String> {
    Ok(element.prop("value").await?.unwrap_or_default())
}

/// Waits until the form's text is `want`.
async fn text_is(browser: &Browser, want: &str) -> Result<()> {
    let text = browser.field("Message").await?;
    eventually(&format!("the text {want:?}"), || async {
        Ok((value(&text).await? == want).then_some(()))
    })
    .await
}

#[tokio::test]
async fn identities_from_settings_sign_what_one_writes() -> Result<()> {
    let mail = Mail::start()?;
    let bridge = app(&mail).await?;
    let browser = Browser::start(1280, 860).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        browser
            .client
            .execute(
                "localStorage.setItem('postern.undoSendSeconds', '0')",
                vec![],
            )
            .await?;
        // One identity: no "From" to choose.
        browser.button("New message").await?.click().await?;
        browser.field("Subject").await?;
        ensure!(
            browser
                .client
                .find(Locator::Css("#compose-from"))
                .await
                .is_err(),
            "a From field with one identity"
        );
        browser.button("Close").await?.click().await?;

        browser
            .click(Locator::Css("summary[aria-label='Settings']"), "Settings")
            .await?;
        browser.button("Identities").await?.click().await?;
        browser
            .wait_for(
                Locator::XPath("//div[@role='dialog'][.//h2[normalize-space()='Identities']]"),
                "the identities dialog",
            )
            .await?;
        let address = identity_field(&browser, 1, "Address").await?;
        assert_eq!(value(&address).await?, "alice@example.test");
        identity_field(&browser, 1, "Name")
            .await?
            .send_keys("Alice Liddell")
            .await?;
        identity_field(&browser, 1, "Signature")
            .await?
            .send_keys("Alice Liddell\nWonderland Ltd")
            .await?;
        browser.button("Add identity").await?.click().await?;
        identity_field(&browser, 2, "Address")
            .await?
            .send_keys("alice@elsewhere.test")
            .await?;
        identity_field(&browser, 2, "Signature")
            .await?
            .send_keys("A. L.")
            .await?;
        // An address that is not one is refused before anything is kept.
        browser.button("Add identity").await?.click().await?;
        identity_field(&browser, 3, "Address")
            .await?
            .send_keys("not an address")
            .await?;
        browser.button("Save identities").await?.click().await?;
        browser
            .wait_for(
                Locator::XPath(
                    "//div[@role='dialog']//p[@role='alert'][contains(., 'not an address is not a valid address')]",
                ),
                "the reason the identities were not saved",
            )
            .await?;
        browser.button("Remove identity 3").await?.click().await?;
        let dir = screenshot_dir()?;
        browser
            .screenshot(&dir.join("identities-desktop.png"))
            .await?;
        browser.button("Save identities").await?.click().await?;
        browser.says("Identities saved.").await?;

        // The form signs with the default, and the other's signature takes its
        // place when it is chosen.
        browser.button("New message").await?.click().await?;
        text_is(&browser, "\n\n-- \nAlice Liddell\nWonderland Ltd").await?;
        let from = browser.field("From").await?;
        from.select_by_value("alice@elsewhere.test").await?;
        text_is(&browser, "\n\n-- \nA. L.").await?;
        from.select_by_value("alice@example.test").await?;
        text_is(&browser, "\n\n-- \nAlice Liddell\nWonderland Ltd").await?;
        browser
            .field("To")
            .await?
            .send_keys("bob@example.test, ")
            .await?;
        browser.field("Subject").await?.send_keys("Signed").await?;
        let text = browser.field("Message").await?;
        text.click().await?;
        browser
            .client
            .execute(
                "const t = document.getElementById('compose-text'); t.setSelectionRange(0, 0);",
                vec![],
            )
            .await?;
        text.send_keys("Hello Bob,").await?;
        browser
            .screenshot(&dir.join("compose-from-desktop.png"))
            .await?;
        text.send_keys(&format!("{}{}", Key::Control, Key::Enter))
            .await?;
        let inbox = delivered(&mail.dovecot, &mail.bob, "INBOX", 1).await?;
        let message = parse(&inbox[0].0)?;
        let sender = message.from().and_then(|a| a.first());
        assert_eq!(sender.and_then(|a| a.name()), Some("Alice Liddell"));
        let body = message
            .body_text(0)
            .unwrap_or_default()
            .replace("\r\n", "\n");
        assert!(
            body.starts_with("Hello Bob,\n\n-- \nAlice Liddell\nWonderland Ltd"),
            "{body:?}"
        );

        // Another browser of Alice's has them too: a tab that keeps nothing of
        // this one (a reload would sign it in again by itself).
        browser
            .client
            .execute("sessionStorage.clear()", vec![])
            .await?;
        browser.client.goto("about:blank").await?;
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        browser.button("New message").await?.click().await?;
        let from = browser.field("From").await?;
        let options = from.find_all(Locator::Css("option")).await?;
        assert_eq!(options.len(), 2);
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}

#[tokio::test]
async fn people_one_read_from_are_suggested_while_typing() -> Result<()> {
    let mail = Mail::start()?;
    for (from, subject) in [
        ("Bob Müller <bob@example.test>", "Plans"),
        ("Carol <carol@example.test>", "Notes"),
    ] {
        mail.append(
            &mail.alice,
            "INBOX",
            &format!(
                "From: {from}\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\
                 Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
            ),
        )
        .await?;
    }
    let bridge = app(&mail).await?;
    let browser = Browser::start(390, 844).await?;
    let result = async {
        browser.sign_in(&bridge.origin(), &mail.alice).await?;
        // Reading Bob's message makes him someone Alice corresponds with.
        browser.open_message("Plans").await?;
        browser
            .button("Reply")
            .await?
            .click()
            .await
            .context("Reply")?;
        browser
            .button("Remove bob@example.test")
            .await?
            .click()
            .await?;
        let to = browser.field("To").await?;
        to.send_keys("mül").await?;
        let option = "//ul[@role='listbox'][@aria-label='Suggestions']/li[@role='option']";
        browser
            .wait_for(
                Locator::XPath(&format!("{option}[contains(., 'Bob Müller')]")),
                "Bob among the suggestions",
            )
            .await?;
        assert_eq!(to.attr("aria-expanded").await?.as_deref(), Some("true"));
        let dir = screenshot_dir()?;
        browser
            .screenshot(&dir.join("suggestions-phone.png"))
            .await?;
        // Carol, not yet read, is not offered; Escape closes the list.
        let options = browser.client.find_all(Locator::XPath(option)).await?;
        assert_eq!(options.len(), 1);
        to.send_keys(&Key::Escape.to_string()).await?;
        eventually("the list closed", || async {
            Ok((to.attr("aria-expanded").await?.as_deref() == Some("false")).then_some(()))
        })
        .await?;
        // The arrow picks, Enter takes it.
        to.send_keys("l").await?;
        browser
            .wait_for(Locator::XPath(option), "the suggestions again")
            .await?;
        to.send_keys(&Key::Down.to_string()).await?;
        eventually("the option chosen", || async {
            Ok(to
                .attr("aria-activedescendant")
                .await?
                .filter(|id| id.ends_with("-0"))
                .map(drop))
        })
        .await?;
        to.send_keys(&Key::Enter.to_string()).await?;
        browser.button("Remove bob@example.test").await?;
        assert_eq!(value(&to).await?, "");
        // What matches nobody opens nothing.
        to.send_keys("zed").await?;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        ensure!(
            browser.client.find(Locator::XPath(option)).await.is_err(),
            "suggestions for zed"
        );
        Ok(())
    }
    .await;
    browser.close().await?;
    result
}
