//! A TCP relay to a loopback port that counts the bytes each way: between the
//! bridge and a server, the bytes on the network (TLS included). It can also cut
//! every connection at once and send new ones elsewhere, as a network drop or a
//! load balancer moving people to another bridge would; and, for the fault tests,
//! cut a connection a given number of bytes into what the server sends (inside a
//! line or a literal, under the TLS), or damage one byte of it (the TLS record's
//! check then fails).

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What is done to one connection.
#[derive(Debug, Default)]
struct Faults {
    /// Nothing passes and nothing closes.
    frozen: AtomicBool,
    /// Bytes from the server still passed before the connection is cut; zero
    /// when no cut is planned (one is added to a planned count).
    cut_after: AtomicU64,
    /// The next byte from the server is flipped.
    corrupt: AtomicBool,
}

/// An open connection: its task, and what is done to it.
type Connection = (tokio::task::AbortHandle, Arc<Faults>);

/// The relay, listening on `port`.
pub struct Relay {
    pub port: u16,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    target: Arc<AtomicU16>,
    connections: Arc<Mutex<Vec<Connection>>>,
    accepted: Arc<AtomicU64>,
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
        let accepted = Arc::new(AtomicU64::new(0));
        let counted = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                let (counted_up, counted_down) = counters.clone();
                let target = to.load(Ordering::SeqCst);
                let faults = Arc::new(Faults::default());
                let done_to = faults.clone();
                let connection = tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    // Either way ending ends the connection, both ways.
                    tokio::select! {
                        () = pass(&mut from_client, &mut to_server, &counted_up, one_way, &done_to, false) => {}
                        () = pass(&mut from_server, &mut to_client, &counted_down, one_way, &done_to, true) => {}
                    }
                });
                let mut open = open.lock().expect("not poisoned");
                open.retain(|(c, _): &(tokio::task::AbortHandle, _)| !c.is_finished());
                open.push((connection.abort_handle(), faults));
            }
        });
        Ok(Relay {
            port,
            up,
            down,
            target,
            connections,
            accepted,
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
        for (_, faults) in self.connections.lock().expect("not poisoned").iter() {
            faults.frozen.store(true, Ordering::SeqCst);
        }
    }

    /// Cuts every open connection once the server has sent `bytes` more on it.
    pub fn cut_after(&self, bytes: u64) {
        for (_, faults) in self.connections.lock().expect("not poisoned").iter() {
            faults.cut_after.store(bytes + 1, Ordering::SeqCst);
        }
    }

    /// Flips the next byte the server sends on every open connection.
    pub fn corrupt(&self) {
        for (_, faults) in self.connections.lock().expect("not poisoned").iter() {
            faults.corrupt.store(true, Ordering::SeqCst);
        }
    }

    /// How many connections it has taken so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
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

/// Copies `from` to `to` until either ends, counting the bytes in `counted`;
/// `down` is the server's direction, where cuts and damage happen.
async fn pass(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    counted: &AtomicU64,
    one_way: std::time::Duration,
    faults: &Faults,
    down: bool,
) {
    let mut buffer = vec![0; 64 << 10];
    while let Ok(n @ 1..) = from.read(&mut buffer).await {
        counted.fetch_add(n as u64, Ordering::Relaxed);
        if !one_way.is_zero() {
            tokio::time::sleep(one_way).await;
        }
        // Frozen, what comes is lost, and nothing closes.
        if faults.frozen.load(Ordering::SeqCst) {
            continue;
        }
        let mut n = n;
        let mut cut = false;
        if down {
            if faults.corrupt.swap(false, Ordering::SeqCst) {
                buffer[0] ^= 0x5a;
            }
            let left = faults.cut_after.load(Ordering::SeqCst);
            if left > 0 {
                let pass = (left - 1).min(n as u64);
                faults.cut_after.store(left - pass, Ordering::SeqCst);
                if left - 1 <= n as u64 {
                    n = pass as usize;
                    cut = true;
                }
            }
        }
        if to.write_all(&buffer[..n]).await.is_err() || cut {
            break;
        }
    }
    if faults.frozen.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let _ = to.shutdown().await;
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
