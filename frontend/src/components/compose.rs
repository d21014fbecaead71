//! The compose form (a panel beside the list on a desktop, the whole screen on a
//! phone) and the actions that open it and send from it.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{Address, ComposeKind, Identity, Reply, Request};

use leptos::wasm_split::SplitLoaderError;

use super::attachments::{AttachButton, Files, attach_all};
use super::deferred::Deferred;
use super::icons;
use super::message_list::show_date;
use crate::app::{Ui, use_transport, use_ui};
use crate::compose::{ComposeForm, Field, Format, apply_format, mentions_attachment};
use crate::state::Reader;
use crate::transport::Transport;

/// Opens an empty form, signed, unless one is open already (then it stays as
/// it is).
pub fn new_message(ui: Ui) {
    if ui.compose.with_untracked(Option::is_none) {
        let mut form = ComposeForm::default();
        form.sign(&identities(ui));
        ui.compose.set(Some(form));
    }
}

/// Whom the person can send as, the default first.
pub fn identities(ui: Ui) -> Vec<Identity> {
    ui.session.with_untracked(|s| {
        s.as_ref()
            .and_then(|s| s.sending.as_ref())
            .map(|s| s.identities.clone())
            .unwrap_or_default()
    })
}

/// Starts a reply or forward of the open message.
pub fn start_compose(ui: Ui, transport: Transport, kind: ComposeKind) {
    // The open message, else the newest of the open conversation.
    let answered = ui.reader.with_untracked(Reader::current).or_else(|| {
        ui.conversation
            .with_untracked(|c| c.as_ref().and_then(crate::conversations::Open::newest))
    });
    if let Some((folder, uid)) = answered {
        start_compose_on(ui, transport, folder, uid, kind);
    }
}

/// Starts a reply to, or a forward of, message `uid` of `folder`.
pub fn start_compose_on(ui: Ui, transport: Transport, folder: String, uid: u32, kind: ComposeKind) {
    if !ui.can_send() {
        return;
    }
    if ui
        .compose
        .with_untracked(|c| c.as_ref().is_some_and(|c| !c.is_blank()))
        && !crate::app::confirmed("Discard the message you are writing?")
    {
        return;
    }
    spawn_local(async move {
        match transport
            .request(Request::StartCompose { folder, uid, kind })
            .await
        {
            Ok(Reply::ComposeStarted { draft, quote }) => {
                let when = quote.date.map(|d| show_date(d).1);
                let mut form = ComposeForm::started(*draft, &quote, when.as_deref());
                form.sign(&identities(ui));
                ui.compose.set(Some(form));
            }
            Ok(_) => {}
            Err(error) => ui.problem.set(Some(error.message())),
        }
    });
}

/// Sends what the form holds, after asking about an empty subject or a missing
/// attachment; the form stays open, with the reason, if sending fails.
fn send(ui: Ui, transport: Transport) {
    ui.compose.update(|c| {
        if let Some(c) = c {
            c.settle();
            c.error = None;
        }
    });
    let Some(form) = ui.compose.get_untracked() else {
        return;
    };
    if form.sending {
        return;
    }
    // A save under way first finishes, so that the send removes the version it
    // leaves rather than one it replaced.
    if form.saving {
        set_timeout(
            move || send(ui, transport),
            std::time::Duration::from_millis(200),
        );
        return;
    }
    if let Some(problem) = form.problems().into_iter().next() {
        ui.compose.update(|c| {
            if let Some(c) = c {
                c.error = Some(problem);
            }
        });
        return;
    }
    if form.subject.trim().is_empty()
        && !crate::app::confirmed("This message has no subject. Send it anyway?")
    {
        return;
    }
    if form.files.is_empty()
        && mentions_attachment(&form.text)
        && !crate::app::confirmed(
            "The message mentions an attachment, but none is attached. Send it anyway?",
        )
    {
        return;
    }
    ui.compose.update(|c| {
        if let Some(c) = c {
            c.sending = true;
        }
    });
    let draft = Box::new(form.draft());
    let hold_seconds = crate::settings::undo_send_seconds();
    spawn_local(async move {
        match transport
            .request(Request::SendMessage {
                draft,
                hold_seconds,
            })
            .await
        {
            Ok(Reply::MessageSent { .. }) => {
                ui.compose.set(None);
                ui.say("Message sent.");
            }
            Ok(Reply::MessageQueued { outbox, .. }) => {
                // The bridge holds it; the form is kept here for Undo.
                let mut form = ui.compose.get_untracked().unwrap_or(form);
                form.sending = false;
                form.not_sent = false;
                form.error = None;
                ui.compose.set(None);
                ui.info.set(None);
                ui.outbox.set(Some((outbox, form)));
            }
            Ok(_) => {}
            Err(error) => change_quietly(ui, |c| {
                c.sending = false;
                if let crate::transport::RequestError::Server(wire) = &error {
                    c.refused(&wire.refused);
                }
                c.error = Some(error.message());
            }),
        }
    });
}

/// "Undo": the held message stays, and the form comes back as it was.
pub fn undo_send(ui: Ui, transport: Transport, outbox: u32) {
    spawn_local(async move {
        match transport.request(Request::CancelSend { outbox }).await {
            Ok(Reply::SendCancelled { .. }) => {
                let Some((_, form)) = ui.outbox.get_untracked() else {
                    return;
                };
                ui.outbox.set(None);
                if ui.compose.with_untracked(Option::is_none) {
                    ui.compose.set(Some(form));
                }
            }
            Ok(_) => {}
            Err(error) => {
                ui.outbox.set(None);
                ui.problem.set(Some(error.message()));
            }
        }
    });
}

/// The held message went.
pub fn held_sent(ui: Ui, outbox: u32) {
    if ui
        .outbox
        .with_untracked(|o| o.as_ref().is_some_and(|o| o.0 == outbox))
    {
        ui.outbox.set(None);
    }
    ui.say("Message sent.");
}

/// The held message could not go: the bridge kept it as a draft, and the form
/// comes back with the reason and "Try again".
pub fn held_failed(ui: Ui, outbox: u32, reason: &str, draft: protocol::Draft) {
    let kept = ui
        .outbox
        .get_untracked()
        .filter(|o| o.0 == outbox)
        .map(|o| o.1);
    if kept.is_some() {
        ui.outbox.set(None);
    }
    let note = format!("Not sent: {reason}");
    if ui.compose.with_untracked(Option::is_some) {
        ui.problem
            .set(Some(format!("{note} It is kept in Drafts.")));
        return;
    }
    let mut form = kept.unwrap_or_else(|| ComposeForm::resumed(draft.clone()));
    form.saved = draft.saved;
    form.message_id = draft.message_id;
    form.error = Some(note);
    form.not_sent = true;
    ui.compose.set(Some(form));
}

/// Saves the draft now; whether it is kept. Nothing happens to the fields the
/// person is typing in (the focus and the caret stay where they are).
async fn save_draft(ui: Ui, transport: Transport) -> bool {
    let Some(form) = ui.compose.get_untracked() else {
        return false;
    };
    if form.saving || form.sending || form.uploading() {
        return false;
    }
    let edits = form.edits;
    change_quietly(ui, |c| {
        c.saving = true;
        c.draft_note = Some("Saving…".to_owned());
    });
    let draft = Box::new(form.draft());
    match transport.request(Request::SaveDraft { draft }).await {
        Ok(Reply::DraftSaved {
            saved,
            message_id,
            attachments,
        }) => {
            change_quietly(ui, |c| c.draft_saved(edits, saved, message_id, attachments));
            true
        }
        Ok(_) => false,
        Err(error) => {
            change_quietly(ui, |c| {
                c.saving = false;
                c.draft_note = Some(format!("Draft not saved: {}", error.message()));
            });
            false
        }
    }
}

/// When the draft was last changed and first left unsaved, and when a failed
/// save may be tried again (milliseconds since the epoch).
#[derive(Default)]
struct Autosave {
    edits: u32,
    changed_at: f64,
    unsaved_since: Option<f64>,
    retry_at: f64,
}

/// How long after the last change a draft is saved, and at most how long it
/// stays unsaved while the person keeps typing.
const QUIET_MS: f64 = 3_000.0;
const AT_MOST_MS: f64 = 60_000.0;

/// Checked every second while the form is open.
fn autosave_tick(ui: Ui, transport: Transport, state: StoredValue<Autosave>) {
    let Some((edits, unsaved, blank)) = ui
        .compose
        .with_untracked(|c| c.as_ref().map(|c| (c.edits, c.unsaved(), c.is_blank())))
    else {
        return;
    };
    let now = js_sys::Date::now();
    let due = state
        .try_update_value(|at| {
            if !unsaved {
                at.unsaved_since = None;
                return false;
            }
            if edits != at.edits {
                at.edits = edits;
                at.changed_at = now;
            }
            let since = *at.unsaved_since.get_or_insert(now);
            (now - at.changed_at >= QUIET_MS || now - since >= AT_MOST_MS) && now >= at.retry_at
        })
        .unwrap_or(false);
    if due && !blank {
        spawn_local(async move {
            if !save_draft(ui, transport).await {
                state.update_value(|at| at.retry_at = js_sys::Date::now() + 15_000.0);
            }
        });
    }
}

/// Closes the form, saving the draft first when it has changes.
fn close(ui: Ui, transport: Transport) {
    let (blank, unsaved) = ui.compose.with_untracked(|c| {
        c.as_ref()
            .map_or((true, false), |c| (c.is_blank(), c.unsaved()))
    });
    if blank || !unsaved {
        ui.compose.set(None);
        return;
    }
    spawn_local(async move {
        if save_draft(ui, transport).await {
            ui.compose.set(None);
            ui.say("Draft saved.");
        }
    });
}

/// "Discard draft": asks, then removes the saved draft too.
fn discard(ui: Ui, transport: Transport) {
    let (blank, saved) = ui.compose.with_untracked(|c| {
        c.as_ref()
            .map_or((true, None), |c| (c.is_blank(), c.saved.clone()))
    });
    if (!blank || saved.is_some()) && !crate::app::confirmed("Discard this draft?") {
        return;
    }
    ui.compose.set(None);
    if let Some(saved) = saved {
        spawn_local(async move {
            let request = Request::ExpungeMessages {
                folder: saved.folder,
                uids: vec![saved.uid],
            };
            if let Err(error) = transport.request(request).await {
                ui.problem.set(Some(error.message()));
            }
        });
    }
}

/// Opens a draft from the Drafts folder in the form.
pub fn resume_draft(ui: Ui, transport: Transport, folder: String, uid: u32) {
    let same = ui.compose.with_untracked(|c| {
        c.as_ref()
            .and_then(|c| c.saved.as_ref())
            .is_some_and(|s| s.folder == folder && s.uid == uid)
    });
    if same {
        return;
    }
    if ui
        .compose
        .with_untracked(|c| c.as_ref().is_some_and(|c| !c.is_blank() && c.unsaved()))
        && !crate::app::confirmed("Discard the message you are writing?")
    {
        return;
    }
    spawn_local(async move {
        match transport
            .request(Request::ResumeDraft { folder, uid })
            .await
        {
            Ok(Reply::DraftResumed { draft }) => {
                ui.compose.set(None);
                ui.compose.set(Some(ComposeForm::resumed(*draft)));
            }
            Ok(_) => {}
            Err(error) => ui.problem.set(Some(error.message())),
        }
    });
}

#[component]
pub fn Compose() -> impl IntoView {
    let ui = use_ui();
    view! {
        <Show when=move || ui.compose.with(Option::is_some)>
            <Deferred load=panel class="compose" />
        </Show>
    }
}

/// The form, in its own file of the build (see `deferred`).
#[leptos::wasm_split::wasm_split(
    compose,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    preload(preload_panel)
)]
fn panel() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <ComposePanel /> }.into_any())
}

/// Fetches the form's part of the app ahead of the first "New message".
pub fn preload() {
    spawn_local(async {
        // A failure here is retried, and reported, when the form opens.
        let _ = preload_panel().await;
    });
}

/// Reads one field of the open form.
fn field<T: 'static>(
    ui: Ui,
    read: impl Fn(&ComposeForm) -> T + Copy + Send + Sync + 'static,
) -> impl Fn() -> Option<T> + Copy {
    move || ui.compose.with(|c| c.as_ref().map(&read))
}

/// Changes the open form, as the person did: the draft has changes to save.
fn change(ui: Ui, edit: impl FnOnce(&mut ComposeForm)) {
    ui.compose.update(|c| {
        if let Some(c) = c {
            edit(c);
            c.touch();
        }
    });
}

/// Changes the open form's state, not its content.
fn change_quietly(ui: Ui, edit: impl FnOnce(&mut ComposeForm)) {
    ui.compose.update(|c| {
        if let Some(c) = c {
            edit(c);
        }
    });
}

#[component]
fn ComposePanel() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let reply = ui
        .compose
        .with_untracked(|c| c.as_ref().is_some_and(|c| c.source.is_some()));
    let title = move || {
        ui.compose.with(
            |c| match c.as_ref().and_then(|c| c.source.as_ref()).map(|s| s.kind) {
                Some(ComposeKind::Forward | ComposeKind::ForwardAsAttachment) => "Forward",
                Some(_) => "Reply",
                None => "New message",
            },
        )
    };
    let message = NodeRef::<html::Textarea>::new();
    let first = NodeRef::<html::Input>::new();
    // A new message starts at To, a reply in the text, above the quote.
    Effect::new(move |_| {
        if reply {
            if let Some(text) = message.get() {
                // The text goes in first, so that placing the caret is not undone
                // when the binding fills it in.
                let current = ui
                    .compose
                    .with_untracked(|c| c.as_ref().map(|c| c.text.clone()))
                    .unwrap_or_default();
                text.set_value(&current);
                let _ = text.focus();
                let _ = text.set_selection_range(0, 0);
                text.set_scroll_top(0);
            }
        } else if let Some(to) = first.get() {
            let _ = to.focus();
        }
    });
    // The fields a person types into are filled once; from then on the page holds
    // them and every keystroke is copied into the form.
    let initial = ui.compose.get_untracked().unwrap_or_default();
    let sending = field(ui, |c| c.sending);
    let error = field(ui, |c| c.error.clone());
    let copies = field(ui, |c| c.copies);
    let send_transport = transport.clone();
    let keys_transport = transport.clone();
    let close_transport = transport.clone();
    let discard_transport = transport.clone();
    let dropping = RwSignal::new(false);
    let draft_note = field(ui, |c| c.draft_note.clone());
    let autosave = StoredValue::new(Autosave::default());
    let tick_transport = transport.clone();
    if let Ok(timer) = set_interval_with_handle(
        move || autosave_tick(ui, tick_transport.clone(), autosave),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || timer.clear());
    }
    view! {
        <section
            class="compose"
            role="dialog"
            aria-modal="false"
            aria-label=title
            class:dropping=dropping
            on:keydown=move |ev| {
                if (ev.ctrl_key() || ev.meta_key()) && ev.key() == "Enter" {
                    ev.prevent_default();
                    send(ui, keys_transport.clone());
                }
            }
            on:dragover=move |ev| {
                if carries_files(&ev) {
                    ev.prevent_default();
                    dropping.set(true);
                }
            }
            on:dragleave=move |_| dropping.set(false)
            on:drop=move |ev| {
                dropping.set(false);
                if carries_files(&ev) {
                    ev.prevent_default();
                    attach_all(ui, ev.data_transfer().and_then(|d| d.files()));
                }
            }
        >
            <header class="compose-head">
                <h2>{title}</h2>
                <button class="icon-button" aria-label="Close" title="Close" on:click=move |_| close(ui, close_transport.clone())>
                    {icons::close()}
                </button>
            </header>
            <div class="compose-fields">
                <FromField message />
                <Recipients field=Field::To input=first toggle=true />
                <Show when=move || copies().unwrap_or(false)>
                    <Recipients field=Field::Cc input=NodeRef::new() toggle=false />
                    <Recipients field=Field::Bcc input=NodeRef::new() toggle=false />
                </Show>
                <div class="compose-row">
                    <label for="compose-subject">"Subject"</label>
                    <input
                        id="compose-subject"
                        type="text"
                        maxlength="900"
                        prop:value=initial.subject.clone()
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            change(ui, |c| c.subject = value);
                        }
                    />
                </div>
            </div>
            <Show when=move || field(ui, |c| c.formatted)().unwrap_or(false)>
                <div class="format-bar" role="toolbar" aria-label="Formatting">
                    {Format::ALL.map(|format| view! {
                        <button
                            class="format-button"
                            aria-label=format.label()
                            title=format.label()
                            // The text keeps the focus and its selection.
                            on:mousedown=|ev| ev.prevent_default()
                            on:click=move |_| format_text(ui, message, format)
                        >
                            {format.mark()}
                            {(format == Format::Link).then(icons::link)}
                        </button>
                    }).collect_view()}
                </div>
            </Show>
            <label class="visually-hidden" for="compose-text">"Message"</label>
            <textarea
                id="compose-text"
                class="compose-text"
                node_ref=message
                spellcheck="true"
                prop:value=initial.text.clone()
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    change(ui, |c| c.text = value);
                }
                on:paste=move |ev| {
                    // Pasted images (a screenshot) are attached; text pastes as usual.
                    let files = ev.clipboard_data().and_then(|d| d.files());
                    if files.as_ref().is_some_and(|f| f.length() > 0) {
                        ev.prevent_default();
                        attach_all(ui, files);
                    }
                }
            ></textarea>
            <Files />
            {move || error().flatten().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <footer class="compose-actions">
                <button
                    class="primary"
                    title="Send (Ctrl+Enter)"
                    disabled=move || sending().unwrap_or(false)
                    on:click=move |_| send(ui, send_transport.clone())
                >
                    {move || if field(ui, |c| c.not_sent)().unwrap_or(false) { "Try again" } else { "Send" }}
                </button>
                <AttachButton />
                <button
                    class="ghost format-toggle"
                    aria-pressed=move || field(ui, |c| c.formatted)().unwrap_or(false).to_string()
                    title="Bold, italic, lists, links and quotes, written as Markdown"
                    aria-label="Formatting"
                    on:click=move |_| change(ui, |c| c.formatted = !c.formatted)
                >
                    <span class="mark" aria-hidden="true">"Aa"</span>
                    <span class="label">"Formatting"</span>
                </button>
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || field(ui, |c| c.no_wrap)().unwrap_or(false)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            change(ui, |c| c.no_wrap = on);
                        }
                    />
                    "Don't wrap"
                </label>
                <span class="spacer"></span>
                <span class="draft-note" role="status">{move || draft_note().flatten()}</span>
                <button
                    class="icon-button discard"
                    aria-label="Discard draft"
                    title="Discard draft"
                    on:click=move |_| discard(ui, discard_transport.clone())
                >
                    {icons::folder(Some(protocol::FolderRole::Trash))}
                </button>
            </footer>
        </section>
    }
}

/// Applies a formatting action to the text's selection, keeping the caret in it.
fn format_text(ui: Ui, message: NodeRef<html::Textarea>, format: Format) {
    let Some(text) = message.get() else { return };
    let start = text.selection_start().ok().flatten().unwrap_or(0);
    let end = text.selection_end().ok().flatten().unwrap_or(start);
    let (new, from, to) = apply_format(&text.value(), start, end, format);
    text.set_value(&new);
    let _ = text.set_selection_range(from, to);
    let _ = text.focus();
    change(ui, |c| c.text = new);
}

/// Whether a drag brings files (rather than text, or a message row).
fn carries_files(ev: &web_sys::DragEvent) -> bool {
    ev.data_transfer()
        .is_some_and(|d| d.types().includes(&"Files".into(), 0))
}

/// A recipient field: chips for the addresses taken, an input for the next.
#[component]
fn Recipients(field: Field, input: NodeRef<html::Input>, toggle: bool) -> impl IntoView {
    let ui = use_ui();
    let id = format!("compose-{}", field.label().to_ascii_lowercase());
    let list = move || {
        ui.compose.with(|c| {
            c.as_ref()
                .map(|c| c.list(field).clone())
                .unwrap_or_default()
        })
    };
    let typing = move || {
        ui.compose.with(|c| {
            c.as_ref()
                .map(|c| c.typing(field).to_owned())
                .unwrap_or_default()
        })
    };
    let problems = move || {
        list()
            .into_iter()
            .filter_map(|r| r.problem.map(|p| format!("{}: {p}", r.address.email)))
            .collect::<Vec<_>>()
    };
    let error_id = format!("{id}-problems");
    let described = error_id.clone();
    let transport = use_transport();
    let input_transport = transport.clone();
    let suggestions = RwSignal::new(Vec::<Address>::new());
    let active = RwSignal::new(None::<usize>);
    let list_id = format!("{id}-suggestions");
    let option_id = format!("{id}-suggestion");
    let option_list_id = StoredValue::new(option_id.clone());
    view! {
        <div class="compose-row recipients">
            <label for=id.clone()>{field.label()}</label>
            <div class="chips" on:click=move |_| {
                if let Some(input) = input.get() {
                    let _ = input.focus();
                }
            }>
                {move || list().into_iter().map(|r| {
                    let email = r.address.email.clone();
                    let shown = r.address.name.clone().unwrap_or_else(|| email.clone());
                    let invalid = r.problem.is_some();
                    let remove = format!("Remove {email}");
                    let title = email.clone();
                    view! {
                        <span class="chip" class:invalid=invalid title=title>
                            <span>{shown}</span>
                            <button class="chip-remove" aria-label=remove on:click=move |ev| {
                                ev.stop_propagation();
                                let email = email.clone();
                                change(ui, |c| c.list_mut(field).retain(|x| x.address.email != email));
                            }>{icons::close()}</button>
                        </span>
                    }
                }).collect_view()}
                <input
                    id=id
                    type="text"
                    node_ref=input
                    autocomplete="off"
                    role="combobox"
                    aria-autocomplete="list"
                    aria-expanded=move || (!suggestions.with(Vec::is_empty)).to_string()
                    aria-controls=list_id.clone()
                    aria-activedescendant=move || active.get().map(|i| format!("{option_id}-{i}"))
                    aria-invalid=move || (!problems().is_empty()).to_string()
                    aria-describedby=described
                    prop:value=typing
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        change(ui, |c| c.typed(field, &value, false));
                        suggest(ui, input_transport.clone(), field, suggestions, active);
                    }
                    on:keydown=move |ev| {
                        let key = ev.key();
                        let shown = suggestions.with_untracked(Vec::len);
                        let picked = active.get_untracked();
                        match key.as_str() {
                            "ArrowDown" | "ArrowUp" if shown > 0 => {
                                ev.prevent_default();
                                let down = key == "ArrowDown";
                                active.set(Some(match picked {
                                    None if down => 0,
                                    None => shown - 1,
                                    Some(i) if down => (i + 1) % shown,
                                    Some(i) => (i + shown - 1) % shown,
                                }));
                            }
                            "Escape" if shown > 0 => {
                                ev.stop_propagation();
                                close_suggestions(suggestions, active);
                            }
                            "Enter" | "Tab" if picked.is_some() => {
                                ev.prevent_default();
                                if let Some(address) = picked.and_then(|i| suggestions.with_untracked(|s| s.get(i).cloned())) {
                                    change(ui, |c| c.pick(field, address));
                                }
                                close_suggestions(suggestions, active);
                            }
                            "Enter" => {
                                ev.prevent_default();
                                change(ui, |c| {
                                    let text = c.typing(field).to_owned();
                                    c.typed(field, &text, true);
                                });
                                close_suggestions(suggestions, active);
                            }
                            "Backspace" if typing().is_empty() => change(ui, |c| {
                                c.list_mut(field).pop();
                            }),
                            _ => {}
                        }
                    }
                    on:blur=move |_| {
                        close_suggestions(suggestions, active);
                        change(ui, |c| {
                            let text = c.typing(field).to_owned();
                            c.typed(field, &text, true);
                        });
                    }
                />
                <Show when=move || !suggestions.with(Vec::is_empty)>
                    <ul class="suggestions" role="listbox" id=list_id.clone() aria-label="Suggestions">
                        {move || suggestions.get().into_iter().enumerate().map(|(i, person)| {
                            let shown = person.name.clone().unwrap_or_else(|| person.email.clone());
                            let email = person.name.is_some().then(|| person.email.clone());
                            view! {
                                <li
                                    role="option"
                                    id=format!("{}-{i}", option_list_id.get_value())
                                    aria-selected=move || (active.get() == Some(i)).to_string()
                                    // The input keeps the focus, so that typing goes on.
                                    on:mousedown=|ev| ev.prevent_default()
                                    on:click=move |_| {
                                        change(ui, |c| c.pick(field, person.clone()));
                                        close_suggestions(suggestions, active);
                                    }
                                >
                                    <span class="suggestion-name">{shown}</span>
                                    {email.map(|e| view! { <span class="suggestion-email">{e}</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </Show>
            </div>
            {toggle.then(|| view! {
                <Show when=move || ui.compose.with(|c| c.as_ref().is_some_and(|c| !c.copies))>
                    <button
                        class="link-button"
                        aria-label="Show Cc and Bcc"
                        on:click=move |_| change(ui, |c| c.copies = true)
                    >"Cc Bcc"</button>
                </Show>
            })}
            <p class="field-error" id=error_id>
                {move || problems().join(" ")}
            </p>
        </div>
    }
}

/// Asks the bridge whom to suggest for the address being typed in `field`; an
/// answer that comes after more typing is left aside.
fn suggest(
    ui: Ui,
    transport: Transport,
    field: Field,
    suggestions: RwSignal<Vec<Address>>,
    active: RwSignal<Option<usize>>,
) {
    let typed = move |ui: Ui| {
        ui.compose.with_untracked(|c| {
            c.as_ref()
                .map(|c| c.next_address(field).to_owned())
                .unwrap_or_default()
        })
    };
    let text = typed(ui);
    if text.is_empty() {
        close_suggestions(suggestions, active);
        return;
    }
    spawn_local(async move {
        let request = Request::SuggestRecipients { text: text.clone() };
        let Ok(Reply::RecipientSuggestions {
            text: asked,
            people,
        }) = transport.request(request).await
        else {
            return;
        };
        if asked != typed(ui) {
            return;
        }
        let taken = move |person: &Address| {
            ui.compose.with_untracked(|c| {
                c.as_ref().is_some_and(|c| {
                    c.list(field)
                        .iter()
                        .any(|r| r.address.email.eq_ignore_ascii_case(&person.email))
                })
            })
        };
        let people: Vec<Address> = people.into_iter().filter(|p| !taken(p)).collect();
        active.set(None);
        suggestions.set(people);
    });
}

fn close_suggestions(suggestions: RwSignal<Vec<Address>>, active: RwSignal<Option<usize>>) {
    active.set(None);
    suggestions.set(Vec::new());
}

/// The "From" field, when there is more than one identity to send as; choosing
/// one swaps its signature into the text.
#[component]
fn FromField(message: NodeRef<html::Textarea>) -> impl IntoView {
    let ui = use_ui();
    let all = identities(ui);
    (all.len() > 1).then(|| {
        let current = ui.compose.with_untracked(|c| {
            c.as_ref()
                .and_then(|c| c.identity(&all))
                .map(|i| i.email.clone())
        });
        let options = all
            .iter()
            .map(|identity| {
                let shown = match &identity.name {
                    Some(name) => format!("{name} <{}>", identity.email),
                    None => identity.email.clone(),
                };
                let selected = current.as_deref() == Some(identity.email.as_str());
                view! { <option value=identity.email.clone() selected=selected>{shown}</option> }
            })
            .collect_view();
        view! {
            <div class="compose-row">
                <label for="compose-from">"From"</label>
                <select
                    id="compose-from"
                    on:change=move |ev| {
                        let email = event_target_value(&ev);
                        change(ui, |c| c.switch_identity(&email, &identities(ui)));
                        // The text area holds its own value once filled.
                        if let (Some(text), Some(value)) = (
                            message.get_untracked(),
                            ui.compose.with_untracked(|c| c.as_ref().map(|c| c.text.clone())),
                        ) {
                            text.set_value(&value);
                        }
                    }
                >
                    {options}
                </select>
            </div>
        }
    })
}
