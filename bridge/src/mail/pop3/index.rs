//! Search for POP3 mailboxes, which have no SEARCH: a full-text index (SQLite's
//! FTS5) of what the bridge has seen of each message, kept beside the POP3 store
//! in `data_dir` (`pop3-index.sqlite`), so it outlives restarts.
//!
//! Every listed message's headers go in as the list reads them (`TOP n 0`), and
//! a message's text once it is retrieved (opened, downloaded), so a body word
//! finds only messages whose bodies the bridge has had; [`Index::bodies`] says
//! which. Tables:
//!
//! - `docs`: one row per (mailbox id, uid validity, uid): the `Date` header as
//!   seconds, the size, whether it has attachments, whether its body is in.
//! - `text`: FTS5 over sender, recipients, cc, subject and body, by `docs` rowid.
//!   Tokens are Unicode words without diacritics, so "Köln" finds "koln".

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

/// The most text of one message's body that is indexed.
const MAX_BODY_TEXT: usize = 512 << 10;

#[derive(Debug, thiserror::Error)]
#[error("the POP3 search index: {0}")]
pub struct IndexError(#[from] rusqlite::Error);

/// A field the index can match text in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Sender, recipients, subject and body.
    Any,
    From,
    To,
    Cc,
    Subject,
    Body,
}

impl Field {
    fn columns(self) -> &'static str {
        match self {
            Field::Any => "{sender recipients cc subject body}",
            Field::From => "sender",
            Field::To => "recipients",
            Field::Cc => "cc",
            Field::Subject => "subject",
            Field::Body => "body",
        }
    }
}

/// What the index takes of one message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub sender: String,
    pub recipients: String,
    pub cc: String,
    pub subject: String,
    pub date: i64,
    /// The text of its body, when the whole message was read.
    pub body: Option<String>,
    pub attachment: bool,
}

impl Indexed {
    /// From a message's header block, or (with `whole`) from the whole message.
    pub fn of(raw: &[u8], whole: bool) -> Indexed {
        let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
            return Indexed {
                body: whole.then(String::new),
                ..Indexed::default()
            };
        };
        let people = |list: Option<&mail_parser::Address>| {
            list.map(|a| {
                a.iter()
                    .map(|a| {
                        format!(
                            "{} {}",
                            a.name().unwrap_or_default(),
                            a.address().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
        };
        let body = whole.then(|| {
            let mut text = String::new();
            for at in 0..message.text_body.len() {
                if let Some(part) = message.body_text(at) {
                    text.push_str(&part);
                    text.push('\n');
                }
                if text.len() > MAX_BODY_TEXT {
                    break;
                }
            }
            if text.len() > MAX_BODY_TEXT {
                let mut end = MAX_BODY_TEXT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            text
        });
        Indexed {
            sender: people(message.from()),
            recipients: people(message.to()),
            cc: people(message.cc()),
            subject: message.subject().unwrap_or_default().to_owned(),
            date: message
                .date()
                .map_or(0, mail_parser::DateTime::to_timestamp),
            attachment: whole && message.attachment_count() > 0,
            body,
        }
    }
}

/// What the index knows of one message beside its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub uid: u32,
    pub date: i64,
    pub size: u32,
    pub attachment: bool,
    pub bodied: bool,
}

/// The index; cheap to clone, shared by every maildrop.
#[derive(Clone)]
pub struct Index {
    db: Arc<Mutex<Connection>>,
}

impl Index {
    /// The index in the file at `path`, made if missing.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        Index::with(Connection::open(path)?)
    }

    /// An index that lasts as long as the process.
    #[cfg(test)]
    pub fn in_memory() -> Result<Index, IndexError> {
        Index::with(Connection::open_in_memory()?)
    }

    fn with(db: Connection) -> Result<Index, IndexError> {
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS docs(
                 id INTEGER PRIMARY KEY,
                 mailbox INTEGER NOT NULL, validity INTEGER NOT NULL, uid INTEGER NOT NULL,
                 date INTEGER NOT NULL, size INTEGER NOT NULL,
                 attachment INTEGER NOT NULL, bodied INTEGER NOT NULL,
                 UNIQUE(mailbox, validity, uid));
             CREATE VIRTUAL TABLE IF NOT EXISTS text USING fts5(
                 sender, recipients, cc, subject, body,
                 tokenize = 'unicode61 remove_diacritics 2');",
        )?;
        Ok(Index {
            db: Arc::new(Mutex::new(db)),
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes in what was read of message `uid`; a body already in stays unless
    /// a new one comes.
    pub fn put(
        &self,
        (mailbox, validity): (u64, u32),
        uid: u32,
        size: u32,
        message: &Indexed,
    ) -> Result<(), IndexError> {
        let mut db = self.db();
        let txn = db.transaction()?;
        let known: Option<(i64, bool, bool)> = txn
            .query_row(
                "SELECT id, attachment, bodied FROM docs WHERE mailbox = ?1 AND validity = ?2 AND uid = ?3",
                params![mailbox as i64, validity, uid],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let (attachment, bodied) = match (&message.body, known) {
            (Some(_), _) => (message.attachment, true),
            (None, Some((_, attachment, bodied))) => (attachment, bodied),
            (None, None) => (false, false),
        };
        let old_body: Option<String> = match known {
            Some((id, _, true)) if message.body.is_none() => txn
                .query_row("SELECT body FROM text WHERE rowid = ?1", [id], |row| {
                    row.get(0)
                })
                .optional()?,
            _ => None,
        };
        if let Some((id, ..)) = known {
            txn.execute("DELETE FROM text WHERE rowid = ?1", [id])?;
            txn.execute("DELETE FROM docs WHERE id = ?1", [id])?;
        }
        txn.execute(
            "INSERT INTO docs(mailbox, validity, uid, date, size, attachment, bodied)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                mailbox as i64,
                validity,
                uid,
                message.date,
                size,
                attachment,
                bodied
            ],
        )?;
        let id = txn.last_insert_rowid();
        let body = message.body.clone().or(old_body).unwrap_or_default();
        txn.execute(
            "INSERT INTO text(rowid, sender, recipients, cc, subject, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                message.sender,
                message.recipients,
                message.cc,
                message.subject,
                body
            ],
        )?;
        txn.commit()?;
        Ok(())
    }

    /// What is known of the messages of a mailbox (with this uid validity).
    pub fn facts(&self, (mailbox, validity): (u64, u32)) -> Result<Vec<Facts>, IndexError> {
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT uid, date, size, attachment, bodied FROM docs WHERE mailbox = ?1 AND validity = ?2",
        )?;
        let rows = query.query_map(params![mailbox as i64, validity], |row| {
            Ok(Facts {
                uid: row.get(0)?,
                date: row.get(1)?,
                size: row.get(2)?,
                attachment: row.get(3)?,
                bodied: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The messages of a mailbox whose `field` holds `text`: its words in order,
    /// the last one also as the start of a word.
    pub fn matching(
        &self,
        (mailbox, validity): (u64, u32),
        field: Field,
        text: &str,
    ) -> Result<HashSet<u32>, IndexError> {
        // A quoted FTS5 string: its words form a phrase; nothing in it is syntax.
        let words: String = text
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect();
        let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
        if words.is_empty() {
            return Ok(HashSet::new());
        }
        let expression = format!("{} : \"{words}\" *", field.columns());
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT docs.uid FROM text JOIN docs ON docs.id = text.rowid
             WHERE text MATCH ?1 AND docs.mailbox = ?2 AND docs.validity = ?3",
        )?;
        let rows = query.query_map(params![expression, mailbox as i64, validity], |row| {
            row.get(0)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the messages of a mailbox not in `listed` (deleted from the
    /// server), and those of its other uid validities.
    pub fn keep_only(
        &self,
        (mailbox, validity): (u64, u32),
        listed: &HashSet<u32>,
    ) -> Result<(), IndexError> {
        let mut db = self.db();
        let txn = db.transaction()?;
        let gone: Vec<i64> = {
            let mut query = txn.prepare("SELECT id, validity, uid FROM docs WHERE mailbox = ?1")?;
            let rows = query.query_map([mailbox as i64], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, u32>(1)?, row.get(2)?))
            })?;
            rows.filter_map(Result::ok)
                .filter(|(_, v, uid)| *v != validity || !listed.contains(uid))
                .map(|(id, ..)| id)
                .collect()
        };
        for id in gone {
            txn.execute("DELETE FROM text WHERE rowid = ?1", [id])?;
            txn.execute("DELETE FROM docs WHERE id = ?1", [id])?;
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOX: (u64, u32) = (1, 7);

    fn message(from: &str, subject: &str, body: Option<&str>) -> Indexed {
        Indexed {
            sender: from.into(),
            subject: subject.into(),
            body: body.map(str::to_owned),
            ..Indexed::default()
        }
    }

    #[test]
    fn words_of_each_field_are_found_and_bodies_stay() {
        let index = Index::in_memory().expect("index");
        index
            .put(
                BOX,
                1,
                10,
                &message("Bob bob@example.org", "Grüße aus Köln", None),
            )
            .expect("put");
        index
            .put(
                BOX,
                2,
                10,
                &message("Ann ann@example.org", "Lunch", Some("Pizza at noon")),
            )
            .expect("put");
        // Headers read again later leave the body in.
        index
            .put(BOX, 2, 10, &message("Ann ann@example.org", "Lunch", None))
            .expect("put");
        let find = |field, text: &str| {
            let mut found: Vec<u32> = index
                .matching(BOX, field, text)
                .expect("match")
                .into_iter()
                .collect();
            found.sort_unstable();
            found
        };
        assert_eq!(find(Field::From, "bob@example.org"), [1]);
        assert_eq!(find(Field::Subject, "koln"), [1]);
        assert_eq!(find(Field::Any, "piz"), [2]);
        assert_eq!(find(Field::Body, "pizza"), [2]);
        assert!(find(Field::Body, "Köln").is_empty());
        // Syntax in what is typed is only text.
        assert!(find(Field::Any, "\") OR body:*").is_empty());
        assert!(find(Field::Any, "NEAR(a b)").is_empty());
        assert!(find(Field::Any, "\"").is_empty());
        let facts = index.facts(BOX).expect("facts");
        assert_eq!(facts.iter().filter(|f| f.bodied).count(), 1);
        // Another uid validity is another mailbox.
        assert!(
            index
                .matching((1, 8), Field::Any, "lunch")
                .expect("match")
                .is_empty()
        );
        index.keep_only(BOX, &HashSet::from([2])).expect("keep");
        assert!(find(Field::From, "bob").is_empty());
        assert_eq!(find(Field::From, "ann"), [2]);
    }

    #[test]
    fn messages_are_read_for_the_index() {
        let raw = b"From: =?UTF-8?Q?Mar=C3=ADa?= <maria@x.example>\r\nTo: a@x.example\r\nCc: c@x.example\r\nSubject: Offsite\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nThe lighthouse.\r\n";
        let whole = Indexed::of(raw, true);
        assert_eq!(whole.sender, "María maria@x.example");
        assert_eq!(whole.cc, " c@x.example");
        assert_eq!(whole.subject, "Offsite");
        assert_eq!(whole.date, 1_796_634_000);
        assert!(
            whole
                .body
                .as_deref()
                .is_some_and(|b| b.contains("lighthouse"))
        );
        assert_eq!(Indexed::of(raw, false).body, None);
    }
}
