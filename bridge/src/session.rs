//! One actor per signed-in connection, owning its mail source: it runs the user's
//! requests one at a time, in order, and ends (logging out) when its handle is dropped
//! or the user signs out.
//!
//! Between requests it waits on the open folder (IDLE) and pushes what changed as
//! events, refreshes the other folders' counts now and then, and, when the link to
//! the mail server breaks, reconnects with capped backoff while requests wait.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use protocol::{
    Connectivity, Event, FolderCount, MailProtocol, Reply, Request, ServerMessage, WireError,
};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use zeroize::Zeroizing;

use crate::config::Account;
use crate::conversations;
use crate::links::{LinkRegistry, Target};
use crate::mail::compose::ComposeError;
use crate::mail::smtp::{SmtpReply, SubmitError};
use crate::mail::{
    FolderChange, FolderWindow, ImapSource, Links, Listing, MailError, MailSource, Maildrops,
    MessageRef, PartMeta, Pop3Source, Which, thread,
};
use crate::outgoing::Outgoing;
use crate::search::{self, Search};
use protocol::search::Scope;

/// How many requests may wait for the session: the WebSocket sends one at a time,
/// and each download has at most one read outstanding.
const QUEUE: usize = 8;
/// Recently opened messages whose links a `show_part` may reuse.
const RECENT_MESSAGES: usize = 16;
/// The first reconnection is tried after about this long, and each failure doubles
/// the wait, up to `MAX_BACKOFF`; each wait is jittered by up to half.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The least wait after the server refused a login for the user's number of
/// connections.
const LIMIT_BACKOFF: Duration = Duration::from_secs(5);
/// How long the session waits for another call before it goes back to IDLE.
const LINGER: Duration = Duration::from_millis(50);

/// Opens a fresh connection for the same user, for reconnecting.
pub type Connect<S> = Arc<dyn Fn() -> BoxFuture<'static, Result<S, MailError>> + Send + Sync>;

/// What sessions share with the rest of the bridge.
#[derive(Clone)]
pub struct Context {
    pub links: Arc<LinkRegistry>,
    /// The bridge's public origin, for absolute links inside sanitized mail.
    pub origin: String,
    /// How often the counts of folders other than the open one are refreshed, and
    /// POP3 mailboxes checked for new mail.
    pub folder_counts_every: Duration,
    /// The POP3 mailboxes signed in, shared by all sessions of a user; `None` without
    /// `data_dir`.
    pub maildrops: Option<Arc<Maildrops>>,
    /// What each account's SMTP server takes at most.
    pub size_limits: Arc<crate::outgoing::SizeLimits>,
    /// Each user's identities and correspondents.
    pub profiles: crate::profiles::Profiles,
    /// The bridge's running sessions, waited for when it stops.
    pub tasks: tokio_util::task::TaskTracker,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The way to talk to a session. The actor ends when the last handle is dropped.
#[derive(Clone)]
pub struct SessionHandle {
    calls: mpsc::Sender<Call>,
    downloads: Arc<Semaphore>,
}

/// A reference to a session that does not keep it alive.
#[derive(Clone)]
pub struct WeakSession {
    calls: mpsc::WeakSender<Call>,
    downloads: Arc<Semaphore>,
}

impl WeakSession {
    pub fn upgrade(&self) -> Option<SessionHandle> {
        self.calls.upgrade().map(|calls| SessionHandle {
            calls,
            downloads: self.downloads.clone(),
        })
    }

    pub fn is_alive(&self) -> bool {
        self.calls.strong_count() > 0
    }

    /// A handle with no actor behind it, and its weak side.
    #[cfg(test)]
    pub fn detached() -> (SessionHandle, WeakSession) {
        let (calls, _) = mpsc::channel(1);
        let downloads = Arc::new(Semaphore::new(1));
        let weak = WeakSession {
            calls: calls.downgrade(),
            downloads: downloads.clone(),
        };
        (SessionHandle { calls, downloads }, weak)
    }
}

enum Call {
    Request {
        request: Request,
        reply: oneshot::Sender<Result<Reply, WireError>>,
    },
    PartMeta {
        message: MessageRef,
        part: Option<String>,
        reply: oneshot::Sender<Result<PartMeta, MailError>>,
    },
    Read {
        message: MessageRef,
        part: Option<String>,
        offset: u64,
        len: u32,
        reply: oneshot::Sender<Result<Vec<u8>, MailError>>,
    },
    Listing {
        folder: String,
        reply: oneshot::Sender<Result<Listing, MailError>>,
    },
}

/// Connects to the account's server over `protocol`, logs in and starts the session
/// actor. Events go to `events`, the connection's outbound queue. Also returns what
/// the session can send, where the account has an SMTP server.
pub async fn sign_in(
    account: &Account,
    protocol: MailProtocol,
    user: &str,
    password: &str,
    events: mpsc::Sender<ServerMessage>,
    context: Context,
) -> Result<(SessionHandle, Option<protocol::Sending>), MailError> {
    let mut outgoing = Outgoing::new(
        account,
        user,
        password,
        &context.origin,
        context.size_limits.clone(),
        context.profiles.of(&account.name, user),
    );
    let uploads = outgoing.as_ref().map(Outgoing::uploads);
    if protocol == MailProtocol::Pop3 {
        let maildrops = context.maildrops.clone().ok_or(MailError::Unsupported(
            "POP3 needs `data_dir` in the bridge's configuration.",
        ))?;
        let (source, sending) = tokio::join!(
            Pop3Source::connect(
                &maildrops,
                account,
                user,
                password,
                context.folder_counts_every,
            ),
            sending_of(outgoing.as_mut())
        );
        let source = source?;
        // A POP3 source reconnects by itself, for every session sharing its maildrop.
        return Ok(with_uploads(
            spawn(source, None, outgoing, events, context.clone()),
            sending,
            uploads,
            &context,
        ));
    }
    let (source, sending) = tokio::join!(
        ImapSource::connect(account, user, password),
        sending_of(outgoing.as_mut())
    );
    let source = source?;
    // Kept (in memory only, zeroed when the session ends) to reconnect.
    let (account, user, password) = (
        account.clone(),
        Zeroizing::new(user.to_owned()),
        Zeroizing::new(password.to_owned()),
    );
    let connect: Connect<ImapSource> = Arc::new(move || {
        let (account, user, password) = (account.clone(), user.clone(), password.clone());
        Box::pin(async move { ImapSource::connect(&account, &user, &password).await })
    });
    Ok(with_uploads(
        spawn(source, Some(connect), outgoing, events, context.clone()),
        sending,
        uploads,
        &context,
    ))
}

/// Gives the session its upload link, where it can send.
fn with_uploads(
    handle: SessionHandle,
    sending: Option<protocol::Sending>,
    uploads: Option<Arc<crate::uploads::Uploads>>,
    context: &Context,
) -> (SessionHandle, Option<protocol::Sending>) {
    let sending = match (sending, uploads) {
        (Some(mut sending), Some(uploads)) => {
            let token = LinkRegistry::new_token();
            context.links.insert_for(
                token.clone(),
                handle.downgrade(),
                Target::Uploads(uploads),
                crate::links::SESSION_LIFETIME,
            );
            sending.upload = Some(format!("/mail/{token}/upload"));
            Some(sending)
        }
        (sending, _) => sending,
    };
    (handle, sending)
}

/// What the session can send, once the SMTP server's limit is known (asked while
/// the mail server is being logged in to, the first time only).
async fn sending_of(outgoing: Option<&mut Outgoing>) -> Option<protocol::Sending> {
    let outgoing = outgoing?;
    outgoing.load_identities().await;
    outgoing.learn_limit().await;
    Some(outgoing.sending())
}

/// Starts the actor for an already connected source; without `connect` a broken
/// connection ends the session.
pub fn spawn<S: MailSource>(
    source: S,
    connect: Option<Connect<S>>,
    outgoing: Option<Outgoing>,
    events: mpsc::Sender<ServerMessage>,
    context: Context,
) -> SessionHandle {
    let (calls, inbox) = mpsc::channel(QUEUE);
    let downloads = Arc::new(Semaphore::new(1));
    let tasks = context.tasks.clone();
    let actor = Actor {
        source,
        connect,
        counts: HashMap::new(),
        events,
        context,
        me: WeakSession {
            calls: calls.downgrade(),
            downloads: downloads.clone(),
        },
        recent: VecDeque::new(),
        outgoing,
        outbox: VecDeque::new(),
        next_outbox: 0,
        search: None,
        next_search: 0,
        threads: None,
        sent: None,
    };
    // The actor logs under the connection's span.
    tasks.spawn(tracing::Instrument::instrument(
        actor.run(inbox),
        tracing::Span::current(),
    ));
    SessionHandle { calls, downloads }
}

impl SessionHandle {
    /// Waits for this session's turn to stream a download. Downloads take turns
    /// rather than interleave: a server reads a part's ranges fastest in order
    /// (Dovecot remembers where the last range of a part ended, once per
    /// connection), and four interleaved 50 MB downloads took 23 s where four in
    /// turn take about 4. Requests from the WebSocket still go between the ranges.
    pub async fn download_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.downloads.clone().acquire_owned().await.ok()
    }

    /// A reference that does not keep the session alive.
    pub fn downgrade(&self) -> WeakSession {
        WeakSession {
            calls: self.calls.downgrade(),
            downloads: self.downloads.clone(),
        }
    }

    /// Runs a request in the session and waits for its answer.
    pub async fn call(&self, request: Request) -> Result<Reply, WireError> {
        let lost = || WireError::from(protocol::ErrorCode::ServerUnreachable);
        self.ask(|reply| Call::Request { request, reply })
            .await
            .unwrap_or_else(|| Err(lost()))
    }

    /// Describes a part of an opened message for download.
    pub async fn part_meta(
        &self,
        message: MessageRef,
        part: Option<String>,
    ) -> Result<PartMeta, MailError> {
        self.ask(|reply| Call::PartMeta {
            message,
            part,
            reply,
        })
        .await
        .unwrap_or(Err(MailError::Closed))
    }

    /// Reads encoded bytes of a part of an opened message.
    pub async fn read(
        &self,
        message: MessageRef,
        part: Option<String>,
        offset: u64,
        len: u32,
    ) -> Result<Vec<u8>, MailError> {
        self.ask(|reply| Call::Read {
            message,
            part,
            offset,
            len,
            reply,
        })
        .await
        .unwrap_or(Err(MailError::Closed))
    }

    /// Every message of a folder, for an export.
    pub async fn listing(&self, folder: String) -> Result<Listing, MailError> {
        self.ask(|reply| Call::Listing { folder, reply })
            .await
            .unwrap_or(Err(MailError::Closed))
    }

    /// Sends a call; `None` when the actor ended, or panicked, before answering.
    async fn ask<T>(&self, call: impl FnOnce(oneshot::Sender<T>) -> Call) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.calls.send(call(reply)).await.ok()?;
        answer.await.ok()
    }
}

struct Actor<S> {
    source: S,
    connect: Option<Connect<S>>,
    /// The folder counts last sent, so that only changes are pushed.
    counts: HashMap<String, (u32, u32)>,
    events: mpsc::Sender<ServerMessage>,
    context: Context,
    me: WeakSession,
    /// `(folder, uid)` of recently opened messages and their link tokens.
    recent: VecDeque<((String, u32), String)>,
    /// Sending, where the account has an SMTP server.
    outgoing: Option<Outgoing>,
    /// Messages held for their undo window, oldest first.
    outbox: VecDeque<Held>,
    next_outbox: u32,
    /// The running search, if any, and the id the next one gets.
    search: Option<Search>,
    next_search: u32,
    /// The conversations last listed: folder, UID validity, groups newest first.
    threads: Option<(String, u32, Vec<Vec<u32>>)>,
    /// What grouping needs of the Sent folder, to find the person's own replies.
    sent: Option<conversations::Kept>,
}

/// A message waiting out its undo window.
struct Held {
    id: u32,
    draft: protocol::Draft,
    due: Instant,
}

/// The longest undo window, and how many messages may wait at once.
const MAX_HOLD_SECONDS: u32 = 60;
const MAX_HELD: usize = 10;

/// What woke the actor.
enum Wake {
    /// A call, or `None` when every handle is gone.
    Call(Option<Call>),
    /// Time to refresh the other folders' counts.
    Counts,
    /// A held message's undo window is over.
    Outbox,
}

impl<S: MailSource> Actor<S> {
    async fn run(mut self, mut inbox: mpsc::Receiver<Call>) {
        let configured = self.context.folder_counts_every;
        let mut counts_due = Instant::now() + self.source.counts_every(configured);
        // A call waiting for the connection, and whether it already ran once.
        let mut held: Option<(Call, bool)> = None;
        // Whether a call was just served.
        let mut busy = false;
        loop {
            if self.source.is_broken() && !self.reconnect(&mut inbox, &mut held).await {
                return;
            }
            self.push_news().await;
            if self.source.is_broken() {
                continue;
            }
            self.send_held(false).await;
            // Right after a call, the next often follows at once (a download reads
            // range after range): wait a moment before paying for IDLE and DONE.
            if held.is_none()
                && busy
                && let Ok(call) = tokio::time::timeout(LINGER, inbox.recv()).await
            {
                held = call.map(|call| (call, false));
                if held.is_none() {
                    break;
                }
            }
            busy = false;
            let (wake, retried) = match held.take() {
                Some((call, retried)) => {
                    busy = true;
                    (Wake::Call(Some(call)), retried)
                }
                // A search goes on between calls, a folder at a time.
                None if self.search.as_ref().is_some_and(|s| s.pending().is_some()) => {
                    match inbox.try_recv() {
                        Ok(call) => {
                            busy = true;
                            (Wake::Call(Some(call)), false)
                        }
                        Err(mpsc::error::TryRecvError::Empty) => {
                            self.search_on().await;
                            continue;
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => (Wake::Call(None), false),
                    }
                }
                None => {
                    let next_held = self.outbox.iter().map(|h| h.due).min();
                    let stop = async {
                        tokio::select! {
                            call = inbox.recv() => Wake::Call(call),
                            () = sleep_until(counts_due) => Wake::Counts,
                            () = sleep_until(next_held.unwrap_or(counts_due)), if next_held.is_some() => Wake::Outbox,
                        }
                    };
                    match self.source.watch(stop).await {
                        Some(wake) => {
                            busy = matches!(wake, Wake::Call(_));
                            (wake, false)
                        }
                        // News came (or the connection broke): see to it first.
                        None => continue,
                    }
                }
            };
            match wake {
                Wake::Call(None) => break,
                Wake::Outbox => self.send_held(false).await,
                Wake::Counts => {
                    counts_due = Instant::now() + self.source.counts_every(configured);
                    self.push_counts().await;
                }
                Wake::Call(Some(Call::Request {
                    request: Request::SignOut,
                    reply,
                })) => {
                    // Nobody is left to undo them: held messages go now.
                    self.send_held(true).await;
                    self.source.logout().await;
                    let _ = reply.send(Ok(Reply::SignedOut));
                    return;
                }
                Wake::Call(Some(call)) if self.source.is_broken() => held = Some((call, retried)),
                Wake::Call(Some(call)) => {
                    if let Some(call) = self.serve(call, retried).await {
                        held = Some((call, true));
                    }
                }
            }
        }
        // The page closed: nobody is left to undo held messages, so they go now.
        self.send_held(true).await;
        self.source.logout().await;
    }

    /// Sends the held messages whose window is over (with `all`, every one). A
    /// message that cannot go is kept as a draft, so nothing is lost whether or
    /// not a browser hears of it.
    async fn send_held(&mut self, all: bool) {
        let now = Instant::now();
        while let Some(at) = self.outbox.iter().position(|h| all || h.due <= now) {
            let Some(held) = self.outbox.remove(at) else {
                break;
            };
            let links = self.links(&LinkRegistry::new_token(), false);
            let Some(outgoing) = self.outgoing.as_ref() else {
                return;
            };
            let event = match outgoing.send(&mut self.source, &held.draft, &links).await {
                Ok(sent) => {
                    if let Some(folder) = &sent.sent_folder {
                        self.push_count_of(folder).await;
                    }
                    match sent.reply {
                        Reply::MessageSent {
                            message_id,
                            recipients,
                            sent_folder,
                        } => Event::OutboxSent {
                            outbox: held.id,
                            message_id,
                            recipients,
                            sent_folder,
                        },
                        _ => continue,
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %ErrorChain(&error), "a held message did not go");
                    let mut draft = held.draft;
                    match outgoing.save_draft(&mut self.source, &draft).await {
                        Ok(Reply::DraftSaved {
                            saved,
                            message_id,
                            attachments,
                        }) => {
                            draft.saved = saved;
                            draft.message_id = Some(message_id);
                            draft.attachments = attachments;
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(error = %ErrorChain(&error), "nor could it be kept as a draft");
                        }
                    }
                    Event::OutboxFailed {
                        outbox: held.id,
                        error: wire_error(&error),
                        draft: Box::new(draft),
                    }
                }
            };
            self.push(event).await;
        }
    }

    /// Runs one call and answers it, unless the connection broke under a call that
    /// may safely run again (`retried` says it already did once): that call is
    /// returned, to run once reconnected.
    async fn serve(&mut self, call: Call, retried: bool) -> Option<Call> {
        match call {
            Call::Request { request, reply } => {
                let again = (!retried && request.may_repeat()).then(|| request.clone());
                let touched = changed_folders(&request);
                let result = self.handle(request).await;
                if let Some(search) = &mut self.search {
                    touched.iter().for_each(|folder| search.touch(folder));
                }
                if let (Err(_), Some(request)) = (&result, again)
                    && self.source.is_broken()
                {
                    return Some(Call::Request { request, reply });
                }
                if let Err(error) = &result {
                    tracing::warn!(error = %ErrorChain(error), "request failed");
                }
                let _ = reply.send(result.map_err(|e| wire_error(&e)));
            }
            Call::PartMeta {
                message,
                part,
                reply,
            } => {
                let result = self.source.part_meta(&message, part.as_deref()).await;
                if result.is_err() && !retried && self.source.is_broken() {
                    return Some(Call::PartMeta {
                        message,
                        part,
                        reply,
                    });
                }
                let _ = reply.send(result);
            }
            Call::Read {
                message,
                part,
                offset,
                len,
                reply,
            } => {
                let result = self
                    .source
                    .read_part(&message, part.as_deref(), offset, len)
                    .await;
                if result.is_err() && !retried && self.source.is_broken() {
                    return Some(Call::Read {
                        message,
                        part,
                        offset,
                        len,
                        reply,
                    });
                }
                let _ = reply.send(result);
            }
            Call::Listing { folder, reply } => {
                let result = self.source.listing(&folder).await;
                if result.is_err() && !retried && self.source.is_broken() {
                    return Some(Call::Listing { folder, reply });
                }
                let _ = reply.send(result);
            }
        }
        None
    }

    /// Reconnects with capped, jittered backoff, holding at most one call meanwhile
    /// (the WebSocket sends one at a time). Returns false when the session should
    /// end: no way to reconnect, the password no longer works, or nobody is left.
    async fn reconnect(
        &mut self,
        inbox: &mut mpsc::Receiver<Call>,
        held: &mut Option<(Call, bool)>,
    ) -> bool {
        let Some(connect) = self.connect.clone() else {
            self.connectivity(Connectivity::Lost).await;
            return false;
        };
        self.connectivity(Connectivity::Reconnecting).await;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let until = Instant::now() + jittered(backoff);
            loop {
                tokio::select! {
                    () = sleep_until(until) => break,
                    call = inbox.recv(), if held.is_none() => match call {
                        Some(call) => *held = Some((call, false)),
                        None => return false,
                    },
                }
            }
            match connect().await {
                Ok(fresh) => {
                    let old = std::mem::replace(&mut self.source, fresh);
                    match self.source.resume(old).await {
                        Ok(()) => {
                            tracing::info!("reconnected to the mail server");
                            self.context.metrics.reconnected();
                            self.connectivity(Connectivity::Connected).await;
                            return true;
                        }
                        Err(error) => {
                            tracing::warn!(error = %ErrorChain(&error), "resuming after a reconnect failed");
                        }
                    }
                }
                Err(MailError::WrongCredentials) => {
                    tracing::info!("the password no longer works; ending the session");
                    self.connectivity(Connectivity::Lost).await;
                    return false;
                }
                Err(MailError::ConnectionLimit) => {
                    // Other connections of the user's must end first: no hurry.
                    tracing::info!(
                        "the mail server's connection limit for the user; retrying later"
                    );
                    backoff = backoff.max(LIMIT_BACKOFF);
                }
                Err(error) => {
                    tracing::info!(error = %ErrorChain(&error), "reconnecting failed; retrying");
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn connectivity(&mut self, state: Connectivity) {
        self.push(Event::ConnectivityChanged { state }).await;
    }

    async fn push(&mut self, event: Event) {
        let _ = self.events.send(ServerMessage::Event { event }).await;
    }

    /// Sends what changed, if anything did.
    async fn push_news(&mut self) {
        let events = match self.source.news().await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), "reading news failed");
                return;
            }
        };
        for event in events {
            if let (
                Some(search),
                Event::FolderChanged { folder, .. } | Event::FolderReset { folder },
            ) = (&mut self.search, &event)
            {
                search.touch(folder);
            }
            match &event {
                Event::FolderChanged {
                    folder,
                    total,
                    unread,
                    ..
                } => {
                    self.counts.insert(folder.clone(), (*total, *unread));
                }
                Event::FolderCounts { folders } => {
                    for count in folders {
                        self.counts
                            .insert(count.folder.clone(), (count.total, count.unread));
                        if let Some(search) = &mut self.search {
                            search.touch(&count.folder);
                        }
                    }
                }
                _ => {}
            }
            self.push(event).await;
        }
    }

    /// Sends the counts of other folders that changed since they were last sent.
    async fn push_counts(&mut self) {
        let counts = match self.source.counts().await {
            Ok(counts) => counts,
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), "refreshing folder counts failed");
                return;
            }
        };
        self.push_changed(counts).await;
    }

    /// Sends those of `counts` that differ from what was last sent.
    async fn push_changed(&mut self, counts: Vec<FolderCount>) {
        let changed: Vec<FolderCount> = counts
            .into_iter()
            .filter(|c| {
                self.counts.insert(c.folder.clone(), (c.total, c.unread))
                    != Some((c.total, c.unread))
            })
            .collect();
        if let Some(search) = &mut self.search {
            changed.iter().for_each(|count| search.touch(&count.folder));
        }
        if !changed.is_empty() {
            self.push(Event::FolderCounts { folders: changed }).await;
        }
    }

    /// Sends the counts of `folder`, which this session just changed, at once:
    /// without NOTIFY the server would not say, and the periodic refresh may be a
    /// minute away. (The open folder's counts come with its own news.)
    async fn push_count_of(&mut self, folder: &str) {
        match self.source.count(folder).await {
            Ok(count) => self.push_changed(count.into_iter().collect()).await,
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), "counting a changed folder failed");
            }
        }
    }

    async fn handle(&mut self, request: Request) -> Result<Reply, MailError> {
        let source = &mut self.source;
        match request {
            Request::ListFolders => Ok(Reply::Folders {
                folders: source.folders().await?,
            }),
            Request::Search {
                query,
                folder,
                limit,
            } => self.start_search(&query, &folder, limit).await,
            Request::ListHits {
                search,
                offset,
                limit,
            } => match &self.search {
                Some(running) if running.id == search => self.hits(offset, limit).await,
                _ => Err(MailError::Query(
                    "This search has ended: search again.".to_owned(),
                )),
            },
            Request::ListConversations {
                folder,
                offset,
                limit,
            } => self.conversations(folder, offset, limit).await,
            Request::StopSearch { search, forget } => {
                if forget {
                    self.search.take_if(|s| s.id == search);
                } else if let Some(running) = self.search.as_mut().filter(|s| s.id == search) {
                    running.stop();
                }
                Ok(Reply::SearchStopped { search })
            }
            Request::OpenFolder {
                folder,
                limit,
                sort,
            } => {
                let window = source.open_folder(&folder, limit, sort).await?;
                Ok(Reply::FolderOpened {
                    folder: window.folder,
                    uid_validity: window.uid_validity,
                    total: window.total,
                    unread: window.unread,
                    offset: window.offset,
                    messages: window.messages,
                    labels: window.labels,
                    new_labels: window.new_labels,
                    sort: window.sort,
                })
            }
            Request::ListMessages {
                folder,
                offset,
                limit,
                sort,
            } => {
                let FolderWindow {
                    folder,
                    total,
                    offset,
                    messages,
                    sort,
                    ..
                } = source.messages(&folder, offset, limit, sort).await?;
                Ok(Reply::Messages {
                    folder,
                    total,
                    offset,
                    messages,
                    sort,
                })
            }
            Request::OpenMessage {
                folder,
                uid,
                part,
                mark_seen,
                remote_content,
            } => {
                let token = LinkRegistry::new_token();
                let links = self.links(&token, remote_content);
                let opened = self
                    .source
                    .open_message(&folder, uid, part.as_deref(), mark_seen, &links)
                    .await?;
                self.context.links.insert(
                    token.clone(),
                    self.me.clone(),
                    Target::Message(MessageRef {
                        folder: folder.clone(),
                        uid_validity: opened.uid_validity,
                        uid,
                    }),
                );
                let again = self.recent.iter().any(|(k, _)| k.0 == folder && k.1 == uid);
                if let Some(outgoing) = &self.outgoing
                    && !again
                    && part.is_none()
                {
                    outgoing.read_from(&opened.view.from);
                }
                self.remember(folder.clone(), uid, token);
                let mut message = opened.view;
                message.link = links.path;
                Ok(Reply::MessageOpened {
                    folder,
                    uid,
                    message: Box::new(message),
                })
            }
            Request::ShowPart {
                folder,
                uid,
                part,
                remote_content,
            } => {
                let token = self
                    .recent
                    .iter()
                    .find(|(key, _)| key.0 == folder && key.1 == uid)
                    .map(|(_, token)| token.clone())
                    .ok_or_else(|| MailError::MessageNotFound {
                        folder: folder.clone(),
                        uid,
                        part: Some(part.clone()),
                    })?;
                let links = self.links(&token, remote_content);
                let body = self.source.show_part(&folder, uid, &part, &links).await?;
                Ok(Reply::PartShown { folder, uid, body })
            }
            Request::SetFlags {
                folder,
                uids,
                add,
                remove,
            } => {
                let messages = source.set_flags(&folder, &uids, &add, &remove).await?;
                Ok(Reply::FlagsSet { folder, messages })
            }
            Request::MoveMessages { folder, uids, to } => {
                source.move_messages(&folder, &uids, &to).await?;
                self.push_count_of(&to).await;
                Ok(Reply::MessagesMoved { folder, uids, to })
            }
            Request::CopyMessages { folder, uids, to } => {
                source.copy_messages(&folder, &uids, &to).await?;
                self.push_count_of(&to).await;
                Ok(Reply::MessagesCopied { folder, uids, to })
            }
            Request::ExpungeMessages { folder, uids } => {
                source.expunge_messages(&folder, &uids).await?;
                Ok(Reply::MessagesExpunged { folder, uids })
            }
            Request::CreateFolder { parent, name } => {
                self.change_folders(FolderChange::Create { parent, name })
                    .await
            }
            Request::RenameFolder {
                folder,
                parent,
                name,
            } => {
                self.change_folders(FolderChange::Rename {
                    folder,
                    parent,
                    name,
                })
                .await
            }
            Request::DeleteFolder { folder } => {
                self.change_folders(FolderChange::Delete { folder }).await
            }
            Request::SubscribeFolder { folder, subscribed } => {
                self.change_folders(FolderChange::Subscribe { folder, subscribed })
                    .await
            }
            Request::ExportMailbox {
                folder,
                delete_after,
            } => {
                // Refused here, rather than at download time, where the source cannot
                // export.
                source.listing(&folder).await?;
                let token = LinkRegistry::new_token();
                self.context.links.insert(
                    token.clone(),
                    self.me.clone(),
                    Target::Export {
                        folder: folder.clone(),
                        delete_after,
                    },
                );
                Ok(Reply::ExportReady {
                    folder,
                    link: format!("/mail/{token}/mbox"),
                })
            }
            Request::StartCompose { folder, uid, kind } => {
                let links = self.links(&LinkRegistry::new_token(), false);
                let outgoing = self.outgoing.as_ref().ok_or(NO_SENDING)?;
                outgoing
                    .start(&mut self.source, &folder, uid, kind, &links)
                    .await
            }
            Request::SendMessage {
                draft,
                hold_seconds: 0,
            } => {
                let links = self.links(&LinkRegistry::new_token(), false);
                let outgoing = self.outgoing.as_ref().ok_or(NO_SENDING)?;
                let sent = outgoing.send(&mut self.source, &draft, &links).await?;
                if let Some(folder) = &sent.sent_folder {
                    self.push_count_of(folder).await;
                }
                Ok(sent.reply)
            }
            Request::SendMessage {
                draft,
                hold_seconds,
            } => {
                let outgoing = self.outgoing.as_ref().ok_or(NO_SENDING)?;
                // What would stop it is said now, while it can still be fixed.
                outgoing.check(&draft)?;
                if self.outbox.len() >= MAX_HELD {
                    return Err(MailError::Unsupported(
                        "Several messages are waiting to go already. Try again in a moment.",
                    ));
                }
                let hold_seconds = hold_seconds.min(MAX_HOLD_SECONDS);
                self.next_outbox += 1;
                self.outbox.push_back(Held {
                    id: self.next_outbox,
                    draft: *draft,
                    due: Instant::now() + Duration::from_secs(u64::from(hold_seconds)),
                });
                Ok(Reply::MessageQueued {
                    outbox: self.next_outbox,
                    hold_seconds,
                })
            }
            Request::CancelSend { outbox } => {
                let at = self.outbox.iter().position(|h| h.id == outbox).ok_or(
                    MailError::Unsupported("It is too late to undo: the message has gone."),
                )?;
                self.outbox.remove(at);
                Ok(Reply::SendCancelled { outbox })
            }
            Request::SaveDraft { draft } => {
                let outgoing = self.outgoing.as_ref().ok_or(NO_SENDING)?;
                let reply = outgoing.save_draft(&mut self.source, &draft).await?;
                if let Reply::DraftSaved {
                    saved: Some(saved), ..
                } = &reply
                {
                    self.push_count_of(&saved.folder.clone()).await;
                }
                Ok(reply)
            }
            Request::ResumeDraft { folder, uid } => {
                let links = self.links(&LinkRegistry::new_token(), false);
                let outgoing = self.outgoing.as_ref().ok_or(NO_SENDING)?;
                outgoing
                    .resume(&mut self.source, &folder, uid, &links)
                    .await
            }
            Request::SaveIdentities { identities } => {
                let outgoing = self.outgoing.as_mut().ok_or(NO_SENDING)?;
                outgoing.save_identities(identities).await
            }
            Request::OpenConversation { folder, uids } => {
                self.open_conversation(folder, uids).await
            }
            Request::SignIn { .. }
            | Request::Resume { .. }
            | Request::Ping
            | Request::SignOut
            | Request::SuggestRecipients { .. }
            | Request::SavePreferences { .. } => {
                // Suggestions and preferences are the connection's to answer
                // (crate::ws), without waking the mail session.
                Err(MailError::BadInput("not a session request"))
            }
        }
    }

    /// A window of `folder`'s conversations: grouped afresh for the first window
    /// (or another folder), else from the grouping the first window used.
    async fn conversations(
        &mut self,
        folder: String,
        offset: u32,
        limit: u32,
    ) -> Result<Reply, MailError> {
        let limit = limit.min(protocol::MAX_WINDOW);
        let fresh = offset == 0 || self.threads.as_ref().is_none_or(|(f, ..)| *f != folder);
        if fresh {
            let (uid_validity, groups) = self.source.conversations(&folder).await?;
            self.threads = Some((folder.clone(), uid_validity, groups));
        }
        let Some((_, uid_validity, groups)) = &self.threads else {
            return Err(MailError::BadInput("conversations"));
        };
        let uid_validity = *uid_validity;
        let total = u32::try_from(groups.len()).unwrap_or(u32::MAX);
        let start = (offset as usize).min(groups.len());
        let end = start.saturating_add(limit as usize).min(groups.len());
        let window: Vec<Vec<u32>> = groups[start..end].to_vec();
        let mut wanted: Vec<u32> = window
            .iter()
            .flat_map(|g| conversations::listed(g).iter().copied())
            .collect();
        wanted.sort_unstable();
        let mut headers = HashMap::new();
        for chunk in wanted.chunks(protocol::MAX_WINDOW as usize) {
            headers.extend(self.source.headers(&folder, uid_validity, chunk).await?);
        }
        let rows = window
            .iter()
            .filter_map(|group| conversations::row(group, &headers))
            .collect();
        Ok(Reply::Conversations {
            folder,
            total,
            offset,
            conversations: rows,
        })
    }

    /// A conversation's messages in `folder` and the person's own from Sent,
    /// oldest first.
    async fn open_conversation(
        &mut self,
        folder: String,
        uids: Vec<u32>,
    ) -> Result<Reply, MailError> {
        if uids.is_empty() || uids.len() > protocol::MAX_CONVERSATION_UIDS {
            return Err(MailError::BadInput("conversation"));
        }
        let (uid_validity, these) = self.source.threading(&folder, Which::These(&uids)).await?;
        let mut messages = Vec::new();
        let present: Vec<u32> = these.iter().map(|m| m.uid).collect();
        let mut earlier = present.len().saturating_sub(protocol::MAX_OPENED);
        for chunk in present[earlier..].chunks(protocol::MAX_WINDOW as usize) {
            let headers = self.source.headers(&folder, uid_validity, chunk).await?;
            messages.extend(headers.into_values().map(|message| protocol::Hit {
                folder: folder.clone(),
                message,
            }));
        }
        let sent = self
            .source
            .folder_with_role(protocol::FolderRole::Sent)
            .await?
            .filter(|sent| *sent != folder);
        if let Some(sent) = sent {
            let (own, left_out) = self.own_in_sent(&sent, &these).await?;
            messages.extend(own);
            earlier += left_out;
        }
        messages.sort_by(|a, b| {
            (a.message.date, a.folder != folder, a.message.uid).cmp(&(
                b.message.date,
                b.folder != folder,
                b.message.uid,
            ))
        });
        // The newest, so that a long conversation's answer stays small.
        let cut = messages.len().saturating_sub(protocol::MAX_OPENED);
        messages.drain(..cut);
        earlier += cut;
        Ok(Reply::ConversationOpened {
            folder,
            messages,
            earlier: u32::try_from(earlier).unwrap_or(u32::MAX),
        })
    }

    /// The messages of `sent` that join the conversation of `these` (the newest
    /// [`protocol::MAX_OPENED`], and how many earlier ones were left out), from
    /// what the session keeps of it (brought up to date first).
    async fn own_in_sent(
        &mut self,
        sent: &str,
        these: &[thread::Threaded],
    ) -> Result<(Vec<protocol::Hit>, usize), MailError> {
        let mut kept = match self.sent.take().filter(|k| k.folder == sent) {
            Some(mut kept) => {
                let (uid_validity, new) = self
                    .source
                    .threading(sent, Which::Above(kept.highest()))
                    .await?;
                if uid_validity == kept.uid_validity {
                    kept.messages.extend(new);
                    kept
                } else {
                    conversations::Kept::read(&mut self.source, sent).await?
                }
            }
            None => conversations::Kept::read(&mut self.source, sent).await?,
        };
        let all = thread::joining(these, &kept.messages);
        let left_out = all.len().saturating_sub(protocol::MAX_OPENED);
        let joined = &all[left_out..];
        let mut headers = HashMap::new();
        for chunk in joined.chunks(protocol::MAX_WINDOW as usize) {
            headers.extend(self.source.headers(sent, kept.uid_validity, chunk).await?);
        }
        // Those no longer there are forgotten.
        kept.messages
            .retain(|m| !joined.contains(&m.uid) || headers.contains_key(&m.uid));
        self.sent = Some(kept);
        let hits = headers
            .into_values()
            .map(|message| protocol::Hit {
                folder: sent.to_owned(),
                message,
            })
            .collect();
        Ok((hits, left_out))
    }

    /// Starts a search (ending the one before) and answers with its first window
    /// once the first folder is searched; the others follow between calls.
    async fn start_search(
        &mut self,
        text: &str,
        current: &str,
        limit: u32,
    ) -> Result<Reply, MailError> {
        self.search = None;
        let query = protocol::search::parse(text).map_err(|e| MailError::Query(e.to_string()))?;
        let folders = match query.scope {
            Scope::Current => Vec::new(),
            _ => self.source.folders().await?,
        };
        let folders = search::scope_folders(&query.scope, current, &folders)?;
        self.next_search += 1;
        let mut search = Search::new(self.next_search, query, folders);
        if let Some(at) = search.pending() {
            // The first folder's failure is the search's: its answer says why.
            let found = self
                .source
                .search(&search.folders[at], &search.query, search.dated())
                .await?;
            search.record(at, Some(found));
        }
        self.search = Some(search);
        self.hits(0, limit).await
    }

    /// Searches the running search's next folder (or one to search again) and
    /// says how it stands. A folder that cannot be searched is passed over; a
    /// broken connection leaves it for after the reconnect.
    async fn search_on(&mut self) {
        let Some(search) = &self.search else {
            return;
        };
        let Some(at) = search.pending() else {
            return;
        };
        let (id, folder, query, dated) = (
            search.id,
            search.folders[at].clone(),
            search.query.clone(),
            search.dated(),
        );
        let result = self.source.search(&folder, &query, dated).await;
        let Some(search) = self.search.as_mut().filter(|s| s.id == id) else {
            return;
        };
        // A break is tried once more after the reconnect; twice, the folder is
        // passed over (a server whose answer breaks the connection every time).
        if result.is_err() && self.source.is_broken() && search.broke(at) {
            return;
        }
        let found = result
            .inspect_err(|error| {
                tracing::info!(error = %ErrorChain(error), folder, "a folder could not be searched");
            })
            .ok();
        search.record(at, found);
        let event = Event::SearchUpdated {
            search: id,
            total: search.total(),
            searched: search.searched(),
            of: search.of(),
            done: search.done(),
        };
        self.push(event).await;
    }

    /// A window of the running search's hits, their headers read from each
    /// folder; hits gone meanwhile are left out (and their folders searched again).
    async fn hits(&mut self, offset: u32, limit: u32) -> Result<Reply, MailError> {
        let limit = limit.min(protocol::MAX_WINDOW);
        let Some(search) = &self.search else {
            return Err(MailError::BadInput("search"));
        };
        let window = search.window(offset, limit).to_vec();
        let mut headers = HashMap::new();
        let mut folders: Vec<u16> = window.iter().map(|(at, _)| *at).collect();
        folders.sort_unstable();
        folders.dedup();
        for at in folders {
            let folder = search.folders[usize::from(at)].clone();
            let uid_validity = search.uid_validity(at);
            let uids: Vec<u32> = window
                .iter()
                .filter(|(f, _)| *f == at)
                .map(|(_, uid)| *uid)
                .collect();
            let found = match self.source.headers(&folder, uid_validity, &uids).await {
                Ok(found) => found,
                Err(MailError::FolderNotFound(_)) => HashMap::new(),
                Err(error) => return Err(error),
            };
            headers.insert(at, found);
        }
        let Some(search) = self.search.as_mut() else {
            return Err(MailError::BadInput("search"));
        };
        let mut hits = Vec::with_capacity(window.len());
        for (at, uid) in window {
            match headers.get_mut(&at).and_then(|h| h.remove(&uid)) {
                Some(message) => hits.push(protocol::Hit {
                    folder: search.folders[usize::from(at)].clone(),
                    message,
                }),
                None => {
                    search.forget(at, uid);
                    let folder = search.folders[usize::from(at)].clone();
                    search.touch(&folder);
                }
            }
        }
        Ok(Reply::Hits {
            search: search.id,
            total: search.total(),
            offset,
            hits,
            searched: search.searched(),
            of: search.of(),
            done: search.done(),
            bodies_unsearched: search.bodies_unsearched(),
        })
    }

    /// Applies a folder change and answers with the new folder list.
    async fn change_folders(&mut self, change: FolderChange) -> Result<Reply, MailError> {
        self.source.change_folder(change).await?;
        Ok(Reply::Folders {
            folders: self.source.folders().await?,
        })
    }

    fn links(&self, token: &str, remote: bool) -> Links {
        Links {
            origin: self.context.origin.clone(),
            path: format!("/mail/{token}"),
            remote,
        }
    }

    fn remember(&mut self, folder: String, uid: u32, token: String) {
        self.recent
            .retain(|(key, _)| !(key.0 == folder && key.1 == uid));
        if self.recent.len() == RECENT_MESSAGES {
            self.recent.pop_front();
        }
        self.recent.push_back(((folder, uid), token));
    }
}

/// The refusal of a send on an account that cannot send.
const NO_SENDING: MailError = MailError::Unsupported(
    "This account is set up for reading only: it has no outgoing mail server.",
);

/// The folders a request changes, so that a search covering them looks again.
fn changed_folders(request: &Request) -> Vec<String> {
    match request {
        Request::SetFlags { folder, .. } | Request::ExpungeMessages { folder, .. } => {
            vec![folder.clone()]
        }
        Request::MoveMessages { folder, to, .. } | Request::CopyMessages { folder, to, .. } => {
            vec![folder.clone(), to.clone()]
        }
        _ => Vec::new(),
    }
}

/// A random moment within `spread`.
pub fn jittered_within(spread: Duration) -> Duration {
    let mut bytes = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    spread.mul_f64(f64::from(u16::from_be_bytes(bytes)) / 65536.0)
}

/// `wait` plus up to half again, at random, so that many sessions cut off at once
/// do not reconnect in step.
fn jittered(wait: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
    wait + wait.mul_f64(f64::from(byte[0]) / 512.0)
}

/// The one place where internal errors become what the browser sees: a code and
/// its standard sentence. Details stay in the log.
pub fn wire_error(error: &MailError) -> WireError {
    match error {
        // Written for people already; other errors get their code's sentence.
        MailError::Unsupported(sentence) => WireError::new(error.code(), *sentence),
        MailError::Query(sentence) => WireError::new(error.code(), sentence.clone()),
        MailError::Compose(problem) => WireError::new(error.code(), compose_sentence(problem)),
        MailError::Submit(problem) => submit_error(error.code(), problem),
        MailError::Rejected { doing, refusal } => {
            let reason = refusal.reason();
            WireError::new(
                error.code(),
                if reason.is_empty() {
                    format!("The mail server refused to {doing}.")
                } else {
                    format!("The mail server refused to {doing}: {reason}")
                },
            )
        }
        _ => WireError::from(error.code()),
    }
}

/// A draft's problem as a sentence.
fn compose_sentence(problem: &ComposeError) -> String {
    match problem {
        ComposeError::InvalidAddress { address, reason } => {
            format!("{address} is not a valid address: {reason}.")
        }
        ComposeError::NoRecipient => "Add at least one recipient.".to_owned(),
        ComposeError::TooManyRecipients => format!(
            "A message can have at most {} recipients.",
            crate::mail::compose::MAX_RECIPIENTS
        ),
        ComposeError::ControlCharacter(field) => {
            format!("The {field} cannot hold line breaks.")
        }
        ComposeError::TooLong(field) => format!("The {field} is too long."),
        ComposeError::UnknownIdentity(from) => {
            format!("{from} is not one of the addresses you can send from.")
        }
        ComposeError::TooManyAttachments => format!(
            "A message can carry at most {} files.",
            crate::mail::compose::MAX_ATTACHMENTS
        ),
        ComposeError::BadAttachment(name) | ComposeError::UploadGone(name) => {
            format!("{name} is no longer at hand. Remove it and attach it again.")
        }
        ComposeError::TooManyIdentities => format!(
            "You can keep at most {} identities.",
            protocol::MAX_IDENTITIES
        ),
        ComposeError::DuplicateIdentity(address) => {
            format!("{address} is listed twice. Keep one of them.")
        }
        ComposeError::OriginalGone => "The message being forwarded is no longer on the server, so its attachments cannot go with it. Remove them to send the rest.".to_owned(),
    }
}

/// A failed submission as the browser sees it: what was refused and why, and
/// whether anything went out.
fn submit_error(code: protocol::ErrorCode, problem: &SubmitError) -> WireError {
    let with = |reply: &SmtpReply| {
        let reason = reply.reason();
        if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        }
    };
    let message = match problem {
        SubmitError::Unreachable { .. } | SubmitError::Broken(_) => {
            "The outgoing mail server cannot be reached right now. Nothing was sent; try again."
                .to_owned()
        }
        SubmitError::Tls { .. } => {
            "A secure connection to the outgoing mail server could not be established. Nothing was sent."
                .to_owned()
        }
        SubmitError::Login(reply) => format!(
            "The outgoing mail server did not accept your sign-in{}. Nothing was sent.",
            with(reply)
        ),
        SubmitError::SenderRefused(reply) => format!(
            "The mail server refused to send from this address{}. Nothing was sent.",
            with(reply)
        ),
        SubmitError::MessageRefused(reply) => format!(
            "The mail server refused the message{}. Nothing was sent.",
            with(reply)
        ),
        SubmitError::TooLarge { size, limit } => format!(
            "The message is {} MB, more than the {} MB the mail server takes. Nothing was sent.",
            size.div_ceil(1 << 20),
            limit / (1 << 20)
        ),
        SubmitError::RecipientsRefused { refused, accepted } => {
            let each: Vec<String> = refused
                .iter()
                .map(|(address, reply)| format!("{address}{}", with(reply)))
                .collect();
            let accepted = if accepted.is_empty() {
                String::new()
            } else {
                format!(
                    " {} {} accepted.",
                    accepted.join(", "),
                    if accepted.len() == 1 { "was" } else { "were" }
                )
            };
            let mut error = WireError::new(
                code,
                format!(
                    "The mail server refused {}. Nothing was sent.{accepted}",
                    each.join("; ")
                ),
            );
            error.refused = refused.iter().map(|(a, _)| a.clone()).collect();
            return error;
        }
        SubmitError::Uncertain(_) | SubmitError::Spool(_) => code.default_message().to_owned(),
    };
    WireError::new(code, message)
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
