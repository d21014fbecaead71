//! Searching: the query's state, and the actions that run it.
//!
//! Hits show in the same virtual list as a folder. Hits of several folders may
//! share a UID, so while a search is shown the list holds each hit under a key of
//! its own (its place in [`Searching`], from 1); the reader, the requests and the
//! bridge's events speak of real folders and UIDs, and [`real`] and [`listed`]
//! translate between the two where they meet.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{Hit, MessageHeader, Reply, Request, Sort};

use crate::app::Ui;
use crate::state::{MessageList, WINDOW};
use crate::transport::Transport;

/// What the list's `folder` is while it shows a search's hits: no folder has
/// this id (a control character cannot be in a folder name).
pub const SEARCH_LIST: &str = "\u{1}search";

/// A search the person ran, and how far the bridge has got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Searching {
    /// Which of the person's searches this is, to tell late answers apart.
    pub asked: u32,
    /// The bridge's id for it, once it answered.
    pub id: Option<u32>,
    pub query: String,
    /// The folder in view when it began, to go back to.
    pub from_folder: String,
    pub searched: u32,
    pub of: u32,
    pub done: bool,
    pub total: u32,
    /// Messages whose bodies could not be searched (POP3: not yet retrieved).
    pub bodies_unsearched: u32,
    /// `places[key - 1]` is the hit listed under `key`.
    places: Vec<(String, u32)>,
    keys: HashMap<(String, u32), u32>,
}

impl Searching {
    pub fn new(query: &str, from_folder: &str) -> Self {
        static ASKED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        Searching {
            asked: ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            query: query.to_owned(),
            from_folder: from_folder.to_owned(),
            ..Searching::default()
        }
    }

    /// The key a hit is listed under, the same each time it is listed.
    fn key(&mut self, folder: &str, uid: u32) -> u32 {
        if let Some(key) = self.keys.get(&(folder.to_owned(), uid)) {
            return *key;
        }
        self.places.push((folder.to_owned(), uid));
        let key = self.places.len() as u32;
        self.keys.insert((folder.to_owned(), uid), key);
        key
    }

    /// The hit listed under `key`.
    pub fn place(&self, key: u32) -> Option<(&str, u32)> {
        let (folder, uid) = self.places.get(key.checked_sub(1)? as usize)?;
        Some((folder.as_str(), *uid))
    }

    /// The key of a hit, if it was listed.
    pub fn key_of(&self, folder: &str, uid: u32) -> Option<u32> {
        self.keys.get(&(folder.to_owned(), uid)).copied()
    }

    /// Hits as list rows, each under its key.
    pub fn rows(&mut self, hits: Vec<Hit>) -> Vec<MessageHeader> {
        hits.into_iter()
            .map(|hit| {
                let mut row = hit.message;
                row.uid = self.key(&hit.folder, row.uid);
                row
            })
            .collect()
    }

    /// Whether hits come from more than one folder.
    pub fn many_folders(&self) -> bool {
        self.of > 1
    }

    /// What a search could not look in: the bodies of messages not retrieved yet
    /// (POP3), which only their headers were searched for.
    pub fn unsearched(&self) -> Option<String> {
        match self.bodies_unsearched {
            0 => None,
            1 => Some(
                "1 message's body was not searched (only its headers): it has not been opened yet."
                    .to_owned(),
            ),
            n => Some(format!(
                "{n} messages' bodies were not searched (only their headers): they have not been opened yet."
            )),
        }
    }

    /// "Searched 3 of 12 folders", while there are folders left.
    pub fn progress(&self) -> Option<String> {
        (!self.done && self.of > 1)
            .then(|| format!("Searched {} of {} folders", self.searched, self.of))
    }
}

/// The real folder and UID of a message the list shows in `list_folder` under
/// `uid` (the same outside a search).
pub fn real(ui: Ui, list_folder: &str, uid: u32) -> Option<(String, u32)> {
    if list_folder != SEARCH_LIST {
        return Some((list_folder.to_owned(), uid));
    }
    ui.search.with_untracked(|s| {
        s.as_ref()
            .and_then(|s| s.place(uid))
            .map(|(f, u)| (f.to_owned(), u))
    })
}

/// Where the list shows message `uid` of `folder`: the list's folder and the
/// row's key, if it is listed there.
pub fn listed(ui: Ui, folder: &str, uid: u32) -> Option<(String, u32)> {
    let list_folder = ui.list.with_untracked(|l| l.folder.clone())?;
    if list_folder != SEARCH_LIST {
        return (list_folder == folder).then_some((list_folder, uid));
    }
    let key = ui
        .search
        .with_untracked(|s| s.as_ref().and_then(|s| s.key_of(folder, uid)))?;
    Some((list_folder, key))
}

/// [`listed`] for several messages of one folder: the list's folder and the keys
/// of those listed.
pub fn listed_all(ui: Ui, folder: &str, uids: &[u32]) -> (String, Vec<u32>) {
    let list_folder = ui
        .list
        .with_untracked(|l| l.folder.clone())
        .unwrap_or_default();
    let keys = uids
        .iter()
        .filter_map(|uid| listed(ui, folder, *uid).map(|(_, key)| key))
        .collect();
    (list_folder, keys)
}

/// Whether the list shows a search.
pub fn active(ui: Ui) -> bool {
    ui.search.with_untracked(Option::is_some)
}

/// Runs a search typed by the person (already checked to parse) and lists its
/// first hits; a search running before ends.
pub fn start(ui: Ui, transport: Transport, query: String) {
    let current = ui.list.with_untracked(|l| l.folder.clone());
    let from_folder = match current.as_deref() {
        Some(SEARCH_LIST) | None => ui
            .search
            .with_untracked(|s| s.as_ref().map(|s| s.from_folder.clone()))
            .or_else(|| ui.folders.with_untracked(|f| f.selected.clone()))
            .unwrap_or_else(|| "INBOX".to_owned()),
        Some(folder) => folder.to_owned(),
    };
    let searching = Searching::new(&query, &from_folder);
    let asked = searching.asked;
    ui.search.set(Some(searching));
    ui.selected.set(Vec::new());
    ui.list.update(|l| l.opening(SEARCH_LIST, Sort::default()));
    spawn_local(async move {
        let request = Request::Search {
            query,
            folder: from_folder,
            limit: WINDOW,
        };
        let answer = transport.request(request).await;
        // The person may have searched again, or left, meanwhile.
        if ui
            .search
            .with_untracked(|s| s.as_ref().is_none_or(|s| s.asked != asked))
        {
            if let Ok(Reply::Hits { search, .. }) = answer {
                let _ = transport
                    .request(Request::StopSearch {
                        search,
                        forget: true,
                    })
                    .await;
            }
            return;
        }
        match answer {
            Ok(reply) => take_hits(ui, reply, true),
            Err(error) => ui
                .list
                .update(|l| l.failed(SEARCH_LIST, Sort::default(), error.message())),
        }
    });
}

/// Takes a window of hits into the search's state and the list; `first`: the
/// search's first answer.
fn take_hits(ui: Ui, reply: Reply, first: bool) {
    let Reply::Hits {
        search,
        total,
        offset,
        hits,
        searched,
        of,
        done,
        bodies_unsearched,
    } = reply
    else {
        return;
    };
    let mut rows = Vec::new();
    let mut ours = false;
    ui.search.update(|s| {
        let Some(s) = s.as_mut() else {
            return;
        };
        if first {
            s.id = Some(search);
        }
        if s.id != Some(search) {
            return;
        }
        ours = true;
        s.total = total;
        s.bodies_unsearched = bodies_unsearched;
        // Progress only moves on (an event may have told more already).
        if searched >= s.searched {
            (s.searched, s.of, s.done) = (searched, of, done || s.done);
        }
        rows = s.rows(hits);
    });
    if !ours {
        return;
    }
    ui.list.update(|l| {
        if first {
            l.apply(Reply::FolderOpened {
                folder: SEARCH_LIST.to_owned(),
                uid_validity: 0,
                total,
                unread: 0,
                offset: 0,
                messages: rows,
                labels: Vec::new(),
                new_labels: false,
                sort: Sort::default(),
            });
        } else {
            l.replace(SEARCH_LIST, offset, total, rows);
        }
    });
}

/// Fetches the window of hits from position `offset` (the list asks as it
/// scrolls, and again when the hits changed).
pub fn load_hits(ui: Ui, transport: Transport, offset: u32) {
    let Some(search) = ui.search.with_untracked(|s| s.as_ref().and_then(|s| s.id)) else {
        return;
    };
    ui.list.update(|l| l.fetching = Some(offset));
    spawn_local(async move {
        let request = Request::ListHits {
            search,
            offset,
            limit: protocol::MAX_WINDOW,
        };
        match transport.request(request).await {
            Ok(reply) => take_hits(ui, reply, false),
            Err(error) => ui
                .list
                .update(|l| l.failed(SEARCH_LIST, Sort::default(), error.message())),
        }
    });
}

/// The bridge searched another folder, or hits changed: the progress moves on,
/// and the window in view is listed again if the hits may have moved.
pub fn updated(
    ui: Ui,
    transport: Transport,
    search: u32,
    total: u32,
    searched: u32,
    of: u32,
    done: bool,
) {
    let mut again = false;
    ui.search.update(|s| {
        let Some(s) = s.as_mut().filter(|s| s.id == Some(search)) else {
            return;
        };
        // A folder with no hits moves only the progress; a change the bridge saw
        // in a searched folder (same progress) may have changed any hit.
        again = total != s.total || searched == s.searched;
        // Once stopped or finished it stays done: an event sent before the stop
        // reached the bridge must not bring the progress back.
        (s.total, s.searched, s.of, s.done) = (total, searched.max(s.searched), of, done || s.done);
    });
    if again {
        let start = ui.list.with_untracked(|l| l.start);
        load_hits(ui, transport, start);
    }
}

/// Stops searching further folders; the hits so far stay.
pub fn stop(ui: Ui, transport: Transport) {
    let Some(search) = ui.search.with_untracked(|s| s.as_ref().and_then(|s| s.id)) else {
        return;
    };
    ui.search.update(|s| {
        if let Some(s) = s.as_mut() {
            s.done = true;
        }
    });
    spawn_local(async move {
        let _ = transport
            .request(Request::StopSearch {
                search,
                forget: false,
            })
            .await;
    });
}

/// Ends the search (the bridge lets its hits go); returns the folder it began in.
pub fn end(ui: Ui, transport: Transport) -> Option<String> {
    let searching = ui.search.try_update(Option::take).flatten()?;
    if let Some(search) = searching.id {
        spawn_local(async move {
            let _ = transport
                .request(Request::StopSearch {
                    search,
                    forget: true,
                })
                .await;
        });
    }
    Some(searching.from_folder)
}

/// Takes hits out of the list that left their folder (moved, deleted), or that the
/// server reports gone.
pub fn removed(ui: Ui, folder: &str, uids: &[u32]) {
    let (list_folder, keys) = listed_all(ui, folder, uids);
    if list_folder == SEARCH_LIST && !keys.is_empty() {
        ui.list.update(|l: &mut MessageList| {
            l.take(SEARCH_LIST, &keys);
        });
        ui.selected.update(|s| s.retain(|k| !keys.contains(k)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(folder: &str, uid: u32) -> Hit {
        Hit {
            folder: folder.to_owned(),
            message: MessageHeader {
                uid,
                from: vec![],
                to: vec![],
                subject: String::new(),
                date: 0,
                flags: vec![],
                size: 0,
                has_attachments: false,
            },
        }
    }

    #[test]
    fn hits_of_folders_sharing_uids_get_keys_of_their_own() {
        let mut search = Searching::new("invoice", "INBOX");
        let rows = search.rows(vec![hit("INBOX", 3), hit("Archive", 3)]);
        assert_eq!(rows.iter().map(|r| r.uid).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(search.place(2), Some(("Archive", 3)));
        assert_eq!(search.place(0), None);
        assert_eq!(search.place(3), None);
        // Listed again, a hit keeps its key.
        let again = search.rows(vec![hit("Archive", 3)]);
        assert_eq!(again[0].uid, 2);
        assert_eq!(search.key_of("INBOX", 3), Some(1));
        assert_eq!(search.key_of("INBOX", 4), None);
    }

    #[test]
    fn progress_shows_while_folders_are_left() {
        let mut search = Searching::new("x in:all", "INBOX");
        (search.searched, search.of) = (3, 12);
        assert_eq!(
            search.progress().as_deref(),
            Some("Searched 3 of 12 folders")
        );
        search.done = true;
        assert_eq!(search.progress(), None);
    }
}
