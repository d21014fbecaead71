//! Resume tokens: a session's credentials sealed with the bridge's key, so that a
//! reload, a dropped connection or another bridge holding the same keys signs the
//! person in again without their password.
//!
//! A token is AES-256-GCM (ring) over the account, user, password, protocol, a
//! session id and two times, with the bridge's public origin as associated data:
//! a bridge serving another origin cannot open it. It expires [`TOKEN_LIFETIME`]
//! after it was sealed; the connection renews it every [`RENEW_EVERY`], but never
//! past `session_hours` from the sign-in. Signing out revokes the session id until
//! its last token would have expired: in memory, and in a list beside the first
//! key file (`<key file>.revoked`), which every bridge given that file reads when
//! it changes, so a token signed out on one bridge opens on none. The first key
//! seals; every key opens, so a new key can be put first while tokens sealed with
//! the old one still work.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use protocol::{MailProtocol, ResumeToken};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// How long a token stays good after it was sealed.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How often a live connection gets a fresh token.
pub const RENEW_EVERY: Duration = Duration::from_secs(10 * 60);
/// The layout of what is sealed; a token of another layout does not open.
const VERSION: u8 = 1;
/// Tokens are short; anything longer is not one.
const MAX_TOKEN: usize = 4096;

/// A key that seals and opens tokens: 32 random bytes.
pub type Key = [u8; 32];

/// What a token holds: who signed in, to which account, and since when.
pub struct Grant {
    pub account: String,
    pub user: String,
    pub password: Zeroizing<String>,
    pub protocol: MailProtocol,
    /// The same for every token of one session: what signing out revokes.
    id: [u8; 16],
    /// When the password was typed, in seconds since the epoch.
    started: u64,
}

/// Why a token was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Damaged, of another layout, or sealed with a key (or for an origin) this
    /// bridge does not have.
    Unreadable,
    Expired,
    /// Its session signed out.
    Revoked,
}

/// Seals and opens the tokens of one bridge.
pub struct Sealer {
    keys: Vec<LessSafeKey>,
    origin: String,
    /// The absolute limit of a session, from its sign-in.
    limit: Duration,
    /// Revoked session ids, each until its last token would have expired.
    revoked: Mutex<Revoked>,
    /// The revocation list the bridges sharing the key share.
    list: Option<PathBuf>,
    random: SystemRandom,
}

impl Sealer {
    /// A sealer with `keys` (the first seals) for `origin`. Without keys, one is
    /// made up for the process: tokens then survive a dropped connection, not a
    /// restart.
    pub fn new(keys: &[Key], origin: &str, limit: Duration, list: Option<PathBuf>) -> Self {
        let random = SystemRandom::new();
        let mut keys: Vec<Key> = keys.to_vec();
        if keys.is_empty() {
            let mut key = [0u8; 32];
            random
                .fill(&mut key)
                .expect("the system's random source works");
            keys.push(key);
        }
        Sealer {
            keys: keys
                .iter()
                .map(|k| LessSafeKey::new(UnboundKey::new(&AES_256_GCM, k).expect("32 bytes")))
                .collect(),
            origin: origin.to_owned(),
            limit,
            revoked: Mutex::default(),
            list,
            random,
        }
    }

    /// A new session's grant, starting now.
    pub fn grant(
        &self,
        account: &str,
        user: &str,
        password: &str,
        protocol: MailProtocol,
    ) -> Grant {
        let mut id = [0u8; 16];
        self.random
            .fill(&mut id)
            .expect("the system's random source works");
        Grant {
            account: account.to_owned(),
            user: user.to_owned(),
            password: Zeroizing::new(password.to_owned()),
            protocol,
            id,
            started: now(),
        }
    }

    /// A token for `grant`, good for [`TOKEN_LIFETIME`] or until the session's
    /// limit; `None` once the limit has passed.
    pub fn seal(&self, grant: &Grant) -> Option<ResumeToken> {
        self.seal_at(grant, now())
    }

    fn seal_at(&self, grant: &Grant, now: u64) -> Option<ResumeToken> {
        let expires = (now + TOKEN_LIFETIME.as_secs()).min(grant.started + self.limit.as_secs());
        if expires <= now {
            return None;
        }
        let mut plain = Zeroizing::new(Vec::with_capacity(64 + grant.password.len()));
        plain.push(VERSION);
        plain.extend_from_slice(&grant.started.to_be_bytes());
        plain.extend_from_slice(&expires.to_be_bytes());
        plain.extend_from_slice(&grant.id);
        plain.push(match grant.protocol {
            MailProtocol::Imap => 0,
            MailProtocol::Pop3 => 1,
        });
        for text in [&grant.account, &grant.user, &*grant.password] {
            let len = u16::try_from(text.len()).ok()?;
            plain.extend_from_slice(&len.to_be_bytes());
            plain.extend_from_slice(text.as_bytes());
        }
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).ok()?;
        let mut sealed = Zeroizing::new(plain.to_vec());
        self.keys[0]
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.origin.as_bytes()),
                &mut *sealed,
            )
            .ok()?;
        let mut token = nonce.to_vec();
        token.extend_from_slice(&sealed);
        Some(ResumeToken(URL_SAFE_NO_PAD.encode(token)))
    }

    /// The grant a token holds, if it is good now.
    pub fn open(&self, token: &ResumeToken) -> Result<Grant, Refusal> {
        self.open_at(token, now())
    }

    fn open_at(&self, token: &ResumeToken, now: u64) -> Result<Grant, Refusal> {
        if token.0.len() > MAX_TOKEN {
            return Err(Refusal::Unreadable);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(&token.0)
            .map_err(|_| Refusal::Unreadable)?;
        if bytes.len() < NONCE_LEN {
            return Err(Refusal::Unreadable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Refusal::Unreadable)?;
        let plain = self
            .keys
            .iter()
            .find_map(|key| {
                let mut buffer = Zeroizing::new(sealed.to_vec());
                let len = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(self.origin.as_bytes()),
                        &mut buffer,
                    )
                    .ok()?
                    .len();
                buffer.truncate(len);
                Some(buffer)
            })
            .ok_or(Refusal::Unreadable)?;
        let grant = read(&plain).ok_or(Refusal::Unreadable)?;
        if grant.1 <= now {
            return Err(Refusal::Expired);
        }
        let grant = grant.0;
        let mut revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = &self.list {
            revoked.read(list, now);
        }
        if revoked.ids.contains_key(&grant.id) {
            return Err(Refusal::Revoked);
        }
        Ok(grant)
    }

    /// Signing out: no token of this session opens again. Forgets sessions whose
    /// tokens have all expired.
    pub fn revoke(&self, grant: &Grant) {
        let now = now();
        let until = (now + TOKEN_LIFETIME.as_secs()).min(grant.started + self.limit.as_secs());
        let mut revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        revoked.ids.retain(|_, until| *until > now);
        revoked.ids.insert(grant.id, until);
        if let Some(list) = &self.list
            && let Err(error) = append(list, &grant.id, until)
        {
            tracing::warn!(%error, list = %list.display(), "the revocation was not shared with other bridges");
        }
    }
}

/// Revoked session ids, and how far the shared list has been read.
#[derive(Default)]
struct Revoked {
    ids: HashMap<[u8; 16], u64>,
    /// The list's length when last read: it only grows.
    read_to: u64,
}

impl Revoked {
    /// Takes in what other bridges added to the list since it was last read.
    fn read(&mut self, list: &std::path::Path, now: u64) {
        use std::io::{Read, Seek};
        let Ok(mut file) = std::fs::File::open(list) else {
            return;
        };
        let len = file.metadata().map_or(0, |m| m.len());
        if len < self.read_to {
            // Replaced by a shorter one: read it all.
            self.read_to = 0;
        }
        if len == self.read_to || file.seek(std::io::SeekFrom::Start(self.read_to)).is_err() {
            return;
        }
        let mut text = String::new();
        if file.read_to_string(&mut text).is_err() {
            return;
        }
        // Only whole lines; a line being written is read next time.
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        for line in text[..whole].lines() {
            let Some((id, until)) = line.split_once(' ') else {
                continue;
            };
            let (Some(id), Ok(until)) = (parse_id(id), until.trim().parse::<u64>()) else {
                continue;
            };
            if until > now {
                self.ids.insert(id, until);
            }
        }
        self.read_to += whole as u64;
    }
}

fn parse_id(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

/// Adds a revocation to the shared list: one line, appended whole.
fn append(list: &std::path::Path, id: &[u8; 16], until: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    options.mode(0o600);
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    options
        .open(list)?
        // The newline first ends a line that a bridge dying mid-write left torn.
        .write_all(format!("\n{hex} {until}\n").as_bytes())
}

/// The grant and its token's expiry, from opened bytes.
fn read(plain: &[u8]) -> Option<(Grant, u64)> {
    let (&version, rest) = plain.split_first()?;
    if version != VERSION {
        return None;
    }
    let (started, rest) = rest.split_at_checked(8)?;
    let (expires, rest) = rest.split_at_checked(8)?;
    let (id, rest) = rest.split_at_checked(16)?;
    let (&protocol, mut rest) = rest.split_first()?;
    let mut texts = Vec::with_capacity(3);
    for _ in 0..3 {
        let (len, after) = rest.split_at_checked(2)?;
        let len = usize::from(u16::from_be_bytes(len.try_into().ok()?));
        let (text, after) = after.split_at_checked(len)?;
        texts.push(Zeroizing::new(std::str::from_utf8(text).ok()?.to_owned()));
        rest = after;
    }
    if !rest.is_empty() {
        return None;
    }
    let password = texts.pop()?;
    let user = texts.pop()?;
    let account = texts.pop()?;
    Some((
        Grant {
            account: account.to_string(),
            user: user.to_string(),
            password,
            protocol: match protocol {
                0 => MailProtocol::Imap,
                1 => MailProtocol::Pop3,
                _ => return None,
            },
            id: id.try_into().ok()?,
            started: u64::from_be_bytes(started.try_into().ok()?),
        },
        u64::from_be_bytes(expires.try_into().ok()?),
    ))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURS: Duration = Duration::from_secs(12 * 3600);

    fn sealer(keys: &[Key]) -> Sealer {
        Sealer::new(keys, "https://mail.example.org", HOURS, None)
    }

    #[test]
    fn a_token_opens_to_what_was_sealed() {
        let sealer = sealer(&[[1; 32]]);
        let grant = sealer.grant("Example", "alice", "pä ss", MailProtocol::Pop3);
        let token = sealer.seal(&grant).expect("sealed");
        assert!(!token.0.contains("alice"));
        let opened = sealer.open(&token).expect("opens");
        assert_eq!(opened.account, "Example");
        assert_eq!(opened.user, "alice");
        assert_eq!(*opened.password, "pä ss");
        assert_eq!(opened.protocol, MailProtocol::Pop3);
        assert_eq!(opened.id, grant.id);
        assert_eq!(opened.started, grant.started);
    }

    #[test]
    fn tokens_expire_and_never_outlive_the_session() {
        let sealer = sealer(&[[1; 32]]);
        let grant = sealer.grant("a", "u", "p", MailProtocol::Imap);
        let token = sealer.seal_at(&grant, grant.started).expect("sealed");
        let lifetime = TOKEN_LIFETIME.as_secs();
        assert!(sealer.open_at(&token, grant.started + lifetime - 1).is_ok());
        assert_eq!(
            sealer.open_at(&token, grant.started + lifetime).err(),
            Some(Refusal::Expired)
        );
        // Renewed near the limit, a token ends with the session.
        let late = grant.started + HOURS.as_secs() - 60;
        let token = sealer.seal_at(&grant, late).expect("sealed");
        assert!(sealer.open_at(&token, late + 59).is_ok());
        assert_eq!(
            sealer.open_at(&token, late + 60).err(),
            Some(Refusal::Expired)
        );
        assert!(sealer.seal_at(&grant, late + 60).is_none());
    }

    #[test]
    fn damaged_foreign_and_revoked_tokens_are_refused() {
        let sealer = sealer(&[[1; 32]]);
        let grant = sealer.grant("a", "u", "p", MailProtocol::Imap);
        let token = sealer.seal(&grant).expect("sealed");
        // Every byte flipped in turn.
        let bytes = URL_SAFE_NO_PAD.decode(&token.0).expect("base64");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            let bad = ResumeToken(URL_SAFE_NO_PAD.encode(bad));
            assert_eq!(
                sealer.open(&bad).err(),
                Some(Refusal::Unreadable),
                "byte {i}"
            );
        }
        for junk in ["", "x", "%%%", &"A".repeat(MAX_TOKEN + 1)] {
            assert_eq!(
                sealer.open(&ResumeToken(junk.into())).err(),
                Some(Refusal::Unreadable)
            );
        }
        // Another key, or another origin with the same key.
        assert_eq!(
            self::sealer(&[[2; 32]]).open(&token).err(),
            Some(Refusal::Unreadable)
        );
        let elsewhere = Sealer::new(&[[1; 32]], "https://evil.example", HOURS, None);
        assert_eq!(elsewhere.open(&token).err(), Some(Refusal::Unreadable));
        // Signing out revokes every token of the session, and only those.
        let other = sealer.grant("a", "u", "p", MailProtocol::Imap);
        let other_token = sealer.seal(&other).expect("sealed");
        let renewed = sealer.seal(&grant).expect("sealed");
        sealer.revoke(&grant);
        assert_eq!(sealer.open(&token).err(), Some(Refusal::Revoked));
        assert_eq!(sealer.open(&renewed).err(), Some(Refusal::Revoked));
        assert!(sealer.open(&other_token).is_ok());
    }

    #[test]
    fn a_revocation_reaches_every_bridge_sharing_the_list() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let list = dir.path().join("session.key.revoked");
        let bridge = |_| {
            Sealer::new(
                &[[1; 32]],
                "https://mail.example.org",
                HOURS,
                Some(list.clone()),
            )
        };
        let (one, two) = (bridge(1), bridge(2));
        let grant = one.grant("a", "u", "p", MailProtocol::Imap);
        let kept = one.grant("a", "u", "p", MailProtocol::Imap);
        let (token, other) = (
            one.seal(&grant).expect("sealed"),
            one.seal(&kept).expect("sealed"),
        );
        assert!(two.open(&token).is_ok());
        one.revoke(&grant);
        assert_eq!(two.open(&token).err(), Some(Refusal::Revoked));
        assert!(two.open(&other).is_ok());
        // A bridge started later reads the list whole; a torn last line waits.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&list)
            .and_then(|mut f| f.write_all(b"00ff"))
            .expect("append");
        let three = bridge(3);
        assert_eq!(three.open(&token).err(), Some(Refusal::Revoked));
        assert!(three.open(&other).is_ok());
        // The next revocation is read in spite of the torn line before it.
        two.revoke(&kept);
        assert_eq!(three.open(&other).err(), Some(Refusal::Revoked));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&list).expect("list").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn keys_rotate_the_first_sealing_and_all_opening() {
        let old = sealer(&[[1; 32]]);
        let grant = old.grant("a", "u", "p", MailProtocol::Imap);
        let old_token = old.seal(&grant).expect("sealed");
        let rotated = sealer(&[[2; 32], [1; 32]]);
        assert!(rotated.open(&old_token).is_ok());
        let new_token = rotated.seal(&grant).expect("sealed");
        assert!(rotated.open(&new_token).is_ok());
        assert_eq!(old.open(&new_token).err(), Some(Refusal::Unreadable));
    }
}
