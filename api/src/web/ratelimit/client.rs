//! Who a request's client is, for its budget: the connection's peer, or, when that peer is a
//! trusted proxy (`PNODE_TRUSTED_PROXIES`), the nearest hop before it, in the one header the
//! operator's proxies set (`PNODE_CLIENT_IP_HEADER`: a client can write the other one itself).

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use actix_web::http::header::{self, HeaderMap, HeaderName};

use crate::domain::cidr::{self, IpNet};

/// `PNODE_TRUSTED_PROXIES`: CIDRs whose forwarding header is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub(super) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(cidr::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// `PNODE_CLIENT_IP_HEADER`: which header the trusted proxies append the client to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl FromStr for ClientIpHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => Err(format!("{text:?} is neither X-Forwarded-For nor Forwarded")),
        }
    }
}

/// Whom a budget belongs to: an IPv4 address, an IPv6 /64 (one host holds a whole /64), or,
/// while the limiter remembers as many clients as it may, everyone together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum ClientKey {
    V4(u32),
    V6(u64),
    Everyone,
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(u32::from(v4)),
                None => Self::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// The client of a request from `peer` with `headers`.
pub(super) fn client(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    header: ClientIpHeader,
) -> IpAddr {
    if !trusted.trusts(peer) {
        return peer;
    }
    forwarded(headers, trusted, header).unwrap_or(peer)
}

/// The nearest hop before the trusted proxies in `header`: walking from the last hop back, the
/// first that is not a trusted proxy. A hop that cannot be read ends the walk (what stands
/// before it may be the client's own writing): the proxy's budget is used then.
fn forwarded(
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    header: ClientIpHeader,
) -> Option<IpAddr> {
    let name = match header {
        ClientIpHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
        ClientIpHeader::Forwarded => header::FORWARDED,
    };
    let values = headers
        .get_all(name)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    let hops: Vec<String> = match header {
        ClientIpHeader::XForwardedFor => values.map(|hop| hop.trim().to_owned()).collect(),
        ClientIpHeader::Forwarded => values
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (name, value) = pair.trim().split_once('=')?;
                        name.eq_ignore_ascii_case("for")
                            .then(|| value.trim().trim_matches('"').to_owned())
                    })
                    .unwrap_or_default()
            })
            .collect(),
    };
    for hop in hops.iter().rev() {
        let ip = parse_hop(hop)?;
        if !trusted.trusts(ip) {
            return Some(ip);
        }
    }
    None
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(ip, _)| ip.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("a header"),
        );
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP")
    }

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ones_are_ipv4() {
        let key = |text: &str| ClientKey::from(ip(text));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }

    #[test]
    fn the_forwarded_client_is_believed_from_trusted_proxies_and_in_one_header_only() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().expect("valid");
        let proxy = ip("10.1.1.1");
        let xff = headers("x-forwarded-for", "198.51.100.7, 203.0.113.9, 10.0.0.2");
        assert_eq!(
            client(proxy, &xff, &trusted, ClientIpHeader::XForwardedFor),
            ip("203.0.113.9")
        );
        assert_eq!(
            client(
                ip("192.0.2.1"),
                &xff,
                &trusted,
                ClientIpHeader::XForwardedFor
            ),
            ip("192.0.2.1"),
            "an untrusted peer's header is ignored"
        );
        let forwarded = headers(
            "forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.3",
        );
        assert_eq!(
            client(proxy, &forwarded, &trusted, ClientIpHeader::Forwarded),
            ip("2001:db8::7")
        );
        // The proxies set `Forwarded`: an `X-Forwarded-For` the client wrote is not read.
        assert_eq!(
            client(proxy, &xff, &trusted, ClientIpHeader::Forwarded),
            proxy
        );
        // A hop that cannot be read ends the walk: the client's own writing before it is not read.
        let hidden = headers("forwarded", "for=198.51.100.1, for=_hidden, for=10.0.0.3");
        assert_eq!(
            client(proxy, &hidden, &trusted, ClientIpHeader::Forwarded),
            proxy
        );
        assert_eq!(
            client(
                proxy,
                &headers("x-forwarded-for", "garbage"),
                &trusted,
                ClientIpHeader::XForwardedFor
            ),
            proxy
        );
    }
}
