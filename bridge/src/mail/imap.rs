//! A user's IMAP session: connect over TLS (implicit or mandatory STARTTLS), log in,
//! and answer the session's requests, each command under a deadline and a byte budget.

use async_imap::error::Error as ImapError;
use futures::TryStreamExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, MessageSection, Response, SectionPath};
use async_imap::types::Fetch;
use protocol::{
    Body, Event, Flag, FolderCount, MessageFlags, MessageHeader, SavedDraft, Sort, SortKey,
};

use super::folders::{FolderEntry, build_tree};
use super::headers::{flags, flags_from, header_from_fetch, threaded_from_raw};
use super::message::parse_section;
use super::namespace::{self, Namespaces};
use super::news::{MAX_LISTED, News};
use super::order::{self, MAX_SORT_LINE, MAX_SORTED, Order, SORT_COMMAND};
use super::raw::{self, quoted};
use super::search::{self, MAX_HITS};
use super::spool::{self, Spooled};
use super::structure;
use super::thread;
use super::transport::{Bounded, Budget, SIGN_IN_BUDGET, connect_tcp, server_label, start_tls};
use super::view::{self, Structure};
use super::{
    FolderChange, FolderWindow, Found, Links, MailError, MailSource, MessageRef, OpenedMessage,
    PartMeta, Refusal, Selected, UPSTREAM_DEADLINE, check_command_text, not_found,
};
use crate::config::{Account, Security, Server};

type Stream = Bounded<TlsStream<TcpStream>>;

/// What the header list fetches per message: flags, size, arrival time, and only the
/// header fields the list shows (`Content-Type` hints at attachments).
const HEADER_QUERY: &str = "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE CONTENT-TYPE)])";

/// The most messages one flag change may name.
const MAX_FLAG_UIDS: usize = 1000;

/// A logged-in IMAP session.
pub struct ImapSource {
    /// `None` only while IDLE holds it (within `watch`), or after IDLE failed.
    session: Option<async_imap::Session<Stream>>,
    budget: Budget,
    broken: bool,
    /// The selected folder, so that work on one message does not select again, and
    /// what is known of its state.
    selected: Option<Selected>,
    /// What the server reported about the selected folder, not yet passed on.
    news: News,
    idle: bool,
    /// QRESYNC is enabled: removals come as UIDs, and changes since a MODSEQ can be
    /// asked for after a reconnect.
    qresync: bool,
    /// NOTIFY is set: other folders' counts arrive on their own.
    notify: bool,
    /// Count refreshes skipped since the last full one (with NOTIFY, only every
    /// `NOTIFIED_REFRESH`th is done, as a safety net).
    skipped_counts: u32,
    /// The server's namespaces: asked for at login where it offers `NAMESPACE`,
    /// else learned from the first `LIST`.
    namespaces: Option<Namespaces>,
    /// The folder the browser lists, and in which order; for date order, the
    /// selected folder's UIDs in it.
    listing: Option<(String, Sort)>,
    order: Option<Order>,
    /// Capabilities that change how commands are spelled.
    can_move: bool,
    uidplus: bool,
    can_sort: bool,
    /// ACL (RFC 4314): `MYRIGHTS` says which folders the user may not fill.
    acl: bool,
    /// LIST-STATUS (RFC 5819): every folder's counts in one command.
    list_status: bool,
    /// Gmail's extensions: the server files sent mail into Sent itself.
    gmail: bool,
    /// CATENATE (RFC 4469): APPEND takes parts the server holds by URL.
    catenate: bool,
    /// URLAUTH (RFC 4467): the start of this user's URLs on this server
    /// (`imap://user@host:port`) and the user as URLs spell it.
    urlauth: Option<(String, String)>,
    /// The listed folder's state when work elsewhere (a send marking its original,
    /// a move from another folder) selected another one: coming back resumes from
    /// it, so that what changed meanwhile still reaches the browser.
    away: Option<Selected>,
    /// ESEARCH (RFC 4731): a search answers with ranges, not a UID per match.
    esearch: bool,
    /// LITERAL+ (RFC 7888): literals go without waiting for the go-ahead.
    literal_plus: bool,
    /// `THREAD=REFS`: the server groups conversations as the bridge would.
    thread_refs: bool,
}

/// New messages in list order, where each now stands, and where removed ones stood.
type Placed = (Vec<MessageHeader>, Vec<u32>, Vec<u32>);

/// Whether a refused LOGIN is about the user's number of connections rather
/// than the password: the response codes servers use for it (RFC 5530's
/// `UNAVAILABLE` and `LIMIT`, Cyrus's `INUSE`), or Dovecot's sentence.
fn over_limit(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    [
        "[UNAVAILABLE]",
        "[LIMIT]",
        "[INUSE]",
        "MAXIMUM NUMBER OF CONNECTIONS",
    ]
    .iter()
    .any(|sign| upper.contains(sign))
}

impl ImapSource {
    /// Connects to the account's server and logs in. Credentials are sent only once
    /// TLS is up and the certificate has been verified.
    pub async fn connect(account: &Account, user: &str, password: &str) -> Result<Self, MailError> {
        check_command_text(user, "user name")?;
        check_command_text(password, "password")?;
        let server = account
            .imap
            .as_ref()
            .ok_or(MailError::Unsupported("This account has no IMAP server."))?;
        let tcp = connect_tcp(server).await?;
        let tls = match server.security {
            Security::Implicit => start_tls(server, account.tls.clone(), tcp).await?,
            Security::StartTls => {
                let tcp = starttls(server, tcp).await?;
                start_tls(server, account.tls.clone(), tcp).await?
            }
        };
        let budget = Budget::new();
        budget.refill_with(SIGN_IN_BUDGET);
        let mut client = async_imap::Client::new(Bounded::new(tls, budget.clone()));
        if server.security == Security::Implicit {
            read_greeting(&mut client, server).await?;
        }
        budget.refill_with(SIGN_IN_BUDGET);
        let session = match timeout(UPSTREAM_DEADLINE, client.login(user, password)).await {
            Err(_) => return Err(MailError::Timeout("LOGIN")),
            Ok(Ok(session)) => session,
            Ok(Err((ImapError::No(text) | ImapError::Bad(text), _))) if over_limit(&text) => {
                return Err(MailError::ConnectionLimit);
            }
            Ok(Err((ImapError::No(_) | ImapError::Bad(_), _))) => {
                return Err(MailError::WrongCredentials);
            }
            Ok(Err((source, _))) => {
                return Err(MailError::Imap {
                    action: "LOGIN",
                    source,
                });
            }
        };
        let mut source = ImapSource {
            session: Some(session),
            budget,
            broken: false,
            selected: None,
            news: News::default(),
            idle: false,
            qresync: false,
            notify: false,
            skipped_counts: 0,
            namespaces: None,
            listing: None,
            order: None,
            can_move: false,
            uidplus: false,
            can_sort: false,
            acl: false,
            list_status: false,
            gmail: false,
            catenate: false,
            urlauth: None,
            away: None,
            esearch: false,
            literal_plus: false,
            thread_refs: false,
        };
        let capabilities = source
            .step("CAPABILITY", async |s| s.capabilities().await)
            .await?;
        source.can_move = capabilities.has_str("MOVE");
        source.uidplus = capabilities.has_str("UIDPLUS");
        source.can_sort = capabilities.has_str("SORT");
        source.idle = capabilities.has_str("IDLE");
        source.acl = capabilities.has_str("ACL");
        source.list_status = capabilities.has_str("LIST-STATUS");
        source.gmail = capabilities.has_str("X-GM-EXT-1");
        source.catenate = capabilities.has_str("CATENATE");
        source.esearch = capabilities.has_str("ESEARCH");
        source.literal_plus = capabilities.has_str("LITERAL+");
        source.thread_refs = capabilities.has_str("THREAD=REFS");
        if capabilities.has_str("URLAUTH") {
            let user = url_encoded(user, b"-._~");
            let named = account.urlauth_server.as_ref().unwrap_or(server);
            let host = if named.host.contains(':') {
                format!("[{}]", named.host)
            } else {
                named.host.clone()
            };
            let start = format!("imap://{user}@{host}:{}", named.port);
            source.urlauth = Some((start, user));
        }
        if capabilities.has_str("NAMESPACE") {
            source.namespaces = source.ask_namespaces().await?;
        }
        if capabilities.has_str("QRESYNC") {
            source
                .step("ENABLE", async |s| {
                    s.run_command_and_check_ok("ENABLE QRESYNC").await
                })
                .await?;
            source.qresync = true;
        }
        if capabilities.has_str("NOTIFY") {
            // Other folders' changes come as STATUS responses; the open folder's as
            // usual. A server that refuses leaves the periodic STATUS in charge.
            let set = "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) \
                       (personal (MessageNew MessageExpunge FlagChange))";
            match source
                .step("NOTIFY", async |s| s.run_command_and_check_ok(set).await)
                .await
            {
                Ok(()) => source.notify = true,
                Err(MailError::Imap {
                    source: ImapError::No(_) | ImapError::Bad(_),
                    ..
                }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(source)
    }

    /// Runs one command step under the deadline and a fresh byte budget. A timeout or
    /// I/O failure leaves the protocol state unknown, so the session is marked broken.
    async fn step<T>(
        &mut self,
        action: &'static str,
        run: impl AsyncFnOnce(&mut async_imap::Session<Stream>) -> Result<T, ImapError>,
    ) -> Result<T, MailError> {
        self.step_within(action, UPSTREAM_DEADLINE, run).await
    }

    /// As [`ImapSource::step`], with a deadline of its own.
    async fn step_within<T>(
        &mut self,
        action: &'static str,
        deadline: Duration,
        run: impl AsyncFnOnce(&mut async_imap::Session<Stream>) -> Result<T, ImapError>,
    ) -> Result<T, MailError> {
        let Some(session) = self.session.as_mut().filter(|_| !self.broken) else {
            return Err(MailError::Closed);
        };
        self.budget.refill();
        let result = timeout(deadline, run(session)).await;
        self.absorb_unsolicited();
        if self.budget.closed() && matches!(result, Ok(Ok(_))) {
            // The answer may have been cut off by the end of the stream (a BYE):
            // nothing read from it can be trusted, and the session must reconnect.
            self.broken = true;
            return Err(MailError::Imap {
                action,
                source: ImapError::ConnectionLost,
            });
        }
        match result {
            Err(_) => {
                self.broken = true;
                Err(MailError::Timeout(action))
            }
            Ok(Err(source)) => {
                if matches!(
                    source,
                    ImapError::Io(_) | ImapError::ConnectionLost | ImapError::Parse(_)
                ) {
                    self.broken = true;
                }
                Err(MailError::Imap { action, source })
            }
            Ok(Ok(value)) => Ok(value),
        }
    }

    async fn select(&mut self, folder: &str) -> Result<FolderWindow, MailError> {
        check_command_text(folder, "folder name")?;
        // STATUS before SELECT: RFC 3501 advises against STATUS on the selected folder.
        let status = self
            .step("STATUS", async |s| s.status(folder, "(UNSEEN)").await)
            .await
            .map_err(|e| refused_means(e, true, || MailError::FolderNotFound(folder.to_owned())))?;
        let mailbox = self.select_now(folder).await?;
        let labels = labels_of(&mailbox.flags);
        Ok(FolderWindow {
            folder: folder.to_owned(),
            uid_validity: mailbox.uid_validity.unwrap_or(0),
            total: mailbox.exists,
            unread: status.unseen.unwrap_or(0),
            offset: 0,
            messages: Vec::new(),
            sort: Sort::default(),
            labels,
            new_labels: mailbox
                .permanent_flags
                .iter()
                .any(|f| matches!(f, async_imap::types::Flag::MayCreate)),
        })
    }

    /// Selects `folder` unless it is already selected; returns its UIDVALIDITY.
    async fn ensure_selected(&mut self, folder: &str) -> Result<u32, MailError> {
        if let Some(selected) = &self.selected
            && selected.folder == folder
        {
            return Ok(selected.uid_validity);
        }
        check_command_text(folder, "folder name")?;
        // Only a return to the listed folder uses (and uses up) what was kept of it.
        let back = if self.away.as_ref().is_some_and(|away| away.folder == folder) {
            self.away.take()
        } else {
            None
        };
        let uid_validity = match back {
            Some(before) => {
                self.resume_selected(before).await?;
                self.selected.as_ref().map_or(0, |s| s.uid_validity)
            }
            None => self.select_now(folder).await?.uid_validity.unwrap_or(0),
        };
        // Back from another folder (say, a move sent from there): the list the
        // browser shows by date needs its order again, for the news to be placed.
        if let Some((_, sort)) = self
            .listing
            .clone()
            .filter(|(listed, sort)| listed == folder && sort.by == SortKey::Date)
        {
            self.arrange(folder, sort).await?;
        }
        Ok(uid_validity)
    }

    /// SELECT, remembering what is selected. A failed SELECT leaves nothing selected.
    async fn select_now(&mut self, folder: &str) -> Result<async_imap::types::Mailbox, MailError> {
        // A fresh SELECT of the folder left supersedes what was remembered of it.
        if self.away.as_ref().is_some_and(|away| away.folder == folder) {
            self.away = None;
        }
        // Leaving the listed folder: remember where its news stood.
        if let Some(current) = self.selected.take()
            && self
                .listing
                .as_ref()
                .is_some_and(|(listed, _)| *listed == current.folder && listed != folder)
        {
            self.away = Some(current);
        }
        let mailbox = self
            .step("SELECT", async |s| s.select(folder).await)
            .await
            .map_err(|e| refused_means(e, true, || MailError::FolderNotFound(folder.to_owned())))?;
        // What was heard about the previous folder no longer matters to the browser,
        // which opens this one; the SELECT answer is this folder's fresh state.
        self.news = News::default();
        self.order = None;
        self.selected = Some(Selected {
            folder: folder.to_owned(),
            uid_validity: mailbox.uid_validity.unwrap_or(0),
            uid_next: mailbox.uid_next.unwrap_or(1),
            exists: mailbox.exists,
            modseq: mailbox.highest_modseq,
        });
        Ok(mailbox)
    }

    /// Selects the message's folder and checks it is still the same folder.
    async fn select_message(&mut self, message: &MessageRef) -> Result<(), MailError> {
        if self.ensure_selected(&message.folder).await? != message.uid_validity {
            return Err(not_found(&message.folder, message.uid, None));
        }
        Ok(())
    }

    /// One UID FETCH of a single message; `None` when the UID is gone.
    async fn fetch_one(&mut self, uid: u32, query: &str) -> Result<Option<Fetch>, MailError> {
        let fetches = self
            .step("UID FETCH", async |s| {
                s.uid_fetch(uid.to_string(), query)
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        Ok(fetches.into_iter().find(|f| f.uid == Some(uid)))
    }

    async fn structure(&mut self, folder: &str, uid: u32) -> Result<Structure, MailError> {
        let fetch = self
            .fetch_one(uid, "(UID FLAGS RFC822.SIZE BODYSTRUCTURE)")
            .await?
            .ok_or_else(|| not_found(folder, uid, None))?;
        let bodystructure = fetch
            .bodystructure()
            .ok_or_else(|| not_found(folder, uid, None))?;
        let (root, notes) = structure::from_imap(bodystructure);
        Ok(Structure {
            root,
            notes,
            flags: flags(&fetch),
            size: u64::from(fetch.size.unwrap_or(0)),
        })
    }

    /// Up to `len` bytes of section `section` (`None`: the whole message) from `offset`.
    async fn fetch_section(
        &mut self,
        uid: u32,
        section: Option<&[u32]>,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, MailError> {
        let spec = section.map(join_section).unwrap_or_default();
        let query = format!("(UID BODY.PEEK[{spec}]<{offset}.{len}>)");
        let Some(fetch) = self.fetch_one(uid, &query).await? else {
            return Ok(None);
        };
        let data = match section {
            None => fetch.body(),
            Some(path) => fetch.section(&SectionPath::Part(path.to_vec(), None)),
        };
        // A server sends NIL, or nothing, for a range past the end.
        Ok(Some(data.map(<[u8]>::to_vec).unwrap_or_default()))
    }

    /// Fills `window.messages` with up to `limit` headers after skipping `offset`, in
    /// the order `arrange` set up for the selected folder: in arrival order by
    /// sequence range, in date order by the UIDs kept for it.
    async fn fill(
        &mut self,
        window: &mut FolderWindow,
        offset: u32,
        limit: u32,
    ) -> Result<(), MailError> {
        window.offset = offset;
        let sort = self.listed_sort();
        window.sort = sort;
        let limit = limit.min(protocol::MAX_WINDOW);
        if offset >= window.total || limit == 0 {
            return Ok(());
        }
        if let Some(order) = &self.order {
            let uids = order.window(offset, limit).to_vec();
            if uids.is_empty() {
                return Ok(());
            }
            let set = uid_set(&uids)?;
            let mut found: std::collections::HashMap<u32, MessageHeader> =
                self.fetch_headers(true, &set).await?;
            // A message removed meanwhile is left out; the news says so.
            window.messages = uids.iter().filter_map(|uid| found.remove(uid)).collect();
            return Ok(());
        }
        let (low, high) = if sort.newest_first {
            let high = window.total - offset;
            (high.saturating_sub(limit - 1).max(1), high)
        } else {
            (offset + 1, (offset + limit).min(window.total))
        };
        let mut messages: Vec<_> = self
            .fetch_headers(false, &format!("{low}:{high}"))
            .await?
            .into_values()
            .collect();
        messages.sort_by(|a, b| sort.compare(a, b));
        window.messages = messages;
        Ok(())
    }

    /// The order the browser lists the selected folder in.
    fn listed_sort(&self) -> Sort {
        match (&self.listing, &self.selected) {
            (Some((listed, sort)), Some(selected)) if *listed == selected.folder => *sort,
            _ => Sort::default(),
        }
    }

    /// The list headers of the messages in `set`: UIDs when `by_uid`, else sequence
    /// numbers.
    async fn fetch_headers(
        &mut self,
        by_uid: bool,
        set: &str,
    ) -> Result<std::collections::HashMap<u32, MessageHeader>, MailError> {
        let fetches = self
            .step("FETCH", async |s| {
                if by_uid {
                    let responses = s.uid_fetch(set, HEADER_QUERY).await?;
                    responses.try_collect::<Vec<_>>().await
                } else {
                    let responses = s.fetch(set, HEADER_QUERY).await?;
                    responses.try_collect::<Vec<_>>().await
                }
            })
            .await?;
        Ok(fetches
            .iter()
            .filter_map(header_from_fetch)
            .map(|m| (m.uid, m))
            .collect())
    }

    /// Lists the selected folder in `sort` order from now on. Date order needs every
    /// UID in order: the server sorts them (`UID SORT`) where it can, else the
    /// bridge does, from each message's date. Turning the direction needs no new
    /// list.
    async fn arrange(&mut self, folder: &str, sort: Sort) -> Result<(), MailError> {
        if sort.by == SortKey::Arrival {
            self.order = None;
        } else if let Some(order) = self
            .order
            .as_mut()
            .filter(|o| o.folder == folder && o.sort.by == sort.by)
        {
            order.turn(sort);
        } else {
            self.order = None;
            let (uids, dates) = self.sorted(sort).await?;
            self.order = Some(Order {
                folder: folder.to_owned(),
                sort,
                uids,
                dates,
            });
        }
        if self
            .listing
            .as_ref()
            .is_none_or(|(listed, _)| listed != folder)
        {
            // Another folder is listed now: the old one's state no longer matters.
            self.away = None;
        }
        self.listing = Some((folder.to_owned(), sort));
        Ok(())
    }

    /// Every UID of the selected folder in date order, newest or oldest first; with
    /// their dates where the bridge sorted them itself.
    async fn sorted(&mut self, sort: Sort) -> Result<(Vec<u32>, Option<Vec<i64>>), MailError> {
        let exists = self.selected.as_ref().map_or(0, |s| s.exists);
        if exists > MAX_SORTED {
            return Err(MailError::Unsupported(
                "Folders of over 250,000 messages can be listed by arrival, not by date.",
            ));
        }
        if !self.can_sort {
            let (uids, dates) = self.dated(exists).await?;
            let (uids, dates) = order::by_date(
                uids.into_iter().zip(dates).map(|(u, d)| (d, u)).collect(),
                sort.newest_first,
            );
            return Ok((uids, Some(dates)));
        }
        // A big folder's answer is one long line.
        let mut uids: Vec<u32> = self
            .run_with_lines(
                "UID SORT",
                "sort the folder",
                SORT_COMMAND,
                Some(MAX_SORT_LINE),
                |r| match r {
                    Response::MailboxData(MailboxDatum::Sort(found)) => Some(found.clone()),
                    _ => None,
                },
            )
            .await?
            .concat();
        if sort.newest_first {
            uids.reverse();
        }
        Ok((uids, None))
    }

    /// Each message's UID and sent date (else its arrival time), for a server
    /// without `SORT`.
    async fn dated(&mut self, exists: u32) -> Result<(Vec<u32>, Vec<i64>), MailError> {
        let mut uids = Vec::with_capacity(exists as usize);
        let mut dates = Vec::with_capacity(exists as usize);
        self.fetch_all(
            exists,
            "(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE)])",
            |fetch| {
                if let Some(message) = header_from_fetch(fetch) {
                    uids.push(message.uid);
                    dates.push(message.date);
                }
            },
        )
        .await?;
        Ok((uids, dates))
    }

    /// FETCHes `items` of every message of the selected folder (`exists` of them)
    /// by sequence range, a slice at a time, so that each answer stays well inside
    /// the response budget; `take` sees each answer.
    async fn fetch_all(
        &mut self,
        exists: u32,
        items: &str,
        mut take: impl FnMut(&Fetch),
    ) -> Result<(), MailError> {
        const SLICE: u32 = 20_000;
        let mut low = 1;
        while low <= exists {
            let high = (low + SLICE - 1).min(exists);
            let fetches = self
                .step("FETCH", async |s| {
                    s.fetch(format!("{low}:{high}"), items)
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            fetches.iter().for_each(&mut take);
            low = high + 1;
        }
        Ok(())
    }
}

/// One message's sections, read from the selected folder.
struct ImapSections<'a> {
    source: &'a mut ImapSource,
    uid: u32,
}

impl ImapSource {
    fn sections(&mut self, uid: u32) -> ImapSections<'_> {
        ImapSections { source: self, uid }
    }

    /// The `HEADER` of the message, or of the one attached at `part`.
    async fn header_section(
        &mut self,
        uid: u32,
        part: Option<&str>,
        max: u64,
    ) -> Result<Vec<u8>, MailError> {
        let (spec, path) = match part {
            None => (
                "HEADER".to_owned(),
                SectionPath::Full(MessageSection::Header),
            ),
            Some(part) => {
                let path = parse_section(part).ok_or(MailError::BadInput("section"))?;
                (
                    format!("{part}.HEADER"),
                    SectionPath::Part(path, Some(MessageSection::Header)),
                )
            }
        };
        let query = format!("(UID BODY.PEEK[{spec}]<0.{max}>)");
        let fetch = self.fetch_one(uid, &query).await?;
        Ok(fetch
            .and_then(|f| f.section(&path).map(<[u8]>::to_vec))
            .unwrap_or_default())
    }
}

impl view::Sections for ImapSections<'_> {
    async fn section(
        &mut self,
        id: Option<&str>,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, MailError> {
        let path = match id {
            None => None,
            Some(id) => Some(parse_section(id).ok_or(MailError::BadInput("section"))?),
        };
        self.source
            .fetch_section(self.uid, path.as_deref(), offset, len)
            .await
    }

    async fn header(&mut self, message: Option<&str>, max: u64) -> Result<Vec<u8>, MailError> {
        self.source.header_section(self.uid, message, max).await
    }
}

impl MailSource for ImapSource {
    async fn folders(&mut self) -> Result<Vec<protocol::Folder>, MailError> {
        let names = self.list_all().await?;
        let subscribed: std::collections::HashSet<String> = self
            .step("LSUB", async |s| {
                s.lsub(Some(""), Some("*"))
                    .await?
                    .map_ok(|name| name.name().to_owned())
                    .try_collect()
                    .await
            })
            .await?;
        let mut entries: Vec<FolderEntry> = names.iter().map(FolderEntry::from_name).collect();
        for entry in &mut entries {
            entry.subscribed = subscribed.contains(&entry.id);
        }
        if self.namespaces.is_none() {
            let delimiter = entries.iter().find_map(|e| e.delimiter.clone());
            self.namespaces = Some(Namespaces::flat(delimiter.or_else(|| Some("/".into()))));
        }
        let namespaces = self.namespaces().await?;
        if self.list_status {
            let counts: std::collections::HashMap<String, (u32, u32)> = self
                .list_counts()
                .await?
                .into_iter()
                .map(|c| (c.folder, (c.total, c.unread)))
                .collect();
            for entry in &mut entries {
                (entry.total, entry.unread) = counts.get(&entry.id).copied().unwrap_or_default();
            }
        } else {
            for entry in entries.iter_mut().filter(|e| e.selectable) {
                // A folder that vanished between LIST and STATUS is shown without counts.
                if let Some((total, unread)) = self.counts_of(&entry.id).await? {
                    entry.total = total;
                    entry.unread = unread;
                }
            }
        }
        if self.acl {
            let others: Vec<String> = entries
                .iter()
                .filter(|e| {
                    e.selectable
                        && namespaces.place(&e.id).kind != protocol::FolderNamespace::Personal
                })
                .map(|e| e.id.clone())
                .collect();
            let read_only = self.read_only(&others).await?;
            for entry in &mut entries {
                entry.read_only = read_only.contains(&entry.id);
            }
        }
        Ok(build_tree(entries, &namespaces))
    }

    async fn open_folder(
        &mut self,
        folder: &str,
        limit: u32,
        sort: Sort,
    ) -> Result<FolderWindow, MailError> {
        let mut window = self.select(folder).await?;
        self.arrange(folder, sort).await?;
        self.fill(&mut window, 0, limit).await?;
        Ok(window)
    }

    async fn messages(
        &mut self,
        folder: &str,
        offset: u32,
        limit: u32,
        sort: Sort,
    ) -> Result<FolderWindow, MailError> {
        // The selection is kept current by what the server reports (see `news`), so
        // sequence numbers here match the server's view without selecting again.
        let uid_validity = self.ensure_selected(folder).await?;
        self.arrange(folder, sort).await?;
        let total = self.selected.as_ref().map_or(0, |s| s.exists);
        let mut window = FolderWindow {
            folder: folder.to_owned(),
            uid_validity,
            total,
            unread: 0,
            offset,
            messages: Vec::new(),
            sort,
            labels: Vec::new(),
            new_labels: false,
        };
        self.fill(&mut window, offset, limit).await?;
        Ok(window)
    }

    async fn open_message(
        &mut self,
        folder: &str,
        uid: u32,
        part: Option<&str>,
        mark_seen: bool,
        links: &Links,
    ) -> Result<OpenedMessage, MailError> {
        let uid_validity = self.ensure_selected(folder).await?;
        let structure = self.structure(folder, uid).await?;
        let seen = structure.flags.contains(&Flag::Seen);
        let missing = || not_found(folder, uid, part);
        let (mut view, threading) =
            view::open(&mut self.sections(uid), structure, part, links, missing).await?;
        if mark_seen && !seen {
            // A folder the user may only read (shared, or opened read-only)
            // refuses `\Seen`: the message opens all the same, unread.
            match self.store(uid.to_string(), "+FLAGS", &[Flag::Seen]).await {
                Ok(stored) => {
                    if let Some(stored) = stored.into_iter().find(|m| m.uid == uid) {
                        view.flags = stored.flags;
                    }
                }
                Err(MailError::Rejected { refusal, .. }) => {
                    tracing::debug!(%refusal, "the message stays unread");
                }
                Err(other) => return Err(other),
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
        parse_section(part).ok_or(MailError::BadInput("section"))?;
        self.ensure_selected(folder).await?;
        let Structure { root, .. } = self.structure(folder, uid).await?;
        let missing = || not_found(folder, uid, Some(part));
        view::show_part(&mut self.sections(uid), &root, part, links, missing).await
    }

    async fn set_flags(
        &mut self,
        folder: &str,
        uids: &[u32],
        add: &[Flag],
        remove: &[Flag],
    ) -> Result<Vec<MessageFlags>, MailError> {
        let set = uid_set(uids)?;
        self.ensure_selected(folder).await?;
        let mut result = Vec::new();
        if !add.is_empty() {
            result = self.store(set.clone(), "+FLAGS", add).await?;
        }
        if !remove.is_empty() {
            result = self.store(set, "-FLAGS", remove).await?;
        }
        Ok(result)
    }

    async fn move_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<(), MailError> {
        let set = uid_set(uids)?;
        check_command_text(to, "folder name")?;
        self.ensure_selected(folder).await?;
        let missing = |e| missing_folder(e, to);
        if self.can_move {
            let line = format!("UID MOVE {set} {}", quoted(to));
            return self
                .run("UID MOVE", "move the messages", &line, |_| None::<()>)
                .await
                .map(drop)
                .map_err(missing);
        }
        let line = format!("UID COPY {set} {}", quoted(to));
        self.run("UID COPY", "move the messages", &line, |_| None::<()>)
            .await
            .map_err(missing)?;
        self.remove(&set).await
    }

    async fn copy_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<(), MailError> {
        let set = uid_set(uids)?;
        check_command_text(to, "folder name")?;
        self.ensure_selected(folder).await?;
        let line = format!("UID COPY {set} {}", quoted(to));
        self.run("UID COPY", "copy the messages", &line, |_| None::<()>)
            .await
            .map(drop)
            .map_err(|e| missing_folder(e, to))
    }

    async fn expunge_messages(&mut self, folder: &str, uids: &[u32]) -> Result<(), MailError> {
        let set = uid_set(uids)?;
        self.ensure_selected(folder).await?;
        self.remove(&set).await
    }

    async fn change_folder(&mut self, change: FolderChange) -> Result<(), MailError> {
        let namespaces = self.namespaces().await?;
        match change {
            FolderChange::Create { parent, name } => {
                let id = folder_id(&namespaces, parent.as_deref(), &name)?;
                self.simple("CREATE", "create the folder", &id).await?;
                // New folders are subscribed, as every mail program expects.
                self.simple("SUBSCRIBE", "subscribe to the folder", &id)
                    .await
            }
            FolderChange::Rename {
                folder,
                parent,
                name,
            } => {
                check_command_text(&folder, "folder name")?;
                if folder.eq_ignore_ascii_case("INBOX") {
                    return Err(MailError::BadInput("the inbox cannot be renamed"));
                }
                let id = folder_id(&namespaces, parent.as_deref(), &name)?;
                if id.starts_with(&format!(
                    "{folder}{}",
                    namespaces
                        .delimiter_under(Some(&folder))
                        .unwrap_or_default()
                )) {
                    return Err(MailError::Unsupported(
                        "A folder cannot be moved into one of its own subfolders.",
                    ));
                }
                self.selected = None;
                let line = format!("RENAME {} {}", quoted(&folder), quoted(&id));
                self.run("RENAME", "rename the folder", &line, |_| None::<()>)
                    .await?;
                if let Err(error) = self
                    .simple("SUBSCRIBE", "subscribe to the folder", &id)
                    .await
                {
                    tracing::debug!(%error, "subscribing to the renamed folder");
                }
                Ok(())
            }
            FolderChange::Delete { folder } => {
                check_command_text(&folder, "folder name")?;
                if folder.eq_ignore_ascii_case("INBOX") {
                    return Err(MailError::BadInput("the inbox cannot be deleted"));
                }
                self.selected = None;
                // A server may not delete the selected folder: select the inbox first.
                self.ensure_selected("INBOX").await?;
                self.simple("DELETE", "delete the folder", &folder).await?;
                if let Err(error) = self
                    .simple("UNSUBSCRIBE", "unsubscribe from the folder", &folder)
                    .await
                {
                    tracing::debug!(%error, "unsubscribing from the deleted folder");
                }
                Ok(())
            }
            FolderChange::Subscribe { folder, subscribed } => {
                check_command_text(&folder, "folder name")?;
                if subscribed {
                    self.simple("SUBSCRIBE", "subscribe to the folder", &folder)
                        .await
                } else {
                    self.simple("UNSUBSCRIBE", "unsubscribe from the folder", &folder)
                        .await
                }
            }
        }
    }

    async fn part_meta(
        &mut self,
        message: &MessageRef,
        part: Option<&str>,
    ) -> Result<PartMeta, MailError> {
        self.select_message(message).await?;
        let Structure { root, size, .. } = self.structure(&message.folder, message.uid).await?;
        let missing = || not_found(&message.folder, message.uid, part);
        view::part_meta(&mut self.sections(message.uid), &root, size, part, missing).await
    }

    async fn read_part(
        &mut self,
        message: &MessageRef,
        part: Option<&str>,
        offset: u64,
        len: u32,
    ) -> Result<Vec<u8>, MailError> {
        self.select_message(message).await?;
        let path = match part {
            None => None,
            Some(part) => Some(parse_section(part).ok_or(MailError::BadInput("section"))?),
        };
        self.fetch_section(message.uid, path.as_deref(), offset, u64::from(len.max(1)))
            .await?
            .ok_or_else(|| not_found(&message.folder, message.uid, part))
    }

    async fn stored_part(
        &mut self,
        message: &MessageRef,
        part: Option<&str>,
    ) -> Result<Option<(String, PartMeta)>, MailError> {
        if !self.catenate {
            return Ok(None);
        }
        if let Some(part) = part {
            parse_section(part).ok_or(MailError::BadInput("section"))?;
        }
        let meta = self.part_meta(message, part).await?;
        Ok(Some((imap_url(message, part), meta)))
    }

    async fn search(
        &mut self,
        folder: &str,
        query: &protocol::search::Query,
        dated: bool,
    ) -> Result<Found, MailError> {
        let uid_validity = self.ensure_selected(folder).await?;
        let (kept, apart) = search::programs(query);
        let mut uids = self.search_uids(&kept).await?;
        for keys in apart {
            if uids.is_empty() {
                break;
            }
            let gone: std::collections::HashSet<u32> =
                self.search_uids(&keys).await?.into_iter().collect();
            uids.retain(|uid| !gone.contains(uid));
        }
        if uids.len() > MAX_HITS {
            // The newest are kept.
            uids.drain(..uids.len() - MAX_HITS);
        }
        let dates = match dated {
            true => Some(self.arrival_times(&uids).await?),
            false => None,
        };
        Ok(Found {
            uid_validity,
            uids,
            dates,
            bodies_unsearched: 0,
        })
    }

    async fn conversations(&mut self, folder: &str) -> Result<(u32, Vec<Vec<u32>>), MailError> {
        let uid_validity = self.ensure_selected(folder).await?;
        let groups = if self.thread_refs {
            self.server_threads().await?
        } else {
            self.own_threads().await?
        };
        Ok((uid_validity, thread::newest_first(groups)))
    }

    async fn threading(
        &mut self,
        folder: &str,
        which: super::Which<'_>,
    ) -> Result<(u32, Vec<thread::Threaded>), MailError> {
        let uid_validity = self.ensure_selected(folder).await?;
        Ok((uid_validity, self.threading_selected(which).await?))
    }

    async fn folder_with_role(
        &mut self,
        role: protocol::FolderRole,
    ) -> Result<Option<String>, MailError> {
        self.folder_with(role).await
    }

    async fn headers(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
    ) -> Result<std::collections::HashMap<u32, MessageHeader>, MailError> {
        if uids.is_empty() {
            return Ok(Default::default());
        }
        if uids.len() > protocol::MAX_WINDOW as usize {
            return Err(MailError::BadInput("window"));
        }
        if self.ensure_selected(folder).await? != uid_validity {
            return Ok(Default::default());
        }
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        self.fetch_headers(true, &search::compact(&sorted)).await
    }

    async fn listing(&mut self, _: &str) -> Result<super::Listing, MailError> {
        Err(MailError::Unsupported(
            "Downloading a whole folder is offered for POP3 mailboxes only.",
        ))
    }

    async fn save_sent(
        &mut self,
        head: &[u8],
        message: &Spooled,
        message_id: &str,
    ) -> Result<Option<String>, MailError> {
        let sent = self
            .own_folder(protocol::FolderRole::Sent, "Sent", "create the Sent folder")
            .await?;
        // Exactly one copy: one the server (or an earlier try) filed already stays
        // the only one.
        if self.holds_message_id(&sent, message_id).await? {
            tracing::info!("Sent holds this message already");
        } else {
            self.append(&sent, "(\\Seen)", head, message, "keep a copy in Sent")
                .await?;
        }
        self.leave_unlisted();
        Ok(Some(sent))
    }

    async fn save_draft(
        &mut self,
        message: &Spooled,
        replacing: Option<&SavedDraft>,
    ) -> Result<Option<SavedDraft>, MailError> {
        let drafts = self
            .own_folder(
                protocol::FolderRole::Drafts,
                "Drafts",
                "create the Drafts folder",
            )
            .await?;
        let appended = self
            .append(&drafts, "(\\Draft \\Seen)", b"", message, "save the draft")
            .await?;
        let saved = appended.map(|(uid_validity, uid)| SavedDraft {
            folder: drafts.clone(),
            uid_validity,
            uid,
        });
        // The last version goes once this one is kept, and only if it is the
        // message it was (the same folder, unchanged since).
        if let Some(old) = replacing
            && saved.as_ref().is_some_and(|new| {
                new.folder == old.folder
                    && new.uid_validity == old.uid_validity
                    && new.uid != old.uid
            })
            && let Err(error) = self.remove_saved(old).await
        {
            tracing::info!(error = %crate::session::ErrorChain(&error), "the draft's last version stays");
        }
        Ok(saved)
    }

    async fn remove_saved(&mut self, saved: &SavedDraft) -> Result<(), MailError> {
        let message = MessageRef {
            folder: saved.folder.clone(),
            uid_validity: saved.uid_validity,
            uid: saved.uid,
        };
        self.select_message(&message).await?;
        self.expunge_messages(&saved.folder, &[saved.uid]).await
    }

    fn keeps_sent_copies(&self) -> bool {
        self.gmail
    }

    fn gives_urls(&self) -> bool {
        self.urlauth.is_some() && self.uidplus
    }

    async fn keep_sent_by_url(
        &mut self,
        head: &[u8],
        message: &Spooled,
        message_id: &str,
    ) -> Result<Option<super::KeptCopy>, MailError> {
        if !self.gives_urls() {
            return Ok(None);
        }
        let sent = self
            .own_folder(protocol::FolderRole::Sent, "Sent", "create the Sent folder")
            .await?;
        if self.holds_message_id(&sent, message_id).await? {
            tracing::info!("Sent holds this message already");
            return Ok(None);
        }
        let appended = self
            .append(&sent, "(\\Seen)", head, message, "keep a copy in Sent")
            .await?;
        self.leave_unlisted();
        let at = appended.map(|(uid_validity, uid)| SavedDraft {
            folder: sent.clone(),
            uid_validity,
            uid,
        });
        let url = match &at {
            Some(at) => self.submit_url(at).await?,
            None => None,
        };
        Ok(Some(super::KeptCopy {
            folder: sent,
            at,
            url,
        }))
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    async fn watch<F: Future<Output: Send> + Send>(&mut self, stop: F) -> Option<F::Output> {
        // IDLE watches the folder the browser lists, even after work elsewhere.
        if let Some((listed, _)) = self.listing.clone()
            && self.selected.as_ref().is_none_or(|s| s.folder != listed)
            && self.away.is_some()
        {
            if let Err(error) = self.ensure_selected(&listed).await {
                tracing::info!(error = %crate::session::ErrorChain(&error), "cannot return to the listed folder");
            }
            return None;
        }
        self.idle(stop).await
    }

    async fn news(&mut self) -> Result<Vec<Event>, MailError> {
        self.take_news().await
    }

    async fn counts(&mut self) -> Result<Vec<FolderCount>, MailError> {
        self.other_counts().await
    }

    /// Without NOTIFY nothing tells of other folders' changes; with LIST-STATUS a
    /// look at all of them is one command, so it is taken six times as often (at
    /// most every five seconds): a folder another program files mail into shows
    /// its count within seconds rather than a minute.
    fn counts_every(&self, configured: Duration) -> Duration {
        if self.list_status && !self.notify {
            (configured / 6).max(QUICK_COUNTS).min(configured)
        } else {
            configured
        }
    }

    async fn count(&mut self, folder: &str) -> Result<Option<FolderCount>, MailError> {
        check_command_text(folder, "folder name")?;
        Ok(self
            .counts_of(folder)
            .await?
            .map(|(total, unread)| FolderCount {
                folder: folder.to_owned(),
                total,
                unread,
            }))
    }

    async fn resume(&mut self, old: Self) -> Result<(), MailError> {
        let Some(selected) = old.selected else {
            return Ok(());
        };
        // The browser still lists the folder in the same order, and the news since
        // is placed in it; a reload (a reset) lists the folder afresh.
        self.listing = old.listing;
        self.resume_selected(selected).await?;
        self.news.reset |= old.news.reset;
        if !self.news.reset {
            self.order = old.order;
        }
        Ok(())
    }

    async fn logout(mut self) {
        if let Err(error) = self.step("LOGOUT", async |s| s.logout().await).await {
            tracing::debug!(%error, "logout");
        }
    }
}

/// How long one IDLE lasts before it is renewed; servers may end an IDLE after 30
/// minutes (RFC 2177), so this stays well short of 29.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// After the first news in IDLE, how long to wait for more of the same burst (an
/// arrival comes as EXISTS, RECENT and often a FETCH).
const BURST: Duration = Duration::from_millis(5);
/// The most responses taken in one burst before the news is passed on.
const MAX_BURST: usize = 1000;
/// The shortest interval between count refreshes without NOTIFY.
const QUICK_COUNTS: Duration = Duration::from_secs(5);
/// With NOTIFY, every this many count refreshes is still a full one, in case a
/// change went unreported.
const NOTIFIED_REFRESH: u32 = 10;

/// Keeping up with the selected folder: IDLE, the server's unsolicited responses,
/// and resynchronizing after a reconnect.
impl ImapSource {
    /// Takes in the untagged responses queued while commands ran. The queue holds
    /// 100; a full queue may have dropped some, so the folder is then reloaded.
    fn absorb_unsolicited(&mut self) {
        use async_imap::types::UnsolicitedResponse as U;
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let mut queued = Vec::new();
        while let Ok(response) = session.unsolicited_responses.try_recv() {
            queued.push(response);
        }
        if queued.len() >= 100 {
            self.news.reset = true;
        }
        for response in queued {
            match response {
                U::Exists(count) => {
                    self.absorb(&Response::MailboxData(MailboxDatum::Exists(count)))
                }
                U::Expunge(seq) => self.absorb(&Response::Expunge(seq)),
                U::Other(data) => self.absorb(data.parsed()),
                U::Status {
                    mailbox,
                    attributes,
                } => self.news.status(&mailbox, &attributes),
                U::Recent(_) => {}
            }
        }
    }

    /// Takes in one untagged response: the selection's counts follow it, and the
    /// news gathers it.
    fn absorb(&mut self, response: &Response<'_>) {
        if let Some(selected) = self.selected.as_mut() {
            match response {
                Response::MailboxData(MailboxDatum::Exists(count)) => {
                    self.news.exists_before.get_or_insert(selected.exists);
                    selected.exists = *count;
                }
                Response::Expunge(_) => selected.exists = selected.exists.saturating_sub(1),
                Response::Vanished {
                    earlier: false,
                    uids,
                } => {
                    let gone: usize = uids.iter().map(|r| r.clone().count()).sum();
                    selected.exists = selected
                        .exists
                        .saturating_sub(u32::try_from(gone).unwrap_or(u32::MAX));
                }
                _ => {}
            }
        }
        self.news.absorb(response);
    }

    /// Waits in IDLE on the selected folder until the server reports something or
    /// `stop` completes, and returns `stop`'s output if it did. Without IDLE, or with
    /// nothing selected, it only waits for `stop`. A failure marks the session broken
    /// (see `is_broken`) rather than losing what `stop` produced.
    async fn idle<F: Future>(&mut self, stop: F) -> Option<F::Output> {
        if !self.news.is_empty() {
            return None;
        }
        if !self.idle || self.selected.is_none() || self.broken {
            return Some(stop.await);
        }
        let Some(session) = self.session.take() else {
            return Some(stop.await);
        };
        let mut handle = session.idle();
        self.budget.refill();
        match timeout(UPSTREAM_DEADLINE, handle.init()).await {
            Ok(Ok(())) => {}
            failed => {
                self.idle_failed("IDLE", failed);
                return None;
            }
        }
        let mut stop = std::pin::pin!(stop);
        let mut stopped = None;
        let mut taken = 0;
        let renew_at = tokio::time::Instant::now() + IDLE_RENEW;
        loop {
            self.budget.refill();
            // Until there is news, wait for it (or `stop`) until the IDLE is due for
            // renewal; then only for the rest of the burst. Responses that are not
            // news (RECENT, untagged OK) leave the IDLE running.
            let outcome = if self.news.is_empty() {
                let left = renew_at.saturating_duration_since(tokio::time::Instant::now());
                let (wait, _interrupt) = handle.wait_with_timeout(left);
                tokio::select! {
                    biased;
                    output = &mut stop => {
                        stopped = Some(output);
                        break;
                    }
                    outcome = wait => outcome,
                }
            } else {
                let (wait, _interrupt) = handle.wait_with_timeout(BURST);
                wait.await
            };
            match outcome {
                Ok(IdleResponse::NewData(data)) => {
                    let response = data.parsed();
                    if let Response::Data {
                        status:
                            async_imap::imap_proto::Status::No | async_imap::imap_proto::Status::Bad,
                        ..
                    } = response
                    {
                        // Dovecot says `* NO Internal error` in IDLE once the selected
                        // folder was deleted: select it again, or learn it is gone.
                        tracing::info!(
                            ?response,
                            "the server reports a problem with the open folder"
                        );
                        self.news.reset = true;
                    }
                    self.absorb(response);
                    taken += 1;
                    if taken == MAX_BURST {
                        break;
                    }
                }
                Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt) => break,
                Err(error) => {
                    self.idle_failed("IDLE", Ok(Err(error)));
                    return stopped;
                }
            }
        }
        self.budget.refill();
        match timeout(UPSTREAM_DEADLINE, handle.done()).await {
            Ok(Ok(session)) => {
                self.session = Some(session);
                self.absorb_unsolicited();
            }
            failed => self.idle_failed("DONE", failed.map(|r| r.map(drop))),
        }
        stopped
    }

    fn idle_failed(
        &mut self,
        action: &'static str,
        outcome: Result<Result<(), ImapError>, tokio::time::error::Elapsed>,
    ) {
        self.broken = true;
        match outcome {
            Err(_) => tracing::warn!("the mail server did not answer {action} in time"),
            Ok(Err(error)) => tracing::warn!(%error, "{action} failed"),
            Ok(Ok(())) => {}
        }
    }

    /// Turns what the server reported into an event: new messages' headers are
    /// fetched, flags that came by sequence number are asked for by UID, and the
    /// folder's counts are read again.
    async fn take_news(&mut self) -> Result<Vec<Event>, MailError> {
        self.absorb_unsolicited();
        let mut events = Vec::new();
        let counts = std::mem::take(&mut self.news.counts);
        if !counts.is_empty() {
            let folders = self.complete_counts(counts).await?;
            if !folders.is_empty() {
                events.push(Event::FolderCounts { folders });
            }
        }
        match self.folder_news().await {
            Ok(event) => events.extend(event),
            Err(error) => {
                // What was taken of the news is lost: the browser reloads instead.
                self.news.reset = true;
                return Err(error);
            }
        }
        Ok(events)
    }

    /// Other folders' counts as the server reported them; a count it left out is
    /// asked for. The open folder's counts come with its own news.
    async fn complete_counts(
        &mut self,
        counts: std::collections::BTreeMap<String, (Option<u32>, Option<u32>)>,
    ) -> Result<Vec<FolderCount>, MailError> {
        let selected = self.selected.as_ref().map(|s| s.folder.clone());
        let mut folders = Vec::new();
        for (folder, (total, unread)) in counts {
            if Some(&folder) == selected.as_ref() || check_command_text(&folder, "").is_err() {
                continue;
            }
            let (total, unread) = match (total, unread) {
                (Some(total), Some(unread)) => (total, unread),
                _ => match self.counts_of(&folder).await? {
                    Some(counts) => counts,
                    None => continue,
                },
            };
            folders.push(FolderCount {
                folder,
                total,
                unread,
            });
        }
        Ok(folders)
    }

    /// The open folder's news as an event, if anything changed there.
    async fn folder_news(&mut self) -> Result<Option<Event>, MailError> {
        if self.news.is_empty() {
            return Ok(None);
        }
        let Some(mut selected) = self.selected.clone() else {
            self.news = News::default();
            return Ok(None);
        };
        let mut news = std::mem::take(&mut self.news);
        selected.modseq = selected.modseq.max(news.modseq);
        let arrived = news
            .exists
            .zip(news.exists_before)
            .map_or(0, |(now, before)| now.saturating_sub(before));
        if news.reset || arrived > protocol::MAX_WINDOW {
            return self.reset(selected.folder).await;
        }
        let mut added = Vec::new();
        if news.exists.is_some() {
            let from = selected.uid_next;
            let fetches = self
                .step("UID FETCH", async |s| {
                    s.uid_fetch(format!("{from}:*"), HEADER_QUERY)
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            // `n:*` always matches the last message, even below `n`.
            for fetch in fetches.iter().filter(|f| f.uid.is_some_and(|u| u >= from)) {
                if let Some(header) = header_from_fetch(fetch) {
                    selected.uid_next = selected.uid_next.max(header.uid + 1);
                    if !news.removed.contains(&header.uid) {
                        added.push(header);
                    }
                }
            }
            added.sort_by_key(|m| std::cmp::Reverse(m.uid));
        }
        if !news.flag_seqs.is_empty() {
            let seqs = news
                .flag_seqs
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let fetches = self
                .step("FETCH", async |s| {
                    s.fetch(&seqs, "(UID FLAGS)")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            for fetch in &fetches {
                if let Some(uid) = fetch.uid {
                    news.flags.insert(uid, flags(fetch));
                }
            }
        }
        if let Some(current) = self.selected.as_mut() {
            current.uid_next = current.uid_next.max(selected.uid_next);
            current.modseq = current.modseq.max(selected.modseq);
        }
        let flags: Vec<MessageFlags> = news
            .flags
            .into_iter()
            .filter(|(uid, _)| !news.removed.contains(uid) && !added.iter().any(|m| m.uid == *uid))
            .map(|(uid, flags)| MessageFlags { uid, flags })
            .collect();
        let removed: Vec<u32> = news.removed.into_iter().collect();
        if added.is_empty() && flags.is_empty() && removed.is_empty() {
            return Ok(None);
        }
        let Ok((added, added_at, removed_at)) = self.place(added, &removed).await? else {
            return self.reset(selected.folder).await;
        };
        let folder = selected.folder;
        let status = self
            .step("STATUS", async |s| {
                s.status(&folder, "(MESSAGES UNSEEN)").await
            })
            .await?;
        Ok(Some(Event::FolderChanged {
            total: status.exists,
            unread: status.unseen.unwrap_or(0),
            folder,
            added,
            added_at,
            flags,
            removed,
            removed_at,
        }))
    }

    /// Tells the browser to reload the folder, selected afresh.
    async fn reset(&mut self, folder: String) -> Result<Option<Event>, MailError> {
        match self.select_now(&folder).await {
            Ok(_) | Err(MailError::FolderNotFound(_)) => {}
            Err(other) => return Err(other),
        }
        Ok(Some(Event::FolderReset { folder }))
    }

    /// Where removed messages stood and new ones now stand in the order the browser
    /// lists the folder in; the new ones come back in that order. In arrival order
    /// new mail goes on top (or at the end), and UIDs tell the browser where removed
    /// messages were. In date order the kept list answers both: new mail is placed
    /// by the server's fresh `UID SORT` (only it knows every date), or here by date
    /// where the bridge sorted. `Unknown` when the kept list cannot say.
    async fn place(
        &mut self,
        mut added: Vec<MessageHeader>,
        removed: &[u32],
    ) -> Result<Result<Placed, order::Unknown>, MailError> {
        let sort = self.listed_sort();
        if sort.by == SortKey::Arrival {
            added.sort_by(|a, b| sort.compare(a, b));
            let exists = self.selected.as_ref().map_or(0, |s| s.exists);
            let at = order::arrival_positions(added.len(), exists, sort.newest_first);
            return Ok(Ok((added, at, Vec::new())));
        }
        let Some(order) = self.order.as_mut() else {
            return Ok(Err(order::Unknown));
        };
        let removed_at = order.remove(removed);
        if added.is_empty() {
            return Ok(Ok((added, Vec::new(), removed_at)));
        }
        let at = if order.dates.is_some() {
            let dated: Vec<(i64, u32)> = added.iter().map(|m| (m.date, m.uid)).collect();
            order.insert(&dated)
        } else {
            let (fresh, _) = self.sorted(sort).await?;
            let uid_next = self.selected.as_ref().map_or(0, |s| s.uid_next);
            let uids: Vec<u32> = added.iter().map(|m| m.uid).collect();
            match self.order.as_mut() {
                Some(order) => order.replace(fresh, &uids, uid_next),
                None => Err(order::Unknown),
            }
        };
        let Ok(at) = at else {
            return Ok(Err(order::Unknown));
        };
        let mut placed: Vec<(u32, MessageHeader)> = at
            .into_iter()
            .zip(added)
            .filter_map(|(at, message)| Some((at?, message)))
            .collect();
        placed.sort_by_key(|(at, _)| *at);
        let (added_at, added) = placed.into_iter().unzip();
        Ok(Ok((added, added_at, removed_at)))
    }

    /// Counts of every folder but the selected one (whose counts come with its
    /// news). A server without IDLE is also asked for news here (NOOP), and the
    /// selected folder's UIDVALIDITY is checked: a server need not say that the
    /// folder was deleted and created again under the same name (Dovecot does not).
    async fn other_counts(&mut self) -> Result<Vec<FolderCount>, MailError> {
        let full = !self.notify || self.skipped_counts + 1 >= NOTIFIED_REFRESH;
        self.skipped_counts = if full { 0 } else { self.skipped_counts + 1 };
        if let Some(selected) = self.selected.clone() {
            if !self.idle {
                self.step("NOOP", async |s| s.noop().await).await?;
            }
            let folder = &selected.folder;
            match self
                .step("STATUS", async |s| s.status(folder, "(UIDVALIDITY)").await)
                .await
            {
                Ok(status) if status.uid_validity == Some(selected.uid_validity) => {}
                Ok(_)
                | Err(MailError::Imap {
                    source: ImapError::No(_),
                    ..
                }) => self.news.reset = true,
                Err(other) => return Err(other),
            }
        }
        if !full {
            return Ok(Vec::new());
        }
        let selected = self.selected.as_ref().map(|s| s.folder.clone());
        if self.list_status {
            // One round trip for all, listed afresh: other programs create and
            // delete folders too.
            let mut counts = self.list_counts().await?;
            counts.retain(|c| Some(&c.folder) != selected.as_ref());
            return Ok(counts);
        }
        // Listed afresh each time: other programs create and delete folders too.
        let names = self.list_all().await?;
        let ids = names
            .iter()
            .map(FolderEntry::from_name)
            .filter(|e| e.selectable && Some(&e.id) != selected.as_ref())
            .map(|e| e.id);
        let mut counts = Vec::new();
        for id in ids {
            // Deleted meanwhile: the next folder list will say so.
            if let Some((total, unread)) = self.counts_of(&id).await? {
                counts.push(FolderCount {
                    folder: id,
                    total,
                    unread,
                });
            }
        }
        Ok(counts)
    }

    /// On a new connection, selects the folder the browser had open and gathers what
    /// changed since `before`: new messages from its UIDNEXT, and with QRESYNC the
    /// flag changes and removals since its MODSEQ. Without QRESYNC, or when the
    /// folder's UIDVALIDITY changed, the browser is told to reload it.
    async fn resume_selected(&mut self, before: Selected) -> Result<(), MailError> {
        let mailbox = match self.select_now(&before.folder).await {
            Ok(mailbox) => mailbox,
            Err(MailError::FolderNotFound(_)) => {
                self.selected = Some(before);
                self.news.reset = true;
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        let Some(selected) = self.selected.as_mut() else {
            return Ok(());
        };
        if selected.uid_validity != before.uid_validity {
            self.news.reset = true;
            return Ok(());
        }
        selected.uid_next = before.uid_next;
        self.news.exists = Some(mailbox.exists);
        self.news.exists_before = Some(before.exists.min(mailbox.exists));
        let Some(modseq) = before.modseq.filter(|_| self.qresync) else {
            self.news.reset = true;
            return Ok(());
        };
        let query = format!("(UID FLAGS) (CHANGEDSINCE {modseq} VANISHED)");
        let fetches = self
            .step("UID FETCH", async |s| {
                s.uid_fetch("1:*", &query)
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        for fetch in &fetches {
            if let Some(uid) = fetch.uid.filter(|uid| *uid < before.uid_next) {
                self.news.flags.insert(uid, flags(fetch));
            }
            self.news.modseq = self.news.modseq.max(fetch.modseq);
        }
        if self.news.flags.len() > MAX_LISTED {
            self.news.reset = true;
        }
        Ok(())
    }

    /// The user's own folder with `role` (special-use, else by name).
    async fn folder_with(
        &mut self,
        role: protocol::FolderRole,
    ) -> Result<Option<String>, MailError> {
        let names = self.list_all().await?;
        let entries: Vec<FolderEntry> = names.iter().map(FolderEntry::from_name).collect();
        let namespaces = self.namespaces().await?;
        Ok(build_tree(entries, &namespaces)
            .into_iter()
            .find(|f| f.role == Some(role) && f.selectable)
            .map(|f| f.id))
    }

    /// Forgets the selected folder if the browser does not list it (Sent, after
    /// checking for a Message-ID there): its news would only be sent for nothing,
    /// and whoever needs it next selects it afresh.
    fn leave_unlisted(&mut self) {
        let listed = self.listing.as_ref().map(|(folder, _)| folder);
        if self
            .selected
            .as_ref()
            .is_some_and(|s| Some(&s.folder) != listed)
        {
            self.selected = None;
            self.news = News::default();
        }
    }

    /// Whether `folder` holds a message with this Message-ID (`<…>`, as
    /// `compose::is_message_id` allows: nothing in it needs quoting).
    async fn holds_message_id(
        &mut self,
        folder: &str,
        message_id: &str,
    ) -> Result<bool, MailError> {
        if !super::compose::is_message_id(message_id) {
            return Ok(false);
        }
        self.ensure_selected(folder).await?;
        let line = format!("UID SEARCH HEADER Message-ID {}", quoted(message_id));
        let found = self
            .run(
                "UID SEARCH",
                "search the folder",
                &line,
                |response| match response {
                    Response::MailboxData(MailboxDatum::Search(uids)) => Some(!uids.is_empty()),
                    _ => None,
                },
            )
            .await?;
        Ok(found.into_iter().any(|f| f))
    }

    /// The folder with `role`, created as `name` at the top if there is none.
    async fn own_folder(
        &mut self,
        role: protocol::FolderRole,
        name: &str,
        doing: &'static str,
    ) -> Result<String, MailError> {
        if let Some(folder) = self.folder_with(role).await? {
            return Ok(folder);
        }
        self.change_folder(FolderChange::Create {
            parent: None,
            name: name.to_owned(),
        })
        .await?;
        self.folder_with(role)
            .await?
            .ok_or(MailError::Refused(doing))
    }

    /// Stores `head` then `message` in `folder` with `flags`: with CATENATE where
    /// some of the message is on the server already (if that is refused, as one
    /// literal when the spool holds it all), else as one literal streamed from the
    /// spool file. `doing` says what a refusal refused. The folder's UIDVALIDITY
    /// and the new message's UID, where the server says (UIDPLUS).
    async fn append(
        &mut self,
        folder: &str,
        flags: &str,
        head: &[u8],
        message: &Spooled,
        doing: &'static str,
    ) -> Result<Option<(u32, u32)>, MailError> {
        check_command_text(folder, "folder name")?;
        let whole = || Appending {
            pieces: vec![(
                format!(
                    "APPEND {} {flags} {{{}}}",
                    quoted(folder),
                    head.len() as u64 + message.len()
                ),
                vec![Chunk::Head, Chunk::File(0, message.len())],
            )],
            tail: String::new(),
        };
        let Some(segments) = message.segments().filter(|_| self.catenate) else {
            if !message.is_whole() {
                return Err(MailError::Unsupported(
                    "This server no longer takes parts it holds by URL (CATENATE).",
                ));
            }
            return self.append_as(whole(), head, message, doing).await;
        };
        let catenated = Appending::catenated(folder, flags, head, segments);
        match self.append_as(catenated, head, message, doing).await {
            Err(MailError::Rejected { refusal, .. }) if message.is_whole() => {
                tracing::info!(%refusal, "CATENATE refused: appending the whole message");
                self.append_as(whole(), head, message, doing).await
            }
            other => other,
        }
    }

    /// Runs one APPEND, each literal sent once the server asks for it.
    async fn append_as(
        &mut self,
        appending: Appending,
        head: &[u8],
        message: &Spooled,
        doing: &'static str,
    ) -> Result<Option<(u32, u32)>, MailError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Handing over the message gets a second per 256 KiB on top of the deadline.
        let deadline = UPSTREAM_DEADLINE + Duration::from_secs(message.size() / (256 * 1024));
        let (outcome, others) = self
            .step_within("APPEND", deadline, async move |s| {
                let mut others = Vec::new();
                let mut tag = None;
                for (line, chunks) in &appending.pieces {
                    let sent = match &tag {
                        None => s.run_command(line).await?,
                        Some(sent) => {
                            let stream = s.get_mut();
                            stream.write_all(line.as_bytes()).await?;
                            stream.write_all(b"\r\n").await?;
                            stream.flush().await?;
                            Clone::clone(sent)
                        }
                    };
                    loop {
                        let Some(response) = s.read_response().await? else {
                            return Err(ImapError::ConnectionLost);
                        };
                        if matches!(response.parsed(), Response::Continue { .. }) {
                            break;
                        }
                        if let Some(outcome) = append_done(&sent, response.parsed()) {
                            return Ok((outcome, others));
                        }
                        others.push(response);
                    }
                    let stream = s.get_mut();
                    for chunk in chunks {
                        let (start, len) = match *chunk {
                            Chunk::Head => {
                                stream.write_all(head).await?;
                                continue;
                            }
                            Chunk::File(start, len) => (start, len),
                        };
                        let mut reader = message.range(start, len)?;
                        let mut buffer = vec![0; spool::CHUNK];
                        loop {
                            let n = reader.read(&mut buffer).await?;
                            if n == 0 {
                                break;
                            }
                            stream.write_all(&buffer[..n]).await?;
                        }
                    }
                    tag = Some(sent);
                }
                let tag = match tag {
                    None => s.run_command(&appending.tail).await?,
                    Some(tag) => {
                        let stream = s.get_mut();
                        stream.write_all(appending.tail.as_bytes()).await?;
                        stream.write_all(b"\r\n").await?;
                        stream.flush().await?;
                        tag
                    }
                };
                loop {
                    let Some(response) = s.read_response().await? else {
                        return Err(ImapError::ConnectionLost);
                    };
                    if let Some(outcome) = append_done(&tag, response.parsed()) {
                        return Ok((outcome, others));
                    }
                    others.push(response);
                }
            })
            .await?;
        for response in &others {
            self.absorb(response.parsed());
        }
        outcome.map_err(|refusal| {
            tracing::info!(%refusal, "the mail server refused APPEND");
            MailError::Rejected { doing, refusal }
        })
    }

    /// Every folder the server lists (`LIST "" "*"`).
    async fn list_all(&mut self) -> Result<Vec<async_imap::types::Name>, MailError> {
        self.step("LIST", async |s| {
            s.list(Some(""), Some("*"))
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
    }

    /// A folder's message and unread counts (STATUS); `None` when the server says
    /// there is no such folder (any more).
    async fn counts_of(&mut self, folder: &str) -> Result<Option<(u32, u32)>, MailError> {
        match self
            .step("STATUS", async |s| {
                s.status(folder, "(MESSAGES UNSEEN)").await
            })
            .await
        {
            Ok(status) => Ok(Some((status.exists, status.unseen.unwrap_or(0)))),
            Err(MailError::Imap {
                source: ImapError::No(_),
                ..
            }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Marks messages `\Deleted` and expunges exactly them (UIDPLUS). Without
    /// UIDPLUS a plain EXPUNGE would also remove other messages someone marked, so
    /// the bridge refuses instead.
    async fn remove(&mut self, set: &str) -> Result<(), MailError> {
        if !self.uidplus {
            return Err(MailError::Refused(
                "remove messages (the server lacks UIDPLUS)",
            ));
        }
        self.step("UID STORE", async |s| {
            s.uid_store(set, "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        self.step("UID EXPUNGE", async |s| {
            s.uid_expunge(set).await?.try_collect::<Vec<_>>().await
        })
        .await?;
        Ok(())
    }

    /// The server's namespaces; without `NAMESPACE`, one personal namespace at the
    /// root with the delimiter `LIST "" ""` tells.
    async fn namespaces(&mut self) -> Result<Namespaces, MailError> {
        if let Some(namespaces) = &self.namespaces {
            return Ok(namespaces.clone());
        }
        let names = self
            .step("LIST", async |s| {
                s.list(Some(""), Some(""))
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        let delimiter = names.iter().find_map(|n| n.delimiter().map(str::to_owned));
        let namespaces = Namespaces::flat(delimiter.or_else(|| Some("/".to_owned())));
        self.namespaces = Some(namespaces.clone());
        Ok(namespaces)
    }

    /// Asks for the namespaces (RFC 2342). imap-proto cannot parse the answer, so
    /// this one command is written and read as raw lines on the stream under the
    /// session. It runs right after login, between two commands, when async-imap
    /// has nothing buffered. `None` when the answer makes no sense.
    async fn ask_namespaces(&mut self) -> Result<Option<Namespaces>, MailError> {
        let lines = self
            .step("NAMESPACE", async |s| {
                raw::command(s.get_mut(), "PN1", "NAMESPACE")
                    .await
                    .map_err(ImapError::Io)
            })
            .await?;
        let found = match lines {
            Ok(lines) => lines.iter().find_map(|line| namespace::parse(line)),
            Err(refusal) => {
                tracing::info!(%refusal, "the server refused NAMESPACE");
                None
            }
        };
        if found.is_none() {
            tracing::info!("no usable NAMESPACE answer; folders are named from the root");
        }
        Ok(found)
    }

    /// An URL by which the submission server may fetch the body (`SECTION=TEXT`)
    /// of the message at `at` for this user (GENURLAUTH, RFC 4467, INTERNAL);
    /// `None` when the server refuses or answers otherwise. imap-proto cannot parse
    /// the answer, so it is read as raw lines, as NAMESPACE is: right after an
    /// APPEND, whose tagged answer async-imap has read, with nothing after it.
    /// Other untagged lines in the answer (a NOTIFY count) are only dropped: the
    /// session refreshes the counts of a folder it sent into.
    async fn submit_url(&mut self, at: &SavedDraft) -> Result<Option<String>, MailError> {
        let Some((start, user)) = self.urlauth.clone() else {
            return Ok(None);
        };
        let message = MessageRef {
            folder: at.folder.clone(),
            uid_validity: at.uid_validity,
            uid: at.uid,
        };
        let rump = format!(
            "{start}{};urlauth=submit+{user}",
            imap_url(&message, Some("TEXT"))
        );
        let line = format!("GENURLAUTH {} INTERNAL", quoted(&rump));
        let answer = self
            .step("GENURLAUTH", async |s| {
                raw::command(s.get_mut(), "PU1", &line)
                    .await
                    .map_err(ImapError::Io)
            })
            .await?;
        let lines = match answer {
            Ok(lines) => lines,
            Err(refusal) => {
                tracing::info!(%refusal, "the server refused GENURLAUTH");
                return Ok(None);
            }
        };
        // Anything else in the answer is news (NOTIFY goes on meanwhile).
        raw::news_in(&lines, |response| self.absorb(response));
        let url = lines.iter().find_map(|line| genurlauth_url(line, &rump));
        if url.is_none() {
            tracing::info!("no usable GENURLAUTH answer");
        }
        Ok(url)
    }

    /// `UID SEARCH` of the selected folder for `keys`: the UIDs, lowest first. With
    /// ESEARCH the answer is ranges. Values that are not ASCII need `CHARSET
    /// UTF-8`; a server that cannot search in it says so, in a sentence.
    async fn search_uids(&mut self, keys: &[search::Arg]) -> Result<Vec<u32>, MailError> {
        use search::Arg;
        const TAG: &str = "PS1";
        let mut args = vec![Arg::Atom("UID SEARCH")];
        if self.esearch {
            args.push(Arg::Atom("RETURN (ALL)"));
        }
        if !search::is_ascii(keys) {
            args.push(Arg::Atom("CHARSET UTF-8"));
        }
        args.extend_from_slice(keys);
        let plus = self.literal_plus;
        let budget = self.budget.clone();
        let answer = self
            .step("UID SEARCH", async |s| {
                budget.allow_lines(MAX_SORT_LINE);
                raw::exchange(s.get_mut(), TAG, &args, plus, MAX_SORT_LINE + 64 * 1024)
                    .await
                    .map_err(ImapError::Io)
            })
            .await?;
        let lines = match answer {
            Ok(lines) => lines,
            Err(refusal) => {
                tracing::info!(%refusal, "the mail server refused a search");
                return Err(match refusal.code.as_deref() {
                    Some("BADCHARSET") => MailError::Unsupported(
                        "This mail server cannot search for these characters.",
                    ),
                    _ => MailError::Rejected {
                        doing: "search",
                        refusal,
                    },
                });
            }
        };
        let mut uids = None;
        let mut news = Vec::new();
        for line in lines {
            match search::answer_uids(&line, TAG) {
                Some(Ok(found)) => uids.get_or_insert_with(Vec::new).extend(found),
                Some(Err(())) => {
                    tracing::info!("a search answer that cannot be read");
                    return Err(MailError::Refused("search this folder"));
                }
                None => news.push(line),
            }
        }
        raw::news_in(&news, |response| self.absorb(response));
        let mut uids = uids.unwrap_or_default();
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The selected folder's conversations as the server groups them
    /// (`UID THREAD REFS`): one line, of up to 4 MiB.
    async fn server_threads(&mut self) -> Result<Vec<Vec<u32>>, MailError> {
        use search::Arg;
        const TAG: &str = "PT1";
        let args = [Arg::Atom("UID THREAD REFS UTF-8 ALL")];
        let budget = self.budget.clone();
        let answer = self
            .step("UID THREAD", async |s| {
                budget.allow_lines(MAX_SORT_LINE);
                raw::exchange(s.get_mut(), TAG, &args, false, MAX_SORT_LINE + 64 * 1024)
                    .await
                    .map_err(ImapError::Io)
            })
            .await?;
        let lines = answer.map_err(|refusal| MailError::Rejected {
            doing: "group the folder into conversations",
            refusal,
        })?;
        let mut groups = None;
        let mut news = Vec::new();
        for line in lines {
            if line.len() >= 8 && line[..8].eq_ignore_ascii_case("* THREAD") {
                match thread::groups_in_answer(&line) {
                    Some(found) => groups.get_or_insert_with(Vec::new).extend(found),
                    None => return Err(MailError::Refused("group the folder into conversations")),
                }
            } else {
                news.push(line);
            }
        }
        raw::news_in(&news, |response| self.absorb(response));
        Ok(groups.unwrap_or_default())
    }

    /// The selected folder's conversations grouped here, from each message's
    /// Message-ID, References and In-Reply-To.
    async fn own_threads(&mut self) -> Result<Vec<Vec<u32>>, MailError> {
        let messages = self.threading_selected(super::Which::Above(0)).await?;
        Ok(thread::group(&messages))
    }

    /// What grouping needs of `which` messages of the selected folder, lowest
    /// UID first.
    async fn threading_selected(
        &mut self,
        which: super::Which<'_>,
    ) -> Result<Vec<thread::Threaded>, MailError> {
        const ITEMS: &str = "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID REFERENCES IN-REPLY-TO)])";
        const SLICE: usize = 5_000;
        let mut messages = Vec::new();
        let take = |messages: &mut Vec<thread::Threaded>, fetch: &Fetch| {
            if let Some(uid) = fetch.uid {
                messages.push(threaded_from_raw(uid, fetch.header().unwrap_or_default()));
            }
        };
        let sets = match which {
            super::Which::Above(0) => {
                let exists = self.selected.as_ref().map_or(0, |s| s.exists);
                messages.reserve(exists as usize);
                self.fetch_all(exists, ITEMS, |fetch| take(&mut messages, fetch))
                    .await?;
                Vec::new()
            }
            // `n:*` names the last message even when its UID is below n (it is
            // left out below).
            super::Which::Above(after) => vec![format!("{}:*", after.saturating_add(1))],
            super::Which::These(uids) => {
                let mut sorted = uids.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                sorted.chunks(SLICE).map(search::compact).collect()
            }
        };
        for set in sets {
            let fetches = self
                .step("FETCH", async |s| {
                    s.uid_fetch(&set, ITEMS)
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            fetches.iter().for_each(|fetch| take(&mut messages, fetch));
        }
        if let super::Which::Above(after) = which {
            messages.retain(|m| m.uid > after);
        }
        messages.sort_unstable_by_key(|m| m.uid);
        messages.dedup_by_key(|m| m.uid);
        Ok(messages)
    }

    /// Each message's arrival time, beside `uids`, a slice at a time; a message
    /// gone meanwhile counts as arrived at 0.
    async fn arrival_times(&mut self, uids: &[u32]) -> Result<Vec<i64>, MailError> {
        const SLICE: usize = 5_000;
        let mut times = std::collections::HashMap::with_capacity(uids.len());
        for slice in uids.chunks(SLICE) {
            let set = search::compact(slice);
            let fetches = self
                .step("FETCH", async |s| {
                    s.uid_fetch(set, "(UID INTERNALDATE)")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            for fetch in &fetches {
                if let (Some(uid), Some(date)) = (fetch.uid, fetch.internal_date()) {
                    times.insert(uid, date.timestamp());
                }
            }
        }
        Ok(uids
            .iter()
            .map(|uid| times.get(uid).copied().unwrap_or(0))
            .collect())
    }

    /// Runs a command line spelled here (arguments through [`quoted`]) and returns
    /// what `pick` takes of its untagged responses; the rest is news, as for any
    /// command. A NO or BAD becomes [`MailError::Rejected`] with the server's code
    /// and text; `doing` says what was refused, for people ("create the folder").
    async fn run<T: Send>(
        &mut self,
        action: &'static str,
        doing: &'static str,
        line: &str,
        pick: impl FnMut(&Response<'_>) -> Option<T> + Send,
    ) -> Result<Vec<T>, MailError> {
        self.run_with_lines(action, doing, line, None, pick).await
    }

    /// As [`ImapSource::run`], letting the answer's lines be up to `max_line`
    /// bytes long where one is given.
    async fn run_with_lines<T: Send>(
        &mut self,
        action: &'static str,
        doing: &'static str,
        line: &str,
        max_line: Option<usize>,
        mut pick: impl FnMut(&Response<'_>) -> Option<T> + Send,
    ) -> Result<Vec<T>, MailError> {
        let budget = self.budget.clone();
        let (picked, others, refusal) = self
            .step(action, async move |s| {
                if let Some(max) = max_line {
                    budget.allow_lines(max);
                }
                let tag = s.run_command(line).await?;
                let mut picked = Vec::new();
                let mut others = Vec::new();
                loop {
                    let Some(response) = s.read_response().await? else {
                        return Err(ImapError::ConnectionLost);
                    };
                    match response.parsed() {
                        Response::Done {
                            tag: done,
                            status,
                            outcome,
                        } if *done == tag => {
                            use async_imap::imap_proto::Status;
                            let refusal = match status {
                                Status::Ok => None,
                                _ => Some(Refusal::from_outcome(
                                    outcome.code.as_ref(),
                                    outcome.information.as_deref(),
                                )),
                            };
                            return Ok((picked, others, refusal));
                        }
                        parsed => match pick(parsed) {
                            Some(value) => picked.push(value),
                            None => others.push(response),
                        },
                    }
                }
            })
            .await?;
        for response in &others {
            self.absorb(response.parsed());
        }
        match refusal {
            None => Ok(picked),
            Some(refusal) => {
                tracing::info!(action, %refusal, "the mail server refused");
                Err(MailError::Rejected { doing, refusal })
            }
        }
    }

    /// Which of `folders` (outside the personal namespace) the user may not put
    /// messages into, by `MYRIGHTS` (at most 100 are asked).
    async fn read_only(&mut self, folders: &[String]) -> Result<Vec<String>, MailError> {
        let mut read_only = Vec::new();
        for folder in folders.iter().take(100) {
            let line = format!("MYRIGHTS {}", quoted(folder));
            match self
                .run("MYRIGHTS", "tell the rights", &line, |r| match r {
                    Response::MyRights(rights) => Some(rights.rights.clone()),
                    _ => None,
                })
                .await
            {
                Ok(rights) => {
                    use async_imap::imap_proto::rfc4314::AclRight;
                    if !rights.is_empty() && rights.iter().all(|r| !r.contains(&AclRight::Insert)) {
                        read_only.push(folder.clone());
                    }
                }
                Err(MailError::Rejected { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(read_only)
    }

    /// Every selectable folder's counts in one `LIST … RETURN (STATUS …)`.
    async fn list_counts(&mut self) -> Result<Vec<FolderCount>, MailError> {
        let line = r#"LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))"#;
        self.run("LIST", "list the folders", line, |r| match r {
            Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
                let mut count = FolderCount {
                    folder: mailbox.to_string(),
                    total: 0,
                    unread: 0,
                };
                for attribute in status {
                    match attribute {
                        async_imap::imap_proto::StatusAttribute::Messages(n) => count.total = *n,
                        async_imap::imap_proto::StatusAttribute::Unseen(n) => count.unread = *n,
                        _ => {}
                    }
                }
                Some(count)
            }
            // The LIST lines themselves say nothing the counts need.
            Response::MailboxData(MailboxDatum::List(_)) => Some(FolderCount {
                folder: String::new(),
                total: 0,
                unread: 0,
            }),
            _ => None,
        })
        .await
        .map(|counts| {
            counts
                .into_iter()
                .filter(|c| !c.folder.is_empty())
                .collect()
        })
    }

    /// A command whose one argument is a folder name (CREATE, DELETE, SUBSCRIBE…).
    async fn simple(
        &mut self,
        action: &'static str,
        doing: &'static str,
        folder: &str,
    ) -> Result<(), MailError> {
        let line = format!("{action} {}", quoted(folder));
        self.run(action, doing, &line, |_| None::<()>)
            .await
            .map(drop)
    }

    /// `UID STORE set +FLAGS|-FLAGS (flags)`; returns the flags the server reports.
    async fn store(
        &mut self,
        set: String,
        action: &str,
        flags_: &[Flag],
    ) -> Result<Vec<MessageFlags>, MailError> {
        let names = flags_
            .iter()
            .map(imap_flag)
            .collect::<Result<Vec<_>, _>>()?
            .join(" ");
        let line = format!("UID STORE {set} {action} ({names})");
        // The FETCH answers carry each message's flags after the change.
        self.run("UID STORE", "change the flags", &line, |r| match r {
            Response::Fetch(_, attributes) => {
                use async_imap::imap_proto::AttributeValue;
                let uid = attributes.iter().find_map(|a| match a {
                    AttributeValue::Uid(uid) => Some(*uid),
                    _ => None,
                })?;
                let flags = attributes.iter().find_map(|a| match a {
                    AttributeValue::Flags(names) => Some(flags_from(
                        names
                            .iter()
                            .map(|name| async_imap::types::Flag::from(name.as_ref())),
                    )),
                    _ => None,
                })?;
                Some(MessageFlags { uid, flags })
            }
            _ => None,
        })
        .await
    }
}

/// A flag as IMAP spells it. Keywords must be atoms: no spaces, brackets or quotes.
fn imap_flag(flag: &Flag) -> Result<String, MailError> {
    Ok(match flag {
        Flag::Seen => "\\Seen".to_owned(),
        Flag::Answered => "\\Answered".to_owned(),
        Flag::Flagged => "\\Flagged".to_owned(),
        Flag::Deleted => "\\Deleted".to_owned(),
        Flag::Draft => "\\Draft".to_owned(),
        Flag::Forwarded => "$Forwarded".to_owned(),
        Flag::Keyword(name) => {
            let atom = !name.is_empty()
                && name.len() <= 100
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
            if !atom {
                return Err(MailError::BadInput("keyword"));
            }
            name.clone()
        }
    })
}

/// The labels among a folder's flags: keywords, without `$`-prefixed system
/// keywords and junk markers, at most 50.
fn labels_of(flags: &[async_imap::types::Flag<'_>]) -> Vec<String> {
    flags
        .iter()
        .filter_map(|f| match f {
            async_imap::types::Flag::Custom(name) if protocol::is_label(name) => {
                Some(name.to_string())
            }
            _ => None,
        })
        .take(50)
        .collect()
}

/// A UID set from the browser's list: not empty, bounded, no zero.
fn uid_set(uids: &[u32]) -> Result<String, MailError> {
    if uids.is_empty() || uids.len() > MAX_FLAG_UIDS || uids.contains(&0) {
        return Err(MailError::BadInput("message list"));
    }
    Ok(uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(","))
}

/// The server's id for a folder called `name` (as people read it) under `parent`,
/// or at the top level of the user's own namespace (`INBOX.name` on servers that
/// keep personal folders under the inbox).
fn folder_id(
    namespaces: &Namespaces,
    parent: Option<&str>,
    name: &str,
) -> Result<String, MailError> {
    let name = name.trim();
    if let Some(parent) = parent {
        check_command_text(parent, "folder name")?;
    }
    let delimiter = namespaces.delimiter_under(parent).unwrap_or_default();
    let bad = name.is_empty()
        || name.chars().count() > 200
        || (!delimiter.is_empty() && name.contains(delimiter))
        || name.chars().any(|c| c.is_control() || c == '*' || c == '%');
    if bad {
        return Err(MailError::BadInput("folder name"));
    }
    let encoded = utf7_imap::encode_utf7_imap(name.to_owned());
    let id = namespaces.child(parent, &encoded);
    check_command_text(&id, "folder name")?;
    Ok(id)
}

/// A refusal that means the folder `to` does not exist (`TRYCREATE`, `NONEXISTENT`).
fn missing_folder(error: MailError, to: &str) -> MailError {
    match error {
        MailError::Rejected { refusal, .. }
            if refusal
                .code
                .as_deref()
                .is_some_and(|c| c == "TRYCREATE" || c == "NONEXISTENT") =>
        {
            MailError::FolderNotFound(to.to_owned())
        }
        other => other,
    }
}

/// An IMAP quoted string. The text has been checked for CR, LF and NUL.
/// An APPEND as the lines that end in a literal, each with what fills it, and
/// the line's end after the last one.
struct Appending {
    pieces: Vec<(String, Vec<Chunk>)>,
    tail: String,
}

/// What a literal carries: the head given to `append`, or bytes of the spool.
enum Chunk {
    Head,
    File(u64, u64),
}

impl Appending {
    /// `APPEND folder flags CATENATE (TEXT {n} URL "…" …)` (RFC 4469), the head
    /// in the first text.
    fn catenated(folder: &str, flags: &str, head: &[u8], segments: &[spool::Segment]) -> Self {
        enum Item<'a> {
            Text(u64, Vec<Chunk>),
            Url(&'a str),
        }
        let mut items = Vec::new();
        if !head.is_empty() {
            items.push(Item::Text(head.len() as u64, vec![Chunk::Head]));
        }
        for segment in segments {
            match segment {
                spool::Segment::File { start, len } => match items.last_mut() {
                    Some(Item::Text(size, chunks)) => {
                        *size += len;
                        chunks.push(Chunk::File(*start, *len));
                    }
                    _ => items.push(Item::Text(*len, vec![Chunk::File(*start, *len)])),
                },
                spool::Segment::Server { url, .. } => items.push(Item::Url(url)),
            }
        }
        let mut pieces = Vec::new();
        let mut line = format!("APPEND {} {flags} CATENATE (", quoted(folder));
        let mut first = true;
        for item in items {
            if !std::mem::take(&mut first) {
                line.push(' ');
            }
            match item {
                Item::Text(size, chunks) => {
                    line.push_str(&format!("TEXT {{{size}}}"));
                    pieces.push((std::mem::take(&mut line), chunks));
                }
                Item::Url(url) => {
                    line.push_str("URL ");
                    line.push_str(&quoted(url));
                }
            }
        }
        line.push(')');
        Appending { pieces, tail: line }
    }
}

/// APPEND's end, when `response` is it: the new message's place (APPENDUID), or
/// the refusal.
fn append_done(
    tag: &async_imap::imap_proto::RequestId,
    response: &Response<'_>,
) -> Option<Result<Option<(u32, u32)>, Refusal>> {
    use async_imap::imap_proto::rfc4315::UidSetMember;
    use async_imap::imap_proto::{ResponseCode, Status};
    let Response::Done {
        tag: done,
        status,
        outcome,
    } = response
    else {
        return None;
    };
    if done != tag {
        return None;
    }
    Some(match status {
        Status::Ok => Ok(match &outcome.code {
            Some(ResponseCode::AppendUid(validity, uids)) => match uids.as_slice() {
                [UidSetMember::Uid(uid)] => Some((*validity, *uid)),
                _ => None,
            },
            _ => None,
        }),
        _ => Err(Refusal::from_outcome(
            outcome.code.as_ref(),
            outcome.information.as_deref(),
        )),
    })
}

/// The IMAP URL (RFC 5092) of a part of a message (or the whole message), as
/// CATENATE takes it: the folder's name in UTF-8, percent-encoded.
fn imap_url(message: &MessageRef, part: Option<&str>) -> String {
    let name = utf7_imap::decode_utf7_imap(message.folder.clone());
    let mut url = format!("/{}", url_encoded(&name, b"-._~/"));
    url.push_str(&format!(
        ";UIDVALIDITY={}/;UID={}",
        message.uid_validity, message.uid
    ));
    if let Some(part) = part {
        url.push_str("/;SECTION=");
        url.push_str(part);
    }
    url
}

/// `text` in UTF-8 with every byte but letters, digits and `keep` percent-encoded.
fn url_encoded(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || keep.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The authorized URL in a `* GENURLAUTH` line, when it is the one asked for
/// (`rump`, then `:internal:` and the token) and can go into an SMTP command.
fn genurlauth_url(line: &str, rump: &str) -> Option<String> {
    let rest = line.strip_prefix("* ")?;
    let (name, rest) = rest.split_once(' ')?;
    if !name.eq_ignore_ascii_case("GENURLAUTH") {
        return None;
    }
    let rest = rest.trim();
    let url = match rest.strip_prefix('"') {
        Some(quoted) => {
            let mut url = String::new();
            let mut chars = quoted.chars();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => url.push(chars.next()?),
                    c => url.push(c),
                }
            }
            url
        }
        None => rest.to_owned(),
    };
    let token = url.strip_prefix(rump)?.strip_prefix(":internal:")?;
    (!token.is_empty() && url.bytes().all(|b| b.is_ascii_graphic())).then_some(url)
}

/// What a server's NO (and, with `bad_too`, BAD) to a command means for the user;
/// other failures stay as they are.
fn refused_means(
    error: MailError,
    bad_too: bool,
    meaning: impl FnOnce() -> MailError,
) -> MailError {
    match error {
        MailError::Imap {
            source: ImapError::No(_),
            ..
        } => meaning(),
        MailError::Imap {
            source: ImapError::Bad(_),
            ..
        } if bad_too => meaning(),
        other => other,
    }
}

fn join_section(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Reads the server's greeting; a missing greeting or `BYE` means the server is not
/// taking connections.
async fn read_greeting<S>(
    client: &mut async_imap::Client<S>,
    server: &Server,
) -> Result<(), MailError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let unreachable = |message: &str| MailError::Unreachable {
        server: server_label(server),
        source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, message.to_owned()),
    };
    match timeout(UPSTREAM_DEADLINE, client.read_response()).await {
        Err(_) => Err(MailError::Timeout("the greeting")),
        Ok(Err(source)) => Err(MailError::Unreachable {
            server: server_label(server),
            source,
        }),
        Ok(Ok(None)) => Err(unreachable("closed before greeting")),
        Ok(Ok(Some(response))) => match response.parsed() {
            async_imap::imap_proto::Response::Data {
                status: async_imap::imap_proto::Status::Bye,
                ..
            } => Err(unreachable("the server said BYE")),
            _ => Ok(()),
        },
    }
}

/// Greets, asks for STARTTLS, and returns the bare TCP stream for the handshake.
/// Anything the server sent after its OK stays in the dropped client's buffer and is
/// discarded, so nothing from before TLS can be mistaken for a response after it.
async fn starttls(server: &Server, tcp: TcpStream) -> Result<TcpStream, MailError> {
    let budget = Budget::new();
    let mut client = async_imap::Client::new(Bounded::new(tcp, budget));
    read_greeting(&mut client, server).await?;
    match timeout(
        UPSTREAM_DEADLINE,
        client.run_command_and_check_ok("STARTTLS", None),
    )
    .await
    {
        Err(_) => Err(MailError::Timeout("STARTTLS")),
        Ok(Err(source)) => Err(MailError::StartTlsRefused {
            server: server_label(server),
            source: source.into(),
        }),
        Ok(Ok(())) => Ok(client.into_inner().into_inner()),
    }
}
