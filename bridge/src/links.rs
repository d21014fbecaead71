//! Short-lived links to an opened message's parts: a random token, minted when the
//! message is opened, that lets plain HTTP requests (downloads, inline images) reach
//! the session that opened it. A token dies with its session or after a quiet spell.
//! A folder's mbox export is reached the same way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::mail::MessageRef;
use crate::session::{SessionHandle, WeakSession};

/// A link unused for this long stops working; each use extends it.
pub const LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Bounds the registry: beyond this many live links, the oldest go first.
const MAX_LINKS: usize = 100_000;
/// How often dead links (expired, or of ended sessions) are swept out. Lookups
/// check each link anyway; sweeping on every insert made each message opened cost
/// a walk over every link of every session, under one lock.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct LinkRegistry {
    entries: Mutex<Links>,
}

#[derive(Default)]
struct Links {
    map: HashMap<String, Entry>,
    /// When the next sweep is due (`None`: at the next insert).
    next_sweep: Option<Instant>,
    /// How many links the last sweep left: twice as many sweeps at once.
    after_sweep: usize,
}

impl Links {
    fn sweep_if_due(&mut self, now: Instant) {
        let due = self.next_sweep.is_none_or(|at| now >= at)
            || self.map.len() >= 2 * self.after_sweep.max(1024)
            || self.map.len() >= MAX_LINKS;
        if due {
            self.map
                .retain(|_, e| e.expires > now && e.session.is_alive());
            self.next_sweep = Some(now + SWEEP_EVERY);
            self.after_sweep = self.map.len();
        }
    }
}

struct Entry {
    session: WeakSession,
    target: Target,
    expires: Instant,
    /// How long it lives unused.
    lifetime: Duration,
}

/// What a link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An opened message: its parts, inline images and source.
    Message(MessageRef),
    /// A whole folder as mbox; then, with `delete_after`, those messages deleted.
    Export { folder: String, delete_after: bool },
    /// Where the session's files for attaching are uploaded.
    Uploads(std::sync::Arc<crate::uploads::Uploads>),
}

/// An upload link lives as long as its session, however long the compose stays
/// open (a year stands for that).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

impl LinkRegistry {
    /// A fresh, unguessable token: 128 random bits, URL-safe.
    pub fn new_token() -> String {
        use base64::Engine;
        let mut bytes = [0u8; 16];
        // The system RNG failing is not recoverable; a predictable token is worse.
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
            tracing::error!("the system random number generator failed");
            std::process::abort();
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Makes `token` lead to `target` in `session`.
    pub fn insert(&self, token: String, session: WeakSession, target: Target) {
        self.insert_for(token, session, target, LINK_LIFETIME);
    }

    /// As [`LinkRegistry::insert`], for a link that lives `lifetime` unused.
    pub fn insert_for(
        &self,
        token: String,
        session: WeakSession,
        target: Target,
        lifetime: Duration,
    ) {
        let now = Instant::now();
        let mut links = self.lock();
        links.sweep_if_due(now);
        let entries = &mut links.map;
        if entries.len() >= MAX_LINKS
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(
            token,
            Entry {
                session,
                target,
                expires: now + lifetime,
                lifetime,
            },
        );
    }

    /// The session and message behind `token`, if it is still valid and leads to a
    /// message.
    pub fn resolve(&self, token: &str) -> Option<(SessionHandle, MessageRef)> {
        match self.resolve_any(token)? {
            (session, Target::Message(message)) => Some((session, message)),
            _ => None,
        }
    }

    /// The session and folder behind an export link, which is used up by this.
    pub fn take_export(&self, token: &str) -> Option<(SessionHandle, Target)> {
        let found = self.resolve_any(token)?;
        if !matches!(found.1, Target::Export { .. }) {
            return None;
        }
        self.lock().map.remove(token);
        Some(found)
    }

    /// The session and target behind `token`, if it is still valid.
    pub fn resolve_any(&self, token: &str) -> Option<(SessionHandle, Target)> {
        let now = Instant::now();
        let entries = &mut self.lock().map;
        let entry = entries.get_mut(token)?;
        if entry.expires <= now {
            entries.remove(token);
            return None;
        }
        let Some(session) = entry.session.upgrade() else {
            entries.remove(token);
            return None;
        };
        entry.expires = now + entry.lifetime;
        Some((session, entry.target.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Links> {
        // A panic while holding the lock leaves the map consistent: keep using it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(uid: u32) -> Target {
        Target::Export {
            folder: format!("F{uid}"),
            delete_after: false,
        }
    }

    #[test]
    fn links_lead_to_their_session_until_it_ends() {
        let links = LinkRegistry::default();
        let (handle, weak) = WeakSession::detached();
        links.insert("a".into(), weak, message(1));
        assert_eq!(links.resolve_any("a").map(|(_, t)| t), Some(message(1)));
        assert!(links.resolve_any("b").is_none());
        drop(handle);
        assert!(links.resolve_any("a").is_none());
    }

    #[test]
    fn dead_links_are_swept_in_bounded_batches_not_on_every_insert() {
        let links = LinkRegistry::default();
        let (_alive, live) = WeakSession::detached();
        let ended = |links: &LinkRegistry, token: &str| {
            let (handle, weak) = WeakSession::detached();
            links.insert(token.into(), weak, message(0));
            drop(handle);
        };
        let len = |links: &LinkRegistry| links.lock().map.len();
        // The first insert sweeps; inserts within the minute after it do not.
        ended(&links, "first");
        for i in 0..1000 {
            links.insert(format!("live{i}"), live.clone(), message(i));
        }
        assert_eq!(len(&links), 1001);
        // Once the minute is up, an insert sweeps the ended session's link out.
        links.lock().next_sweep = Some(Instant::now());
        links.insert("one more".into(), live.clone(), message(9));
        assert_eq!(len(&links), 1001);
        assert!(!links.lock().map.contains_key("first"));
        // Growth brings a sweep sooner: at twice what the last one left (at least
        // 1,024 each time).
        ended(&links, "second");
        while len(&links) < 2048 {
            let n = len(&links);
            links.insert(format!("more{n}"), live.clone(), message(1));
        }
        assert!(links.lock().map.contains_key("second"));
        links.insert("the next".into(), live.clone(), message(2));
        assert!(!links.lock().map.contains_key("second"));
    }
}
