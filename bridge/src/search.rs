//! A session's running search: which folders it covers, what each one answered,
//! and the hits of all of them as one list, newest first, served in windows.
//!
//! The session searches one folder at a time between requests, so a person can
//! open a hit, or stop, while the rest are searched. A folder that changed after
//! it was searched (news, a count that moved, a change the session made) is
//! searched again, and its hits replace the ones it had.
//!
//! Within one folder, newest first is highest UID first, as a folder lists by
//! arrival; across folders, hits are merged by arrival time.

use std::collections::BTreeSet;

use protocol::search::{Query, Scope};
use protocol::{Folder, FolderRole};

use crate::mail::{Found, MailError};

/// One search's state.
pub struct Search {
    pub id: u32,
    pub query: Query,
    /// The folders it covers, in the order they are searched.
    pub folders: Vec<String>,
    /// What each folder answered, once searched.
    found: Vec<Option<Found>>,
    /// Every hit as (folder index, UID), newest first.
    order: Vec<(u16, u32)>,
    /// How many folders are searched, of `folders`, in order.
    next: usize,
    stopped: bool,
    /// Searched folders to search again.
    stale: BTreeSet<u16>,
    /// The folder whose search last broke the connection.
    broke_at: Option<usize>,
}

/// The most folders one search covers.
pub const MAX_FOLDERS: usize = 1000;

impl Search {
    pub fn new(id: u32, query: Query, mut folders: Vec<String>) -> Self {
        folders.truncate(MAX_FOLDERS);
        Search {
            id,
            query,
            found: vec![None; folders.len()],
            folders,
            order: Vec::new(),
            next: 0,
            stopped: false,
            stale: BTreeSet::new(),
            broke_at: None,
        }
    }

    /// Whether hits are merged by arrival time (the search covers several folders).
    pub fn dated(&self) -> bool {
        self.folders.len() > 1
    }

    /// The next folder to search: a stale one first, then the next new one.
    pub fn pending(&self) -> Option<usize> {
        if let Some(&stale) = self.stale.first() {
            return Some(usize::from(stale));
        }
        (!self.stopped && self.next < self.folders.len()).then_some(self.next)
    }

    /// Whether every folder that will be searched was.
    pub fn done(&self) -> bool {
        self.stopped || self.next >= self.folders.len()
    }

    /// Notes that searching folder `at` broke the connection; true the first time
    /// (search it again once reconnected), false when it did so before.
    pub fn broke(&mut self, at: usize) -> bool {
        self.broke_at.replace(at) != Some(at)
    }

    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Folders searched so far.
    pub fn searched(&self) -> u32 {
        u32::try_from(self.next).unwrap_or(u32::MAX)
    }

    pub fn of(&self) -> u32 {
        u32::try_from(self.folders.len()).unwrap_or(u32::MAX)
    }

    pub fn total(&self) -> u32 {
        u32::try_from(self.order.len()).unwrap_or(u32::MAX)
    }

    /// Takes what folder `at` answered (`None`: it could not be searched).
    pub fn record(&mut self, at: usize, found: Option<Found>) {
        let Some(slot) = self.found.get_mut(at) else {
            return;
        };
        *slot = found;
        if let Ok(index) = u16::try_from(at) {
            self.stale.remove(&index);
        }
        if at == self.next {
            self.next += 1;
        }
        self.merge();
    }

    /// How many messages of the folders searched had bodies that could not be
    /// searched.
    pub fn bodies_unsearched(&self) -> u32 {
        self.found
            .iter()
            .flatten()
            .map(|f| f.bodies_unsearched)
            .sum()
    }

    /// Marks `folder` to be searched again, if it was searched.
    pub fn touch(&mut self, folder: &str) {
        if let Some(at) = self.folders.iter().position(|f| f == folder)
            && at < self.next
            && let Ok(index) = u16::try_from(at)
        {
            self.stale.insert(index);
        }
    }

    /// The hits of the window that skips `offset` and holds up to `limit`, as
    /// (folder index, UID).
    pub fn window(&self, offset: u32, limit: u32) -> &[(u16, u32)] {
        let start = (offset as usize).min(self.order.len());
        let end = start.saturating_add(limit as usize).min(self.order.len());
        &self.order[start..end]
    }

    /// The UID validity folder `at` had when searched.
    pub fn uid_validity(&self, at: u16) -> u32 {
        self.found
            .get(usize::from(at))
            .and_then(Option::as_ref)
            .map_or(0, |f| f.uid_validity)
    }

    /// Takes a hit out (it was moved or deleted, or is gone).
    pub fn forget(&mut self, folder: u16, uid: u32) {
        self.order.retain(|hit| *hit != (folder, uid));
        if let Some(Some(found)) = self.found.get_mut(usize::from(folder))
            && let Ok(at) = found.uids.binary_search(&uid)
        {
            found.uids.remove(at);
            if let Some(dates) = &mut found.dates {
                dates.remove(at);
            }
        }
    }

    fn merge(&mut self) {
        let dated = self.dated();
        let mut hits: Vec<(i64, u16, u32)> = Vec::new();
        for (at, found) in self.found.iter().enumerate() {
            let (Some(found), Ok(at)) = (found, u16::try_from(at)) else {
                continue;
            };
            let dates = found.dates.as_deref().filter(|_| dated);
            for (i, uid) in found.uids.iter().enumerate() {
                let date = dates.and_then(|d| d.get(i).copied()).unwrap_or(0);
                hits.push((date, at, *uid));
            }
        }
        // Newest first: latest arrival, then the earlier folder, then highest UID.
        hits.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(b.2.cmp(&a.2)));
        self.order = hits.into_iter().map(|(_, at, uid)| (at, uid)).collect();
    }
}

/// The folders a query's scope names, in the order of the folder list: `current`
/// (the folder in view) by default. A folder named by `in:` may be given by its
/// path, its name or its role (`in:sent`), in any case. Folders that only gather
/// others' messages (All Mail, Flagged) are never searched with the rest.
pub fn scope_folders(
    scope: &Scope,
    current: &str,
    folders: &[Folder],
) -> Result<Vec<String>, MailError> {
    let searchable = |f: &&Folder| {
        f.selectable && !matches!(f.role, Some(FolderRole::All | FolderRole::Flagged))
    };
    match scope {
        Scope::Current => Ok(vec![current.to_owned()]),
        Scope::All => Ok(folders
            .iter()
            .filter(searchable)
            .filter(|f| !matches!(f.role, Some(FolderRole::Trash | FolderRole::Junk)))
            .map(|f| f.id.clone())
            .collect()),
        Scope::Anywhere => Ok(folders
            .iter()
            .filter(searchable)
            .map(|f| f.id.clone())
            .collect()),
        Scope::Folder(named) => {
            let role = |f: &Folder| {
                let role = match f.role? {
                    FolderRole::Inbox => "inbox",
                    FolderRole::Drafts => "drafts",
                    FolderRole::Sent => "sent",
                    FolderRole::Archive => "archive",
                    FolderRole::Junk => "junk",
                    FolderRole::Trash => "trash",
                    FolderRole::All => "all",
                    FolderRole::Flagged => "flagged",
                };
                Some(role)
            };
            let named_lower = named.to_lowercase();
            let lower = named_lower.as_str();
            let found = folders
                .iter()
                .find(|f| f.id == *named)
                .or_else(|| folders.iter().find(|f| f.id.to_lowercase() == lower))
                .or_else(|| folders.iter().find(|f| f.name.to_lowercase() == lower))
                .or_else(|| {
                    let lower = if lower == "spam" { "junk" } else { lower };
                    folders.iter().find(|f| role(f) == Some(lower))
                });
            match found {
                Some(folder) if folder.selectable => Ok(vec![folder.id.clone()]),
                Some(_) => Err(MailError::Query(format!(
                    "\"{named}\" holds only other folders: search one of them."
                ))),
                None => Err(MailError::Query(format!(
                    "There is no folder called \"{named}\"."
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, name: &str, role: Option<FolderRole>) -> Folder {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "parent": null, "depth": 0,
            "role": role, "selectable": id != "Lists", "subscribed": true,
            "total": 0, "unread": 0,
        }))
        .expect("a folder")
    }

    #[test]
    fn scopes_name_folders() {
        let folders = [
            folder("INBOX", "Inbox", Some(FolderRole::Inbox)),
            folder("Sent Messages", "Sent Messages", Some(FolderRole::Sent)),
            folder("Trash", "Trash", Some(FolderRole::Trash)),
            folder("Spam", "Spam", Some(FolderRole::Junk)),
            folder("All Mail", "All Mail", Some(FolderRole::All)),
            folder("Lists", "Lists", None),
            folder("Lists/Rust", "Rust", None),
        ];
        let names = |scope: Scope| scope_folders(&scope, "INBOX", &folders).ok();
        assert_eq!(names(Scope::Current), Some(vec!["INBOX".to_owned()]));
        assert_eq!(
            names(Scope::All),
            Some(vec![
                "INBOX".to_owned(),
                "Sent Messages".into(),
                "Lists/Rust".into()
            ])
        );
        assert_eq!(names(Scope::Anywhere).map(|f| f.len()), Some(5));
        assert_eq!(
            names(Scope::Folder("inbox".into())),
            Some(vec!["INBOX".into()])
        );
        assert_eq!(
            names(Scope::Folder("sent".into())),
            Some(vec!["Sent Messages".into()])
        );
        assert_eq!(
            names(Scope::Folder("spam".into())),
            Some(vec!["Spam".into()])
        );
        assert_eq!(
            names(Scope::Folder("RUST".into())),
            Some(vec!["Lists/Rust".into()])
        );
        assert!(matches!(
            scope_folders(&Scope::Folder("Nowhere".into()), "INBOX", &folders),
            Err(MailError::Query(_))
        ));
        assert!(matches!(
            scope_folders(&Scope::Folder("Lists".into()), "INBOX", &folders),
            Err(MailError::Query(_))
        ));
    }

    fn query() -> Query {
        protocol::search::parse("lunch").expect("parses")
    }

    fn found(uids: &[u32], dates: Option<&[i64]>) -> Option<Found> {
        Some(Found {
            uid_validity: 7,
            uids: uids.to_vec(),
            dates: dates.map(<[i64]>::to_vec),
            bodies_unsearched: 0,
        })
    }

    #[test]
    fn one_folder_lists_highest_uid_first() {
        let mut search = Search::new(1, query(), vec!["INBOX".into()]);
        assert_eq!(search.pending(), Some(0));
        search.record(0, found(&[3, 9, 5], None));
        assert_eq!(search.window(0, 10), [(0, 9), (0, 5), (0, 3)]);
        assert_eq!(search.window(1, 1), [(0, 5)]);
        assert_eq!(search.window(5, 10), []);
        assert!(search.done());
        assert_eq!(search.pending(), None);
    }

    #[test]
    fn folders_merge_by_arrival_and_stale_ones_come_first() {
        let folders = vec!["INBOX".into(), "Sent".into(), "Archive".into()];
        let mut search = Search::new(1, query(), folders);
        search.record(0, found(&[1, 2], Some(&[100, 300])));
        assert_eq!(
            (search.searched(), search.of(), search.done()),
            (1, 3, false)
        );
        search.record(1, found(&[8], Some(&[200])));
        assert_eq!(search.window(0, 10), [(0, 2), (1, 8), (0, 1)]);
        search.touch("INBOX");
        search.touch("Archive"); // not searched yet: nothing to do again
        assert_eq!(search.pending(), Some(0));
        search.record(0, found(&[2], Some(&[300])));
        assert_eq!(search.pending(), Some(2));
        search.stop();
        assert_eq!(search.pending(), None);
        assert!(search.done());
        assert_eq!(search.total(), 2);
        search.forget(1, 8);
        assert_eq!(search.window(0, 10), [(0, 2)]);
    }

    #[test]
    fn a_folder_that_failed_counts_as_searched() {
        let mut search = Search::new(1, query(), vec!["A".into(), "B".into()]);
        search.record(0, None);
        assert_eq!(search.pending(), Some(1));
        assert_eq!(search.total(), 0);
    }
}
