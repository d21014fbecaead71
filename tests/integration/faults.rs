//! 200 faults between the bridge and Dovecot while a person works and another
//! client changes the same mailbox: after each, the app's view equals the
//! server's, and at the end nothing is lost or done twice (`tests::faults`).

use anyhow::Result;

#[tokio::test]
async fn the_apps_view_stays_the_servers_through_200_faults() -> Result<()> {
    let report = tests::faults::run(0x5eed_0019, 200, 1).await?;
    eprintln!("{report:#?}");
    Ok(())
}
