//! The app root: it creates the state signals and the transport, provides them as
//! contexts, and holds the actions that turn clicks into requests.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{Connectivity, Event, Flag, Reply, Request, Sort};

use crate::components::{deferred::Deferred, mailbox, sign_in::SignIn};
use crate::compose::ComposeForm;
use crate::conversations;
use crate::search;
use crate::settings;
use crate::state::{
    Change, Folders, MessageList, Pane, Pending, PendingAction, Reader, SignedIn, WINDOW,
};
use crate::transport::{Notice, Transport};

/// Every piece of UI state, one signal per concern; `Copy`, so closures take it freely.
#[derive(Clone, Copy)]
pub struct Ui {
    pub accounts: RwSignal<Vec<String>>,
    /// Accounts that offer both IMAP and POP3.
    pub both_protocols: RwSignal<Vec<String>>,
    pub session: RwSignal<Option<SignedIn>>,
    /// Why the person was signed out, shown on the sign-in page.
    pub notice: RwSignal<Option<String>>,
    pub folders: RwSignal<Folders>,
    pub list: RwSignal<MessageList>,
    pub pane: RwSignal<Pane>,
    pub reader: RwSignal<Reader>,
    /// A move the person can still undo.
    pub pending: RwSignal<Option<Pending>>,
    /// Why the last change to the mailbox failed, until dismissed.
    pub problem: RwSignal<Option<String>>,
    /// The bridge's link to the mail server.
    pub connection: RwSignal<Connectivity>,
    /// The page opened with a session to resume, and it is being resumed.
    pub resuming: RwSignal<bool>,
    /// The link to the bridge dropped and is being made again.
    pub reconnecting: RwSignal<bool>,
    /// Messages of the open folder picked for an action together, by UID.
    pub selected: RwSignal<Vec<u32>>,
    /// A short note on what just happened ("Copied to Work."), cleared after a while.
    pub info: RwSignal<Option<String>>,
    /// The message waiting out its undo window in the bridge, and the form it
    /// was sent from, to return to on Undo.
    pub outbox: RwSignal<Option<(u32, crate::compose::ComposeForm)>>,
    /// The message being written, while the compose form is open.
    pub compose: RwSignal<Option<ComposeForm>>,
    /// The search the list shows, if it shows one.
    pub search: RwSignal<Option<crate::search::Searching>>,
    /// The conversations the list shows, while it shows them.
    pub threads: RwSignal<Option<conversations::Grouped>>,
    /// The conversation open in the reading pane, if one is.
    pub conversation: RwSignal<Option<conversations::Open>>,
}

impl Ui {
    fn new() -> Self {
        Ui {
            accounts: RwSignal::new(Vec::new()),
            both_protocols: RwSignal::new(Vec::new()),
            session: RwSignal::new(None),
            notice: RwSignal::new(None),
            folders: RwSignal::new(Folders::default()),
            list: RwSignal::new(MessageList::default()),
            pane: RwSignal::new(Pane::default()),
            reader: RwSignal::new(Reader::default()),
            pending: RwSignal::new(None),
            problem: RwSignal::new(None),
            connection: RwSignal::new(Connectivity::Connected),
            resuming: RwSignal::new(false),
            reconnecting: RwSignal::new(false),
            selected: RwSignal::new(Vec::new()),
            info: RwSignal::new(None),
            outbox: RwSignal::new(None),
            compose: RwSignal::new(None),
            search: RwSignal::new(None),
            threads: RwSignal::new(None),
            conversation: RwSignal::new(None),
        }
    }

    /// Shows a short note on what just happened, for four seconds (unless
    /// another note has taken its place by then).
    pub fn say(self, said: impl Into<String>) {
        let said = said.into();
        self.info.set(Some(said.clone()));
        set_timeout(
            move || {
                self.info.update(|i| {
                    if i.as_deref() == Some(said.as_str()) {
                        *i = None;
                    }
                })
            },
            std::time::Duration::from_secs(4),
        );
    }

    /// Whether `folder` is the account's Drafts.
    pub fn is_drafts(self, folder: &str) -> bool {
        self.folders.with_untracked(|f| {
            f.folders
                .iter()
                .any(|f| f.id == folder && f.role == Some(protocol::FolderRole::Drafts))
        })
    }

    /// Whether this account can send (it has an SMTP server).
    pub fn can_send(self) -> bool {
        self.session
            .with(|s| s.as_ref().is_some_and(|s| s.sending.is_some()))
    }

    /// Whether the session is POP3: its Inbox and the Drafts the bridge keeps, and
    /// no moves, copies or labels.
    pub fn pop3(self) -> bool {
        self.session.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.protocol == protocol::MailProtocol::Pop3)
        })
    }

    /// Back to the sign-in page, saying why.
    fn signed_out(self, why: Option<&str>) {
        // The mailbox goes first; what it showed is then cleared without telling
        // it, since its views are gone (a view told after it was taken down reads
        // signals that went with it, which stops the app).
        self.session.set(None);
        self.folders.update_untracked(|f| *f = Folders::default());
        self.list.update_untracked(|l| *l = MessageList::default());
        self.pane.update_untracked(|p| *p = Pane::default());
        self.reader.update_untracked(|r| *r = Reader::default());
        self.pending.update_untracked(|p| *p = None);
        self.problem.update_untracked(|p| *p = None);
        self.connection
            .update_untracked(|c| *c = Connectivity::Connected);
        self.reconnecting.update_untracked(|r| *r = false);
        self.selected.update_untracked(Vec::clear);
        self.compose.update_untracked(|c| *c = None);
        self.outbox.update_untracked(|o| *o = None);
        self.search.update_untracked(|s| *s = None);
        self.threads.update_untracked(|t| *t = None);
        self.conversation.update_untracked(|c| *c = None);
        self.resuming.set(false);
        self.notice.set(why.map(str::to_owned));
    }
}

pub fn use_ui() -> Ui {
    expect_context()
}

pub fn use_transport() -> Transport {
    expect_context()
}

#[component]
pub fn App() -> impl IntoView {
    let ui = Ui::new();
    // The transport's own notices may need the transport (to reload a folder).
    let this = StoredValue::new(None::<Transport>);
    let transport = Transport::start(move |notice| match notice {
        Notice::Connected {
            accounts,
            pop3,
            imap,
        } => {
            // Accounts with both: people choose when signing in.
            ui.both_protocols
                .set(pop3.into_iter().filter(|a| imap.contains(a)).collect());
            ui.accounts.set(accounts);
        }
        Notice::Event(Event::ConnectivityChanged {
            state: Connectivity::Lost,
        }) => ui.signed_out(Some(
            "The connection to your mail server was lost. Please sign in again.",
        )),
        Notice::Event(Event::ConnectivityChanged { state }) => ui.connection.set(state),
        Notice::Event(event) => {
            if let Some(transport) = this.get_value() {
                server_changed(ui, transport, event);
            }
        }
        Notice::Reconnecting => ui.reconnecting.set(true),
        Notice::Resumed(reply) => {
            if let Some(transport) = this.get_value() {
                crate::place::resumed(ui, transport, reply);
            }
        }
        Notice::ResumeRefused(error) => ui.signed_out(Some(&error.message)),
        Notice::Closed => {
            if ui.session.get_untracked().is_some() {
                ui.signed_out(Some(
                    "The connection to Postern was lost. Please sign in again.",
                ));
            }
        }
    });
    this.set_value(Some(transport.clone()));
    ui.resuming.set(transport.resuming());
    crate::place::keep(ui);
    provide_context(ui);
    provide_context(transport);
    // The mailbox downloads while the person types their password.
    spawn_local(async {
        // A failure here is retried, and reported, when the mailbox is shown.
        let _ = mailbox::preload().await;
    });
    view! {
        <Show
            when=move || ui.session.with(Option::is_some)
            fallback=move || {
                view! {
                    <Show when=move || ui.resuming.get() fallback=|| view! { <SignIn /> }>
                        {resuming()}
                    </Show>
                }
            }
        >
            <Deferred load=mailbox::load />
        </Show>
    }
}

/// What a reloaded page shows while its session is resumed.
fn resuming() -> impl IntoView {
    view! {
        <main class="signin">
            <div class="signin-card" role="status">
                <p class="muted">"Signing you back in…"</p>
            </div>
        </main>
    }
}

/// After sign-in: the folder list, then the inbox, or after a resume, the folder
/// and message of `place`.
pub async fn load_mailbox(ui: Ui, transport: Transport, place: Option<crate::place::Place>) {
    ui.folders.update(|f| f.loading = f.folders.is_empty());
    match transport.request(Request::ListFolders).await {
        Ok(Reply::Folders { folders }) => {
            ui.folders.update(|f| f.loaded(folders));
            let (folder, uid) = ui.folders.with_untracked(|f| {
                match place.and_then(|p| {
                    f.get(&p.folder)
                        .filter(|f| f.selectable)
                        .map(|f| (f.id.clone(), p.uid))
                }) {
                    Some(kept) => (Some(kept.0), kept.1),
                    None => (f.default_folder().map(|f| f.id.clone()), None),
                }
            });
            let Some(id) = folder else {
                return;
            };
            if ui.list.with_untracked(|l| l.folder.as_ref() == Some(&id)) {
                // The folder on screen, listed again: what changed meanwhile shows.
                search::end(ui, transport.clone());
                relist(ui, transport.clone(), id.clone());
            } else {
                open_folder(ui, transport.clone(), id.clone());
            }
            if let Some(uid) = uid.filter(|_| !ui.is_drafts(&id)) {
                open_message(ui, transport, id, uid, None);
            }
        }
        Ok(_) => {}
        Err(error) => ui.folders.update(|f| {
            f.loading = false;
            f.error = Some(error.message());
        }),
    }
}

/// Takes in what the bridge reports changed on the server, by another program,
/// another browser, or this one.
fn server_changed(ui: Ui, transport: Transport, event: Event) {
    match event {
        Event::FolderChanged {
            folder,
            total,
            unread,
            added,
            added_at,
            flags,
            removed,
            removed_at,
        } => {
            ui.folders
                .update(|f| f.update_counts(&folder, total, unread));
            let change = Change {
                added,
                added_at,
                flags: flags.clone(),
                removed: removed.clone(),
                removed_at,
            };
            if conversations::active(ui) {
                let added = !change.added.is_empty();
                conversations::changed(ui, transport.clone(), &folder, added, &flags, &removed);
                ui.list.update(|l| {
                    if l.folder.as_deref() == Some(&folder) {
                        (l.total, l.unread) = (l.total, unread);
                    }
                });
            } else {
                ui.list
                    .update(|l| l.changed(&folder, (total, unread), change));
            }
            conversations::removed(ui, &folder, &removed);
            if search::active(ui) {
                search_flags(ui, &folder, &flags);
                search::removed(ui, &folder, &removed);
            }
            ui.reader.update(|r| {
                r.set_flags(&folder, &flags);
                r.removed(&folder, &removed);
            });
            if !removed.is_empty() && !search::active(ui) && !conversations::active(ui) {
                ui.selected
                    .update(|s| s.retain(|uid| !removed.contains(uid)));
            }
        }
        Event::FolderCounts { folders } => ui.folders.update(|f| {
            for count in &folders {
                f.update_counts(&count.folder, count.total, count.unread);
            }
        }),
        Event::FolderReset { folder } => {
            let open = ui
                .list
                .with_untracked(|l| l.folder.as_deref() == Some(&folder));
            spawn_local({
                let transport = transport.clone();
                async move { refresh_counts(ui, transport).await }
            });
            if open {
                open_folder(ui, transport, folder);
            }
        }
        Event::ConnectivityChanged { state } => ui.connection.set(state),
        Event::SearchUpdated {
            search,
            total,
            searched,
            of,
            done,
        } => search::updated(ui, transport, search, total, searched, of, done),
        Event::OutboxSent { outbox, .. } => crate::components::compose::held_sent(ui, outbox),
        Event::OutboxFailed {
            outbox,
            error,
            draft,
        } => crate::components::compose::held_failed(ui, outbox, &error.message, *draft),
        // The transport keeps the token.
        Event::SessionRenewed { .. } => {}
    }
}

/// Shows a folder's first messages in the person's chosen order.
pub fn open_folder(ui: Ui, transport: Transport, id: String) {
    search::end(ui, transport.clone());
    ui.folders.update(|f| f.selected = Some(id.clone()));
    ui.selected.set(Vec::new());
    ui.reader.set(Reader::default());
    ui.conversation.set(None);
    ui.pane.set(Pane::Messages);
    relist(ui, transport, id);
}

/// Lists `id` from the top: its conversations, if the person chose those, else
/// its messages in the chosen order.
pub fn relist(ui: Ui, transport: Transport, id: String) {
    if conversations::chosen(ui) {
        conversations::list(ui, transport, id);
    } else {
        conversations::leave(ui);
        list_folder(ui, transport, id, settings::sort());
    }
}

/// Lists the open folder in another order (kept for next time), from the top; the
/// open message and the selection stay.
pub fn sort_by(ui: Ui, transport: Transport, sort: Sort) {
    settings::set_sort(sort);
    if let Some(id) = ui.list.with_untracked(|l| l.folder.clone())
        && !search::active(ui)
        && !conversations::active(ui)
    {
        list_folder(ui, transport, id, sort);
    }
}

/// Ends the search shown and lists the folder it began in again; the open
/// message stays.
pub fn clear_search(ui: Ui, transport: Transport) {
    if let Some(folder) = search::end(ui, transport.clone()) {
        ui.selected.set(Vec::new());
        relist(ui, transport, folder);
    }
}

fn list_folder(ui: Ui, transport: Transport, id: String, sort: Sort) {
    ui.list.update(|l| l.opening(&id, sort));
    spawn_local(async move {
        let request = Request::OpenFolder {
            folder: id.clone(),
            limit: WINDOW,
            sort,
        };
        match transport.request(request).await {
            Ok(reply) => {
                if let Reply::FolderOpened { total, unread, .. } = &reply {
                    ui.folders.update(|f| f.update_counts(&id, *total, *unread));
                }
                ui.list.update(|l| {
                    l.apply(reply);
                });
            }
            Err(error) => ui.list.update(|l| l.failed(&id, sort, error.message())),
        }
    });
}

/// Fetches the window of headers from position `offset` of the open folder (the
/// list asks as it scrolls).
pub fn load_window(ui: Ui, transport: Transport, offset: u32) {
    if search::active(ui) {
        search::load_hits(ui, transport, offset);
        return;
    }
    if conversations::active(ui) {
        conversations::load_window(ui, transport, offset);
        return;
    }
    let Some((folder, sort)) = ui
        .list
        .with_untracked(|l| l.folder.clone().zip(Some(l.sort)))
    else {
        return;
    };
    ui.list.update(|l| l.fetching = Some(offset));
    spawn_local(async move {
        let request = Request::ListMessages {
            folder: folder.clone(),
            offset,
            limit: protocol::MAX_WINDOW,
            sort,
        };
        match transport.request(request).await {
            Ok(reply) => ui.list.update(|l| {
                l.apply(reply);
            }),
            Err(error) => ui.list.update(|l| l.failed(&folder, sort, error.message())),
        }
    });
}

pub fn sign_out(ui: Ui, transport: Transport) {
    spawn_local(async move {
        // Whatever the bridge answers, the person asked to leave.
        transport.forget();
        let _ = transport.request(Request::SignOut).await;
        ui.signed_out(None);
    });
}

/// Opens a message in the reading pane (or, with `part`, a message attached to it).
/// Remote images load at once only for senders the person always allows.
pub fn open_message(ui: Ui, transport: Transport, folder: String, uid: u32, part: Option<String>) {
    // A message in Drafts opens in the compose form, to be written on.
    if ui.is_drafts(&folder) && part.is_none() && ui.can_send() {
        crate::components::compose::resume_draft(ui, transport, folder, uid);
        return;
    }
    ui.reader.update(|r| r.opening(&folder, uid, part.clone()));
    ui.pane.set(Pane::Reader);
    let row = search::listed(ui, &folder, uid).map_or(uid, |(_, key)| key);
    let sender = ui.list.with_untracked(|l| {
        l.messages
            .iter()
            .find(|m| m.uid == row)
            .and_then(|m| m.from.first().map(|a| a.email.clone()))
    });
    let remote_content = sender.is_some_and(|s| settings::remote_allowed(&s));
    spawn_local(async move {
        let request = Request::OpenMessage {
            folder: folder.clone(),
            uid,
            part,
            mark_seen: settings::mark_seen(),
            remote_content,
        };
        match transport.request(request).await {
            Ok(Reply::MessageOpened { message, .. }) => {
                let flags = message.flags.clone();
                ui.reader.update(|r| r.opened(&folder, uid, *message));
                flags_changed(ui, &folder, &[protocol::MessageFlags { uid, flags }]);
            }
            Ok(_) => {}
            Err(error) => ui
                .reader
                .update(|r| r.failed(&folder, uid, error.message())),
        }
    });
}

/// Shows another part of the open message, or the same with remote content.
pub fn show_part(ui: Ui, transport: Transport, part: String, remote_content: bool) {
    let Some((folder, uid)) = ui.reader.with_untracked(Reader::current) else {
        return;
    };
    ui.reader.update(|r| r.switching = true);
    spawn_local(async move {
        let request = Request::ShowPart {
            folder: folder.clone(),
            uid,
            part,
            remote_content,
        };
        match transport.request(request).await {
            Ok(Reply::PartShown { body, .. }) => {
                ui.reader.update(|r| r.part_shown(&folder, uid, body))
            }
            Ok(_) => {}
            Err(error) => ui
                .reader
                .update(|r| r.failed(&folder, uid, error.message())),
        }
    });
}

/// What an action applies to: the selected messages, else the open one.
pub fn targets(ui: Ui) -> Option<(String, Vec<u32>)> {
    let selected = ui.selected.get_untracked();
    if !selected.is_empty() {
        let list_folder = ui.list.with_untracked(|l| l.folder.clone())?;
        // Selected hits are all of one folder (see `toggle_selected`).
        let real: Vec<(String, u32)> = selected
            .iter()
            .filter_map(|uid| search::real(ui, &list_folder, *uid))
            .collect();
        let folder = real.first()?.0.clone();
        let uids: Vec<u32> = real.into_iter().map(|(_, uid)| uid).collect();
        return Some((folder, conversations::expand(ui, &uids)));
    }
    // An open conversation: all of its messages in the folder it is in.
    if let Some(open) = ui
        .conversation
        .with_untracked(|c| c.as_ref().map(|c| (c.folder.clone(), c.uids())))
    {
        return (!open.1.is_empty()).then_some(open);
    }
    ui.reader
        .with_untracked(|r| r.current().filter(|_| r.part.is_none()))
        .map(|(folder, uid)| (folder, vec![uid]))
}

/// The list row of a message (its key while a search is shown), for the
/// selection and the keyboard.
pub fn row_of(ui: Ui, folder: &str, uid: u32) -> Option<u32> {
    search::listed(ui, folder, uid).map(|(_, row)| row)
}

/// Adds or removes a row from the selection. Hits of one folder at a time can be
/// picked together: picking one of another folder starts the selection again.
pub fn toggle_selected(ui: Ui, uid: u32) {
    if let Some(list_folder) = ui.list.with_untracked(|l| l.folder.clone())
        && search::active(ui)
    {
        let folder_of = |row: u32| search::real(ui, &list_folder, row).map(|(f, _)| f);
        let first = ui.selected.with_untracked(|s| s.first().copied());
        if let Some(first) = first
            && folder_of(first) != folder_of(uid)
        {
            ui.selected.set(vec![uid]);
            ui.say("Messages of one folder at a time can be picked together.");
            return;
        }
    }
    ui.selected
        .update(|s| match s.iter().position(|u| *u == uid) {
            Some(index) => {
                s.remove(index);
            }
            None => s.push(uid),
        });
}

/// Adds `flag` to the targets, or takes it away: read and unread, flagged and not.
/// A failure is shown as a problem; the messages stay as the server has them.
pub fn set_flag(ui: Ui, transport: Transport, flag: Flag, on: bool) {
    let Some((folder, uids)) = targets(ui) else {
        return;
    };
    spawn_local(async move {
        let (add, remove) = if on {
            (vec![flag], vec![])
        } else {
            (vec![], vec![flag])
        };
        let request = Request::SetFlags {
            folder: folder.clone(),
            uids,
            add,
            remove,
        };
        match transport.request(request).await {
            Ok(Reply::FlagsSet { messages, .. }) => flags_changed(ui, &folder, &messages),
            Ok(_) => {}
            Err(error) => ui.problem.set(Some(error.message())),
        }
    });
}

/// Takes in flags the server reported, in the list, the reader and the counts.
pub fn flags_changed(ui: Ui, folder: &str, changes: &[protocol::MessageFlags]) {
    let mut delta = 0;
    if search::active(ui) {
        delta = search_flags(ui, folder, changes);
    } else {
        ui.list.update(|l| delta = l.set_flags(folder, changes));
    }
    ui.reader.update(|r| r.set_flags(folder, changes));
    conversations::entries_flags(ui, folder, changes);
    if delta != 0 {
        ui.folders.update(|f| f.add_unread(folder, delta));
    }
}

/// Flags of messages of `folder` into the hits the list shows; how the unread
/// count of the hits changed.
fn search_flags(ui: Ui, folder: &str, changes: &[protocol::MessageFlags]) -> i64 {
    let listed: Vec<protocol::MessageFlags> = changes
        .iter()
        .filter_map(|change| {
            row_of(ui, folder, change.uid).map(|uid| protocol::MessageFlags {
                uid,
                flags: change.flags.clone(),
            })
        })
        .collect();
    let mut delta = 0;
    if !listed.is_empty() {
        ui.list
            .update(|l| delta = l.set_flags(search::SEARCH_LIST, &listed));
    }
    delta
}

/// How long a move or delete can be undone before it is sent to the server.
pub const UNDO_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// Moves the targets to `to` (Trash for delete, Archive for archive): the rows
/// leave at once, and the move is sent when the undo window has passed. `done`
/// says what happened ("Archived"), for the undo bar.
pub fn move_messages(ui: Ui, transport: Transport, to: String, done: &str) {
    let Some((folder, uids)) = targets(ui) else {
        return;
    };
    move_these(ui, transport, folder, uids, to, done);
}

/// Removes the targets undoably, as `action` once the undo window has passed.
fn remove_pending(ui: Ui, transport: Transport, action: PendingAction, done: &str) {
    let Some((folder, uids)) = targets(ui) else {
        return;
    };
    take_pending(ui, transport, folder, uids, action, done);
}

/// Moves these messages of `folder` (dragged, or the targets), undoably.
pub fn move_these(
    ui: Ui,
    transport: Transport,
    folder: String,
    uids: Vec<u32>,
    to: String,
    done: &str,
) {
    if to == folder {
        return;
    }
    take_pending(
        ui,
        transport,
        folder,
        uids,
        PendingAction::Move { to },
        done,
    );
}

/// Takes these messages of `folder` out of the list at once and sends `action` when
/// the undo window has passed.
fn take_pending(
    ui: Ui,
    transport: Transport,
    folder: String,
    uids: Vec<u32>,
    action: PendingAction,
    done: &str,
) {
    // One pending action at a time: an earlier one is sent now.
    commit_pending(ui, transport.clone(), None);
    let open = ui.reader.with_untracked(Reader::current);
    let closes = open
        .as_ref()
        .is_some_and(|(f, uid)| *f == folder && uids.contains(uid));
    let open_index = open.filter(|_| closes).and_then(|(f, uid)| {
        let row = row_of(ui, &f, uid)?;
        ui.list
            .with_untracked(|l| l.messages.iter().position(|m| m.uid == row))
    });
    let grouped = conversations::active(ui);
    let (list_folder, rows) = if grouped {
        (folder.clone(), conversations::whole_rows(ui, &uids))
    } else {
        search::listed_all(ui, &folder, &uids)
    };
    let removed = ui
        .list
        .try_update(|l| l.take(&list_folder, &rows))
        .unwrap_or_default();
    // A conversation's row stays while some of it does; the rest regroups.
    if removed.is_empty() && !grouped {
        return;
    }
    conversations::removed(ui, &folder, &uids);
    ui.selected.update(|s| s.retain(|row| !rows.contains(row)));
    let label = match uids.len() {
        1 => format!("{done}."),
        n => format!("{done}: {n} messages."),
    };
    let id = js_sys::Date::now() as u64;
    ui.pending.set(Some(Pending {
        id,
        folder,
        uids,
        list_folder,
        action,
        removed,
        label,
    }));
    if closes {
        ui.reader.set(Reader::default());
        if ui.pane.get_untracked() == Pane::Reader {
            ui.pane.set(Pane::Messages);
        }
        // The keyboard carries on from the message that took its place.
        let next = open_index.and_then(|i| {
            ui.list.with_untracked(|l| {
                l.messages
                    .get(i)
                    .or_else(|| l.messages.get(i.wrapping_sub(1)))
                    .map(|m| m.uid)
            })
        });
        if let Some(uid) = next {
            request_animation_frame(move || crate::components::shortcuts::focus_row(uid));
        }
    }
    leptos::prelude::set_timeout(move || commit_pending(ui, transport, Some(id)), UNDO_WINDOW);
}

/// Archives the targets (to the `\\Archive` folder), if there is one and they are
/// not already there.
pub fn archive_messages(ui: Ui, transport: Transport) {
    let here = targets(ui).map(|(folder, _)| folder);
    let archive = ui.folders.with_untracked(|f| {
        f.with_role(protocol::FolderRole::Archive)
            .map(|f| f.id.clone())
    });
    if let Some(to) = archive.filter(|a| Some(a) != here.as_ref()) {
        move_messages(ui, transport, to, "Archived");
    }
}

/// Deletes the targets: to Trash, undoably; in Trash, for good once the person
/// confirms. A POP3 mailbox has no Trash: there the person confirms, and the
/// deletion still waits out the undo window before the server carries it out.
pub fn delete_messages(ui: Ui, transport: Transport) {
    if ui.pop3() {
        let drafts = ui
            .list
            .with_untracked(|l| l.folder.as_deref().is_some_and(|f| ui.is_drafts(f)));
        let question = if drafts {
            "Delete for good? You can undo for a few seconds."
        } else {
            "Delete from the server? You can undo for a few seconds."
        };
        if confirmed(question) {
            remove_pending(ui, transport, PendingAction::Expunge, "Deleted");
        }
        return;
    }
    let here = targets(ui).map(|(folder, _)| folder);
    let trash = ui.folders.with_untracked(|f| {
        f.with_role(protocol::FolderRole::Trash)
            .map(|f| f.id.clone())
    });
    match trash {
        Some(trash) if Some(&trash) != here.as_ref() => {
            move_messages(ui, transport, trash, "Moved to Trash")
        }
        // In Trash itself: for good, once confirmed.
        Some(_) if confirmed("Delete for good? This cannot be undone.") => {
            expunge_messages(ui, transport)
        }
        _ => {}
    }
}

pub fn confirmed(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}

/// Takes a pending action back: its rows return to the list.
pub fn undo(ui: Ui) {
    if let Some(pending) = ui.pending.try_update(Option::take).flatten() {
        ui.list
            .update(|l| l.restore(&pending.list_folder, pending.removed));
    }
}

/// Sends the pending action now, if there is one: the page is being hidden or
/// closed, and a move the person did not undo must not be lost with it.
pub fn commit_pending_now(ui: Ui, transport: Transport) {
    commit_pending(ui, transport, None);
}

/// Sends the pending action (only if it is still the one with `id`, when given).
fn commit_pending(ui: Ui, transport: Transport, id: Option<u64>) {
    let due = ui
        .pending
        .with_untracked(|p| p.as_ref().is_some_and(|p| id.is_none_or(|id| p.id == id)));
    if !due {
        return;
    }
    let Some(pending) = ui.pending.try_update(Option::take).flatten() else {
        return;
    };
    spawn_local(async move {
        let (folder, uids) = (pending.folder.clone(), pending.uids.clone());
        let request = match pending.action.clone() {
            PendingAction::Move { to } => Request::MoveMessages { folder, uids, to },
            PendingAction::Expunge => Request::ExpungeMessages { folder, uids },
        };
        match transport.request(request).await {
            Ok(_) => {
                conversations::refresh(ui, transport.clone());
                refresh_counts(ui, transport).await
            }
            Err(error) => {
                ui.list
                    .update(|l| l.restore(&pending.list_folder, pending.removed));
                ui.problem.set(Some(error.message()));
            }
        }
    });
}

/// Downloads the open folder as mbox (POP3): the bridge gives a link, which the
/// browser then fetches as a file. With the "delete after download" setting, the
/// bridge deletes what it sent once the file is complete; the list follows.
pub fn download_all(ui: Ui, transport: Transport) {
    let Some(folder) = ui.list.with_untracked(|l| l.folder.clone()) else {
        return;
    };
    let request = Request::ExportMailbox {
        folder,
        delete_after: crate::settings::delete_after_download(),
    };
    spawn_local(async move {
        match transport.request(request).await {
            Ok(Reply::ExportReady { link, .. }) => save(&link),
            Ok(_) => ui
                .problem
                .set(Some("Postern gave an unexpected answer.".to_owned())),
            Err(error) => ui.problem.set(Some(error.message())),
        }
    });
}

/// Has the browser save what `link` serves, without leaving the app (a failed
/// download fails in the download list, not in place of the app).
fn save(link: &str) {
    use wasm_bindgen::JsCast;
    let anchor = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(anchor) = anchor {
        anchor.set_href(link);
        anchor.set_download("");
        anchor.click();
    }
}

/// Copies the targets into `to`; the list stays as it is, and the bar says where
/// the copies went.
pub fn copy_messages(ui: Ui, transport: Transport, to: String) {
    let Some((folder, uids)) = targets(ui) else {
        return;
    };
    let name = ui
        .folders
        .with_untracked(|f| f.get(&to).map(|f| f.name.clone()))
        .unwrap_or_else(|| to.clone());
    spawn_local(async move {
        let count = uids.len();
        let request = Request::CopyMessages { folder, uids, to };
        match transport.request(request).await {
            Ok(_) => {
                let said = match count {
                    1 => format!("Copied to {name}."),
                    n => format!("Copied {n} messages to {name}."),
                };
                ui.say(said);
                refresh_counts(ui, transport).await;
            }
            Err(error) => ui.problem.set(Some(error.message())),
        }
    });
}

/// Removes the targets for good, after the person confirmed it.
pub fn expunge_messages(ui: Ui, transport: Transport) {
    let Some((folder, uids)) = targets(ui) else {
        return;
    };
    spawn_local(async move {
        let request = Request::ExpungeMessages {
            folder: folder.clone(),
            uids: uids.clone(),
        };
        match transport.request(request).await {
            Ok(_) => {
                let (list_folder, rows) = search::listed_all(ui, &folder, &uids);
                ui.list.update(|l| {
                    l.take(&list_folder, &rows);
                });
                conversations::removed(ui, &folder, &uids);
                conversations::refresh(ui, transport.clone());
                ui.selected.update(|s| s.retain(|row| !rows.contains(row)));
                let open = ui.reader.with_untracked(Reader::current);
                if open.is_some_and(|(f, uid)| f == folder && uids.contains(&uid)) {
                    ui.reader.set(Reader::default());
                    if ui.pane.get_untracked() == Pane::Reader {
                        ui.pane.set(Pane::Messages);
                    }
                }
                refresh_counts(ui, transport).await;
            }
            Err(error) => ui.problem.set(Some(error.message())),
        }
    });
}

/// Creates, renames, deletes or (un)subscribes a folder, then shows the new folder
/// list. The open folder, if it was renamed or deleted, is followed or left.
pub fn change_folders(ui: Ui, transport: Transport, request: Request) {
    let open = ui.list.with_untracked(|l| l.folder.clone());
    let (renamed, deleted) = match &request {
        Request::RenameFolder {
            folder,
            name,
            parent,
        } => (Some((folder.clone(), name.clone(), parent.clone())), None),
        Request::DeleteFolder { folder } => (None, Some(folder.clone())),
        _ => (None, None),
    };
    spawn_local(async move {
        match transport.request(request).await {
            Ok(Reply::Folders { folders }) => {
                ui.folders.update(|f| f.loaded(folders));
                let follow = match (renamed, deleted) {
                    (Some((old, name, parent)), _) if open.as_ref() == Some(&old) => {
                        ui.folders.with_untracked(|f| {
                            f.folders
                                .iter()
                                .find(|f| f.name == name && f.parent == parent)
                                .or_else(|| f.folders.iter().find(|f| f.name == name))
                                .map(|f| f.id.clone())
                        })
                    }
                    (_, Some(gone)) if open.as_ref() == Some(&gone) => ui
                        .folders
                        .with_untracked(|f| f.default_folder().map(|f| f.id.clone())),
                    _ => None,
                };
                if let Some(id) = follow {
                    open_folder(ui, transport, id);
                }
            }
            Ok(_) => {}
            Err(error) => ui.problem.set(Some(error.message())),
        }
    });
}

/// Asks for the folder list again, which makes a POP3 bridge look for new mail;
/// new messages then arrive as events.
pub fn look_for_mail(ui: Ui, transport: Transport) {
    spawn_local(refresh_counts(ui, transport));
}

/// Reloads the folder list for its counts, keeping the selection.
async fn refresh_counts(ui: Ui, transport: Transport) {
    if let Ok(Reply::Folders { folders }) = transport.request(Request::ListFolders).await {
        ui.folders.update(|f| f.loaded(folders));
    }
}
