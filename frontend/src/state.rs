//! The app's state, one struct per concern, changed only by the plain methods here
//! (unit-tested natively) and held in signals by [`crate::app`].

use protocol::{
    Body, Flag, Folder, FolderRole, MessageFlags, MessageHeader, MessageView, Reply, Sort,
};

/// How many headers one window asks for.
pub const WINDOW: u32 = 50;

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub account: String,
    pub user: String,
    /// POP3 sessions have the Inbox and Drafts only, and no moves, copies, labels
    /// or date order.
    pub protocol: protocol::MailProtocol,
    /// What the person can send; `None` for an account that only reads.
    pub sending: Option<protocol::Sending>,
    /// What the person chose in Settings, as the bridge keeps it for them.
    pub preferences: protocol::Preferences,
}

impl SignedIn {
    /// Who a `signed_in` reply says is signed in.
    pub fn from_reply(reply: protocol::Reply) -> Option<Self> {
        match reply {
            protocol::Reply::SignedIn {
                account,
                user,
                protocol,
                sending,
                preferences,
                ..
            } => Some(SignedIn {
                account,
                user,
                protocol,
                sending,
                preferences,
            }),
            _ => None,
        }
    }
}

/// Which pane a phone shows; desktops show all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    Folders,
    #[default]
    Messages,
    Reader,
}

/// An action the person can still undo: its rows are gone from the list, and its
/// request waits until the undo window has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: u64,
    /// The messages the action is for.
    pub folder: String,
    pub uids: Vec<u32>,
    /// Where their rows were taken from: the folder's list, or a search's (whose
    /// rows have keys of their own).
    pub list_folder: String,
    pub action: PendingAction,
    pub removed: Vec<MessageHeader>,
    /// What happened, as the undo bar says it.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingAction {
    Move {
        to: String,
    },
    /// Removal for good (POP3's delete, which has no Trash).
    Expunge,
}

/// The reading pane: which message is open, and what of it has arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reader {
    pub folder: Option<String>,
    pub uid: Option<u32>,
    /// The attached message being shown, if not the message itself.
    pub part: Option<String>,
    pub message: Option<MessageView>,
    pub loading: bool,
    /// A part is being switched to (another alternative, or with remote content).
    pub switching: bool,
    pub error: Option<String>,
}

impl Reader {
    pub fn opening(&mut self, folder: &str, uid: u32, part: Option<String>) {
        *self = Reader {
            folder: Some(folder.to_owned()),
            uid: Some(uid),
            part,
            loading: true,
            ..Reader::default()
        };
    }

    /// Whether a reply is about what the pane is showing now.
    pub fn is_showing(&self, folder: &str, uid: u32) -> bool {
        self.folder.as_deref() == Some(folder) && self.uid == Some(uid)
    }

    pub fn opened(&mut self, folder: &str, uid: u32, message: MessageView) {
        if self.is_showing(folder, uid) && self.part == message.part {
            self.message = Some(message);
            self.loading = false;
            self.error = None;
        }
    }

    pub fn part_shown(&mut self, folder: &str, uid: u32, body: Body) {
        if self.is_showing(folder, uid)
            && let Some(message) = &mut self.message
        {
            message.body = Some(body);
        }
        self.switching = false;
    }

    pub fn failed(&mut self, folder: &str, uid: u32, error: String) {
        if self.is_showing(folder, uid) {
            self.loading = false;
            self.switching = false;
            self.error = Some(error);
        }
    }

    pub fn set_flags(&mut self, folder: &str, changes: &[MessageFlags]) {
        if let (Some(message), Some(uid)) = (&mut self.message, self.uid)
            && self.folder.as_deref() == Some(folder)
            && let Some(change) = changes.iter().find(|c| c.uid == uid)
        {
            message.flags = change.flags.clone();
        }
    }

    /// The open message left its folder on the server (another program moved or
    /// deleted it): say so instead of showing it.
    pub fn removed(&mut self, folder: &str, uids: &[u32]) {
        if let Some((open_folder, uid)) = self.current()
            && open_folder == folder
            && uids.contains(&uid)
        {
            self.message = None;
            self.failed(
                folder,
                uid,
                "This message was moved or deleted elsewhere.".to_owned(),
            );
        }
    }

    /// The folder and UID of the message shown, if any.
    pub fn current(&self) -> Option<(String, u32)> {
        self.folder.clone().zip(self.uid)
    }

    /// Whether the message shown has `flag`.
    pub fn has_flag(&self, flag: &Flag) -> bool {
        self.message
            .as_ref()
            .is_some_and(|m| m.flags.contains(flag))
    }
}

/// The folder list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folders {
    pub folders: Vec<Folder>,
    pub selected: Option<String>,
    pub loading: bool,
    pub error: Option<String>,
}

impl Folders {
    pub fn loaded(&mut self, folders: Vec<Folder>) {
        self.folders = folders;
        self.loading = false;
        self.error = None;
    }

    /// The folder to open first: the inbox, else the first one that can be opened.
    pub fn default_folder(&self) -> Option<&Folder> {
        self.folders
            .iter()
            .find(|f| f.role == Some(FolderRole::Inbox))
            .or_else(|| self.folders.iter().find(|f| f.selectable))
    }

    /// The folder with this special use, if the server has one.
    pub fn with_role(&self, role: FolderRole) -> Option<&Folder> {
        self.folders.iter().find(|f| f.role == Some(role))
    }

    pub fn get(&self, id: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id == id)
    }

    /// Adds `delta` (possibly negative) to a folder's unread count.
    pub fn add_unread(&mut self, id: &str, delta: i64) {
        if let Some(folder) = self.folders.iter_mut().find(|f| f.id == id) {
            folder.unread = (i64::from(folder.unread) + delta).max(0) as u32;
        }
    }

    /// Keeps a folder's counts in step with what opening it reported.
    pub fn update_counts(&mut self, id: &str, total: u32, unread: u32) {
        if let Some(folder) = self.folders.iter_mut().find(|f| f.id == id) {
            folder.total = total;
            folder.unread = unread;
        }
    }
}

/// The most headers the list keeps loaded; windows far from where the person is
/// looking are let go, so a folder of any size costs the same.
pub const MAX_LOADED: usize = 500;

/// The open folder's message list in `sort` order: `total` positions, of which one
/// contiguous stretch (`messages`, from position `start`) is loaded. Position 0 is
/// the first message in that order. The bridge says where changes stand; in arrival
/// order, where positions follow UIDs, a UID tells it too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageList {
    pub folder: Option<String>,
    pub sort: Sort,
    pub total: u32,
    pub unread: u32,
    /// The position of `messages[0]`.
    pub start: u32,
    pub messages: Vec<MessageHeader>,
    /// The first window is on its way.
    pub loading: bool,
    /// A further window is on its way (from this position).
    pub fetching: Option<u32>,
    /// Labels the folder knows, and whether new ones can be made.
    pub labels: Vec<String>,
    pub new_labels: bool,
    pub error: Option<String>,
}

impl MessageList {
    /// Starts showing `folder` in `sort` order, empty until its first window arrives.
    pub fn opening(&mut self, folder: &str, sort: Sort) {
        *self = MessageList {
            folder: Some(folder.to_owned()),
            sort,
            loading: true,
            ..MessageList::default()
        };
    }

    /// Applies a reply about a folder; replies about a folder no longer shown, or in
    /// an order no longer asked for (the person moved on while it was loading), are
    /// ignored. Returns whether it applied.
    pub fn apply(&mut self, reply: Reply) -> bool {
        match reply {
            Reply::FolderOpened {
                folder,
                total,
                unread,
                messages,
                labels,
                new_labels,
                sort,
                ..
            } if self.folder.as_ref() == Some(&folder) && sort == self.sort => {
                self.total = total;
                self.unread = unread;
                self.labels = labels;
                self.new_labels = new_labels;
                self.start = 0;
                self.messages = messages;
            }
            Reply::Messages {
                folder,
                total,
                offset,
                messages,
                sort,
            } if self.folder.as_ref() == Some(&folder) && sort == self.sort => {
                self.total = total;
                self.fetching = None;
                self.merge(offset, messages);
            }
            _ => return false,
        }
        self.loading = false;
        self.error = None;
        true
    }

    /// Replaces what is loaded with a window from position `offset` of a list that
    /// now has `total` positions (a search's hits, which may all have moved).
    pub fn replace(&mut self, folder: &str, offset: u32, total: u32, window: Vec<MessageHeader>) {
        if self.folder.as_deref() != Some(folder) {
            return;
        }
        self.total = total;
        self.start = offset.min(total);
        self.messages = window;
        self.fetching = None;
        self.loading = false;
        self.error = None;
    }

    /// Takes in a window that starts at position `offset`: joined to the loaded
    /// stretch when they touch, else in its place; then trimmed to [`MAX_LOADED`],
    /// keeping the new window.
    fn merge(&mut self, offset: u32, window: Vec<MessageHeader>) {
        let end = self.start + self.messages.len() as u32;
        let new_end = offset + window.len() as u32;
        if self.messages.is_empty() || offset > end || new_end < self.start {
            self.start = offset;
            self.messages = window;
        } else {
            let from = self.start.min(offset);
            let to = end.max(new_end);
            let mut joined = Vec::with_capacity((to - from) as usize);
            let fresh: std::collections::HashSet<u32> = window.iter().map(|m| m.uid).collect();
            let old = std::mem::take(&mut self.messages);
            // Positions before the new window come from the old stretch, then the
            // window itself, then the old stretch after it; a UID seen in the window
            // is never kept twice (new mail may have shifted positions).
            let before = old
                .iter()
                .take(offset.saturating_sub(self.start) as usize)
                .filter(|m| !fresh.contains(&m.uid))
                .cloned();
            joined.extend(before);
            joined.extend(window);
            let after = old
                .into_iter()
                .skip((new_end.saturating_sub(self.start)) as usize)
                .filter(|m| !fresh.contains(&m.uid));
            joined.extend(after);
            self.start = from;
            self.messages = joined;
        }
        if self.messages.len() > MAX_LOADED {
            let excess = self.messages.len() - MAX_LOADED;
            // Let go of the side farther from the new window.
            let head_room = offset.saturating_sub(self.start) as usize;
            let tail_room =
                (self.start as usize + self.messages.len()).saturating_sub(new_end as usize);
            if head_room >= tail_room {
                let cut = excess.min(head_room);
                self.messages.drain(..cut);
                self.start += cut as u32;
                let rest = self.messages.len().saturating_sub(MAX_LOADED);
                self.messages.truncate(self.messages.len() - rest);
            } else {
                let cut = excess.min(tail_room);
                self.messages.truncate(self.messages.len() - cut);
                let rest = self.messages.len().saturating_sub(MAX_LOADED);
                self.messages.drain(..rest);
                self.start += rest as u32;
            }
        }
    }

    /// The position to fetch a window from so that `first..end` is loaded, or
    /// `None` when it already is (or a window is on its way).
    pub fn missing(&self, first: u32, end: u32) -> Option<u32> {
        let end = end.min(self.total);
        if self.loading || self.fetching.is_some() || first >= end {
            return None;
        }
        let loaded_end = self.start + self.messages.len() as u32;
        if first >= self.start && end <= loaded_end {
            return None;
        }
        if first >= self.start && first < loaded_end {
            // The gap is below what is loaded: continue it.
            Some(loaded_end)
        } else if end > self.start && end <= loaded_end {
            // The gap is just above: a window that ends where the stretch begins.
            Some(self.start.saturating_sub(protocol::MAX_WINDOW))
        } else {
            Some(first)
        }
    }

    /// Whether each of these messages is loaded and `holds` for it (false for
    /// none).
    pub fn all(&self, uids: &[u32], holds: impl Fn(&MessageHeader) -> bool) -> bool {
        !uids.is_empty()
            && uids
                .iter()
                .all(|uid| self.messages.iter().any(|m| m.uid == *uid && holds(m)))
    }

    /// The loaded message at a position.
    pub fn at(&self, position: u32) -> Option<&MessageHeader> {
        position
            .checked_sub(self.start)
            .and_then(|i| self.messages.get(i as usize))
    }

    /// The position of a loaded message.
    pub fn position(&self, uid: u32) -> Option<u32> {
        self.messages
            .iter()
            .position(|m| m.uid == uid)
            .map(|i| self.start + i as u32)
    }

    /// A request about `folder` in `sort` order failed; shown unless the person
    /// has moved on to another folder or order.
    pub fn failed(&mut self, folder: &str, sort: Sort, message: String) {
        if self.folder.as_deref() == Some(folder) && self.sort == sort {
            self.loading = false;
            self.fetching = None;
            self.error = Some(message);
        }
    }

    /// Takes in flags the server reports, keeping the unread count in step.
    /// Returns how the unread count changed.
    pub fn set_flags(&mut self, folder: &str, changes: &[MessageFlags]) -> i64 {
        if self.folder.as_deref() != Some(folder) {
            return 0;
        }
        let mut delta = 0;
        for change in changes {
            if let Some(message) = self.messages.iter_mut().find(|m| m.uid == change.uid) {
                let was_unread = message.is_unread();
                message.flags = change.flags.clone();
                delta += i64::from(message.is_unread()) - i64::from(was_unread);
            }
        }
        self.unread = (i64::from(self.unread) + delta).max(0) as u32;
        delta
    }

    /// Takes messages out of the list (they are being moved), keeping the counts in
    /// step; returns the rows taken.
    pub fn take(&mut self, folder: &str, uids: &[u32]) -> Vec<MessageHeader> {
        if self.folder.as_deref() != Some(folder) {
            return Vec::new();
        }
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| uids.contains(&m.uid));
        self.messages = kept;
        self.total = self.total.saturating_sub(taken.len() as u32);
        let unread = taken.iter().filter(|m| m.is_unread()).count() as u32;
        self.unread = self.unread.saturating_sub(unread);
        taken
    }

    /// Puts taken rows back in their places, as if they had never left.
    pub fn restore(&mut self, folder: &str, rows: Vec<MessageHeader>) {
        if self.folder.as_deref() != Some(folder) {
            return;
        }
        self.total += rows.len() as u32;
        self.unread += rows.iter().filter(|m| m.is_unread()).count() as u32;
        self.messages.extend(rows);
        let sort = self.sort;
        self.messages.sort_by(|a, b| sort.compare(a, b));
        self.messages.dedup_by_key(|m| m.uid);
    }

    /// Takes in what changed in a folder on the server: removed messages leave,
    /// flags follow, new messages take their places, and the counts become the
    /// server's. Changes above the loaded stretch move it; those below it are
    /// fetched when scrolled to.
    pub fn changed(&mut self, folder: &str, (total, unread): (u32, u32), change: Change) {
        if self.folder.as_deref() != Some(folder) {
            return;
        }
        let Change {
            added,
            added_at,
            flags,
            removed,
            removed_at,
        } = change;
        let above = if removed_at.len() == removed.len() {
            removed_at.iter().filter(|at| **at < self.start).count()
        } else {
            // In arrival order a UID tells which side of the stretch a message was.
            let first = self.messages.first().map(|m| m.uid);
            let newest_first = self.sort.newest_first;
            removed
                .iter()
                .filter(|uid| !self.messages.iter().any(|m| m.uid == **uid))
                .filter(|uid| first.is_some_and(|f| (**uid > f) == newest_first))
                .count()
        };
        self.start = self.start.saturating_sub(above as u32);
        self.messages.retain(|m| !removed.contains(&m.uid));
        self.set_flags(folder, &flags);
        let positions = if added_at.len() == added.len() {
            added_at
        } else {
            // From an older bridge: arrivals go on top, or at the end.
            let count = added.len() as u32;
            let first = if self.sort.newest_first {
                0
            } else {
                total.saturating_sub(count)
            };
            (first..first + count).collect()
        };
        let mut arrived: Vec<(u32, MessageHeader)> = positions
            .into_iter()
            .zip(added)
            .filter(|(_, m)| !removed.contains(&m.uid) && self.position(m.uid).is_none())
            .collect();
        arrived.sort_by_key(|(at, _)| *at);
        for (at, message) in arrived {
            let end = self.start + self.messages.len() as u32;
            if at < self.start {
                self.start += 1;
            } else if at <= end {
                let index = ((at - self.start) as usize).min(self.messages.len());
                self.messages.insert(index, message);
            }
        }
        self.messages.truncate(MAX_LOADED);
        self.total = total;
        self.unread = unread;
    }
}

/// What changed in a folder on the server, as [`protocol::Event::FolderChanged`]
/// says it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub added: Vec<MessageHeader>,
    pub added_at: Vec<u32>,
    pub flags: Vec<MessageFlags>,
    pub removed: Vec<u32>,
    pub removed_at: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Address, Flag, SortKey};

    fn header(uid: u32) -> MessageHeader {
        MessageHeader {
            uid,
            from: vec![Address {
                name: None,
                email: "a@example.org".into(),
            }],
            to: vec![],
            subject: format!("#{uid}"),
            date: i64::from(uid),
            flags: vec![Flag::Seen],
            size: 1,
            has_attachments: false,
        }
    }

    fn opened(folder: &str, uids: &[u32], total: u32) -> Reply {
        Reply::FolderOpened {
            folder: folder.into(),
            uid_validity: 1,
            total,
            unread: 0,
            offset: 0,
            messages: uids.iter().copied().map(header).collect(),
            labels: vec![],
            new_labels: false,
            sort: Sort::default(),
        }
    }

    #[test]
    fn windows_append_without_duplicates() {
        let mut list = MessageList::default();
        list.opening("INBOX", Sort::default());
        assert!(list.loading);
        assert!(list.apply(opened("INBOX", &[5, 4], 5)));
        assert_eq!(list.missing(0, 5), Some(2));
        assert!(list.apply(Reply::Messages {
            folder: "INBOX".into(),
            total: 5,
            offset: 2,
            messages: [4, 3, 2, 1].into_iter().map(header).collect(),
            sort: Sort::default(),
        }));
        let uids: Vec<u32> = list.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [5, 4, 3, 2, 1]);
        assert_eq!(list.missing(0, 5), None);
        assert!(!list.loading);
    }

    #[test]
    fn flag_changes_keep_unread_counts_in_step() {
        let mut list = MessageList::default();
        list.opening("INBOX", Sort::default());
        let mut unread = header(2);
        unread.flags.clear();
        list.apply(Reply::FolderOpened {
            folder: "INBOX".into(),
            uid_validity: 1,
            total: 2,
            unread: 1,
            offset: 0,
            messages: vec![unread, header(1)],
            labels: vec![],
            new_labels: false,
            sort: Sort::default(),
        });
        let seen = |uid| MessageFlags {
            uid,
            flags: vec![Flag::Seen],
        };
        assert_eq!(list.set_flags("Other", &[seen(2)]), 0);
        assert_eq!(list.set_flags("INBOX", &[seen(2)]), -1);
        assert_eq!(list.unread, 0);
        let unseen = MessageFlags {
            uid: 1,
            flags: vec![],
        };
        assert_eq!(list.set_flags("INBOX", &[unseen]), 1);
        assert_eq!(list.unread, 1);
    }

    #[test]
    fn server_changes_apply_to_the_open_folder_only() {
        let mut list = MessageList::default();
        list.opening("INBOX", Sort::default());
        list.apply(opened("INBOX", &[5, 4, 3], 10));
        let flagged = MessageFlags {
            uid: 4,
            flags: vec![Flag::Seen, Flag::Flagged],
        };
        list.changed("Work", (1, 1), change(&[9], &[], &[5]));
        assert_eq!(list.messages.len(), 3);
        list.changed(
            "INBOX",
            (11, 2),
            change(&[7, 6, 5], std::slice::from_ref(&flagged), &[3, 6]),
        );
        let uids: Vec<u32> = list.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [7, 5, 4]);
        assert!(list.messages[2].is_flagged());
        assert_eq!((list.total, list.unread), (11, 2));
    }

    fn window(folder: &str, offset: u32, uids: std::ops::RangeInclusive<u32>, total: u32) -> Reply {
        Reply::Messages {
            folder: folder.into(),
            total,
            offset,
            messages: uids.rev().map(header).collect(),
            sort: Sort::default(),
        }
    }

    /// A change as an older bridge said it: no positions.
    fn change(added: &[u32], flags: &[MessageFlags], removed: &[u32]) -> Change {
        Change {
            added: added.iter().copied().map(header).collect(),
            flags: flags.to_vec(),
            removed: removed.to_vec(),
            ..Change::default()
        }
    }

    fn positions(list: &MessageList) -> (u32, Vec<u32>) {
        (list.start, list.messages.iter().map(|m| m.uid).collect())
    }

    #[test]
    fn far_windows_replace_near_ones_join_and_memory_stays_bounded() {
        // 10,000 messages, UIDs 1..=10000; position p holds UID 10000 - p.
        let mut list = MessageList::default();
        list.opening("Big", Sort::default());
        list.apply(opened(
            "Big",
            &(9951..=10000).rev().collect::<Vec<_>>(),
            10_000,
        ));
        assert_eq!(list.missing(0, 30), None);
        // Scrolling just past the loaded stretch continues it.
        assert_eq!(list.missing(40, 70), Some(50));
        list.apply(window("Big", 50, 9851..=9950, 10_000));
        assert_eq!(list.start, 0);
        assert_eq!(list.messages.len(), 150);
        assert_eq!(list.at(149).map(|m| m.uid), Some(9851));
        // A jump to the middle replaces the stretch.
        assert_eq!(list.missing(5000, 5030), Some(5000));
        list.apply(window("Big", 5000, 4901..=5000, 10_000));
        assert_eq!(positions(&list).0, 5000);
        assert_eq!(list.position(5000), Some(5000));
        // Scrolling up from there fetches the window that ends where it begins.
        assert_eq!(list.missing(4990, 5010), Some(4900));
        list.apply(window("Big", 4900, 5001..=5100, 10_000));
        assert_eq!(list.start, 4900);
        assert_eq!(list.messages.len(), 200);
        // Walking down window by window never keeps more than MAX_LOADED.
        for step in 0..10 {
            let from = 5000 + 100 * step;
            let offset = list.missing(from + 100, from + 130).expect("a gap");
            let newest = 10_000 - offset;
            list.apply(window("Big", offset, newest - 99..=newest, 10_000));
            assert!(list.messages.len() <= MAX_LOADED);
            let (start, uids) = positions(&list);
            for (i, uid) in uids.iter().enumerate() {
                assert_eq!(*uid, 10_000 - (start + i as u32), "contiguous at {i}");
            }
        }
        assert_eq!(list.missing(6050, 6080), None);
    }

    #[test]
    fn changes_above_a_far_stretch_shift_its_positions() {
        let mut list = MessageList::default();
        list.opening("Big", Sort::default());
        list.apply(opened("Big", &[1000, 999], 1000));
        list.apply(window("Big", 500, 401..=500, 1000));
        assert_eq!(list.start, 500);
        // Two arrivals on top and one removal above push the stretch down by one.
        list.changed("Big", (1001, 0), change(&[1001, 1002], &[], &[900]));
        assert_eq!(list.start, 501);
        assert_eq!(list.position(500), Some(501));
        // A removal inside it closes the gap without moving the start.
        list.changed("Big", (1000, 0), change(&[], &[], &[450]));
        assert_eq!(list.start, 501);
        assert_eq!(list.position(449), Some(501 + 50));
    }

    fn by_date(newest_first: bool) -> Sort {
        Sort {
            by: SortKey::Date,
            newest_first,
        }
    }

    /// Message `uid` saying it was sent at `date`.
    fn dated(uid: u32, date: i64) -> MessageHeader {
        MessageHeader {
            date,
            ..header(uid)
        }
    }

    #[test]
    fn in_date_order_changes_land_where_the_bridge_says() {
        let mut list = MessageList::default();
        list.opening("INBOX", by_date(true));
        // Sent dates do not follow arrival: UID 9 arrived last but is oldest.
        let rows = vec![dated(4, 500), dated(7, 400), dated(2, 300), dated(5, 200)];
        let mut reply = opened("INBOX", &[], 100);
        if let Reply::FolderOpened { messages, sort, .. } = &mut reply {
            *messages = rows;
            *sort = by_date(true);
        }
        assert!(list.apply(reply));
        // An old-dated arrival goes between 2 and 5; one dated far back lands below
        // the loaded rows and waits to be fetched.
        list.changed(
            "INBOX",
            (102, 0),
            Change {
                added: vec![dated(9, 250), dated(10, 1)],
                added_at: vec![3, 101],
                ..Change::default()
            },
        );
        let uids: Vec<u32> = list.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [4, 7, 2, 9, 5]);
        assert_eq!(list.total, 102);
        // A removal inside the rows takes it out; taken rows come back in date order.
        list.changed(
            "INBOX",
            (101, 0),
            Change {
                removed: vec![7],
                removed_at: vec![1],
                ..Change::default()
            },
        );
        let taken = list.take("INBOX", &[2, 4]);
        list.restore("INBOX", taken);
        let uids: Vec<u32> = list.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [4, 2, 9, 5]);
    }

    #[test]
    fn in_date_order_positions_move_a_far_stretch() {
        let mut list = MessageList::default();
        list.opening("Big", by_date(false));
        let mut reply = window("Big", 500, 401..=500, 1000);
        if let Reply::Messages { sort, .. } = &mut reply {
            *sort = by_date(false);
        }
        // The first window is far from here; only the far stretch matters.
        list.loading = false;
        assert!(list.apply(reply));
        assert_eq!(list.start, 500);
        // Removed above (positions 3 and 700: only one is above) and an arrival
        // above and one at the stretch's top.
        list.changed(
            "Big",
            (1000, 0),
            Change {
                added: vec![dated(2000, 0), dated(2001, 0)],
                added_at: vec![10, 500],
                removed: vec![3, 7, 450],
                removed_at: vec![3, 700, u32::MAX],
                ..Change::default()
            },
        );
        assert_eq!(list.start, 500);
        assert_eq!(list.position(2001), Some(500));
        assert_eq!(list.position(500), Some(501));
    }

    #[test]
    fn replies_in_an_order_no_longer_asked_for_are_ignored() {
        let mut list = MessageList::default();
        list.opening("INBOX", Sort::default());
        list.opening("INBOX", by_date(true));
        assert!(!list.apply(opened("INBOX", &[1], 1)));
        assert!(list.loading);
    }

    #[test]
    fn taken_rows_come_back_in_place() {
        let mut list = MessageList::default();
        list.opening("INBOX", Sort::default());
        let mut unread = header(2);
        unread.flags.clear();
        list.apply(Reply::FolderOpened {
            folder: "INBOX".into(),
            uid_validity: 1,
            total: 3,
            unread: 1,
            offset: 0,
            messages: vec![header(3), unread, header(1)],
            labels: vec![],
            new_labels: false,
            sort: Sort::default(),
        });
        let taken = list.take("INBOX", &[2]);
        assert_eq!((list.total, list.unread, list.messages.len()), (2, 0, 2));
        list.restore("INBOX", taken);
        let uids: Vec<u32> = list.messages.iter().map(|m| m.uid).collect();
        assert_eq!((uids, list.total, list.unread), (vec![3, 2, 1], 3, 1));
        assert!(list.take("Other", &[1]).is_empty());
    }

    #[test]
    fn the_reader_ignores_replies_for_messages_it_left() {
        let mut reader = Reader::default();
        reader.opening("INBOX", 1, None);
        reader.opening("INBOX", 2, None);
        reader.failed("INBOX", 1, "late".into());
        assert!(reader.loading && reader.error.is_none());
        reader.failed("INBOX", 2, "gone".into());
        assert_eq!(reader.error.as_deref(), Some("gone"));
    }

    #[test]
    fn late_replies_for_another_folder_are_ignored() {
        let mut list = MessageList::default();
        list.opening("INBOX", Sort::default());
        list.opening("Sent", Sort::default());
        assert!(!list.apply(opened("INBOX", &[1], 1)));
        assert!(list.messages.is_empty() && list.loading);
        list.failed("INBOX", Sort::default(), "nope".into());
        assert_eq!(list.error, None);
        list.failed("Sent", by_date(true), "old order".into());
        assert_eq!(list.error, None);
        list.failed("Sent", Sort::default(), "gone".into());
        assert_eq!(list.error.as_deref(), Some("gone"));
    }

    #[test]
    fn the_inbox_opens_first_and_counts_follow_the_list() {
        let folder = |id: &str, role, selectable| Folder {
            id: id.into(),
            name: id.into(),
            parent: None,
            depth: 0,
            role,
            selectable,
            subscribed: true,
            total: 0,
            unread: 0,
            namespace: Default::default(),
            read_only: false,
        };
        let mut folders = Folders::default();
        folders.loaded(vec![
            folder("Parent", None, false),
            folder("Other", None, true),
            folder("INBOX", Some(FolderRole::Inbox), true),
        ]);
        assert_eq!(
            folders.default_folder().map(|f| f.id.as_str()),
            Some("INBOX")
        );
        folders.update_counts("INBOX", 9, 3);
        assert_eq!(
            folders.get("INBOX").map(|f| (f.total, f.unread)),
            Some((9, 3))
        );
        folders.loaded(vec![
            folder("Parent", None, false),
            folder("Other", None, true),
        ]);
        assert_eq!(
            folders.default_folder().map(|f| f.id.as_str()),
            Some("Other")
        );
    }
}
