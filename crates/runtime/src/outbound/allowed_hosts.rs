//! `allowed_outbound_hosts`: which origins a plugin may send HTTP requests to, in Spin's
//! syntax.
//!
//! Each entry is `scheme://host[:port]`:
//! - the scheme is `http`, `https` or `*`, and is required;
//! - the host is a name (`crm.example.com`), `*.domain` (any name under it, not the domain
//!   itself), `*` (any name or address), an IP address (`10.1.2.3`, `[::1]`) or a CIDR
//!   range (`10.0.0.0/8`);
//! - the port is a number, `a..b` (b excluded), or `*`; when omitted it is the scheme's
//!   (80 for `http`, 443 for `https`; `*` needs one);
//! - there is no path.
//!
//! An absent or empty list allows nothing. Only entries whose host is an address or a range
//! name addresses: they are what lets a plugin reach loopback, private or link-local
//! addresses, which any other entry refuses after resolving the name (see `addresses`).

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::addresses::Cidr;

/// A validated `allowed_outbound_hosts` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    /// `None`: any scheme.
    scheme: Option<Scheme>,
    host: HostRule,
    ports: PortRule,
    /// As written, for messages.
    text: String,
}

/// The schemes a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Any,
    /// `*.domain`: names ending in `.domain`, lowercase.
    Under(String),
    /// A name, lowercase.
    Name(String),
    /// An address or a range of them.
    Addresses(Cidr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRule {
    Any,
    Range(RangeInclusive<u16>),
}

/// Where a request goes, as the allow-list sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub scheme: Scheme,
    /// A name (lowercase, without a trailing dot) or an address.
    pub host: Host,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    Name(String),
    Address(IpAddr),
}

impl Origin {
    /// The `allowed_outbound_hosts` entry that allows exactly this origin: without the port
    /// when it is the scheme's.
    pub fn as_entry(&self) -> String {
        let full = self.to_string();
        match self.port == self.scheme.default_port() {
            true => full
                .strip_suffix(&format!(":{}", self.port))
                .unwrap_or(&full)
                .to_owned(),
            false => full,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.scheme.as_str();
        match &self.host {
            Host::Name(name) => write!(f, "{scheme}://{name}:{}", self.port),
            Host::Address(IpAddr::V6(ip)) => write!(f, "{scheme}://[{ip}]:{}", self.port),
            Host::Address(ip) => write!(f, "{scheme}://{ip}:{}", self.port),
        }
    }
}

impl AllowedHosts {
    /// Parses the list; the error names the entry and what is wrong with it.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let entries = entries
            .iter()
            .map(|e| AllowedHost::parse(e.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries as written.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.text.as_str())
    }

    /// Whether a request to `origin` is allowed by some entry.
    pub fn allows(&self, origin: &Origin) -> bool {
        self.entries.iter().any(|e| e.matches(origin))
    }

    /// Whether an entry that allows `origin` names `address` itself (an address or a range
    /// holding it): what lets a request reach an address that is not public.
    pub fn names_address(&self, origin: &Origin, address: IpAddr) -> bool {
        self.entries.iter().any(|e| {
            e.scheme_and_port_match(origin)
                && matches!(&e.host, HostRule::Addresses(cidr) if cidr.contains(address))
        })
    }
}

impl AllowedHost {
    fn parse(text: &str) -> Result<Self, String> {
        let problem = |why: &str| format!("allowed_outbound_hosts entry `{text}`: {why}");
        if text == "*" {
            return Err(problem(
                "give a scheme, host and port; `*://*:*` allows every host (no sandboxing of the network at all)",
            ));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(problem(
                "the scheme is required, as in `https://crm.example.com`",
            ));
        };
        let scheme = match scheme {
            "*" => None,
            s => Some(Scheme::parse(s).ok_or_else(|| {
                problem(&format!(
                    "unknown scheme `{s}`; expected `http`, `https` or `*`"
                ))
            })?),
        };
        if rest.contains('/') && !is_cidr(rest) {
            return Err(problem(
                "paths are not allowed: name the origin only (`scheme://host[:port]`)",
            ));
        }
        if rest.contains(['?', '#', '@']) {
            return Err(problem(
                "name the origin only (`scheme://host[:port]`), without user, query or fragment",
            ));
        }
        let (host, port) = split_port(rest).map_err(|why| problem(&why))?;
        let host = parse_host_rule(host).map_err(|why| problem(&why))?;
        let ports = match (port, scheme) {
            (Some("*"), _) => PortRule::Any,
            (Some(port), _) => parse_ports(port).map_err(|why| problem(&why))?,
            (None, Some(scheme)) => {
                let p = scheme.default_port();
                PortRule::Range(p..=p)
            }
            (None, None) => {
                return Err(problem(
                    "with any scheme (`*`) the port is required: a number, `a..b` or `*`",
                ));
            }
        };
        Ok(Self {
            scheme,
            host,
            ports,
            text: text.to_owned(),
        })
    }

    fn scheme_and_port_match(&self, origin: &Origin) -> bool {
        self.scheme.is_none_or(|s| s == origin.scheme)
            && match &self.ports {
                PortRule::Any => true,
                PortRule::Range(range) => range.contains(&origin.port),
            }
    }

    fn matches(&self, origin: &Origin) -> bool {
        self.scheme_and_port_match(origin)
            && match (&self.host, &origin.host) {
                (HostRule::Any, _) => true,
                (HostRule::Name(rule), Host::Name(name)) => rule == name,
                (HostRule::Under(domain), Host::Name(name)) => name
                    .strip_suffix(domain.as_str())
                    .is_some_and(|sub| !sub.is_empty()),
                (HostRule::Addresses(cidr), Host::Address(ip)) => cidr.contains(*ip),
                _ => false,
            }
    }
}

fn is_cidr(rest: &str) -> bool {
    split_port(rest)
        .ok()
        .is_some_and(|(host, _)| host.parse::<Cidr>().is_ok())
}

/// `host[:port]`, with a bracketed IPv6 address or range as the host.
fn split_port(rest: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(after) = rest.strip_prefix('[') {
        let (host, tail) = after
            .split_once(']')
            .ok_or("an IPv6 address opened with `[` is not closed with `]`")?;
        return match tail {
            "" => Ok((host, None)),
            tail => match tail.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected `{tail}` after the address")),
            },
        };
    }
    match rest.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => {
            Err("write an IPv6 address in brackets, as in `http://[::1]:8080`".into())
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((rest, None)),
    }
}

fn parse_host_rule(host: &str) -> Result<HostRule, String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host == "*" {
        return Ok(HostRule::Any);
    }
    if let Ok(cidr) = host.parse::<Cidr>() {
        return Ok(HostRule::Addresses(cidr));
    }
    let host = host.to_ascii_lowercase();
    if let Some(domain) = host.strip_prefix("*.") {
        check_name(domain)?;
        return Ok(HostRule::Under(format!(".{domain}")));
    }
    if host.contains('*') {
        return Err("`*` may only be the whole host or its first label (`*.example.com`)".into());
    }
    check_name(&host)?;
    Ok(HostRule::Name(host))
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if valid {
        Ok(())
    } else {
        Err(format!("`{name}` is not a host name"))
    }
}

fn parse_ports(port: &str) -> Result<PortRule, String> {
    let number = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port (0–65535)"))
    };
    match port.split_once("..") {
        Some((from, to)) => {
            let (from, to) = (number(from)?, number(to)?);
            if from >= to {
                return Err(format!(
                    "the port range `{port}` is empty (`a..b` includes a, excludes b)"
                ));
            }
            Ok(PortRule::Range(from..=to - 1))
        }
        None => {
            let p = number(port)?;
            Ok(PortRule::Range(p..=p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(scheme: Scheme, host: &str, port: u16) -> Origin {
        let host = match host.parse() {
            Ok(ip) => Host::Address(ip),
            Err(_) => Host::Name(host.into()),
        };
        Origin { scheme, host, port }
    }

    fn allows(list: &[&str], scheme: Scheme, host: &str, port: u16) -> bool {
        AllowedHosts::parse(list)
            .unwrap()
            .allows(&origin(scheme, host, port))
    }

    #[test]
    fn the_scheme_is_required_and_the_port_defaults_to_the_schemes() {
        use Scheme::*;
        let list = ["https://crm.example.com"];
        assert!(allows(&list, Https, "crm.example.com", 443));
        assert!(!allows(&list, Https, "crm.example.com", 8443));
        assert!(!allows(&list, Http, "crm.example.com", 443));
        assert!(!allows(&list, Https, "other.example.com", 443));
        assert!(allows(
            &["http://crm.example.com"],
            Http,
            "crm.example.com",
            80
        ));
        assert!(allows(
            &["*://crm.example.com:8080"],
            Http,
            "crm.example.com",
            8080
        ));
        assert!(allows(
            &["*://crm.example.com:8080"],
            Https,
            "crm.example.com",
            8080
        ));
    }

    #[test]
    fn wildcards_ranges_and_addresses() {
        use Scheme::*;
        let under = ["https://*.example.com"];
        assert!(allows(&under, Https, "crm.example.com", 443));
        assert!(allows(&under, Https, "a.b.example.com", 443));
        assert!(!allows(&under, Https, "example.com", 443), "not the domain");
        assert!(!allows(&under, Https, "badexample.com", 443));
        assert!(allows(&["http://crm:8000..8010"], Http, "crm", 8009));
        assert!(!allows(&["http://crm:8000..8010"], Http, "crm", 8010));
        assert!(allows(&["http://crm:*"], Http, "crm", 1));
        assert!(allows(&["http://10.0.0.0/8:80"], Http, "10.2.3.4", 80));
        assert!(!allows(&["http://10.0.0.0/8"], Http, "11.2.3.4", 80));
        assert!(allows(&["http://[::1]:8080"], Http, "::1", 8080));
        assert!(allows(&["http://127.0.0.1:8080"], Http, "127.0.0.1", 8080));
        assert!(!allows(&["http://127.0.0.1:8080"], Http, "localhost", 8080));
        assert!(allows(&["*://*:*"], Https, "anything.example", 1));
        assert!(
            !allows(&[], Https, "crm.example.com", 443),
            "empty allows nothing"
        );
    }

    #[test]
    fn only_address_entries_name_addresses() {
        let list = AllowedHosts::parse(&["http://*:*", "http://127.0.0.1:8080"]).unwrap();
        let to = origin(Scheme::Http, "127.0.0.1", 8080);
        assert!(list.names_address(&to, "127.0.0.1".parse().unwrap()));
        let elsewhere = origin(Scheme::Http, "127.0.0.1", 9090);
        assert!(!list.names_address(&elsewhere, "127.0.0.1".parse().unwrap()));
        let named = origin(Scheme::Http, "localhost", 9090);
        assert!(list.allows(&named));
        assert!(!list.names_address(&named, "127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn an_origin_reads_as_the_entry_that_allows_it() {
        for (scheme, host, port, entry) in [
            (
                Scheme::Https,
                "crm.example.com",
                443,
                "https://crm.example.com",
            ),
            (Scheme::Http, "crm", 8080, "http://crm:8080"),
            (Scheme::Http, "::1", 80, "http://[::1]"),
        ] {
            let origin = origin(scheme, host, port);
            assert_eq!(origin.as_entry(), entry);
            assert!(AllowedHosts::parse(&[entry]).unwrap().allows(&origin));
        }
    }

    #[test]
    fn bad_entries_are_named_with_the_fix() {
        for (entry, says) in [
            ("*", "*://*:*"),
            ("crm.example.com", "scheme is required"),
            ("ftp://crm.example.com", "unknown scheme `ftp`"),
            ("https://crm.example.com/api", "paths are not allowed"),
            ("https://crm.example.com?x=1", "origin only"),
            ("*://crm.example.com", "port is required"),
            ("https://crm.example.com:99999", "not a port"),
            ("https://crm.example.com:10..5", "empty"),
            ("https://cr*m.example.com", "first label"),
            ("https://::1", "brackets"),
            ("https://[::1", "not closed"),
            ("https://", "empty"),
            ("https://bad name", "not a host name"),
        ] {
            let error = AllowedHosts::parse(&[entry]).unwrap_err();
            assert!(error.contains(entry), "{error}");
            assert!(error.contains(says), "{entry}: {error}");
        }
    }
}
