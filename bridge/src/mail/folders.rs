//! The folder tree: names from LIST turned into display names, parents, depths and
//! roles, ordered the way mail clients show them (Inbox and special folders first).

use async_imap::types::{Name, NameAttribute};
use protocol::{Folder, FolderNamespace, FolderRole};

use super::namespace::{Namespaces, Placement};

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
    /// The user may not put messages here (ACL rights without `i`).
    pub read_only: bool,
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
            read_only: false,
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

/// Orders the entries as a tree (each folder right after its parent): the user's
/// own folders first, then other users', then shared ones; special-use folders
/// first at each level. Names, parents and depths are read inside each folder's
/// namespace, so a personal prefix such as `INBOX.` is not shown as a folder above
/// all others; a namespace's prefix appears as a folder only if it holds mail.
pub fn build_tree(mut entries: Vec<FolderEntry>, namespaces: &Namespaces) -> Vec<Folder> {
    let server_has_special_use = entries
        .iter()
        .any(|e| e.role.is_some_and(|r| r != FolderRole::Inbox));
    let mut placed = Vec::new();
    for entry in entries.iter_mut() {
        let placement = namespaces.place(&entry.id);
        let personal = placement.kind == FolderNamespace::Personal;
        if entry.role != Some(FolderRole::Inbox) {
            if !personal {
                // Another user's Sent is not this user's.
                entry.role = None;
            } else if !server_has_special_use && placement.segments.len() == 1 {
                entry.role = role_by_name(placement.segments[0]);
            }
        }
        let is_prefix = placement.segments.is_empty();
        let holds_mail = entry.selectable && entry.total > 0;
        if is_prefix && entry.role != Some(FolderRole::Inbox) && !holds_mail {
            continue;
        }
        placed.push((
            entry.id.clone(),
            placement.kind,
            segment_ends(entry, &placement),
        ));
    }
    let by_id: std::collections::HashMap<&str, &FolderEntry> =
        entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let rank_of = |id: &str| {
        by_id
            .get(id)
            .and_then(|e| e.role)
            .map_or(u8::MAX, |r| r as u8)
    };
    let mut keyed: Vec<(TreeKey, Folder)> = placed
        .into_iter()
        .filter_map(|(id, kind, ends)| {
            let entry = by_id.get(id.as_str())?;
            // Each level: the ancestor's id, and the level's own name.
            let levels: Vec<(&str, &str)> = ends
                .iter()
                .map(|&(start, end)| (&id[..end], &id[start..end]))
                .collect();
            let key = levels
                .iter()
                .map(|(ancestor, segment)| {
                    (rank_of(ancestor), display_name(segment).to_lowercase())
                })
                .collect();
            let name = match entry.role {
                Some(FolderRole::Inbox) => "Inbox".to_owned(),
                _ => display_name(levels.last().map_or("", |(_, segment)| segment)),
            };
            let parent = (levels.len() > 1).then(|| levels[levels.len() - 2].0.to_owned());
            let folder = Folder {
                id: entry.id.clone(),
                name,
                parent,
                depth: levels.len().saturating_sub(1) as u32,
                role: entry.role,
                selectable: entry.selectable,
                subscribed: entry.subscribed,
                total: entry.total,
                unread: entry.unread,
                namespace: kind,
                read_only: entry.read_only,
            };
            Some(((kind, key), folder))
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, folder)| folder).collect()
}

/// Where a folder sorts: by namespace, then per level (the rank of that
/// ancestor's role, its display name).
type TreeKey = (FolderNamespace, Vec<(u8, String)>);

/// Where each level of the folder's name starts and ends in its id, inside its
/// namespace; the prefix folder itself (the inbox of an `INBOX.` layout, or a
/// prefix that holds mail) is one level spanning its whole name.
fn segment_ends(entry: &FolderEntry, placement: &Placement<'_>) -> Vec<(usize, usize)> {
    if placement.segments.is_empty() {
        return vec![(0, entry.id.len())];
    }
    let delimiter = placement.namespace.delimiter.as_deref().unwrap_or_default();
    let rest: usize = placement.segments.iter().map(|s| s.len()).sum::<usize>()
        + delimiter.len() * (placement.segments.len() - 1);
    let mut start = entry.id.len() - rest;
    placement
        .segments
        .iter()
        .map(|segment| {
            let span = (start, start + segment.len());
            start += segment.len() + delimiter.len();
            span
        })
        .collect()
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
            read_only: false,
        }
    }

    fn flat() -> Namespaces {
        Namespaces::flat(Some("/".into()))
    }

    #[test]
    fn special_folders_come_first_and_children_follow_parents() {
        let folders = build_tree(
            vec![
                entry("Zeta", None),
                entry("Lists/Rust", None),
                entry("Trash", Some(FolderRole::Trash)),
                entry("Lists", None),
                entry("INBOX", Some(FolderRole::Inbox)),
                entry("Projects/&ANw-n&AO8-code", None),
                entry("Sent", Some(FolderRole::Sent)),
                entry("Lists/Dovecot", None),
            ],
            &flat(),
        );
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
        let guessed = build_tree(
            vec![entry("INBOX", Some(FolderRole::Inbox)), entry("Spam", None)],
            &flat(),
        );
        assert_eq!(guessed[1].role, Some(FolderRole::Junk));
        let kept = build_tree(
            vec![entry("Junk", Some(FolderRole::Junk)), entry("Spam", None)],
            &flat(),
        );
        assert_eq!(
            kept.iter().find(|f| f.id == "Spam").and_then(|f| f.role),
            None
        );
    }

    #[test]
    fn a_personal_prefix_is_not_a_folder_above_the_others() {
        let namespaces = super::super::namespace::cyrus_like();
        let dotted = |id: &str, selectable: bool, total: u32| FolderEntry {
            delimiter: Some(".".into()),
            selectable,
            total,
            ..entry(id, None)
        };
        let inbox = FolderEntry {
            role: Some(FolderRole::Inbox),
            ..dotted("INBOX", true, 3)
        };
        let folders = build_tree(
            vec![
                dotted("Public.News", true, 7),
                dotted("INBOX.Work.Reports", true, 0),
                dotted("Public", false, 0),
                dotted("INBOX.Trash", true, 0),
                dotted("user.bob.Lists", true, 0),
                dotted("user.bob", true, 2),
                inbox,
                dotted("INBOX.Work", true, 0),
                dotted("INBOX.Sent", true, 0),
                dotted("user", false, 0),
            ],
            &namespaces,
        );
        let tree: Vec<_> = folders
            .iter()
            .map(|f| (f.id.as_str(), f.name.as_str(), f.parent.as_deref(), f.depth))
            .collect();
        assert_eq!(
            tree,
            [
                ("INBOX", "Inbox", None, 0),
                ("INBOX.Sent", "Sent", None, 0),
                ("INBOX.Trash", "Trash", None, 0),
                ("INBOX.Work", "Work", None, 0),
                ("INBOX.Work.Reports", "Reports", Some("INBOX.Work"), 1),
                ("user.bob", "bob", None, 0),
                ("user.bob.Lists", "Lists", Some("user.bob"), 1),
                ("Public.News", "News", None, 0),
            ]
        );
        // Roles by name only among one's own folders, at their top level.
        assert_eq!(folders[1].role, Some(FolderRole::Sent));
        assert_eq!(folders[2].role, Some(FolderRole::Trash));
        assert_eq!(folders[7].namespace, FolderNamespace::Shared);
        assert_eq!(folders[5].namespace, FolderNamespace::OtherUsers);
    }
}
