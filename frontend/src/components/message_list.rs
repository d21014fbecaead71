//! The open folder's messages in the chosen order, a window at a time.

use leptos::prelude::*;
use protocol::{MessageHeader, Request, Sort, SortKey};
use wasm_bindgen::JsValue;

use super::folder_list::MoveFolder;
use super::icons;
use super::search_bar::SearchBar;
use crate::app::{
    change_folders, download_all, load_window, move_these, open_message, sort_by, toggle_selected,
    use_transport, use_ui,
};
use crate::conversations;
use crate::format::{DateStyle, date_style, is_label, people, size};
use crate::search;
use crate::state::Pane;

#[component]
pub fn MessageList() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let searching = move || ui.search.with(Option::is_some);
    let grouped = move || ui.threads.with(Option::is_some);
    let title = move || {
        if searching() {
            return "Search results".to_owned();
        }
        let id = ui.list.with(|l| l.folder.clone()).unwrap_or_default();
        ui.folders
            .with(|f| f.get(&id).map(|f| f.name.clone()))
            .unwrap_or(id)
    };
    let counts = move || {
        if searching() {
            return ui.list.with(|l| match (l.loading, l.total) {
                (true, _) => String::new(),
                (_, 1) => "1 found".to_owned(),
                (_, n) => format!("{n} found"),
            });
        }
        if grouped() {
            return ui.list.with(|l| match (l.total, l.unread) {
                (0, _) => String::new(),
                (1, 0) => "1 conversation".to_owned(),
                (total, 0) => format!("{total} conversations"),
                (total, unread) => format!("{total} conversations, {unread} unread"),
            });
        }
        ui.list.with(|l| match (l.total, l.unread) {
            (0, _) => String::new(),
            (1, 0) => "1 message".to_owned(),
            (total, 0) => format!("{total} messages"),
            (total, unread) => format!("{total} messages, {unread} unread"),
        })
    };
    let loading = move || ui.list.with(|l| l.loading);
    let empty = move || {
        ui.list
            .with(|l| !l.loading && l.error.is_none() && l.total == 0)
    };
    // Only the rows in view, plus a margin, are in the page; the list's padding
    // stands in for the rest, so the scrollbar covers the whole folder.
    let list = NodeRef::<leptos::html::Div>::new();
    let viewport = RwSignal::new((0.0_f64, 800.0_f64));
    let measure = move || {
        if let Some(ul) = list.get_untracked() {
            viewport.set((f64::from(ul.scroll_top()), f64::from(ul.client_height())));
        }
    };
    let range = Memo::new(move |_| {
        let (top, height) = viewport.get();
        let total = ui.list.with(|l| l.total);
        let first = ((top / ROW) as u32).saturating_sub(MARGIN).min(total);
        let end = (((top + height) / ROW).ceil() as u32 + MARGIN).min(total);
        (first, end)
    });
    Effect::new({
        let transport = transport.clone();
        move |_| {
            let (first, end) = range.get();
            if let Some(offset) = ui.list.with(|l| l.missing(first, end)) {
                load_window(ui, transport.clone(), offset);
            }
        }
    });
    // A newly opened folder starts at the top.
    let folder = Memo::new(move |_| ui.list.with(|l| l.folder.clone()));
    Effect::new(move |_| {
        folder.track();
        if let Some(ul) = list.get() {
            ul.set_scroll_top(0);
        }
        measure();
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());
    let rows = move || {
        let (first, end) = range.get();
        ui.list.with(|l| {
            (first..end)
                .map(|position| match l.at(position) {
                    Some(message) => Slot::Row(message.clone()),
                    None => Slot::Gap(position),
                })
                .collect::<Vec<_>>()
        })
    };
    let padding = move || {
        let (first, end) = range.get();
        let total = ui.list.with(|l| l.total);
        format!(
            "padding-top: {}px; padding-bottom: {}px",
            // Whole pixels, as integers: formatting an f64 would add 20 KB of wasm.
            u64::from(first) * ROW as u64,
            u64::from(total - end) * ROW as u64
        )
    };
    view! {
        <section class="messages" aria-labelledby="list-title">
            <SearchBar />
            <header class="list-header">
                <button
                    class="icon-button only-phone"
                    aria-label="Back to folders"
                    on:click=move |_| ui.pane.set(Pane::Folders)
                >
                    {icons::back()}
                </button>
                <h2 id="list-title">{title}</h2>
                <span class="muted counts">{counts}</span>
                <Show when=move || !searching() && !ui.pop3()>
                    <ConversationsToggle />
                </Show>
                <Show when=move || !searching() && !grouped()>
                    <SortMenu />
                </Show>
                <Show when=move || !searching()>
                    <DownloadAll />
                    <FolderMenu />
                </Show>
            </header>
            {move || {
                ui.list
                    .with(|l| l.error.clone())
                    .map(|message| view! { <p class="error banner" role="alert">{message}</p> })
            }}
            <div class="message-scroll" node_ref=list on:scroll=move |_| measure()>
            <ul
                class="message-list"
                role="list"
                aria-label="Messages"
                aria-busy=move || (loading() || ui.list.with(|l| l.fetching.is_some())).to_string()
                style=padding
            >
                <For
                    each=rows
                    key=Slot::key
                    children=|slot| match slot {
                        Slot::Row(message) => view! { <MessageRow message /> }.into_any(),
                        Slot::Gap(_) => view! {
                            <li class="message gap" aria-hidden="true"><div class="skeleton"></div></li>
                        }
                        .into_any(),
                    }
                />
            </ul>
            </div>
            <Show when=move || loading()>
                <div class="loading-rows" aria-hidden="true">
                    <div class="skeleton"></div>
                    <div class="skeleton"></div>
                    <div class="skeleton"></div>
                </div>
                <p class="visually-hidden" role="status">"Loading messages…"</p>
            </Show>
            <Show when=empty>
                <p class="empty-state muted">
                    {move || if searching() {
                        if ui.search.with(|s| s.as_ref().is_some_and(|s| s.done)) {
                            "No messages match."
                        } else {
                            "Searching…"
                        }
                    } else {
                        "This folder is empty."
                    }}
                </p>
            </Show>
        </section>
    }
}

/// Every row's height in pixels (`--row` in the stylesheet): positions map to
/// offsets without measuring.
const ROW: f64 = 64.0;
/// Rows kept in the page above and below the visible ones.
const MARGIN: u32 = 8;

/// A position in the list: a loaded message, or one still on its way.
#[derive(Clone)]
enum Slot {
    Row(MessageHeader),
    Gap(u32),
}

impl Slot {
    fn key(&self) -> u64 {
        match self {
            Slot::Row(message) => u64::from(message.uid),
            Slot::Gap(position) => (1 << 32) | u64::from(*position),
        }
    }
}

#[component]
fn MessageRow(message: MessageHeader) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let uid = message.uid;
    // Flags change while the row stays (opening marks it read): the row keeps its
    // node, and with it keyboard focus, and follows the flags reactively.
    let flags = Memo::new(move |_| {
        ui.list.with(|l| {
            l.messages
                .iter()
                .find(|m| m.uid == uid)
                .map(|m| {
                    (
                        m.is_unread(),
                        m.is_flagged(),
                        m.flags.contains(&protocol::Flag::Answered),
                        m.flags.contains(&protocol::Flag::Forwarded),
                    )
                })
                .unwrap_or_default()
        })
    });
    let unread = move || flags.get().0;
    let flagged = move || flags.get().1;
    let answered = move || flags.get().2;
    let forwarded = move || flags.get().3;
    let labels = Memo::new(move |_| {
        ui.list.with(|l| {
            l.messages
                .iter()
                .find(|m| m.uid == uid)
                .map(|m| {
                    m.flags
                        .iter()
                        .filter_map(|f| match f {
                            protocol::Flag::Keyword(name) if is_label(name) => Some(name.clone()),
                            _ => None,
                        })
                        .take(3)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let subject = if message.subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        message.subject.clone()
    };
    let (shown, full) = show_date(message.date);
    let select_name = subject.clone();
    let selected = move || ui.selected.with(|s| s.contains(&uid));
    // Where the message is: its folder and UID (a search's rows have keys).
    let place = ui
        .list
        .with_untracked(|l| l.folder.clone())
        .and_then(|folder| search::real(ui, &folder, uid));
    let home = StoredValue::new(place.clone());
    let current = move || {
        ui.reader.with(|r| {
            home.with_value(|home| {
                home.as_ref()
                    .is_some_and(|(f, u)| r.uid == Some(*u) && r.folder.as_ref() == Some(f))
            })
        })
    };
    let folder_name = place
        .as_ref()
        .filter(|_| {
            ui.search
                .with_untracked(|s| s.as_ref().is_some_and(|s| s.many_folders()))
        })
        .map(|(folder, _)| {
            ui.folders
                .with_untracked(|f| f.get(folder).map(|f| f.name.clone()))
                .unwrap_or_else(|| folder.clone())
        });
    let searching = search::active(ui);
    let grouped = conversations::active(ui);
    let count = conversations::count(ui, uid);
    let open = move |_| {
        if let Some((folder, uid)) = place.clone() {
            if grouped {
                conversations::open(ui, transport.clone(), folder, uid);
            } else {
                open_message(ui, transport.clone(), folder, uid, None);
            }
        }
    };
    let current = move || {
        current()
            || (grouped
                && ui
                    .conversation
                    .with(|c| c.as_ref().is_some_and(|c| c.key == uid)))
    };
    view! {
        <li
            class="message"
            class:unread=unread
            class:flagged=flagged
            class:current=current
            data-uid=uid
            aria-posinset=move || ui.list.with(|l| l.position(uid).map(|p| p + 1))
            aria-setsize=move || ui.list.with(|l| l.total)
            class:selected=selected
            draggable=(!searching && !grouped).then_some("true")
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                // A selected row drags the whole selection.
                let uids = if selected() { ui.selected.get_untracked() } else { vec![uid] };
                if let Some(data) = ev.data_transfer() {
                    let text = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                    let _ = data.set_data(DRAG_TYPE, &text);
                    data.set_effect_allowed("move");
                }
            }
        >
            <input
                type="checkbox"
                class="select"
                aria-label=format!("Select {}", select_name)
                prop:checked=selected
                on:change=move |_| toggle_selected(ui, uid)
            />
            <button class="message-open" aria-current=move || current().then_some("true") on:click=open>
                <span class="line">
                    <span class="from">{people(&message.from)}</span>
                    {(count > 1).then(|| view! {
                        <span class="count" aria-label=format!("{count} messages")>{count}</span>
                    })}
                    <time datetime=iso(message.date) title=full>{shown}</time>
                </span>
                <span class="line">
                    <span class="subject">{subject}</span>
                    <span class="badges">
                        {folder_name.map(|name| view! { <span class="folder-chip">{name}</span> })}
                        {move || labels.get().into_iter().map(|name| view! {
                            <span class="label-chip">{name}</span>
                        }).collect_view()}
                        {message.has_attachments.then(|| view! {
                            <span class="badge" role="img" aria-label="Has attachments">{icons::paperclip()}</span>
                        })}
                        {move || answered().then(|| view! {
                            <span class="badge" role="img" aria-label="Replied">{icons::reply()}</span>
                        })}
                        {move || forwarded().then(|| view! {
                            <span class="badge" role="img" aria-label="Forwarded">{icons::forward()}</span>
                        })}
                        {move || flagged().then(|| view! {
                            <span class="badge flag" role="img" aria-label="Flagged">{icons::flag()}</span>
                        })}
                    </span>
                </span>
                <span class="visually-hidden">{move || if unread() { "Unread, " } else { "" }} {size(u64::from(message.size))}</span>
            </button>
        </li>
    }
}

/// A message date as shown in the list, and in full for its tooltip, in the
/// viewer's time zone and locale.
pub fn show_date(seconds: i64) -> (String, String) {
    let date = js_sys::Date::new(&JsValue::from_f64(seconds as f64 * 1000.0));
    let now = js_sys::Date::new_0();
    let local = |d: &js_sys::Date| (d.get_full_year() as i32, d.get_month() + 1, d.get_date());
    let options = |pairs: &[(&str, &str)]| {
        let object = js_sys::Object::new();
        for (key, value) in pairs {
            let _ = js_sys::Reflect::set(&object, &(*key).into(), &(*value).into());
        }
        JsValue::from(object)
    };
    let shown = match date_style(local(&now), local(&date)) {
        DateStyle::Time => date.to_locale_time_string_with_options(
            "default",
            &options(&[("hour", "2-digit"), ("minute", "2-digit")]),
        ),
        DateStyle::DayMonth => date.to_locale_date_string(
            "default",
            &options(&[("day", "numeric"), ("month", "short")]),
        ),
        DateStyle::Full => date.to_locale_date_string(
            "default",
            &options(&[("day", "numeric"), ("month", "short"), ("year", "numeric")]),
        ),
    };
    let full = date.to_locale_string(
        "default",
        &options(&[("dateStyle", "full"), ("timeStyle", "short")]),
    );
    (shown.into(), full.into())
}

fn iso(seconds: i64) -> String {
    js_sys::Date::new(&JsValue::from_f64(seconds as f64 * 1000.0))
        .to_iso_string()
        .into()
}

/// The orders a list can be shown in, as the sort menu names them.
const SORTS: [(SortKey, bool, &str); 4] = [
    (SortKey::Arrival, true, "Arrival, newest first"),
    (SortKey::Arrival, false, "Arrival, oldest first"),
    (SortKey::Date, true, "Date, newest first"),
    (SortKey::Date, false, "Date, oldest first"),
];

/// POP3's "Download all": the whole mailbox as one mbox file, and, if the person
/// chose so in Settings, those messages deleted from the server afterwards.
#[component]
fn DownloadAll() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    move || {
        let transport = transport.clone();
        ui.pop3().then(|| {
            view! {
                <button
                    class="icon-button"
                    aria-label="Download all"
                    title="Download all messages as one mbox file"
                    on:click=move |_| download_all(ui, transport.clone())
                >
                    {icons::download()}
                </button>
            }
        })
    }
}

/// Chooses the list's order: when messages arrived, or the date they say they were
/// sent, either way round.
/// Turns grouping into conversations on and off (kept per user by the bridge).
#[component]
fn ConversationsToggle() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let on = move || {
        ui.session
            .with(|s| s.as_ref().is_some_and(|s| s.preferences.conversations))
    };
    view! {
        <button
            class="icon-button toggle"
            aria-label="Conversations"
            title="Group messages into conversations"
            aria-pressed=move || on().to_string()
            on:click=move |_| conversations::set_chosen(ui, transport.clone(), !on())
        >
            {icons::conversations()}
        </button>
    }
}

#[component]
fn SortMenu() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let current = move || {
        let sort = ui.list.with(|l| l.sort);
        SORTS
            .iter()
            .position(|(by, newest_first, _)| sort.by == *by && sort.newest_first == *newest_first)
            .unwrap_or(0)
            .to_string()
    };
    let choose = move |ev| {
        let chosen = event_target_value(&ev).parse::<usize>().ok();
        if let Some((by, newest_first, _)) = chosen.and_then(|i| SORTS.get(i)) {
            let sort = Sort {
                by: *by,
                newest_first: *newest_first,
            };
            sort_by(ui, transport.clone(), sort);
        }
    };
    view! {
        <select class="sort" aria-label="Sort messages" title="Sort messages" prop:value=current on:change=choose>
            {move || {
                // POP3 gives no dates without reading every message's headers.
                let pop3 = ui.pop3();
                SORTS
                    .iter()
                    .enumerate()
                    .filter(|(_, (by, _, _))| !pop3 || *by == SortKey::Arrival)
                    .map(|(i, (_, _, name))| view! { <option value=i.to_string()>{*name}</option> })
                    .collect_view()
            }}
        </select>
    }
}

/// The open folder's options: rename, (un)subscribe, delete. Not offered for the
/// inbox; special folders can be renamed but not deleted from here.
#[component]
fn FolderMenu() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    // Only what the menu shows: new counts must not rebuild it (and close it).
    let folder = Memo::new(move |_| {
        let id = ui.list.with(|l| l.folder.clone())?;
        ui.folders.with(|f| {
            f.get(&id).map(|f| {
                let own = f.namespace.is_personal() && !f.read_only;
                (
                    f.id.clone(),
                    f.name.clone(),
                    f.subscribed,
                    f.role,
                    own,
                    f.read_only,
                )
            })
        })
    });
    let moving = RwSignal::new(false);
    move || {
        let (id, name, subscribed, role, own, read_only) = folder.get()?;
        if role == Some(protocol::FolderRole::Inbox) {
            return None;
        }
        let special = role.is_some();
        let (move_id, move_name) = (id.clone(), name.clone());
        let (rename, subscribe, delete) = (transport.clone(), transport.clone(), transport.clone());
        let (id2, id3) = (id.clone(), id.clone());
        Some(view! {
            <details class="folder-menu">
                <summary class="icon-button" aria-label="Folder options">{icons::more()}</summary>
                <div class="menu-panel" role="group" aria-label="Folder options">
                    {(!read_only).then(|| view! {
                    <button class="ghost" on:click=move |ev| {
                        close_menu(&ev);
                        let asked = web_sys::window()
                            .and_then(|w| w.prompt_with_message_and_default("New name for the folder:", &name).ok())
                            .flatten();
                        if let Some(new_name) = asked.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty() && *n != name) {
                            let parent = ui.folders.with_untracked(|f| f.get(&id).and_then(|f| f.parent.clone()));
                            change_folders(ui, rename.clone(), Request::RenameFolder { folder: id.clone(), parent, name: new_name });
                        }
                    }>"Rename folder"</button>
                    })}
                    {own.then(|| view! {
                        <button class="ghost" on:click=move |ev| {
                            close_menu(&ev);
                            moving.set(true);
                        }>"Move folder"</button>
                    })}
                    <button class="ghost" on:click=move |ev| {
                        close_menu(&ev);
                        change_folders(ui, subscribe.clone(), Request::SubscribeFolder { folder: id2.clone(), subscribed: !subscribed });
                    }>{if subscribed { "Unsubscribe" } else { "Subscribe" }}</button>
                    {(!special && !read_only).then(|| view! {
                        <button class="ghost danger" on:click=move |ev| {
                            close_menu(&ev);
                            let sure = web_sys::window()
                                .and_then(|w| w.confirm_with_message("Delete this folder and every message in it? This cannot be undone.").ok())
                                .unwrap_or(false);
                            if sure {
                                change_folders(ui, delete.clone(), Request::DeleteFolder { folder: id3.clone() });
                            }
                        }>"Delete folder"</button>
                    })}
                </div>
            </details>
            <Show when=move || moving.get()>
                <MoveFolder id=move_id.clone() name=move_name.clone() open=moving />
            </Show>
        })
    }
}

/// Closes the menu (`<details>`) that a click inside it came from.
fn close_menu(ev: &leptos::ev::MouseEvent) {
    use wasm_bindgen::JsCast;
    if let Some(menu) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("details").ok().flatten())
    {
        let _ = menu.remove_attribute("open");
    }
}

/// The drag data type for messages dragged onto a folder: their UIDs, comma-separated.
pub const DRAG_TYPE: &str = "application/x-postern-uids";

/// Drops dragged messages of the open folder into `to`, undoably.
pub fn drop_messages(
    ui: crate::app::Ui,
    transport: crate::transport::Transport,
    ev: &leptos::ev::DragEvent,
    to: String,
    name: &str,
) {
    let Some(text) = ev.data_transfer().and_then(|d| d.get_data(DRAG_TYPE).ok()) else {
        return;
    };
    let uids: Vec<u32> = text.split(',').filter_map(|u| u.parse().ok()).collect();
    let Some(folder) = ui.list.with_untracked(|l| l.folder.clone()) else {
        return;
    };
    if !uids.is_empty() {
        move_these(ui, transport, folder, uids, to, &format!("Moved to {name}"));
    }
}
