//! Three bridge processes behind HAProxy, from the deployment example: two people
//! signed in through it, the bridge holding their sessions killed outright, and
//! both carry on on another bridge, in the same folder with the same message
//! open, without typing their password; what one of them did as the bridge died
//! is done once. Then another bridge is stopped with SIGTERM: it moves its
//! browsers and exits 0.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use fantoccini::Locator;
use tests::browser::{Browser, dist_dir};
use tests::fleet::{Balancer, Fleet};
use tests::{AccountSpec, eventually};

use crate::seed::seeded_server;

const REPORTS: &str =
    "//nav[@aria-label='Folders']//button[contains(normalize-space(.), 'Reports')]";

fn heading(subject: &str) -> String {
    format!("//h2[@id='reader-subject'][normalize-space()='{subject}']")
}

/// Waits until `browser` shows `subject` open in the folder named `folder`.
async fn shows(browser: &Browser, folder: &str, subject: &str, when: &str) -> Result<()> {
    let open_folder = format!(
        "//nav[@aria-label='Folders']//button[@aria-current='page'][contains(normalize-space(.), '{folder}')]"
    );
    browser
        .wait_for(
            Locator::XPath(&open_folder),
            &format!("{when}: {folder} open"),
        )
        .await?;
    browser
        .wait_for(
            Locator::XPath(&heading(subject)),
            &format!("{when}: {subject:?} open"),
        )
        .await?;
    Ok(())
}

/// Ann, signed in through the balancer, reading the weekly report.
async fn reading_the_report(fleet: &Fleet, user: &tests::User) -> Result<Browser> {
    let ann = Browser::start(1280, 860).await?;
    ann.sign_in(&fleet.origin, user).await?;
    ann.click(Locator::XPath(REPORTS), "the folder Reports")
        .await?;
    ann.open_message("Weekly report").await?;
    Ok(ann)
}

/// Ann flags her open message as her bridge dies: the request waits for the
/// resume, and the flag shows once it is done.
async fn flag_as_it_dies(ann: &Browser, killed: Instant, behind: &str) -> Result<()> {
    ann.click(Locator::XPath("//button[normalize-space()='Flag']"), "Flag")
        .await?;
    ann.wait_for(
        Locator::XPath("//button[@aria-pressed='true'][normalize-space()='Remove flag']"),
        "the flag on Ann's message",
    )
    .await?;
    println!(
        "{behind}, the flag asked for as the bridge died was done {:?} after the kill",
        killed.elapsed()
    );
    Ok(())
}

/// The server holds the report flagged, once.
async fn flagged_once(dovecot: &tests::Dovecot, user: &tests::User) -> Result<()> {
    let mut imap = dovecot.imap(user).await?;
    imap.select("Work/Reports").await?;
    let flagged = imap.uid_search("FLAGGED").await?;
    ensure!(
        flagged.len() == 1,
        "the report is flagged once: {flagged:?}"
    );
    imap.logout().await?;
    Ok(())
}

#[tokio::test]
async fn a_killed_bridges_people_carry_on_on_another() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let mut fleet = Fleet::start(
        3,
        &[AccountSpec::trusting("Example", &dovecot)],
        &dist_dir()?,
    )
    .await?;

    let ann = reading_the_report(&fleet, &user).await?;
    let ben = Browser::start(1280, 860).await?;
    ben.sign_in(&fleet.origin, &user).await?;
    ben.open_message("Oldest note").await?;

    let serving = fleet.serving_websockets().await?;
    ensure!(!serving.is_empty(), "no bridge holds a WebSocket");
    let victim = serving[0];
    let killed = Instant::now();
    fleet.kill(victim)?;
    flag_as_it_dies(&ann, killed, "behind HAProxy").await?;
    shows(&ann, "Reports", "Weekly report", "Ann, after the kill").await?;
    shows(&ben, "Inbox", "Oldest note", "Ben, after the kill").await?;
    flagged_once(&dovecot, &user).await?;
    // Both work on the bridges that are left.
    ben.open_message("Quarterly numbers").await?;
    ann.click(Locator::XPath(REPORTS), "the folder Reports again")
        .await?;
    ann.open_message("Weekly report").await?;

    // A bridge asked to stop moves its browsers and exits 0.
    let serving = fleet.serving_websockets().await?;
    ensure!(
        !serving.is_empty(),
        "no bridge holds a WebSocket after the move"
    );
    let status = fleet.terminate(serving[0], Duration::from_secs(15)).await?;
    ensure!(status.success(), "the bridge stopped with {status}");
    eventually("a bridge to be left holding the browsers", || async {
        let now = fleet.serving_websockets().await?;
        Ok((!now.is_empty() && !now.contains(&serving[0])).then_some(()))
    })
    .await?;
    ben.open_message("Oldest note").await?;
    shows(&ann, "Reports", "Weekly report", "Ann, after the stop").await?;
    ann.close().await?;
    ben.close().await?;
    Ok(())
}

/// The systemd unit in `contrib/` is one systemd accepts, for the bridge this
/// build makes.
#[test]
fn the_systemd_unit_is_valid() -> Result<()> {
    let Ok(found) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: this machine has no systemd-analyze");
        return Ok(());
    };
    ensure!(found.status.success());
    let unit = std::fs::read_to_string(tests::workspace_root().join("contrib/postern.service"))?;
    let binary = tests::fleet::postern_binary()?;
    ensure!(unit.contains("ExecStart=/usr/local/bin/postern --config"));
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("postern.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/postern", &binary.display().to_string()),
    )?;
    let verified = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()?;
    ensure!(
        verified.status.success() && verified.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    Ok(())
}

/// The same behind nginx, from its example: the bridge holding a person's
/// session is killed, and they carry on on another without their password.
#[tokio::test]
async fn behind_nginx_a_killed_bridges_people_carry_on_too() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let mut fleet = Fleet::start_behind(
        Balancer::Nginx,
        3,
        &[AccountSpec::trusting("Example", &dovecot)],
        &dist_dir()?,
    )
    .await?;
    let ann = reading_the_report(&fleet, &user).await?;
    let serving = fleet.serving_websockets().await?;
    ensure!(
        serving.len() == 1,
        "one bridge holds Ann's WebSocket: {serving:?}"
    );
    let killed = Instant::now();
    fleet.kill(serving[0])?;
    flag_as_it_dies(&ann, killed, "behind nginx").await?;
    shows(&ann, "Reports", "Weekly report", "after the kill").await?;
    ann.open_message("Weekly report").await?;
    let moved = fleet.serving_websockets().await?;
    ensure!(
        moved.len() == 1 && moved[0] != serving[0],
        "Ann is on another bridge: {moved:?}"
    );
    flagged_once(&dovecot, &user).await?;
    ann.close().await?;
    Ok(())
}
