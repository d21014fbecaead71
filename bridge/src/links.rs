//! Short-lived links to an opened message's parts: a random token, minted when the
//! message is opened, that lets plain HTTP requests (downloads, inline images) reach
//! the session that opened it. A token dies with its session or after a quiet spell.

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
    message: MessageRef,
    expires: Instant,
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

    /// Makes `token` lead to `message` in `session`.
    pub fn insert(&self, token: String, session: WeakSession, message: MessageRef) {
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
                message,
                expires: now + LINK_LIFETIME,
            },
        );
    }

    /// The session and message behind `token`, if it is still valid.
    pub fn resolve(&self, token: &str) -> Option<(SessionHandle, MessageRef)> {
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
        Some((session, entry.message.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves the map consistent: keep using it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
