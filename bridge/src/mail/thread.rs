//! Conversations: messages grouped by `References` and `In-Reply-To`.
//!
//! The grouping is RFC 5256's REFERENCES algorithm without its last step, which
//! merges threads by subject: that is the REFS algorithm Dovecot offers as
//! `THREAD=REFS`, so the server's answer and the bridge's own agree, and two
//! discussions that happen to share a subject stay apart. The bridge asks the
//! server where it can ([`groups_in_answer`] reads its answer) and otherwise
//! groups the headers itself ([`group`]).
//!
//! Both are iterative: a reference loop, a chain of 10,000 replies or an answer
//! nested 100,000 deep neither recurses nor hangs.

use std::collections::HashMap;

/// What grouping needs of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threaded {
    pub uid: u32,
    pub message_id: Option<String>,
    /// The `References` header's ids in order, else `In-Reply-To`'s first.
    pub references: Vec<String>,
}

/// The message ids in a `References` or `In-Reply-To` value: each `<…>`, without
/// the brackets; text between them (comments, phrases) is left out.
pub fn message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            break;
        };
        let id = after[..close].trim();
        if !id.is_empty() && !id.contains(char::is_whitespace) {
            ids.push(id.to_owned());
        }
        rest = &after[close + 1..];
    }
    ids
}

/// One node of the id table: a message (by index into the input) or a message
/// only referred to.
#[derive(Default)]
struct Container {
    message: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Table {
    nodes: Vec<Container>,
    by_id: HashMap<String, usize>,
}

impl Table {
    fn node(&mut self, id: &str) -> usize {
        if let Some(at) = self.by_id.get(id) {
            return *at;
        }
        self.nodes.push(Container::default());
        let at = self.nodes.len() - 1;
        self.by_id.insert(id.to_owned(), at);
        at
    }

    fn fresh(&mut self) -> usize {
        self.nodes.push(Container::default());
        self.nodes.len() - 1
    }

    /// Whether `ancestor` is `node` or above it.
    fn is_at_or_above(&self, ancestor: usize, node: usize) -> bool {
        let mut at = Some(node);
        // Links never form a loop, so the walk ends; the bound is a safety net.
        let mut steps = 0;
        while let Some(here) = at {
            if here == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.nodes.len() {
                return true;
            }
            at = self.nodes[here].parent;
        }
        false
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    fn unlink(&mut self, child: usize) {
        if let Some(parent) = self.nodes[child].parent.take() {
            self.nodes[parent].children.retain(|c| *c != child);
        }
    }
}

/// Groups messages into conversations: each a list of UIDs, in the order given.
/// Conversations come in the order of their first message in the input.
pub fn group(messages: &[Threaded]) -> Vec<Vec<u32>> {
    let mut table = Table {
        nodes: Vec::with_capacity(messages.len() * 2),
        by_id: HashMap::with_capacity(messages.len() * 2),
    };
    for (index, message) in messages.iter().enumerate() {
        // The message's own node: by its id, unless it has none or another
        // message took that id first (then it is a node of its own).
        let own = match &message.message_id {
            Some(id) => {
                let at = table.node(id);
                if table.nodes[at].message.is_some() {
                    table.fresh()
                } else {
                    at
                }
            }
            None => table.fresh(),
        };
        table.nodes[own].message = Some(index);
        // Each reference is the parent of the next, unless that one has a parent
        // already or the link would close a loop.
        let refs: Vec<usize> = message.references.iter().map(|id| table.node(id)).collect();
        for pair in refs.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            if table.nodes[child].parent.is_none() && !table.is_at_or_above(child, parent) {
                table.link(parent, child);
            }
        }
        // The last reference is the message's parent: its own headers win over
        // what other messages implied.
        if let Some(&parent) = refs.last() {
            table.unlink(own);
            if !table.is_at_or_above(own, parent) {
                table.link(parent, own);
            }
        }
    }
    // Every root's tree is one conversation: its messages in input order.
    let mut root_of = vec![usize::MAX; table.nodes.len()];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of_root: HashMap<usize, usize> = HashMap::new();
    // Find each message's root without recursion, remembering roots on the way.
    let mut message_node = vec![0; messages.len()];
    for (at, node) in table.nodes.iter().enumerate() {
        if let Some(index) = node.message {
            message_node[index] = at;
        }
    }
    for (index, &node) in message_node.iter().enumerate() {
        let mut path = Vec::new();
        let mut at = node;
        let root = loop {
            if root_of[at] != usize::MAX {
                break root_of[at];
            }
            path.push(at);
            match table.nodes[at].parent {
                Some(parent) => at = parent,
                None => break at,
            }
        };
        for visited in path {
            root_of[visited] = root;
        }
        let group = *group_of_root.entry(root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(index);
    }
    groups
        .into_iter()
        .map(|members| members.into_iter().map(|i| messages[i].uid).collect())
        .collect()
}

/// The messages of `others` (another folder's, such as Sent) that belong to the
/// conversation of `these` when all are grouped together: their UIDs, lowest
/// first. A reply in Sent joins by its references, and so does a message of
/// Sent that `these` answer.
pub fn joining(these: &[Threaded], others: &[Threaded]) -> Vec<u32> {
    // Grouped by place in one list, since UIDs of two folders may be the same.
    let all: Vec<Threaded> = these
        .iter()
        .chain(others)
        .enumerate()
        .map(|(at, m)| Threaded {
            uid: at as u32,
            ..m.clone()
        })
        .collect();
    let mine = these.len() as u32;
    let mut joined: Vec<u32> = group(&all)
        .into_iter()
        .filter(|g| g.iter().any(|at| *at < mine))
        .flatten()
        .filter(|at| *at >= mine)
        .map(|at| others[(at - mine) as usize].uid)
        .collect();
    joined.sort_unstable();
    joined.dedup();
    joined
}

/// Conversations as a folder lists them: each one's UIDs lowest first, the one
/// with the newest arrival (highest UID) first.
pub fn newest_first(mut groups: Vec<Vec<u32>>) -> Vec<Vec<u32>> {
    for group in &mut groups {
        group.sort_unstable();
        group.dedup();
    }
    groups.retain(|g| !g.is_empty());
    groups.sort_unstable_by(|a, b| b.last().cmp(&a.last()));
    groups
}

/// The conversations in a `THREAD` answer (`* THREAD (2)(3 6 (4 23)(44 7 96))`):
/// each top-level parenthesized group's UIDs, in the order they appear. `None`
/// when the line is not a well-formed answer.
pub fn groups_in_answer(line: &str) -> Option<Vec<Vec<u32>>> {
    let rest = line.strip_prefix("* ")?;
    let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if !name.eq_ignore_ascii_case("THREAD") {
        return None;
    }
    let mut groups = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut depth = 0usize;
    let mut number: Option<u32> = None;
    for byte in rest.bytes().chain(std::iter::once(b' ')) {
        match byte {
            b'0'..=b'9' => {
                let digit = u32::from(byte - b'0');
                number = Some(number.unwrap_or(0).checked_mul(10)?.checked_add(digit)?);
                continue;
            }
            _ => {
                if let Some(n) = number.take() {
                    if depth == 0 || n == 0 {
                        return None;
                    }
                    current.push(n);
                }
            }
        }
        match byte {
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    groups.push(std::mem::take(&mut current));
                }
            }
            b' ' => {}
            _ => return None,
        }
    }
    (depth == 0).then_some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(uid: u32, id: &str, references: &[&str]) -> Threaded {
        Threaded {
            uid,
            message_id: (!id.is_empty()).then(|| id.to_owned()),
            references: references.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn ids_are_read_from_headers() {
        assert_eq!(
            message_ids("<a@x> (comment) <b@y>\r\n <c@z>"),
            ["a@x", "b@y", "c@z"]
        );
        assert_eq!(message_ids("<broken"), Vec::<String>::new());
        assert_eq!(message_ids("<> <a b> <ok@x>"), ["ok@x"]);
    }

    #[test]
    fn replies_join_what_they_answer() {
        let messages = [
            message(1, "a@x", &[]),
            message(2, "b@x", &["a@x"]),
            message(3, "c@x", &[]),
            message(4, "d@x", &["a@x", "b@x"]),
            // A reply to a message that is not here still joins its siblings.
            message(5, "e@x", &["gone@x"]),
            message(6, "f@x", &["gone@x", "e@x"]),
        ];
        assert_eq!(group(&messages), vec![vec![1, 2, 4], vec![3], vec![5, 6]]);
    }

    #[test]
    fn subjects_never_merge_and_missing_ids_stand_alone() {
        let messages = [
            message(1, "", &[]),
            message(2, "", &[]),
            message(3, "dup@x", &[]),
            message(4, "dup@x", &[]),
        ];
        assert_eq!(group(&messages), vec![vec![1], vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn arrival_order_does_not_matter() {
        let messages = [
            message(4, "d@x", &["a@x", "b@x"]),
            message(2, "b@x", &["a@x"]),
            message(1, "a@x", &[]),
        ];
        assert_eq!(group(&messages), vec![vec![4, 2, 1]]);
    }

    #[test]
    fn loops_and_long_chains_neither_hang_nor_overflow() {
        let looped = [
            message(1, "a@x", &["b@x"]),
            message(2, "b@x", &["a@x"]),
            message(3, "c@x", &["c@x"]),
        ];
        let groups = group(&looped);
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 3);
        let chain: Vec<Threaded> = (0..10_000u32)
            .map(|n| {
                let refs: Vec<String> = if n == 0 {
                    vec![]
                } else {
                    vec![format!("m{}@x", n - 1)]
                };
                Threaded {
                    uid: n + 1,
                    message_id: Some(format!("m{n}@x")),
                    references: refs,
                }
            })
            .collect();
        let groups = group(&chain);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].len(), 10_000);
    }

    #[test]
    fn own_messages_in_another_folder_join_by_references() {
        let inbox = [message(1, "a@x", &[]), message(2, "c@x", &["a@x", "b@me"])];
        let sent = [
            // The reply to the first message, answered in turn by the second.
            message(1, "b@me", &["a@x"]),
            // A reply to the second.
            message(5, "d@me", &["a@x", "b@me", "c@x"]),
            // Another discussion, and one whose subject alone is the same.
            message(2, "e@me", &["z@x"]),
            message(3, "f@me", &[]),
        ];
        assert_eq!(joining(&inbox, &sent), [1, 5]);
        // A message of Sent that the folder's messages answer joins too.
        let answers = [message(7, "g@x", &["h@me"])];
        let started = [message(4, "h@me", &[]), message(6, "i@me", &[])];
        assert_eq!(joining(&answers, &started), [4]);
        assert!(joining(&inbox, &[]).is_empty());
    }

    #[test]
    fn thread_answers_are_read() {
        assert_eq!(
            groups_in_answer("* THREAD (2)(3 6 (4 23)(44 7 96))"),
            Some(vec![vec![2], vec![3, 6, 4, 23, 44, 7, 96]])
        );
        assert_eq!(groups_in_answer("* THREAD"), Some(vec![]));
        assert_eq!(
            groups_in_answer("* THREAD ((1)(2))"),
            Some(vec![vec![1, 2]])
        );
        assert_eq!(groups_in_answer("* THREAD (1"), None);
        assert_eq!(groups_in_answer("* THREAD 1)"), None);
        assert_eq!(groups_in_answer("* THREAD (x)"), None);
        assert_eq!(groups_in_answer("* SEARCH 1"), None);
        let deep = format!("* THREAD {}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(groups_in_answer(&deep), Some(vec![vec![1]]));
    }
}
