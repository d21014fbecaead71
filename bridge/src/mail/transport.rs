//! The byte stream under an IMAP session: TCP, then rustls, with a per-response byte
//! budget so that a hostile server cannot make the bridge buffer without bound.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

use super::{MailError, UPSTREAM_DEADLINE};
use crate::config::ImapServer;

/// The most bytes the server may send in answer to one command.
pub const RESPONSE_BUDGET: usize = 32 << 20;

/// A stream that fails reads once its budget is spent. [`Budget::refill`] is called
/// before each command.
#[derive(Debug)]
pub struct Bounded<S> {
    inner: S,
    budget: Budget,
}

/// The shared byte allowance of a [`Bounded`] stream.
#[derive(Debug, Clone, Default)]
pub struct Budget(Arc<AtomicUsize>);

impl Budget {
    pub fn new() -> Self {
        let budget = Budget::default();
        budget.refill();
        budget
    }

    pub fn refill(&self) {
        self.0.store(RESPONSE_BUDGET, Ordering::Relaxed);
    }
}

impl<S> Bounded<S> {
    pub fn new(inner: S, budget: Budget) -> Self {
        Bounded { inner, budget }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Bounded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let remaining = this.budget.0.load(Ordering::Relaxed);
        if remaining == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the mail server sent more than one response may hold",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        this.budget
            .0
            .store(remaining.saturating_sub(read), Ordering::Relaxed);
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Bounded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// `host:port`, for messages and logs.
pub fn server_label(server: &ImapServer) -> String {
    if server.host.contains(':') {
        format!("[{}]:{}", server.host, server.port)
    } else {
        format!("{}:{}", server.host, server.port)
    }
}

/// Opens the TCP connection, with a deadline.
pub async fn connect_tcp(server: &ImapServer) -> Result<TcpStream, MailError> {
    let label = server_label(server);
    let tcp = match timeout(
        UPSTREAM_DEADLINE,
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    {
        Err(_) => return Err(MailError::Timeout("the connection")),
        Ok(Err(source)) => {
            return Err(MailError::Unreachable {
                server: label,
                source,
            });
        }
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Runs the TLS handshake, verifying the certificate against `tls`'s roots and the
/// configured host name.
pub async fn start_tls(
    server: &ImapServer,
    tls: Arc<rustls::ClientConfig>,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, MailError> {
    let label = server_label(server);
    let name = ServerName::try_from(server.host.clone()).map_err(|e| MailError::Tls {
        server: label.clone(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    match timeout(
        UPSTREAM_DEADLINE,
        tokio_rustls::TlsConnector::from(tls).connect(name, tcp),
    )
    .await
    {
        Err(_) => Err(MailError::Timeout("the TLS handshake")),
        Ok(Err(source)) => Err(MailError::Tls {
            server: label,
            source,
        }),
        Ok(Ok(stream)) => Ok(stream),
    }
}
