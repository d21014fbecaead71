//! The folder tree: special folders first, nested folders indented, unread counts.

use leptos::prelude::*;
use protocol::{Folder, FolderNamespace, Request};

use super::icons;
use super::message_list::{DRAG_TYPE, drop_messages};
use crate::app::{change_folders, open_folder, use_transport, use_ui};

/// Indentation classes exist up to this depth; deeper folders share the last one.
const MAX_INDENT: u32 = 5;

#[component]
pub fn FolderList() -> impl IntoView {
    let ui = use_ui();
    // Each folder, and the heading of its section when it opens one (other users'
    // and shared folders come after one's own, which need no heading).
    let rows = move || {
        ui.folders.with(|f| {
            let mut last = FolderNamespace::Personal;
            f.folders
                .iter()
                .map(|folder| {
                    let opens = folder.namespace != last;
                    last = folder.namespace;
                    (
                        folder.clone(),
                        opens.then(|| section_name(folder.namespace)),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
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
                    key=|(f, _): &(Folder, Option<&str>)| (f.id.clone(), f.total, f.unread, f.subscribed)
                    children=move |(folder, heading)| view! {
                        {heading.map(|h| view! { <li class="folder-section" role="presentation"><h2>{h}</h2></li> })}
                        <FolderRow folder />
                    }
                />
            </ul>
            // POP3 has its Inbox (and, where it sends, the Drafts the bridge keeps),
            // and no way to make more.
            <Show when=move || !ui.pop3()>
                <NewFolder />
            </Show>
        </nav>
    }
}

/// The heading of a namespace's section in the folder list.
pub fn section_name(namespace: FolderNamespace) -> &'static str {
    match namespace {
        FolderNamespace::Personal => "Your folders",
        FolderNamespace::OtherUsers => "Other people's folders",
        FolderNamespace::Shared => "Shared folders",
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
    // Messages may be dropped where the server lets this user put them.
    let selectable = folder.selectable && !folder.read_only;
    // Messages are being dragged over this folder.
    let over = RwSignal::new(false);
    view! {
        <li>
            <button
                class=format!("folder indent-{}", folder.depth.min(MAX_INDENT))
                class:unread=has_unread
                class:unsubscribed=!folder.subscribed && folder.role.is_none() && folder.namespace.is_personal()
                title=if folder.read_only {
                    Some("Read-only: you can read this folder but not change it")
                } else {
                    (!folder.subscribed && folder.role.is_none() && folder.namespace.is_personal())
                        .then_some("Not subscribed: other mail programs may hide it")
                }
                aria-current=move || current().then_some("page")
                disabled=!folder.selectable
                on:click={
                    let transport = transport.clone();
                    move |_| open_folder(ui, transport.clone(), id.clone())
                }
                class:drop-target=move || over.get()
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    let carries = ev
                        .data_transfer()
                        .is_some_and(|d| d.types().includes(&DRAG_TYPE.into(), 0));
                    if selectable && carries {
                        ev.prevent_default();
                        over.set(true);
                    }
                }
                on:dragleave=move |_| over.set(false)
                on:drop={
                    let (to, name) = (folder.id.clone(), folder.name.clone());
                    move |ev: leptos::ev::DragEvent| {
                        ev.prevent_default();
                        over.set(false);
                        drop_messages(ui, transport.clone(), &ev, to.clone(), &name);
                    }
                }
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

/// "New folder": a small dialog asking for the name and where to put it.
#[component]
fn NewFolder() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let open = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let parent = RwSignal::new(String::new());
    let parents = move || {
        ui.folders.with(|f| {
            f.folders
                .iter()
                .filter(|f| !f.read_only)
                .map(|f| (f.id.clone(), indented(f)))
                .collect::<Vec<_>>()
        })
    };
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let folder_name = name.get_untracked().trim().to_owned();
        if folder_name.is_empty() {
            return;
        }
        let inside = parent.get_untracked();
        change_folders(
            ui,
            transport.clone(),
            Request::CreateFolder {
                parent: (!inside.is_empty()).then_some(inside),
                name: folder_name,
            },
        );
        open.set(false);
        name.set(String::new());
    };
    view! {
        <button class="ghost new-folder" on:click=move |_| {
            // The select shows the top level each time the dialog opens.
            parent.set(String::new());
            open.set(true);
        }>
            {icons::plus()} "New folder"
        </button>
        <Show when=move || open.get()>
            <div class="dialog-backdrop" on:click=move |_| open.set(false)>
                <form
                    class="dialog"
                    role="dialog"
                    aria-modal="true"
                    aria-label="New folder"
                    on:click=|ev| ev.stop_propagation()
                    on:submit=create.clone()
                >
                    <h2>"New folder"</h2>
                    <label class="field">
                        <span>"Folder name"</span>
                        <input
                            type="text"
                            aria-label="Folder name"
                            required=true
                            autofocus=true
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                        />
                    </label>
                    <label class="field">
                        <span>"Inside"</span>
                        <select aria-label="Inside" on:change=move |ev| parent.set(event_target_value(&ev))>
                            <option value="" selected=true>"(top level)"</option>
                            {move || {
                                parents()
                                    .into_iter()
                                    .map(|(id, label)| view! { <option value=id>{label}</option> })
                                    .collect_view()
                            }}
                        </select>
                    </label>
                    <div class="dialog-buttons">
                        <button type="button" class="ghost" on:click=move |_| open.set(false)>
                            "Cancel"
                        </button>
                        <button type="submit" class="primary">"Create"</button>
                    </div>
                </form>
            </div>
        </Show>
    }
}

/// A folder's name indented by its depth, for a `<select>`; folders outside one's
/// own namespace say where they are.
pub fn indented(folder: &Folder) -> String {
    let name = format!(
        "{}{}",
        "\u{a0}\u{a0}".repeat(folder.depth as usize),
        folder.name
    );
    match folder.namespace {
        FolderNamespace::Personal => name,
        other => format!("{name} ({})", section_name(other)),
    }
}

/// "Move folder": where to put the open folder, at the top level or inside
/// another of one's own folders (not inside itself).
#[component]
pub fn MoveFolder(id: String, name: String, open: RwSignal<bool>) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let current = ui
        .folders
        .with_untracked(|f| f.get(&id).and_then(|f| f.parent.clone()));
    let parent = RwSignal::new(current.clone().unwrap_or_default());
    // Every folder of one's own that can hold it, in tree order: the folder itself
    // and what follows it deeper (its subfolders) are left out.
    let places = {
        let id = id.clone();
        move || {
            ui.folders.with(|f| {
                let mut inside: Option<u32> = None;
                f.folders
                    .iter()
                    .filter(|f| {
                        if let Some(depth) = inside {
                            if f.depth > depth {
                                return false;
                            }
                            inside = None;
                        }
                        if f.id == id {
                            inside = Some(f.depth);
                            return false;
                        }
                        f.namespace.is_personal() && !f.read_only
                    })
                    .map(|f| (f.id.clone(), indented(f)))
                    .collect::<Vec<_>>()
            })
        }
    };
    let chosen = current.unwrap_or_default();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let inside = parent.get_untracked();
        change_folders(
            ui,
            transport.clone(),
            Request::RenameFolder {
                folder: id.clone(),
                parent: (!inside.is_empty()).then_some(inside),
                name: name.clone(),
            },
        );
        open.set(false);
    };
    view! {
        <div class="dialog-backdrop" on:click=move |_| open.set(false)>
            <form
                class="dialog"
                role="dialog"
                aria-modal="true"
                aria-label="Move folder"
                on:click=|ev| ev.stop_propagation()
                on:submit=submit
            >
                <h2>"Move folder"</h2>
                <label class="field">
                    <span>"Move into"</span>
                    <select aria-label="Move into" autofocus=true on:change=move |ev| parent.set(event_target_value(&ev))>
                        <option value="" selected=chosen.is_empty()>"(top level)"</option>
                        {places()
                            .into_iter()
                            .map(|(id, label)| {
                                let selected = id == chosen;
                                view! { <option value=id selected=selected>{label}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <div class="dialog-buttons">
                    <button type="button" class="ghost" on:click=move |_| open.set(false)>
                        "Cancel"
                    </button>
                    <button type="submit" class="primary">"Move"</button>
                </div>
            </form>
        </div>
    }
}
