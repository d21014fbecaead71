//! The reading pane: the open message's headers, its body (sanitized HTML in a
//! sandboxed iframe, or plain text as text), what was blocked, and its attachments,
//! which load only when asked for.

use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;
use protocol::{
    Address, Body, BodyContent, ComposeKind, Flag, FolderRole, MessageHeader, MessageView, Note,
    Part, PartRole,
};
use wasm_bindgen::JsCast;

use super::compose::start_compose;
use super::deferred::Deferred;
use super::icons;
use super::message_list::show_date;
use crate::app::{
    Ui, archive_messages, copy_messages, delete_messages, move_messages, open_message, set_flag,
    show_part, use_transport, use_ui,
};
use crate::format::{Piece, kind_label, plain_text, size};
use crate::settings;
use crate::state::Pane;

/// The iframe sandbox: links may open in a new tab, nothing else is allowed. Never
/// `allow-scripts`, never `allow-same-origin`.
const SANDBOX: &str = "allow-popups allow-popups-to-escape-sandbox";

#[component]
pub fn Reader() -> impl IntoView {
    let ui = use_ui();
    // A memo: flag and label changes update the open message in place rather than
    // rebuilding the pane (which would close menus and drop focus).
    let state = Memo::new(move |_| {
        if ui.selected.with(|s| !s.is_empty()) {
            return "selection";
        }
        if ui.conversation.with(Option::is_some) {
            return "conversation";
        }
        ui.reader.with(|r| {
            if r.loading {
                "loading"
            } else if r.error.is_some() && r.message.is_none() {
                "error"
            } else if r.message.is_some() {
                "message"
            } else {
                "empty"
            }
        })
    });
    view! {
        <section class="reader" aria-label="Reading pane" aria-busy=move || (state.get() == "loading").to_string()>
            {move || match state.get() {
                "loading" => view! {
                    <div class="reader-loading" aria-hidden="true">
                        <div class="skeleton wide"></div>
                        <div class="skeleton"></div>
                        <div class="skeleton tall"></div>
                    </div>
                    <p class="visually-hidden" role="status">"Opening the message…"</p>
                }
                .into_any(),
                "error" => view! {
                    <BackToMessages />
                    <p class="error banner" role="alert">
                        {move || ui.reader.with(|r| r.error.clone())}
                    </p>
                }
                .into_any(),
                shown @ ("message" | "selection" | "conversation") => view! {
                    <Deferred load=move || pane(shown) class="reader-part" />
                }
                .into_any(),
                _ => view! {
                    <div class="empty-state">
                        {icons::logo()}
                        <p>"Select a message to read it."</p>
                    </div>
                }
                .into_any(),
            }}
        </section>
    }
}

/// What the pane shows of mail, in its own file of the build (see `deferred`):
/// the open message, the open conversation, or what can be done to a selection.
#[leptos::wasm_split::wasm_split(
    reader,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    preload(preload_pane)
)]
fn pane(shown: &'static str) -> Result<AnyView, SplitLoaderError> {
    Ok(match shown {
        "message" => view! { <OpenMessage /> }.into_any(),
        "selection" => view! { <Selection /> }.into_any(),
        _ => view! { <super::conversation::ConversationView /> }.into_any(),
    })
}

/// Fetches the reading pane's part of the app ahead of the first message opened.
pub fn preload() {
    leptos::task::spawn_local(async {
        // A failure here is retried, and reported, when a message opens.
        let _ = preload_pane().await;
    });
}

#[component]
pub(super) fn BackToMessages() -> impl IntoView {
    let ui = use_ui();
    view! {
        <button
            class="icon-button only-narrow"
            aria-label="Back to messages"
            on:click=move |_| ui.pane.set(Pane::Messages)
        >
            {icons::back()}
        </button>
    }
}

/// Reads a field of the open message; the closure re-runs only when it changes.
fn field<T: PartialEq + Clone + Send + Sync + 'static>(
    ui: Ui,
    get: impl Fn(&MessageView) -> T + Send + Sync + 'static,
) -> Memo<Option<T>> {
    Memo::new(move |_| ui.reader.with(|r| r.message.as_ref().map(&get)))
}

#[component]
fn OpenMessage() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let subject = field(ui, |m| {
        if m.subject.is_empty() {
            "(no subject)".to_owned()
        } else {
            m.subject.clone()
        }
    });
    let from = field(ui, |m| m.from.clone());
    let to = field(ui, |m| m.to.clone());
    let cc = field(ui, |m| m.cc.clone());
    let reply_to = field(ui, |m| {
        let differs = m
            .reply_to
            .iter()
            .map(|a| &a.email)
            .ne(m.from.iter().map(|a| &a.email));
        if differs {
            m.reply_to.clone()
        } else {
            Vec::new()
        }
    });
    let date = field(ui, |m| m.date);
    let body = field(ui, |m| m.body.clone());
    let notes = field(ui, |m| m.notes.clone());
    let link = field(ui, |m| m.link.clone());
    let parts = field(ui, |m| m.parts.clone());
    let alternatives = field(ui, |m| m.alternatives.clone());
    let nested = field(ui, |m| m.part.is_some());
    let seen = move || ui.reader.with(|r| r.has_flag(&Flag::Seen));
    let switching = move || ui.reader.with(|r| r.switching);

    let back_transport = transport.clone();
    let source_url = move || {
        link.get()
            .map(|l| format!("{l}/source"))
            .unwrap_or_default()
    };
    let other_alternative = move || {
        let current = body.get().flatten().map(|b| b.part)?;
        alternatives
            .get()?
            .into_iter()
            .find(|id| *id != current)
            .map(|id| {
                (
                    id,
                    matches!(
                        body.get().flatten().map(|b| b.content),
                        Some(BodyContent::Html { .. })
                    ),
                )
            })
    };

    view! {
        <article class="message-view" aria-labelledby="reader-subject">
            <header class="message-head">
                <div class="toolbar" role="toolbar" aria-label="Message actions">
                    <BackToMessages />
                    <Show when=move || nested.get().unwrap_or(false)>
                        <button class="ghost" on:click={
                            let transport = back_transport.clone();
                            move |_| {
                                if let Some((folder, uid)) = ui.reader.with_untracked(crate::state::Reader::current) {
                                    open_message(ui, transport.clone(), folder, uid, None);
                                }
                            }
                        }>
                            {icons::back()} "Back to the message"
                        </button>
                    </Show>
                    <Answer />
                    <Organize />
                    <span class="spacer"></span>
                    {
                        let transport = transport.clone();
                        move || {
                            let transport = transport.clone();
                            if seen() {
                                view! {
                                    <button class="ghost" on:click=move |_| set_flag(ui, transport.clone(), Flag::Seen, false)>
                                        {icons::envelope()} <span class="label">"Mark as unread"</span>
                                    </button>
                                }
                                .into_any()
                            } else {
                                view! {
                                    <button class="ghost" on:click=move |_| set_flag(ui, transport.clone(), Flag::Seen, true)>
                                        {icons::envelope_open()} <span class="label">"Mark as read"</span>
                                    </button>
                                }
                                .into_any()
                            }
                        }
                    }
                    {
                        let transport = transport.clone();
                        move || other_alternative().map(|(id, showing_html)| {
                            let transport = transport.clone();
                            let label = if showing_html { "Show plain text" } else { "Show formatted text" };
                            view! {
                                <button class="ghost" disabled=switching on:click=move |_| {
                                    show_part(ui, transport.clone(), id.clone(), false)
                                }>{label}</button>
                            }
                        })
                    }
                    <a class="button ghost" href=source_url download="message.eml">
                        {icons::code()} <span class="label">"View source"</span>
                    </a>
                </div>
                <h2 id="reader-subject" class="subject">{move || subject.get()}</h2>
                <div class="people">
                    <p class="from">
                        {move || from.get().unwrap_or_default().into_iter().map(|a| view! { <Person address=a /> }).collect_view()}
                    </p>
                    {move || date.get().flatten().map(|d| {
                        let (_, full) = show_date(d);
                        view! { <p class="date muted">{full}</p> }
                    })}
                    <Recipients label="To" list=Signal::derive(move || to.get().unwrap_or_default()) />
                    <Recipients label="Cc" list=Signal::derive(move || cc.get().unwrap_or_default()) />
                    <Recipients label="Reply to" list=Signal::derive(move || reply_to.get().unwrap_or_default()) />
                </div>
            </header>
            {move || notes.get().unwrap_or_default().into_iter().map(|n| view! {
                <p class="note" role="note">{note_text(&n)}</p>
            }).collect_view()}
            {move || body.get().flatten().map(|b| view! { <BodyView body=b from=from.get().unwrap_or_default() /> })}
            {move || {
                let files: Vec<Part> = parts
                    .get()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| matches!(p.role, PartRole::Attachment | PartRole::Message))
                    .collect();
                (!files.is_empty()).then(|| view! {
                    <Attachments files link=link.get().unwrap_or_default() />
                })
            }}
        </article>
    }
}

/// Reply, reply all and forward, for accounts that can send.
#[component]
fn Answer() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let button =
        move |kind: ComposeKind, label: &'static str, shown: &'static str, key: &'static str| {
            let transport = transport.clone();
            let icon = match kind {
                ComposeKind::Reply => icons::reply().into_any(),
                ComposeKind::ReplyAll => icons::reply_all().into_any(),
                ComposeKind::Forward => icons::forward().into_any(),
                ComposeKind::ForwardAsAttachment => icons::paperclip().into_any(),
            };
            let title = if key.is_empty() {
                label.to_owned()
            } else {
                format!("{label} ({key})")
            };
            view! {
                <button
                    class="ghost"
                    aria-label=label
                    title=title
                    on:click=move |_| start_compose(ui, transport.clone(), kind)
                >
                    {icon} <span class="label">{shown}</span>
                </button>
            }
        };
    view! {
        <Show when=move || ui.can_send()>
            {button(ComposeKind::Reply, "Reply", "Reply", "r")}
            {button(ComposeKind::ReplyAll, "Reply all", "Reply all", "a")}
            {button(ComposeKind::Forward, "Forward", "Forward", "f")}
            {button(ComposeKind::ForwardAsAttachment, "Forward as attachment", "As attachment", "")}
        </Show>
    }
}

/// Several messages picked: what can be done to all of them at once.
#[component]
fn Selection() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let count = move || ui.selected.with(Vec::len);
    let all_read = Memo::new(move |_| {
        let selected = ui.selected.get();
        ui.list.with(|l| l.all(&selected, |m| !m.is_unread()))
    });
    view! {
        <div class="selection">
            <div class="toolbar" role="toolbar" aria-label="Message actions">
                <Organize />
                <span class="spacer"></span>
                {
                    let transport = transport.clone();
                    move || {
                        let transport = transport.clone();
                        let read = all_read.get();
                        let label = if read { "Mark as unread" } else { "Mark as read" };
                        view! {
                            <button class="ghost" on:click=move |_| set_flag(ui, transport.clone(), Flag::Seen, !read)>
                                {if read { icons::envelope().into_any() } else { icons::envelope_open().into_any() }}
                                {label}
                            </button>
                        }
                    }
                }
                <button class="ghost" on:click=move |_| ui.selected.set(Vec::new())>
                    {icons::close()} "Clear selection"
                </button>
            </div>
            <div class="empty-state">
                <p role="status">
                    {move || match count() {
                        1 => "1 message selected".to_owned(),
                        n => format!("{n} messages selected"),
                    }}
                </p>
            </div>
        </div>
    }
}

/// Archive, delete, flag and move the targets: the selected messages, else the
/// open one.
#[component]
pub(super) fn Organize() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    // Memos, so that refreshed counts or flags elsewhere do not rebuild the buttons
    // (which would also drop keyboard focus).
    let current = Memo::new(move |_| ui.list.with(|l| l.folder.clone()).unwrap_or_default());
    let role_of = move |role| ui.folders.with(|f| f.with_role(role).map(|f| f.id.clone()));
    let trash_id = Memo::new(move |_| role_of(FolderRole::Trash));
    let in_trash = Memo::new(move |_| trash_id.get().is_some_and(|t| t == current.get()));
    let archive = Memo::new(move |_| role_of(FolderRole::Archive).filter(|a| *a != current.get()));
    let flagged = Memo::new(move |_| {
        let selected = ui.selected.get();
        if selected.is_empty() {
            return ui.reader.with(|r| r.has_flag(&Flag::Flagged));
        }
        ui.list
            .with(|l| l.all(&selected, MessageHeader::is_flagged))
    });
    let nested =
        Memo::new(move |_| ui.selected.with(Vec::is_empty) && ui.reader.with(|r| r.part.is_some()));
    let targets = Memo::new(move |_| {
        let here = current.get();
        ui.folders.with(|f| {
            f.folders
                .iter()
                .filter(|f| f.selectable && !f.read_only && f.id != here)
                .map(|f| (f.id.clone(), super::folder_list::indented(f)))
                .collect::<Vec<_>>()
        })
    });
    let archive_button = {
        let transport = transport.clone();
        move || {
            let transport = transport.clone();
            archive.get().map(|_| {
                view! {
                    <button class="ghost" title="Archive (e)" on:click=move |_| {
                        archive_messages(ui, transport.clone())
                    }>{icons::folder(Some(FolderRole::Archive))} <span class="label">"Archive"</span></button>
                }
            })
        }
    };
    let delete_button = {
        let transport = transport.clone();
        move || {
            let transport = transport.clone();
            if in_trash.get() {
                view! {
                    <button class="ghost danger" title="Delete permanently (#)" on:click=move |_| {
                        delete_messages(ui, transport.clone())
                    }>{icons::folder(Some(FolderRole::Trash))} <span class="label">"Delete permanently"</span></button>
                }
                .into_any()
            } else {
                let can = trash_id.get().is_some() || ui.pop3();
                view! {
                    <button class="ghost" title="Delete (#)" disabled=!can on:click=move |_| {
                        delete_messages(ui, transport.clone())
                    }>{icons::folder(Some(FolderRole::Trash))} <span class="label">"Delete"</span></button>
                }
                .into_any()
            }
        }
    };
    let flag_button = {
        let transport = transport.clone();
        move || {
            let transport = transport.clone();
            let on = flagged.get();
            let label = if on { "Remove flag" } else { "Flag" };
            view! {
                <button class="ghost" title="Flag (s)" aria-pressed=on.to_string() on:click=move |_| {
                    set_flag(ui, transport.clone(), Flag::Flagged, !on)
                }>{icons::flag()} <span class="label">{label}</span></button>
            }
        }
    };
    let move_menu = move || {
        let (transport, copy_transport) = (transport.clone(), transport.clone());
        let targets = targets.get();
        view! {
            <select class="move-to" aria-label="Move to folder" title="Move to folder (v)" on:change=move |ev| {
                let to = event_target_value(&ev);
                if !to.is_empty() {
                    let name = ui.folders.with_untracked(|f| f.get(&to).map(|f| f.name.clone())).unwrap_or_default();
                    move_messages(ui, transport.clone(), to, &format!("Moved to {name}"));
                }
            }>
                <option value="" selected=true>"Move to…"</option>
                {targets.iter().cloned().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
            </select>
            <select class="move-to" aria-label="Copy to folder" on:change={
                move |ev| {
                    let to = event_target_value(&ev);
                    // The menu is an action, not a setting: back to its prompt.
                    if let Some(menu) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok()) {
                        menu.set_value("");
                    }
                    if !to.is_empty() {
                        copy_messages(ui, copy_transport.clone(), to);
                    }
                }
            }>
                <option value="" selected=true>"Copy to…"</option>
                {targets.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
            </select>
        }
    };
    // A memo, so that new counts (which change `ui.folders`) leave the toolbar be.
    let read_only = Memo::new(move |_| {
        let here = current.get();
        ui.folders
            .with(|f| f.get(&here).is_some_and(|f| f.read_only))
    });
    move || {
        (!nested.get()).then(|| {
            if read_only.get() {
                // Nothing here can change; copying out to one's own folders can.
                return view! {
                    <span class="read-only muted">"Read-only folder"</span>
                    {move_menu.clone()()}
                }
                .into_any();
            }
            view! {
                {archive_button.clone()}
                {delete_button.clone()}
                // POP3 has no folders to move to and no labels.
                {(!ui.pop3()).then(|| view! { <Labels /> })}
                {flag_button.clone()}
                {(!ui.pop3()).then(move_menu.clone())}
            }
            .into_any()
        })
    }
}

#[component]
pub(super) fn Person(address: Address) -> impl IntoView {
    let Address { name, email } = address;
    match name {
        Some(name) => view! {
            <span class="person"><strong>{name}</strong> " " <span class="muted">{format!("<{email}>")}</span></span>
        }
        .into_any(),
        None => view! { <span class="person"><strong>{email}</strong></span> }.into_any(),
    }
}

#[component]
fn Recipients(label: &'static str, list: Signal<Vec<Address>>) -> impl IntoView {
    move || {
        let list = list.get();
        (!list.is_empty()).then(|| {
            let people = list
                .iter()
                .map(|a| match &a.name {
                    Some(name) => format!("{name} <{}>", a.email),
                    None => a.email.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            view! { <p class="recipients muted"><span class="label">{label} ": "</span>{people}</p> }
        })
    }
}

/// A message's body; `of` names the message when it is one of an open
/// conversation's (else it is the reader's).
#[component]
pub(super) fn BodyView(
    body: Body,
    from: Vec<Address>,
    #[prop(optional)] of: Option<(String, u32)>,
) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let sender = from
        .first()
        .map(|a| a.email.clone())
        .filter(|e| !e.is_empty());
    let blocked = body.blocked_remote;
    let part = body.part.clone();
    let show = move |transport: crate::transport::Transport, part: String| match of.clone() {
        Some((folder, uid)) => {
            crate::conversations::show_part(ui, transport, folder, uid, part, true)
        }
        None => show_part(ui, transport, part, true),
    };
    let bar = (blocked > 0 && !body.remote_loaded).then(|| {
        let load = {
            let transport = transport.clone();
            let part = part.clone();
            let show = show.clone();
            move |_| show(transport.clone(), part.clone())
        };
        let always = sender.map(|sender| {
            let transport = transport.clone();
            let part = part.clone();
            let label = format!("Always load from {sender}");
            view! {
                <button on:click=move |_| {
                    settings::allow_remote(&sender);
                    show(transport.clone(), part.clone())
                }>{label}</button>
            }
        });
        let count = if blocked == 1 {
            "1 remote image was blocked to protect your privacy.".to_owned()
        } else {
            format!("{blocked} remote images were blocked to protect your privacy.")
        };
        view! {
            <div class="remote-bar" role="status">
                {icons::shield()}
                <span>{count}</span>
                <button on:click=load>"Load remote images"</button>
                {always}
            </div>
        }
    });
    let notes = body
        .notes
        .iter()
        .map(|n| view! { <p class="note" role="note">{note_text(n)}</p> })
        .collect_view();
    let truncated = body.truncated.then(|| {
        view! { <p class="note" role="note">"This message is long; only its beginning is shown. Use View source for all of it."</p> }
    });
    let kind = match body.content {
        BodyContent::Html { .. } => "message-body html",
        BodyContent::Text { .. } => "message-body text",
    };
    let content = match body.content {
        BodyContent::Html { document } => view! {
            <iframe
                class="mail-frame"
                title="Message body"
                sandbox=SANDBOX
                referrerpolicy="no-referrer"
                srcdoc=document
            ></iframe>
        }
        .into_any(),
        BodyContent::Text { text } => view! { <PlainText text /> }.into_any(),
    };
    view! {
        {bar}
        {notes}
        {truncated}
        <div class=kind>{content}</div>
    }
}

#[component]
fn PlainText(text: String) -> impl IntoView {
    let lines = plain_text(&text)
        .into_iter()
        .map(|line| {
            let quote = line.quote.min(3);
            let class = format!("line quote-{quote}");
            let pieces = line
                .pieces
                .into_iter()
                .map(|piece| match piece {
                    Piece::Text(text) => text.into_any(),
                    Piece::Link(href) => {
                        let text = href.clone();
                        view! { <a href=href target="_blank" rel="noopener noreferrer">{text}</a> }
                            .into_any()
                    }
                })
                .collect_view();
            view! { <div class=class>{pieces}"\u{200b}"</div> }
        })
        .collect_view();
    view! { <div class="plain-text">{lines}</div> }
}

#[component]
pub(super) fn Attachments(files: Vec<Part>, link: String) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let preview = RwSignal::new(None::<(String, String)>);
    let count = files.len();
    let heading = if count == 1 {
        "1 attachment".to_owned()
    } else {
        format!("{count} attachments")
    };
    let items = files
        .into_iter()
        .map(|part| {
            let name = part.name.clone().unwrap_or_else(|| {
                format!(
                    "Untitled {}",
                    kind_label(&part.content_type).to_ascii_lowercase()
                )
            });
            let meta = format!("{} · {}", kind_label(&part.content_type), size(part.size));
            let download = format!("{link}/part/{}", part.id);
            let previewable = is_previewable(&part.content_type);
            let preview_url = format!("{link}/inline/{}", part.id);
            let action = if part.role == PartRole::Message {
                let transport = transport.clone();
                let id = part.id.clone();
                let label = format!("Open {name}");
                view! {
                    <button class="ghost" aria-label=label on:click=move |_| {
                        if let Some((folder, uid)) = ui.reader.with_untracked(crate::state::Reader::current) {
                            open_message(ui, transport.clone(), folder, uid, Some(id.clone()));
                        }
                    }>"Open"</button>
                }
                .into_any()
            } else if previewable {
                let label = format!("Preview {name}");
                let shown = name.clone();
                view! {
                    <button class="ghost" aria-label=label on:click=move |_| {
                        preview.set(Some((preview_url.clone(), shown.clone())))
                    }>"Preview"</button>
                }
                .into_any()
            } else {
                ().into_any()
            };
            let download_label = format!("Download {name}");
            view! {
                <li class="attachment">
                    <span class="file-icon" aria-hidden="true">{icons::file()}</span>
                    <span class="file-text">
                        <span class="file-name">{name.clone()}</span>
                        <span class="muted file-meta">{meta}</span>
                    </span>
                    {action}
                    <a class="button ghost" href=download download=name aria-label=download_label>
                        {icons::download()}
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="attachments" aria-label="Attachments">
            <h3 class="muted">{icons::paperclip()} {heading}</h3>
            <ul role="list">{items}</ul>
            {move || preview.get().map(|(url, name)| {
                let title = format!("Preview of {name}");
                view! {
                    <div class="preview" role="dialog" aria-modal="true" aria-label=title>
                        <button class="icon-button close" aria-label="Close preview" on:click=move |_| preview.set(None)>
                            {icons::close()}
                        </button>
                        <img src=url alt=name />
                    </div>
                }
            })}
        </section>
    }
}

fn is_previewable(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png"
            | "image/jpeg"
            | "image/jpg"
            | "image/gif"
            | "image/webp"
            | "image/avif"
            | "image/bmp"
    )
}

fn note_text(note: &Note) -> String {
    match note {
        Note::TooManyParts { shown } => {
            format!("This message has more parts than can be listed; the first {shown} are shown.")
        }
        Note::NestedTooDeep => {
            "Some parts are nested too deeply to show. View source has everything.".to_owned()
        }
        Note::UnknownCharset { charset } => {
            format!(
                "This text uses an unknown character set ({charset}); some characters may look wrong."
            )
        }
        Note::DamagedEncoding => {
            "Part of this message is damaged; what could be read is shown.".to_owned()
        }
        Note::NoDisplayablePart => "This message has no text to show.".to_owned(),
        Note::MalformedStructure => {
            "This message is not formatted correctly; it is shown as it was sent.".to_owned()
        }
    }
}

/// The labels (IMAP keywords) of the targets: each known label toggles, and a new
/// one can be added where the server allows it.
#[component]
fn Labels() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    // Each label with whether every target has it.
    let labels = Memo::new(move |_| {
        let targets: Vec<u32> = {
            let selected = ui.selected.get();
            if selected.is_empty() {
                ui.reader
                    .with(|r| r.current())
                    .and_then(|(folder, uid)| crate::app::row_of(ui, &folder, uid))
                    .into_iter()
                    .collect()
            } else {
                selected
            }
        };
        ui.list.with(|l| {
            let mut names: Vec<String> = l.labels.clone();
            for message in l.messages.iter().filter(|m| targets.contains(&m.uid)) {
                for flag in &message.flags {
                    if let Flag::Keyword(name) = flag
                        && crate::format::is_label(name)
                        && !names.contains(name)
                    {
                        names.push(name.clone());
                    }
                }
            }
            names
                .into_iter()
                .map(|name| {
                    let on = l.all(&targets, |m| {
                        m.flags
                            .iter()
                            .any(|f| matches!(f, Flag::Keyword(k) if *k == name))
                    });
                    (name, on)
                })
                .collect::<Vec<_>>()
        })
    });
    let new_labels = Memo::new(move |_| ui.list.with(|l| l.new_labels));
    let typed = RwSignal::new(String::new());
    let invalid = RwSignal::new(false);
    let add = {
        let transport = transport.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let name = typed.get_untracked().trim().to_owned();
            if !crate::format::valid_label(&name) {
                invalid.set(true);
                return;
            }
            invalid.set(false);
            typed.set(String::new());
            ui.list.update(|l| {
                if !l.labels.contains(&name) {
                    l.labels.push(name.clone());
                }
            });
            set_flag(ui, transport.clone(), Flag::Keyword(name), true);
        }
    };
    // The menu stays put (and open) while its labels change.
    let hidden = move || labels.with(Vec::is_empty) && !new_labels.get();
    view! {
        <details class="folder-menu labels-menu" class:hidden=hidden>
            <summary class="ghost-summary">{icons::tag()} <span class="label">"Labels"</span></summary>
            <div class="menu-panel" role="group" aria-label="Labels">
                <For
                    each=move || labels.get()
                    key=|label| label.clone()
                    children=move |(name, on)| {
                        let transport = transport.clone();
                        let label = name.clone();
                        view! {
                            <button class="ghost" aria-pressed=on.to_string() on:click=move |_| {
                                set_flag(ui, transport.clone(), Flag::Keyword(label.clone()), !on)
                            }>
                                <span class="check" aria-hidden="true">{if on { "✓" } else { "" }}</span>
                                {name}
                            </button>
                        }
                    }
                />
                <Show when=move || new_labels.get()>
                    <form class="new-label" on:submit=add.clone()>
                        <input
                            type="text"
                            aria-label="New label"
                            placeholder="New label"
                            prop:value=move || typed.get()
                            on:input=move |ev| typed.set(event_target_value(&ev))
                        />
                        <button type="submit" class="ghost">"Add label"</button>
                    </form>
                    <p class="muted hint" role="alert">
                        {move || invalid.get().then_some("Letters, digits and - _ . only, no spaces.")}
                    </p>
                </Show>
            </div>
        </details>
    }
}
