//! A scripted SMTP server (implicit TLS) for faults a real one will not produce on
//! purpose: it takes a message up to DATA, reads a little of it, and then hangs up;
//! or it offers BURL and refuses it (taking the message as DATA after all), or
//! hangs up once it is asked to fetch one.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

pub struct HostileSmtp {
    pub addr: SocketAddr,
    /// How many times a client reached DATA.
    pub data_started: Arc<AtomicUsize>,
    /// How many messages it took whole, as DATA.
    pub data_taken: Arc<AtomicUsize>,
    /// How many times a client asked it to fetch a message by URL.
    pub burl_asked: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// What the server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    CutDuringData,
    /// Offers BURL, refuses every URL, and takes DATA.
    RefuseBurl,
    /// Offers BURL and hangs up when asked to fetch.
    CutAtBurl,
}

impl HostileSmtp {
    /// Serves with a certificate for 127.0.0.1 from `ca`, cutting every connection
    /// after the first bytes of the message.
    pub async fn cut_during_data(ca: &maildev::TestCa) -> Result<Self> {
        Self::start(ca, Script::CutDuringData).await
    }

    /// Offers BURL, answers every `BURL` with 554 5.6.6 (URL resolution failed),
    /// and takes messages as DATA.
    pub async fn refusing_burl(ca: &maildev::TestCa) -> Result<Self> {
        Self::start(ca, Script::RefuseBurl).await
    }

    /// Offers BURL and hangs up on `BURL`, leaving the outcome unknown.
    pub async fn cut_at_burl(ca: &maildev::TestCa) -> Result<Self> {
        Self::start(ca, Script::CutAtBurl).await
    }

    async fn start(ca: &maildev::TestCa, script: Script) -> Result<Self> {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config(&["127.0.0.1"])?));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let counters = Counters::default();
        let (data_started, data_taken, burl_asked) = (
            counters.data_started.clone(),
            counters.data_taken.clone(),
            counters.burl_asked.clone(),
        );
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counters = counters.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = converse(tls, script, &counters).await;
                    }
                });
            }
        });
        Ok(HostileSmtp {
            addr,
            data_started,
            data_taken,
            burl_asked,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("smtps://127.0.0.1:{}", self.addr.port())
    }
}

impl Drop for HostileSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Default)]
struct Counters {
    data_started: Arc<AtomicUsize>,
    data_taken: Arc<AtomicUsize>,
    burl_asked: Arc<AtomicUsize>,
}

async fn converse<S>(stream: S, script: Script, counters: &Counters) -> Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    stream.write_all(b"220 scripted ESMTP\r\n").await?;
    stream.flush().await?;
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let answer: &[u8] = if command.starts_with("EHLO") {
            if script == Script::CutDuringData {
                b"250-scripted\r\n250-AUTH PLAIN\r\n250 SIZE 1000000\r\n"
            } else {
                b"250-scripted\r\n250-AUTH PLAIN\r\n250-BURL imap\r\n250-CHUNKING\r\n250 SIZE 50000000\r\n"
            }
        } else if command.starts_with("AUTH") {
            b"235 2.7.0 Authentication successful\r\n"
        } else if command.starts_with("DATA") {
            counters.data_started.fetch_add(1, Ordering::SeqCst);
            stream.write_all(b"354 go ahead\r\n").await?;
            stream.flush().await?;
            if script == Script::CutDuringData {
                let mut some = [0u8; 64];
                let _ = stream.read(&mut some).await?;
                // Hang up with the message half-read: the outcome is unknown to the
                // client.
                return Ok(());
            }
            loop {
                line.clear();
                if stream.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
            }
            counters.data_taken.fetch_add(1, Ordering::SeqCst);
            b"250 2.0.0 taken\r\n"
        } else if let Some(size) = command.strip_prefix("BDAT ") {
            let size: usize = size.split(' ').next().unwrap_or("").parse()?;
            let mut chunk = vec![0; size];
            stream.read_exact(&mut chunk).await?;
            b"250 2.0.0 chunk taken\r\n"
        } else if command.starts_with("BURL") {
            counters.burl_asked.fetch_add(1, Ordering::SeqCst);
            if script == Script::CutAtBurl {
                return Ok(());
            }
            b"554 5.6.6 URL resolution failed\r\n"
        } else if command.starts_with("QUIT") {
            stream.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 2.0.0 OK\r\n"
        };
        stream.write_all(answer).await?;
        stream.flush().await?;
    }
}
