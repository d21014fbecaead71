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

#[derive(Default)]
pub struct LinkRegistry {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    session: WeakSession,
    target: Target,
    expires: Instant,
}

/// What a link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An opened message: its parts, inline images and source.
    Message(MessageRef),
    /// A whole folder as mbox; then, with `delete_after`, those messages deleted.
    Export { folder: String, delete_after: bool },
}

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
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| e.expires > now && e.session.is_alive());
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
                expires: now + LINK_LIFETIME,
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
        self.lock().remove(token);
        Some(found)
    }

    /// The session and target behind `token`, if it is still valid.
    pub fn resolve_any(&self, token: &str) -> Option<(SessionHandle, Target)> {
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.get_mut(token)?;
        if entry.expires <= now {
            entries.remove(token);
            return None;
        }
        let Some(session) = entry.session.upgrade() else {
            entries.remove(token);
            return None;
        };
        entry.expires = now + LINK_LIFETIME;
        Some((session, entry.target.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves the map consistent: keep using it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
