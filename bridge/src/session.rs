//! One actor per signed-in connection, owning its mail source: it runs the user's
//! requests one at a time, in order, and ends (logging out) when its handle is dropped
//! or the user signs out.

use protocol::{Connectivity, Event, Reply, Request, ServerMessage, WireError};
use tokio::sync::{mpsc, oneshot};

use crate::config::Account;
use crate::mail::{FolderWindow, ImapSource, MailError, MailSource};

/// How many requests may wait for the session; the WebSocket layer sends one at a time.
const QUEUE: usize = 8;

/// The WebSocket layer's way to talk to a session.
pub struct SessionHandle {
    calls: mpsc::Sender<Call>,
}

struct Call {
    request: Request,
    reply: oneshot::Sender<Result<Reply, WireError>>,
}

/// Connects to the account's server, logs in and starts the session actor. Events
/// go to `events`, the connection's outbound queue.
pub async fn sign_in(
    account: &Account,
    user: &str,
    password: &str,
    events: mpsc::Sender<ServerMessage>,
) -> Result<SessionHandle, MailError> {
    let source = ImapSource::connect(account, user, password).await?;
    Ok(spawn(source, events))
}

/// Starts the actor for an already connected source.
pub fn spawn<S: MailSource>(source: S, events: mpsc::Sender<ServerMessage>) -> SessionHandle {
    let (calls, inbox) = mpsc::channel(QUEUE);
    tokio::spawn(run(source, inbox, events));
    SessionHandle { calls }
}

impl SessionHandle {
    /// Runs a request in the session and waits for its answer.
    pub async fn call(&self, request: Request) -> Result<Reply, WireError> {
        let (reply, answer) = oneshot::channel();
        let lost = || WireError::from(protocol::ErrorCode::ServerUnreachable);
        self.calls
            .send(Call { request, reply })
            .await
            .map_err(|_| lost())?;
        // A dropped sender means the actor ended, or panicked, mid-request.
        answer.await.unwrap_or_else(|_| Err(lost()))
    }
}

async fn run<S: MailSource>(
    mut source: S,
    mut inbox: mpsc::Receiver<Call>,
    events: mpsc::Sender<ServerMessage>,
) {
    while let Some(Call { request, reply }) = inbox.recv().await {
        if matches!(request, Request::SignOut) {
            source.logout().await;
            let _ = reply.send(Ok(Reply::SignedOut));
            return;
        }
        let result = handle(&mut source, request).await;
        if let Err(error) = &result {
            tracing::warn!(error = %ErrorChain(error), "request failed");
        }
        let _ = reply.send(result.map_err(|e| wire_error(&e)));
        if source.is_broken() {
            let _ = events
                .send(ServerMessage::Event {
                    event: Event::ConnectivityChanged {
                        state: Connectivity::Lost,
                    },
                })
                .await;
            return;
        }
    }
    source.logout().await;
}

async fn handle<S: MailSource>(source: &mut S, request: Request) -> Result<Reply, MailError> {
    match request {
        Request::ListFolders => Ok(Reply::Folders {
            folders: source.folders().await?,
        }),
        Request::OpenFolder { folder, limit } => {
            let window = source.open_folder(&folder, limit).await?;
            Ok(Reply::FolderOpened {
                folder: window.folder,
                uid_validity: window.uid_validity,
                total: window.total,
                unread: window.unread,
                offset: window.offset,
                messages: window.messages,
            })
        }
        Request::ListMessages {
            folder,
            offset,
            limit,
        } => {
            let FolderWindow {
                folder,
                total,
                offset,
                messages,
                ..
            } = source.messages(&folder, offset, limit).await?;
            Ok(Reply::Messages {
                folder,
                total,
                offset,
                messages,
            })
        }
        Request::OpenMessage { .. } | Request::ShowPart { .. } | Request::SetFlags { .. } => {
            Err(MailError::BadInput("not yet"))
        }
        Request::SignIn { .. } | Request::SignOut => {
            Err(MailError::BadInput("not a session request"))
        }
    }
}

/// The one place where internal errors become what the browser sees: a code and
/// its standard sentence. Details stay in the log.
pub fn wire_error(error: &MailError) -> WireError {
    WireError::from(error.code())
}

/// Displays an error with its causes, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}
