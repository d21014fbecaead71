//! The server's namespaces (RFC 2342): where personal folders live (Cyrus and
//! Courier keep them under `INBOX.`, Dovecot by default at the root), and which
//! prefixes hold other users' and shared folders. Everything that names a folder
//! goes through [`Namespaces`], so "top level" means what the server means.
//!
//! imap-proto does not parse the `NAMESPACE` response, so the session reads it as
//! raw lines (`ImapSource::ask_namespaces`) and [`parse`] reads those here.

use protocol::FolderNamespace;

/// One namespace: folder names starting with `prefix`, levels split by `delimiter`
/// (`None` for a flat namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub prefix: String,
    pub delimiter: Option<String>,
}

/// The three kinds of namespace the server has; personal always has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    /// The first is where new folders go (RFC 2342, section 5).
    pub personal: Vec<Namespace>,
    pub other_users: Vec<Namespace>,
    pub shared: Vec<Namespace>,
}

/// Where a folder sits in the namespaces: which one, and its path inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement<'a> {
    pub kind: FolderNamespace,
    pub namespace: &'a Namespace,
    /// The levels after the prefix; empty for the prefix itself.
    pub segments: Vec<&'a str>,
}

impl Namespaces {
    /// For a server without `NAMESPACE`: everything personal, at the root.
    pub fn flat(delimiter: Option<String>) -> Self {
        Namespaces {
            personal: vec![Namespace {
                prefix: String::new(),
                delimiter,
            }],
            other_users: Vec::new(),
            shared: Vec::new(),
        }
    }

    /// The namespace where new top-level folders are made.
    pub fn home(&self) -> &Namespace {
        &self.personal[0]
    }

    /// The namespace `id` belongs to (the longest prefix that matches; the inbox is
    /// always personal) and its path inside it.
    pub fn place<'a>(&'a self, id: &'a str) -> Placement<'a> {
        let kinds = [
            (FolderNamespace::Personal, &self.personal),
            (FolderNamespace::OtherUsers, &self.other_users),
            (FolderNamespace::Shared, &self.shared),
        ];
        let is_inbox = id.eq_ignore_ascii_case("INBOX");
        let mut best: Option<(FolderNamespace, &Namespace)> = None;
        for (kind, list) in kinds {
            for namespace in list.iter() {
                let matches =
                    contains(namespace, id) && !(is_inbox && kind != FolderNamespace::Personal);
                let longer = best.is_none_or(|(_, b)| namespace.prefix.len() > b.prefix.len());
                if matches && longer {
                    best = Some((kind, namespace));
                }
            }
        }
        let (kind, namespace) = best.unwrap_or((FolderNamespace::Personal, self.home()));
        let rest = strip_prefix(namespace, id).unwrap_or(id);
        let segments = match (rest, namespace.delimiter.as_deref()) {
            ("", _) => Vec::new(),
            (rest, Some(d)) if !d.is_empty() => rest.split(d).collect(),
            (rest, _) => vec![rest],
        };
        Placement {
            kind,
            namespace,
            segments,
        }
    }

    /// The delimiter that separates levels below `parent` (or at the top level).
    pub fn delimiter_under<'a>(&'a self, parent: Option<&'a str>) -> Option<&'a str> {
        match parent {
            Some(parent) => self.place(parent).namespace.delimiter.as_deref(),
            None => self.home().delimiter.as_deref(),
        }
    }

    /// The server's name for `encoded` (one level, already in modified UTF-7) under
    /// `parent`, or at the top level of the personal namespace.
    pub fn child(&self, parent: Option<&str>, encoded: &str) -> String {
        match parent {
            Some(parent) => {
                let delimiter = self.delimiter_under(Some(parent)).unwrap_or_default();
                format!("{parent}{delimiter}{encoded}")
            }
            None => format!("{}{encoded}", self.home().prefix),
        }
    }
}

/// Whether `id` is inside `namespace`, or is its prefix without the delimiter
/// (`INBOX.`'s `INBOX`, `Public.`'s `Public`).
fn contains(namespace: &Namespace, id: &str) -> bool {
    strip_prefix(namespace, id).is_some()
}

fn strip_prefix<'a>(namespace: &Namespace, id: &'a str) -> Option<&'a str> {
    let prefix = namespace.prefix.as_str();
    if prefix.is_empty() {
        return Some(id);
    }
    if let Some(rest) = strip_prefix_folding_inbox(id, prefix) {
        return Some(rest);
    }
    // The prefix itself names a folder (or a container) without its delimiter.
    let bare = namespace
        .delimiter
        .as_deref()
        .and_then(|d| prefix.strip_suffix(d))?;
    (id == bare || (bare.eq_ignore_ascii_case("INBOX") && id.eq_ignore_ascii_case("INBOX")))
        .then_some("")
}

/// `id` without `prefix`; a prefix starting with `INBOX` matches in any case, as
/// the inbox's name does (RFC 3501, 5.1).
fn strip_prefix_folding_inbox<'a>(id: &'a str, prefix: &str) -> Option<&'a str> {
    if let Some(rest) = id.strip_prefix(prefix) {
        return Some(rest);
    }
    let inbox = prefix.get(..5)?;
    if inbox.eq_ignore_ascii_case("INBOX")
        && id.get(..5).is_some_and(|i| i.eq_ignore_ascii_case("INBOX"))
    {
        return id.get(5..)?.strip_prefix(&prefix[5..]);
    }
    None
}

/// Reads a `NAMESPACE` response line (`* NAMESPACE personal other shared`, each
/// `NIL` or a list of `(prefix delimiter extensions…)`), literals already inlined as
/// quoted strings. `None` when it is not one, or has no personal namespace.
pub fn parse(line: &str) -> Option<Namespaces> {
    let rest = line.strip_prefix("* ")?;
    let (word, rest) = rest.split_once(' ')?;
    if !word.eq_ignore_ascii_case("NAMESPACE") {
        return None;
    }
    let mut tokens = Tokens {
        bytes: rest.as_bytes(),
        at: 0,
    };
    let mut kinds = Vec::new();
    for _ in 0..3 {
        kinds.push(tokens.value(0)?);
    }
    let list = |value: Value| -> Option<Vec<Namespace>> {
        match value {
            Value::Nil => Some(Vec::new()),
            Value::List(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::List(fields) => {
                        let mut fields = fields.into_iter();
                        let prefix = match fields.next()? {
                            Value::Text(text) => text,
                            _ => return None,
                        };
                        let delimiter = match fields.next()? {
                            Value::Text(text) => Some(text),
                            Value::Nil => None,
                            Value::List(_) => return None,
                        };
                        Some(Namespace { prefix, delimiter })
                    }
                    _ => None,
                })
                .collect(),
            Value::Text(_) => None,
        }
    };
    let mut kinds = kinds.into_iter();
    let personal = list(kinds.next()?)?;
    let other_users = list(kinds.next()?)?;
    let shared = list(kinds.next()?)?;
    if personal.is_empty() {
        return None;
    }
    Some(Namespaces {
        personal,
        other_users,
        shared,
    })
}

enum Value {
    Nil,
    Text(String),
    List(Vec<Value>),
}

struct Tokens<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Tokens<'_> {
    /// Nesting deeper than this is not a namespace response.
    const MAX_DEPTH: u32 = 8;

    fn skip_spaces(&mut self) {
        while self.bytes.get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: u32) -> Option<Value> {
        if depth > Self::MAX_DEPTH {
            return None;
        }
        self.skip_spaces();
        match *self.bytes.get(self.at)? {
            b'(' => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_spaces();
                    if self.bytes.get(self.at)? == &b')' {
                        self.at += 1;
                        return Some(Value::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            b'"' => {
                self.at += 1;
                let mut text = Vec::new();
                loop {
                    match *self.bytes.get(self.at)? {
                        b'"' => break,
                        b'\\' => {
                            self.at += 1;
                            text.push(*self.bytes.get(self.at)?);
                        }
                        byte => text.push(byte),
                    }
                    self.at += 1;
                }
                self.at += 1;
                Some(Value::Text(String::from_utf8(text).ok()?))
            }
            _ => {
                let start = self.at;
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| !b" ()\"".contains(b))
                {
                    self.at += 1;
                }
                let atom = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
                if atom.eq_ignore_ascii_case("NIL") {
                    Some(Value::Nil)
                } else if atom.is_empty() {
                    None
                } else {
                    Some(Value::Text(atom.to_owned()))
                }
            }
        }
    }
}

/// Personal folders under `INBOX.`, other users' under `user.`, shared ones under
/// `Public.`, as Cyrus lays them out.
#[cfg(test)]
pub fn cyrus_like() -> Namespaces {
    parse(r#"* NAMESPACE (("INBOX." ".")) (("user." ".")) (("Public." "."))"#)
        .expect("a namespace answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaced() -> Namespaces {
        cyrus_like()
    }

    #[test]
    fn reads_the_three_kinds() {
        let ns = namespaced();
        assert_eq!(ns.home().prefix, "INBOX.");
        assert_eq!(ns.home().delimiter.as_deref(), Some("."));
        assert_eq!(ns.other_users[0].prefix, "user.");
        assert_eq!(ns.shared[0].prefix, "Public.");

        let dovecot = parse(r#"* NAMESPACE (("" "/")) NIL NIL"#).expect("Dovecot's answer");
        assert_eq!(dovecot, Namespaces::flat(Some("/".into())));
    }

    #[test]
    fn reads_extensions_flat_namespaces_and_escapes() {
        let ns = parse(
            r##"* NAMESPACE (("" "/")("#mh/" "/" "X-PARAM" ("FLAG1" "FLAG2"))) NIL (("Sh\"ared" NIL))"##,
        )
        .expect("an answer with extensions");
        assert_eq!(ns.personal.len(), 2);
        assert_eq!(ns.personal[1].prefix, "#mh/");
        assert_eq!(ns.shared[0].prefix, "Sh\"ared");
        assert_eq!(ns.shared[0].delimiter, None);
    }

    #[test]
    fn refuses_what_is_not_a_namespace_response() {
        for line in [
            "* NAMESPACE",
            "* NAMESPACE NIL NIL NIL",
            "* NAMESPACE ((\"INBOX.\" \".\")) NIL",
            "* NAMESPACE ((\"unclosed \".\")) NIL NIL",
            "* LIST () \".\" INBOX",
            "* NAMESPACE ((((((((((((\"x\")))))))))))) NIL NIL",
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
    }

    #[test]
    fn places_folders_in_their_namespace() {
        let ns = namespaced();
        let inbox = ns.place("INBOX");
        assert_eq!(inbox.kind, FolderNamespace::Personal);
        assert!(inbox.segments.is_empty());
        assert_eq!(ns.place("inbox").kind, FolderNamespace::Personal);
        assert_eq!(ns.place("INBOX.Work.Reports").segments, ["Work", "Reports"]);
        assert_eq!(ns.place("Inbox.Sent").segments, ["Sent"]);
        let shared = ns.place("Public.Announcements");
        assert_eq!(shared.kind, FolderNamespace::Shared);
        assert_eq!(shared.segments, ["Announcements"]);
        let container = ns.place("Public");
        assert_eq!(container.kind, FolderNamespace::Shared);
        assert!(container.segments.is_empty());
        assert_eq!(ns.place("user.bob.Lists").kind, FolderNamespace::OtherUsers);
        // Outside every namespace: shown as personal, as named.
        assert_eq!(ns.place("Stray").segments, ["Stray"]);
    }

    #[test]
    fn names_new_folders_under_the_personal_prefix() {
        let ns = namespaced();
        assert_eq!(ns.child(None, "Receipts"), "INBOX.Receipts");
        assert_eq!(ns.child(Some("INBOX.Work"), "2027"), "INBOX.Work.2027");
        let flat = Namespaces::flat(Some("/".into()));
        assert_eq!(flat.child(None, "Receipts"), "Receipts");
        assert_eq!(flat.child(Some("Work"), "2027"), "Work/2027");
    }
}
