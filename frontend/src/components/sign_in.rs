//! The sign-in page: account (when there are several), user name and password.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{Reply, Request};

use super::icons;
use crate::app::{load_mailbox, use_transport, use_ui};
use crate::state::SignedIn;

#[component]
pub fn SignIn() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let account = RwSignal::new(String::new());
    let user = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let several = move || ui.accounts.with(|a| a.len() > 1);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        ui.notice.set(None);
        let chosen = several().then(|| {
            let picked = account.get_untracked();
            if picked.is_empty() {
                ui.accounts
                    .with_untracked(|a| a.first().cloned().unwrap_or_default())
            } else {
                picked
            }
        });
        let request = Request::SignIn {
            account: chosen,
            user: user.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            protocol: None,
        };
        let transport = transport.clone();
        spawn_local(async move {
            match transport.request(request).await {
                Ok(Reply::SignedIn {
                    account,
                    user,
                    protocol,
                }) => {
                    password.set(String::new());
                    busy.set(false);
                    ui.session.set(Some(SignedIn {
                        account,
                        user,
                        protocol,
                    }));
                    load_mailbox(ui, transport).await;
                }
                Ok(_) => {
                    error.set(Some("Postern gave an unexpected answer.".to_owned()));
                    busy.set(false);
                }
                Err(e) => {
                    error.set(Some(e.message()));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <main class="signin">
            <form class="signin-card" on:submit=submit aria-labelledby="signin-title">
                <div class="signin-brand">
                    {icons::logo()}
                    <h1 id="signin-title">"Sign in to Postern"</h1>
                </div>
                <Show when=several>
                    <label for="account">"Account"</label>
                    <select
                        id="account"
                        prop:value=move || account.get()
                        on:change=move |ev| account.set(event_target_value(&ev))
                    >
                        <For each=move || ui.accounts.get() key=|name| name.clone() let:name>
                            <option value=name.clone()>{name.clone()}</option>
                        </For>
                    </select>
                </Show>
                <label for="user">"User name"</label>
                <input
                    id="user"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    prop:value=move || user.get()
                    on:input=move |ev| user.set(event_target_value(&ev))
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                <div class="signin-status" aria-live="polite">
                    {move || {
                        error
                            .get()
                            .or_else(|| ui.notice.get())
                            .map(|message| view! { <p class="error" role="alert">{message}</p> })
                    }}
                </div>
                <button type="submit" class="primary" aria-busy=move || busy.get().to_string() disabled=move || busy.get()>
                    <span class="spinner" class:hidden=move || !busy.get() aria-hidden="true"></span>
                    "Sign in"
                </button>
            </form>
        </main>
    }
}
