//! Test support: a bridge started in-process on port 0 from a real config file, a
//! WebSocket client that speaks the protocol, headless Chromium through WebDriver,
//! and waiting with deadlines instead of sleeps.

pub mod browser;
pub mod faults;
pub mod fleet;
pub mod hostile;
pub mod hostile_smtp;
pub mod recorder;
mod relay;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use protocol::{ClientMessage, Event, Reply, Request, ServerMessage, WireError};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use maildev::{Dovecot, User};
pub use relay::Relay;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// One `[[account]]` of a bridge config.
pub struct AccountSpec {
    pub name: String,
    /// The IMAP server's address; empty for a POP3-only account.
    pub imap: String,
    pub pop3: Option<String>,
    pub ca_file: Option<PathBuf>,
    /// More lines of the account's table, such as `smtp = "…"`.
    pub extra: String,
}

impl AccountSpec {
    /// An account on `dovecot` over implicit TLS, trusting its throwaway CA.
    pub fn trusting(name: &str, dovecot: &Dovecot) -> Self {
        AccountSpec {
            name: name.to_owned(),
            imap: dovecot.imaps_url(),
            pop3: None,
            ca_file: Some(dovecot.ca_file()),
            extra: String::new(),
        }
    }

    /// As [`AccountSpec::trusting`], sending through `postfix` (over STARTTLS) as
    /// `user@example.test`.
    pub fn sending(name: &str, dovecot: &Dovecot, postfix: &maildev::Postfix) -> Self {
        AccountSpec {
            extra: format!(
                "smtp = {:?}\ndomain = {:?}\n",
                postfix.smtp_starttls_url(),
                maildev::DOMAIN
            ),
            ..Self::trusting(name, dovecot)
        }
    }

    /// An IMAP account whose server is never reached (nothing listens on port 1).
    pub fn unreachable(name: &str) -> Self {
        AccountSpec {
            name: name.to_owned(),
            imap: "imaps://127.0.0.1:1".into(),
            pop3: None,
            ca_file: None,
            extra: String::new(),
        }
    }

    /// A POP3-only account on `dovecot` at `url`, trusting its throwaway CA.
    pub fn pop3(name: &str, dovecot: &Dovecot, url: String) -> Self {
        AccountSpec {
            name: name.to_owned(),
            imap: String::new(),
            pop3: Some(url),
            ca_file: Some(dovecot.ca_file()),
            extra: String::new(),
        }
    }
}

/// The `[[account]]` tables of a bridge config.
fn account_tables(accounts: &[AccountSpec]) -> String {
    let mut text = String::new();
    for account in accounts {
        text += &format!("\n[[account]]\nname = {:?}\n", account.name);
        if !account.imap.is_empty() {
            text += &format!("imap = {:?}\n", account.imap);
        }
        if let Some(pop3) = &account.pop3 {
            text += &format!("pop3 = {pop3:?}\n");
        }
        if let Some(ca) = &account.ca_file {
            text += &format!("ca_file = {:?}\n", ca.display().to_string());
        }
        text += &account.extra;
    }
    text
}

/// What [`Bridge::start_with`] adds to a test bridge's configuration.
#[derive(Default)]
pub struct Settings {
    /// Top-level keys, as TOML lines.
    pub keys: String,
    /// `public_origin`, else the bridge's own address.
    pub origin: Option<String>,
}

/// A bridge serving on a loopback port; stopped on drop.
pub struct Bridge {
    pub addr: SocketAddr,
    /// The origin it serves (`public_origin`).
    origin: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Bridge {
    /// Writes a config file for these accounts and serves it, with the app from
    /// `static_dir` (the built frontend) or an empty folder.
    pub async fn start(accounts: &[AccountSpec], static_dir: Option<&Path>) -> Result<Self> {
        Self::start_counting_every(accounts, static_dir, 1).await
    }

    /// As [`Bridge::start`], refreshing other folders' counts every `seconds`
    /// (tests otherwise use 1, so that polling answers at once).
    pub async fn start_counting_every(
        accounts: &[AccountSpec],
        static_dir: Option<&Path>,
        seconds: u32,
    ) -> Result<Self> {
        Self::start_keeping(accounts, static_dir, seconds, None).await
    }

    /// As [`Bridge::start_counting_every`], keeping POP3 state in `data_dir` (by
    /// default a folder that goes with the bridge), so that a bridge started later
    /// on the same folder finds it.
    pub async fn start_keeping(
        accounts: &[AccountSpec],
        static_dir: Option<&Path>,
        seconds: u32,
        data_dir: Option<&Path>,
    ) -> Result<Self> {
        Self::launch(
            accounts,
            static_dir,
            seconds,
            data_dir,
            &Settings::default(),
        )
        .await
    }

    /// As [`Bridge::start`], with top-level configuration keys and an origin of
    /// its own (several bridges behind one address serve one origin).
    pub async fn start_with(
        accounts: &[AccountSpec],
        static_dir: Option<&Path>,
        settings: &Settings,
    ) -> Result<Self> {
        Self::launch(accounts, static_dir, 1, None, settings).await
    }

    async fn launch(
        accounts: &[AccountSpec],
        static_dir: Option<&Path>,
        seconds: u32,
        data_dir: Option<&Path>,
        settings: &Settings,
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let data_dir = data_dir.map_or_else(|| dir.path().join("data"), Path::to_owned);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let static_dir = match static_dir {
            Some(path) => path.to_owned(),
            None => {
                let empty = dir.path().join("static");
                std::fs::create_dir(&empty)?;
                empty
            }
        };
        let origin = settings
            .origin
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        // Other folders' counts are refreshed every second, so tests see them soon.
        let mut text = format!(
            "listen = \"{addr}\"\npublic_origin = {origin:?}\nstatic_dir = {:?}\nfolder_counts_seconds = {seconds}\ndata_dir = {:?}\n{}",
            static_dir.display().to_string(),
            data_dir.display().to_string(),
            settings.keys,
        );
        text += &account_tables(accounts);
        let path = dir.path().join("postern.toml");
        std::fs::write(&path, text)?;
        let config = bridge::Config::load(&path)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(bridge::serve(config, listener, async {
            let _ = stopped.await;
        }));
        Ok(Bridge {
            addr,
            origin,
            _dir: dir,
            stop: Some(stop),
            serving: Some(serving),
        })
    }

    /// A bridge already running elsewhere (another process) at `addr`, serving
    /// `origin`.
    pub fn running_for(addr: SocketAddr, origin: &str) -> Result<Self> {
        let mut bridge = Self::running_at(addr)?;
        bridge.origin = origin.to_owned();
        Ok(bridge)
    }

    /// A bridge already running elsewhere (another process) at `addr`.
    pub fn running_at(addr: SocketAddr) -> Result<Self> {
        Ok(Bridge {
            addr,
            origin: format!("http://{addr}"),
            _dir: tempfile::tempdir()?,
            stop: None,
            serving: None,
        })
    }

    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// Tells the bridge to stop, as SIGTERM does; [`Bridge::stopped`] waits for it.
    pub fn begin_stopping(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for a stopping bridge to be done, at most `within`.
    pub async fn stopped(mut self, within: Duration) -> Result<()> {
        self.begin_stopping();
        let serving = self
            .serving
            .take()
            .context("not a bridge of this process")?;
        tokio::time::timeout(within, serving)
            .await
            .context("the bridge did not stop in time")???;
        Ok(())
    }

    /// A WebSocket client sending the bridge's own origin.
    pub async fn connect(&self) -> Result<WsClient> {
        WsClient::connect(self, Some(&self.origin())).await
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A protocol client over a real WebSocket, counting the bytes it receives.
pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    pub accounts: Vec<String>,
    pub events: Vec<Event>,
    pub bytes_received: usize,
}

impl WsClient {
    /// Opens the socket with this `Origin` header (or none) and reads the hello.
    pub async fn connect(bridge: &Bridge, origin: Option<&str>) -> Result<Self> {
        let ws = handshake(bridge, origin)
            .await?
            .map_err(|status| anyhow::anyhow!("handshake refused with {status}"))?;
        let mut client = WsClient {
            ws,
            next_id: 1,
            accounts: Vec::new(),
            events: Vec::new(),
            bytes_received: 0,
        };
        match client.next_message().await? {
            ServerMessage::Hello { accounts, .. } => client.accounts = accounts,
            other => bail!("expected hello, got {other:?}"),
        }
        Ok(client)
    }

    async fn next_message(&mut self) -> Result<ServerMessage> {
        loop {
            let frame = tokio::time::timeout(DEADLINE, self.ws.next())
                .await
                .context("no message from the bridge in time")?
                .context("the bridge closed the socket")??;
            if let tungstenite::Message::Text(text) = frame {
                self.bytes_received += text.len();
                return Ok(serde_json::from_str(&text)?);
            }
        }
    }

    /// Reads until the bridge closes the socket, and returns the close code it
    /// gave (`None` for a close without one, or a connection just dropped).
    pub async fn close_code(&mut self, within: Duration) -> Result<Option<u16>> {
        tokio::time::timeout(within, async {
            while let Some(frame) = self.ws.next().await {
                match frame {
                    Ok(tungstenite::Message::Close(frame)) => {
                        return Ok(frame.map(|f| u16::from(f.code)));
                    }
                    Ok(_) => {}
                    Err(_) => return Ok(None),
                }
            }
            Ok(None)
        })
        .await
        .context("the bridge did not close the socket in time")?
    }

    /// Sends a request and returns its answer, keeping events that came first.
    pub async fn request(&mut self, request: Request) -> Result<Result<Reply, WireError>> {
        let id = self.send(request).await?;
        self.answer(id).await
    }

    /// Waits for the first event that `matches` (earlier events that do not match
    /// are kept), or fails after [`DEADLINE`].
    pub async fn event(&mut self, what: &str, matches: impl Fn(&Event) -> bool) -> Result<Event> {
        if let Some(index) = self.events.iter().position(&matches) {
            return Ok(self.events.remove(index));
        }
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let message = tokio::time::timeout_at(deadline, self.next_message())
                .await
                .with_context(|| format!("no {what} event in time; got {:?}", self.events))??;
            match message {
                ServerMessage::Event { event } if matches(&event) => return Ok(event),
                ServerMessage::Event { event } => self.events.push(event),
                other => bail!("unexpected message {other:?} while waiting for {what}"),
            }
        }
    }

    /// As [`WsClient::answer`], however long the bridge takes (for a caller that
    /// sets its own deadline).
    pub async fn answer_patiently(&mut self, id: u64) -> Result<Result<Reply, WireError>> {
        loop {
            let frame = self
                .ws
                .next()
                .await
                .context("the bridge closed the socket")??;
            let tungstenite::Message::Text(text) = frame else {
                continue;
            };
            self.bytes_received += text.len();
            match serde_json::from_str(&text)? {
                ServerMessage::Reply { id: got, reply } if got == id => return Ok(Ok(reply)),
                ServerMessage::Failed { id: got, error } if got == id => return Ok(Err(error)),
                ServerMessage::Event { event } => self.events.push(event),
                other => bail!("unexpected message {other:?} while waiting for {id}"),
            }
        }
    }

    /// Keeps the events that come until none has for `quiet`.
    pub async fn pump(&mut self, quiet: Duration) -> Result<()> {
        while let Ok(frame) = tokio::time::timeout(quiet, self.ws.next()).await {
            let frame = frame.context("the bridge closed the socket")??;
            let tungstenite::Message::Text(text) = frame else {
                continue;
            };
            self.bytes_received += text.len();
            match serde_json::from_str(&text)? {
                ServerMessage::Event { event } => self.events.push(event),
                other => bail!("unexpected message {other:?} between requests"),
            }
        }
        Ok(())
    }

    /// Sends a request without waiting for its answer; returns its id.
    pub async fn send(&mut self, request: Request) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let text = serde_json::to_string(&ClientMessage { id, request })?;
        self.ws.send(tungstenite::Message::text(text)).await?;
        Ok(id)
    }

    /// The answer to request `id`, keeping events that come first.
    pub async fn answer(&mut self, id: u64) -> Result<Result<Reply, WireError>> {
        loop {
            match self.next_message().await? {
                ServerMessage::Reply { id: got, reply } if got == id => return Ok(Ok(reply)),
                ServerMessage::Failed { id: got, error } if got == id => return Ok(Err(error)),
                ServerMessage::Event { event } => self.events.push(event),
                other => bail!("unexpected message {other:?} while waiting for {id}"),
            }
        }
    }

    /// Sends a request that must succeed.
    pub async fn ok(&mut self, request: Request) -> Result<Reply> {
        let what = format!("{request:?}");
        self.request(request)
            .await?
            .map_err(|e| anyhow::anyhow!("{what} failed: {e:?}"))
    }

    pub async fn sign_in(
        &mut self,
        account: Option<&str>,
        user: &User,
    ) -> Result<Result<Reply, WireError>> {
        self.sign_in_over(account, user, None).await
    }

    /// Signs in over `protocol`, for an account that offers both.
    pub async fn sign_in_over(
        &mut self,
        account: Option<&str>,
        user: &User,
        protocol: Option<protocol::MailProtocol>,
    ) -> Result<Result<Reply, WireError>> {
        self.request(Request::SignIn {
            account: account.map(str::to_owned),
            user: user.name.clone(),
            password: user.password.clone(),
            protocol,
        })
        .await
    }

    /// The folder list.
    pub async fn folders(&mut self) -> Result<Vec<protocol::Folder>> {
        match self.ok(Request::ListFolders).await? {
            Reply::Folders { folders } => Ok(folders),
            other => bail!("expected folders, got {other:?}"),
        }
    }

    /// Opens a folder: its counts and newest `limit` headers.
    pub async fn open(&mut self, folder: &str, limit: u32) -> Result<Window> {
        self.open_sorted(folder, limit, protocol::Sort::default())
            .await
    }

    /// Opens a folder listed in `sort` order: its counts and first `limit` headers.
    pub async fn open_sorted(
        &mut self,
        folder: &str,
        limit: u32,
        sort: protocol::Sort,
    ) -> Result<Window> {
        let request = Request::OpenFolder {
            folder: folder.to_owned(),
            limit,
            sort,
        };
        match self.ok(request).await? {
            Reply::FolderOpened {
                uid_validity,
                total,
                unread,
                offset,
                messages,
                ..
            } => Ok(Window {
                uid_validity,
                total,
                unread,
                offset,
                messages,
            }),
            other => bail!("expected an opened folder, got {other:?}"),
        }
    }

    /// A further window of a folder's headers (`unread` and `uid_validity` are 0).
    pub async fn window(&mut self, folder: &str, offset: u32, limit: u32) -> Result<Window> {
        self.window_sorted(folder, offset, limit, protocol::Sort::default())
            .await
    }

    /// A further window in `sort` order.
    pub async fn window_sorted(
        &mut self,
        folder: &str,
        offset: u32,
        limit: u32,
        sort: protocol::Sort,
    ) -> Result<Window> {
        let request = Request::ListMessages {
            folder: folder.to_owned(),
            offset,
            limit,
            sort,
        };
        match self.ok(request).await? {
            Reply::Messages {
                total,
                offset,
                messages,
                ..
            } => Ok(Window {
                uid_validity: 0,
                total,
                unread: 0,
                offset,
                messages,
            }),
            other => bail!("expected a window, got {other:?}"),
        }
    }
}

impl WsClient {
    /// Opens a message (or the message attached at `part`), marking it read.
    pub async fn open_message(
        &mut self,
        folder: &str,
        uid: u32,
        part: Option<&str>,
    ) -> Result<protocol::MessageView> {
        let request = Request::OpenMessage {
            folder: folder.to_owned(),
            uid,
            part: part.map(str::to_owned),
            mark_seen: true,
            remote_content: false,
        };
        match self.ok(request).await? {
            Reply::MessageOpened { message, .. } => Ok(*message),
            other => bail!("expected an opened message, got {other:?}"),
        }
    }

    /// Starts a reply or forward of `folder`'s message `uid`: the draft and quote.
    pub async fn start_compose(
        &mut self,
        folder: &str,
        uid: u32,
        kind: protocol::ComposeKind,
    ) -> Result<(protocol::Draft, protocol::Quote)> {
        let request = Request::StartCompose {
            folder: folder.to_owned(),
            uid,
            kind,
        };
        match self.ok(request).await? {
            Reply::ComposeStarted { draft, quote } => Ok((*draft, *quote)),
            other => bail!("expected compose_started, got {other:?}"),
        }
    }

    /// Saves `draft` in Drafts: where it is kept, its Message-ID, and its files
    /// as the next save takes them.
    pub async fn save_draft(
        &mut self,
        draft: &protocol::Draft,
    ) -> Result<(protocol::SavedDraft, String, Vec<protocol::DraftAttachment>)> {
        let request = Request::SaveDraft {
            draft: Box::new(draft.clone()),
        };
        match self.ok(request).await? {
            Reply::DraftSaved {
                saved: Some(saved),
                message_id,
                attachments,
            } => Ok((saved, message_id, attachments)),
            other => bail!("expected draft_saved, got {other:?}"),
        }
    }

    /// Shows another part of an opened message.
    pub async fn show_part(
        &mut self,
        folder: &str,
        uid: u32,
        part: &str,
    ) -> Result<protocol::Body> {
        let request = Request::ShowPart {
            folder: folder.to_owned(),
            uid,
            part: part.to_owned(),
            remote_content: false,
        };
        match self.ok(request).await? {
            Reply::PartShown { body, .. } => Ok(body),
            other => bail!("expected a part, got {other:?}"),
        }
    }
}

/// A window of headers as the tests look at it.
#[derive(Debug)]
pub struct Window {
    pub uid_validity: u32,
    pub total: u32,
    pub unread: u32,
    pub offset: u32,
    pub messages: Vec<protocol::MessageHeader>,
}

impl Window {
    pub fn subjects(&self) -> Vec<&str> {
        self.messages.iter().map(|m| m.subject.as_str()).collect()
    }
}

/// The WebSocket handshake: the socket, or the HTTP status the bridge refused with.
pub async fn handshake(
    bridge: &Bridge,
    origin: Option<&str>,
) -> Result<Result<WebSocketStream<MaybeTlsStream<TcpStream>>, u16>> {
    let mut request = format!("ws://{}/ws", bridge.addr).into_client_request()?;
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse()?);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(Ok(ws)),
        Err(tungstenite::Error::Http(response)) => Ok(Err(response.status().as_u16())),
        Err(other) => Err(other.into()),
    }
}

/// The resume token a `signed_in` reply carries.
pub fn token_of(reply: &Reply) -> Result<protocol::ResumeToken> {
    match reply {
        Reply::SignedIn {
            resume: Some(token),
            ..
        } => Ok(token.clone()),
        other => bail!("expected signed_in with a token, got {other:?}"),
    }
}

/// Repeats `check` until it returns `Some`, or fails after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// Where screenshots go: `target/screenshots`.
pub fn screenshot_dir() -> Result<PathBuf> {
    let dir = workspace_root().join("target").join("screenshots");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// An HTTP response as the tests look at it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lowercase, values as text.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A plain GET with a real HTTP client, the body read to the end.
pub async fn http_get(url: &str) -> Result<HttpResponse> {
    request_within(
        DEADLINE,
        "GET",
        url,
        &[],
        http_body_util::Empty::<bytes::Bytes>::new(),
    )
    .await
}

/// A request with `method`, `headers` and a streamed `body`, answered and read
/// to the end; the answer may take long, as it comes once the body is taken in.
pub async fn http_send<B>(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: B,
) -> Result<HttpResponse>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    request_within(DEADLINE * 3, method, url, headers, body).await
}

/// As [`http_send`], answered within `deadline`; the body then has three
/// `DEADLINE`s to arrive.
async fn request_within<B>(
    deadline: Duration,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: B,
) -> Result<HttpResponse>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<B>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(deadline, client.request(request.body(body)?))
        .await
        .with_context(|| format!("no answer to {method} {url} in time"))??;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = tokio::time::timeout(DEADLINE * 3, response.into_body().collect())
        .await
        .with_context(|| format!("the body of {url} did not arrive in time"))??
        .to_bytes()
        .to_vec();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Uploads `content` as a file to attach, through the session's upload link
/// (`Sending::upload`), as the app does: the answer, or the status and the
/// bridge's sentence.
pub async fn upload(
    bridge: &Bridge,
    link: &str,
    name: &str,
    content_type: &str,
    content: Vec<u8>,
) -> Result<std::result::Result<protocol::Uploaded, (u16, String)>> {
    let url = format!("{}{link}?name={}", bridge.origin(), url_encode(name));
    let origin = bridge.origin();
    let response = http_send(
        "POST",
        &url,
        &[("content-type", content_type), ("origin", &origin)],
        http_body_util::Full::new(bytes::Bytes::from(content)),
    )
    .await?;
    if response.status == 201 {
        return Ok(Ok(serde_json::from_slice(&response.body)?));
    }
    Ok(Err((
        response.status,
        String::from_utf8_lossy(&response.body).trim().to_owned(),
    )))
}

/// Percent-encoding for a query value: everything but unreserved characters.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A figure of this process's `/proc/self/status`, in KiB (`VmRSS:`, `VmHWM:`),
/// for tests that run a bridge in a process of its own.
pub fn memory_kib(field: &str) -> Result<u64> {
    std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}

/// Runs the ignored test `name` of this test binary in a process of its own, with
/// `value` in the environment variable `var`, and returns how many KiB the bridge
/// in it says it grew by (a line `bridge memory grew by KiB: N`).
pub async fn bridge_growth_in_own_process(name: &str, var: &str, value: String) -> Result<u64> {
    let output = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(var, value)
        .output()
        .await?;
    let printed = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(output.status.success(), "{printed}");
    printed
        .lines()
        .find_map(|l| l.split_once("bridge memory grew by KiB: ").map(|(_, v)| v))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no memory figure in:\n{printed}"))
}
