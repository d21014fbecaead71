//! The sign-in page: account (when there are several), protocol (for an account
//! with both IMAP and POP3), user name and password.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{ErrorCode, MailProtocol, Reply, Request};

use super::icons;
use crate::app::{load_mailbox, use_transport, use_ui};
use crate::state::SignedIn;
use crate::transport::RequestError;

/// How long to wait before trying a sign-in again whose mailbox was in use.
const RETRY_IN_USE: std::time::Duration = std::time::Duration::from_secs(15);

/// Whether the account `picked` (empty: the first) offers both protocols.
fn offers_both_untracked(ui: crate::app::Ui, picked: &str) -> bool {
    let name = if picked.is_empty() {
        ui.accounts
            .with_untracked(|a| a.first().cloned().unwrap_or_default())
    } else {
        picked.to_owned()
    };
    ui.both_protocols.with_untracked(|b| b.contains(&name))
}

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
    let pop3 = RwSignal::new(false);
    // The account the form is for: the one picked, else the first.
    let chosen_account = move || {
        let picked = account.get();
        if picked.is_empty() {
            ui.accounts.with(|a| a.first().cloned().unwrap_or_default())
        } else {
            picked
        }
    };
    let offers_both = move || {
        let name = chosen_account();
        ui.both_protocols.with(|b| b.contains(&name))
    };
    // Set while a sign-in waits to be tried again because the mailbox was in use;
    // `again` is bumped when it is time.
    let retrying = StoredValue::new(false);
    let again = RwSignal::new(0u32);

    // Set while a sign-in waits for the bridge to say which accounts it serves (on
    // a slow link a person can type faster than the socket opens).
    let waiting = StoredValue::new(false);

    let attempt = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        ui.notice.set(None);
        if ui.accounts.with_untracked(Vec::is_empty) {
            waiting.set_value(true);
            return;
        }
        let chosen = several().then(|| {
            let picked = account.get_untracked();
            if picked.is_empty() {
                ui.accounts
                    .with_untracked(|a| a.first().cloned().unwrap_or_default())
            } else {
                picked
            }
        });
        let protocol = offers_both_untracked(ui, &account.get_untracked()).then(|| {
            if pop3.get_untracked() {
                MailProtocol::Pop3
            } else {
                MailProtocol::Imap
            }
        });
        let request = Request::SignIn {
            account: chosen,
            user: user.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            protocol,
        };
        let transport = transport.clone();
        spawn_local(async move {
            match transport.request(request).await {
                Ok(reply @ Reply::SignedIn { .. }) => {
                    password.set(String::new());
                    busy.set(false);
                    ui.session.set(SignedIn::from_reply(reply));
                    load_mailbox(ui, transport, None).await;
                }
                Ok(_) => {
                    error.set(Some("Postern gave an unexpected answer.".to_owned()));
                    busy.set(false);
                }
                Err(e) => {
                    error.set(Some(e.message()));
                    busy.set(false);
                    // A POP3 server lets one program in at a time: try again soon,
                    // as long as the person has not started over.
                    let in_use =
                        matches!(&e, RequestError::Server(w) if w.code == ErrorCode::MailboxInUse);
                    if in_use && !retrying.get_value() {
                        retrying.set_value(true);
                        set_timeout(
                            move || {
                                retrying.set_value(false);
                                if ui.session.get_untracked().is_none()
                                    && !password.get_untracked().is_empty()
                                {
                                    again.update(|n| *n += 1);
                                }
                            },
                            RETRY_IN_USE,
                        );
                    }
                }
            }
        });
    };
    let attempt_again = attempt.clone();
    Effect::new(move |_| {
        if again.get() > 0 {
            attempt_again();
        }
    });
    Effect::new(move |_| {
        if ui.accounts.with(|a| !a.is_empty()) && waiting.get_value() {
            waiting.set_value(false);
            busy.set(false);
            again.update(|n| *n += 1);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        attempt();
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
                <Show when=offers_both>
                    <label for="protocol">"Mail protocol"</label>
                    <select
                        id="protocol"
                        prop:value=move || if pop3.get() { "pop3" } else { "imap" }
                        on:change=move |ev| pop3.set(event_target_value(&ev) == "pop3")
                    >
                        <option value="imap">"IMAP (mail stays on the server)"</option>
                        <option value="pop3">"POP3"</option>
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
