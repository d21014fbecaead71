//! The signed-in screen: a top bar and three panes (folders, messages, reader). On
//! a phone only one pane shows at a time.

use leptos::prelude::*;

use super::compose::{Compose, new_message};
use super::folder_list::FolderList;
use super::icons;
use super::identities::{IdentitiesButton, IdentitiesDialog};
use super::message_list::MessageList;
use super::reader::Reader;
use super::shortcuts::Shortcuts;
use crate::app::{commit_pending_now, look_for_mail, sign_out, undo, use_transport, use_ui};
use crate::components::compose::undo_send;
use crate::settings;
use crate::state::Pane;

/// The mailbox, in its own file of the build (see `deferred`).
#[leptos::wasm_split::wasm_split(
    mailbox,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    preload(preload)
)]
pub fn load() -> Result<AnyView, leptos::wasm_split::SplitLoaderError> {
    Ok(view! { <Mailbox /> }.into_any())
}

#[component]
pub fn Mailbox() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    // Hiding the page (switching tabs, closing it, locking the phone) is the last
    // sure moment to send a move still in its undo window.
    let hidden = {
        let transport = transport.clone();
        window_event_listener(leptos::ev::visibilitychange, move |_| {
            let hidden = web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| d.hidden());
            if hidden {
                commit_pending_now(ui, transport.clone());
            } else if ui.pop3() {
                // POP3 cannot tell of new mail: coming back is a good moment to look.
                look_for_mail(ui, transport.clone());
            }
        })
    };
    let leaving = {
        let transport = transport.clone();
        window_event_listener(leptos::ev::pagehide, move |_| {
            commit_pending_now(ui, transport.clone())
        })
    };
    on_cleanup(move || {
        hidden.remove();
        leaving.remove();
    });
    // Then what the next clicks will need, the reading pane and compose, once the
    // first rows are in (on a slow link they would otherwise wait behind them).
    Effect::new(move |fetched: Option<bool>| {
        if fetched == Some(true) {
            return true;
        }
        let shown = ui.list.with(|l| l.folder.is_some() && !l.loading);
        if shown {
            super::reader::preload();
            if ui.can_send() {
                super::compose::preload();
            }
        }
        shown
    });
    let editing_identities = RwSignal::new(false);
    let who = move || {
        ui.session
            .with(|s| s.as_ref().map(|s| s.user.clone()).unwrap_or_default())
    };
    view! {
        <div
            class="app"
            data-pane=move || match ui.pane.get() {
                Pane::Folders => "folders",
                Pane::Messages => "messages",
                Pane::Reader => "reader",
            }
        >
            <header class="topbar">
                <button
                    class="icon-button only-phone"
                    aria-label="Show folders"
                    on:click=move |_| ui.pane.set(Pane::Folders)
                >
                    {icons::menu()}
                </button>
                <span class="brand">{icons::logo()} "Postern"</span>
                {move || if ui.can_send() {
                    view! {
                        <button
                            class="primary compose-button"
                            aria-label="New message"
                            title="New message (c)"
                            on:click=move |_| new_message(ui)
                        >
                            {icons::pencil()} <span class="label">"New message"</span>
                        </button>
                    }.into_any()
                } else {
                    view! {
                        <span
                            class="muted read-only-account"
                            title="This account has no outgoing mail server, so Postern cannot send from it. Ask whoever runs Postern to set one up."
                        >
                            "Reading only: sending is not set up"
                        </span>
                    }.into_any()
                }}
                <span class="connection" role="status">
                    {move || if ui.reconnecting.get() {
                        Some("Reconnecting…")
                    } else {
                        (ui.connection.get() == protocol::Connectivity::Reconnecting)
                            .then_some("Reconnecting to your mail server…")
                    }}
                </span>
                <span class="who" title="Signed in as">{who}</span>
                <Shortcuts />
                <details class="settings">
                    <summary class="icon-button" aria-label="Settings">{icons::gear()}</summary>
                    <div class="settings-panel">
                        <label>
                            <input
                                type="checkbox"
                                prop:checked=settings::mark_seen()
                                on:change=move |ev| settings::set_mark_seen(event_target_checked(&ev))
                            />
                            "Mark messages as read when opened"
                        </label>
                        <Show when=move || ui.can_send()>
                            <label>
                                "Undo send"
                                <select on:change=move |ev| {
                                    if let Ok(seconds) = event_target_value(&ev).parse() {
                                        settings::set_undo_send_seconds(seconds);
                                    }
                                }>
                                    {settings::UNDO_SEND_CHOICES.map(|seconds| {
                                        let text = if seconds == 0 { "Off".to_owned() } else { format!("{seconds} seconds") };
                                        view! {
                                            <option value=seconds.to_string() selected=settings::undo_send_seconds() == seconds>{text}</option>
                                        }
                                    }).collect_view()}
                                </select>
                            </label>
                            <IdentitiesButton open=editing_identities />
                        </Show>
                        <Show when=move || ui.pop3()>
                            <label>
                                <input
                                    type="checkbox"
                                    prop:checked=settings::delete_after_download()
                                    on:change=move |ev| {
                                        settings::set_delete_after_download(event_target_checked(&ev))
                                    }
                                />
                                "Delete from server after download"
                            </label>
                        </Show>
                    </div>
                </details>
                <button class="ghost" on:click=move |_| sign_out(ui, transport.clone())>
                    "Sign out"
                </button>
            </header>
            <FolderList />
            <MessageList />
            <Reader />
            <Compose />
            <IdentitiesDialog open=editing_identities />
            <UndoBar />
        </div>
    }
}

/// The bar for a message held in the bridge's undo window.
#[component]
fn Held() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    view! {
        {move || ui.outbox.with(|o| o.as_ref().map(|o| o.0)).map(|outbox| {
            let transport = transport.clone();
            view! {
                <div class="toast" role="status">
                    <span>"Sending…"</span>
                    <button on:click=move |_| undo_send(ui, transport.clone(), outbox)>"Undo"</button>
                </div>
            }
        })}
    }
}

/// The undo bar for a pending move, and the last organizing error.
#[component]
fn UndoBar() -> impl IntoView {
    let ui = use_ui();
    view! {
        {move || ui.pending.with(|p| p.as_ref().map(|p| p.label.clone())).map(|label| view! {
            <div class="toast" role="status">
                <span>{label}</span>
                <button on:click=move |_| undo(ui)>"Undo"</button>
            </div>
        })}
        <Held />
        {move || ui.info.get().filter(|_| ui.pending.with(Option::is_none)).map(|info| view! {
            <div class="toast" role="status"><span>{info}</span></div>
        })}
        {move || ui.problem.get().map(|problem| view! {
            <div class="toast error-toast" role="alert">
                <span>{problem}</span>
                <button on:click=move |_| ui.problem.set(None)>"Dismiss"</button>
            </div>
        })}
    }
}
