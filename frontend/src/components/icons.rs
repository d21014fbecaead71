//! Line icons drawn inline (the app's own markup, never message data). All are
//! decorative: the control around them carries the accessible name.

use leptos::prelude::*;
use protocol::FolderRole;

fn icon(path: &'static str) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d=path />
        </svg>
    }
}

pub fn folder(role: Option<FolderRole>) -> impl IntoView {
    icon(match role {
        Some(FolderRole::Inbox) => "M3 13h5l2 3h4l2-3h5M5 5h14l2 8v6H3v-6z",
        Some(FolderRole::Drafts) => "M4 20h4L19 9l-4-4L4 16zM13 7l4 4",
        Some(FolderRole::Sent) => "M3 11l18-8-8 18-2-8z",
        Some(FolderRole::Archive) => "M3 4h18v4H3zM5 8v12h14V8M10 12h4",
        Some(FolderRole::Junk) => "M12 3l9 16H3zM12 10v4M12 17v.5",
        Some(FolderRole::Trash) => "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
        Some(FolderRole::Flagged) => "M5 21V4h11l-2 4 2 4H5",
        Some(FolderRole::All) | None => "M3 6h6l2 2h10v11H3z",
    })
}

pub fn pencil() -> impl IntoView {
    icon("M4 20h4L19 9l-4-4L4 16zM13 7l4 4")
}

pub fn reply_all() -> impl IntoView {
    icon("M12 14L7 9l5-5M7 9h7a6 6 0 016 6v4M7 14L2 9l5-5")
}

pub fn reply() -> impl IntoView {
    icon("M9 14L4 9l5-5M4 9h10a6 6 0 016 6v4")
}

pub fn conversations() -> impl IntoView {
    icon("M8 10h8M8 14h5M21 12a8 8 0 01-11.6 7.1L4 20l1-4.6A8 8 0 1121 12z")
}

pub fn forward() -> impl IntoView {
    icon("M15 14l5-5-5-5M20 9H10a6 6 0 00-6 6v4")
}

pub fn tag() -> impl IntoView {
    icon("M3 12V4h8l10 10-8 8L3 12zM7.5 7.5h.01")
}

pub fn plus() -> impl IntoView {
    icon("M12 5v14M5 12h14")
}

pub fn more() -> impl IntoView {
    icon("M5 12h.01M12 12h.01M19 12h.01")
}

pub fn flag() -> impl IntoView {
    icon("M5 21V4h11l-2 4 2 4H5")
}

pub fn link() -> impl IntoView {
    icon("M10 14a4 4 0 006 0l3-3a4 4 0 00-6-6l-1 1M14 10a4 4 0 00-6 0l-3 3a4 4 0 006 6l1-1")
}

pub fn paperclip() -> impl IntoView {
    icon("M20 11l-8 8a5 5 0 01-7-7l9-9a3 3 0 014 4l-9 9a1 1 0 01-2-2l8-8")
}

pub fn menu() -> impl IntoView {
    icon("M4 6h16M4 12h16M4 18h16")
}

pub fn back() -> impl IntoView {
    icon("M15 5l-7 7 7 7")
}

pub fn logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
            <rect x="2" y="6" width="28" height="20" rx="4" />
            <path d="M4 9l12 9 12-9" />
        </svg>
    }
}

pub fn envelope() -> impl IntoView {
    icon("M3 6h18v12H3zM3 6l9 7 9-7")
}

pub fn envelope_open() -> impl IntoView {
    icon("M3 10l9-6 9 6v10H3zM3 10l9 6 9-6")
}

pub fn code() -> impl IntoView {
    icon("M8 7l-5 5 5 5M16 7l5 5-5 5")
}

pub fn shield() -> impl IntoView {
    icon("M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z")
}

pub fn file() -> impl IntoView {
    icon("M6 3h8l4 4v14H6zM14 3v4h4")
}

pub fn download() -> impl IntoView {
    icon("M12 4v11M7 10l5 5 5-5M5 20h14")
}

pub fn close() -> impl IntoView {
    icon("M6 6l12 12M18 6L6 18")
}

pub fn gear() -> impl IntoView {
    icon(
        "M12 9a3 3 0 100 6 3 3 0 000-6zM19 12l2-1-1-3-2 .2-1.3-1.3L17 5l-3-1-1 2h-2L10 4 7 5l.3 2L6 8.3 4 8 3 11l2 1v0l-2 1 1 3 2-.2 1.3 1.3L7 19l3 1 1-2h2l1 2 3-1-.3-2 1.3-1.3 2 .3 1-3z",
    )
}

pub fn search() -> impl IntoView {
    icon("M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14zM16 16l5 5")
}
