//! Address ranges the operator names in settings (`PNODE_STATS_TARGETS`,
//! `PNODE_TRUSTED_PROXIES`): CIDRs, or single addresses.

use std::net::IpAddr;

pub(crate) use ipnet::IpNet;

/// `10.0.0.0/8`, `2001:db8::/32`, or one address (`127.0.0.1`: a /32), host bits cleared.
pub(crate) fn parse(item: &str) -> Result<IpNet, String> {
    item.parse::<IpNet>()
        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{item:?} is not a CIDR like 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_single_addresses_are_ranges() {
        assert_eq!(
            parse("10.1.2.3/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert_eq!(
            parse("127.0.0.1").map(|n| n.to_string()),
            Ok("127.0.0.1/32".into())
        );
        assert!(parse("localhost").is_err());
        assert!(parse("10.0.0.0/33").is_err());
    }
}
