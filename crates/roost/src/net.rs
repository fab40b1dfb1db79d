//! Who is on the other end of a connection: the client address behind trusted proxies
//! (checklist I7), and the browser origins CORS may name (I4).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;

/// One entry of `server.trusted_proxies`: a CIDR block, or a single address (a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyNet(IpNet);

impl TryFrom<String> for ProxyNet {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(net) = t.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        t.parse::<IpAddr>()
            .map(|a| Self(IpNet::from(a)))
            .map_err(|_| {
                format!("`{s}` is neither an IP address nor a CIDR block such as 10.0.0.0/8")
            })
    }
}

impl ProxyNet {
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&canonical(addr))
    }
}

/// Which header the trusted proxies write. Only that one is read: a proxy passes the other
/// through untouched, so a client could put any address in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// The address a request is attributed to (login throttling, OAuth rate limits, logs).
///
/// The TCP peer, unless it is a trusted proxy: then the forwarded chain is walked from the
/// right (the hop the nearest proxy saw) past every trusted hop, and the first untrusted
/// address is the client. Entries left of it were written by the client and are never used. A
/// chain that ends in something unreadable (`unknown`, an obfuscated name) falls back to the
/// TCP peer, so a forged or broken header can never pick an address.
pub fn client_addr(
    trusted: &[ProxyNet],
    header: ForwardedHeader,
    peer: IpAddr,
    headers: &HeaderMap,
) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |a: IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match header {
        ForwardedHeader::XForwardedFor => headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("").split(','))
            .map(|h| parse_node(h.trim()))
            .collect(),
        ForwardedHeader::Forwarded => headers
            .get_all("forwarded")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("").split(','))
            .filter_map(forwarded_for)
            .collect(),
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(a) if is_trusted(a) => client = a,
            Some(a) => return a,
            None => return peer,
        }
    }
    // Every hop is a trusted proxy: the left-most one is where the request entered.
    client
}

/// The `for=` value of one RFC 7239 element, `None` inside when it is not an address.
fn forwarded_for(element: &str) -> Option<Option<IpAddr>> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(v.trim().trim_matches('"')))
    })
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some(canonical(a));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, _) = rest.split_once(']')?;
        return addr.parse::<IpAddr>().ok().map(canonical);
    }
    let (addr, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// IPv4 peers of a dual-stack socket arrive as `::ffff:a.b.c.d`; they are the same client.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

/// A browser origin (`https://app.example`, `http://127.0.0.1:3000`) as the `Origin` header
/// carries it: scheme, host and a non-default port, nothing else. `null` is not an origin here:
/// sandboxed frames, `file:` pages and redirects all send it, so it identifies nobody.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Origin(String);

impl TryFrom<String> for Origin {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s == "null" || s == "*" {
            return Err(format!(
                "`{s}` cannot be allowed; list each origin, e.g. https://app.example"
            ));
        }
        let url = url::Url::parse(&s).map_err(|_| {
            format!("`{s}` is not an origin; write scheme://host[:port], e.g. https://app.example")
        })?;
        let origin = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https") || origin != s.trim_end_matches('/') {
            return Err(format!(
                "`{s}` is not an origin; write scheme://host[:port] with no path, e.g. https://app.example"
            ));
        }
        Ok(Self(origin))
    }
}

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One entry of `cors.api_origins`: an origin, or `*` for any.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ApiOrigin {
    Any,
    Exact(Origin),
}

impl TryFrom<String> for ApiOrigin {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s == "*" {
            Ok(Self::Any)
        } else {
            Origin::try_from(s).map(Self::Exact)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter()
            .map(|s| ProxyNet::try_from((*s).to_owned()).unwrap())
            .collect()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_send() {
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(client_addr(&[], XFF, ip("192.0.2.1"), &h), ip("192.0.2.1"));
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(client_addr(&t, XFF, ip("192.0.2.1"), &h), ip("192.0.2.1"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = nets(&["10.0.0.0/8", "127.0.0.1"]);
        let peer = ip("127.0.0.1");
        for (values, want) in [
            (vec!["203.0.113.9"], "203.0.113.9"),
            // The client forged the left part; the proxy appended what it saw.
            (vec!["198.51.100.7, 203.0.113.9"], "203.0.113.9"),
            (vec!["198.51.100.7, 203.0.113.9, 10.1.2.3"], "203.0.113.9"),
            // Repeated header lines are one list, in order.
            (vec!["198.51.100.7", "203.0.113.9, 10.1.2.3"], "203.0.113.9"),
            (vec!["203.0.113.9:4711"], "203.0.113.9"),
            (vec!["[2001:db8::1]:4711"], "2001:db8::1"),
            (vec!["2001:db8::1"], "2001:db8::1"),
            // Only proxies: the request entered at the left-most.
            (vec!["10.0.0.1, 10.0.0.2"], "10.0.0.1"),
            // Unreadable where the client should be: the peer.
            (vec!["198.51.100.7, unknown"], "127.0.0.1"),
            (vec![""], "127.0.0.1"),
        ] {
            let h = headers("x-forwarded-for", &values);
            assert_eq!(client_addr(&t, XFF, peer, &h), ip(want), "{values:?}");
        }
        assert_eq!(client_addr(&t, XFF, peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let t = nets(&["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        let mut h = headers(
            "forwarded",
            &["for=\"[2001:db8::7]:80\";proto=https, for=203.0.113.9"],
        );
        h.append("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
        assert_eq!(
            client_addr(&t, ForwardedHeader::Forwarded, peer, &h),
            ip("203.0.113.9")
        );
        assert_eq!(client_addr(&t, XFF, peer, &h), ip("198.51.100.1"));
        let h = headers("forwarded", &["for=_hidden"]);
        assert_eq!(client_addr(&t, ForwardedHeader::Forwarded, peer, &h), peer);
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let t = nets(&["127.0.0.1"]);
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(
            client_addr(&t, XFF, ip("::ffff:127.0.0.1"), &h),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(&[], XFF, ip("::ffff:192.0.2.1"), &h),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn proxy_entries_parse_or_say_why() {
        assert!(ProxyNet::try_from("10.0.0.0/8".to_owned()).is_ok());
        assert!(ProxyNet::try_from("::1".to_owned()).is_ok());
        assert!(
            ProxyNet::try_from("10.1.2.3/8".to_owned())
                .unwrap()
                .contains(ip("10.9.9.9"))
        );
        assert!(ProxyNet::try_from("proxy.internal".to_owned()).is_err());
        assert!(ProxyNet::try_from("10.0.0.0/33".to_owned()).is_err());
    }

    #[test]
    fn origins_are_exact_and_never_null_or_wildcard() {
        for ok in [
            "https://app.example",
            "http://127.0.0.1:3000",
            "https://app.example/",
        ] {
            assert!(Origin::try_from(ok.to_owned()).is_ok(), "{ok}");
        }
        assert_eq!(
            Origin::try_from("https://app.example/".to_owned())
                .unwrap()
                .as_str(),
            "https://app.example"
        );
        for bad in [
            "null",
            "*",
            "app.example",
            "https://app.example/cb",
            "https://app.example?x",
            "https://APP.example",
            "https://app.example:443",
            "ftp://app.example",
            "https://u@app.example",
        ] {
            assert!(Origin::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        assert_eq!(ApiOrigin::try_from("*".to_owned()), Ok(ApiOrigin::Any));
        assert!(ApiOrigin::try_from("null".to_owned()).is_err());
    }
}
