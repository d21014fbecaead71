//! Keyboard shortcuts for the signed-in screen, and the dialog that lists them (`?`).
//! Keys typed into a field, or with Ctrl, Alt or Meta, are left alone.

use leptos::ev;
use leptos::prelude::*;
use protocol::{ComposeKind, Flag};
use wasm_bindgen::JsCast;

use super::compose::{new_message, start_compose};
use crate::app::{
    Ui, archive_messages, delete_messages, open_message, row_of, set_flag, targets,
    toggle_selected, use_transport, use_ui,
};
use crate::state::{Pane, Reader};
use crate::transport::Transport;

/// The shortcuts, as the help dialog lists them.
const KEYS: [(&str, &str); 18] = [
    ("c", "New message"),
    ("r", "Reply"),
    ("a", "Reply all"),
    ("f", "Forward"),
    ("Ctrl+Enter", "Send the message being written"),
    ("j", "Next (older) message"),
    ("k", "Previous (newer) message"),
    ("Enter", "Open the selected message"),
    ("u", "Back to the message list"),
    ("x", "Select or unselect the message"),
    ("s", "Flag or unflag"),
    ("Shift+I", "Mark as read"),
    ("Shift+U", "Mark as unread"),
    ("#", "Delete"),
    ("e", "Archive"),
    ("v", "Move to a folder"),
    ("/", "Search mail"),
    ("?", "Show these shortcuts"),
];

#[component]
pub fn Shortcuts() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let help = RwSignal::new(false);
    let handle = window_event_listener(ev::keydown, move |event| {
        if event.ctrl_key() || event.alt_key() || event.meta_key() || typing(&event) {
            return;
        }
        let key = event.key();
        if help.get_untracked() {
            if key == "Escape" || key == "?" {
                help.set(false);
                event.prevent_default();
            }
            return;
        }
        let handled = match key.as_str() {
            "j" => step(ui, &transport, 1),
            "k" => step(ui, &transport, -1),
            "u" => back_to_list(ui),
            "x" => match focused_uid().or_else(|| {
                ui.reader
                    .with_untracked(Reader::current)
                    .and_then(|(folder, uid)| row_of(ui, &folder, uid))
            }) {
                Some(uid) => {
                    toggle_selected(ui, uid);
                    true
                }
                None => false,
            },
            "s" => with_open(ui, |ui| {
                // Flag all unless all are flagged already.
                let on = targets(ui).is_some_and(|(folder, uids)| {
                    let rows: Vec<u32> = uids
                        .iter()
                        .filter_map(|uid| row_of(ui, &folder, *uid))
                        .collect();
                    ui.list
                        .with_untracked(|l| !l.all(&rows, protocol::MessageHeader::is_flagged))
                });
                set_flag(ui, transport.clone(), Flag::Flagged, on);
            }),
            "I" => with_open(ui, |ui| set_flag(ui, transport.clone(), Flag::Seen, true)),
            "U" => with_open(ui, |ui| set_flag(ui, transport.clone(), Flag::Seen, false)),
            "#" => with_open(ui, |ui| delete_messages(ui, transport.clone())),
            "e" => with_open(ui, |ui| archive_messages(ui, transport.clone())),
            "v" => focus("select[aria-label='Move to folder']"),
            "/" => focus(&format!("#{}", super::search_bar::FIELD_ID)),
            "c" if ui.can_send() => {
                new_message(ui);
                true
            }
            "r" => answer(ui, &transport, ComposeKind::Reply),
            "a" => answer(ui, &transport, ComposeKind::ReplyAll),
            "f" => answer(ui, &transport, ComposeKind::Forward),
            "?" => {
                help.set(true);
                true
            }
            _ => false,
        };
        if handled {
            event.prevent_default();
        }
    });
    on_cleanup(move || handle.remove());
    view! {
        <button
            class="icon-button shortcuts-button"
            aria-label="Keyboard shortcuts"
            title="Keyboard shortcuts (?)"
            on:click=move |_| help.set(true)
        >
            <span aria-hidden="true">"?"</span>
        </button>
        <Show when=move || help.get()>
            <div class="dialog-backdrop" on:click=move |_| help.set(false)>
                <div
                    class="dialog shortcuts"
                    role="dialog"
                    aria-modal="true"
                    aria-label="Keyboard shortcuts"
                    on:click=|ev| ev.stop_propagation()
                >
                    <h2>"Keyboard shortcuts"</h2>
                    <dl>
                        {KEYS
                            .iter()
                            .map(|(key, what)| view! { <dt><kbd>{*key}</kbd></dt><dd>{*what}</dd> })
                            .collect_view()}
                    </dl>
                    <button class="ghost" autofocus=true on:click=move |_| help.set(false)>
                        "Close"
                    </button>
                </div>
            </div>
        </Show>
    }
}

/// Whether the key goes into a field rather than to the app.
fn typing(event: &web_sys::KeyboardEvent) -> bool {
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| {
            matches!(
                element.tag_name().to_ascii_lowercase().as_str(),
                "input" | "textarea" | "select"
            ) || element.has_attribute("contenteditable")
        })
}

/// Runs `action` when messages are selected or one is open; says whether it did.
/// Replies to or forwards the message in the reading pane, if one is open.
fn answer(ui: Ui, transport: &Transport, kind: ComposeKind) -> bool {
    let open = ui.reader.with_untracked(Reader::current).is_some() && ui.can_send();
    if open {
        start_compose(ui, transport.clone(), kind);
    }
    open
}

fn with_open(ui: Ui, action: impl FnOnce(Ui)) -> bool {
    let open = targets(ui).is_some();
    if open {
        action(ui);
    }
    open
}

/// The row button of a message, if its row is in the page.
fn row(uid: u32) -> Option<web_sys::HtmlElement> {
    web_sys::window()?
        .document()?
        .query_selector(&format!(
            "ul[aria-label='Messages'] li[data-uid='{uid}'] .message-open"
        ))
        .ok()
        .flatten()?
        .dyn_into::<web_sys::HtmlElement>()
        .ok()
}

/// The UID of the row that has the focus, if one has.
fn focused_uid() -> Option<u32> {
    web_sys::window()?
        .document()?
        .active_element()?
        .closest("li[data-uid]")
        .ok()
        .flatten()?
        .get_attribute("data-uid")?
        .parse()
        .ok()
}

/// Moves down (`1`) or up (`-1`) the list: with a message open, opens the next one;
/// otherwise moves the focus between rows (Enter opens).
fn step(ui: Ui, transport: &Transport, by: isize) -> bool {
    let open = ui.reader.with_untracked(Reader::current);
    let (folder, uids) = ui.list.with_untracked(|l| {
        (
            l.folder.clone(),
            l.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        )
    });
    let Some(folder) = folder else {
        return false;
    };
    // An open conversation is its row.
    let conversation = ui
        .conversation
        .with_untracked(|c| c.as_ref().map(|c| c.key));
    let here = open
        .as_ref()
        .and_then(|(f, uid)| row_of(ui, f, *uid))
        .or(conversation)
        .or_else(focused_uid);
    let next = match here.and_then(|uid| uids.iter().position(|u| *u == uid)) {
        Some(index) => index.checked_add_signed(by).filter(|i| *i < uids.len()),
        None => ui
            .list
            .with_untracked(|l| l.start == 0)
            .then_some(0)
            .filter(|_| !uids.is_empty()),
    };
    let Some(next) = next else {
        return true;
    };
    if let Some(row) = row(uids[next]) {
        let _ = row.focus();
    }
    if conversation.is_some() {
        crate::conversations::open(ui, transport.clone(), folder, uids[next]);
    } else if open.is_some()
        && let Some((folder, uid)) = crate::search::real(ui, &folder, uids[next])
    {
        open_message(ui, transport.clone(), folder, uid, None);
    }
    true
}

/// Closes the message and returns to the list, with the focus on its row.
fn back_to_list(ui: Ui) -> bool {
    let open = ui.reader.with_untracked(Reader::current);
    let conversation = ui
        .conversation
        .try_update(Option::take)
        .flatten()
        .map(|c| c.key);
    ui.reader.set(Reader::default());
    ui.pane.set(Pane::Messages);
    let key = open
        .and_then(|(folder, uid)| row_of(ui, &folder, uid))
        .or(conversation);
    if let Some(row) = key.and_then(row) {
        let _ = row.focus();
    }
    true
}

/// Puts the focus on a message's row, if it is in the page.
pub fn focus_row(uid: u32) {
    if let Some(row) = row(uid) {
        let _ = row.focus();
    }
}

fn focus(selector: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(selector).ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        .is_some_and(|e| e.focus().is_ok())
}
