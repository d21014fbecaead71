//! A TCP relay to a loopback port that counts the bytes each way: between the
//! bridge and a server, the bytes on the network (TLS included). It can also cut
//! every connection at once and send new ones elsewhere, as a network drop or a
//! load balancer moving people to another bridge would.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An open connection: its task, and whether it is frozen.
type Connection = (tokio::task::AbortHandle, Arc<AtomicBool>);

/// The relay, listening on `port`.
pub struct Relay {
    pub port: u16,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    target: Arc<AtomicU16>,
    connections: Arc<Mutex<Vec<Connection>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// A relay to `target`.
    pub async fn start(target: u16) -> Result<Self> {
        Self::distant(target, std::time::Duration::ZERO).await
    }

    /// A relay to `target` that holds what it passes for `one_way` each way, as a
    /// server far away would.
    pub async fn distant(target: u16, one_way: std::time::Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let counters = (up.clone(), down.clone());
        let target = Arc::new(AtomicU16::new(target));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (to, open) = (target.clone(), connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (counted_up, counted_down) = counters.clone();
                let target = to.load(Ordering::SeqCst);
                let frozen = Arc::new(AtomicBool::new(false));
                let stops = frozen.clone();
                let connection = tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    tokio::join!(
                        pass(
                            &mut from_client,
                            &mut to_server,
                            &counted_up,
                            one_way,
                            &stops
                        ),
                        pass(
                            &mut from_server,
                            &mut to_client,
                            &counted_down,
                            one_way,
                            &stops
                        ),
                    );
                });
                let mut open = open.lock().expect("not poisoned");
                open.retain(|(c, _): &(tokio::task::AbortHandle, _)| !c.is_finished());
                open.push((connection.abort_handle(), frozen));
            }
        });
        Ok(Relay {
            port,
            up,
            down,
            target,
            connections,
            task,
        })
    }

    /// Sends new connections to `port` from now on.
    pub fn set_target(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
    }

    /// Cuts every open connection, both ways.
    pub fn cut(&self) {
        for (connection, _) in self.connections.lock().expect("not poisoned").drain(..) {
            connection.abort();
        }
    }

    /// Stops passing anything on the open connections without closing them, as a
    /// machine that vanished, or a link gone dead, would. New connections pass.
    pub fn freeze(&self) {
        for (_, frozen) in self.connections.lock().expect("not poisoned").iter() {
            frozen.store(true, Ordering::SeqCst);
        }
    }

    /// The bytes sent to the server so far, by every connection.
    pub fn up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// The bytes the server sent so far, to every connection.
    pub fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

/// Copies `from` to `to` until either ends, counting the bytes in `counted`.
async fn pass(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    counted: &AtomicU64,
    one_way: std::time::Duration,
    frozen: &AtomicBool,
) {
    let mut buffer = vec![0; 64 << 10];
    while let Ok(n @ 1..) = from.read(&mut buffer).await {
        counted.fetch_add(n as u64, Ordering::Relaxed);
        if !one_way.is_zero() {
            tokio::time::sleep(one_way).await;
        }
        // Frozen, what comes is lost, and nothing closes.
        if frozen.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    if frozen.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let _ = to.shutdown().await;
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
