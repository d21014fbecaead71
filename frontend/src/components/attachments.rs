//! The compose form's files: "Attach files", drops and pasted images, each
//! uploaded over plain HTTP to the session's upload link with its progress, and
//! the list with "Remove <name>". A file that would take the message over the
//! limit is refused here, before any of it is sent.

use std::cell::RefCell;
use std::collections::HashMap;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{File, FileList, XmlHttpRequest};

use super::icons;
use crate::app::{Ui, use_ui};
use crate::compose::{ComposeForm, FileState};
use crate::format;

thread_local! {
    /// Uploads under way, by file key, so that removing a file or closing the
    /// form can stop them.
    static UNDER_WAY: RefCell<HashMap<u32, XmlHttpRequest>> = RefCell::new(HashMap::new());
}

fn change(ui: Ui, edit: impl FnOnce(&mut ComposeForm)) {
    ui.compose.update(|c| {
        if let Some(c) = c {
            edit(c);
        }
    });
}

/// Attaches every file of `files` (a picker's, a drop's or a paste's).
pub fn attach_all(ui: Ui, files: Option<FileList>) {
    let Some(files) = files else { return };
    for i in 0..files.length() {
        if let Some(file) = files.item(i) {
            attach(ui, &file);
        }
    }
}

/// Uploads `file` for the open form, unless it would not fit.
fn attach(ui: Ui, file: &File) {
    let Some(sending) = ui
        .session
        .with_untracked(|s| s.as_ref().and_then(|s| s.sending.clone()))
    else {
        return;
    };
    let Some(link) = sending.upload else { return };
    let name = file.name();
    let size = file.size() as u64;
    let mut key = None;
    let mut refused = None;
    change(ui, |c| {
        match c.add_file(&name, size, sending.max_message_bytes) {
            Ok(k) => key = Some(k),
            Err(reason) => refused = Some(reason),
        }
    });
    if let Some(reason) = refused {
        change(ui, |c| c.error = Some(reason));
        return;
    }
    let Some(key) = key else { return };
    let url = format!("{link}?name={}", js_sys::encode_uri_component(&name));
    if upload(ui, key, &url, file).is_err() {
        change(ui, |c| {
            c.upload_failed(key, "The upload could not start.".to_owned())
        });
    }
}

fn upload(ui: Ui, key: u32, url: &str, file: &File) -> Result<(), wasm_bindgen::JsValue> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open("POST", url)?;
    let content_type = file.type_();
    if !content_type.is_empty() {
        xhr.set_request_header("Content-Type", &content_type)?;
    }
    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
            change(ui, |c| c.upload_progress(key, ev.loaded() as u64));
        });
    xhr.upload()?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    let this = xhr.clone();
    let done = Closure::<dyn FnMut()>::new(move || finished(ui, key, &this));
    xhr.set_onloadend(Some(done.as_ref().unchecked_ref()));
    xhr.send_with_opt_blob(Some(file))?;
    UNDER_WAY.with(|u| u.borrow_mut().insert(key, xhr));
    // The handlers live as long as the request, which holds the only references.
    progress.forget();
    done.forget();
    Ok(())
}

/// An upload ended: taken, refused (with the bridge's sentence) or cut off.
fn finished(ui: Ui, key: u32, xhr: &XmlHttpRequest) {
    let ours = UNDER_WAY.with(|u| {
        let mut under_way = u.borrow_mut();
        let ours = under_way
            .get(&key)
            .is_some_and(|x| js_sys::Object::is(x, xhr));
        if ours {
            under_way.remove(&key);
        }
        ours
    });
    // Stopped because the file was removed or the form closed.
    if !ours {
        return;
    }
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    match xhr.status().unwrap_or(0) {
        201 => match crate::json::decode::<protocol::Uploaded>(&text) {
            Ok(uploaded) => change(ui, |c| c.uploaded(key, uploaded)),
            Err(_) => change(ui, |c| {
                c.upload_failed(key, "The upload failed.".to_owned())
            }),
        },
        0 => change(ui, |c| {
            c.upload_failed(
                key,
                "The upload broke off. Attach the file again.".to_owned(),
            );
        }),
        _ => {
            let reason = text.trim();
            let reason = if reason.is_empty() {
                "The upload failed."
            } else {
                reason
            };
            change(ui, |c| c.upload_failed(key, reason.to_owned()));
        }
    }
}

/// Takes a file out of the form, stopping its upload or letting the bridge drop it.
fn remove(ui: Ui, key: u32) {
    if let Some(xhr) = UNDER_WAY.with(|u| u.borrow_mut().remove(&key)) {
        let _ = xhr.abort();
    }
    let mut id = None;
    change(ui, |c| id = c.remove_file(key));
    let link = ui.session.with_untracked(|s| {
        s.as_ref()
            .and_then(|s| s.sending.as_ref())
            .and_then(|s| s.upload.clone())
    });
    if let (Some(id), Some(link)) = (id, link)
        && let Ok(xhr) = XmlHttpRequest::new()
        && xhr.open("DELETE", &format!("{link}/{id}")).is_ok()
    {
        let _ = xhr.send();
    }
}

/// Stops every upload under way (the form is closing).
fn stop_all() {
    for (_, xhr) in UNDER_WAY.with(|u| std::mem::take(&mut *u.borrow_mut())) {
        let _ = xhr.abort();
    }
}

/// The list of files, and the picker.
#[component]
pub fn Files() -> impl IntoView {
    let ui = use_ui();
    on_cleanup(stop_all);
    let files = move || {
        ui.compose
            .with(|c| c.as_ref().map(|c| c.files.clone()).unwrap_or_default())
    };
    view! {
        <ul class="compose-files" aria-label="Attachments">
            {move || files().into_iter().map(|file| {
                let key = file.key;
                let remove_label = format!("Remove {}", file.name);
                let (status, progress) = match &file.state {
                    FileState::Uploading(sent) => (None, Some(*sent)),
                    FileState::Ready(_) => (Some(format::size(file.size)), None),
                    FileState::Failed(reason) => (Some(reason.clone()), None),
                };
                let failed = matches!(file.state, FileState::Failed(_));
                let uploading = format!("Uploading {}", file.name);
                view! {
                    <li class="compose-file" class:failed=failed>
                        {icons::paperclip()}
                        <span class="file-name" title=file.name.clone()>{file.name.clone()}</span>
                        {progress.map(|sent| view! {
                            <progress max=file.size.max(1).to_string() value=sent.to_string() aria-label=uploading></progress>
                        })}
                        {status.map(|s| view! { <span class="file-status">{s}</span> })}
                        <button class="icon-button" aria-label=remove_label.clone() title=remove_label on:click=move |_| remove(ui, key)>
                            {icons::close()}
                        </button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// "Attach files": a button-like label around a file picker.
#[component]
pub fn AttachButton() -> impl IntoView {
    let ui = use_ui();
    view! {
        <label class="attach" title="Attach files">
            {icons::paperclip()}
            <span class="label">"Attach files"</span>
            <input
                type="file"
                multiple
                class="visually-hidden"
                aria-label="Attach files"
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    attach_all(ui, input.files());
                    // The same file can be picked again after being removed.
                    input.set_value("");
                }
            />
        </label>
    }
}
