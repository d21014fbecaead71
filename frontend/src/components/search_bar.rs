//! The search field above the message list: the query checked as it is typed and
//! shown as chips, how far a search of several folders has got, and a way to stop
//! it or go back to the folder.

use leptos::prelude::*;
use protocol::search::{self, Scope};

use super::icons;
use crate::app::{clear_search, use_transport, use_ui};

/// The field's id, for the `/` shortcut.
pub const FIELD_ID: &str = "search-field";

#[component]
pub fn SearchBar() -> impl IntoView {
    let ui = use_ui();
    let transport = use_transport();
    let text = RwSignal::new(String::new());
    // Checked as typed; an empty field is no mistake.
    let parsed = Memo::new(move |_| {
        let text = text.get();
        (!text.trim().is_empty()).then(|| search::parse(&text).map_err(|e| e.to_string()))
    });
    let problem = move || parsed.get().and_then(Result::err);
    let chips = move || match parsed.get() {
        Some(Ok(query)) => {
            let mut chips: Vec<String> = query.terms.iter().map(ToString::to_string).collect();
            match &query.scope {
                Scope::Current => {}
                Scope::All => chips.push("All folders".to_owned()),
                Scope::Anywhere => chips.push("All folders, Trash and Junk too".to_owned()),
                Scope::Folder(name) => chips.push(format!("In {name}")),
            }
            chips
        }
        _ => Vec::new(),
    };
    let searching = move || ui.search.with(Option::is_some);
    let progress = move || ui.search.with(|s| s.as_ref().and_then(|s| s.progress()));
    let unsearched = move || ui.search.with(|s| s.as_ref().and_then(|s| s.unsearched()));
    let submit = {
        let transport = transport.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let query = text.get_untracked();
            if query.trim().is_empty() {
                clear_search(ui, transport.clone());
            } else if matches!(parsed.get_untracked(), Some(Ok(_))) {
                crate::search::start(ui, transport.clone(), query);
            }
        }
    };
    let clear = {
        let transport = transport.clone();
        move || {
            text.set(String::new());
            clear_search(ui, transport.clone());
        }
    };
    let stop = {
        let transport = transport.clone();
        move |_| crate::search::stop(ui, transport.clone())
    };
    view! {
        <div class="search">
            <form class="search-bar" role="search" on:submit=submit>
                <span class="search-icon" aria-hidden="true">{icons::search()}</span>
                <input
                    id=FIELD_ID
                    type="search"
                    aria-label="Search mail"
                    placeholder="Search mail"
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=move || problem().is_some().then_some("true")
                    aria-describedby="search-problem"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                    on:keydown={
                        let clear = clear.clone();
                        move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Escape" {
                                clear();
                            }
                        }
                    }
                />
                <Show when=move || searching() || !text.with(String::is_empty)>
                    <button
                        type="button"
                        class="icon-button"
                        aria-label="Clear search"
                        title="Clear search"
                        on:click={
                            let clear = clear.clone();
                            move |_| clear()
                        }
                    >
                        {icons::close()}
                    </button>
                </Show>
            </form>
            <p id="search-problem" class="search-problem" role="status">{problem}</p>
            <Show when=move || problem().is_none() && !chips().is_empty()>
                <ul class="search-chips" aria-label="Search terms">
                    {move || chips().into_iter().map(|chip| view! { <li>{chip}</li> }).collect_view()}
                </ul>
            </Show>
            {move || progress().map(|line| view! {
                <p class="search-progress" role="status">
                    <span>{line}</span>
                    <button type="button" class="ghost" on:click=stop.clone()>"Stop searching"</button>
                </p>
            })}
            {move || unsearched().map(|line| view! {
                <p class="search-progress" role="note">{line}</p>
            })}
        </div>
    }
}
