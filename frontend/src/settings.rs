//! The person's reading preferences, kept in this browser's local storage.

const MARK_SEEN: &str = "postern.markSeen";
const REMOTE_SENDERS: &str = "postern.remoteSenders";
const DELETE_AFTER_DOWNLOAD: &str = "postern.deleteAfterDownload";
const UNDO_SEND: &str = "postern.undoSendSeconds";

/// The undo windows offered for sending, in seconds (0: none).
pub const UNDO_SEND_CHOICES: [u32; 5] = [0, 5, 10, 20, 30];

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Whether opening a message marks it read (the default).
pub fn mark_seen() -> bool {
    storage()
        .and_then(|s| s.get_item(MARK_SEEN).ok()?)
        .is_none_or(|v| v != "false")
}

pub fn set_mark_seen(on: bool) {
    if let Some(s) = storage() {
        let _ = s.set_item(MARK_SEEN, if on { "true" } else { "false" });
    }
}

/// Whether "Download all" deletes the downloaded messages from the (POP3) server;
/// off unless the person turns it on.
pub fn delete_after_download() -> bool {
    storage()
        .and_then(|s| s.get_item(DELETE_AFTER_DOWNLOAD).ok()?)
        .is_some_and(|v| v == "true")
}

pub fn set_delete_after_download(on: bool) {
    if let Some(s) = storage() {
        let _ = s.set_item(DELETE_AFTER_DOWNLOAD, if on { "true" } else { "false" });
    }
}

/// How long a sent message waits for an undo: 10 s unless the person chose.
pub fn undo_send_seconds() -> u32 {
    storage()
        .and_then(|s| s.get_item(UNDO_SEND).ok()?)
        .and_then(|v| v.parse().ok())
        .filter(|v| UNDO_SEND_CHOICES.contains(v))
        .unwrap_or(10)
}

pub fn set_undo_send_seconds(seconds: u32) {
    if let Some(s) = storage() {
        let _ = s.set_item(UNDO_SEND, &seconds.to_string());
    }
}

fn remote_senders() -> Vec<String> {
    storage()
        .and_then(|s| s.get_item(REMOTE_SENDERS).ok()?)
        .and_then(|v| crate::json::decode(&v).ok())
        .unwrap_or_default()
}

/// Whether remote images from `sender` load without asking.
pub fn remote_allowed(sender: &str) -> bool {
    let sender = sender.to_ascii_lowercase();
    remote_senders().contains(&sender)
}

pub fn allow_remote(sender: &str) {
    let mut senders = remote_senders();
    let sender = sender.to_ascii_lowercase();
    if !senders.contains(&sender) {
        senders.push(sender);
    }
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(&senders)) {
        let _ = s.set_item(REMOTE_SENDERS, &text);
    }
}

const SORT: &str = "postern.sort";

/// The order message lists are shown in (by default, the newest arrivals first).
pub fn sort() -> protocol::Sort {
    storage()
        .and_then(|s| s.get_item(SORT).ok()?)
        .and_then(|v| crate::json::decode(&v).ok())
        .unwrap_or_default()
}

pub fn set_sort(sort: protocol::Sort) {
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(&sort)) {
        let _ = s.set_item(SORT, &text);
    }
}
