//! What the bridge keeps of each user beyond a session: the identities they send as
//! and their preferences (set in Settings, shared by all of their browsers), and
//! the people they wrote to and read from, which the compose form suggests as
//! they type. Kept per account
//! and user in the bridge's database ([`crate::database`]); one user's entries are
//! never read for another. Tables:
//!
//! - `identities`: `(account, user) -> JSON list of identities`, in order, the
//!   default first. No entry: the default identity only.
//! - `preferences`: `(account, user) -> JSON preferences`. No entry: the defaults.
//! - `people`: `(account, user, address in lower case) -> (score, at, name)`. The
//!   score adds [`WROTE_TO`] or [`READ_FROM`] at every contact and halves every
//!   [`HALF_LIFE`], counted from `at` (seconds since the epoch), so that it ranks
//!   by frequency and recency at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::{Address, Identity, MAX_SUGGESTIONS, Preferences};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const IDENTITIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("identities");
const PREFERENCES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("preferences");
const PEOPLE: TableDefinition<(&str, &str, &str), (f64, u64, &str)> =
    TableDefinition::new("people");

/// What writing to someone adds to their score; reading a message from them adds
/// [`READ_FROM`].
pub const WROTE_TO: f64 = 3.0;
pub const READ_FROM: f64 = 1.0;
/// A score halves in this time without contact.
pub const HALF_LIFE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most people kept per user; beyond it the lowest scores go.
pub const MAX_PEOPLE: usize = 2_000;
/// The longest name kept for a person.
const MAX_NAME: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot {action} in the bridge's database")]
    Database {
        action: &'static str,
        #[source]
        source: redb::Error,
    },
    #[error("the saved identities or preferences are unreadable")]
    Corrupt(#[source] serde_json::Error),
    #[error("the profile's worker thread failed")]
    Worker(#[source] tokio::task::JoinError),
}

fn failed<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> ProfileError {
    move |source| ProfileError::Database {
        action,
        source: source.into(),
    }
}

/// Every user's profile, in the bridge's database; cheap to clone.
#[derive(Clone)]
pub struct Profiles {
    db: Arc<Database>,
}

impl Profiles {
    /// The profiles in `db`, their tables made if missing.
    pub fn new(db: Arc<Database>) -> Result<Self, ProfileError> {
        let txn = db.begin_write().map_err(failed("open the tables"))?;
        txn.open_table(IDENTITIES)
            .map_err(failed("open the tables"))?;
        txn.open_table(PREFERENCES)
            .map_err(failed("open the tables"))?;
        txn.open_table(PEOPLE).map_err(failed("open the tables"))?;
        txn.commit().map_err(failed("open the tables"))?;
        Ok(Profiles { db })
    }

    /// The profile of `user` at `account`.
    pub fn of(&self, account: &str, user: &str) -> Profile {
        Profile {
            db: Arc::clone(&self.db),
            key: Arc::new((account.to_owned(), user.to_owned())),
        }
    }
}

/// One user's profile.
#[derive(Clone)]
pub struct Profile {
    db: Arc<Database>,
    /// Account and user.
    key: Arc<(String, String)>,
}

impl Profile {
    /// The identities saved in Settings; `None` when none were.
    pub async fn identities(&self) -> Result<Option<Vec<Identity>>, ProfileError> {
        self.run(|db, (account, user)| {
            let txn = db.begin_read().map_err(failed("read identities"))?;
            let table = txn
                .open_table(IDENTITIES)
                .map_err(failed("read identities"))?;
            let Some(json) = table
                .get((account, user))
                .map_err(failed("read identities"))?
            else {
                return Ok(None);
            };
            serde_json::from_slice(json.value())
                .map(Some)
                .map_err(ProfileError::Corrupt)
        })
        .await
    }

    /// Keeps `identities` (already checked), replacing those saved before.
    pub async fn save_identities(&self, identities: Vec<Identity>) -> Result<(), ProfileError> {
        self.run(move |db, (account, user)| {
            let json = serde_json::to_vec(&identities).map_err(ProfileError::Corrupt)?;
            let txn = db.begin_write().map_err(failed("save identities"))?;
            txn.open_table(IDENTITIES)
                .map_err(failed("save identities"))?
                .insert((account, user), json.as_slice())
                .map_err(failed("save identities"))?;
            txn.commit().map_err(failed("save identities"))
        })
        .await
    }

    /// The preferences saved in Settings; the defaults when none were.
    pub async fn preferences(&self) -> Result<Preferences, ProfileError> {
        self.run(|db, (account, user)| {
            let txn = db.begin_read().map_err(failed("read preferences"))?;
            let table = txn
                .open_table(PREFERENCES)
                .map_err(failed("read preferences"))?;
            match table
                .get((account, user))
                .map_err(failed("read preferences"))?
            {
                None => Ok(Preferences::default()),
                Some(json) => serde_json::from_slice(json.value()).map_err(ProfileError::Corrupt),
            }
        })
        .await
    }

    /// Keeps `preferences`, replacing those saved before.
    pub async fn save_preferences(&self, preferences: Preferences) -> Result<(), ProfileError> {
        self.run(move |db, (account, user)| {
            let json = serde_json::to_vec(&preferences).map_err(ProfileError::Corrupt)?;
            let txn = db.begin_write().map_err(failed("save preferences"))?;
            txn.open_table(PREFERENCES)
                .map_err(failed("save preferences"))?
                .insert((account, user), json.as_slice())
                .map_err(failed("save preferences"))?;
            txn.commit().map_err(failed("save preferences"))
        })
        .await
    }

    /// Notes a contact with `people`, adding `weight` to each one's score. It is
    /// written in the background: nobody waits for it, and a failure is logged.
    pub fn note(&self, people: Vec<Address>, weight: f64) {
        if people.is_empty() {
            return;
        }
        let profile = self.clone();
        tokio::spawn(async move {
            let now = now();
            let noted = profile
                .run(move |db, (account, user)| note(db, account, user, &people, weight, now))
                .await;
            if let Err(error) = noted {
                tracing::warn!(error = %crate::session::ErrorChain(&error), "a contact was not noted");
            }
        });
    }

    /// The people whose address, a word of whose name, or a piece of whose address
    /// (between dots, dashes, underscores and plus signs) starts with `text`, the
    /// highest scores first; at most [`MAX_SUGGESTIONS`].
    pub async fn suggest(&self, text: &str) -> Result<Vec<Address>, ProfileError> {
        let text = text.trim().to_lowercase();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let now = now();
        self.run(move |db, (account, user)| {
            let txn = db.begin_read().map_err(failed("read people"))?;
            let table = txn.open_table(PEOPLE).map_err(failed("read people"))?;
            let mut found = Vec::new();
            for entry in table
                .range((account, user, "")..)
                .map_err(failed("read people"))?
            {
                let (key, value) = entry.map_err(failed("read people"))?;
                let (a, u, email) = key.value();
                if a != account || u != user {
                    break;
                }
                let (score, at, name) = value.value();
                if matches(&text, email, name) {
                    found.push((decayed(score, at, now), address(email, name)));
                }
            }
            found.sort_by(|a, b| b.0.total_cmp(&a.0));
            Ok(found
                .into_iter()
                .take(MAX_SUGGESTIONS)
                .map(|(_, a)| a)
                .collect())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database, (&str, &str)) -> Result<T, ProfileError> + Send + 'static,
    ) -> Result<T, ProfileError> {
        let (db, key) = (Arc::clone(&self.db), Arc::clone(&self.key));
        tokio::task::spawn_blocking(move || work(&db, (&key.0, &key.1)))
            .await
            .map_err(ProfileError::Worker)?
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `score`, noted at `at`, as it stands at `now`.
fn decayed(score: f64, at: u64, now: u64) -> f64 {
    let halvings = now.saturating_sub(at) as f64 / HALF_LIFE.as_secs() as f64;
    score * 0.5f64.powf(halvings)
}

fn address(email: &str, name: &str) -> Address {
    Address {
        name: (!name.is_empty()).then(|| name.to_owned()),
        email: email.to_owned(),
    }
}

fn matches(text: &str, email: &str, name: &str) -> bool {
    let pieces = |s: &str| {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    let local = email.split('@').next().unwrap_or_default();
    email.starts_with(text)
        || pieces(name).iter().any(|w| w.starts_with(text))
        || pieces(local).iter().any(|w| w.starts_with(text))
        || name.to_lowercase().starts_with(text)
}

fn note(
    db: &Database,
    account: &str,
    user: &str,
    people: &[Address],
    weight: f64,
    now: u64,
) -> Result<(), ProfileError> {
    let txn = db.begin_write().map_err(failed("note a contact"))?;
    {
        let mut table = txn.open_table(PEOPLE).map_err(failed("note a contact"))?;
        for person in people {
            let email = person.email.trim().to_lowercase();
            if protocol::address_problem(&email).is_some() {
                continue;
            }
            let (score, name) = match table
                .get((account, user, email.as_str()))
                .map_err(failed("note a contact"))?
            {
                Some(old) => {
                    let (score, at, name) = old.value();
                    (decayed(score, at, now), name.to_owned())
                }
                None => (0.0, String::new()),
            };
            // The latest name given wins; a contact without one keeps the old.
            let name = person
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty() && !n.contains(['\r', '\n', '\0']))
                .map(|n| n.chars().take(MAX_NAME).collect())
                .unwrap_or(name);
            table
                .insert(
                    (account, user, email.as_str()),
                    (score + weight, now, name.as_str()),
                )
                .map_err(failed("note a contact"))?;
        }
        forget_beyond_limit(&mut table, account, user, now)?;
    }
    txn.commit().map_err(failed("note a contact"))
}

/// Keeps the [`MAX_PEOPLE`] highest scores of the user.
fn forget_beyond_limit(
    table: &mut redb::Table<(&str, &str, &str), (f64, u64, &str)>,
    account: &str,
    user: &str,
    now: u64,
) -> Result<(), ProfileError> {
    let mut all = Vec::new();
    for entry in table
        .range((account, user, "")..)
        .map_err(failed("note a contact"))?
    {
        let (key, value) = entry.map_err(failed("note a contact"))?;
        let (a, u, email) = key.value();
        if a != account || u != user {
            break;
        }
        let (score, at, _) = value.value();
        all.push((decayed(score, at, now), email.to_owned()));
    }
    if all.len() <= MAX_PEOPLE {
        return Ok(());
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, email) in &all[MAX_PEOPLE..] {
        table
            .remove((account, user, email.as_str()))
            .map_err(failed("note a contact"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableTableMetadata;

    fn profiles() -> Profiles {
        Profiles::new(crate::database::in_memory().expect("db")).expect("profiles")
    }

    fn person(name: Option<&str>, email: &str) -> Address {
        Address {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }

    fn write(db: &Database, key: (&str, &str), people: &[Address], weight: f64, at: u64) {
        note(db, key.0, key.1, people, weight, at).expect("note");
    }

    #[tokio::test]
    async fn suggestions_rank_by_frequency_and_recency_and_stay_with_their_user() {
        let profiles = profiles();
        let alice = profiles.of("Example", "alice");
        let now = now();
        let day = 24 * 3600;
        let db = &profiles.db;
        // Bob was written to often, long ago; Bea read from once, today.
        for _ in 0..4 {
            write(
                db,
                ("Example", "alice"),
                &[person(Some("Bob Stone"), "bob@example.org")],
                WROTE_TO,
                now - 120 * day,
            );
        }
        write(
            db,
            ("Example", "alice"),
            &[person(Some("Bea Lamb"), "bea@example.org")],
            READ_FROM,
            now,
        );
        write(
            db,
            ("Example", "alice"),
            &[person(None, "ben.hart@example.org")],
            WROTE_TO,
            now - day,
        );
        write(
            db,
            ("Example", "carol"),
            &[person(None, "bert@example.org")],
            WROTE_TO,
            now,
        );
        let found = alice.suggest("B").await.expect("suggest");
        let emails: Vec<_> = found.iter().map(|a| a.email.as_str()).collect();
        assert_eq!(
            emails,
            ["ben.hart@example.org", "bea@example.org", "bob@example.org"]
        );
        assert_eq!(found[1].name.as_deref(), Some("Bea Lamb"));
        // A word of the name, a piece of the address.
        let by_name = alice.suggest("stone").await.expect("suggest");
        assert_eq!(by_name[0].email, "bob@example.org");
        let by_piece = alice.suggest("hart").await.expect("suggest");
        assert_eq!(by_piece[0].email, "ben.hart@example.org");
        // Another user's people, and another account's, are never offered.
        assert!(alice.suggest("bert").await.expect("suggest").is_empty());
        let elsewhere = profiles.of("Other", "alice");
        assert!(elsewhere.suggest("b").await.expect("suggest").is_empty());
        assert!(alice.suggest("  ").await.expect("suggest").is_empty());
    }

    #[tokio::test]
    async fn a_user_keeps_at_most_the_limit_of_people() {
        let profiles = profiles();
        let now = now();
        let many: Vec<_> = (0..MAX_PEOPLE + 5)
            .map(|i| person(None, &format!("p{i}@example.org")))
            .collect();
        write(&profiles.db, ("E", "u"), &many, READ_FROM, now);
        // Written to, so ranked above the rest: kept.
        write(
            &profiles.db,
            ("E", "u"),
            &[person(None, "zed@example.org")],
            WROTE_TO,
            now,
        );
        let txn = profiles.db.begin_read().expect("read");
        let table = txn.open_table(PEOPLE).expect("table");
        assert_eq!(table.len().expect("len") as usize, MAX_PEOPLE);
        assert!(
            table
                .get(("E", "u", "zed@example.org"))
                .expect("get")
                .is_some()
        );
    }

    #[tokio::test]
    async fn identities_are_kept_per_user_and_replaced_whole() {
        let profiles = profiles();
        let alice = profiles.of("Example", "alice");
        assert_eq!(alice.identities().await.expect("read"), None);
        let work = Identity {
            name: Some("Alice at work".into()),
            email: "alice@work.example".into(),
            signature: Some("-- \nAlice".into()),
        };
        alice
            .save_identities(vec![work.clone()])
            .await
            .expect("save");
        assert_eq!(alice.identities().await.expect("read"), Some(vec![work]));
        assert_eq!(
            profiles
                .of("Example", "bob")
                .identities()
                .await
                .expect("read"),
            None
        );
        alice.save_identities(Vec::new()).await.expect("save");
        assert_eq!(alice.identities().await.expect("read"), Some(Vec::new()));
    }

    #[tokio::test]
    async fn preferences_are_kept_per_user() {
        let profiles = profiles();
        let alice = profiles.of("Example", "alice");
        assert!(alice.preferences().await.expect("read").is_default());
        let grouped = Preferences {
            conversations: true,
        };
        alice.save_preferences(grouped.clone()).await.expect("save");
        assert_eq!(alice.preferences().await.expect("read"), grouped);
        let bob = profiles.of("Example", "bob");
        assert!(bob.preferences().await.expect("read").is_default());
    }
}
