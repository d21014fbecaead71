//! The image proxy: when a person asks to see a message's remote images, the bridge
//! fetches them, so that the browser never contacts the sender's servers. Every hop
//! is checked before connecting: the name is resolved here, every address it has
//! must be public, the connection goes to the checked address, and each redirect is
//! checked the same way. Only raster images under a size cap come back, without
//! cookies or a referrer on the way out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Empty, Limited};
use hyper::body::Incoming;
use hyper::header;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use url::{Host, Url};

/// The largest image the proxy passes on.
pub const MAX_IMAGE_BYTES: usize = 5 << 20;
/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;
/// Resolving, connecting and receiving the headers, each.
const STEP_DEADLINE: Duration = Duration::from_secs(10);

/// Why an image was not fetched.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not an http or https URL")]
    BadUrl,
    #[error("the address is not on the public internet")]
    Forbidden,
    #[error("the server cannot be reached")]
    Unreachable,
    #[error("the server answered {0}")]
    Upstream(u16),
    #[error("the answer is not a raster image")]
    NotAnImage,
    #[error("the image is too large")]
    TooLarge,
    #[error("too many redirects")]
    TooManyRedirects,
}

/// An image on its way to the browser.
pub struct Fetched {
    pub content_type: &'static str,
    pub length: Option<u64>,
    /// Fails once more than [`MAX_IMAGE_BYTES`] have come.
    pub body: Limited<Incoming>,
}

pub struct Proxy {
    tls: Arc<rustls::ClientConfig>,
    /// Which addresses may be contacted; [`is_public`] outside of tests.
    allowed: fn(IpAddr) -> bool,
}

impl Proxy {
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        Proxy {
            tls,
            allowed: is_public,
        }
    }

    /// Fetches the image at `url`, following checked redirects.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, Refusal> {
        let mut url = Url::parse(url).map_err(|_| Refusal::BadUrl)?;
        for _ in 0..=MAX_REDIRECTS {
            let response = self.request(&url).await?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(Refusal::Upstream(status.as_u16()))?;
                url = url.join(location).map_err(|_| Refusal::BadUrl)?;
                continue;
            }
            if !status.is_success() {
                return Err(Refusal::Upstream(status.as_u16()));
            }
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase()
                })
                .and_then(|t| crate::parts::raster_image_type(&t))
                .ok_or(Refusal::NotAnImage)?;
            let length = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if length.is_some_and(|l| l > MAX_IMAGE_BYTES as u64) {
                return Err(Refusal::TooLarge);
            }
            return Ok(Fetched {
                content_type,
                length,
                body: Limited::new(response.into_body(), MAX_IMAGE_BYTES),
            });
        }
        Err(Refusal::TooManyRedirects)
    }

    /// One GET to a checked address.
    async fn request(&self, url: &Url) -> Result<hyper::Response<Incoming>, Refusal> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(Refusal::BadUrl),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::BadUrl);
        }
        let host = url.host().ok_or(Refusal::BadUrl)?;
        let port = url.port_or_known_default().ok_or(Refusal::BadUrl)?;
        let addresses: Vec<SocketAddr> = match &host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), port)],
            Host::Domain(name) => timeout(STEP_DEADLINE, tokio::net::lookup_host((*name, port)))
                .await
                .map_err(|_| Refusal::Unreachable)?
                .map_err(|_| Refusal::Unreachable)?
                .collect(),
        };
        // A name with any private address is refused outright, so that no choice
        // among its addresses can be steered inside.
        if addresses.is_empty() || addresses.iter().any(|a| !(self.allowed)(a.ip())) {
            return Err(Refusal::Forbidden);
        }
        let tcp = timeout(STEP_DEADLINE, TcpStream::connect(addresses[0]))
            .await
            .map_err(|_| Refusal::Unreachable)?
            .map_err(|_| Refusal::Unreachable)?;
        let host_header = match url.port() {
            Some(port) => format!("{}:{port}", host),
            None => host.to_string(),
        };
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        if https {
            let name = match &host {
                Host::Domain(name) => rustls_pki_types::ServerName::try_from(name.to_string()),
                Host::Ipv4(ip) => Ok(rustls_pki_types::ServerName::from(IpAddr::V4(*ip))),
                Host::Ipv6(ip) => Ok(rustls_pki_types::ServerName::from(IpAddr::V6(*ip))),
            }
            .map_err(|_| Refusal::BadUrl)?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone());
            let stream = timeout(STEP_DEADLINE, tls.connect(name, tcp))
                .await
                .map_err(|_| Refusal::Unreachable)?
                .map_err(|_| Refusal::Unreachable)?;
            exchange(stream, &host_header, target).await
        } else {
            exchange(tcp, &host_header, target).await
        }
    }
}

/// Sends the GET over `stream` and waits for the response headers.
async fn exchange<S>(
    stream: S,
    host: &str,
    target: &str,
) -> Result<hyper::Response<Incoming>, Refusal>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Refusal::Unreachable)?;
    // The connection lives until the response body is read or dropped.
    tokio::spawn(connection);
    let request = hyper::Request::get(if target.is_empty() { "/" } else { target })
        .header(header::HOST, host)
        .header(
            header::ACCEPT,
            "image/avif,image/webp,image/png,image/jpeg,image/gif,image/bmp",
        )
        .header(header::USER_AGENT, "Postern image proxy")
        .body(Empty::<Bytes>::new())
        .map_err(|_| Refusal::BadUrl)?;
    timeout(STEP_DEADLINE, sender.send_request(request))
        .await
        .map_err(|_| Refusal::Unreachable)?
        .map_err(|_| Refusal::Unreachable)
}

/// Whether an address is on the public internet: not loopback, private, link-local,
/// shared (CGNAT), multicast, reserved or documentation space, and not an IPv6 form
/// that embeds an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embeds_v4 = segments[..5] == [0; 5] && (segments[5] == 0 || segments[5] == 0xffff);
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || embeds_v4
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x2001 && segments[1] == 0)
        || segments[0] == 0x2002
        || (segments[0] == 0x0064 && segments[1] == 0xff9b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "2001:db8::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ] {
            let ip: IpAddr = private.parse().expect(private);
            assert!(!is_public(ip), "{private} passed");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450::1"] {
            let ip: IpAddr = public.parse().expect(public);
            assert!(is_public(ip), "{public} refused");
        }
    }

    /// A one-shot HTTP server on `ip` answering every connection with `answer`,
    /// counting connections.
    async fn server(ip: &str, answer: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let address = listener.local_addr().expect("address");
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            }
        });
        (address, count)
    }

    /// A proxy for which only 127.0.0.2 counts as public: the test's stand-in for
    /// the internet, beside the real loopback address.
    fn test_proxy() -> Proxy {
        Proxy {
            tls: crate::config::web_tls(),
            allowed: |ip| ip == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        }
    }

    const PNG: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 8\r\nConnection: close\r\n\r\n\x89PNG\r\n\x1a\n";

    #[tokio::test]
    async fn images_pass_and_everything_else_is_refused() {
        use http_body_util::BodyExt;
        let (image, _) = server("127.0.0.2", PNG).await;
        let fetched = test_proxy()
            .fetch(&format!("http://{image}/pixel.png"))
            .await
            .expect("fetched");
        assert_eq!(fetched.content_type, "image/png");
        let bytes = fetched.body.collect().await.expect("body").to_bytes();
        assert_eq!(&bytes[..], b"\x89PNG\r\n\x1a\n");

        let (html, _) = server(
            "127.0.0.2",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi",
        )
        .await;
        assert!(matches!(
            test_proxy().fetch(&format!("http://{html}/")).await,
            Err(Refusal::NotAnImage)
        ));
        let (huge, _) = server(
            "127.0.0.2",
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 99999999\r\n\r\n",
        )
        .await;
        assert!(matches!(
            test_proxy().fetch(&format!("http://{huge}/")).await,
            Err(Refusal::TooLarge)
        ));
        for bad in [
            "file:///etc/passwd",
            "ftp://x/",
            "http://user:pw@127.0.0.2/",
            "nonsense",
        ] {
            assert!(
                matches!(test_proxy().fetch(bad).await, Err(Refusal::BadUrl)),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_before_connecting_also_after_a_redirect() {
        let (inside, knocks) = server("127.0.0.1", PNG).await;
        for url in [
            format!("http://{inside}/"),
            format!("http://localhost:{}/", inside.port()),
            format!("http://[::ffff:127.0.0.1]:{}/", inside.port()),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "http://10.0.0.1/".to_owned(),
            "http://[::1]/".to_owned(),
        ] {
            assert!(
                matches!(test_proxy().fetch(&url).await, Err(Refusal::Forbidden)),
                "{url}"
            );
        }
        let redirect: &'static [u8] = Box::leak(
            format!("HTTP/1.1 302 Found\r\nLocation: http://{inside}/secret.png\r\nContent-Length: 0\r\n\r\n")
                .into_bytes()
                .into_boxed_slice(),
        );
        let (outside, _) = server("127.0.0.2", redirect).await;
        assert!(matches!(
            test_proxy().fetch(&format!("http://{outside}/")).await,
            Err(Refusal::Forbidden)
        ));
        assert_eq!(
            knocks.load(Ordering::SeqCst),
            0,
            "a private address was contacted"
        );
    }
}
