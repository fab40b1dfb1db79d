//! OAuth clients: ids, types and the credentials they present.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The longest client id roost accepts (checklist H3).
pub const MAX_CLIENT_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client_id must be 1 to 128 characters of A-Z a-z 0-9 - . _ ~")]
pub struct InvalidClientId;

/// An OAuth 2.0 Client ID. X's look like `M1M5R3BMVy13QmpScXkzTUt5OE46MTpjaQ`: base64url of
/// `<random>:1:ci`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, InvalidClientId> {
        let ok = (1..=MAX_CLIENT_ID_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidClientId)
        }
    }

    /// A new Client ID in X's shape.
    pub fn generate() -> Self {
        let raw = format!("{}:1:ci", crate::secret::random_alphanumeric(22));
        Self(URL_SAFE_NO_PAD.encode(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

/// X's App types: "Native App" and "Single page App" are public clients; "Web App" and
/// "Automated App or bot" are confidential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Confidential,
    Public,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Confidential => "confidential",
            ClientType::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confidential" => Some(ClientType::Confidential),
            "public" => Some(ClientType::Public),
            _ => None,
        }
    }
}

impl fmt::Display for ClientType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    #[error("the Authorization header does not use the Basic scheme")]
    NotBasic,
    #[error("the Basic credentials are not valid base64")]
    Base64,
    #[error("the Basic credentials have no `:` between id and secret")]
    NoColon,
    #[error("the Basic credentials have a broken percent-escape")]
    BadEscape,
    #[error("the Basic credentials are not UTF-8")]
    NotUtf8,
}

/// The two halves of an HTTP Basic `Authorization` header, each percent-decoded as RFC 6749
/// §2.3.1 asks (clients that form-encode `my-client` as `my%2Dclient` and clients that send it
/// raw both work). `Debug` hides the secret; `==` compares it in constant time.
#[derive(Clone, Eq)]
pub struct BasicCredentials {
    pub id: String,
    pub secret: String,
}

impl PartialEq for BasicCredentials {
    fn eq(&self, other: &Self) -> bool {
        // Both halves are always compared, so the time says nothing about which one differs.
        let secret =
            crate::secret::constant_time_eq(self.secret.as_bytes(), other.secret.as_bytes());
        (self.id == other.id) & secret
    }
}

impl BasicCredentials {
    /// Parses a whole header value, e.g. `Basic bXktY2xpZW50OnNlY3JldA==`.
    pub fn parse(header: &str) -> Result<Self, BasicError> {
        let (scheme, rest) = header.trim().split_once(' ').ok_or(BasicError::NotBasic)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(BasicError::NotBasic);
        }
        let decoded = STANDARD
            .decode(rest.trim())
            .map_err(|_| BasicError::Base64)?;
        let text = String::from_utf8(decoded).map_err(|_| BasicError::NotUtf8)?;
        let (id, secret) = text.split_once(':').ok_or(BasicError::NoColon)?;
        Ok(Self {
            id: form_decode(id)?,
            secret: form_decode(secret)?,
        })
    }

    /// The header value a client would send for these credentials (tests, demo output).
    pub fn header_value(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BasicCredentials({}, [redacted])", self.id)
    }
}

/// Strict `application/x-www-form-urlencoded` decoding of one value: `+` is a space and every
/// `%` must start a two-digit hex escape.
pub fn form_decode(s: &str) -> Result<String, BasicError> {
    let needs_decoding = |b: &u8| *b == b'+' || *b == b'%';
    let mut rest = s.as_bytes();
    // Most values (ids, field names, tokens) have nothing to decode.
    if !rest.iter().any(needs_decoding) {
        return Ok(s.to_owned());
    }
    let mut out = Vec::with_capacity(rest.len());
    while let Some(at) = rest.iter().position(needs_decoding) {
        out.extend_from_slice(&rest[..at]);
        if rest[at] == b'+' {
            out.push(b' ');
            rest = &rest[at + 1..];
        } else {
            match rest.get(at + 1..at + 3) {
                Some(&[hi, lo]) => out.push(hex_digit(hi)? << 4 | hex_digit(lo)?),
                _ => return Err(BasicError::BadEscape),
            }
            rest = &rest[at + 3..];
        }
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).map_err(|_| BasicError::NotUtf8)
}

fn hex_digit(b: u8) -> Result<u8, BasicError> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(BasicError::BadEscape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        for (raw, decoded) in [
            ("", ""),
            ("plain-value_1.2~", "plain-value_1.2~"),
            ("a+b", "a b"),
            ("1%2C2%2c3", "1,2,3"),
            ("%E2%9C%93+ok", "\u{2713} ok"),
            ("%25%2B", "%+"),
        ] {
            assert_eq!(form_decode(raw).as_deref(), Ok(decoded), "{raw}");
        }
        // A sign is not a hex digit, and an escape needs two of them.
        for bad in ["%", "%2", "%+f", "%-1", "%zz", "a%2"] {
            assert_eq!(form_decode(bad), Err(BasicError::BadEscape), "{bad}");
        }
        assert_eq!(form_decode("%FF"), Err(BasicError::NotUtf8));
    }

    #[test]
    fn client_ids() {
        assert!(ClientId::parse("M1M5R3BMVy13QmpScXkzTUt5OE46MTpjaQ").is_ok());
        let g = ClientId::generate();
        assert!(ClientId::parse(g.as_str()).is_ok());
        for bad in ["", "a b", "a/b", "a:b", &"a".repeat(129)] {
            assert!(ClientId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn basic_plain() {
        let c = BasicCredentials::parse(&BasicCredentials::header_value("my-client", "s3cr3t"))
            .unwrap();
        assert_eq!((c.id.as_str(), c.secret.as_str()), ("my-client", "s3cr3t"));
        // Scheme is case-insensitive; the secret may contain colons.
        let c = BasicCredentials::parse(&format!("basic {}", STANDARD.encode("id:a:b"))).unwrap();
        assert_eq!(c.secret, "a:b");
    }

    #[test]
    fn basic_percent_encoded_halves() {
        let h = format!(
            "Basic {}",
            STANDARD.encode("my%2Dclient:s3cr3t%2D%5F%2E%7Ex")
        );
        let c = BasicCredentials::parse(&h).unwrap();
        assert_eq!(c.id, "my-client");
        assert_eq!(c.secret, "s3cr3t-_.~x");
        let c =
            BasicCredentials::parse(&format!("Basic {}", STANDARD.encode("a+b:c%20d"))).unwrap();
        assert_eq!((c.id.as_str(), c.secret.as_str()), ("a b", "c d"));
    }

    #[test]
    fn basic_malformed() {
        assert_eq!(
            BasicCredentials::parse("Bearer abc"),
            Err(BasicError::NotBasic)
        );
        assert_eq!(BasicCredentials::parse("Basic"), Err(BasicError::NotBasic));
        assert_eq!(
            BasicCredentials::parse("Basic !!!"),
            Err(BasicError::Base64)
        );
        assert_eq!(
            BasicCredentials::parse(&format!("Basic {}", STANDARD.encode("nocolon"))),
            Err(BasicError::NoColon)
        );
        assert_eq!(
            BasicCredentials::parse(&format!("Basic {}", STANDARD.encode("a%2:b"))),
            Err(BasicError::BadEscape)
        );
        assert_eq!(
            BasicCredentials::parse(&format!("Basic {}", STANDARD.encode("a%zz:b"))),
            Err(BasicError::BadEscape)
        );
        assert_eq!(
            BasicCredentials::parse(&format!("Basic {}", STANDARD.encode("a%ff:b"))),
            Err(BasicError::NotUtf8)
        );
        assert_eq!(
            BasicCredentials::parse(&format!("Basic {}", STANDARD.encode([0xff, b':', b'a']))),
            Err(BasicError::NotUtf8)
        );
    }

    #[test]
    fn debug_hides_secret() {
        let c = BasicCredentials {
            id: "id".into(),
            secret: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    proptest::proptest! {
        #[test]
        fn basic_never_panics(s in ".{0,100}") {
            let _ = BasicCredentials::parse(&s);
            let _ = BasicCredentials::parse(&format!("Basic {}", STANDARD.encode(&s)));
        }

        #[test]
        fn encoded_round_trip(id in "[A-Za-z0-9._~-]{1,40}", secret in ".{0,40}") {
            let enc = |s: &str| form_urlencode(s);
            let h = format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(&id), enc(&secret))));
            let c = BasicCredentials::parse(&h).unwrap();
            proptest::prop_assert_eq!(c.id, id);
            proptest::prop_assert_eq!(c.secret, secret);
        }
    }

    fn form_urlencode(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            out.push_str(&format!("%{b:02X}"));
        }
        out
    }
}
