//! The bridge's own memory of POP3 mailboxes: a stable uid for every UIDL seen, the
//! mailbox's uid validity, and the flags people set, none of which POP3 keeps.
//!
//! Kept in the bridge's database ([`crate::database`]), shared by every session, so
//! that all tabs of a user see the same uids and flags and they survive restarts.
//! Tables:
//!
//! - `meta`: `next_mailbox` (the next mailbox id to give out).
//! - `mailboxes`: `(account, user) -> (id, uid_validity, next_uid)`. The short id keeps
//!   the account and user names out of every message key.
//! - `messages`: `(mailbox id, uid) -> record`, the record holding the UIDL and the
//!   flags (see [`Record`]). One mailbox's messages are one contiguous key range.
//!
//! There is no index from UIDL to uid: every sync must visit all of the mailbox's
//! entries anyway to prune those the server no longer has, and that one range scan
//! also answers which UIDLs are known.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use protocol::Flag;
use redb::{Database, ReadableTable, Table, TableDefinition, WriteTransaction};

use crate::database::{DatabaseError, META};

const NEXT_MAILBOX_KEY: &str = "next_mailbox";

const MAILBOXES: TableDefinition<(&str, &str), (u64, u32, u32)> = TableDefinition::new("mailboxes");
const MESSAGES: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("messages");

/// The mailbox a store entry belongs to: the configured account and the user signed in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailboxKey {
    pub account: String,
    pub user: String,
}

/// The server's messages as the store now knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    /// The mailbox's short id, which names what else the bridge keeps for it.
    pub mailbox_id: u64,
    pub uid_validity: u32,
    /// In the order of the UIDLs given to [`Store::sync`].
    pub messages: Vec<Known>,
}

/// One message: the server's UIDL, the uid the store gave it, and its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub uidl: String,
    pub uid: u32,
    pub flags: Vec<Flag>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    File(#[from] DatabaseError),
    #[error("cannot {action} in the message store")]
    Database {
        action: &'static str,
        #[source]
        source: redb::Error,
    },
    #[error("the message store's entry for uid {uid} is unreadable: {reason}")]
    Corrupt { uid: u32, reason: &'static str },
    #[error("mailbox of {user} at {account} has used up every uid")]
    UidsExhausted { account: String, user: String },
    #[error("cannot draw a random uid validity")]
    Random,
    #[error("the message store's worker thread failed")]
    Worker(#[source] tokio::task::JoinError),
}

/// Wraps a redb error with the action it interrupted.
fn failed<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> StoreError {
    move |source| StoreError::Database {
        action,
        source: source.into(),
    }
}

/// The POP3 mailboxes' uids and flags, in one file; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens or creates the database file on its own, as the tests do; the
    /// bridge shares one file through [`Store::new`].
    #[cfg(test)]
    pub fn open(path: &std::path::Path) -> Result<Store, StoreError> {
        Store::new(crate::database::open(path)?)
    }

    /// The store in the bridge's database, its tables made if missing.
    pub fn new(db: Arc<Database>) -> Result<Store, StoreError> {
        let txn = db.begin_write().map_err(failed("open the tables"))?;
        // Made here so that later transactions never meet a missing table.
        txn.open_table(MAILBOXES)
            .map_err(failed("open the tables"))?;
        txn.open_table(MESSAGES)
            .map_err(failed("open the tables"))?;
        txn.commit().map_err(failed("open the tables"))?;
        Ok(Store { db })
    }

    /// Records the server's current UIDL list: each UIDL not known yet gets the next
    /// uid, ascending in the order given (the server lists oldest first, so older
    /// messages get lower uids); entries whose UIDL is not in the list are forgotten,
    /// flags and all, and their uids are never given out again. Returns every message
    /// with its uid and flags, in the order given; a UIDL listed twice gets one uid.
    ///
    /// The uid validity is made on a mailbox's first sync and stays the same as long
    /// as the store keeps the mailbox.
    pub async fn sync(
        &self,
        mailbox: &MailboxKey,
        uidls: Vec<String>,
    ) -> Result<Synced, StoreError> {
        let mailbox = mailbox.clone();
        self.run(move |db| sync(db, &mailbox, uidls)).await
    }

    /// Adds, then removes, flags on the given uids; unknown uids are skipped. Returns
    /// each known uid with its flags afterwards.
    pub async fn set_flags(
        &self,
        mailbox: &MailboxKey,
        uids: &[u32],
        add: &[Flag],
        remove: &[Flag],
    ) -> Result<Vec<(u32, Vec<Flag>)>, StoreError> {
        let mailbox = mailbox.clone();
        let (uids, add, remove) = (uids.to_vec(), add.to_vec(), remove.to_vec());
        self.run(move |db| set_flags(db, &mailbox, &uids, &add, &remove))
            .await
    }

    /// Gives out the mailbox's next uid for something the bridge keeps beside the
    /// server's messages (a draft), so that it never names a message, nor
    /// anything given out before. The mailbox is made if it is new.
    pub async fn next_uid(&self, mailbox: &MailboxKey) -> Result<u32, StoreError> {
        let mailbox = mailbox.clone();
        self.run(move |db| next_uid(db, &mailbox)).await
    }

    /// Forgets the given uids, after the server deleted their messages.
    pub async fn forget(&self, mailbox: &MailboxKey, uids: &[u32]) -> Result<(), StoreError> {
        let mailbox = mailbox.clone();
        let uids = uids.to_vec();
        self.run(move |db| forget(db, &mailbox, &uids)).await
    }

    /// Runs blocking redb work off the async threads.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(StoreError::Worker)?
    }
}

/// A mailbox's row in `mailboxes`.
#[derive(Debug, Clone, Copy)]
struct Mailbox {
    id: u64,
    uid_validity: u32,
    next_uid: u32,
}

fn find_mailbox(
    mailboxes: &Table<(&str, &str), (u64, u32, u32)>,
    key: &MailboxKey,
) -> Result<Option<Mailbox>, StoreError> {
    let row = mailboxes
        .get((key.account.as_str(), key.user.as_str()))
        .map_err(failed("read a mailbox"))?;
    Ok(row.map(|row| {
        let (id, uid_validity, next_uid) = row.value();
        Mailbox {
            id,
            uid_validity,
            next_uid,
        }
    }))
}

fn save_mailbox(
    mailboxes: &mut Table<(&str, &str), (u64, u32, u32)>,
    key: &MailboxKey,
    mailbox: Mailbox,
) -> Result<(), StoreError> {
    mailboxes
        .insert(
            (key.account.as_str(), key.user.as_str()),
            (mailbox.id, mailbox.uid_validity, mailbox.next_uid),
        )
        .map_err(failed("save a mailbox"))?;
    Ok(())
}

/// A new mailbox: the next id and a random, nonzero uid validity. Random rather than
/// the clock, so a mailbox made again after its data was lost cannot get the old value.
fn new_mailbox(txn: &WriteTransaction) -> Result<Mailbox, StoreError> {
    let mut meta = txn
        .open_table(META)
        .map_err(failed("open the meta table"))?;
    let id = meta
        .get(NEXT_MAILBOX_KEY)
        .map_err(failed("read the next mailbox id"))?
        .map_or(1, |v| v.value());
    meta.insert(NEXT_MAILBOX_KEY, id + 1)
        .map_err(failed("save the next mailbox id"))?;
    let mut bytes = [0u8; 4];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| StoreError::Random)?;
    Ok(Mailbox {
        id,
        uid_validity: u32::from_le_bytes(bytes).max(1),
        next_uid: 1,
    })
}

fn begin(db: &Database) -> Result<WriteTransaction, StoreError> {
    db.begin_write().map_err(failed("begin a transaction"))
}

/// Commits if anything changed; otherwise aborts, sparing the disk a flush.
fn finish(txn: WriteTransaction, changed: bool) -> Result<(), StoreError> {
    if changed {
        txn.commit().map_err(failed("commit"))
    } else {
        txn.abort().map_err(failed("end a transaction"))
    }
}

/// All of one mailbox's keys in `messages`.
fn range_of(mailbox: Mailbox) -> std::ops::RangeInclusive<(u64, u32)> {
    (mailbox.id, 0)..=(mailbox.id, u32::MAX)
}

fn sync(db: &Database, key: &MailboxKey, uidls: Vec<String>) -> Result<Synced, StoreError> {
    // Reading what is known, giving out uids and saving the counter all happen in this
    // one write transaction; redb runs write transactions one at a time, so two
    // sessions syncing together cannot hand out the same uid.
    let txn = begin(db)?;
    let mut changed = false;
    let synced = {
        let mut mailboxes = txn
            .open_table(MAILBOXES)
            .map_err(failed("open the mailboxes table"))?;
        let mut mailbox = match find_mailbox(&mailboxes, key)? {
            Some(mailbox) => mailbox,
            None => {
                changed = true;
                new_mailbox(&txn)?
            }
        };
        let mut messages = txn
            .open_table(MESSAGES)
            .map_err(failed("open the messages table"))?;

        let mut known: HashMap<String, (u32, Flags)> = HashMap::new();
        // Uids whose UIDL another uid also has: cannot happen through this code, but if
        // it ever did, the lower uid wins and the others go.
        let mut doubles = Vec::new();
        for entry in messages
            .range(range_of(mailbox))
            .map_err(failed("read a mailbox's messages"))?
        {
            let (k, v) = entry.map_err(failed("read a mailbox's messages"))?;
            let uid = k.value().1;
            let record = Record::decode(uid, v.value())?;
            match known.entry(record.uidl) {
                std::collections::hash_map::Entry::Occupied(_) => doubles.push(uid),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert((uid, record.flags));
                }
            }
        }

        let listed: HashSet<&str> = uidls.iter().map(String::as_str).collect();
        let gone = known
            .iter()
            .filter(|(uidl, _)| !listed.contains(uidl.as_str()))
            .map(|(_, (uid, _))| *uid);
        for uid in gone.chain(doubles) {
            messages
                .remove((mailbox.id, uid))
                .map_err(failed("forget a message"))?;
            changed = true;
        }

        let mut out = Vec::with_capacity(uidls.len());
        for uidl in uidls {
            let (uid, flags) = match known.get(&uidl) {
                Some((uid, flags)) => (*uid, flags.to_vec()),
                None => {
                    let uid = mailbox.next_uid;
                    mailbox.next_uid =
                        uid.checked_add(1)
                            .ok_or_else(|| StoreError::UidsExhausted {
                                account: key.account.clone(),
                                user: key.user.clone(),
                            })?;
                    let flags = Flags::default();
                    messages
                        .insert((mailbox.id, uid), Record::encode(&uidl, &flags).as_slice())
                        .map_err(failed("record a message"))?;
                    known.insert(uidl.clone(), (uid, flags));
                    changed = true;
                    (uid, Vec::new())
                }
            };
            out.push(Known { uidl, uid, flags });
        }
        if changed {
            save_mailbox(&mut mailboxes, key, mailbox)?;
        }
        Synced {
            mailbox_id: mailbox.id,
            uid_validity: mailbox.uid_validity,
            messages: out,
        }
    };
    finish(txn, changed)?;
    Ok(synced)
}

fn set_flags(
    db: &Database,
    key: &MailboxKey,
    uids: &[u32],
    add: &[Flag],
    remove: &[Flag],
) -> Result<Vec<(u32, Vec<Flag>)>, StoreError> {
    let txn = begin(db)?;
    let mut changed = false;
    let mut out = Vec::new();
    {
        let mailboxes = txn
            .open_table(MAILBOXES)
            .map_err(failed("open the mailboxes table"))?;
        if let Some(mailbox) = find_mailbox(&mailboxes, key)? {
            let mut messages = txn
                .open_table(MESSAGES)
                .map_err(failed("open the messages table"))?;
            let mut done = HashSet::new();
            for &uid in uids {
                if !done.insert(uid) {
                    continue;
                }
                let Some(bytes) = messages
                    .get((mailbox.id, uid))
                    .map_err(failed("read a message's flags"))?
                    .map(|v| v.value().to_vec())
                else {
                    continue;
                };
                let mut record = Record::decode(uid, &bytes)?;
                let before = record.flags.clone();
                add.iter().for_each(|flag| record.flags.add(flag));
                remove.iter().for_each(|flag| record.flags.remove(flag));
                if record.flags != before {
                    messages
                        .insert(
                            (mailbox.id, uid),
                            Record::encode(&record.uidl, &record.flags).as_slice(),
                        )
                        .map_err(failed("save a message's flags"))?;
                    changed = true;
                }
                out.push((uid, record.flags.to_vec()));
            }
        }
    }
    finish(txn, changed)?;
    Ok(out)
}

fn next_uid(db: &Database, key: &MailboxKey) -> Result<u32, StoreError> {
    let txn = begin(db)?;
    let uid = {
        let mut mailboxes = txn
            .open_table(MAILBOXES)
            .map_err(failed("open the mailboxes table"))?;
        let mut mailbox = match find_mailbox(&mailboxes, key)? {
            Some(mailbox) => mailbox,
            None => new_mailbox(&txn)?,
        };
        let uid = mailbox.next_uid;
        mailbox.next_uid = uid
            .checked_add(1)
            .ok_or_else(|| StoreError::UidsExhausted {
                account: key.account.clone(),
                user: key.user.clone(),
            })?;
        save_mailbox(&mut mailboxes, key, mailbox)?;
        uid
    };
    finish(txn, true)?;
    Ok(uid)
}

fn forget(db: &Database, key: &MailboxKey, uids: &[u32]) -> Result<(), StoreError> {
    let txn = begin(db)?;
    let mut changed = false;
    {
        let mailboxes = txn
            .open_table(MAILBOXES)
            .map_err(failed("open the mailboxes table"))?;
        if let Some(mailbox) = find_mailbox(&mailboxes, key)? {
            let mut messages = txn
                .open_table(MESSAGES)
                .map_err(failed("open the messages table"))?;
            for &uid in uids {
                changed |= messages
                    .remove((mailbox.id, uid))
                    .map_err(failed("forget a message"))?
                    .is_some();
            }
        }
    }
    finish(txn, changed)
}

/// A message's flags: the fixed ones as bits, keywords in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Flags {
    bits: u8,
    keywords: Vec<String>,
}

/// The fixed flags and their bits in a record. Bits are part of the stored format:
/// never renumber, only add.
const BITS: [(Flag, u8); 6] = [
    (Flag::Seen, 1),
    (Flag::Answered, 2),
    (Flag::Flagged, 4),
    (Flag::Deleted, 8),
    (Flag::Draft, 16),
    (Flag::Forwarded, 32),
];
const ALL_BITS: u8 = 63;

impl Flags {
    fn bit(flag: &Flag) -> Option<u8> {
        BITS.iter().find(|(f, _)| f == flag).map(|(_, bit)| *bit)
    }

    fn add(&mut self, flag: &Flag) {
        match (flag, Self::bit(flag)) {
            (_, Some(bit)) => self.bits |= bit,
            (Flag::Keyword(word), None) => {
                if !self.keywords.contains(word) {
                    self.keywords.push(word.clone());
                }
            }
            (_, None) => {}
        }
    }

    fn remove(&mut self, flag: &Flag) {
        match (flag, Self::bit(flag)) {
            (_, Some(bit)) => self.bits &= !bit,
            (Flag::Keyword(word), None) => self.keywords.retain(|k| k != word),
            (_, None) => {}
        }
    }

    fn to_vec(&self) -> Vec<Flag> {
        BITS.iter()
            .filter(|(_, bit)| self.bits & bit != 0)
            .map(|(flag, _)| flag.clone())
            .chain(self.keywords.iter().cloned().map(Flag::Keyword))
            .collect()
    }
}

/// A `messages` value. Version 1: the version byte, the flag bits, then the UIDL and
/// each keyword as a little-endian u32 length and that many bytes.
#[derive(Debug, PartialEq, Eq)]
struct Record {
    uidl: String,
    flags: Flags,
}

const RECORD_V1: u8 = 1;

impl Record {
    fn encode(uidl: &str, flags: &Flags) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            6 + uidl.len() + flags.keywords.iter().map(|k| 4 + k.len()).sum::<usize>(),
        );
        out.push(RECORD_V1);
        out.push(flags.bits);
        for text in std::iter::once(uidl).chain(flags.keywords.iter().map(String::as_str)) {
            // A length past u32 cannot reach here: redb refuses values over 3 GiB.
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    fn decode(uid: u32, bytes: &[u8]) -> Result<Record, StoreError> {
        let corrupt = |reason| StoreError::Corrupt { uid, reason };
        let [version, bits, rest @ ..] = bytes else {
            return Err(corrupt("too short"));
        };
        let mut rest = rest;
        if *version != RECORD_V1 {
            return Err(corrupt("unknown record version"));
        }
        if bits & !ALL_BITS != 0 {
            return Err(corrupt("unknown flag bits"));
        }
        let mut texts = Vec::new();
        while !rest.is_empty() {
            let (len, after) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| corrupt("cut off"))?;
            let len = u32::from_le_bytes(*len) as usize;
            if after.len() < len {
                return Err(corrupt("cut off"));
            }
            let (text, after) = after.split_at(len);
            let text = std::str::from_utf8(text).map_err(|_| corrupt("not UTF-8"))?;
            texts.push(text.to_owned());
            rest = after;
        }
        let mut texts = texts.into_iter();
        let uidl = texts.next().ok_or_else(|| corrupt("no UIDL"))?;
        Ok(Record {
            uidl,
            flags: Flags {
                bits: *bits,
                keywords: texts.collect(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A store in a new file; the folder goes when the first value is dropped.
    fn fresh() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("s.redb")).expect("open");
        (dir, store)
    }

    fn mailbox(account: &str, user: &str) -> MailboxKey {
        MailboxKey {
            account: account.into(),
            user: user.into(),
        }
    }

    fn uidls(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn uids(synced: &Synced) -> Vec<u32> {
        synced.messages.iter().map(|m| m.uid).collect()
    }

    fn label(word: &str) -> Flag {
        Flag::Keyword(word.into())
    }

    #[tokio::test]
    async fn uids_ascend_and_survive_resync_and_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A folder that does not exist yet: open makes it.
        let path = dir.path().join("state").join("pop3.redb");
        let inbox = mailbox("example", "alice");
        let first = {
            let store = Store::open(&path).expect("open");
            let first = store
                .sync(&inbox, uidls(&["a", "b", "c"]))
                .await
                .expect("sync");
            assert_ne!(first.uid_validity, 0);
            assert_eq!(uids(&first), [1, 2, 3]);
            assert!(first.messages.iter().all(|m| m.flags.is_empty()));
            let again = store
                .sync(&inbox, uidls(&["a", "b", "c"]))
                .await
                .expect("sync again");
            assert_eq!(again, first);
            first
        };
        let store = Store::open(&path).expect("reopen");
        let reopened = store
            .sync(&inbox, uidls(&["a", "b", "c"]))
            .await
            .expect("sync after reopening");
        assert_eq!(reopened, first);
    }

    #[tokio::test]
    async fn a_uid_given_out_beside_the_messages_is_never_a_messages() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        // A mailbox never synced is made by the first uid given out.
        assert_eq!(store.next_uid(&inbox).await.expect("uid"), 1);
        let synced = store.sync(&inbox, uidls(&["a", "b"])).await.expect("sync");
        assert_eq!(uids(&synced), [2, 3]);
        assert_eq!(store.next_uid(&inbox).await.expect("uid"), 4);
        let more = store
            .sync(&inbox, uidls(&["a", "b", "c"]))
            .await
            .expect("sync");
        assert_eq!(uids(&more), [2, 3, 5]);
        assert_eq!(more.mailbox_id, synced.mailbox_id);
        let other = store
            .sync(&mailbox("example", "bob"), uidls(&["a"]))
            .await
            .expect("sync");
        assert_ne!(other.mailbox_id, synced.mailbox_id);
    }

    #[tokio::test]
    async fn new_uidls_get_higher_uids_in_the_order_given() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        store.sync(&inbox, uidls(&["a", "b"])).await.expect("sync");
        let more = store
            .sync(&inbox, uidls(&["a", "b", "c", "d"]))
            .await
            .expect("sync");
        assert_eq!(uids(&more), [1, 2, 3, 4]);
        let names: Vec<&str> = more.messages.iter().map(|m| m.uidl.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }

    #[tokio::test]
    async fn pruning_drops_gone_uidls_and_their_flags_and_never_reuses_uids() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        let first = store
            .sync(&inbox, uidls(&["a", "b", "c"]))
            .await
            .expect("sync");
        store
            .set_flags(&inbox, &[2], &[Flag::Seen, label("work")], &[])
            .await
            .expect("flag b");
        // "b" leaves the server, then comes back (say, restored from a backup): it is a
        // new message to the store, with a new uid and no flags.
        let pruned = store
            .sync(&inbox, uidls(&["a", "c"]))
            .await
            .expect("sync without b");
        assert_eq!(uids(&pruned), [1, 3]);
        assert_eq!(
            store
                .set_flags(&inbox, &[2], &[Flag::Flagged], &[])
                .await
                .expect("flag gone"),
            []
        );
        let back = store
            .sync(&inbox, uidls(&["a", "b", "c", "d"]))
            .await
            .expect("sync with b again");
        assert_eq!(uids(&back), [1, 4, 3, 5]);
        assert!(back.messages[1].flags.is_empty());
        assert_eq!(back.uid_validity, first.uid_validity);

        // Pruning everything keeps the counter.
        let empty = store.sync(&inbox, Vec::new()).await.expect("sync empty");
        assert!(empty.messages.is_empty());
        let after = store.sync(&inbox, uidls(&["a"])).await.expect("sync");
        assert_eq!(uids(&after), [6]);
        assert_eq!(after.uid_validity, first.uid_validity);
    }

    #[tokio::test]
    async fn flags_are_set_removed_and_kept_after_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.redb");
        let inbox = mailbox("example", "alice");
        {
            let store = Store::open(&path).expect("open");
            store
                .sync(&inbox, uidls(&["a", "b", "c"]))
                .await
                .expect("sync");
            let changed = store
                .set_flags(
                    &inbox,
                    &[1, 3, 99, 1],
                    &[Flag::Seen, Flag::Flagged, label("work"), label("home")],
                    &[],
                )
                .await
                .expect("add");
            let all = vec![Flag::Seen, Flag::Flagged, label("work"), label("home")];
            assert_eq!(changed, [(1, all.clone()), (3, all)]);
            let changed = store
                .set_flags(
                    &inbox,
                    &[3],
                    &[Flag::Answered],
                    &[Flag::Seen, label("work")],
                )
                .await
                .expect("remove");
            assert_eq!(
                changed,
                [(3, vec![Flag::Answered, Flag::Flagged, label("home")])]
            );
            // Adding and removing the same flag at once leaves it off.
            let changed = store
                .set_flags(&inbox, &[2], &[Flag::Draft], &[Flag::Draft])
                .await
                .expect("add and remove");
            assert_eq!(changed, [(2, vec![])]);
        }
        let store = Store::open(&path).expect("reopen");
        let synced = store
            .sync(&inbox, uidls(&["a", "b", "c"]))
            .await
            .expect("sync");
        let flags: Vec<Vec<Flag>> = synced.messages.into_iter().map(|m| m.flags).collect();
        assert_eq!(
            flags,
            [
                vec![Flag::Seen, Flag::Flagged, label("work"), label("home")],
                vec![],
                vec![Flag::Answered, Flag::Flagged, label("home")],
            ]
        );
    }

    #[tokio::test]
    async fn forgotten_uids_are_gone_and_not_reused() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        store
            .sync(&inbox, uidls(&["a", "b", "c"]))
            .await
            .expect("sync");
        store.forget(&inbox, &[2, 42]).await.expect("forget");
        let unknown = mailbox("example", "nobody");
        store.forget(&unknown, &[1]).await.expect("forget unknown");
        let synced = store
            .sync(&inbox, uidls(&["a", "c", "e"]))
            .await
            .expect("sync");
        assert_eq!(uids(&synced), [1, 3, 4]);
    }

    #[tokio::test]
    async fn mailboxes_are_independent() {
        let (_dir, store) = fresh();
        let alice = mailbox("example", "alice");
        let bob = mailbox("example", "bob");
        let other_alice = mailbox("other", "alice");
        // Names that a naive "account:user" key would confuse.
        let tricky = mailbox("example:alice", "");
        let a = store.sync(&alice, uidls(&["x", "y"])).await.expect("alice");
        let b = store.sync(&bob, uidls(&["y", "z"])).await.expect("bob");
        let o = store
            .sync(&other_alice, uidls(&["x"]))
            .await
            .expect("other alice");
        let t = store.sync(&tricky, uidls(&["x"])).await.expect("tricky");
        assert_eq!(uids(&a), [1, 2]);
        assert_eq!(uids(&b), [1, 2]);
        assert_eq!(uids(&o), [1]);
        assert_eq!(uids(&t), [1]);

        store
            .set_flags(&bob, &[1], &[Flag::Seen], &[])
            .await
            .expect("flag bob's y");
        // Bob's server emptied: Alice's mailboxes keep everything.
        store.sync(&bob, Vec::new()).await.expect("empty bob");
        let a2 = store
            .sync(&alice, uidls(&["x", "y"]))
            .await
            .expect("alice again");
        assert_eq!(a2, a);
        let o2 = store
            .sync(&other_alice, uidls(&["x"]))
            .await
            .expect("other again");
        assert_eq!(o2, o);
        let t2 = store.sync(&tricky, uidls(&["x"])).await.expect("tricky");
        assert_eq!(t2, t);
    }

    #[tokio::test]
    async fn uidls_are_opaque() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        let odd = vec![
            "\u{0}".to_string(),
            "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./".to_string(),
            "ÿ€\u{1F4EC}".to_string(),
            "x".repeat(70),
            "A".to_string(),
            "a".to_string(),
            "\u{0}\u{0}".to_string(),
            String::new(),
        ];
        let first = store.sync(&inbox, odd.clone()).await.expect("sync");
        assert_eq!(uids(&first), (1..=8).collect::<Vec<_>>());
        let names: Vec<String> = first.messages.iter().map(|m| m.uidl.clone()).collect();
        assert_eq!(names, odd);
        let mut reversed = odd.clone();
        reversed.reverse();
        let again = store.sync(&inbox, reversed).await.expect("sync reversed");
        assert_eq!(uids(&again), (1..=8).rev().collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_uidl_listed_twice_gets_one_uid() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        let synced = store
            .sync(&inbox, uidls(&["a", "b", "a"]))
            .await
            .expect("sync");
        assert_eq!(uids(&synced), [1, 2, 1]);
    }

    #[tokio::test]
    async fn twenty_thousand_uidls() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        let many: Vec<String> = (0..20_000).map(|i| format!("uidl-{i:08}")).collect();

        let start = Instant::now();
        let first = store.sync(&inbox, many.clone()).await.expect("first sync");
        println!("first sync of 20,000 UIDLs: {:?}", start.elapsed());
        assert_eq!(uids(&first), (1..=20_000).collect::<Vec<_>>());

        let start = Instant::now();
        let again = store.sync(&inbox, many.clone()).await.expect("resync");
        println!("resync of 20,000 known UIDLs: {:?}", start.elapsed());
        assert_eq!(again, first);

        let start = Instant::now();
        let fewer = store
            .sync(&inbox, many[10..].to_vec())
            .await
            .expect("sync after 10 deletions");
        println!("resync pruning 10 of 20,000: {:?}", start.elapsed());
        assert_eq!(fewer.messages.len(), 19_990);
        assert_eq!(fewer.messages[0].uid, 11);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_syncs_agree_on_uids() {
        let (_dir, store) = fresh();
        let inbox = mailbox("example", "alice");
        let list: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();

        // Two sessions with the same view of the server: identical answers.
        let (one, two) = tokio::join!(
            tokio::spawn({
                let (store, inbox, list) = (store.clone(), inbox.clone(), list.clone());
                async move { store.sync(&inbox, list).await }
            }),
            tokio::spawn({
                let (store, inbox, list) = (store.clone(), inbox.clone(), list.clone());
                async move { store.sync(&inbox, list).await }
            }),
        );
        let one = one.expect("task one").expect("sync one");
        let two = two.expect("task two").expect("sync two");
        assert_eq!(one, two);
        assert_eq!(uids(&one), (1..=500).collect::<Vec<_>>());

        // Sessions whose views differ race many times (one sees 100 more messages, so
        // the other prunes them): a uid must never stand for two different UIDLs.
        let longer: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
        let mut tasks = Vec::new();
        for round in 0..20 {
            let list = if round % 2 == 0 {
                list.clone()
            } else {
                longer.clone()
            };
            let (store, inbox) = (store.clone(), inbox.clone());
            tasks.push(tokio::spawn(async move { store.sync(&inbox, list).await }));
        }
        let mut meaning: HashMap<u32, String> = HashMap::new();
        for task in tasks {
            let synced = task.await.expect("task").expect("sync");
            assert_eq!(synced.uid_validity, one.uid_validity);
            let mut seen = HashSet::new();
            for known in synced.messages {
                assert!(
                    seen.insert(known.uid),
                    "uid {} twice in one sync",
                    known.uid
                );
                let uidl = meaning
                    .entry(known.uid)
                    .or_insert_with(|| known.uidl.clone());
                assert_eq!(*uidl, known.uidl, "uid {} given to two UIDLs", known.uid);
            }
        }
        // The first 500 never left any list, so they kept their uids throughout.
        let last = store.sync(&inbox, list).await.expect("final sync");
        assert_eq!(last.messages, one.messages);
    }

    #[test]
    fn records_round_trip_and_refuse_garbage() {
        let flags = Flags {
            bits: 1 | 32,
            keywords: vec!["work".into(), String::new(), "ünïcode".into()],
        };
        let bytes = Record::encode("some uidl", &flags);
        assert_eq!(
            Record::decode(7, &bytes).expect("decodes"),
            Record {
                uidl: "some uidl".into(),
                flags: flags.clone(),
            }
        );
        assert_eq!(
            flags.to_vec(),
            [
                Flag::Seen,
                Flag::Forwarded,
                label("work"),
                label(""),
                label("ünïcode")
            ]
        );
        for garbage in [
            &[][..],
            &[RECORD_V1][..],
            &[RECORD_V1, 0][..],
            &[2, 0, 0, 0, 0, 0][..],
            &[RECORD_V1, 64, 0, 0, 0, 0][..],
            &[RECORD_V1, 0, 5, 0, 0, 0, b'a'][..],
            &[RECORD_V1, 0, 1, 0, 0][..],
            &[RECORD_V1, 0, 1, 0, 0, 0, 0xff][..],
        ] {
            assert!(
                matches!(
                    Record::decode(7, garbage),
                    Err(StoreError::Corrupt { uid: 7, .. })
                ),
                "{garbage:?}"
            );
        }
    }
}
