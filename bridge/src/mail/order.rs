//! A folder's message list in an order other than arrival. Sequence numbers give
//! arrival order, so windows in that order need nothing kept; for date order the
//! bridge keeps every UID of the open folder in order (from the server's
//! `UID SORT`, or sorted here when the server cannot sort) and serves windows and
//! positions from it.

use std::collections::{HashMap, HashSet};

use protocol::Sort;

/// The most messages a folder may hold to be listed by date: the list costs four
/// bytes per message for as long as the folder is open, and the server's answer
/// about eight.
pub const MAX_SORTED: u32 = 1_000_000;

/// The longest `SORT` response line accepted: room for [`MAX_SORTED`] UIDs.
pub const MAX_SORT_LINE: usize = 16 << 20;

/// Every UID of a folder, in `sort` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub folder: String,
    pub sort: Sort,
    pub uids: Vec<u32>,
}

impl Order {
    /// The UIDs of the window that skips `offset` and holds up to `limit`.
    pub fn window(&self, offset: u32, limit: u32) -> &[u32] {
        let start = (offset as usize).min(self.uids.len());
        let end = start.saturating_add(limit as usize).min(self.uids.len());
        &self.uids[start..end]
    }

    /// The same list the other way round. Ties (the same date) are broken by
    /// arrival in both directions, as the server's `REVERSE` does, so turning
    /// the list over is exact.
    pub fn turn(&mut self, sort: Sort) {
        if sort.newest_first != self.sort.newest_first {
            self.uids.reverse();
        }
        self.sort = sort;
    }

    /// Takes removed messages out; returns where each stood, `u32::MAX` for one that
    /// was not listed (it came and went between two looks).
    pub fn remove(&mut self, removed: &[u32]) -> Vec<u32> {
        if removed.is_empty() {
            return Vec::new();
        }
        let gone: HashSet<u32> = removed.iter().copied().collect();
        let stood: HashMap<u32, u32> = self
            .uids
            .iter()
            .enumerate()
            .filter(|(_, uid)| gone.contains(uid))
            .map(|(at, uid)| (*uid, at as u32))
            .collect();
        self.uids.retain(|uid| !gone.contains(uid));
        removed
            .iter()
            .map(|uid| stood.get(uid).copied().unwrap_or(u32::MAX))
            .collect()
    }

    /// Takes the server's fresh list; returns where each of `added` now stands,
    /// `None` for one no longer there.
    pub fn replace(&mut self, uids: Vec<u32>, added: &[u32]) -> Vec<Option<u32>> {
        let wanted: HashSet<u32> = added.iter().copied().collect();
        let at: HashMap<u32, u32> = uids
            .iter()
            .enumerate()
            .filter(|(_, uid)| wanted.contains(uid))
            .map(|(at, uid)| (*uid, at as u32))
            .collect();
        self.uids = uids;
        added.iter().map(|uid| at.get(uid).copied()).collect()
    }
}

/// UIDs ordered by sent date as `SORT (DATE)` orders them (ties by arrival, which
/// UIDs follow), for a server without `SORT`.
pub fn by_date(mut dated: Vec<(i64, u32)>, newest_first: bool) -> Vec<u32> {
    dated.sort_unstable();
    if newest_first {
        dated.reverse();
    }
    dated.into_iter().map(|(_, uid)| uid).collect()
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

/// The `UID SORT` command for `sort`.
pub fn sort_command(sort: Sort) -> String {
    let reverse = if sort.newest_first { "REVERSE " } else { "" };
    format!("UID SORT ({reverse}DATE) UTF-8 ALL")
}

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
        assert_eq!(list.remove(&[9, 5, 77]), [2, 0, u32::MAX]);
        assert_eq!(list.uids, [3, 1]);
        assert!(list.remove(&[]).is_empty());
    }

    #[test]
    fn arrivals_are_found_in_the_fresh_list() {
        let mut list = order(&[5, 3, 1], true);
        assert_eq!(
            list.replace(vec![5, 10, 3, 1, 11], &[11, 10, 12]),
            [Some(4), Some(1), None]
        );
        assert_eq!(list.uids, [5, 10, 3, 1, 11]);
    }

    #[test]
    fn turning_reverses_ties_too() {
        let dated = vec![(100, 1), (50, 2), (100, 3), (70, 4)];
        let oldest = by_date(dated.clone(), false);
        assert_eq!(oldest, [2, 4, 1, 3]);
        let mut list = order(&oldest, false);
        list.turn(Sort {
            by: SortKey::Date,
            newest_first: true,
        });
        assert_eq!(list.uids, by_date(dated, true));
        assert_eq!(list.uids, [3, 1, 4, 2]);
    }

    #[test]
    fn arrivals_go_on_top_or_at_the_end() {
        assert_eq!(arrival_positions(2, 10, true), [0, 1]);
        assert_eq!(arrival_positions(2, 10, false), [8, 9]);
        assert!(arrival_positions(0, 10, false).is_empty());
    }

    #[test]
    fn the_command_names_the_direction() {
        let mut sort = Sort {
            by: SortKey::Date,
            newest_first: true,
        };
        assert_eq!(sort_command(sort), "UID SORT (REVERSE DATE) UTF-8 ALL");
        sort.newest_first = false;
        assert_eq!(sort_command(sort), "UID SORT (DATE) UTF-8 ALL");
    }
}
