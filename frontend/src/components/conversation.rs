//! The open conversation in the reading pane: its messages oldest first, the
//! earlier ones folded to a line, each unfolding to its body and its own actions;
//! the toolbar's actions apply to the whole conversation.

use leptos::prelude::*;
use protocol::{ComposeKind, FolderRole, Part, PartRole};

use super::compose::start_compose_on;
use super::icons;
use super::message_list::show_date;
use super::reader::{Attachments, BackToMessages, BodyView, Organize, Person};
use crate::app::{move_these, use_transport, use_ui};
use crate::conversations::{self, Entry};
use crate::format::people;

#[component]
pub fn ConversationView() -> impl IntoView {
    let ui = use_ui();
    let subject = Memo::new(move |_| {
        ui.conversation
            .with(|c| c.as_ref().map(conversations::Open::subject))
            .unwrap_or_default()
    });
    let state = Memo::new(move |_| {
        ui.conversation.with(|c| match c {
            Some(c) if c.loading => "loading",
            Some(c) if c.error.is_some() => "error",
            _ => "ready",
        })
    });
    // Each message by its place; the entries' own memos follow their changes.
    let places = Memo::new(move |_| {
        ui.conversation.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.entries
                        .iter()
                        .map(|e| (e.folder.clone(), e.header.uid))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let count = move || match places.with(Vec::len)
        + ui.conversation
            .with(|c| c.as_ref().map_or(0, |c| c.earlier as usize))
    {
        1 => "1 message".to_owned(),
        n => format!("{n} messages"),
    };
    let earlier = move || {
        let n = ui
            .conversation
            .with(|c| c.as_ref().map_or(0, |c| c.earlier));
        (n > 0).then(|| {
            let said = if n == 1 {
                "1 earlier message is not shown.".to_owned()
            } else {
                format!("{n} earlier messages are not shown.")
            };
            view! { <p class="note" role="note">{said}</p> }
        })
    };
    view! {
        <article class="message-view conversation" aria-labelledby="conversation-subject">
            <header class="message-head">
                <div class="toolbar" role="toolbar" aria-label="Conversation actions">
                    <BackToMessages />
                    <Organize />
                </div>
                <h2 id="conversation-subject" class="subject">{move || subject.get()}</h2>
                <p class="muted">{count}</p>
            </header>
            {move || match state.get() {
                "loading" => view! {
                    <div class="reader-loading" aria-hidden="true">
                        <div class="skeleton wide"></div>
                        <div class="skeleton"></div>
                    </div>
                    <p class="visually-hidden" role="status">"Opening the conversation…"</p>
                }
                .into_any(),
                "error" => view! {
                    <p class="error banner" role="alert">
                        {move || ui.conversation.with(|c| c.as_ref().and_then(|c| c.error.clone()))}
                    </p>
                }
                .into_any(),
                _ => view! {
                    {earlier}
                    <ol class="conversation-messages" aria-label="Messages in this conversation">
                        <For
                            each=move || places.get()
                            key=|place| place.clone()
                            children=|(folder, uid)| view! { <EntryView folder uid /> }
                        />
                    </ol>
                }
                .into_any(),
            }}
        </article>
    }
}

/// One message of the conversation: a line with its sender and date, which
/// unfolds it; unfolded, its body, attachments and actions.
#[component]
fn EntryView(folder: String, uid: u32) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let place = StoredValue::new((folder.clone(), uid));
    let entry = Memo::new(move |_| {
        ui.conversation.with(|c| {
            place.with_value(|(folder, uid)| {
                c.as_ref()
                    .and_then(|c| c.entries.iter().find(|e| e.is(folder, *uid)))
                    .cloned()
            })
        })
    });
    let opened_from = ui
        .conversation
        .with_untracked(|c| c.as_ref().map(|c| c.folder.clone()))
        .unwrap_or_default();
    // Messages from another folder (the person's own, from Sent) say where they are.
    let elsewhere = (folder != opened_from).then(|| {
        ui.folders
            .with_untracked(|f| f.get(&folder).map(|f| f.name.clone()))
            .unwrap_or_else(|| folder.clone())
    });
    let header = entry.get_untracked().map(|e| e.header);
    let from = header.as_ref().map(|h| people(&h.from)).unwrap_or_default();
    let subject = header
        .as_ref()
        .map(|h| h.subject.clone())
        .unwrap_or_default();
    let (shown, full) = header
        .as_ref()
        .map(|h| show_date(h.date))
        .unwrap_or_default();
    let is_open = move || entry.with(|e| e.as_ref().is_some_and(|e| e.open));
    let unread = move || entry.with(|e| e.as_ref().is_some_and(|e| e.header.is_unread()));
    let toggle = {
        let transport = transport.clone();
        move |_| {
            let (folder, uid) = place.get_value();
            conversations::toggle(ui, transport.clone(), folder, uid);
        }
    };
    let head_label = format!("{from}, {full}");
    view! {
        <li class="entry" class:open=is_open class:unread=unread>
            <button
                class="entry-head"
                aria-expanded=move || is_open().to_string()
                aria-label=head_label
                on:click=toggle
            >
                <span class="from">{from.clone()}</span>
                <span class="entry-subject">{subject}</span>
                {elsewhere.map(|name| view! { <span class="folder-chip">{name}</span> })}
                <time title=full.clone()>{shown}</time>
            </button>
            <Show when=is_open>
                <EntryBody entry from=from.clone() />
            </Show>
        </li>
    }
}

/// An unfolded message: its actions, recipients, body and attachments.
#[component]
fn EntryBody(entry: Memo<Option<Entry>>, from: String) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let view_of = Memo::new(move |_| entry.with(|e| e.as_ref().and_then(|e| e.view.clone())));
    let error = move || entry.with(|e| e.as_ref().and_then(|e| e.error.clone()));
    let place = entry
        .with_untracked(|e| e.as_ref().map(|e| (e.folder.clone(), e.header.uid)))
        .unwrap_or_default();
    let answer = {
        let transport = transport.clone();
        let place = place.clone();
        move |kind: ComposeKind, label: &'static str| {
            let transport = transport.clone();
            let (folder, uid) = place.clone();
            let icon = match kind {
                ComposeKind::Reply => icons::reply().into_any(),
                ComposeKind::ReplyAll => icons::reply_all().into_any(),
                _ => icons::forward().into_any(),
            };
            view! {
                <button class="ghost" aria-label=label on:click=move |_| {
                    start_compose_on(ui, transport.clone(), folder.clone(), uid, kind)
                }>
                    {icon} <span class="label">{label}</span>
                </button>
            }
        }
    };
    let delete = {
        let transport = transport.clone();
        let (folder, uid) = place.clone();
        move |_| {
            let trash = ui
                .folders
                .with_untracked(|f| f.with_role(FolderRole::Trash).map(|f| f.id.clone()));
            if let Some(trash) = trash {
                move_these(
                    ui,
                    transport.clone(),
                    folder.clone(),
                    vec![uid],
                    trash,
                    "Moved to Trash",
                );
            }
        }
    };
    let can_delete = ui.folders.with_untracked(|f| {
        f.with_role(FolderRole::Trash)
            .is_some_and(|t| t.id != place.0)
    });
    let actions_label = format!("Actions for the message from {from}");
    let of = place.clone();
    view! {
        <div class="entry-body">
            <div class="toolbar" role="toolbar" aria-label=actions_label>
                <Show when=move || ui.can_send()>
                    {answer(ComposeKind::Reply, "Reply")}
                    {answer(ComposeKind::ReplyAll, "Reply all")}
                    {answer(ComposeKind::Forward, "Forward")}
                </Show>
                {can_delete.then(|| view! {
                    <button class="ghost" aria-label="Delete this message" on:click=delete.clone()>
                        {icons::folder(Some(FolderRole::Trash))} <span class="label">"Delete"</span>
                    </button>
                })}
            </div>
            {move || error().map(|e| view! { <p class="error banner" role="alert">{e}</p> })}
            {move || match view_of.get() {
                None => view! {
                    <div class="reader-loading" aria-hidden="true"><div class="skeleton tall"></div></div>
                }
                .into_any(),
                Some(message) => {
                    let to = message.to.clone();
                    let files: Vec<Part> = message
                        .parts
                        .iter()
                        .filter(|p| matches!(p.role, PartRole::Attachment | PartRole::Message))
                        .cloned()
                        .collect();
                    let link = message.link.clone();
                    let sender = message.from.clone();
                    view! {
                        <p class="recipients muted">
                            <span class="label">"To: "</span>
                            {to.into_iter().map(|a| view! { <Person address=a /> }).collect_view()}
                        </p>
                        {message.body.map(|b| view! { <BodyView body=b from=sender of=of.clone() /> })}
                        {(!files.is_empty()).then(|| view! { <Attachments files link /> })}
                    }
                    .into_any()
                }
            }}
        </div>
    }
}
