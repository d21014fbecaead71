//! The only code that touches the WebSocket: it numbers requests, matches replies to
//! them, hands pushed events to the app, and reopens the socket when the next request
//! comes after it closed.

use std::collections::HashMap;

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt, stream};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use protocol::{ClientMessage, Event, Reply, Request, RequestId, ServerMessage, WireError};

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
    Frame(Option<String>),
}

async fn run(mut requests: mpsc::UnboundedReceiver<Outgoing>, notify: impl Fn(Notice)) {
    let mut waiting: Option<Outgoing> = None;
    loop {
        let Ok(socket) = WebSocket::open(&socket_url()) else {
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
        let (mut sink, frames) = socket.split();
        let frames = frames
            .map(|frame| match frame {
                Ok(Message::Text(text)) => Input::Frame(Some(text)),
                Ok(Message::Bytes(_)) => Input::Frame(None),
                Err(_) => Input::Frame(None),
            })
            .chain(stream::once(futures::future::ready(Input::Frame(None))));
        let mut pending: HashMap<RequestId, oneshot::Sender<Result<Reply, RequestError>>> =
            HashMap::new();
        let mut next_id: RequestId = 1;
        let mut inputs = stream::select(
            stream::iter(waiting.take().map(Input::Send)).chain(requests.by_ref().map(Input::Send)),
            frames,
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
                    if sink.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                Input::Frame(Some(text)) => match serde_json::from_str::<ServerMessage>(&text) {
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
                    Err(_) => leptos::logging::warn!("unreadable message from the bridge"),
                },
                // The socket ended.
                Input::Frame(None) => break,
            }
        }
        drop(inputs);
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
