//! The `/ws` endpoint: the Origin check before the upgrade, and per connection a
//! loop that turns text frames into requests and answers back into frames. Knows
//! nothing of IMAP: sign-in and requests go through [`crate::session`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use protocol::{
    ClientMessage, ErrorCode, Event, MailProtocol, Preferences, Reply, Request, ServerMessage,
    WireError,
};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::AppState;
use crate::config::normalize_origin;
use crate::profiles::Profile;
use crate::resume::{Grant, RENEW_EVERY};
use crate::session::{self, ErrorChain, SessionHandle};

/// The largest frame the browser may send: requests are small.
const MAX_INBOUND: usize = 64 * 1024;
/// Messages waiting to be written to a slow browser; beyond this the connection waits.
const OUTBOUND_QUEUE: usize = 32;
/// A connection without requests for this long is closed, which signs it out.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Pings keep proxies from closing a quiet but live socket; they do not count as use.
const PING_EVERY: Duration = Duration::from_secs(30);

/// Upgrades to a WebSocket only for the configured origin; 403 otherwise, including
/// when the header is missing.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize_origin);
    let peer = SocketAddr::new(
        crate::proxies::client_address(peer.ip(), &headers, &state.config.trusted_proxies),
        peer.port(),
    );
    if *state.stopping.borrow() {
        // The load balancer tries another bridge.
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "This bridge is stopping. Try again in a moment.\n",
        )
            .into_response();
    }
    if origin.as_deref() != Some(state.config.public_origin.as_str()) {
        tracing::info!(?origin, %peer, "refused a WebSocket from another origin");
        return (
            StatusCode::FORBIDDEN,
            "This origin may not use Postern's WebSocket.\n",
        )
            .into_response();
    }
    // The read buffer starts small (tungstenite's default is 128 KiB, most of an
    // idle session's memory) and grows to the largest frame allowed when needed.
    ws.max_message_size(MAX_INBOUND)
        .max_frame_size(MAX_INBOUND)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            // Every line logged for this connection, and for its session, names it.
            let span = tracing::info_span!("session", id = %connection_id());
            tracing::Instrument::instrument(connection(socket, state, peer.ip()), span)
        })
}

/// A short random name for a connection in the log.
fn connection_id() -> String {
    let mut bytes = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The WebSocket read buffer's starting size.
const READ_BUFFER: usize = 4 * 1024;

/// The WebSocket close code that asks the browser to come back (to another
/// bridge) at once: "Service Restart".
const MOVE_ELSEWHERE: u16 = 1012;
/// The longest a stopping bridge spreads its browsers' moves over.
const MOVE_SPREAD: Duration = Duration::from_secs(10);

async fn connection(socket: WebSocket, state: Arc<AppState>, peer: IpAddr) {
    // A stopping bridge waits for this connection to end.
    let _running = state.tasks.token();
    let _counted = state.metrics.websocket();
    let metrics = state.metrics.clone();
    let (mut sink, mut frames) = socket.split();
    let (outbound, mut queue) = mpsc::channel::<ServerMessage>(OUTBOUND_QUEUE);
    // The end of the connection, with the close code to give (none: a plain
    // close). The session may outlive it a little (a download finishing).
    let (finish, mut finished) = tokio::sync::oneshot::channel::<Option<u16>>();
    let writer = tokio::spawn(async move {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let code = loop {
            let frame = tokio::select! {
                biased;
                message = queue.recv() => match message {
                    Some(message) => {
                        let text = encode(&message);
                        metrics.sent(text.len(), matches!(message, ServerMessage::Event { .. }));
                        Message::Text(text.into())
                    }
                    None => break None,
                },
                code = &mut finished => {
                    // What was answered goes out first.
                    while let Ok(message) = queue.try_recv() {
                        let _ = sink.send(Message::Text(encode(&message).into())).await;
                    }
                    break code.ok().flatten();
                }
                _ = ping.tick() => Message::Ping(Default::default()),
            };
            if sink.send(frame).await.is_err() {
                return;
            }
        };
        match code {
            None => {
                let _ = sink.close().await;
            }
            Some(code) => {
                let frame = axum::extract::ws::CloseFrame {
                    code,
                    reason: "Postern is restarting".into(),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
            }
        }
    });

    let accounts = &state.config.accounts;
    let named = |offers: fn(&crate::config::Account) -> bool| {
        accounts
            .iter()
            .filter(|a| offers(a))
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
    };
    let pop3 = named(|a| a.pop3.is_some());
    let imap = if pop3.is_empty() {
        Vec::new()
    } else {
        named(|a| a.imap.is_some())
    };
    let hello = ServerMessage::Hello {
        accounts: accounts.iter().map(|a| a.name.clone()).collect(),
        pop3,
        imap,
    };
    let _ = outbound.send(hello).await;

    let mut session: Option<SessionHandle> = None;
    // The signed-in user's correspondents, for suggestions.
    let mut people: Option<Profile> = None;
    // What the session's resume tokens hold.
    let mut grant: Option<Grant> = None;
    // Counts the session while it lives.
    let mut counted = None;
    let mut last_request = tokio::time::Instant::now();
    let mut renew = tokio::time::interval_at(last_request + RENEW_EVERY, RENEW_EVERY);
    let mut stopping = state.stopping.clone();
    // When a stopping bridge asks this browser to move: a moment of its own, so
    // that its browsers do not all come back to the others at once.
    let mut move_at: Option<tokio::time::Instant> = None;
    let mut close_with = None;
    loop {
        let next = tokio::select! {
            () = async { drop(stopping.wait_for(|s| *s).await) }, if move_at.is_none() => {
                let spread = MOVE_SPREAD.min(state.config.shutdown_after / 3);
                move_at = Some(tokio::time::Instant::now() + crate::session::jittered_within(spread));
                continue;
            }
            () = tokio::time::sleep_until(move_at.unwrap_or_else(tokio::time::Instant::now)), if move_at.is_some() => {
                tracing::info!(%peer, "asked the browser to move to another bridge");
                close_with = Some(MOVE_ELSEWHERE);
                state.metrics.moved();
                break;
            }
            next = tokio::time::timeout_at(last_request + IDLE_TIMEOUT, frames.next()) => next,
            _ = renew.tick() => {
                if let Some(resume) = grant.as_ref().and_then(|g| state.sealer.seal(g)) {
                    let renewed = ServerMessage::Event { event: Event::SessionRenewed { resume } };
                    if outbound.send(renewed).await.is_err() {
                        break;
                    }
                }
                continue;
            }
        };
        let Ok(Some(Ok(frame))) = next else {
            if next.is_err() {
                tracing::info!(%peer, "idle connection closed");
            }
            break;
        };
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Binary(_) => {
                tracing::debug!(%peer, "binary frame; closing");
                break;
            }
        };
        last_request = tokio::time::Instant::now();
        let Ok(ClientMessage { id, request }) = serde_json::from_str::<ClientMessage>(&text) else {
            // Without a readable id there is nobody to answer: the client is broken.
            tracing::debug!(%peer, "unreadable request; closing");
            break;
        };
        let started = Instant::now();
        let kind = crate::metrics::kind_of(&request);
        let answer = match request {
            Request::SignIn {
                account,
                user,
                password,
                protocol,
            } => {
                let password = Zeroizing::new(password);
                // A new sign-in replaces any session this connection had.
                session = None;
                people = None;
                grant = None;
                sign_in(
                    &state,
                    peer,
                    account.as_deref(),
                    protocol,
                    &user,
                    &password,
                    &outbound,
                )
                .await
                .map(|(handle, profile, reply)| {
                    session = Some(handle);
                    people = Some(profile);
                    let (reply, signed_in) = with_resume(&state, reply, None, &password);
                    grant = Some(signed_in);
                    reply
                })
            }
            Request::Resume { token } => {
                session = None;
                people = None;
                grant = None;
                resume(&state, peer, &token, &outbound).await.map(
                    |(handle, profile, reply, resumed)| {
                        session = Some(handle);
                        people = Some(profile);
                        let (reply, resumed) = with_resume(&state, reply, Some(resumed), "");
                        grant = Some(resumed);
                        reply
                    },
                )
            }
            Request::SignOut if session.is_none() => Ok(Reply::SignedOut),
            Request::Ping => Ok(Reply::Pong),
            Request::SuggestRecipients { text } => match &people {
                None => Err(ErrorCode::NotSignedIn.into()),
                Some(profile) => suggest(profile, text).await,
            },
            Request::SavePreferences { preferences } => match &people {
                None => Err(ErrorCode::NotSignedIn.into()),
                Some(profile) => save_preferences(profile, preferences).await,
            },
            request => match &session {
                None => Err(ErrorCode::NotSignedIn.into()),
                Some(handle) => {
                    let signing_out = matches!(request, Request::SignOut);
                    let answer = handle.call(request).await;
                    if signing_out {
                        session = None;
                        people = None;
                        if let Some(grant) = grant.take() {
                            state.sealer.revoke(&grant);
                        }
                    }
                    answer
                }
            },
        };
        state.metrics.answered(
            &kind,
            started.elapsed().as_secs_f64(),
            answer.as_ref().err().map(|e| e.code),
        );
        match (&answer, kind.as_str()) {
            (Ok(Reply::SignedIn { protocol, .. }), _) => {
                counted.replace(state.metrics.session(*protocol));
            }
            (_, "sign_in" | "resume") | (Ok(Reply::SignedOut), _) => drop(counted.take()),
            _ => {}
        }
        let outcome = answer.as_ref().map(drop).map_err(|e| e.code);
        match kind.as_str() {
            "sign_in" => state.metrics.signed_in(outcome),
            "resume" => state.metrics.resumed(outcome),
            _ => {}
        }
        let message = match answer {
            Ok(reply) => ServerMessage::Reply { id, reply },
            Err(error) => ServerMessage::Failed { id, error },
        };
        if outbound.send(message).await.is_err() {
            break;
        }
    }
    let _ = finish.send(close_with);
    // Dropping the handle ends the session actor, which logs out of the mail server.
    drop(session);
    drop(counted);
    drop(outbound);
    let _ = writer.await;
}

/// Adds a resume token to a `signed_in` reply: for the session `grant` continues,
/// or for a new one signed in with `password`.
fn with_resume(
    state: &AppState,
    mut reply: Reply,
    grant: Option<Grant>,
    password: &str,
) -> (Reply, Grant) {
    let Reply::SignedIn {
        account,
        user,
        protocol,
        resume,
        ..
    } = &mut reply
    else {
        unreachable!("sign_in answers signed_in");
    };
    let grant = grant.unwrap_or_else(|| state.sealer.grant(account, user, password, *protocol));
    *resume = state.sealer.seal(&grant);
    (reply, grant)
}

/// Signs in with what a resume token holds. A token that does not open, or whose
/// password the server no longer takes, is `session_expired`.
async fn resume(
    state: &AppState,
    peer: IpAddr,
    token: &protocol::ResumeToken,
    outbound: &mpsc::Sender<ServerMessage>,
) -> Result<(SessionHandle, Profile, Reply, Grant), WireError> {
    let grant = state.sealer.open(token).map_err(|refusal| {
        tracing::info!(%peer, ?refusal, "resume token refused");
        WireError::from(ErrorCode::SessionExpired)
    })?;
    let (handle, profile, reply) = sign_in(
        state,
        peer,
        Some(&grant.account),
        Some(grant.protocol),
        &grant.user,
        &grant.password,
        outbound,
    )
    .await
    .map_err(|error| match error.code {
        ErrorCode::WrongCredentials | ErrorCode::UnknownAccount | ErrorCode::BadRequest => {
            WireError::new(
                ErrorCode::SessionExpired,
                "Your session has ended: the mail server no longer accepts its password. Please sign in again.",
            )
        }
        _ => error,
    })?;
    Ok((handle, profile, reply, grant))
}

async fn sign_in(
    state: &AppState,
    peer: IpAddr,
    account: Option<&str>,
    protocol: Option<MailProtocol>,
    user: &str,
    password: &str,
    outbound: &mpsc::Sender<ServerMessage>,
) -> Result<(SessionHandle, Profile, Reply), WireError> {
    let Some(account) = state.config.account(account) else {
        return Err(ErrorCode::UnknownAccount.into());
    };
    // IMAP where the account has it, unless POP3 is asked for.
    let protocol = match (protocol, &account.imap, &account.pop3) {
        (Some(MailProtocol::Pop3), _, Some(_)) | (None, None, Some(_)) => MailProtocol::Pop3,
        (Some(MailProtocol::Imap) | None, Some(_), _) => MailProtocol::Imap,
        _ => {
            return Err(WireError::new(
                ErrorCode::BadRequest,
                "This account does not offer that protocol.",
            ));
        }
    };
    if let Err(wait) = state
        .throttle
        .check(&account.name, user, peer, Instant::now())
    {
        tracing::info!(%peer, account = %account.name, "sign-in throttled");
        let seconds = wait.as_secs().max(1);
        return Err(WireError::new(
            ErrorCode::TooManyAttempts,
            format!(
                "Too many failed sign-ins. Please wait {seconds} second{} before trying again.",
                if seconds == 1 { "" } else { "s" }
            ),
        ));
    }
    match session::sign_in(
        account,
        protocol,
        user,
        password,
        outbound.clone(),
        state.session_context(),
    )
    .await
    {
        Ok((handle, sending)) => {
            state.throttle.succeeded(&account.name, user, peer);
            tracing::info!(%peer, account = %account.name, "signed in");
            let profile = state.profiles.of(&account.name, user);
            // Unreadable preferences are the defaults: they never keep anyone out.
            let preferences = profile.preferences().await.unwrap_or_else(|error| {
                tracing::warn!(error = %ErrorChain(&error), "preferences unreadable");
                Preferences::default()
            });
            Ok((
                handle,
                profile,
                Reply::SignedIn {
                    account: account.name.clone(),
                    user: user.to_owned(),
                    protocol,
                    sending,
                    preferences,
                    resume: None,
                },
            ))
        }
        Err(error) => {
            let wire = session::wire_error(&error);
            if wire.code == ErrorCode::WrongCredentials {
                state
                    .throttle
                    .failed(&account.name, user, peer, Instant::now());
            }
            tracing::info!(%peer, account = %account.name, error = %ErrorChain(&error), "sign-in failed");
            Err(wire)
        }
    }
}

/// The people to suggest for what is typed in a recipient field.
async fn suggest(profile: &Profile, text: String) -> Result<Reply, WireError> {
    // Longer than any address: nobody types that much looking for one.
    if text.len() > 320 {
        return Ok(Reply::RecipientSuggestions {
            text,
            people: Vec::new(),
        });
    }
    match profile.suggest(&text).await {
        Ok(people) => Ok(Reply::RecipientSuggestions { text, people }),
        Err(error) => {
            tracing::warn!(error = %ErrorChain(&error), "suggestions failed");
            Err(ErrorCode::Internal.into())
        }
    }
}

/// Keeps the person's preferences for all of their browsers.
async fn save_preferences(profile: &Profile, preferences: Preferences) -> Result<Reply, WireError> {
    match profile.save_preferences(preferences.clone()).await {
        Ok(()) => Ok(Reply::PreferencesSaved { preferences }),
        Err(error) => {
            tracing::warn!(error = %ErrorChain(&error), "preferences not saved");
            Err(WireError::new(
                ErrorCode::Internal,
                "Postern could not keep that setting. Please try again.",
            ))
        }
    }
}

/// JSON for a message; a reply that would exceed the frame limit becomes an error.
fn encode(message: &ServerMessage) -> String {
    let text = serde_json::to_string(message).unwrap_or_default();
    if text.len() <= protocol::MAX_FRAME_BYTES {
        return text;
    }
    tracing::warn!(bytes = text.len(), "reply too large for one frame");
    let id = match message {
        ServerMessage::Reply { id, .. } | ServerMessage::Failed { id, .. } => *id,
        _ => 0,
    };
    serde_json::to_string(&ServerMessage::Failed {
        id,
        error: ErrorCode::Internal.into(),
    })
    .unwrap_or_default()
}
