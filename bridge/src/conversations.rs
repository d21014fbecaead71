//! A folder's conversations as rows of the list: from each conversation's UIDs
//! (grouped by `mail::thread`) and the list headers of its newest messages; and
//! what the session keeps of the Sent folder to find the person's own replies.

use std::collections::HashMap;

use protocol::{Address, Conversation, MAX_CONVERSATION_UIDS, MessageHeader};

use crate::mail::thread::Threaded;
use crate::mail::{MailError, MailSource, Which};

/// What grouping needs of every message of one folder (Sent), lowest UID first;
/// brought up to date by reading what arrived above the highest UID.
pub struct Kept {
    pub folder: String,
    pub uid_validity: u32,
    pub messages: Vec<Threaded>,
}

impl Kept {
    /// Reads all of `folder`.
    pub async fn read(source: &mut impl MailSource, folder: &str) -> Result<Kept, MailError> {
        let (uid_validity, messages) = source.threading(folder, Which::Above(0)).await?;
        Ok(Kept {
            folder: folder.to_owned(),
            uid_validity,
            messages,
        })
    }

    pub fn highest(&self) -> u32 {
        self.messages.last().map_or(0, |m| m.uid)
    }
}

/// The most senders a row names.
const MAX_PARTICIPANTS: usize = 5;

/// The UIDs of a conversation whose headers its row needs: its newest, at most
/// [`MAX_CONVERSATION_UIDS`].
pub fn listed(uids: &[u32]) -> &[u32] {
    &uids[uids.len().saturating_sub(MAX_CONVERSATION_UIDS)..]
}

/// The row for a conversation (UIDs lowest first), from the headers of its listed
/// messages; `None` when its newest message is gone.
pub fn row(uids: &[u32], headers: &HashMap<u32, MessageHeader>) -> Option<Conversation> {
    let listed = listed(uids);
    let newest = headers.get(listed.last()?)?.clone();
    let mut participants: Vec<Address> = Vec::new();
    let (mut unread, mut flagged) = (0, false);
    for uid in listed.iter().rev() {
        let Some(message) = headers.get(uid) else {
            continue;
        };
        unread += u32::from(message.is_unread());
        flagged |= message.is_flagged();
        for from in &message.from {
            if participants.len() < MAX_PARTICIPANTS
                && !participants
                    .iter()
                    .any(|p| p.email.eq_ignore_ascii_case(&from.email))
            {
                participants.push(from.clone());
            }
        }
    }
    Some(Conversation {
        uids: listed.to_vec(),
        count: u32::try_from(uids.len()).unwrap_or(u32::MAX),
        unread,
        flagged,
        participants,
        newest,
    })
}
