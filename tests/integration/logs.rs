//! The log of a bridge process at trace level, as JSON lines, over a whole
//! session: every line is JSON, the session's lines carry its id, and no line
//! holds a password, a resume token or a message's text. The bridge then stops
//! on SIGTERM and exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use protocol::{Flag, Reply, Request, ResumeToken};
use tests::fleet::{config_text, postern_binary};
use tests::{AccountSpec, Bridge, User, eventually, http_get};

use crate::seed::seeded_server;

#[tokio::test]
async fn a_trace_log_holds_no_secret_and_names_the_session() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let dir = tempfile::tempdir()?;
    let port = maildev::free_port()?;
    let origin = format!("http://127.0.0.1:{port}");
    let static_dir = dir.path().join("static");
    std::fs::create_dir(&static_dir)?;
    let config = dir.path().join("postern.toml");
    let extra = format!(
        "log_format = \"json\"\nsession_key_file = {:?}\n",
        dir.path().join("session.key").display().to_string()
    );
    std::fs::write(
        &config,
        config_text(
            port,
            &origin,
            &static_dir,
            &extra,
            &[AccountSpec::trusting("Example", &dovecot)],
        ),
    )?;
    let log_path = dir.path().join("postern.log");
    let log = std::fs::File::create(&log_path)?;
    let mut child = Command::new(postern_binary()?)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "trace")
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()?;
    let ready = format!("{origin}/readyz");
    eventually("the bridge to be ready", || async {
        Ok(http_get(&ready).await.ok().filter(|r| r.status == 200))
    })
    .await?;
    let bridge = Bridge::running_at(format!("127.0.0.1:{port}").parse()?)?;

    // A whole session: a wrong password, a sign-in, reading, a flag, a resume
    // on another socket, and a sign-out.
    let wrong_password = "not-the-password-0451";
    let mut client = bridge.connect().await?;
    let refused = client
        .sign_in(None, &User::new(&user.name, wrong_password))
        .await?;
    ensure!(refused.is_err(), "{refused:?}");
    let Reply::SignedIn {
        resume: Some(first),
        ..
    } = client.sign_in(None, &user).await??
    else {
        bail!("no resume token");
    };
    let window = client.open("INBOX", 10).await?;
    let uid = window.messages[0].uid;
    let view = client.open_message("INBOX", uid, None).await?;
    client
        .ok(Request::SetFlags {
            folder: "INBOX".into(),
            uids: vec![uid],
            add: vec![Flag::Flagged],
            remove: vec![],
        })
        .await?;
    drop(client);
    let mut client = bridge.connect().await?;
    let Reply::SignedIn {
        resume: Some(second),
        ..
    } = client
        .ok(Request::Resume {
            token: first.clone(),
        })
        .await?
    else {
        bail!("no renewed token");
    };
    client.folders().await?;
    client.ok(Request::SignOut).await?;
    drop(client);

    // SIGTERM: the bridge stops and exits 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    ensure!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let exited = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the bridge did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ensure!(exited.success(), "the bridge exited with {exited}");

    let text = std::fs::read_to_string(&log_path)?;
    let lines: Vec<&str> = text.lines().collect();
    ensure!(lines.len() >= 8, "only {} lines logged", lines.len());
    let body_text = match view.body.as_ref().map(|b| &b.content) {
        Some(protocol::BodyContent::Text { text }) => text.trim().to_owned(),
        Some(protocol::BodyContent::Html { .. }) | None => String::new(),
    };
    let secrets: Vec<(&str, String)> = vec![
        ("the password", user.password.clone()),
        ("the wrong password", wrong_password.to_owned()),
        ("the first token", token_part(&first)),
        ("the renewed token", token_part(&second)),
    ];
    let mut session_lines = 0;
    for line in &lines {
        let json: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("a log line that is not JSON: {line}"))?;
        for (what, secret) in &secrets {
            ensure!(
                !line.contains(secret.as_str()),
                "{what} is in the log: {line}"
            );
        }
        if !body_text.is_empty() {
            ensure!(
                !line.contains(&body_text),
                "the message's text is in the log: {line}"
            );
        }
        if json["message"] == "signed in" {
            ensure!(
                json["span"]["name"] == "session" && json["span"]["id"].is_string(),
                "the sign-in line names its session: {line}"
            );
            session_lines += 1;
        }
    }
    ensure!(
        session_lines == 2,
        "two sign-ins logged, found {session_lines}"
    );
    Ok(())
}

/// Enough of a token to find it in a line, should it be there.
fn token_part(token: &ResumeToken) -> String {
    token.0.chars().take(24).collect()
}
