//! 1,000 faults between the bridge and Dovecot (`tests::faults`, the run the
//! integration test makes 200 of): what survived, how often the bridge
//! resynchronized, and divergences, of which any fails the run.

use anyhow::Result;

use crate::report::{Report, Section};

pub async fn measure(report: &mut Report) -> Result<()> {
    eprintln!("==> faults: 1,000 between the bridge and Dovecot (about 15 minutes)");
    let run = tests::faults::run(0xfa01_7ee5, 1_000, 5).await?;
    let s = Section::Faults;
    let kinds: Vec<String> = run
        .by_kind
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    report.text(
        s,
        "faults survived",
        run.faults.to_string(),
        kinds.join(", "),
    );
    report.text(
        s,
        "the bridge connected again (and resynchronized)",
        run.reconnects.to_string(),
        format!("{} times told to open INBOX afresh", run.resets),
    );
    report.text(
        s,
        "the person's requests",
        run.actions.to_string(),
        format!("{} failed and were made again", run.retried),
    );
    report.text(
        s,
        "divergences (app's view against the server's)",
        "0".to_owned(),
        format!(
            "{} changes by another client; longest wait to agree {} ms",
            run.changes,
            run.longest_settle.as_millis()
        ),
    );
    report.raw("faults_survived", run.faults.into());
    report.raw("faults_reconnects", run.reconnects.into());
    report.raw("faults_retried", run.retried.into());
    Ok(())
}
