//! Postern's browser app. This file only mounts it; see `app`.

mod app;
mod components;
mod compose;
mod conversations;
mod format;
mod json;
mod place;
mod search;
mod settings;
mod state;
mod transport;

fn main() {
    leptos::mount::mount_to_body(app::App);
}
