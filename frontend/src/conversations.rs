//! Conversations: the list grouped by `References`, and the conversation open in
//! the reading pane.
//!
//! While the person's "Conversations" setting is on, a folder's list shows one
//! row per conversation, under the UID of its newest message (unique in the
//! folder); [`Grouped`] knows which messages each row stands for. Opening a row
//! asks the bridge for the whole exchange, the person's own replies from Sent
//! included, and shows it as an [`Open`] conversation: earlier messages folded
//! to a line, the unread ones and the newest unfolded.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{Conversation, Flag, Hit, MessageHeader, MessageView, Reply, Request, Sort};

use crate::app::Ui;
use crate::settings;
use crate::state::{Pane, Reader, WINDOW};
use crate::transport::Transport;

/// The conversations the list shows: each row's key (its newest UID) and the
/// messages of the folder it stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouped {
    pub folder: String,
    rows: HashMap<u32, (Vec<u32>, u32)>,
    /// The first window is being asked for again (the folder changed), and
    /// whether it changed again meanwhile.
    reloading: bool,
    again: bool,
}

impl Grouped {
    fn new(folder: &str) -> Self {
        Grouped {
            folder: folder.to_owned(),
            ..Grouped::default()
        }
    }

    /// Conversations as list rows: the newest message's header, with the
    /// conversation's participants as its senders and its unread and flagged
    /// state as its flags.
    fn rows(&mut self, conversations: Vec<Conversation>) -> Vec<MessageHeader> {
        conversations
            .into_iter()
            .map(|c| {
                let mut row = c.newest;
                self.rows.insert(row.uid, (c.uids, c.count));
                row.from = c.participants;
                row.flags
                    .retain(|f| !matches!(f, Flag::Seen | Flag::Flagged));
                if c.unread == 0 {
                    row.flags.push(Flag::Seen);
                }
                if c.flagged {
                    row.flags.push(Flag::Flagged);
                }
                row
            })
            .collect()
    }

    /// The messages the row under `key` stands for (the message itself, for a
    /// key of no row).
    pub fn uids(&self, key: u32) -> Vec<u32> {
        self.rows
            .get(&key)
            .map_or_else(|| vec![key], |(uids, _)| uids.clone())
    }

    /// How many messages the row under `key` stands for.
    pub fn count(&self, key: u32) -> u32 {
        self.rows.get(&key).map_or(1, |(_, count)| *count)
    }
}

/// One message of the open conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub folder: String,
    pub header: MessageHeader,
    /// Unfolded: its body shows.
    pub open: bool,
    pub view: Option<MessageView>,
    pub error: Option<String>,
}

impl Entry {
    pub fn is(&self, folder: &str, uid: u32) -> bool {
        self.folder == folder && self.header.uid == uid
    }
}

/// The conversation in the reading pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Open {
    /// The folder it was opened from, and its row's key there.
    pub folder: String,
    pub key: u32,
    pub entries: Vec<Entry>,
    /// Its earlier messages left out (a long conversation shows its newest).
    pub earlier: u32,
    pub loading: bool,
    pub error: Option<String>,
}

impl Open {
    /// Its message `uid` of `folder`.
    fn entry(&mut self, folder: &str, uid: u32) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.is(folder, uid))
    }

    /// Its messages in the folder it was opened from.
    pub fn uids(&self) -> Vec<u32> {
        self.entries
            .iter()
            .filter(|e| e.folder == self.folder)
            .map(|e| e.header.uid)
            .collect()
    }

    /// Its newest message in the folder it was opened from: the one a reply
    /// answers.
    pub fn newest(&self) -> Option<(String, u32)> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.folder == self.folder)
            .map(|e| (e.folder.clone(), e.header.uid))
    }

    pub fn subject(&self) -> String {
        let subject = self
            .entries
            .iter()
            .rev()
            .find(|e| e.folder == self.folder)
            .or(self.entries.last())
            .map(|e| e.header.subject.clone())
            .unwrap_or_default();
        if subject.is_empty() {
            "(no subject)".to_owned()
        } else {
            subject
        }
    }
}

/// Whether the list shows conversations.
pub fn active(ui: Ui) -> bool {
    ui.threads.with_untracked(Option::is_some)
}

/// Whether the person chose to see conversations (and the account can group).
pub fn chosen(ui: Ui) -> bool {
    !ui.pop3()
        && ui
            .session
            .with_untracked(|s| s.as_ref().is_some_and(|s| s.preferences.conversations))
}

/// Turns the "Conversations" setting on or off, keeps it in the bridge for all
/// of the person's browsers, and lists the open folder again.
pub fn set_chosen(ui: Ui, transport: Transport, on: bool) {
    let mut preferences = None;
    ui.session.update(|s| {
        if let Some(s) = s {
            s.preferences.conversations = on;
            preferences = Some(s.preferences.clone());
        }
    });
    let Some(preferences) = preferences else {
        return;
    };
    if let Some(folder) = ui.list.with_untracked(|l| l.folder.clone())
        && !crate::search::active(ui)
    {
        ui.selected.set(Vec::new());
        crate::app::relist(ui, transport.clone(), folder);
    }
    spawn_local(async move {
        if let Err(error) = transport
            .request(Request::SavePreferences { preferences })
            .await
        {
            ui.problem.set(Some(error.message()));
        }
    });
}

/// Lists `folder`'s first conversations, newest first. The folder is opened
/// first (with a window of one), so that the bridge follows it: its news come
/// as events, and regroup the list.
pub fn list(ui: Ui, transport: Transport, folder: String) {
    ui.threads.set(Some(Grouped::new(&folder)));
    ui.list.update(|l| l.opening(&folder, Sort::default()));
    spawn_local(async move {
        let request = Request::OpenFolder {
            folder: folder.clone(),
            limit: 1,
            sort: Sort::default(),
        };
        if let Ok(Reply::FolderOpened {
            total,
            unread,
            labels,
            new_labels,
            ..
        }) = transport.request(request).await
        {
            ui.folders
                .update(|f| f.update_counts(&folder, total, unread));
            ui.list.update(|l| {
                if l.folder.as_deref() == Some(&folder) {
                    (l.unread, l.labels, l.new_labels) = (unread, labels, new_labels);
                }
            });
        }
        load(ui, transport, folder, 0, WINDOW);
    });
}

/// The list shows messages again, not conversations.
pub fn leave(ui: Ui) {
    ui.threads.set(None);
    ui.conversation.set(None);
}

/// Fetches the window of conversations from position `offset` (the list asks
/// as it scrolls).
pub fn load_window(ui: Ui, transport: Transport, offset: u32) {
    let Some(folder) = ui
        .threads
        .with_untracked(|g| g.as_ref().map(|g| g.folder.clone()))
    else {
        return;
    };
    ui.list.update(|l| l.fetching = Some(offset));
    load(ui, transport, folder, offset, protocol::MAX_WINDOW);
}

fn load(ui: Ui, transport: Transport, folder: String, offset: u32, limit: u32) {
    spawn_local(async move {
        let request = Request::ListConversations {
            folder: folder.clone(),
            offset,
            limit,
        };
        let (answer, error) = match transport.request(request).await {
            Ok(Reply::Conversations {
                total,
                conversations,
                ..
            }) => (Some((total, conversations)), None),
            Ok(_) => (None, None),
            Err(error) => (None, Some(error.message())),
        };
        let mut again = false;
        let mut rows = None;
        let mut ours = false;
        ui.threads.update(|g| {
            let Some(g) = g.as_mut().filter(|g| g.folder == folder) else {
                return;
            };
            ours = true;
            if offset == 0 {
                g.reloading = false;
                again = std::mem::take(&mut g.again);
                // The list keeps only this window: rows from before go.
                g.rows.clear();
            }
            if let Some((total, conversations)) = answer {
                rows = Some((total, g.rows(conversations)));
            }
        });
        if !ours {
            return;
        }
        match (error, rows) {
            (Some(message), _) => ui
                .list
                .update(|l| l.failed(&folder, Sort::default(), message)),
            (None, Some((total, rows))) if offset == 0 => ui.list.update(|l| {
                l.replace(&folder, 0, total, rows);
            }),
            (None, Some((total, rows))) => ui.list.update(|l| {
                l.apply(Reply::Messages {
                    folder: folder.clone(),
                    total,
                    offset,
                    messages: rows,
                    sort: Sort::default(),
                });
            }),
            (None, None) => {}
        }
        if again {
            regroup(ui, transport);
        }
    });
}

/// Lists the conversations again from the top, where the list shows them (after
/// a move or delete of this session's).
pub fn refresh(ui: Ui, transport: Transport) {
    if active(ui) {
        regroup(ui, transport);
    }
}

/// Asks for the first window again: messages arrived or left, and replies
/// join their conversations (which then lead the list). One request at a time.
fn regroup(ui: Ui, transport: Transport) {
    let mut folder = None;
    ui.threads.update(|g| {
        if let Some(g) = g.as_mut() {
            if g.reloading {
                g.again = true;
            } else {
                g.reloading = true;
                folder = Some(g.folder.clone());
            }
        }
    });
    if let Some(folder) = folder {
        load(ui, transport, folder, 0, WINDOW);
    }
}

/// Takes in a change the bridge reported in `folder`: rows follow flags of
/// their newest messages, and the grouping is asked for again when messages
/// came or went, or a flag of an older message changed.
pub fn changed(
    ui: Ui,
    transport: Transport,
    folder: &str,
    added: bool,
    flags: &[protocol::MessageFlags],
    removed: &[u32],
) {
    let Some((listed, keys_only)) = ui.threads.with_untracked(|g| {
        g.as_ref().map(|g| {
            (
                g.folder == folder,
                flags.iter().all(|f| g.rows.contains_key(&f.uid)),
            )
        })
    }) else {
        return;
    };
    entries_flags(ui, folder, flags);
    if !listed {
        return;
    }
    if added || !removed.is_empty() || !keys_only {
        regroup(ui, transport);
    } else if !flags.is_empty() {
        ui.list.update(|l| {
            l.set_flags(folder, flags);
        });
    }
}

/// Flags the server reported into the open conversation's messages.
pub fn entries_flags(ui: Ui, folder: &str, flags: &[protocol::MessageFlags]) {
    if flags.is_empty() || ui.conversation.with_untracked(Option::is_none) {
        return;
    }
    ui.conversation.update(|c| {
        let Some(c) = c else {
            return;
        };
        for change in flags {
            if let Some(entry) = c.entry(folder, change.uid) {
                entry.header.flags.clone_from(&change.flags);
                if let Some(view) = entry.view.as_mut() {
                    view.flags.clone_from(&change.flags);
                }
            }
        }
    });
}

/// The messages the rows under `keys` stand for.
pub fn expand(ui: Ui, keys: &[u32]) -> Vec<u32> {
    ui.threads.with_untracked(|g| match g {
        Some(g) => keys.iter().flat_map(|k| g.uids(*k)).collect(),
        None => keys.to_vec(),
    })
}

/// The rows whose messages are all among `uids` (what a move takes away whole).
pub fn whole_rows(ui: Ui, uids: &[u32]) -> Vec<u32> {
    ui.threads.with_untracked(|g| {
        g.as_ref().map_or_else(Vec::new, |g| {
            g.rows
                .iter()
                .filter(|(_, (members, _))| members.iter().all(|m| uids.contains(m)))
                .map(|(key, _)| *key)
                .collect()
        })
    })
}

/// How many messages the row under `key` stands for (1 outside conversations).
pub fn count(ui: Ui, key: u32) -> u32 {
    ui.threads
        .with_untracked(|g| g.as_ref().map_or(1, |g| g.count(key)))
}

/// Opens the conversation of the row under `key` in the reading pane.
pub fn open(ui: Ui, transport: Transport, folder: String, key: u32) {
    let uids = expand(ui, &[key]);
    ui.reader.set(Reader::default());
    ui.conversation.set(Some(Open {
        folder: folder.clone(),
        key,
        loading: true,
        ..Open::default()
    }));
    ui.pane.set(Pane::Reader);
    spawn_local(async move {
        let answer = transport
            .request(Request::OpenConversation {
                folder: folder.clone(),
                uids,
            })
            .await;
        let still = ui.conversation.with_untracked(|c| {
            c.as_ref()
                .is_some_and(|c| c.folder == folder && c.key == key)
        });
        if !still {
            return;
        }
        match answer {
            Ok(Reply::ConversationOpened {
                messages, earlier, ..
            }) => {
                let unfolded = unfolded(&messages);
                let entries = messages
                    .into_iter()
                    .zip(&unfolded)
                    .map(|(hit, open)| Entry {
                        folder: hit.folder,
                        header: hit.message,
                        open: *open,
                        view: None,
                        error: None,
                    })
                    .collect::<Vec<_>>();
                let opening: Vec<(String, u32)> = entries
                    .iter()
                    .filter(|e| e.open)
                    .map(|e| (e.folder.clone(), e.header.uid))
                    .collect();
                ui.conversation.update(|c| {
                    if let Some(c) = c {
                        c.entries = entries;
                        c.earlier = earlier;
                        c.loading = false;
                    }
                });
                for (folder, uid) in opening {
                    read(ui, transport.clone(), folder, uid);
                }
            }
            Ok(_) => {}
            Err(error) => ui.conversation.update(|c| {
                if let Some(c) = c {
                    c.loading = false;
                    c.error = Some(error.message());
                }
            }),
        }
    });
}

/// Which messages show unfolded: the unread ones and the newest.
fn unfolded(messages: &[Hit]) -> Vec<bool> {
    let last = messages.len().saturating_sub(1);
    messages
        .iter()
        .enumerate()
        .map(|(at, hit)| at == last || hit.message.is_unread())
        .collect()
}

/// Folds or unfolds one message of the open conversation, reading it the first
/// time it unfolds.
pub fn toggle(ui: Ui, transport: Transport, folder: String, uid: u32) {
    let mut needs_reading = false;
    ui.conversation.update(|c| {
        if let Some(entry) = c.as_mut().and_then(|c| c.entry(&folder, uid)) {
            entry.open = !entry.open;
            needs_reading = entry.open && entry.view.is_none();
        }
    });
    if needs_reading {
        read(ui, transport, folder, uid);
    }
}

/// Reads one message of the open conversation (marking it read, as the
/// person's setting says).
fn read(ui: Ui, transport: Transport, folder: String, uid: u32) {
    let sender = ui.conversation.with_untracked(|c| {
        c.as_ref()
            .and_then(|c| c.entries.iter().find(|e| e.is(&folder, uid)))
            .and_then(|e| e.header.from.first().map(|a| a.email.clone()))
    });
    let remote_content = sender.is_some_and(|s| settings::remote_allowed(&s));
    spawn_local(async move {
        let request = Request::OpenMessage {
            folder: folder.clone(),
            uid,
            part: None,
            mark_seen: settings::mark_seen(),
            remote_content,
        };
        let answer = transport.request(request).await;
        let mut flags = None;
        ui.conversation.update(|c| {
            let Some(entry) = c.as_mut().and_then(|c| c.entry(&folder, uid)) else {
                return;
            };
            match answer {
                Ok(Reply::MessageOpened { message, .. }) => {
                    entry.header.flags.clone_from(&message.flags);
                    flags = Some(message.flags.clone());
                    entry.view = Some(*message);
                    entry.error = None;
                }
                Ok(_) => {}
                Err(error) => entry.error = Some(error.message()),
            }
        });
        if let Some(flags) = flags {
            crate::app::flags_changed(ui, &folder, &[protocol::MessageFlags { uid, flags }]);
            seen_row(ui);
        }
    });
}

/// The open conversation's row shows read once every message of it is.
fn seen_row(ui: Ui) {
    let Some((folder, key, all_read)) = ui.conversation.with_untracked(|c| {
        c.as_ref().map(|c| {
            let all_read = c
                .entries
                .iter()
                .filter(|e| e.folder == c.folder)
                .all(|e| !e.header.is_unread());
            (c.folder.clone(), c.key, all_read)
        })
    }) else {
        return;
    };
    if !all_read {
        return;
    }
    ui.list.update(|l| {
        let flags = l
            .messages
            .iter()
            .find(|m| m.uid == key)
            .filter(|m| m.is_unread())
            .map(|m| {
                let mut flags = m.flags.clone();
                flags.push(Flag::Seen);
                flags
            });
        if let Some(flags) = flags {
            l.set_flags(&folder, &[protocol::MessageFlags { uid: key, flags }]);
        }
    });
}

/// Shows another part of a message of the open conversation, or the same with
/// remote content.
pub fn show_part(
    ui: Ui,
    transport: Transport,
    folder: String,
    uid: u32,
    part: String,
    remote_content: bool,
) {
    spawn_local(async move {
        let request = Request::ShowPart {
            folder: folder.clone(),
            uid,
            part,
            remote_content,
        };
        let answer = transport.request(request).await;
        ui.conversation.update(|c| {
            let Some(entry) = c.as_mut().and_then(|c| c.entry(&folder, uid)) else {
                return;
            };
            match answer {
                Ok(Reply::PartShown { body, .. }) => {
                    if let Some(view) = entry.view.as_mut() {
                        view.body = Some(body);
                    }
                }
                Ok(_) => {}
                Err(error) => entry.error = Some(error.message()),
            }
        });
    });
}

/// Messages left their folder (moved, deleted): they leave the open
/// conversation, which closes once none of the folder it was opened from is left.
pub fn removed(ui: Ui, folder: &str, uids: &[u32]) {
    let mut closes = false;
    ui.conversation.update(|c| {
        if let Some(open) = c {
            open.entries
                .retain(|e| !(e.folder == folder && uids.contains(&e.header.uid)));
            closes = !open.loading && open.uids().is_empty();
        }
    });
    if closes {
        ui.conversation.set(None);
        if ui.pane.get_untracked() == Pane::Reader {
            ui.pane.set(Pane::Messages);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(uid: u32, flags: Vec<Flag>) -> MessageHeader {
        MessageHeader {
            uid,
            from: vec![],
            to: vec![],
            subject: String::new(),
            date: 0,
            flags,
            size: 0,
            has_attachments: false,
        }
    }

    #[test]
    fn rows_stand_for_their_conversations() {
        let mut grouped = Grouped::new("INBOX");
        let rows = grouped.rows(vec![Conversation {
            uids: vec![2, 5, 9],
            count: 3,
            unread: 1,
            flagged: true,
            participants: vec![protocol::Address {
                name: Some("Bob".into()),
                email: "bob@example.org".into(),
            }],
            newest: header(9, vec![Flag::Seen, Flag::Answered]),
        }]);
        assert_eq!(rows[0].uid, 9);
        assert!(rows[0].is_unread() && rows[0].is_flagged());
        assert!(rows[0].flags.contains(&Flag::Answered));
        assert_eq!(rows[0].from[0].email, "bob@example.org");
        assert_eq!(grouped.uids(9), [2, 5, 9]);
        assert_eq!(grouped.count(9), 3);
        assert_eq!(grouped.uids(4), [4]);
    }

    #[test]
    fn unread_messages_and_the_newest_unfold() {
        let hit = |uid, flags| Hit {
            folder: "INBOX".into(),
            message: header(uid, flags),
        };
        let messages = [
            hit(1, vec![Flag::Seen]),
            hit(2, vec![]),
            hit(3, vec![Flag::Seen]),
            hit(4, vec![Flag::Seen]),
        ];
        assert_eq!(unfolded(&messages), [false, true, false, true]);
    }
}
