//! Where the person is in the mailbox (the folder listed and the message open),
//! kept in the tab's `sessionStorage`, and the way back there once the transport
//! has resumed the session: after a reload from what was kept, after a dropped
//! connection from what is on screen. Either way the folder is listed again and
//! the message opened again, so the list holds what changed meanwhile and the
//! message's links are the new session's.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{Connectivity, Reply};

use crate::app::{Ui, load_mailbox};
use crate::state::SignedIn;
use crate::transport::Transport;

/// Where the person was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub folder: String,
    /// The message open in the reading pane, in `folder`.
    pub uid: Option<u32>,
}

const PLACE_KEY: &str = "postern.place";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// Keeps the place up to date in the tab's storage while someone is signed in.
pub fn keep(ui: Ui) {
    Effect::new(move |_| {
        let Some(storage) = storage() else {
            return;
        };
        let folder = ui.list.with(|l| l.folder.clone());
        let open = ui.reader.with(|r| r.current());
        match folder.filter(|_| ui.session.with(Option::is_some)) {
            Some(folder) => {
                let uid = open
                    .filter(|(f, _)| *f == folder)
                    .map(|(_, uid)| uid.to_string())
                    .unwrap_or_default();
                let _ = storage.set_item(PLACE_KEY, &format!("{uid}\n{folder}"));
            }
            None if ui.session.with(Option::is_none) && !ui.resuming.get() => {
                let _ = storage.remove_item(PLACE_KEY);
            }
            None => {}
        }
    });
}

/// The place kept before the page was reloaded.
fn kept() -> Option<Place> {
    let text = storage()?.get_item(PLACE_KEY).ok()??;
    let (uid, folder) = text.split_once('\n')?;
    Some(Place {
        folder: folder.to_owned(),
        uid: uid.parse().ok(),
    })
}

/// Where the screen is now.
fn on_screen(ui: Ui) -> Option<Place> {
    let folder = ui.list.with_untracked(|l| l.folder.clone())?;
    let uid = ui
        .reader
        .with_untracked(|r| r.current())
        .filter(|(f, _)| *f == folder)
        .map(|(_, uid)| uid);
    Some(Place { folder, uid })
}

/// The transport signed in again: back to where the person was.
pub fn resumed(ui: Ui, transport: Transport, reply: Reply) {
    let Some(signed_in) = SignedIn::from_reply(reply) else {
        return;
    };
    let reload = ui.session.get_untracked().is_none();
    let place = if reload { kept() } else { on_screen(ui) };
    ui.resuming.set(false);
    ui.reconnecting.set(false);
    ui.connection.set(Connectivity::Connected);
    // The new session's upload link and identities.
    ui.session.set(Some(signed_in));
    if ui.outbox.get_untracked().is_some() {
        // The bridge that held it sent it as the connection closed, unless it
        // stopped first.
        ui.outbox.set(None);
        ui.problem.set(Some(
            "The connection broke while a message waited to be sent. Check Sent to see whether it went."
                .to_owned(),
        ));
    }
    spawn_local(load_mailbox(ui, transport, place));
}
