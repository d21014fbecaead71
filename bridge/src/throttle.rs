//! Growing delays after failed sign-ins, per account and user and per client address,
//! so that guessing passwords through the bridge is slow.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before delays start: people mistype.
const FREE_PER_USER: u32 = 3;
/// Many people may share an address (an office NAT), so it gets more slack.
const FREE_PER_ADDRESS: u32 = 10;
const MAX_DELAY: Duration = Duration::from_secs(300);
/// Failures older than this are forgotten.
const MEMORY: Duration = Duration::from_secs(3600);
/// Bound on remembered keys; beyond it the oldest are dropped.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User { account: String, user: String },
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

#[derive(Debug, Default)]
pub struct Throttle {
    records: Mutex<HashMap<Key, Record>>,
}

fn keys(account: &str, user: &str, address: IpAddr) -> [(Key, u32); 2] {
    [
        (
            Key::User {
                account: account.to_owned(),
                user: user.trim().to_lowercase(),
            },
            FREE_PER_USER,
        ),
        (Key::Address(address), FREE_PER_ADDRESS),
    ]
}

fn delay(failures: u32, free: u32) -> Duration {
    match failures.checked_sub(free) {
        None => Duration::ZERO,
        Some(over) => Duration::from_secs(1u64 << over.min(16)).min(MAX_DELAY),
    }
}

impl Throttle {
    /// `Err(wait)` if a sign-in for this user from this address must wait first.
    pub fn check(
        &self,
        account: &str,
        user: &str,
        address: IpAddr,
        now: Instant,
    ) -> Result<(), Duration> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys(account, user, address)
            .iter()
            .filter_map(|(key, free)| {
                let record = records.get(key)?;
                let until = record.last + delay(record.failures, *free);
                until.checked_duration_since(now)
            })
            .max()
            .unwrap_or(Duration::ZERO);
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    pub fn failed(&self, account: &str, user: &str, address: IpAddr, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= MAX_KEYS {
            records.retain(|_, r| now.duration_since(r.last) < MEMORY);
            if records.len() >= MAX_KEYS {
                let oldest = records
                    .iter()
                    .min_by_key(|(_, r)| r.last)
                    .map(|(k, _)| k.clone());
                if let Some(key) = oldest {
                    records.remove(&key);
                }
            }
        }
        for (key, _) in keys(account, user, address) {
            let record = records.entry(key).or_insert(Record {
                failures: 0,
                last: now,
            });
            if now.duration_since(record.last) >= MEMORY {
                record.failures = 0;
            }
            record.failures += 1;
            record.last = now;
        }
    }

    /// A success clears the user's record; the address keeps its history, so that a
    /// guesser cannot reset it by signing in to an account of their own.
    pub fn succeeded(&self, account: &str, user: &str, address: IpAddr) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let [(user_key, _), _] = keys(account, user, address);
        records.remove(&user_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_and_grow() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let t0 = Instant::now();
        for _ in 0..FREE_PER_USER {
            assert!(throttle.check("A", "alice", ip, t0).is_ok());
            throttle.failed("A", "alice", ip, t0);
        }
        assert_eq!(
            throttle.check("A", "Alice ", ip, t0),
            Err(Duration::from_secs(1))
        );
        throttle.failed("A", "alice", ip, t0);
        assert_eq!(
            throttle.check("A", "alice", ip, t0),
            Err(Duration::from_secs(2))
        );
        assert!(
            throttle
                .check("A", "alice", ip, t0 + Duration::from_secs(2))
                .is_ok()
        );
        assert!(
            throttle.check("A", "bob", ip, t0).is_ok(),
            "other users are not delayed yet"
        );
        throttle.succeeded("A", "alice", ip);
        assert!(throttle.check("A", "alice", ip, t0).is_ok());
    }

    #[test]
    fn an_address_guessing_many_users_is_slowed() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 2].into();
        let t0 = Instant::now();
        for n in 0..=FREE_PER_ADDRESS {
            throttle.failed("A", &format!("user{n}"), ip, t0);
        }
        assert!(throttle.check("A", "fresh", ip, t0).is_err());
        assert!(
            throttle
                .check("A", "fresh", [192, 0, 2, 3].into(), t0)
                .is_ok()
        );
    }

    #[test]
    fn delays_are_capped() {
        assert_eq!(delay(1000, 3), MAX_DELAY);
    }
}
