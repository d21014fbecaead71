//! The folder tree: names from LIST turned into display names, parents, depths and
//! roles, ordered the way mail clients show them (Inbox and special folders first).

use async_imap::types::{Name, NameAttribute};
use protocol::{Folder, FolderRole};

/// One LIST entry with its counts, before ordering.
#[derive(Debug, Clone)]
pub struct FolderEntry {
    pub id: String,
    pub delimiter: Option<String>,
    pub role: Option<FolderRole>,
    pub selectable: bool,
    pub subscribed: bool,
    pub total: u32,
    pub unread: u32,
}

impl FolderEntry {
    pub fn from_name(name: &Name) -> Self {
        let attributes = name.attributes();
        let role = if name.name().eq_ignore_ascii_case("INBOX") {
            Some(FolderRole::Inbox)
        } else {
            attributes.iter().find_map(role_of)
        };
        FolderEntry {
            id: name.name().to_owned(),
            delimiter: name.delimiter().map(str::to_owned),
            role,
            selectable: !attributes.iter().any(|a| match a {
                NameAttribute::NoSelect => true,
                NameAttribute::Extension(other) => other.eq_ignore_ascii_case("\\NonExistent"),
                _ => false,
            }),
            subscribed: false,
            total: 0,
            unread: 0,
        }
    }
}

fn role_of(attribute: &NameAttribute<'_>) -> Option<FolderRole> {
    Some(match attribute {
        NameAttribute::Drafts => FolderRole::Drafts,
        NameAttribute::Sent => FolderRole::Sent,
        NameAttribute::Archive => FolderRole::Archive,
        NameAttribute::Junk => FolderRole::Junk,
        NameAttribute::Trash => FolderRole::Trash,
        NameAttribute::All => FolderRole::All,
        NameAttribute::Flagged => FolderRole::Flagged,
        _ => return None,
    })
}

/// Roles guessed from common top-level names, for servers without SPECIAL-USE.
fn role_by_name(name: &str) -> Option<FolderRole> {
    Some(match name.to_lowercase().as_str() {
        "drafts" => FolderRole::Drafts,
        "sent" | "sent items" | "sent messages" | "sent mail" => FolderRole::Sent,
        "archive" | "archives" => FolderRole::Archive,
        "junk" | "spam" | "junk e-mail" => FolderRole::Junk,
        "trash" | "deleted items" | "deleted messages" | "bin" => FolderRole::Trash,
        _ => return None,
    })
}

/// Orders the entries as a tree (each folder right after its parent), special-use
/// folders first at each level, and fills in names, parents and depths.
pub fn build_tree(mut entries: Vec<FolderEntry>) -> Vec<Folder> {
    let server_has_special_use = entries
        .iter()
        .any(|e| e.role.is_some_and(|r| r != FolderRole::Inbox));
    if !server_has_special_use {
        for entry in entries.iter_mut().filter(|e| e.role.is_none()) {
            let top_level = entry
                .delimiter
                .as_deref()
                .is_none_or(|d| !entry.id.contains(d));
            if top_level {
                entry.role = role_by_name(&entry.id);
            }
        }
    }

    let segments = |e: &FolderEntry| -> Vec<String> {
        match e.delimiter.as_deref() {
            Some(d) if !d.is_empty() => e.id.split(d).map(str::to_owned).collect(),
            _ => vec![e.id.clone()],
        }
    };
    // Sort key: per path segment, (rank of that ancestor's role, its display name).
    let rank_of = |id: &str| {
        entries
            .iter()
            .find(|e| e.id == id)
            .and_then(|e| e.role)
            .map_or(u8::MAX, |r| r as u8)
    };
    let mut keyed: Vec<(Vec<(u8, String)>, Folder)> = entries
        .iter()
        .map(|entry| {
            let parts = segments(entry);
            let delimiter = entry.delimiter.clone().unwrap_or_default();
            let key = (0..parts.len())
                .map(|i| {
                    let path = parts[..=i].join(&delimiter);
                    (rank_of(&path), display_name(&parts[i]).to_lowercase())
                })
                .collect();
            let name = match entry.role {
                Some(FolderRole::Inbox) => "Inbox".to_owned(),
                _ => display_name(parts.last().map_or("", String::as_str)),
            };
            let parent = (parts.len() > 1).then(|| parts[..parts.len() - 1].join(&delimiter));
            let folder = Folder {
                id: entry.id.clone(),
                name,
                parent,
                depth: (parts.len() - 1) as u32,
                role: entry.role,
                selectable: entry.selectable,
                subscribed: entry.subscribed,
                total: entry.total,
                unread: entry.unread,
            };
            (key, folder)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, folder)| folder).collect()
}

/// Decodes IMAP's modified UTF-7; a name that is not valid stays as the server sent it.
fn display_name(segment: &str) -> String {
    if segment.contains('&') {
        utf7_imap::decode_utf7_imap(segment.to_owned())
    } else {
        segment.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, role: Option<FolderRole>) -> FolderEntry {
        FolderEntry {
            id: id.into(),
            delimiter: Some("/".into()),
            role,
            selectable: true,
            subscribed: true,
            total: 0,
            unread: 0,
        }
    }

    #[test]
    fn special_folders_come_first_and_children_follow_parents() {
        let folders = build_tree(vec![
            entry("Zeta", None),
            entry("Lists/Rust", None),
            entry("Trash", Some(FolderRole::Trash)),
            entry("Lists", None),
            entry("INBOX", Some(FolderRole::Inbox)),
            entry("Projects/&ANw-n&AO8-code", None),
            entry("Sent", Some(FolderRole::Sent)),
            entry("Lists/Dovecot", None),
        ]);
        let ids: Vec<_> = folders.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "INBOX",
                "Sent",
                "Trash",
                "Lists",
                "Lists/Dovecot",
                "Lists/Rust",
                "Projects/&ANw-n&AO8-code",
                "Zeta"
            ]
        );
        let unicode = &folders[6];
        assert_eq!(unicode.name, "Ünïcode");
        assert_eq!(unicode.parent.as_deref(), Some("Projects"));
        assert_eq!(unicode.depth, 1);
        assert_eq!(folders[0].name, "Inbox");
    }

    #[test]
    fn roles_are_guessed_only_without_special_use() {
        let guessed = build_tree(vec![
            entry("INBOX", Some(FolderRole::Inbox)),
            entry("Spam", None),
        ]);
        assert_eq!(guessed[1].role, Some(FolderRole::Junk));
        let kept = build_tree(vec![
            entry("Junk", Some(FolderRole::Junk)),
            entry("Spam", None),
        ]);
        assert_eq!(
            kept.iter().find(|f| f.id == "Spam").and_then(|f| f.role),
            None
        );
    }
}
