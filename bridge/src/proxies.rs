//! `trusted_proxies`: the load balancers whose `X-Forwarded-For` says who the
//! client is. A connection from anywhere else is its own client, whatever it
//! claims; through a trusted proxy, the client is the last address in the header
//! that is not itself a trusted proxy.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// An address or a network (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().ok()?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= bits)?,
            None => bits,
        };
        Some(Network { address, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let (ours, theirs, bits) = match (self.address, address) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(a.to_bits()), u128::from(b.to_bits()), 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || ours >> shift == theirs >> shift
    }
}

/// Who the client is, for the sign-in throttle and the log.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Network]) -> IpAddr {
    let trusts = |address: IpAddr| trusted.iter().any(|n| n.contains(address));
    if !trusts(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().parse::<IpAddr>())
        .collect::<Vec<_>>();
    let mut client = peer;
    // From the nearest hop back: stop at the first that is not a trusted proxy.
    for hop in forwarded.into_iter().rev() {
        match hop {
            Ok(address) => {
                client = address;
                if !trusts(address) {
                    break;
                }
            }
            // A hop that is not an address: nothing before it can be believed.
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().expect("header"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn networks_parse_and_match() {
        let net = Network::parse("10.0.0.0/8").expect("parses");
        assert!(net.contains(ip("10.200.3.4")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(
            Network::parse("127.0.0.1")
                .expect("parses")
                .contains(ip("127.0.0.1"))
        );
        assert!(
            Network::parse("fd00::/8")
                .expect("parses")
                .contains(ip("fd12::1"))
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .expect("parses")
                .contains(ip("8.8.8.8"))
        );
        // An IPv4 peer seen over IPv6.
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        for bad in ["", "10.0.0.0/33", "example.org", "10.0.0/8", "::/129"] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_a_trusted_proxy_is_believed() {
        let trusted = [Network::parse("10.0.0.0/8").expect("parses")];
        // Straight from a client: its header is its own claim, and ignored.
        assert_eq!(
            client_address(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &trusted),
            ip("203.0.113.9")
        );
        // Through the balancer: the address it saw.
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers(&["198.51.100.1"]), &trusted),
            ip("198.51.100.1")
        );
        // A client's forged entry before the balancer's own is not believed.
        assert_eq!(
            client_address(
                ip("10.0.0.5"),
                &headers(&["6.6.6.6, 198.51.100.1"]),
                &trusted
            ),
            ip("198.51.100.1")
        );
        // Two trusted hops, in two headers.
        assert_eq!(
            client_address(
                ip("10.0.0.5"),
                &headers(&["198.51.100.1", "10.9.9.9"]),
                &trusted
            ),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at the last believable hop.
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers(&["198.51.100.1, junk"]), &trusted),
            ip("10.0.0.5")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers(&[]), &trusted),
            ip("10.0.0.5")
        );
        // Nothing trusted: always the peer.
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers(&["198.51.100.1"]), &[]),
            ip("10.0.0.5")
        );
    }
}
