//! The bridge against a real Dovecot over TLS, through a real WebSocket.

use anyhow::Result;
use protocol::{ErrorCode, Flag, FolderRole, Reply, Request};
use tests::{AccountSpec, Bridge, Dovecot, User, WsClient, eventually, handshake};

use crate::seed::{ARCHIVE_COUNT, INBOX_NEWEST_FIRST, alice, seeded_server};

async fn signed_in() -> Result<(Dovecot, Bridge, WsClient)> {
    let (dovecot, user) = seeded_server().await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    assert_eq!(client.accounts, ["Example"]);
    let mut reply = client.sign_in(None, &user).await??;
    let Reply::SignedIn { resume, .. } = &mut reply else {
        panic!("{reply:?}");
    };
    assert!(
        resume.take().is_some(),
        "a resume token comes with the sign-in"
    );
    assert_eq!(
        reply,
        Reply::SignedIn {
            sending: None,
            account: "Example".into(),
            user: "alice".into(),
            protocol: protocol::MailProtocol::Imap,
            preferences: protocol::Preferences::default(),
            resume: None,
        }
    );
    Ok((dovecot, bridge, client))
}

#[tokio::test]
async fn folder_list_matches_the_seeded_mailbox() -> Result<()> {
    let (_dovecot, _bridge, mut client) = signed_in().await?;
    let folders = client.folders().await?;
    let ids: Vec<&str> = folders.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "INBOX",
            "Drafts",
            "Sent",
            "Archive",
            "Junk",
            "Trash",
            "Work",
            "Work/Reports"
        ]
    );
    let by_id = |id: &str| folders.iter().find(|f| f.id == id).expect(id);
    let inbox = by_id("INBOX");
    assert_eq!(
        (inbox.name.as_str(), inbox.role, inbox.total, inbox.unread),
        ("Inbox", Some(FolderRole::Inbox), 5, 2)
    );
    assert_eq!(by_id("Sent").role, Some(FolderRole::Sent));
    assert_eq!(by_id("Trash").role, Some(FolderRole::Trash));
    let archive = by_id("Archive");
    assert_eq!((archive.total, archive.unread), (ARCHIVE_COUNT as u32, 0));
    let reports = by_id("Work/Reports");
    assert_eq!(
        (
            reports.name.as_str(),
            reports.parent.as_deref(),
            reports.depth,
            reports.total,
            reports.unread
        ),
        ("Reports", Some("Work"), 1, 1, 1)
    );
    Ok(())
}

#[tokio::test]
async fn header_windows_come_newest_first_with_flags_and_decoded_headers() -> Result<()> {
    let (_dovecot, _bridge, mut client) = signed_in().await?;
    let inbox = client.open("INBOX", 3).await?;
    assert_eq!((inbox.total, inbox.unread, inbox.offset), (5, 2, 0));
    assert_ne!(inbox.uid_validity, 0);
    assert_eq!(inbox.subjects(), INBOX_NEWEST_FIRST[..3]);
    let messages = &inbox.messages;
    assert!(
        messages
            .windows(2)
            .all(|w| w[0].uid > w[1].uid && w[0].date > w[1].date)
    );

    let newest = &messages[0];
    assert_eq!(newest.from[0].name.as_deref(), Some("Grace Hopper"));
    assert_eq!(newest.from[0].email, "grace@example.org");
    assert_eq!(newest.to[0].email, "alice@example.org");
    assert_eq!(newest.date, crate::seed::T0 + 240);
    assert!(newest.is_unread() && newest.is_flagged());
    let cologne = &messages[1];
    assert_eq!(cologne.from[0].name.as_deref(), Some("José Núñez"));
    assert!(cologne.is_unread() && !cologne.is_flagged());
    assert!(messages[2].flags.contains(&Flag::Seen));
    assert!(messages.iter().all(|m| !m.has_attachments && m.size > 0));

    let older = client.window("INBOX", 3, 3).await?;
    assert_eq!((older.offset, older.total), (3, 5));
    assert_eq!(older.subjects(), INBOX_NEWEST_FIRST[3..]);
    let quarterly = &older.messages[0];
    assert!(
        quarterly.has_attachments,
        "the quarterly numbers carry a PDF"
    );
    assert!(quarterly.is_flagged() && !quarterly.is_unread());
    Ok(())
}

#[tokio::test]
async fn long_folders_are_paged_in_windows() -> Result<()> {
    let (_dovecot, _bridge, mut client) = signed_in().await?;
    let first = client.open("Archive", 50).await?;
    assert_eq!(
        (first.total, first.messages.len()),
        (ARCHIVE_COUNT as u32, 50)
    );
    assert_eq!(
        first.subjects()[0],
        format!("Archived message {:03}", ARCHIVE_COUNT - 1)
    );
    let last = client.window("Archive", 100, 50).await?;
    assert_eq!(last.messages.len(), ARCHIVE_COUNT - 100);
    assert_eq!(last.subjects().last(), Some(&"Archived message 000"));
    let beyond = client.window("Archive", 500, 50).await?;
    assert!(beyond.messages.is_empty());
    Ok(())
}

#[tokio::test]
async fn missing_folders_and_hostile_names_get_clear_errors() -> Result<()> {
    let (_dovecot, _bridge, mut client) = signed_in().await?;
    let missing = client
        .request(Request::OpenFolder {
            folder: "No such folder".into(),
            limit: 10,
            sort: Default::default(),
        })
        .await?;
    assert_eq!(missing.map_err(|e| e.code), Err(ErrorCode::FolderNotFound));
    let injected = client
        .request(Request::OpenFolder {
            folder: "INBOX\r\nA1 DELETE INBOX".into(),
            limit: 10,
            sort: Default::default(),
        })
        .await?;
    assert_eq!(injected.map_err(|e| e.code), Err(ErrorCode::BadRequest));
    // The session survives both.
    client.folders().await?;
    Ok(())
}

#[tokio::test]
async fn signing_out_and_closing_the_socket_log_out_of_imap() -> Result<()> {
    let (dovecot, bridge, mut client) = signed_in().await?;
    assert_eq!(client.ok(Request::SignOut).await?, Reply::SignedOut);
    let after = client.request(Request::ListFolders).await?;
    assert_eq!(after.map_err(|e| e.code), Err(ErrorCode::NotSignedIn));
    let logged_out = |n: usize| {
        let dovecot = &dovecot;
        move || async move { Ok((dovecot.logs().matches("Logged out").count() >= n).then_some(())) }
    };
    eventually("the sign-out to log out of IMAP", logged_out(1)).await?;

    let mut second = bridge.connect().await?;
    second.sign_in(None, &alice()).await??;
    drop(second);
    eventually("the closed socket to log out of IMAP", logged_out(2)).await?;
    Ok(())
}

#[tokio::test]
async fn wrong_password_gets_its_code_and_repeated_failures_are_throttled() -> Result<()> {
    let (dovecot, _user) = seeded_server().await?;
    let bridge = Bridge::start(&[AccountSpec::trusting("Example", &dovecot)], None).await?;
    let mut client = bridge.connect().await?;
    let wrong = User::new("alice", "wrong");
    for _ in 0..3 {
        let error = client
            .sign_in(None, &wrong)
            .await?
            .expect_err("wrong password accepted");
        assert_eq!(error.code, ErrorCode::WrongCredentials);
        assert_eq!(error.message, "The user name or password is not correct.");
    }
    // The fourth try is answered by the bridge without asking the server.
    let throttled = client
        .sign_in(None, &alice())
        .await?
        .expect_err("not throttled");
    assert_eq!(throttled.code, ErrorCode::TooManyAttempts);
    assert!(throttled.message.contains("wait"), "{}", throttled.message);
    assert!(
        !dovecot.logs().contains("correct horse"),
        "a password reached a log"
    );
    Ok(())
}

#[tokio::test]
async fn an_untrusted_certificate_gets_the_tls_code() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let account = AccountSpec {
        ca_file: None,
        ..AccountSpec::trusting("Example", &dovecot)
    };
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = bridge.connect().await?;
    let error = client
        .sign_in(None, &user)
        .await?
        .expect_err("untrusted certificate accepted");
    assert_eq!(error.code, ErrorCode::TlsFailure);
    Ok(())
}

#[tokio::test]
async fn starttls_accounts_sign_in_over_the_upgraded_connection() -> Result<()> {
    let (dovecot, user) = seeded_server().await?;
    let account = AccountSpec {
        imap: dovecot.imap_starttls_url(),
        ..AccountSpec::trusting("Example", &dovecot)
    };
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = bridge.connect().await?;
    client.sign_in(None, &user).await??;
    client.folders().await?;
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_gets_its_code() -> Result<()> {
    let port = maildev::free_port()?;
    let account = AccountSpec {
        name: "Gone".into(),
        imap: format!("imaps://127.0.0.1:{port}"),
        pop3: None,
        ca_file: None,
        extra: String::new(),
    };
    let bridge = Bridge::start(&[account], None).await?;
    let mut client = bridge.connect().await?;
    let error = client
        .sign_in(None, &alice())
        .await?
        .expect_err("signed in to nothing");
    assert_eq!(error.code, ErrorCode::ServerUnreachable);
    Ok(())
}

#[tokio::test]
async fn websockets_from_other_or_missing_origins_are_refused() -> Result<()> {
    let bridge = Bridge::start(&[AccountSpec::unreachable("X")], None).await?;
    for origin in [Some("http://evil.example"), Some("null"), None] {
        let refused = handshake(&bridge, origin).await?;
        assert_eq!(refused.err(), Some(403), "origin {origin:?}");
    }
    let mut client = bridge.connect().await?;
    let early = client.request(Request::ListFolders).await?;
    assert_eq!(early.map_err(|e| e.code), Err(ErrorCode::NotSignedIn));
    Ok(())
}

#[tokio::test]
async fn one_bridge_serves_two_servers_chosen_by_account_name() -> Result<()> {
    let (first, alice) = seeded_server().await?;
    let bob = User::new("bob", "bobs-own-password");
    let second = Dovecot::start(std::slice::from_ref(&bob))?;
    let mut imap = second.imap(&bob).await?;
    maildev::sample::append_all(
        &mut imap,
        &[maildev::sample::Sample {
            folder: "INBOX".into(),
            flags: vec![],
            date: crate::seed::T0,
            raw: maildev::sample::plain(
                &maildev::sample::Headers {
                    from: "Carol <carol@example.net>",
                    to: "bob@example.net",
                    subject: "Only on the second server",
                    date: crate::seed::T0,
                },
                "Hi Bob",
            ),
        }],
    )
    .await?;
    let bridge = Bridge::start(
        &[
            AccountSpec::trusting("First", &first),
            AccountSpec::trusting("Second", &second),
        ],
        None,
    )
    .await?;
    let mut client = bridge.connect().await?;
    assert_eq!(client.accounts, ["First", "Second"]);
    let unnamed = client.sign_in(None, &bob).await?.map_err(|e| e.code);
    assert_eq!(unnamed, Err(ErrorCode::UnknownAccount));
    let wrong_server = client
        .sign_in(Some("First"), &bob)
        .await?
        .map_err(|e| e.code);
    assert_eq!(wrong_server, Err(ErrorCode::WrongCredentials));
    client.sign_in(Some("Second"), &bob).await??;
    let inbox = client.open("INBOX", 10).await?;
    assert_eq!(inbox.subjects(), ["Only on the second server"]);
    client.sign_in(Some("First"), &alice).await??;
    let inbox = client.open("INBOX", 1).await?;
    assert_eq!(inbox.total, INBOX_NEWEST_FIRST.len() as u32);
    Ok(())
}

#[tokio::test]
async fn an_endless_response_ends_only_its_own_session() -> Result<()> {
    hostile_server_ends_only_its_own_session(tests::hostile::Misbehaviour::EndlessResponse).await
}

#[tokio::test]
async fn a_deeply_nested_response_ends_only_its_own_session() -> Result<()> {
    hostile_server_ends_only_its_own_session(tests::hostile::Misbehaviour::DeepNesting).await
}

async fn hostile_server_ends_only_its_own_session(
    misbehaviour: tests::hostile::Misbehaviour,
) -> Result<()> {
    let hostile = tests::hostile::HostileImap::start(misbehaviour).await?;
    let (dovecot, user) = seeded_server().await?;
    let bridge = Bridge::start(
        &[
            hostile.account("Hostile"),
            AccountSpec::trusting("Real", &dovecot),
        ],
        None,
    )
    .await?;
    let mut victim = bridge.connect().await?;
    let error = victim
        .sign_in(Some("Hostile"), &user)
        .await?
        .expect_err("signed in to a hostile server");
    assert_eq!(error.code, ErrorCode::ServerUnreachable);
    // The bridge and its other sessions carry on, and so does this socket.
    let mut other = bridge.connect().await?;
    other.sign_in(Some("Real"), &user).await??;
    other.folders().await?;
    victim.sign_in(Some("Real"), &user).await??;
    Ok(())
}
