//! Settings' "Identities": the names, addresses and signatures a person sends
//! as, the default first. The bridge checks and keeps them for all of the
//! person's browsers.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{Identity, MAX_IDENTITIES, MAX_IDENTITY_NAME, MAX_SIGNATURE, Reply, Request};

use super::compose::identities;
use crate::app::{Ui, use_transport, use_ui};

/// One identity as the dialog edits it; `key` stays with it as rows move.
#[derive(Clone, Copy)]
struct Row {
    key: u32,
    name: RwSignal<String>,
    email: RwSignal<String>,
    signature: RwSignal<String>,
}

impl Row {
    fn new(key: u32, identity: &Identity) -> Self {
        Row {
            key,
            name: RwSignal::new(identity.name.clone().unwrap_or_default()),
            email: RwSignal::new(identity.email.clone()),
            signature: RwSignal::new(identity.signature.clone().unwrap_or_default()),
        }
    }

    fn identity(&self) -> Identity {
        let kept = |text: String| (!text.trim().is_empty()).then_some(text);
        Identity {
            name: kept(self.name.get_untracked()),
            email: self.email.get_untracked().trim().to_owned(),
            signature: kept(self.signature.get_untracked()),
        }
    }
}

/// The settings entry that opens the dialog.
#[component]
pub fn IdentitiesButton(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button class="ghost" on:click=move |ev| {
            // The settings menu closes behind the dialog.
            if let Some(menu) = event_target::<web_sys::Element>(&ev).closest("details").ok().flatten() {
                let _ = menu.remove_attribute("open");
            }
            open.set(true);
        }>"Identities"</button>
    }
}

/// The dialog, while `open`.
#[component]
pub fn IdentitiesDialog(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            <Editor open />
        </Show>
    }
}

#[component]
fn Editor(open: RwSignal<bool>) -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let start: Vec<Row> = identities(ui)
        .iter()
        .zip(0..)
        .map(|(identity, key)| Row::new(key, identity))
        .collect();
    let next = StoredValue::new(start.len() as u32);
    let rows = RwSignal::new(start);
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let close = move || open.set(false);
    let position = move |key: u32| rows.with(|r| r.iter().position(|row| row.key == key));
    let add = move |_| {
        let key = next.get_value();
        next.set_value(key + 1);
        rows.update(|r| r.push(Row::new(key, &Identity::default())));
    };
    let save = move |_| {
        let list: Vec<Identity> = rows.with_untracked(|r| r.iter().map(Row::identity).collect());
        if let Some(problem) = problem(&list) {
            error.set(Some(problem));
            return;
        }
        saving.set(true);
        error.set(None);
        let transport = transport.clone();
        spawn_local(async move {
            let answer = transport
                .request(Request::SaveIdentities { identities: list })
                .await;
            saving.set(false);
            match answer {
                Ok(Reply::IdentitiesSaved { identities }) => {
                    saved(ui, identities);
                    open.set(false);
                }
                Ok(_) => {}
                Err(problem) => error.set(Some(problem.message())),
            }
        });
    };
    let dialog = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(first) = dialog
            .get()
            .and_then(|d| d.query_selector("input").ok().flatten())
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = first.focus();
        }
    });
    view! {
        <div class="dialog-backdrop" on:click=move |_| close()>
            <div
                node_ref=dialog
                class="dialog identities"
                role="dialog"
                aria-modal="true"
                aria-labelledby="identities-title"
                on:click=|ev| ev.stop_propagation()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        ev.stop_propagation();
                        close();
                    }
                }
            >
                <h2 id="identities-title">"Identities"</h2>
                <p class="muted hint">
                    "The addresses you send from, the first by default. Your mail server decides which of them it lets you use."
                </p>
                // The fields are filled once and then held by the page, so that
                // typing is never overwritten (an email input trims as it goes).
                <For each=move || rows.get() key=|row| row.key let:row>
                    {
                        let number = move || position(row.key).map_or(0, |i| i + 1);
                        let id = move |what: &str| format!("identity-{}-{what}", row.key);
                        view! {
                            <fieldset class="identity">
                                <legend>{move || format!("Identity {}", number())}
                                    {move || (number() == 1).then(|| view! { <span class="default-mark">" (default)"</span> })}
                                </legend>
                                <div class="field">
                                    <label for=id("name")>"Name"</label>
                                    <input
                                        id=id("name")
                                        type="text"
                                        maxlength=MAX_IDENTITY_NAME.to_string()
                                        autocomplete="name"
                                        prop:value=row.name.get_untracked()
                                        on:input=move |ev| row.name.set(event_target_value(&ev))
                                    />
                                </div>
                                <div class="field">
                                    <label for=id("email")>"Address"</label>
                                    <input
                                        id=id("email")
                                        type="email"
                                        autocomplete="email"
                                        prop:value=row.email.get_untracked()
                                        on:input=move |ev| row.email.set(event_target_value(&ev))
                                    />
                                </div>
                                <div class="field">
                                    <label for=id("signature")>"Signature"</label>
                                    <textarea
                                        id=id("signature")
                                        rows="3"
                                        maxlength=MAX_SIGNATURE.to_string()
                                        prop:value=row.signature.get_untracked()
                                        on:input=move |ev| row.signature.set(event_target_value(&ev))
                                    ></textarea>
                                </div>
                                <div class="identity-actions">
                                    <Show when=move || 1 < number()>
                                        <button class="ghost" on:click=move |_| rows.update(|r| {
                                            if let Some(i) = r.iter().position(|x| x.key == row.key) {
                                                let moved = r.remove(i);
                                                r.insert(0, moved);
                                            }
                                        })>"Make default"</button>
                                    </Show>
                                    <button
                                        class="ghost"
                                        aria-label=move || format!("Remove identity {}", number())
                                        on:click=move |_| {
                                            error.set(None);
                                            rows.update(|r| r.retain(|x| x.key != row.key));
                                        }
                                    >"Remove"</button>
                                </div>
                            </fieldset>
                        }
                    }
                </For>
                <Show when=move || rows.with(Vec::is_empty)>
                    <p class="muted">"With none, you send as the address you signed in with."</p>
                </Show>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="dialog-buttons">
                    <button
                        class="ghost add-identity"
                        disabled=move || rows.with(|r| r.len() >= MAX_IDENTITIES)
                        on:click=add
                    >"Add identity"</button>
                    <span class="spacer"></span>
                    <button class="ghost" on:click=move |_| close()>"Cancel"</button>
                    <button class="primary" disabled=move || saving.get() on:click=save>
                        "Save identities"
                    </button>
                </div>
            </div>
        </div>
    }
}

/// What the page can tell before asking the bridge, which checks it all again.
fn problem(list: &[Identity]) -> Option<String> {
    list.iter().enumerate().find_map(|(i, identity)| {
        let number = i + 1;
        if identity.email.is_empty() {
            return Some(format!("Identity {number} needs an address."));
        }
        protocol::address_problem(&identity.email)
            .map(|why| format!("{} is not a valid address: {why}.", identity.email))
    })
}

/// The bridge kept `identities`: compose uses them from now on.
fn saved(ui: Ui, identities: Vec<Identity>) {
    ui.session.update(|s| {
        if let Some(sending) = s.as_mut().and_then(|s| s.sending.as_mut()) {
            sending.identities = identities;
        }
    });
    ui.say("Identities saved.");
}
