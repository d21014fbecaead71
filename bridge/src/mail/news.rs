//! What the server reports, unasked, about the selected folder: gathered from its
//! untagged responses (during IDLE or after any command) until the session turns
//! them into an event.
//!
//! With QRESYNC enabled a server names removed messages by UID (`VANISHED`) and
//! includes the UID in every `FETCH` it sends on its own. Without it, an `EXPUNGE`
//! names only a sequence number, which cannot be turned back into a UID afterwards,
//! so the folder is reloaded instead.

use std::collections::{BTreeMap, BTreeSet};

use async_imap::imap_proto::{AttributeValue, MailboxDatum, Response, StatusAttribute};
use async_imap::types::Flag as ImapFlag;
use protocol::Flag;

use super::headers::flags_from;

/// The most changes of one kind listed in one event; beyond it the folder is
/// reloaded, which is cheaper than a huge event.
pub const MAX_LISTED: usize = 5000;
/// The most folders whose counts one event carries.
const MAX_FOLDERS: usize = 1000;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct News {
    /// The last `EXISTS` count, when one came: messages may have arrived.
    pub exists: Option<u32>,
    /// The message count before the first `EXISTS`, to tell how many arrived.
    pub exists_before: Option<u32>,
    /// New flags, by UID.
    pub flags: BTreeMap<u32, Vec<Flag>>,
    /// Sequence numbers of `FETCH`es that came without a UID.
    pub flag_seqs: BTreeSet<u32>,
    /// UIDs the server removed.
    pub removed: BTreeSet<u32>,
    /// Something happened that cannot be listed by UID: reload the folder.
    pub reset: bool,
    /// The highest modification sequence seen.
    pub modseq: Option<u64>,
    /// Other folders' counts the server reported (NOTIFY): messages and unseen,
    /// each when given.
    pub counts: BTreeMap<String, (Option<u32>, Option<u32>)>,
}

impl News {
    pub fn is_empty(&self) -> bool {
        self.exists.is_none()
            && self.flags.is_empty()
            && self.flag_seqs.is_empty()
            && self.removed.is_empty()
            && !self.reset
            && self.counts.is_empty()
    }

    /// Takes in a folder's STATUS that the server sent on its own.
    pub fn status(&mut self, mailbox: &str, attributes: &[StatusAttribute]) {
        if self.counts.len() >= MAX_FOLDERS && !self.counts.contains_key(mailbox) {
            return;
        }
        let entry = self.counts.entry(mailbox.to_owned()).or_default();
        for attribute in attributes {
            match attribute {
                StatusAttribute::Messages(n) => entry.0 = Some(*n),
                StatusAttribute::Unseen(n) => entry.1 = Some(*n),
                _ => {}
            }
        }
    }

    /// Takes in one untagged response; responses about other things are ignored.
    pub fn absorb(&mut self, response: &Response<'_>) {
        match response {
            Response::MailboxData(MailboxDatum::Exists(count)) => self.exists = Some(*count),
            Response::Expunge(_) => self.reset = true,
            Response::Vanished { uids, .. } => {
                for range in uids {
                    let room = MAX_LISTED.saturating_sub(self.removed.len());
                    if range.clone().count() > room {
                        self.reset = true;
                        return;
                    }
                    for uid in range.clone() {
                        self.flags.remove(&uid);
                        self.removed.insert(uid);
                    }
                }
            }
            Response::Fetch(seq, attributes) => self.fetched(*seq, attributes),
            Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
                self.status(mailbox, status);
            }
            _ => {}
        }
    }

    fn fetched(&mut self, seq: u32, attributes: &[AttributeValue<'_>]) {
        let mut uid = None;
        let mut flags = None;
        for attribute in attributes {
            match attribute {
                AttributeValue::Uid(value) => uid = Some(*value),
                AttributeValue::Flags(names) => {
                    flags = Some(flags_from(
                        names.iter().map(|name| ImapFlag::from(name.as_ref())),
                    ));
                }
                AttributeValue::ModSeq(value) => {
                    self.modseq = self.modseq.max(Some(*value));
                }
                _ => {}
            }
        }
        let Some(flags) = flags else {
            return;
        };
        match uid {
            Some(uid) if !self.removed.contains(&uid) => {
                if self.flags.len() >= MAX_LISTED && !self.flags.contains_key(&uid) {
                    self.reset = true;
                } else {
                    self.flags.insert(uid, flags);
                }
            }
            Some(_) => {}
            None if self.flag_seqs.len() < MAX_LISTED => {
                self.flag_seqs.insert(seq);
            }
            None => self.reset = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn absorb(news: &mut News, line: &str) {
        let line = format!("{line}\r\n");
        let (rest, response) = Response::parse(line.as_bytes()).expect(&line);
        assert!(rest.is_empty(), "{line}");
        news.absorb(&response);
    }

    #[test]
    fn uid_changes_are_listed() {
        let mut news = News::default();
        absorb(&mut news, "* 4 EXISTS");
        absorb(&mut news, "* 1 RECENT");
        absorb(
            &mut news,
            "* 2 FETCH (UID 7 FLAGS (\\Seen \\Flagged $Label1) MODSEQ (40))",
        );
        absorb(&mut news, "* 3 FETCH (UID 9 FLAGS () MODSEQ (38))");
        absorb(&mut news, "* VANISHED 9,11:12");
        assert_eq!(news.exists, Some(4));
        assert_eq!(news.modseq, Some(40));
        assert_eq!(
            news.flags,
            BTreeMap::from([(
                7,
                vec![Flag::Seen, Flag::Flagged, Flag::Keyword("$Label1".into())]
            )])
        );
        assert_eq!(news.removed, BTreeSet::from([9, 11, 12]));
        assert!(!news.reset);
    }

    #[test]
    fn flags_of_a_removed_message_are_dropped() {
        let mut news = News::default();
        absorb(&mut news, "* VANISHED (EARLIER) 5");
        absorb(&mut news, "* 1 FETCH (UID 5 FLAGS (\\Seen))");
        assert!(news.flags.is_empty());
    }

    #[test]
    fn sequence_numbers_are_kept_for_asking_and_expunge_resets() {
        let mut news = News::default();
        absorb(&mut news, "* 3 FETCH (FLAGS (\\Seen))");
        assert_eq!(news.flag_seqs, BTreeSet::from([3]));
        assert!(!news.reset);
        absorb(&mut news, "* 3 EXPUNGE");
        assert!(news.reset);
    }

    #[test]
    fn other_folders_status_is_kept() {
        let mut news = News::default();
        absorb(&mut news, "* STATUS Work (MESSAGES 3 UIDNEXT 4 UNSEEN 1)");
        absorb(&mut news, "* STATUS \"Lists/Rust\" (MESSAGES 9)");
        assert!(!news.is_empty());
        assert_eq!(news.counts["Work"], (Some(3), Some(1)));
        assert_eq!(news.counts["Lists/Rust"], (Some(9), None));
    }

    #[test]
    fn too_many_removals_reset() {
        let mut news = News::default();
        absorb(&mut news, &format!("* VANISHED 1:{}", MAX_LISTED + 1));
        assert!(news.reset);
        assert!(!News::default().reset && News::default().is_empty());
    }
}
