//! POP3 mailboxes, shown as one folder, Inbox, that behaves like an IMAP folder.
//!
//! POP3 has no flags, no stable numbers, no push and one session at a time, so the
//! bridge supplies them. A [`Maildrop`] per account and user holds the one POP3
//! connection all of that user's browsers share, the message list (from `UIDL` and
//! `LIST`, headers from `TOP n 0` as windows need them), and the last few messages
//! retrieved, each spooled to an unlinked temporary file and read from there by
//! section. The [`Store`] keeps a stable UID per unique id and the read and flagged
//! state. The connection is opened when needed and closed after a short while unused,
//! which releases the server's lock for the user's other mail programs; a new
//! session is also how new mail is seen, so the maildrop logs in again every
//! `folder_counts_seconds` while anyone has it open. Each [`Pop3Source`] is one
//! browser's view: it remembers what it told its browser and turns the differences
//! into the same events an IMAP folder gives.

mod client;
mod drafts;
mod index;

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use protocol::{
    Body, Event, Flag, Folder, FolderCount, FolderNamespace, FolderRole, MessageFlags,
    MessageHeader, Sort, SortKey,
};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use zeroize::Zeroizing;

pub(super) use client::Pop3;
pub use client::Pop3Error;
use drafts::{DRAFTS, Drafts, Place};
pub use index::Index;
use index::{Field, Indexed};

use super::headers::header_from_raw;
use super::mime_scan::{self, Scanned};
use super::store::{MailboxKey, Store};
use super::transport::{connect_tcp, server_label, start_tls};
use super::view::{self, Sections, Structure};
use super::{
    FolderChange, FolderWindow, Links, Listing, MailError, MailSource, MessageRef, OpenedMessage,
    PartMeta, UPSTREAM_DEADLINE, check_command_text, not_found,
};
use crate::config::{Account, Security, Server};

type Stream = TlsStream<TcpStream>;

/// The one folder's id, as IMAP names the inbox.
pub const INBOX: &str = "INBOX";
/// An unused connection is closed after this long, releasing the server's lock.
const KEEP_OPEN: Duration = Duration::from_secs(10);
/// The largest message retrieved; bigger ones are listed but cannot be opened.
const MAX_MESSAGE: u64 = 256 << 20;
/// Messages kept spooled per maildrop, so that a message's parts and downloads do not
/// retrieve it again.
const SPOOLED: usize = 4;
/// The most of a header block kept for the list.
const MAX_LIST_HEADER: usize = 64 << 10;
/// Asking for the folder list looks for new mail, unless the last look is younger.
const RECHECK_AFTER: Duration = Duration::from_secs(5);
/// New messages announced with their headers at once; beyond this the browser reloads.
const MAX_ANNOUNCED: usize = 200;
/// How much of a retrieved message is read for the search index.
const MAX_INDEXED: usize = 4 << 20;

/// The maildrops in use, one per account and user, shared by that user's sessions.
pub struct Maildrops {
    store: Store,
    drafts: Drafts,
    index: Index,
    open: Mutex<HashMap<MailboxKey, Weak<Maildrop>>>,
}

impl Maildrops {
    /// Maildrops whose state is in `store`, whose drafts are kept under
    /// `drafts` (a folder in `data_dir`), searched with `index`.
    pub fn new(store: Store, drafts: std::path::PathBuf, index: Index) -> Self {
        Maildrops {
            store,
            drafts: Drafts::new(drafts),
            index,
            open: Mutex::default(),
        }
    }

    /// The maildrop of `user` at `account`, shared if another session has it.
    fn get(&self, account: &Account, server: &Server, user: &str, poll: Duration) -> Arc<Maildrop> {
        let key = MailboxKey {
            account: account.name.clone(),
            user: user.to_owned(),
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, drop| drop.strong_count() > 0);
        if let Some(drop) = open.get(&key).and_then(Weak::upgrade) {
            return drop;
        }
        let (changed, _) = watch::channel(0);
        let lost = Arc::new(AtomicBool::new(false));
        let drop = Arc::new(Maildrop {
            lost: lost.clone(),
            state: tokio::sync::Mutex::new(State {
                key: key.clone(),
                server: server.clone(),
                tls: account.tls.clone(),
                store: self.store.clone(),
                drafts: self.drafts.clone(),
                index: self.index.clone(),
                changed,
                lost,
                conn: None,
                credentials: None,
                mailbox_id: 0,
                uid_validity: 0,
                messages: Vec::new(),
                checked: None,
                spools: VecDeque::new(),
            }),
        });
        open.insert(key, Arc::downgrade(&drop));
        tokio::spawn(keep(Arc::downgrade(&drop), poll));
        drop
    }
}

/// One user's POP3 mailbox as the bridge keeps it.
pub struct Maildrop {
    state: tokio::sync::Mutex<State>,
    /// Set when the password stopped working; read without the lock.
    lost: Arc<AtomicBool>,
}

struct State {
    key: MailboxKey,
    server: Server,
    tls: Arc<rustls::ClientConfig>,
    store: Store,
    drafts: Drafts,
    index: Index,
    /// Bumped whenever the list or a flag changes, waking every session's watch.
    changed: watch::Sender<u64>,
    /// Set when the password stopped working: the sessions end.
    lost: Arc<AtomicBool>,
    conn: Option<Conn>,
    /// The last user name and password that worked, to log in again.
    credentials: Option<(Zeroizing<String>, Zeroizing<String>)>,
    /// The store's id of this mailbox, which names its drafts' folder.
    mailbox_id: u64,
    uid_validity: u32,
    /// In the server's order: oldest first.
    messages: Vec<Entry>,
    /// When the list was last read from a fresh session.
    checked: Option<Instant>,
    /// Messages and drafts (their uids never meet), most recently used last.
    spools: VecDeque<(u32, Arc<Spool>)>,
}

struct Conn {
    pop: Pop3<Stream>,
    /// Message numbers are valid within one session only.
    numbers: HashMap<u32, u32>,
    used: Instant,
}

#[derive(Clone)]
struct Entry {
    uid: u32,
    size: u32,
    flags: Vec<Flag>,
    header: Option<MessageHeader>,
}

/// A retrieved message in an unlinked temporary file, or a draft in its own,
/// and where its parts are.
struct Spool {
    file: std::fs::File,
    scanned: Scanned,
    draft: bool,
}

impl Spool {
    /// Reads where `file`'s parts are, off the async threads.
    async fn scan(file: std::fs::File, draft: bool) -> Result<Arc<Spool>, MailError> {
        let reader = file.try_clone().map_err(MailError::Spool)?;
        let scanned = tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            std::io::Seek::rewind(&mut reader)?;
            mime_scan::scan(std::io::BufReader::with_capacity(64 << 10, reader))
        })
        .await
        .map_err(|e| MailError::Spool(std::io::Error::other(e)))?
        .map_err(MailError::Spool)?;
        Ok(Arc::new(Spool {
            file,
            scanned,
            draft,
        }))
    }
}

/// Closes the connection once unused and looks for new mail every `poll`, for as
/// long as a session holds the maildrop.
async fn keep(drop: Weak<Maildrop>, poll: Duration) {
    let tick = poll.min(KEEP_OPEN);
    loop {
        tokio::time::sleep(tick).await;
        let Some(drop) = drop.upgrade() else { return };
        let mut state = drop.state.lock().await;
        if state.credentials.is_some()
            && state.checked.is_none_or(|at| at.elapsed() >= poll)
            && let Err(error) = state.check().await
        {
            // Tried again a whole `poll` later, not at the next tick.
            state.checked = Some(Instant::now());
            tracing::info!(error = %crate::session::ErrorChain(&error), "checking a POP3 mailbox failed; will retry");
        }
        if state
            .conn
            .as_ref()
            .is_some_and(|c| c.used.elapsed() >= KEEP_OPEN)
        {
            state.quit().await;
        }
    }
}

impl Maildrop {
    /// Logs in with these credentials (checking them, whatever other sessions hold)
    /// and reads the message list.
    async fn login(&self, user: &str, password: &str) -> Result<(), MailError> {
        // Checked beside the shared connection, so that a wrong password costs the
        // other sessions nothing; only a server that allows one session at a time
        // (`[IN-USE]`) needs ours ended first.
        let (server, tls) = {
            let state = self.state.lock().await;
            (state.server.clone(), state.tls.clone())
        };
        let first = open(&server, tls.clone(), user, password).await;
        let mut state = self.state.lock().await;
        let pop = match first {
            Err(MailError::InUse) if state.conn.is_some() => {
                state.quit().await;
                open(&server, tls, user, password).await?
            }
            other => other?,
        };
        state.quit().await;
        state.lost.store(false, Ordering::Relaxed);
        state.credentials = Some((
            Zeroizing::new(user.to_owned()),
            Zeroizing::new(password.to_owned()),
        ));
        state.adopt(pop).await
    }
}

impl State {
    /// The connection, logging in again if there is none.
    async fn conn(&mut self) -> Result<&mut Conn, MailError> {
        if self.conn.is_none() {
            let (user, password) = self.credentials.clone().ok_or(MailError::Closed)?;
            let pop = match open(&self.server, self.tls.clone(), &user, &password).await {
                Err(MailError::WrongCredentials) => {
                    // The password changed: stop trying it, and end the sessions.
                    self.credentials = None;
                    self.lost.store(true, Ordering::Relaxed);
                    self.changed.send_modify(|v| *v += 1);
                    return Err(MailError::WrongCredentials);
                }
                other => other?,
            };
            self.adopt(pop).await?;
        }
        let conn = self.conn.as_mut().ok_or(MailError::Closed)?;
        conn.used = Instant::now();
        Ok(conn)
    }

    /// Starts a fresh session, which is how POP3 shows new mail.
    async fn check(&mut self) -> Result<(), MailError> {
        self.quit().await;
        self.conn().await.map(drop)
    }

    /// Takes `pop` as the connection and reads its message list: unique ids become
    /// the store's UIDs, flags come from the store, and known headers are kept.
    async fn adopt(&mut self, mut pop: Pop3<Stream>) -> Result<(), MailError> {
        let failed = |source| MailError::Pop3 {
            action: "listing messages",
            source,
        };
        let ids = match pop.uidl().await {
            Ok(ids) => ids,
            Err(Pop3Error::Refused { .. }) => {
                return Err(MailError::Unsupported(
                    "This POP3 server gives messages no lasting ids (UIDL), which Postern needs.",
                ));
            }
            Err(error) => return Err(failed(error)),
        };
        let sizes: HashMap<u32, u64> = pop.list().await.map_err(failed)?.into_iter().collect();
        // A hostile server might repeat an id; the first of each is kept.
        let mut seen = HashSet::new();
        let ids: Vec<(u32, String)> = ids
            .into_iter()
            .filter(|(_, id)| seen.insert(id.clone()))
            .collect();
        let synced = self
            .store
            .sync(&self.key, ids.iter().map(|(_, id)| id.clone()).collect())
            .await?;
        let before: Vec<(u32, Vec<Flag>)> = self
            .messages
            .iter()
            .map(|e| (e.uid, e.flags.clone()))
            .collect();
        let mut headers: HashMap<u32, MessageHeader> = self
            .messages
            .drain(..)
            .filter_map(|e| e.header.map(|h| (e.uid, h)))
            .collect();
        let mut changed = self.uid_validity != synced.uid_validity;
        self.uid_validity = synced.uid_validity;
        self.mailbox_id = synced.mailbox_id;
        let mut numbers = HashMap::new();
        let mut messages = Vec::with_capacity(ids.len());
        for ((number, _), known) in ids.iter().zip(synced.messages) {
            numbers.insert(known.uid, *number);
            messages.push(Entry {
                uid: known.uid,
                size: u32::try_from(sizes.get(number).copied().unwrap_or(0)).unwrap_or(u32::MAX),
                flags: known.flags,
                header: headers.remove(&known.uid),
            });
        }
        changed |= before.len() != messages.len()
            || before
                .iter()
                .zip(&messages)
                .any(|((uid, flags), e)| *uid != e.uid || *flags != e.flags);
        self.messages = messages;
        let listed: HashSet<u32> = self.messages.iter().map(|e| e.uid).collect();
        if let Err(error) = self
            .index
            .keep_only((self.mailbox_id, self.uid_validity), &listed)
        {
            tracing::warn!(%error, "the POP3 search index was not pruned");
        }
        self.spools
            .retain(|(uid, spool)| spool.draft || numbers.contains_key(uid));
        self.conn = Some(Conn {
            pop,
            numbers,
            used: Instant::now(),
        });
        self.checked = Some(Instant::now());
        if changed {
            self.changed.send_modify(|v| *v += 1);
        }
        Ok(())
    }

    /// Ends the session politely; errors only mean it was already gone.
    async fn quit(&mut self) {
        if let Some(mut conn) = self.conn.take()
            && let Err(error) = conn.pop.quit().await
        {
            tracing::debug!(%error, "POP3 QUIT failed");
        }
    }

    /// Runs `step` on the connection; a failure that leaves the exchange out of step
    /// drops the connection, so that the next step logs in afresh.
    async fn step<T>(
        &mut self,
        action: &'static str,
        step: impl AsyncFnOnce(&mut Conn) -> Result<T, Pop3Error>,
    ) -> Result<T, MailError> {
        let conn = self.conn().await?;
        match step(conn).await {
            Ok(value) => Ok(value),
            Err(source) => {
                if !source.leaves_session_usable() {
                    self.conn = None;
                }
                Err(MailError::Pop3 { action, source })
            }
        }
    }

    fn index(&self, uid: u32) -> Option<usize> {
        self.messages.iter().position(|e| e.uid == uid)
    }

    /// Reads the headers of the messages `uids` that are not known yet, over the
    /// connection the list was read on: if it is gone, the list may have changed,
    /// and the caller must look again (`Ok(false)`). A message whose headers the
    /// server will not give is listed without them.
    async fn load_headers(&mut self, uids: &[u32]) -> Result<bool, MailError> {
        for &uid in uids {
            let Some(i) = self.index(uid) else { continue };
            if self.messages[i].header.is_some() {
                continue;
            }
            let size = self.messages[i].size;
            let Some(number) = self.conn.as_ref().map(|c| c.numbers.get(&uid).copied()) else {
                return Ok(false);
            };
            let Some(number) = number else { continue };
            let raw = match self
                .step("reading headers", async |c| {
                    c.pop.top(number, MAX_LIST_HEADER).await
                })
                .await
            {
                Ok(raw) => raw,
                Err(MailError::Pop3 {
                    source: Pop3Error::Refused { .. },
                    ..
                }) => Vec::new(),
                Err(other) => return Err(other),
            };
            self.messages[i].header = Some(header_from_raw(uid, &raw, Vec::new(), size, None));
            self.index_message(uid, size, &Indexed::of(&raw, false));
        }
        Ok(true)
    }

    /// Takes what was read of message `uid` into the search index; a failure
    /// only leaves it out of searches, and is logged.
    fn index_message(&self, uid: u32, size: u32, message: &Indexed) {
        let place = (self.mailbox_id, self.uid_validity);
        if let Err(error) = self.index.put(place, uid, size, message) {
            tracing::warn!(%error, "a POP3 message was not indexed");
        }
    }

    /// Makes sure the connection is up when headers of `uids` are to be read;
    /// true if that took a new login, which reads the list afresh (so what was
    /// worked out from the old one must be worked out again).
    async fn ready_for(&mut self, uids: &[u32]) -> Result<bool, MailError> {
        let missing = uids.iter().any(|uid| {
            self.index(*uid)
                .is_some_and(|i| self.messages[i].header.is_none())
        });
        if missing && self.conn.is_none() {
            self.conn().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The list entry of the message at `index`, with its current flags.
    fn header(&self, index: usize) -> Option<MessageHeader> {
        let entry = self.messages.get(index)?;
        let mut header = entry
            .header
            .clone()
            .unwrap_or_else(|| header_from_raw(entry.uid, b"", Vec::new(), entry.size, None));
        header.flags = entry.flags.clone();
        Some(header)
    }

    fn unread(&self) -> u32 {
        self.messages
            .iter()
            .filter(|e| !e.flags.contains(&Flag::Seen))
            .count() as u32
    }

    fn total(&self) -> u32 {
        self.messages.len() as u32
    }

    /// The message `uid`, retrieved into a spool file unless it already is.
    async fn spool(&mut self, uid: u32) -> Result<Arc<Spool>, MailError> {
        if let Some(spool) = self.recall(uid) {
            return Ok(spool);
        }
        let missing = || not_found(INBOX, uid, None);
        let index = self.index(uid).ok_or_else(missing)?;
        if u64::from(self.messages[index].size) > MAX_MESSAGE {
            return Err(MailError::Unsupported(
                "This message is larger than the 256 MB the bridge retrieves from POP3 servers.",
            ));
        }
        let number = *self.conn().await?.numbers.get(&uid).ok_or_else(missing)?;
        let file = tempfile::tempfile().map_err(MailError::Spool)?;
        let mut writer = std::io::BufWriter::with_capacity(
            256 << 10,
            file.try_clone().map_err(MailError::Spool)?,
        );
        let retrieved = self
            .step("retrieving a message", async |c| {
                c.pop
                    .retr(number, MAX_MESSAGE, |chunk| {
                        std::io::Write::write_all(&mut writer, chunk)
                    })
                    .await
            })
            .await;
        match retrieved {
            Ok(()) => {}
            // Deleted by another program since the list was read.
            Err(MailError::Pop3 {
                source: Pop3Error::Refused { .. },
                ..
            }) => return Err(missing()),
            Err(other) => return Err(other),
        }
        std::io::Write::flush(&mut writer).map_err(MailError::Spool)?;
        drop(writer);
        let spool = Spool::scan(file, false).await?;
        self.remember(uid, spool.clone());
        let size = self.messages[index].size;
        let read = spool.file.try_clone().map_err(MailError::Spool)?;
        let indexed = tokio::task::spawn_blocking(move || {
            let mut start = vec![0; (size as usize).min(MAX_INDEXED)];
            let got = read.read_at(&mut start, 0).unwrap_or(0);
            start.truncate(got);
            Indexed::of(&start, true)
        })
        .await
        .map_err(|e| MailError::Spool(std::io::Error::other(e)))?;
        self.index_message(uid, size, &indexed);
        Ok(spool)
    }

    /// The spool of `uid` if it is one of the last few used, moved to the back.
    fn recall(&mut self, uid: u32) -> Option<Arc<Spool>> {
        let at = self.spools.iter().position(|(u, _)| *u == uid)?;
        // Most recently used last: eviction takes the front.
        let hit = self.spools.remove(at)?;
        let spool = hit.1.clone();
        self.spools.push_back(hit);
        Some(spool)
    }

    fn remember(&mut self, uid: u32, spool: Arc<Spool>) {
        if self.spools.len() == SPOOLED {
            self.spools.pop_front();
        }
        self.spools.push_back((uid, spool));
    }

    fn place(&self) -> Place {
        Place {
            mailbox_id: self.mailbox_id,
            uid_validity: self.uid_validity,
        }
    }

    /// Draft `uid`, read where its parts are unless it was just now.
    async fn draft(&mut self, uid: u32) -> Result<Arc<Spool>, MailError> {
        if let Some(spool) = self.recall(uid) {
            return Ok(spool);
        }
        let file = self
            .drafts
            .open(self.place(), uid)?
            .ok_or_else(|| not_found(DRAFTS, uid, None))?;
        let spool = Spool::scan(file, true).await?;
        self.remember(uid, spool.clone());
        Ok(spool)
    }

    /// Draft `uid` as the list shows it; `None` once it is gone.
    async fn draft_header(&mut self, uid: u32) -> Result<Option<MessageHeader>, MailError> {
        let spool = match self.draft(uid).await {
            Ok(spool) => spool,
            Err(MailError::MessageNotFound { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        let raw = match spool.scanned.header(None) {
            Some(range) => {
                SpoolSections(spool.clone())
                    .read(range, 0, MAX_LIST_HEADER as u64)
                    .await?
            }
            None => Vec::new(),
        };
        let saved = spool
            .file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        let size = u32::try_from(spool.scanned.size).unwrap_or(u32::MAX);
        Ok(Some(header_from_raw(uid, &raw, draft_flags(), size, saved)))
    }

    /// Removes drafts, and tells every session.
    async fn remove_drafts(&mut self, uids: &[u32]) -> Result<(), MailError> {
        let place = self.place();
        let mut removed = false;
        for &uid in uids {
            removed |= self.drafts.remove(place, uid).await?;
        }
        self.spools.retain(|(uid, _)| !uids.contains(uid));
        if removed {
            self.changed.send_modify(|v| *v += 1);
        }
        Ok(())
    }

    /// Removes messages from the server: DELE, then QUIT, which is when the server
    /// carries it out.
    async fn delete(&mut self, uids: &[u32]) -> Result<(), MailError> {
        for &uid in uids {
            let Some(number) = self.conn().await?.numbers.get(&uid).copied() else {
                continue;
            };
            if let Err(error) = self
                .step("deleting a message", async |c| c.pop.dele(number).await)
                .await
            {
                // Ended without QUIT, the session commits none of its marks.
                self.conn = None;
                return Err(error);
            }
        }
        let committed = self
            .step("committing deletions", async |c| c.pop.quit().await)
            .await;
        self.conn = None;
        committed?;
        self.store.forget(&self.key, uids).await?;
        let gone: HashSet<u32> = uids.iter().copied().collect();
        self.messages.retain(|e| !gone.contains(&e.uid));
        self.spools.retain(|(uid, _)| !gone.contains(uid));
        self.changed.send_modify(|v| *v += 1);
        Ok(())
    }
}

/// Opens an authenticated POP3 session: TLS first (implicit, or STLS, which is then
/// mandatory), CAPA, then `AUTH PLAIN` where offered, else `USER` and `PASS`.
async fn open(
    server: &Server,
    tls: Arc<rustls::ClientConfig>,
    user: &str,
    password: &str,
) -> Result<Pop3<Stream>, MailError> {
    check_command_text(user, "user name")?;
    check_command_text(password, "password")?;
    let failed = |action| move |source| MailError::Pop3 { action, source };
    let tcp = connect_tcp(server).await?;
    let stream = match server.security {
        Security::Implicit => start_tls(server, tls, tcp).await?,
        Security::StartTls => {
            let mut plain = Pop3::new(tcp, UPSTREAM_DEADLINE);
            plain.greeting().await.map_err(failed("the greeting"))?;
            match plain.stls().await {
                Ok(()) => {}
                Err(source @ Pop3Error::Refused { .. }) => {
                    return Err(MailError::StartTlsRefused {
                        server: server_label(server),
                        source: source.into(),
                    });
                }
                Err(source) => return Err(failed("STLS")(source)),
            }
            start_tls(server, tls, plain.into_inner()).await?
        }
    };
    let mut pop = Pop3::new(stream, UPSTREAM_DEADLINE);
    if server.security == Security::Implicit {
        pop.greeting().await.map_err(failed("the greeting"))?;
    }
    let capabilities = pop
        .capa()
        .await
        .map_err(failed("CAPA"))?
        .unwrap_or_default();
    let sasl_plain = capabilities
        .iter()
        .any(|c| c.starts_with("SASL ") && c.split_ascii_whitespace().any(|m| m == "PLAIN"));
    let result = if sasl_plain {
        pop.auth_plain(user, password).await
    } else {
        pop.user_pass(user, password).await
    };
    match result {
        Ok(()) => Ok(pop),
        Err(error) => Err(match error.code() {
            Some("IN-USE") => MailError::InUse,
            Some("SYS/TEMP" | "SYS/PERM" | "LOGIN-DELAY") => failed("logging in")(error),
            _ if error.leaves_session_usable() => MailError::WrongCredentials,
            _ => failed("logging in")(error),
        }),
    }
}

/// One browser's view of a maildrop.
pub struct Pop3Source {
    maildrop: Arc<Maildrop>,
    changed: watch::Receiver<u64>,
    /// What the browser was last told, while it has the inbox open.
    told: Option<Told>,
    /// The drafts the browser was last told of, while it has Drafts open.
    drafts_told: Option<Vec<u32>>,
    /// The counts of the folder it does not have open, as last told.
    counts_told: Option<FolderCount>,
    /// The order the browser lists in: by arrival, either way.
    sort: Sort,
    /// Whether the account can send, and so write drafts.
    sends: bool,
}

struct Told {
    uid_validity: u32,
    /// Oldest first.
    uids: Vec<u32>,
    flags: HashMap<u32, Vec<Flag>>,
}

impl Pop3Source {
    /// Signs in to the account's POP3 server, sharing the user's maildrop with their
    /// other sessions.
    pub async fn connect(
        maildrops: &Maildrops,
        account: &Account,
        user: &str,
        password: &str,
        poll: Duration,
    ) -> Result<Self, MailError> {
        let server = account
            .pop3
            .as_ref()
            .ok_or(MailError::Unsupported("This account has no POP3 server."))?;
        let maildrop = maildrops.get(account, server, user, poll);
        maildrop.login(user, password).await?;
        let mut changed = maildrop.state.lock().await.changed.subscribe();
        changed.mark_unchanged();
        Ok(Pop3Source {
            maildrop,
            changed,
            told: None,
            drafts_told: None,
            counts_told: None,
            sort: Sort::default(),
            sends: account.smtp.is_some(),
        })
    }

    /// A window of the inbox in `sort` order (date order is served as arrival).
    async fn window(
        &mut self,
        folder: &str,
        offset: u32,
        limit: u32,
        sort: Sort,
        open: bool,
    ) -> Result<FolderWindow, MailError> {
        let sort = Sort {
            by: SortKey::Arrival,
            newest_first: sort.newest_first,
        };
        if folder == DRAFTS {
            return self.drafts_window(offset, limit, sort, open).await;
        }
        inbox(folder)?;
        let mut state = self.maildrop.state.lock().await;
        if state.checked.is_none() {
            state.check().await?;
        }
        let limit = limit.min(protocol::MAX_WINDOW);
        // The window, total and list all from one reading of the list: reading
        // headers may need a new login, which reads the list again.
        let (total, indexes) = loop {
            let total = state.total();
            let positions = offset.min(total)..offset.saturating_add(limit).min(total);
            let indexes: Vec<usize> = positions.map(|p| at(total, p, sort) as usize).collect();
            let uids: Vec<u32> = indexes.iter().map(|&i| state.messages[i].uid).collect();
            if !state.ready_for(&uids).await? && state.load_headers(&uids).await? {
                break (total, indexes);
            }
        };
        let messages = indexes.iter().filter_map(|&i| state.header(i)).collect();
        if open {
            self.sort = sort;
            self.told = Some(Told::of(&state));
            self.drafts_told = None;
            self.counts_told = Some(drafts_count(&state).await?);
            self.changed.mark_unchanged();
        }
        Ok(FolderWindow {
            folder: INBOX.to_owned(),
            uid_validity: state.uid_validity,
            total,
            unread: state.unread(),
            offset,
            messages,
            sort,
            labels: Vec::new(),
            new_labels: false,
        })
    }
}

impl Pop3Source {
    /// What changed in the inbox since the browser was told, while it has it open.
    async fn inbox_news(&mut self) -> Result<Vec<Event>, MailError> {
        let Some(told) = &mut self.told else {
            return Ok(Vec::new());
        };
        let reset = || {
            Ok(vec![Event::FolderReset {
                folder: INBOX.to_owned(),
            }])
        };
        let mut state = self.maildrop.state.lock().await;
        // Worked out from one reading of the list: reading the new messages' headers
        // may need a new login, which reads the list again.
        let (removed, added, flags) = loop {
            if state.uid_validity != told.uid_validity {
                self.told = None;
                return reset();
            }
            let now: HashSet<u32> = state.messages.iter().map(|e| e.uid).collect();
            let before: HashSet<u32> = told.uids.iter().copied().collect();
            let removed: Vec<u32> = told
                .uids
                .iter()
                .copied()
                .filter(|u| !now.contains(u))
                .collect();
            let added: Vec<u32> = state
                .messages
                .iter()
                .map(|e| e.uid)
                .filter(|u| !before.contains(u))
                .collect();
            if added.len() > MAX_ANNOUNCED {
                self.told = None;
                return reset();
            }
            let flags: Vec<MessageFlags> = state
                .messages
                .iter()
                .filter(|e| before.contains(&e.uid) && told.flags.get(&e.uid) != Some(&e.flags))
                .map(|e| MessageFlags {
                    uid: e.uid,
                    flags: e.flags.clone(),
                })
                .collect();
            if removed.is_empty() && added.is_empty() && flags.is_empty() {
                return Ok(Vec::new());
            }
            if !state.ready_for(&added).await? && state.load_headers(&added).await? {
                break (removed, added, flags);
            }
        };
        // New messages at their positions in the list as the browser orders it,
        // after the removals; removals go by UID, as for an IMAP folder by arrival.
        let total = state.total();
        let added: HashSet<u32> = added.into_iter().collect();
        let mut placed: Vec<(u32, MessageHeader)> = state
            .messages
            .iter()
            .enumerate()
            .filter(|(_, e)| added.contains(&e.uid))
            .filter_map(|(i, _)| {
                let header = state.header(i)?;
                Some((at(total, i as u32, self.sort), header))
            })
            .collect();
        placed.sort_by_key(|(at, _)| *at);
        *told = Told::of(&state);
        Ok(vec![Event::FolderChanged {
            folder: INBOX.to_owned(),
            total,
            unread: state.unread(),
            added_at: placed.iter().map(|(at, _)| *at).collect(),
            added: placed.into_iter().map(|(_, h)| h).collect(),
            flags,
            removed,
            removed_at: Vec::new(),
        }])
    }

    /// A window of the drafts the bridge keeps, in the order they were saved.
    async fn drafts_window(
        &mut self,
        offset: u32,
        limit: u32,
        sort: Sort,
        open: bool,
    ) -> Result<FolderWindow, MailError> {
        let mut state = self.maildrop.state.lock().await;
        let uids = state.drafts.list(state.place()).await?;
        let total = uids.len() as u32;
        let limit = limit.min(protocol::MAX_WINDOW);
        let mut messages = Vec::new();
        for position in offset.min(total)..offset.saturating_add(limit).min(total) {
            let uid = uids[at(total, position, sort) as usize];
            messages.extend(state.draft_header(uid).await?);
        }
        if open {
            self.sort = sort;
            self.told = None;
            self.drafts_told = Some(uids);
            self.counts_told = Some(inbox_count(&state));
            self.changed.mark_unchanged();
        }
        Ok(FolderWindow {
            folder: DRAFTS.to_owned(),
            uid_validity: state.uid_validity,
            total,
            unread: 0,
            offset,
            messages,
            sort,
            labels: Vec::new(),
            new_labels: false,
        })
    }

    /// What changed among the drafts since the browser was told, as the news of
    /// an open folder.
    async fn drafts_news(&mut self) -> Result<Vec<Event>, MailError> {
        let Some(told) = &self.drafts_told else {
            return Ok(Vec::new());
        };
        let mut state = self.maildrop.state.lock().await;
        let now = state.drafts.list(state.place()).await?;
        if &now == told {
            return Ok(Vec::new());
        }
        let removed: Vec<u32> = told
            .iter()
            .copied()
            .filter(|u| now.binary_search(u).is_err())
            .collect();
        let total = now.len() as u32;
        let mut placed = Vec::new();
        for (i, &uid) in now.iter().enumerate() {
            if told.binary_search(&uid).is_err()
                && let Some(header) = state.draft_header(uid).await?
            {
                placed.push((at(total, i as u32, self.sort), header));
            }
        }
        placed.sort_by_key(|(at, _)| *at);
        self.drafts_told = Some(now);
        Ok(vec![Event::FolderChanged {
            folder: DRAFTS.to_owned(),
            total,
            unread: 0,
            added_at: placed.iter().map(|(at, _)| *at).collect(),
            added: placed.into_iter().map(|(_, h)| h).collect(),
            flags: Vec::new(),
            removed,
            removed_at: Vec::new(),
        }])
    }

    /// The counts of the folder the browser does not have open, if they changed
    /// since it was told.
    async fn other_counts(&mut self) -> Result<Vec<Event>, MailError> {
        let Some(told) = &self.counts_told else {
            return Ok(Vec::new());
        };
        let state = self.maildrop.state.lock().await;
        let now = if told.folder == DRAFTS {
            drafts_count(&state).await?
        } else {
            inbox_count(&state)
        };
        if &now == told {
            return Ok(Vec::new());
        }
        self.counts_told = Some(now.clone());
        Ok(vec![Event::FolderCounts { folders: vec![now] }])
    }
}

fn inbox_count(state: &State) -> FolderCount {
    FolderCount {
        folder: INBOX.to_owned(),
        total: state.total(),
        unread: state.unread(),
    }
}

async fn drafts_count(state: &State) -> Result<FolderCount, MailError> {
    Ok(FolderCount {
        folder: DRAFTS.to_owned(),
        total: state.drafts.list(state.place()).await?.len() as u32,
        unread: 0,
    })
}

/// A draft's flags: always these, as a draft saved over IMAP has.
fn draft_flags() -> Vec<Flag> {
    vec![Flag::Seen, Flag::Draft]
}

/// The index (oldest first) of list position `position` in `sort` order, and the
/// other way round.
fn at(total: u32, position: u32, sort: Sort) -> u32 {
    if sort.newest_first {
        total - 1 - position
    } else {
        position
    }
}

impl Told {
    fn of(state: &State) -> Self {
        Told {
            uid_validity: state.uid_validity,
            uids: state.messages.iter().map(|e| e.uid).collect(),
            flags: state
                .messages
                .iter()
                .map(|e| (e.uid, e.flags.clone()))
                .collect(),
        }
    }
}

fn inbox(folder: &str) -> Result<(), MailError> {
    if folder == INBOX {
        Ok(())
    } else {
        Err(MailError::FolderNotFound(folder.to_owned()))
    }
}

const NO_FOLDERS: MailError = MailError::Unsupported(
    "A POP3 mailbox has no folders of its own: mail cannot be moved or copied, and folders cannot be made.",
);

/// Reads a spooled message's sections from its file.
struct SpoolSections(Arc<Spool>);

impl SpoolSections {
    async fn read(&self, range: Range<u64>, offset: u64, len: u64) -> Result<Vec<u8>, MailError> {
        let start = range.start.saturating_add(offset).min(range.end);
        let end = start.saturating_add(len).min(range.end);
        let spool = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut bytes = vec![0; (end - start) as usize];
            spool.file.read_exact_at(&mut bytes, start).map(|()| bytes)
        })
        .await
        .map_err(|e| MailError::Spool(std::io::Error::other(e)))?
        .map_err(MailError::Spool)
    }
}

impl Sections for SpoolSections {
    async fn section(
        &mut self,
        id: Option<&str>,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, MailError> {
        let range = match id {
            None => 0..self.0.scanned.size,
            Some(id) => match self.0.scanned.body(id) {
                Some(range) => range,
                None => return Ok(None),
            },
        };
        self.read(range, offset, len).await.map(Some)
    }

    async fn header(&mut self, message: Option<&str>, max: u64) -> Result<Vec<u8>, MailError> {
        match self.0.scanned.header(message) {
            Some(range) => self.read(range, 0, max).await,
            None => Ok(Vec::new()),
        }
    }
}

impl MailSource for Pop3Source {
    async fn folders(&mut self) -> Result<Vec<Folder>, MailError> {
        // The app asks for folders when it comes back into view: a moment to look
        // for new mail, unless the maildrop just did.
        let mut state = self.maildrop.state.lock().await;
        if state.checked.is_none_or(|at| at.elapsed() >= RECHECK_AFTER) {
            state.check().await?;
        }
        let inbox = Folder {
            id: INBOX.to_owned(),
            name: "Inbox".to_owned(),
            parent: None,
            depth: 0,
            role: Some(FolderRole::Inbox),
            selectable: true,
            subscribed: true,
            total: state.total(),
            unread: state.unread(),
            namespace: FolderNamespace::Personal,
            read_only: false,
        };
        // The drafts the bridge keeps, shown as IMAP would show its Drafts, where
        // the account can write (or once wrote) any.
        let drafts = drafts_count(&state).await?.total;
        if !self.sends && drafts == 0 {
            return Ok(vec![inbox]);
        }
        let drafts = Folder {
            id: DRAFTS.to_owned(),
            name: DRAFTS.to_owned(),
            role: Some(FolderRole::Drafts),
            total: drafts,
            unread: 0,
            ..inbox.clone()
        };
        Ok(vec![inbox, drafts])
    }

    async fn open_folder(
        &mut self,
        folder: &str,
        limit: u32,
        sort: Sort,
    ) -> Result<FolderWindow, MailError> {
        self.window(folder, 0, limit, sort, true).await
    }

    async fn messages(
        &mut self,
        folder: &str,
        offset: u32,
        limit: u32,
        sort: Sort,
    ) -> Result<FolderWindow, MailError> {
        self.window(folder, offset, limit, sort, false).await
    }

    async fn open_message(
        &mut self,
        folder: &str,
        uid: u32,
        part: Option<&str>,
        mark_seen: bool,
        links: &Links,
    ) -> Result<OpenedMessage, MailError> {
        let mut state = self.maildrop.state.lock().await;
        let (spool, flags) = if folder == DRAFTS {
            (state.draft(uid).await?, draft_flags())
        } else {
            inbox(folder)?;
            let spool = state.spool(uid).await?;
            let flags = state
                .index(uid)
                .map(|i| state.messages[i].flags.clone())
                .unwrap_or_default();
            (spool, flags)
        };
        let uid_validity = state.uid_validity;
        let structure = Structure {
            root: spool.scanned.root.clone(),
            notes: spool.scanned.notes.clone(),
            flags: flags.clone(),
            size: spool.scanned.size,
        };
        let missing = || not_found(folder, uid, part);
        let (mut view, threading) =
            view::open(&mut SpoolSections(spool), structure, part, links, missing).await?;
        if mark_seen && !flags.contains(&Flag::Seen) {
            let changed = state.set_flags(&[uid], &[Flag::Seen], &[]).await?;
            if let Some(m) = changed.into_iter().next() {
                view.flags = m.flags;
            }
        }
        Ok(OpenedMessage {
            view,
            uid_validity,
            threading,
        })
    }

    async fn show_part(
        &mut self,
        folder: &str,
        uid: u32,
        part: &str,
        links: &Links,
    ) -> Result<Body, MailError> {
        let spool = {
            let mut state = self.maildrop.state.lock().await;
            if folder == DRAFTS {
                state.draft(uid).await?
            } else {
                inbox(folder)?;
                state.spool(uid).await?
            }
        };
        let root = spool.scanned.root.clone();
        let missing = || not_found(folder, uid, Some(part));
        view::show_part(&mut SpoolSections(spool), &root, part, links, missing).await
    }

    async fn set_flags(
        &mut self,
        folder: &str,
        uids: &[u32],
        add: &[Flag],
        remove: &[Flag],
    ) -> Result<Vec<MessageFlags>, MailError> {
        if folder == DRAFTS {
            // A draft is read and a draft, whatever is asked.
            return Ok(uids
                .iter()
                .map(|&uid| MessageFlags {
                    uid,
                    flags: draft_flags(),
                })
                .collect());
        }
        inbox(folder)?;
        let mut state = self.maildrop.state.lock().await;
        let changed = state.set_flags(uids, add, remove).await?;
        if let Some(told) = &mut self.told {
            for m in &changed {
                told.flags.insert(m.uid, m.flags.clone());
            }
        }
        Ok(changed)
    }

    async fn move_messages(&mut self, _: &str, _: &[u32], _: &str) -> Result<(), MailError> {
        Err(NO_FOLDERS)
    }

    async fn copy_messages(&mut self, _: &str, _: &[u32], _: &str) -> Result<(), MailError> {
        Err(NO_FOLDERS)
    }

    async fn expunge_messages(&mut self, folder: &str, uids: &[u32]) -> Result<(), MailError> {
        if uids.is_empty() {
            return Err(MailError::BadInput("no messages named"));
        }
        if folder == DRAFTS {
            return self.maildrop.state.lock().await.remove_drafts(uids).await;
        }
        inbox(folder)?;
        // The browser hears of the removal like any other; when it asked for it,
        // it has taken the rows out already, as after an IMAP move.
        self.maildrop.state.lock().await.delete(uids).await
    }

    async fn change_folder(&mut self, _: FolderChange) -> Result<(), MailError> {
        Err(NO_FOLDERS)
    }

    async fn part_meta(
        &mut self,
        message: &MessageRef,
        part: Option<&str>,
    ) -> Result<PartMeta, MailError> {
        let spool = self.spool_of(message).await?;
        let (root, size) = (spool.scanned.root.clone(), spool.scanned.size);
        let missing = || not_found(&message.folder, message.uid, part);
        view::part_meta(&mut SpoolSections(spool), &root, size, part, missing).await
    }

    async fn read_part(
        &mut self,
        message: &MessageRef,
        part: Option<&str>,
        offset: u64,
        len: u32,
    ) -> Result<Vec<u8>, MailError> {
        let spool = self.spool_of(message).await?;
        SpoolSections(spool)
            .section(part, offset, u64::from(len))
            .await?
            .ok_or_else(|| not_found(&message.folder, message.uid, part))
    }

    async fn watch<F: Future<Output: Send> + Send>(&mut self, stop: F) -> Option<F::Output> {
        tokio::select! {
            output = stop => Some(output),
            _ = self.changed.changed() => None,
        }
    }

    async fn news(&mut self) -> Result<Vec<Event>, MailError> {
        let mut events = self.inbox_news().await?;
        events.extend(self.drafts_news().await?);
        events.extend(self.other_counts().await?);
        Ok(events)
    }

    /// Searches what the bridge has: the headers of every listed message (read
    /// now where not yet) and the text of those it has retrieved. Drafts, which
    /// the bridge keeps itself, are not searched.
    async fn search(
        &mut self,
        folder: &str,
        query: &protocol::search::Query,
        dated: bool,
    ) -> Result<super::Found, MailError> {
        if folder == DRAFTS {
            return Ok(super::Found::default());
        }
        inbox(folder)?;
        let mut state = self.maildrop.state.lock().await;
        if state.checked.is_none() {
            state.check().await?;
        }
        loop {
            let uids: Vec<u32> = state.messages.iter().map(|e| e.uid).collect();
            if !state.ready_for(&uids).await? && state.load_headers(&uids).await? {
                break;
            }
        }
        let place = (state.mailbox_id, state.uid_validity);
        let failed = |error: index::IndexError| {
            tracing::warn!(%error, "a POP3 search failed");
            MailError::Query("Postern could not search this mailbox's index.".to_owned())
        };
        let facts: HashMap<u32, index::Facts> = state
            .index
            .facts(place)
            .map_err(failed)?
            .into_iter()
            .map(|f| (f.uid, f))
            .collect();
        let mut hits: Vec<u32> = state.messages.iter().map(|e| e.uid).collect();
        for term in &query.terms {
            use protocol::search::Test;
            let text = |field, value: &str| state.index.matching(place, field, value);
            let matched: HashSet<u32> = match &term.test {
                Test::Text(v) => text(Field::Any, v).map_err(failed)?,
                Test::From(v) => text(Field::From, v).map_err(failed)?,
                Test::To(v) => text(Field::To, v).map_err(failed)?,
                Test::Cc(v) => text(Field::Cc, v).map_err(failed)?,
                Test::Subject(v) => text(Field::Subject, v).map_err(failed)?,
                Test::Body(v) => text(Field::Body, v).map_err(failed)?,
                other => state
                    .messages
                    .iter()
                    .filter(|e| {
                        let fact = facts.get(&e.uid);
                        let date = fact.map_or(0, |f| f.date);
                        match other {
                            Test::HasAttachment => fact.is_some_and(|f| f.attachment),
                            Test::Unread => !e.flags.contains(&Flag::Seen),
                            Test::Read => e.flags.contains(&Flag::Seen),
                            Test::Flagged => e.flags.contains(&Flag::Flagged),
                            Test::Before(day) => date < day.timestamp(),
                            Test::After(day) => date >= day.timestamp(),
                            Test::Larger(n) => u64::from(e.size) > *n,
                            Test::Smaller(n) => u64::from(e.size) < *n,
                            _ => false,
                        }
                    })
                    .map(|e| e.uid)
                    .collect(),
            };
            hits.retain(|uid| matched.contains(uid) != term.negated);
        }
        hits.sort_unstable();
        // Bodies matter only to a query that looks in them.
        let looks_in_bodies = query.terms.iter().any(|t| {
            matches!(
                t.test,
                protocol::search::Test::Text(_) | protocol::search::Test::Body(_)
            )
        });
        let bodies_unsearched = if looks_in_bodies {
            state
                .messages
                .iter()
                .filter(|e| !facts.get(&e.uid).is_some_and(|f| f.bodied))
                .count() as u32
        } else {
            0
        };
        let dates = dated.then(|| {
            hits.iter()
                .map(|uid| facts.get(uid).map_or(0, |f| f.date))
                .collect()
        });
        Ok(super::Found {
            uid_validity: state.uid_validity,
            uids: hits,
            dates,
            bodies_unsearched,
        })
    }

    async fn conversations(&mut self, _folder: &str) -> Result<(u32, Vec<Vec<u32>>), MailError> {
        Err(MailError::Unsupported(
            "Conversations are not available for POP3 accounts yet.",
        ))
    }

    async fn headers(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
    ) -> Result<HashMap<u32, MessageHeader>, MailError> {
        if folder == DRAFTS {
            return Ok(HashMap::new());
        }
        inbox(folder)?;
        let mut state = self.maildrop.state.lock().await;
        loop {
            if state.uid_validity != uid_validity {
                return Ok(HashMap::new());
            }
            if !state.ready_for(uids).await? && state.load_headers(uids).await? {
                break;
            }
        }
        Ok(uids
            .iter()
            .filter_map(|uid| state.index(*uid).and_then(|i| state.header(i)))
            .map(|h| (h.uid, h))
            .collect())
    }

    async fn listing(&mut self, folder: &str) -> Result<Listing, MailError> {
        let mut state = self.maildrop.state.lock().await;
        if folder == DRAFTS {
            let uids = state.drafts.list(state.place()).await?;
            let mut messages = Vec::with_capacity(uids.len());
            for uid in uids {
                if let Some(header) = state.draft_header(uid).await? {
                    messages.push((uid, Some(header.date)));
                }
            }
            return Ok(Listing {
                uid_validity: state.uid_validity,
                messages,
            });
        }
        inbox(folder)?;
        if state.checked.is_none() {
            state.check().await?;
        }
        Ok(Listing {
            uid_validity: state.uid_validity,
            messages: state
                .messages
                .iter()
                .map(|e| (e.uid, e.header.as_ref().map(|h| h.date)))
                .collect(),
        })
    }

    async fn counts(&mut self) -> Result<Vec<FolderCount>, MailError> {
        Ok(Vec::new())
    }

    async fn count(&mut self, _: &str) -> Result<Option<FolderCount>, MailError> {
        // The inbox is the only folder, and its counts come with its news.
        Ok(None)
    }

    async fn resume(&mut self, _: Self) -> Result<(), MailError> {
        Ok(())
    }

    /// A POP3 mailbox has no folders: there is nowhere to keep a Sent copy.
    async fn save_sent(
        &mut self,
        _: &[u8],
        _: &super::Spooled,
        _: &str,
    ) -> Result<Option<String>, MailError> {
        Ok(None)
    }

    /// Kept by the bridge, each version under a new uid, as an IMAP server would.
    async fn save_draft(
        &mut self,
        message: &super::Spooled,
        replacing: Option<&protocol::SavedDraft>,
    ) -> Result<Option<protocol::SavedDraft>, MailError> {
        let mut state = self.maildrop.state.lock().await;
        let uid = state.store.next_uid(&state.key).await?;
        let place = state.place();
        state.drafts.keep(place, uid, message).await?;
        if let Some(old) = replacing.filter(|old| is_draft_here(old, &state)) {
            state.remove_drafts(&[old.uid]).await?;
        }
        state.changed.send_modify(|v| *v += 1);
        Ok(Some(protocol::SavedDraft {
            folder: DRAFTS.to_owned(),
            uid_validity: state.uid_validity,
            uid,
        }))
    }

    async fn remove_saved(&mut self, saved: &protocol::SavedDraft) -> Result<(), MailError> {
        let mut state = self.maildrop.state.lock().await;
        if is_draft_here(saved, &state) {
            state.remove_drafts(&[saved.uid]).await?;
        }
        Ok(())
    }

    /// Only once the password stopped working: the session then ends (there is no
    /// way to reconnect); otherwise the maildrop reconnects by itself.
    fn is_broken(&self) -> bool {
        self.maildrop.lost.load(Ordering::Relaxed)
    }

    async fn logout(self) {
        // The last session out ends the POP3 session; others keep it.
        if Arc::strong_count(&self.maildrop) == 1 {
            self.maildrop.state.lock().await.quit().await;
        }
    }
}

impl Pop3Source {
    /// The spooled message a download link names, if the mailbox still has it.
    async fn spool_of(&self, message: &MessageRef) -> Result<Arc<Spool>, MailError> {
        let mut state = self.maildrop.state.lock().await;
        if message.uid_validity != state.uid_validity {
            return Err(not_found(&message.folder, message.uid, None));
        }
        match message.folder.as_str() {
            INBOX => state.spool(message.uid).await,
            DRAFTS => state.draft(message.uid).await,
            other => Err(not_found(other, message.uid, None)),
        }
    }
}

/// Whether `saved` names a draft of this mailbox as it now is.
fn is_draft_here(saved: &protocol::SavedDraft, state: &State) -> bool {
    saved.folder == DRAFTS && saved.uid_validity == state.uid_validity
}

impl Pop3Source {}

impl State {
    /// Adds, then removes flags in the store, and wakes the other sessions.
    async fn set_flags(
        &mut self,
        uids: &[u32],
        add: &[Flag],
        remove: &[Flag],
    ) -> Result<Vec<MessageFlags>, MailError> {
        let changed = self.store.set_flags(&self.key, uids, add, remove).await?;
        for (uid, flags) in &changed {
            if let Some(i) = self.index(*uid) {
                self.messages[i].flags = flags.clone();
            }
        }
        self.changed.send_modify(|v| *v += 1);
        Ok(changed
            .into_iter()
            .map(|(uid, flags)| MessageFlags { uid, flags })
            .collect())
    }
}
