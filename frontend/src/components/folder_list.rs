//! The folder tree: special folders first, nested folders indented, unread counts.

use leptos::prelude::*;
use protocol::Folder;

use super::icons;
use crate::app::{open_folder, use_transport, use_ui};

/// Indentation classes exist up to this depth; deeper folders share the last one.
const MAX_INDENT: u32 = 5;

#[component]
pub fn FolderList() -> impl IntoView {
    let ui = use_ui();
    let rows = move || ui.folders.with(|f| f.folders.clone());
    view! {
        <nav class="folders" aria-label="Folders">
            {move || {
                ui.folders
                    .with(|f| f.error.clone())
                    .map(|message| view! { <p class="error" role="alert">{message}</p> })
            }}
            <Show when=move || ui.folders.with(|f| f.loading && f.folders.is_empty())>
                <p class="muted loading">"Loading folders…"</p>
            </Show>
            <ul role="list">
                <For
                    each=rows
                    key=|f: &Folder| (f.id.clone(), f.total, f.unread)
                    children=move |folder| view! { <FolderRow folder /> }
                />
            </ul>
        </nav>
    }
}

#[component]
fn FolderRow(folder: Folder) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let id = folder.id.clone();
    let current = {
        let id = id.clone();
        move || ui.folders.with(|f| f.selected.as_ref() == Some(&id))
    };
    let unread = folder.unread;
    let has_unread = unread > 0;
    view! {
        <li>
            <button
                class=format!("folder indent-{}", folder.depth.min(MAX_INDENT))
                class:unread=has_unread
                aria-current=move || current().then_some("page")
                disabled=!folder.selectable
                on:click=move |_| open_folder(ui, transport.clone(), id.clone())
            >
                {icons::folder(folder.role)}
                <span class="folder-name">{folder.name.clone()}</span>
                {(unread > 0)
                    .then(|| {
                        view! {
                            <span class="count">
                                {unread}
                                <span class="visually-hidden">" unread"</span>
                            </span>
                        }
                    })}
            </button>
        </li>
    }
}
