//! A search query ([`protocol::search`]) as an IMAP `SEARCH` program, and the
//! server's answer (`ESEARCH` or `SEARCH`) as UIDs.
//!
//! Nothing a person typed is spliced into the command: each value is an
//! [`Arg::Text`], which the writer sends as a quoted string when it is printable
//! ASCII and as a literal otherwise. The query's parser already keeps control
//! characters out of every value.

use protocol::search::{Query, Term, Test};

pub use super::raw::Arg;

/// The search keys for `query`'s terms (all must hold): `ALL` when it has none.
pub fn program(query: &Query) -> Vec<Arg> {
    let mut args = Vec::new();
    for term in &query.terms {
        term_keys(term, &mut args);
    }
    if args.is_empty() {
        args.push(Arg::Atom("ALL"));
    }
    args
}

/// The query as searches the server can answer right with a full-text index:
/// the terms to search for, and one search per negated text term whose hits are
/// taken away. (Dovecot's Xapian index, 1.5 as Debian has it, answers `NOT BODY x`
/// and `NOT HEADER …` with nothing; a term searched on its own, it answers well.)
pub fn programs(query: &Query) -> (Vec<Arg>, Vec<Vec<Arg>>) {
    let (subtracted, kept): (Vec<&Term>, Vec<&Term>) = query
        .terms
        .iter()
        .partition(|term| term.negated && looks_in_text(&term.test));
    let kept = Query {
        terms: kept.into_iter().cloned().collect(),
        scope: query.scope.clone(),
    };
    let subtracted = subtracted
        .into_iter()
        .map(|term| {
            let mut args = Vec::new();
            term_keys(
                &Term {
                    negated: false,
                    test: term.test.clone(),
                },
                &mut args,
            );
            args
        })
        .collect();
    (program(&kept), subtracted)
}

/// Whether a test reads the message's text or headers (what a full-text index
/// answers), rather than its flags, dates or size.
fn looks_in_text(test: &Test) -> bool {
    matches!(
        test,
        Test::Text(_)
            | Test::From(_)
            | Test::To(_)
            | Test::Cc(_)
            | Test::Subject(_)
            | Test::Body(_)
            | Test::HasAttachment
    )
}

fn term_keys(term: &Term, args: &mut Vec<Arg>) {
    if term.negated {
        args.push(Arg::Atom("NOT"));
    }
    let text = |key: &'static str, value: &str, args: &mut Vec<Arg>| {
        args.push(Arg::Atom(key));
        args.push(Arg::Text(value.to_owned()));
    };
    match &term.test {
        // Sender, recipients, subject or body: four ORs join five keys.
        Test::Text(value) => {
            args.extend([
                Arg::Atom("OR"),
                Arg::Atom("OR"),
                Arg::Atom("OR"),
                Arg::Atom("OR"),
            ]);
            for key in ["FROM", "TO", "CC", "SUBJECT", "BODY"] {
                text(key, value, args);
            }
        }
        Test::From(value) => text("FROM", value, args),
        Test::To(value) => text("TO", value, args),
        Test::Cc(value) => text("CC", value, args),
        Test::Subject(value) => text("SUBJECT", value, args),
        Test::Body(value) => text("BODY", value, args),
        // As the list tells attachments: a mixed multipart (or the keyword
        // Dovecot sets where attachment detection is on).
        Test::HasAttachment => {
            args.extend([
                Arg::Atom("OR"),
                Arg::Atom("HEADER"),
                Arg::Atom("Content-Type"),
                Arg::Atom("\"multipart/mixed\""),
                Arg::Atom("KEYWORD"),
                Arg::Atom("$HasAttachment"),
            ]);
        }
        Test::Unread => args.push(Arg::Atom("UNSEEN")),
        Test::Read => args.push(Arg::Atom("SEEN")),
        Test::Flagged => args.push(Arg::Atom("FLAGGED")),
        Test::Before(day) => {
            args.push(Arg::Atom("SENTBEFORE"));
            args.push(Arg::Text(day.imap()));
        }
        Test::After(day) => {
            args.push(Arg::Atom("SENTSINCE"));
            args.push(Arg::Text(day.imap()));
        }
        Test::Larger(bytes) => {
            args.push(Arg::Atom("LARGER"));
            args.push(Arg::Number((*bytes).min(u64::from(u32::MAX))));
        }
        Test::Smaller(bytes) => {
            args.push(Arg::Atom("SMALLER"));
            args.push(Arg::Number((*bytes).min(u64::from(u32::MAX))));
        }
    }
}

/// Whether every value of the program is ASCII (so it needs no `CHARSET`).
pub fn is_ascii(args: &[Arg]) -> bool {
    args.iter().all(|arg| match arg {
        Arg::Text(text) => text.is_ascii(),
        _ => true,
    })
}

/// The UIDs an untagged answer line names, if it is the answer to a search:
/// `* ESEARCH (TAG "t") UID ALL 1:3,7` (or with no `ALL`, no match) or
/// `* SEARCH 1 2 3`. `None` for any other line, which is news.
pub fn answer_uids(line: &str, tag: &str) -> Option<Result<Vec<u32>, ()>> {
    let rest = line.strip_prefix("* ")?;
    let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if name.eq_ignore_ascii_case("SEARCH") {
        // Numbers, perhaps a trailing space, perhaps `(MODSEQ n)` at the end.
        let numbers = rest.split('(').next().unwrap_or("");
        return Some(
            numbers
                .split_ascii_whitespace()
                .map(|n| n.parse::<u32>().map_err(|_| ()))
                .collect(),
        );
    }
    if !name.eq_ignore_ascii_case("ESEARCH") {
        return None;
    }
    let mut words = rest.split_ascii_whitespace().peekable();
    // The correlator names the command this answers; one for another is news.
    if words.peek().is_some_and(|w| w.starts_with('(')) {
        let mut correlator = String::new();
        for word in words.by_ref() {
            correlator.push_str(word);
            correlator.push(' ');
            if word.ends_with(')') {
                break;
            }
        }
        let wanted = format!("(TAG \"{tag}\") ");
        if !correlator.eq_ignore_ascii_case(&wanted) {
            return None;
        }
    }
    let mut uids = Vec::new();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("UID") {
            continue;
        }
        let Some(value) = words.next() else {
            return Some(Err(()));
        };
        if word.eq_ignore_ascii_case("ALL") {
            match sequence_set(value) {
                Some(found) => uids = found,
                None => return Some(Err(())),
            }
        }
    }
    Some(Ok(uids))
}

/// The most UIDs one answer may name (ranges are counted out).
pub const MAX_UIDS: usize = 1_000_000;

/// The most hits kept of one folder: the newest.
pub const MAX_HITS: usize = 250_000;

/// `1:3,7,9:8` as the UIDs it names, lowest first, each once.
fn sequence_set(text: &str) -> Option<Vec<u32>> {
    let mut uids = Vec::new();
    for piece in text.split(',') {
        let (low, high) = match piece.split_once(':') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = piece.parse::<u32>().ok()?;
                (n, n)
            }
        };
        let (low, high) = (low.min(high), low.max(high));
        if low == 0 || uids.len() + (high - low) as usize >= MAX_UIDS {
            return None;
        }
        uids.extend(low..=high);
    }
    uids.sort_unstable();
    uids.dedup();
    Some(uids)
}

/// UIDs (lowest first) as a compact set: `1:3,7`.
pub fn compact(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut at = 0;
    while at < uids.len() {
        let start = uids[at];
        let mut end = start;
        while at + 1 < uids.len() && uids[at + 1] == end.wrapping_add(1) {
            at += 1;
            end = uids[at];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        at += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::search::parse;

    /// Keys as text, each value in angle brackets.
    fn spell(args: &[Arg]) -> String {
        args.iter()
            .map(|arg| match arg {
                Arg::Atom(a) => (*a).to_owned(),
                Arg::Number(n) => n.to_string(),
                Arg::Text(t) => format!("<{t}>"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn spelled(text: &str) -> String {
        spell(&program(&parse(text).expect("parses")))
    }

    #[test]
    fn every_form_becomes_keys() {
        assert_eq!(
            spelled("lunch"),
            "OR OR OR OR FROM <lunch> TO <lunch> CC <lunch> SUBJECT <lunch> BODY <lunch>"
        );
        assert_eq!(
            spelled("from:bob -to:carol cc:dave subject:\"Q3 plans\" body:Grüße"),
            "FROM <bob> NOT TO <carol> CC <dave> SUBJECT <Q3 plans> BODY <Grüße>"
        );
        assert_eq!(
            spelled("is:unread -is:read is:flagged has:attachment"),
            "UNSEEN NOT SEEN FLAGGED OR HEADER Content-Type \"multipart/mixed\" KEYWORD $HasAttachment"
        );
        assert_eq!(
            spelled("before:2026-02-01 after:2025-12-31 larger:5M smaller:1K"),
            "SENTBEFORE <1-Feb-2026> SENTSINCE <31-Dec-2025> LARGER 5242880 SMALLER 1024"
        );
        assert_eq!(spelled("in:all"), "ALL");
        assert_eq!(spelled("larger:100G"), "LARGER 4294967295");
    }

    #[test]
    fn negated_text_is_searched_apart() {
        let (kept, apart) = programs(&parse("-lunch -is:read -from:bob x").expect("parses"));
        assert_eq!(
            spell(&kept),
            "NOT SEEN OR OR OR OR FROM <x> TO <x> CC <x> SUBJECT <x> BODY <x>"
        );
        assert_eq!(apart.len(), 2);
        assert_eq!(spell(&apart[1]), "FROM <bob>");
        let (kept, apart) = programs(&parse("-has:attachment").expect("parses"));
        assert_eq!(spell(&kept), "ALL");
        assert_eq!(apart.len(), 1);
    }

    #[test]
    fn ascii_needs_no_charset() {
        assert!(is_ascii(&program(&parse("from:bob").expect("parses"))));
        assert!(!is_ascii(&program(&parse("Grüße").expect("parses"))));
    }

    #[test]
    fn answers_are_read() {
        assert_eq!(
            answer_uids("* ESEARCH (TAG \"PS1\") UID ALL 1:3,7", "PS1"),
            Some(Ok(vec![1, 2, 3, 7]))
        );
        assert_eq!(
            answer_uids("* ESEARCH (TAG \"PS1\") UID COUNT 2 ALL 9,4", "PS1"),
            Some(Ok(vec![4, 9]))
        );
        assert_eq!(
            answer_uids("* ESEARCH (TAG \"PS1\") UID", "PS1"),
            Some(Ok(vec![]))
        );
        assert_eq!(answer_uids("* ESEARCH (TAG \"X9\") UID ALL 1", "PS1"), None);
        assert_eq!(answer_uids("* SEARCH 2 5 ", "PS1"), Some(Ok(vec![2, 5])));
        assert_eq!(answer_uids("* SEARCH", "PS1"), Some(Ok(vec![])));
        assert_eq!(
            answer_uids("* SEARCH 4 (MODSEQ 9)", "PS1"),
            Some(Ok(vec![4]))
        );
        assert_eq!(answer_uids("* 3 EXISTS", "PS1"), None);
        assert_eq!(answer_uids("* SEARCH 1 x", "PS1"), Some(Err(())));
        assert_eq!(
            answer_uids("* ESEARCH (TAG \"PS1\") UID ALL 0:3", "PS1"),
            Some(Err(()))
        );
        assert_eq!(
            answer_uids("* ESEARCH (TAG \"PS1\") UID ALL 1:4294967295", "PS1"),
            Some(Err(()))
        );
    }

    #[test]
    fn sets_are_compact() {
        assert_eq!(compact(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(compact(&[5]), "5");
        assert_eq!(compact(&[]), "");
    }
}
