//! The only code that touches the WebSocket: it numbers requests, matches replies to
//! them, and hands pushed events to the app. While someone is signed in it keeps
//! the session's resume token (in memory and in the tab's `sessionStorage`), and
//! when the socket drops it opens it again with capped, jittered backoff and
//! resumes: what was asked meanwhile waits and goes after, in order, and what was
//! cut off goes again where repeating it cannot do anything twice. Signed out, the
//! socket is opened again when the next request comes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::channel::{mpsc, oneshot};
use futures::{StreamExt, stream};
use js_sys::Reflect;
use protocol::{
    ErrorCode, Event, Reply, Request, RequestId, ResumeToken, ServerMessage, WireError,
};
use wasm_bindgen::prelude::*;
use web_sys::WebSocket;

use crate::json;

/// Why a request got no reply from the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The bridge answered with an error.
    Server(WireError),
    /// The socket could not be opened or closed before the answer came.
    Disconnected,
}

impl RequestError {
    /// The sentence to show people.
    pub fn message(&self) -> String {
        match self {
            RequestError::Server(error) => error.message.clone(),
            RequestError::Disconnected => {
                "Postern cannot be reached. Check your connection and try again.".to_owned()
            }
        }
    }
}

/// What the transport tells the app besides replies.
pub enum Notice {
    /// The socket opened; these are the configured accounts, and which of them
    /// offer POP3 and IMAP (both lists empty: all IMAP).
    Connected {
        accounts: Vec<String>,
        pop3: Vec<String>,
        imap: Vec<String>,
    },
    /// The bridge pushed an event.
    Event(Event),
    /// The socket closed (or could not open) while nobody was signed in.
    Closed,
    /// The socket closed while someone was signed in: it is being opened again.
    Reconnecting,
    /// Signed in again from the resume token, after a reload or a reconnect.
    Resumed(Reply),
    /// The bridge refused the resume token: the person must sign in again.
    ResumeRefused(WireError),
}

/// A request and where its answer goes; kept once sent until it is answered.
struct Outgoing {
    request: Request,
    answer: oneshot::Sender<Result<Reply, RequestError>>,
}

/// A cloneable handle for sending requests.
#[derive(Clone)]
pub struct Transport {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    token: Arc<Mutex<Option<ResumeToken>>>,
    resuming: bool,
}

impl Transport {
    /// Opens the socket at once (to learn the accounts, and to resume a session
    /// this tab had) and keeps serving requests.
    pub fn start(notify: impl Fn(Notice) + 'static) -> Self {
        let (outgoing, requests) = mpsc::unbounded();
        let token = Arc::new(Mutex::new(stored_token()));
        let resuming = held(&token).is_some();
        leptos::task::spawn_local(run(requests, token.clone(), notify));
        Transport {
            outgoing,
            token,
            resuming,
        }
    }

    /// Whether the page opened with a session to resume.
    pub fn resuming(&self) -> bool {
        self.resuming
    }

    /// Drops the resume token: the person signed out, whatever the bridge says.
    pub fn forget(&self) {
        set_token(&self.token, None);
    }

    /// Sends a request and waits for its answer.
    pub async fn request(&self, request: Request) -> Result<Reply, RequestError> {
        let (answer, reply) = oneshot::channel();
        self.outgoing
            .unbounded_send(Outgoing { request, answer })
            .map_err(|_| RequestError::Disconnected)?;
        reply.await.unwrap_or(Err(RequestError::Disconnected))
    }
}

/// `ws://` or `wss://` on the host the app came from.
fn socket_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location
        .as_ref()
        .and_then(|l| l.host().ok())
        .unwrap_or_default();
    let secure = location
        .and_then(|l| l.protocol().ok())
        .is_some_and(|p| p == "https:");
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}

enum Input {
    Send(Outgoing),
    /// The socket opened: what was asked meanwhile can go.
    Opened,
    /// A frame's data, still a JavaScript string.
    Frame(JsValue),
    Closed,
    /// Time to see whether a quiet socket is still there.
    Tick,
}

/// How often a signed-in socket's quiet is looked at.
const TICK_MS: i32 = 5_000;
/// Quiet for this long, the app asks the bridge whether it is there (`ping`).
const QUIET_MS: f64 = 25_000.0;
/// Without an answer for this long, the socket is taken for gone.
const PONG_MS: f64 = 10_000.0;

/// A browser WebSocket whose events arrive as [`Input`]s; dropping it closes it.
struct Socket {
    socket: WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
    ticks: Option<i32>,
}

impl Socket {
    fn open(url: &str, events: &mpsc::UnboundedSender<Input>) -> Option<Self> {
        let socket = WebSocket::new(url).ok()?;
        let handler = |input: fn(JsValue) -> Input| {
            let events = events.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event| {
                let _ = events.unbounded_send(input(event));
            })
        };
        let handlers = [
            handler(|_| Input::Opened),
            handler(|event| {
                Input::Frame(Reflect::get(&event, &JsValue::from_str("data")).unwrap_or_default())
            }),
            // An error is always followed by a close.
            handler(|_| Input::Closed),
            handler(|_| Input::Tick),
        ];
        socket.set_onopen(Some(handlers[0].as_ref().unchecked_ref()));
        socket.set_onmessage(Some(handlers[1].as_ref().unchecked_ref()));
        socket.set_onclose(Some(handlers[2].as_ref().unchecked_ref()));
        let ticks = web_sys::window().and_then(|w| {
            w.set_interval_with_callback_and_timeout_and_arguments_0(
                handlers[3].as_ref().unchecked_ref(),
                TICK_MS,
            )
            .ok()
        });
        Some(Socket {
            socket,
            _handlers: handlers,
            ticks,
        })
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        if let (Some(window), Some(ticks)) = (web_sys::window(), self.ticks) {
            window.clear_interval_with_handle(ticks);
        }
        let _ = self.socket.close();
    }
}

/// Where the tab keeps the resume token across reloads.
const TOKEN_KEY: &str = "postern.resume";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn stored_token() -> Option<ResumeToken> {
    let token = session_storage()?.get_item(TOKEN_KEY).ok()??;
    (!token.is_empty()).then_some(ResumeToken(token))
}

/// The token held now.
fn held(token: &Mutex<Option<ResumeToken>>) -> Option<ResumeToken> {
    token.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn set_token(held: &Mutex<Option<ResumeToken>>, token: Option<ResumeToken>) {
    if let Some(storage) = session_storage() {
        let _ = match &token {
            Some(token) => storage.set_item(TOKEN_KEY, &token.0),
            None => storage.remove_item(TOKEN_KEY),
        };
    }
    *held.lock().unwrap_or_else(|e| e.into_inner()) = token;
}

/// A resume that failed for a reason that may pass (the mail server is down or
/// busy): try again later rather than sign the person out.
fn passing(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::ServerUnreachable
            | ErrorCode::MailboxInUse
            | ErrorCode::TooManyConnections
            | ErrorCode::TooManyAttempts
            | ErrorCode::Internal
    )
}

/// The wait before reconnecting after `failures` failed attempts: from half a
/// second, doubling, at most ten, each between half and all of that at random.
fn backoff(failures: u32) -> u32 {
    let full = (500u32 << failures.min(5)).min(10_000);
    let random = js_sys::Math::random();
    (f64::from(full) * (0.5 + random / 2.0)) as u32
}

async fn sleep(ms: u32) {
    let (done, wait) = oneshot::channel::<()>();
    leptos::prelude::set_timeout(
        move || {
            let _ = done.send(());
        },
        std::time::Duration::from_millis(u64::from(ms)),
    );
    let _ = wait.await;
}

/// A request as the bridge reads it, a [`protocol::ClientMessage`]: its id
/// beside the request's own fields, written here so that the request need not be
/// copied into one (it is kept, to be sent again after a reconnect).
fn frame(id: RequestId, request: &Request) -> String {
    let fields = serde_json::to_string(request).unwrap_or_default();
    match fields.strip_prefix('{') {
        Some(rest) => format!("{{\"id\":{id},{rest}"),
        None => String::new(),
    }
}

async fn run(
    mut requests: mpsc::UnboundedReceiver<Outgoing>,
    token: Arc<Mutex<Option<ResumeToken>>>,
    notify: impl Fn(Notice),
) {
    // Requests waiting for the socket to open (and, signed in, to resume).
    let mut queue: VecDeque<Outgoing> = VecDeque::new();
    let mut failures = 0u32;
    // The socket opens at once, to learn the accounts.
    let mut first = true;
    loop {
        // Signed out, the socket stays closed until someone asks for something.
        if !std::mem::take(&mut first) && held(&token).is_none() && queue.is_empty() {
            match requests.next().await {
                Some(next) => queue.push_back(next),
                None => return,
            }
        }
        let (events, inputs_from_socket) = mpsc::unbounded();
        let socket = Socket::open(&socket_url(), &events);
        drop(events);
        let mut pending: HashMap<RequestId, Outgoing> = HashMap::new();
        let mut next_id: RequestId = 1;
        let mut opened = false;
        // The id of the resume while its answer is awaited; requests wait behind it.
        let mut resuming: Option<RequestId> = None;
        // When the bridge was last heard from, and a ping not yet answered.
        let mut heard = js_sys::Date::now();
        let mut ping: Option<f64> = None;
        let mut inputs = stream::select(requests.by_ref().map(Input::Send), inputs_from_socket);
        let send = |socket: &Socket, id: RequestId, request: &Request| {
            socket.socket.send_with_str(&frame(id, request)).is_ok()
        };
        if let Some(socket) = &socket {
            while let Some(input) = inputs.next().await {
                match input {
                    Input::Send(outgoing) => {
                        queue.push_back(outgoing);
                        if opened
                            && resuming.is_none()
                            && !flush(socket, &mut queue, &mut pending, &mut next_id, send)
                        {
                            break;
                        }
                    }
                    Input::Opened => {
                        opened = true;
                        let held = self::held(&token);
                        if let Some(held) = held {
                            let id = next_id;
                            next_id += 1;
                            resuming = Some(id);
                            if !send(socket, id, &Request::Resume { token: held }) {
                                break;
                            }
                        } else if !flush(socket, &mut queue, &mut pending, &mut next_id, send) {
                            break;
                        }
                    }
                    Input::Tick => {
                        let now = js_sys::Date::now();
                        if !opened || held(&token).is_none() {
                            continue;
                        }
                        match ping {
                            // Gone without a close (a vanished machine, a dead
                            // link): open another.
                            Some(asked) if now - asked > PONG_MS => break,
                            Some(_) => {}
                            None if now - heard > QUIET_MS => {
                                let id = next_id;
                                next_id += 1;
                                ping = Some(now);
                                if !send(socket, id, &Request::Ping) {
                                    break;
                                }
                            }
                            None => {}
                        }
                    }
                    Input::Frame(data) => {
                        heard = js_sys::Date::now();
                        ping = None;
                        let message = match json::decode_value::<ServerMessage>(&data) {
                            Ok(message) => message,
                            Err(why) => {
                                leptos::logging::warn!("unreadable message from the bridge: {why}");
                                continue;
                            }
                        };
                        match message {
                            ServerMessage::Hello {
                                accounts,
                                pop3,
                                imap,
                            } => notify(Notice::Connected {
                                accounts,
                                pop3,
                                imap,
                            }),
                            ServerMessage::Reply { id, reply } if resuming == Some(id) => {
                                resuming = None;
                                failures = 0;
                                if let Reply::SignedIn { resume, .. } = &reply {
                                    set_token(&token, resume.clone());
                                }
                                notify(Notice::Resumed(reply));
                                if !flush(socket, &mut queue, &mut pending, &mut next_id, send) {
                                    break;
                                }
                            }
                            ServerMessage::Failed { id, error } if resuming == Some(id) => {
                                resuming = None;
                                if passing(error.code) {
                                    // Closed and tried again after a wait.
                                    break;
                                }
                                set_token(&token, None);
                                for waiting in queue.drain(..) {
                                    let _ = waiting
                                        .answer
                                        .send(Err(RequestError::Server(error.clone())));
                                }
                                notify(Notice::ResumeRefused(error));
                            }
                            ServerMessage::Reply { id, reply } => {
                                match &reply {
                                    Reply::SignedIn { resume, .. } => {
                                        set_token(&token, resume.clone());
                                    }
                                    Reply::SignedOut => set_token(&token, None),
                                    _ => {}
                                }
                                if let Some(sent) = pending.remove(&id) {
                                    let _ = sent.answer.send(Ok(reply));
                                }
                            }
                            ServerMessage::Failed { id, error } => {
                                if let Some(sent) = pending.remove(&id) {
                                    let _ = sent.answer.send(Err(RequestError::Server(error)));
                                }
                            }
                            ServerMessage::Event {
                                event: Event::SessionRenewed { resume },
                            } => {
                                // Not after a sign-out the bridge did not hear of.
                                if held(&token).is_some() {
                                    set_token(&token, Some(resume));
                                }
                            }
                            ServerMessage::Event { event } => notify(Notice::Event(event)),
                        }
                    }
                    Input::Closed => break,
                }
            }
        }
        drop(inputs);
        drop(socket);
        let signed_in = held(&token).is_some();
        // What was cut off goes again after the resume, in the order it was asked,
        // if it cannot do twice what was asked; the rest fails.
        let mut cut_off: Vec<(RequestId, Outgoing)> = pending.drain().collect();
        cut_off.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        for (_, sent) in cut_off {
            if signed_in && sent.request.may_repeat() {
                queue.push_front(sent);
            } else {
                let _ = sent.answer.send(Err(RequestError::Disconnected));
            }
        }
        if signed_in {
            notify(Notice::Reconnecting);
            sleep(backoff(failures)).await;
            failures += 1;
        } else {
            for waiting in queue.drain(..) {
                let _ = waiting.answer.send(Err(RequestError::Disconnected));
            }
            notify(Notice::Closed);
        }
    }
}

/// Sends what waited for the socket; false if the socket would not take it.
fn flush(
    socket: &Socket,
    queue: &mut VecDeque<Outgoing>,
    pending: &mut HashMap<RequestId, Outgoing>,
    next_id: &mut RequestId,
    send: impl Fn(&Socket, RequestId, &Request) -> bool,
) -> bool {
    while let Some(outgoing) = queue.pop_front() {
        let id = *next_id;
        *next_id += 1;
        let ok = send(socket, id, &outgoing.request);
        pending.insert(id, outgoing);
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::ClientMessage;

    #[test]
    fn a_frame_is_the_client_message_the_bridge_reads() {
        let requests = [
            Request::ListFolders,
            Request::Ping,
            Request::OpenFolder {
                folder: "Work/\"Q\" {3}".into(),
                limit: 50,
                sort: protocol::Sort::default(),
            },
            Request::Resume {
                token: ResumeToken("t0k".into()),
            },
        ];
        for request in requests {
            let text = frame(42, &request);
            let read: ClientMessage = serde_json::from_str(&text).expect(&text);
            assert_eq!(read, ClientMessage { id: 42, request });
        }
    }
}
