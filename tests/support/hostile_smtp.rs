//! A scripted SMTP server (implicit TLS) for faults a real one will not produce on
//! purpose: it takes a message up to DATA, reads a little of it, and then hangs up.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

pub struct HostileSmtp {
    pub addr: SocketAddr,
    /// How many times a client reached DATA.
    pub data_started: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl HostileSmtp {
    /// Serves with a certificate for 127.0.0.1 from `ca`, cutting every connection
    /// after the first bytes of the message.
    pub async fn cut_during_data(ca: &maildev::TestCa) -> Result<Self> {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config(&["127.0.0.1"])?));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let data_started = Arc::new(AtomicUsize::new(0));
        let counter = data_started.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = converse(tls, &counter).await;
                    }
                });
            }
        });
        Ok(HostileSmtp {
            addr,
            data_started,
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

async fn converse<S>(stream: S, data_started: &AtomicUsize) -> Result<()>
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
            b"250-scripted\r\n250-AUTH PLAIN\r\n250 SIZE 1000000\r\n"
        } else if command.starts_with("AUTH") {
            b"235 2.7.0 Authentication successful\r\n"
        } else if command.starts_with("DATA") {
            data_started.fetch_add(1, Ordering::SeqCst);
            stream.write_all(b"354 go ahead\r\n").await?;
            stream.flush().await?;
            let mut some = [0u8; 64];
            let _ = stream.read(&mut some).await?;
            // Hang up with the message half-read: the outcome is unknown to the client.
            return Ok(());
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
