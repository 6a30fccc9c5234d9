//! Which addresses a plugin's requests may reach after a name is resolved: public ones only,
//! unless an `allowed_outbound_hosts` entry names the address itself. Loopback, private,
//! shared (carrier-grade NAT), link-local (where cloud metadata services live: 169.254.169.254,
//! fd00:ec2::254), multicast, reserved, documentation and unspecified addresses are refused,
//! including IPv4 addresses written inside IPv6 ones (mapped, compatible, NAT64).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address or a range of them: `10.0.0.0/8`, `fd00::/8`, `192.0.2.7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Self {
            network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Self {
            network: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, bits: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = bits - prefix;
    (a >> shift) == (b >> shift)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (address, prefix) = match s.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IP address"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("`/{p}` is not a prefix length (0–{bits})"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Ranges that are not the public internet (IANA special-purpose registries), with why.
const NOT_PUBLIC: &[(Cidr, &str)] = &[
    (Cidr::v4(0, 0, 0, 0, 8), "an unspecified address"),
    (Cidr::v4(10, 0, 0, 0, 8), "a private address"),
    (
        Cidr::v4(100, 64, 0, 0, 10),
        "a shared (carrier-grade NAT) address",
    ),
    (Cidr::v4(127, 0, 0, 0, 8), "a loopback address"),
    (
        Cidr::v4(169, 254, 0, 0, 16),
        "a link-local address (where cloud metadata services answer)",
    ),
    (Cidr::v4(172, 16, 0, 0, 12), "a private address"),
    (Cidr::v4(192, 0, 0, 0, 24), "an IETF protocol address"),
    (Cidr::v4(192, 0, 2, 0, 24), "a documentation address"),
    (Cidr::v4(192, 168, 0, 0, 16), "a private address"),
    (Cidr::v4(198, 18, 0, 0, 15), "a benchmarking address"),
    (Cidr::v4(198, 51, 100, 0, 24), "a documentation address"),
    (Cidr::v4(203, 0, 113, 0, 24), "a documentation address"),
    (Cidr::v4(224, 0, 0, 0, 4), "a multicast address"),
    (Cidr::v4(240, 0, 0, 0, 4), "a reserved address"),
    (
        Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
        "an unspecified address",
    ),
    (
        Cidr::v6([0, 0, 0, 0, 0, 0, 0, 1], 128),
        "a loopback address",
    ),
    (
        Cidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "a discard-only address",
    ),
    (
        Cidr::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "a documentation address",
    ),
    (
        Cidr::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "a unique local (private) address",
    ),
    (
        Cidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "a link-local address",
    ),
    (
        Cidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "a site-local address",
    ),
    (
        Cidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        "a multicast address",
    ),
];

/// Why `address` is not a public address, if it is not: "a loopback address", …
pub fn not_public(address: IpAddr) -> Option<&'static str> {
    let address = match address {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(address, IpAddr::V4),
        v4 => v4,
    };
    if address == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return Some("the broadcast address");
    }
    NOT_PUBLIC
        .iter()
        .find(|(range, _)| range.contains(address))
        .map(|(_, why)| *why)
}

/// The IPv4 address written inside an IPv6 one: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // `::` and `::1` are IPv6's own.
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(address: &str) -> Option<&'static str> {
        not_public(address.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for address in ["8.8.8.8", "20.190.128.1", "2606:4700::1111", "52.114.0.1"] {
            assert_eq!(why(address), None, "{address}");
        }
    }

    #[test]
    fn loopback_private_link_local_and_metadata_are_refused() {
        for (address, says) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "carrier-grade"),
            ("169.254.169.254", "metadata"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "unique local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "metadata"),
            ("::10.0.0.1", "private"),
            ("64:ff9b::10.0.0.1", "private"),
        ] {
            let why = why(address).unwrap_or_else(|| panic!("{address} passed"));
            assert!(why.contains(says), "{address}: {why}");
        }
        assert_eq!(why("172.32.0.1"), None, "just outside 172.16.0.0/12");
        assert_eq!(why("::ffff:8.8.8.8"), None);
    }

    #[test]
    fn ranges_parse_and_contain() {
        let range: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(range.contains("10.255.0.1".parse().unwrap()));
        assert!(!range.contains("11.0.0.1".parse().unwrap()));
        assert!(!range.contains("::1".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("crm".parse::<Cidr>().is_err());
    }
}
