//! Which addresses the collector may call for a node's stats. A gossiped address is whatever a
//! node chose to send: data to show, never a place to go on its word. It is called only when it
//! is an IP literal with a port (`a.b.c.d:port`, `[v6]:port`: no user info, path, query or host
//! name, so never a DNS lookup) and its IP lies inside `PNODE_STATS_TARGETS`, a comma list of
//! CIDRs and the word `public` (every global unicast address: no loopback, private, shared,
//! link-local, multicast, documentation, benchmarking, reserved or unspecified range, and no
//! IPv6 form that embeds an IPv4 address or is unique-local). A [`StatsTarget`] can only be had
//! from [`AllowedTargets::check`].

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    str::FromStr,
};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::domain::cidr;

/// Without a reported `rpc_port`, a node answers pRPC on the default port.
pub(crate) const DEFAULT_RPC_PORT: u16 = 6000;

/// Where a node's stats may be asked for: the only way to a get-stats URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatsTarget(SocketAddr);

impl StatsTarget {
    /// `http://ip:port` (IPv6 in brackets).
    pub fn url(&self) -> String {
        format!("http://{}", self.0)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0
    }
}

/// Why a gossiped address is not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Not `ip:port` with a port from 1 (a host name, user info, a path, a query, garbage).
    NotIpLiteral,
    /// The advertised `rpc_port` is 0.
    BadPort,
    /// An IP outside `PNODE_STATS_TARGETS`.
    NotAllowed,
}

impl Refusal {
    /// Every refusal, for metrics: a closed set.
    pub const ALL: [Self; 3] = [Self::NotIpLiteral, Self::BadPort, Self::NotAllowed];

    /// A stable snake_case name, for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotIpLiteral => "not_ip_literal",
            Self::BadPort => "bad_port",
            Self::NotAllowed => "not_allowed",
        }
    }
}

/// `PNODE_STATS_TARGETS`: see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTargets {
    public: bool,
    networks: Vec<IpNet>,
}

impl AllowedTargets {
    /// Global unicast addresses only: the default.
    pub fn public() -> Self {
        Self {
            public: true,
            networks: Vec::new(),
        }
    }

    /// Whether the node gossiping `address` (its `rpc_port` advertised or not) may be asked for
    /// its stats, and where.
    pub fn check(&self, address: &str, rpc_port: Option<u16>) -> Result<StatsTarget, Refusal> {
        let gossip: SocketAddr = address.parse().map_err(|_| Refusal::NotIpLiteral)?;
        if gossip.port() == 0 {
            return Err(Refusal::NotIpLiteral);
        }
        let port = rpc_port.unwrap_or(DEFAULT_RPC_PORT);
        if port == 0 {
            return Err(Refusal::BadPort);
        }
        let ip = gossip.ip();
        if !self.allows(ip) {
            return Err(Refusal::NotAllowed);
        }
        Ok(StatsTarget(SocketAddr::new(ip, port)))
    }

    fn allows(&self, ip: IpAddr) -> bool {
        (self.public && is_public(ip)) || self.networks.iter().any(|net| net.contains(&ip))
    }
}

impl Default for AllowedTargets {
    fn default() -> Self {
        Self::public()
    }
}

impl FromStr for AllowedTargets {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, String> {
        let mut allowed = Self {
            public: false,
            networks: Vec::new(),
        };
        for item in list
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            if item == "public" {
                allowed.public = true;
                continue;
            }
            let net = cidr::parse(item).map_err(|err| format!("{err}, nor `public`"))?;
            allowed.networks.push(net);
        }
        if !allowed.public && allowed.networks.is_empty() {
            return Err("name at least one CIDR, or `public`".to_owned());
        }
        Ok(allowed)
    }
}

impl fmt::Display for AllowedTargets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = self.networks.iter().map(ToString::to_string).collect();
        if self.public {
            items.insert(0, "public".to_owned());
        }
        f.write_str(&items.join(","))
    }
}

/// Whether `ip` is a global unicast address (RFC 6890's special-purpose registries left out).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 ranges that are not the public internet's.
const NOT_PUBLIC_V4: [(Ipv4Addr, u8); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared (carrier-grade NAT)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local (cloud metadata lives here)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and the broadcast address
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !NOT_PUBLIC_V4
        .iter()
        .any(|&(net, len)| Ipv4Net::new(net, len).is_ok_and(|net| net.contains(&ip)))
}

/// IPv6 ranges inside global unicast (2000::/3) that are not plain public hosts, or that embed
/// an IPv4 address (which could be a private one).
const NOT_PUBLIC_V6: [(Ipv6Addr, u8); 7] = [
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32), // Teredo (embeds IPv4)
    (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48), // benchmarking
    (Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28), // ORCHID
    (Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28), // ORCHIDv2
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4 (embeds IPv4)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation (RFC 9637)
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // Only global unicast: this leaves out loopback, unspecified, IPv4-mapped and -compatible,
    // NAT64 (64:ff9b::/96), discard, unique-local (fc00::/7), link-local and multicast.
    let global_unicast = Ipv6Net::new(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
        .is_ok_and(|net| net.contains(&ip));
    global_unicast
        && !NOT_PUBLIC_V6
            .iter()
            .any(|&(net, len)| Ipv6Net::new(net, len).is_ok_and(|net| net.contains(&ip)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn loopback() -> AllowedTargets {
        "127.0.0.0/8".parse().expect("a CIDR")
    }

    #[test]
    fn only_ip_literals_with_a_port_are_called() {
        let allowed = loopback();
        for (address, expected) in [
            ("127.0.0.1:9001", Ok("http://127.0.0.1:6001")),
            ("u:p@127.0.0.1:9001", Err(Refusal::NotIpLiteral)),
            ("127.0.0.1:9001/admin?x=", Err(Refusal::NotIpLiteral)),
            ("localhost:9001", Err(Refusal::NotIpLiteral)),
            ("127.0.0.1", Err(Refusal::NotIpLiteral)),
            ("127.0.0.1:0", Err(Refusal::NotIpLiteral)),
            ("127.0.0.1:70000", Err(Refusal::NotIpLiteral)),
            ("0127.0.0.1:9001", Err(Refusal::NotIpLiteral)),
            ("2130706433:9001", Err(Refusal::NotIpLiteral)),
            (" 127.0.0.1:9001", Err(Refusal::NotIpLiteral)),
            ("http://127.0.0.1:9001", Err(Refusal::NotIpLiteral)),
            ("127.0.0.2:9001", Ok("http://127.0.0.2:6001")),
            ("10.0.0.1:9001", Err(Refusal::NotAllowed)),
            ("[::1]:9001", Err(Refusal::NotAllowed)),
            ("[::ffff:127.0.0.1]:9001", Err(Refusal::NotAllowed)),
        ] {
            let got = allowed
                .check(address, Some(6001))
                .map(|target| target.url());
            assert_eq!(got.as_deref().map_err(|r| *r), expected, "{address}");
        }
        assert_eq!(
            allowed.check("127.0.0.1:9001", Some(0)),
            Err(Refusal::BadPort)
        );
        assert_eq!(
            allowed.check("127.0.0.1:9001", None).map(|t| t.url()),
            Ok("http://127.0.0.1:6000".to_owned())
        );
    }

    #[test]
    fn public_means_global_unicast_only() {
        let public = AllowedTargets::public();
        for address in [
            "62.84.180.240:9001",
            "192.190.136.36:9001",
            "[2a01:4f8:1c17:4b6d::1]:9001",
        ] {
            assert!(public.check(address, None).is_ok(), "{address}");
        }
        for address in [
            "127.0.0.1:9001",
            "10.1.2.3:9001",
            "172.16.0.1:9001",
            "172.31.255.255:9001",
            "192.168.1.1:9001",
            "100.64.0.1:9001",
            "169.254.169.254:9001",
            "0.0.0.0:9001",
            "224.0.0.1:9001",
            "255.255.255.255:9001",
            "240.0.0.1:9001",
            "192.0.2.1:9001",
            "198.51.100.1:9001",
            "203.0.113.1:9001",
            "198.18.0.1:9001",
            "192.0.0.1:9001",
            "[::1]:9001",
            "[::]:9001",
            "[::ffff:10.0.0.1]:9001",
            "[::ffff:62.84.180.240]:9001",
            "[::10.0.0.1]:9001",
            "[64:ff9b::a00:1]:9001",
            "[fc00::1]:9001",
            "[fd12:3456::1]:9001",
            "[fe80::1]:9001",
            "[ff02::1]:9001",
            "[2001:db8::1]:9001",
            "[2002:a00:1::1]:9001",
            "[2001::1]:9001",
            "[2001:2::1]:9001",
        ] {
            assert_eq!(
                public.check(address, None),
                Err(Refusal::NotAllowed),
                "{address}"
            );
        }
    }

    #[test]
    fn the_setting_combines_cidrs_and_public() {
        let both: AllowedTargets = "public, 10.0.0.0/8, 127.0.0.1".parse().expect("valid");
        assert!(both.check("10.9.9.9:1", None).is_ok());
        assert!(both.check("127.0.0.1:1", None).is_ok());
        assert!(both.check("127.0.0.2:1", None).is_err());
        assert!(both.check("62.84.180.240:1", None).is_ok());
        assert_eq!(both.to_string(), "public,10.0.0.0/8,127.0.0.1/32");
        for bad in ["", "everything", "10.0.0.0/33", "localhost"] {
            assert!(bad.parse::<AllowedTargets>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        /// Whatever a node gossips, checking it never panics, and whatever it lets through is
        /// an IP literal inside the allowed set, at the advertised port.
        #[test]
        fn any_gossiped_text_is_either_refused_or_an_allowed_ip(
            address in ".{0,64}",
            port in proptest::option::of(any::<u16>()),
        ) {
            let allowed = loopback();
            if let Ok(target) = allowed.check(&address, port) {
                prop_assert!(target.addr().ip().is_loopback());
                prop_assert_eq!(target.addr().port(), port.unwrap_or(DEFAULT_RPC_PORT));
                prop_assert!(address.parse::<SocketAddr>().is_ok());
            }
            prop_assert!(AllowedTargets::public().check(&address, port).is_err()
                || address.parse::<SocketAddr>().is_ok_and(|a| is_public(a.ip())));
        }

        #[test]
        fn no_address_of_a_refused_range_is_public(
            a in any::<u8>(), b in any::<u8>(), c in any::<u8>(), d in any::<u8>(),
        ) {
            let ip = Ipv4Addr::new(a, b, c, d);
            if ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_multicast()
                || ip.is_broadcast() || ip.is_documentation() || ip.is_unspecified()
                || a == 0 || a >= 240 || (a == 100 && (64..128).contains(&b))
            {
                prop_assert!(!is_public(IpAddr::V4(ip)));
                let mapped = format!("[{}]:9001", ip.to_ipv6_mapped());
                prop_assert!(AllowedTargets::public().check(&mapped, None).is_err());
            }
        }
    }
}
