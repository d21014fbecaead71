//! The only code that touches the WebSocket: it numbers requests, matches replies to
//! them, hands pushed events to the app, and reopens the socket when the next request
//! comes after it closed.

use std::collections::HashMap;

use futures::channel::{mpsc, oneshot};
use futures::{StreamExt, stream};
use js_sys::Reflect;
use protocol::{ClientMessage, Event, Reply, Request, RequestId, ServerMessage, WireError};
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
    /// The socket closed (or could not open).
    Closed,
}

struct Outgoing {
    request: Request,
    answer: oneshot::Sender<Result<Reply, RequestError>>,
}

/// A cloneable handle for sending requests.
#[derive(Clone)]
pub struct Transport {
    outgoing: mpsc::UnboundedSender<Outgoing>,
}

impl Transport {
    /// Opens the socket at once (to learn the accounts) and keeps serving requests.
    pub fn start(notify: impl Fn(Notice) + 'static) -> Self {
        let (outgoing, requests) = mpsc::unbounded();
        leptos::task::spawn_local(run(requests, notify));
        Transport { outgoing }
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
}

/// A browser WebSocket whose events arrive as [`Input`]s; dropping it closes it.
struct Socket {
    socket: WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
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
        ];
        socket.set_onopen(Some(handlers[0].as_ref().unchecked_ref()));
        socket.set_onmessage(Some(handlers[1].as_ref().unchecked_ref()));
        socket.set_onclose(Some(handlers[2].as_ref().unchecked_ref()));
        Some(Socket {
            socket,
            _handlers: handlers,
        })
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

async fn run(mut requests: mpsc::UnboundedReceiver<Outgoing>, notify: impl Fn(Notice)) {
    let mut waiting: Option<Outgoing> = None;
    loop {
        let (events, inputs_from_socket) = mpsc::unbounded();
        let Some(socket) = Socket::open(&socket_url(), &events) else {
            notify(Notice::Closed);
            fail(waiting.take());
            match requests.next().await {
                Some(next) => {
                    waiting = Some(next);
                    continue;
                }
                None => return,
            }
        };
        drop(events);
        let mut pending: HashMap<RequestId, oneshot::Sender<Result<Reply, RequestError>>> =
            HashMap::new();
        let mut next_id: RequestId = 1;
        // Frames asked for before the socket opened.
        let mut unsent: Option<Vec<String>> = Some(Vec::new());
        let mut inputs = stream::select(
            stream::iter(waiting.take().map(Input::Send)).chain(requests.by_ref().map(Input::Send)),
            inputs_from_socket,
        );
        while let Some(input) = inputs.next().await {
            match input {
                Input::Send(Outgoing { request, answer }) => {
                    let id = next_id;
                    next_id += 1;
                    let Ok(text) = serde_json::to_string(&ClientMessage { id, request }) else {
                        let _ = answer.send(Err(RequestError::Disconnected));
                        continue;
                    };
                    pending.insert(id, answer);
                    match unsent.as_mut() {
                        Some(unsent) => unsent.push(text),
                        None if socket.socket.send_with_str(&text).is_err() => break,
                        None => {}
                    }
                }
                Input::Opened => {
                    let texts = unsent.take().unwrap_or_default();
                    if texts
                        .iter()
                        .any(|t| socket.socket.send_with_str(t).is_err())
                    {
                        break;
                    }
                }
                Input::Frame(data) => match json::decode_value::<ServerMessage>(&data) {
                    Ok(ServerMessage::Hello {
                        accounts,
                        pop3,
                        imap,
                    }) => notify(Notice::Connected {
                        accounts,
                        pop3,
                        imap,
                    }),
                    Ok(ServerMessage::Reply { id, reply }) => {
                        if let Some(answer) = pending.remove(&id) {
                            let _ = answer.send(Ok(reply));
                        }
                    }
                    Ok(ServerMessage::Failed { id, error }) => {
                        if let Some(answer) = pending.remove(&id) {
                            let _ = answer.send(Err(RequestError::Server(error)));
                        }
                    }
                    Ok(ServerMessage::Event { event }) => notify(Notice::Event(event)),
                    Err(why) => leptos::logging::warn!("unreadable message from the bridge: {why}"),
                },
                Input::Closed => break,
            }
        }
        drop(inputs);
        drop(socket);
        for (_, answer) in pending.drain() {
            let _ = answer.send(Err(RequestError::Disconnected));
        }
        notify(Notice::Closed);
        // Stay closed until someone asks for something.
        match requests.next().await {
            Some(next) => waiting = Some(next),
            None => return,
        }
    }
}

fn fail(outgoing: Option<Outgoing>) {
    if let Some(Outgoing { answer, .. }) = outgoing {
        let _ = answer.send(Err(RequestError::Disconnected));
    }
}
