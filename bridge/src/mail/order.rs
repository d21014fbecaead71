//! A folder's message list in an order other than arrival. Sequence numbers give
//! arrival order, so windows in that order need nothing kept; for date order the
//! bridge keeps every UID of the open folder in order (from the server's
//! `UID SORT`, or sorted here when the server cannot sort) and serves windows and
//! positions from it.
//!
//! Date order is by sent date, ties by arrival; newest first is that order turned
//! over as a whole, ties included (so newest arrivals first among equals, as in
//! arrival order). The server is always asked for the oldest-first order: its
//! `REVERSE` keeps ties by arrival, which would make the two directions disagree.

use std::collections::{HashMap, HashSet};

use protocol::Sort;

/// The most messages a folder may hold to be listed by date. The list costs four
/// bytes per message for as long as the folder is open by date (twelve where the
/// bridge sorts), and the server's `SORT` answer is one line of about eight bytes
/// per message, which the IMAP parser reads in a time that grows faster than its
/// length.
pub const MAX_SORTED: u32 = 250_000;

/// The longest `SORT` response line accepted: room for [`MAX_SORTED`] UIDs.
pub const MAX_SORT_LINE: usize = 4 << 20;

/// Every UID of a folder, in `sort` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub folder: String,
    pub sort: Sort,
    pub uids: Vec<u32>,
    /// Each message's date, beside `uids`, where the bridge sorted them itself (the
    /// server has no `SORT`): new mail is then placed here rather than by fetching
    /// every date again.
    pub dates: Option<Vec<i64>>,
}

impl Order {
    /// The UIDs of the window that skips `offset` and holds up to `limit`.
    pub fn window(&self, offset: u32, limit: u32) -> &[u32] {
        let start = (offset as usize).min(self.uids.len());
        let end = start.saturating_add(limit as usize).min(self.uids.len());
        &self.uids[start..end]
    }

    /// The same list the other way round.
    pub fn turn(&mut self, sort: Sort) {
        if sort.newest_first != self.sort.newest_first {
            self.uids.reverse();
            if let Some(dates) = &mut self.dates {
                dates.reverse();
            }
        }
        self.sort = sort;
    }

    /// Takes removed messages out; returns where each stood, `u32::MAX` for one that
    /// was not listed (it came and went between two looks).
    pub fn remove(&mut self, removed: &[u32]) -> Vec<u32> {
        if removed.is_empty() {
            return Vec::new();
        }
        let stood = self.positions(removed);
        let gone: HashSet<u32> = removed.iter().copied().collect();
        if let Some(dates) = &mut self.dates {
            let mut uids = self.uids.iter();
            dates.retain(|_| uids.next().is_some_and(|uid| !gone.contains(uid)));
        }
        self.uids.retain(|uid| !gone.contains(uid));
        stood.into_iter().map(|at| at.unwrap_or(u32::MAX)).collect()
    }

    /// Takes the server's fresh list, of the messages below `uid_next` (later ones
    /// are news still to come); returns where each of `added` now stands, `None`
    /// for one no longer there. `Err` when a message the list held is missing from
    /// the fresh one: it went unannounced, so positions can no longer be trusted.
    pub fn replace(
        &mut self,
        mut fresh: Vec<u32>,
        added: &[u32],
        uid_next: u32,
    ) -> Result<Vec<Option<u32>>, Unknown> {
        fresh.retain(|uid| *uid < uid_next);
        let wanted: HashSet<u32> = added.iter().copied().collect();
        let kept = fresh.iter().filter(|uid| !wanted.contains(uid)).count();
        if kept != self.uids.iter().filter(|uid| !wanted.contains(uid)).count() {
            return Err(Unknown);
        }
        self.uids = fresh;
        Ok(self.positions(added))
    }

    /// Puts messages that arrived in their places by date (where the bridge keeps
    /// the dates); returns where each now stands.
    pub fn insert(&mut self, added: &[(i64, u32)]) -> Result<Vec<Option<u32>>, Unknown> {
        let Some(dates) = &mut self.dates else {
            return Err(Unknown);
        };
        let newest_first = self.sort.newest_first;
        for &(date, uid) in added {
            let key = (date, uid);
            let at = self
                .uids
                .iter()
                .zip(dates.iter())
                .position(|(u, d)| {
                    let other = (*d, *u);
                    if newest_first {
                        other < key
                    } else {
                        other > key
                    }
                })
                .unwrap_or(self.uids.len());
            self.uids.insert(at, uid);
            dates.insert(at, date);
        }
        let uids: Vec<u32> = added.iter().map(|(_, uid)| *uid).collect();
        Ok(self.positions(&uids))
    }

    /// Where each of these messages stands, if listed.
    fn positions(&self, uids: &[u32]) -> Vec<Option<u32>> {
        let wanted: HashSet<u32> = uids.iter().copied().collect();
        let at: HashMap<u32, u32> = self
            .uids
            .iter()
            .enumerate()
            .filter(|(_, uid)| wanted.contains(uid))
            .map(|(at, uid)| (*uid, at as u32))
            .collect();
        uids.iter().map(|uid| at.get(uid).copied()).collect()
    }
}

/// The kept order no longer matches what the browser was told: reload the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unknown;

/// Messages ordered by sent date (ties by arrival, which UIDs follow), as
/// `SORT (DATE)` orders them, then turned over for newest first: the bridge's own
/// sort, for a server without `SORT`. Returns the UIDs and their dates.
pub fn by_date(mut dated: Vec<(i64, u32)>, newest_first: bool) -> (Vec<u32>, Vec<i64>) {
    dated.sort_unstable();
    if newest_first {
        dated.reverse();
    }
    dated.into_iter().map(|(date, uid)| (uid, date)).unzip()
}

/// Where `count` messages that just arrived stand in arrival order, in a folder
/// that now holds `exists`: on top, or at the end.
pub fn arrival_positions(count: usize, exists: u32, newest_first: bool) -> Vec<u32> {
    let count = count as u32;
    let first = if newest_first {
        0
    } else {
        exists.saturating_sub(count)
    };
    (first..first + count).collect()
}

/// Asks for every UID by date, oldest first (see the module's notes on ties).
pub const SORT_COMMAND: &str = "UID SORT (DATE) UTF-8 ALL";

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::SortKey;

    fn order(uids: &[u32], newest_first: bool) -> Order {
        Order {
            folder: "INBOX".into(),
            sort: Sort {
                by: SortKey::Date,
                newest_first,
            },
            uids: uids.to_vec(),
            dates: None,
        }
    }

    #[test]
    fn windows_stop_at_the_end() {
        let list = order(&[5, 3, 9, 1], true);
        assert_eq!(list.window(0, 2), [5, 3]);
        assert_eq!(list.window(3, 50), [1]);
        assert!(list.window(4, 50).is_empty());
        assert!(list.window(u32::MAX, u32::MAX).is_empty());
    }

    #[test]
    fn removals_report_where_they_stood() {
        let mut list = order(&[5, 3, 9, 1], true);
        list.dates = Some(vec![50, 30, 20, 10]);
        assert_eq!(list.remove(&[9, 5, 77]), [2, 0, u32::MAX]);
        assert_eq!(list.uids, [3, 1]);
        assert_eq!(list.dates, Some(vec![30, 10]));
        assert!(list.remove(&[]).is_empty());
    }

    #[test]
    fn arrivals_are_found_in_the_fresh_list() {
        let mut list = order(&[5, 3, 1], true);
        // 12 arrived after the news was taken: it waits for the next news.
        let at = list.replace(vec![5, 10, 3, 12, 1, 11], &[11, 10, 13], 12);
        assert_eq!(at, Ok(vec![Some(4), Some(1), None]));
        assert_eq!(list.uids, [5, 10, 3, 1, 11]);
        // A message the list held went unannounced.
        assert_eq!(list.replace(vec![5, 10, 1, 11], &[], 12), Err(Unknown));
    }

    #[test]
    fn arrivals_are_placed_by_their_dates_where_the_bridge_sorts() {
        let (uids, dates) = by_date(vec![(100, 1), (50, 2), (100, 3), (70, 4)], true);
        assert_eq!(uids, [3, 1, 4, 2]);
        let mut list = order(&uids, true);
        list.dates = Some(dates);
        assert_eq!(
            list.insert(&[(80, 7), (100, 6)]),
            Ok(vec![Some(3), Some(0)])
        );
        assert_eq!(list.uids, [6, 3, 1, 7, 4, 2]);
        list.turn(Sort {
            by: SortKey::Date,
            newest_first: false,
        });
        assert_eq!(list.insert(&[(60, 8)]), Ok(vec![Some(1)]));
        assert_eq!(list.uids, [2, 8, 4, 7, 1, 3, 6]);
        assert_eq!(order(&[1], true).insert(&[(1, 2)]), Err(Unknown));
    }

    #[test]
    fn turning_over_keeps_ties_in_step() {
        let dated = vec![(100, 1), (50, 2), (100, 3), (70, 4)];
        let (oldest, _) = by_date(dated.clone(), false);
        assert_eq!(oldest, [2, 4, 1, 3]);
        let mut list = order(&oldest, false);
        list.turn(Sort {
            by: SortKey::Date,
            newest_first: true,
        });
        assert_eq!(list.uids, by_date(dated, true).0);
        assert_eq!(list.uids, [3, 1, 4, 2]);
    }

    #[test]
    fn arrivals_go_on_top_or_at_the_end() {
        assert_eq!(arrival_positions(2, 10, true), [0, 1]);
        assert_eq!(arrival_positions(2, 10, false), [8, 9]);
        assert!(arrival_positions(0, 10, false).is_empty());
    }
}
