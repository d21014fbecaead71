//! Headless Chromium driven through chromedriver (WebDriver) with fantoccini.
//! Elements are found the way people find them: by their labels and names.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use super::eventually;

/// The XPath of the message list's row for `subject`.
pub fn message_row(subject: &str) -> String {
    format!("//ul[@aria-label='Messages']/li[.//*[normalize-space()='{subject}']]")
}

/// A bridge serving the built app for `dovecot`, and a desktop-sized browser
/// signed in to it as `user`.
pub async fn signed_in_app(
    dovecot: &maildev::Dovecot,
    user: &maildev::User,
) -> Result<(super::Bridge, Browser)> {
    let bridge = super::Bridge::start(
        &[super::AccountSpec::trusting("Example", dovecot)],
        Some(&dist_dir()?),
    )
    .await?;
    let browser = Browser::start(1280, 860).await?;
    browser.sign_in(&bridge.origin(), user).await?;
    Ok((bridge, browser))
}

/// The built frontend, as `cargo xtask test` leaves it.
pub fn dist_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("POSTERN_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::workspace_root().join("dist"));
    if !dir.join("index.html").is_file() {
        bail!(
            "{} has no built frontend: run `cargo xtask test`, which builds it first",
            dir.display()
        );
    }
    Ok(dir)
}

/// A chromedriver process and a browser session; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a window of this size.
    pub async fn start(width: u32, height: u32) -> Result<Self> {
        Self::start_with(width, height, false).await
    }

    /// As [`Browser::start`], with chromedriver keeping the DevTools protocol's
    /// network events, read by [`Browser::network_events`].
    pub async fn start_recording_network(width: u32, height: u32) -> Result<Self> {
        Self::start_with(width, height, true).await
    }

    async fn start_with(width: u32, height: u32, record_network: bool) -> Result<Self> {
        let port = maildev::free_port()?;
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver: run `cargo xtask test`, which installs it")?;
        let profile = tempfile::tempdir()?;
        let mut browser = BrowserParts {
            driver: Some(driver),
        };
        eventually("chromedriver to listen", || async {
            Ok(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .ok()
                .map(|_| ()))
        })
        .await?;
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = serde_json::json!({ "binary": chromium(), "args": args });
        // Headless windows are at least 500 px wide; phones are emulated instead.
        if width < 500 {
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true }
            });
        }
        let mut capabilities = serde_json::Map::new();
        if record_network {
            options["perfLoggingPrefs"] =
                serde_json::json!({ "enableNetwork": true, "enablePage": false });
            capabilities.insert(
                "goog:loggingPrefs".into(),
                serde_json::json!({ "performance": "ALL" }),
            );
        }
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("cannot open a Chromium session")?;
        Ok(Browser {
            client,
            driver: browser.driver.take().context("driver")?,
            _profile: profile,
        })
    }

    /// The input or menu labelled `label` (by `<label for>` or `aria-label`).
    pub async fn field(&self, label: &str) -> Result<Element> {
        let xpath = format!(
            "//*[self::input or self::select or self::textarea][@id=//label[normalize-space()={0}]/@for or @aria-label={0}]",
            xpath_literal(label)
        );
        self.wait_for(Locator::XPath(&xpath), &format!("field {label:?}"))
            .await
    }

    /// The button whose accessible name is `name` (its text or `aria-label`).
    pub async fn button(&self, name: &str) -> Result<Element> {
        let xpath = format!(
            "//button[normalize-space()={0} or @aria-label={0}]",
            xpath_literal(name)
        );
        self.wait_for(Locator::XPath(&xpath), &format!("button {name:?}"))
            .await
    }

    /// Waits for the app's short note on what just happened ("Message sent.").
    pub async fn says(&self, note: &str) -> Result<()> {
        let xpath = format!("//div[@role='status']/span[normalize-space()='{note}']");
        self.wait_for(Locator::XPath(&xpath), &format!("the note {note:?}"))
            .await
            .map(drop)
    }

    /// Waits until an element matching `locator` exists.
    pub async fn wait_for(&self, locator: Locator<'_>, what: &str) -> Result<Element> {
        eventually(what, || async {
            match self.client.find(locator).await {
                Ok(element) => Ok(Some(element)),
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::NoSuchElement =>
                {
                    Ok(None)
                }
                Err(other) => Err(other.into()),
            }
        })
        .await
    }

    /// Loads the app from `origin` and signs in through the form (without waiting for
    /// the outcome, which may be an error).
    pub async fn sign_in(&self, origin: &str, user: &maildev::User) -> Result<()> {
        self.client.goto(origin).await?;
        self.type_credentials(user).await?;
        self.button("Sign in").await?.click().await?;
        Ok(())
    }

    /// Types `user`'s name and password into the sign-in form.
    pub async fn type_credentials(&self, user: &maildev::User) -> Result<()> {
        self.field("User name").await?.send_keys(&user.name).await?;
        self.field("Password")
            .await?
            .send_keys(&user.password)
            .await?;
        Ok(())
    }

    /// Clicks the listed message with this subject and waits until the reading pane
    /// shows it. The list keeps only the rows in view in the page, so it is scrolled,
    /// a screen at a time (from the top again after the end), until the row is there.
    pub async fn open_message(&self, subject: &str) -> Result<()> {
        let row =
            format!("//ul[@aria-label='Messages']/li//button[.//*[normalize-space()='{subject}']]");
        let seek = format!(
            "const r = document.evaluate(\"{row}\", document, null, 9, null).singleNodeValue;
             if (r) {{ r.scrollIntoView({{block: 'center'}}); return true; }}
             const ul = document.querySelector(\"ul[aria-label='Messages']\");
             if (!ul) return false;
             const list = ul.parentElement;
             if (list.scrollTop + list.clientHeight >= list.scrollHeight - 1) list.scrollTop = 0;
             else list.scrollTop += list.clientHeight * 0.8;
             return false;"
        );
        eventually(&format!("the row {subject:?}"), async || {
            let found = self.client.execute(&seek, vec![]).await?;
            Ok((found == serde_json::Value::Bool(true)).then_some(()))
        })
        .await?;
        self.click(Locator::XPath(&row), &format!("the row {subject:?}"))
            .await?;
        let heading = format!("//h2[@id='reader-subject'][normalize-space()='{subject}']");
        self.wait_for(
            Locator::XPath(&heading),
            &format!("the message {subject:?}"),
        )
        .await
        .map(drop)
    }

    /// Finds and clicks an element, again if the app replaced it in between (a
    /// re-render leaves the old node stale).
    pub async fn click(&self, locator: Locator<'_>, what: &str) -> Result<()> {
        use fantoccini::error::{CmdError, ErrorStatus};
        eventually(what, || async {
            let element = match self.client.find(locator).await {
                Ok(element) => element,
                Err(CmdError::Standard(e)) if e.error == ErrorStatus::NoSuchElement => {
                    return Ok(None);
                }
                Err(other) => return Err(other.into()),
            };
            match element.click().await {
                Ok(_) => Ok(Some(())),
                Err(CmdError::Standard(e)) if e.error == ErrorStatus::StaleElementReference => {
                    Ok(None)
                }
                Err(other) => Err(other.into()),
            }
        })
        .await
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.client.screenshot().await?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Runs a DevTools protocol command (`Network.emulateNetworkConditions`, say) in
    /// the tab, returning its result.
    pub async fn devtools(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let body = serde_json::json!({ "cmd": method, "params": params });
        Ok(self
            .client
            .issue_cmd(Chromedriver("goog/cdp/execute", body))
            .await?)
    }

    /// The DevTools protocol's network events (`{"method", "params"}`) since the last
    /// call; the browser must have been started by [`Browser::start_recording_network`].
    pub async fn network_events(&self) -> Result<Vec<serde_json::Value>> {
        let body = serde_json::json!({ "type": "performance" });
        let log = self.client.issue_cmd(Chromedriver("se/log", body)).await?;
        let entries = log.as_array().context("a log")?;
        Ok(entries
            .iter()
            .filter_map(|entry| {
                let text = entry.get("message")?.as_str()?;
                let mut message: serde_json::Value = serde_json::from_str(text).ok()?;
                Some(message.get_mut("message")?.take())
            })
            .filter(|event| {
                event["method"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Network."))
            })
            .collect())
    }

    pub async fn close(mut self) -> Result<()> {
        let result = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        result.map_err(Into::into)
    }
}

/// A chromedriver command outside W3C WebDriver: `POST /session/{id}/{path}`.
#[derive(Debug)]
struct Chromedriver(&'static str, serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Chromedriver {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.1.to_string()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills chromedriver if starting the session fails half-way.
struct BrowserParts {
    driver: Option<Child>,
}

impl Drop for BrowserParts {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// `text` as an XPath string literal, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
