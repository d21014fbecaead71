//! A scripted IMAP server for faults a real server will not produce on purpose. It
//! speaks implicit TLS with a certificate from its own throwaway CA.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the server does once the client has sent its first command.
#[derive(Debug, Clone, Copy)]
pub enum Misbehaviour {
    /// Answers with one response that never ends (bounded here at 64 MiB).
    EndlessResponse,
    /// Answers with a BODYSTRUCTURE nested 100,000 levels deep, which would overflow
    /// the stack of a recursive parser.
    DeepNesting,
}

pub struct HostileImap {
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl HostileImap {
    pub async fn start(misbehaviour: Misbehaviour) -> Result<Self> {
        let ca = maildev::TestCa::generate()?;
        let dir = tempfile::tempdir()?;
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca.cert_pem)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config(&["127.0.0.1"])?));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = misbehave(tls, misbehaviour).await;
                });
            }
        });
        Ok(HostileImap {
            addr,
            _dir: dir,
            ca_file,
            task,
        })
    }

    /// An account for the bridge that trusts this server's CA.
    pub fn account(&self, name: &str) -> super::AccountSpec {
        super::AccountSpec {
            name: name.to_owned(),
            imap: format!("imaps://127.0.0.1:{}", self.addr.port()),
            pop3: None,
            ca_file: Some(self.ca_file.clone()),
        }
    }
}

impl Drop for HostileImap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn misbehave<S>(stream: S, misbehaviour: Misbehaviour) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    stream
        .write_all(b"* OK [CAPABILITY IMAP4rev1] scripted server ready\r\n")
        .await?;
    stream.flush().await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    match misbehaviour {
        Misbehaviour::DeepNesting => {
            let deep = "(".repeat(100_000);
            stream
                .write_all(format!("* 1 FETCH (BODYSTRUCTURE {deep}\r\n").as_bytes())
                .await?;
            stream.flush().await?;
        }
        Misbehaviour::EndlessResponse => {
            stream.write_all(b"* OK ").await?;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..1024 {
                stream.write_all(&chunk).await?;
            }
        }
    }
    Ok(())
}
