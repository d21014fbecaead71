//! Several bridges, each a process of its own, behind a real HAProxy or nginx
//! configured from the deployment examples (`contrib/haproxy.cfg`,
//! `contrib/nginx.conf`), with their own listening and server lines. The bridges
//! share one session key and one origin, as an organization's would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use super::{AccountSpec, eventually, http_get, workspace_root};

/// The bridge binary: `POSTERN_BIN`, else the debug build (`cargo xtask test`
/// builds it).
pub fn postern_binary() -> Result<PathBuf> {
    let binary = std::env::var_os("POSTERN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/postern"));
    ensure!(
        binary.is_file(),
        "{} is missing: run `cargo build -p bridge` (cargo xtask test does)",
        binary.display()
    );
    Ok(binary)
}

/// A bridge config serving on 127.0.0.1:`port` for `origin`, with `extra`
/// top-level lines.
pub fn config_text(
    port: u16,
    origin: &str,
    static_dir: &Path,
    extra: &str,
    accounts: &[AccountSpec],
) -> String {
    format!(
        "listen = \"127.0.0.1:{port}\"\npublic_origin = {origin:?}\nstatic_dir = {:?}\n{extra}{}",
        static_dir.display().to_string(),
        super::account_tables(accounts),
    )
}

/// One bridge process.
pub struct BridgeProcess {
    pub port: u16,
    child: Child,
}

/// The load balancers the deployment examples are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancer {
    HaProxy,
    Nginx,
}

/// The bridges and the load balancer in front; all stop on drop.
pub struct Fleet {
    /// Where browsers go: the load balancer.
    pub origin: String,
    pub bridges: Vec<BridgeProcess>,
    balancer: Child,
    _dir: tempfile::TempDir,
}

impl Fleet {
    /// Starts `count` bridges for `accounts` serving the app in `static_dir`, and
    /// HAProxy in front, and waits until a request through it is answered.
    pub async fn start(count: usize, accounts: &[AccountSpec], static_dir: &Path) -> Result<Self> {
        Self::start_behind(Balancer::HaProxy, count, accounts, static_dir).await
    }

    /// As [`Fleet::start`], behind `balancer`.
    pub async fn start_behind(
        balancer: Balancer,
        count: usize,
        accounts: &[AccountSpec],
        static_dir: &Path,
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let binary = postern_binary()?;
        let front = maildev::free_port()?;
        let origin = format!("http://127.0.0.1:{front}");
        let key = dir.path().join("session.key");
        let mut bridges = Vec::new();
        for n in 0..count {
            let port = maildev::free_port()?;
            let config = dir.path().join(format!("bridge{n}.toml"));
            let extra = format!(
                "session_key_file = {:?}\nshutdown_seconds = 6\ntrusted_proxies = [\"127.0.0.1\"]\n",
                key.display().to_string()
            );
            let text = config_text(port, &origin, static_dir, &extra, accounts);
            std::fs::write(&config, text)?;
            let log = std::fs::File::create(dir.path().join(format!("bridge{n}.log")))?;
            let child = Command::new(&binary)
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "info")
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot start {}", binary.display()))?;
            bridges.push(BridgeProcess { port, child });
            // The first creates the key the others read.
            if n == 0 {
                ready(port).await?;
            }
        }
        for bridge in &bridges {
            ready(bridge.port).await?;
        }
        let log = std::fs::File::create(dir.path().join("balancer.log"))?;
        let mut command = match balancer {
            Balancer::HaProxy => {
                let config = dir.path().join("haproxy.cfg");
                std::fs::write(&config, haproxy_config(front, &bridges)?)?;
                let mut command = Command::new("haproxy");
                command.arg("-db").arg("-f").arg(&config);
                command
            }
            Balancer::Nginx => {
                let config = dir.path().join("nginx.conf");
                std::fs::write(&config, nginx_config(front, &bridges, dir.path())?)?;
                let mut command = Command::new("nginx");
                command.arg("-p").arg(dir.path()).arg("-c").arg(&config);
                command
            }
        };
        let balancer = command
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("cannot start {balancer:?} (cargo xtask setup installs it)")
            })?;
        let fleet = Fleet {
            origin,
            bridges,
            balancer,
            _dir: dir,
        };
        let health = format!("{}/healthz", fleet.origin);
        eventually("HAProxy to pass requests on", || async {
            Ok(http_get(&health).await.ok().filter(|r| r.status == 200))
        })
        .await?;
        Ok(fleet)
    }

    /// The bridges holding WebSockets now: those with a connection open for
    /// longer than a health check lasts (HAProxy closes every other one after
    /// its request).
    pub async fn serving_websockets(&self) -> Result<Vec<usize>> {
        let mut serving: Option<Vec<usize>> = None;
        for _ in 0..3 {
            let now: Vec<usize> = (0..self.bridges.len())
                .filter(|&i| established_to(self.bridges[i].port).unwrap_or(0) > 0)
                .collect();
            serving = Some(match serving {
                None => now,
                Some(before) => before.into_iter().filter(|i| now.contains(i)).collect(),
            });
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Ok(serving.unwrap_or_default())
    }

    /// Kills bridge `i` outright (SIGKILL), as a crash or a lost machine would.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        self.bridges[i].child.kill()?;
        self.bridges[i].child.wait()?;
        Ok(())
    }

    /// Asks bridge `i` to stop (SIGTERM) and waits for it, at most `within`.
    pub async fn terminate(&mut self, i: usize, within: Duration) -> Result<ExitStatus> {
        let pid = self.bridges[i].child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status()?;
        ensure!(status.success(), "kill -TERM {pid} failed");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.bridges[i].child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                bail!("bridge {i} did not stop within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.balancer.kill();
        let _ = self.balancer.wait();
        for bridge in &mut self.bridges {
            let _ = bridge.child.kill();
            let _ = bridge.child.wait();
        }
    }
}

/// Waits until the bridge on `port` says it is ready.
async fn ready(port: u16) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/readyz");
    eventually(
        &format!("the bridge on port {port} to be ready"),
        || async { Ok(http_get(&url).await.ok().filter(|r| r.status == 200)) },
    )
    .await
    .map(drop)
}

/// The deployment example with this machine's addresses.
fn haproxy_config(front: u16, bridges: &[BridgeProcess]) -> Result<String> {
    let example = std::fs::read_to_string(workspace_root().join("contrib/haproxy.cfg"))?;
    let mut text = String::new();
    let mut servers_written = false;
    for line in example.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("bind ") {
            text += &format!("    bind 127.0.0.1:{front}\n");
        } else if trimmed.starts_with("server ") {
            if !std::mem::replace(&mut servers_written, true) {
                for (n, bridge) in bridges.iter().enumerate() {
                    text += &format!("    server bridge{n} 127.0.0.1:{} check\n", bridge.port);
                }
            }
        } else {
            text += line;
            text += "\n";
        }
    }
    ensure!(servers_written, "contrib/haproxy.cfg has no server lines");
    Ok(text)
}

/// nginx.conf around the deployment example, with this machine's addresses and
/// everything nginx writes kept in `dir`.
fn nginx_config(front: u16, bridges: &[BridgeProcess], dir: &Path) -> Result<String> {
    let example = std::fs::read_to_string(workspace_root().join("contrib/nginx.conf"))?;
    let mut site = String::new();
    let mut servers_written = false;
    for line in example.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("listen ") {
            site += &format!("    listen 127.0.0.1:{front};\n");
        } else if trimmed.starts_with("ssl_certificate") {
            continue;
        } else if let Some(rest) = trimmed.strip_prefix("server ")
            && rest.contains(':')
        {
            // `server ADDRESS PARAMETERS;`: the parameters as the example has them.
            let parameters = rest.split_once(' ').map_or(";", |(_, p)| p);
            if !std::mem::replace(&mut servers_written, true) {
                for bridge in bridges {
                    site += &format!("    server 127.0.0.1:{} {parameters}\n", bridge.port);
                }
            }
        } else {
            site += line;
            site += "\n";
        }
    }
    ensure!(servers_written, "contrib/nginx.conf has no server lines");
    let d = dir.display();
    Ok(format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\nevents {{ worker_connections 1024; }}\nhttp {{\n    access_log {d}/nginx-access.log;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n    proxy_max_temp_file_size 0;\n{site}}}\n"
    ))
}

/// Established TCP connections to local `port` (from /proc/net/tcp).
fn established_to(port: u16) -> Result<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    let wanted = format!(":{port:04X}");
    Ok(table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1].ends_with(&wanted) && fields[3] == "01"
        })
        .count())
}
