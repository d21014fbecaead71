//! Parts of the app that are not in the first download. The build (see
//! `crates/xtask/src/split.rs`) cuts the wasm at each `#[wasm_split]` function:
//! the sign-in page comes first, and the mailbox, fetched while the person types,
//! and compose, fetched once the mailbox shows, follow as their own files. On a
//! phone losing its network one may fail to arrive: the person is told, and tries
//! again when they choose (a failed load is not remembered).

use std::future::Future;

use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;
use send_wrapper::SendWrapper;

/// Shows what `load` returns once its part of the app has arrived; until then, or
/// if it cannot arrive, a note in an element of the given `class` (where the part
/// will stand).
#[component]
pub fn Deferred<F, Fut>(load: F, #[prop(optional)] class: &'static str) -> impl IntoView
where
    F: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<AnyView, SplitLoaderError>> + 'static,
{
    let attempt = RwSignal::new(0u32);
    let class = format!("deferred {class}");
    let waiting = class.clone();
    view! {
        <Suspense fallback=move || view! { <p class=waiting.clone() role="status">"Loading…"</p> }>
            {move || {
                attempt.track();
                // The browser has one thread: the loader's future never moves.
                let loading = SendWrapper::new(load());
                let class = class.clone();
                Suspend::new(async move {
                    match loading.await {
                        Ok(view) => view,
                        Err(_) => view! { <Unloaded attempt class /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn Unloaded(attempt: RwSignal<u32>, class: String) -> impl IntoView {
    view! {
        <div class=class role="alert">
            <p>"This part of Postern could not be loaded. Check the connection and try again."</p>
            <button type="button" class="primary" on:click=move |_| attempt.update(|n| *n += 1)>
                "Try again"
            </button>
        </div>
    }
}
