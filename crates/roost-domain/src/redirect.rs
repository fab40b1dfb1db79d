//! Redirect (callback) URIs.
//!
//! Registration validates a callback's shape; an authorization request's `redirect_uri` must then
//! equal a registered one byte for byte, with no normalisation of any kind (RFC 9700 §2.1,
//! security checklist A1).

use std::fmt;

/// The longest redirect URI roost accepts (checklist H3).
pub const MAX_REDIRECT_URI_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("callback URL `{0}` is not an absolute URL")]
    NotAbsolute(String),
    #[error("callback URL `{0}` has a fragment (#...), which OAuth forbids")]
    Fragment(String),
    #[error("callback URL `{0}` has a wildcard; register every callback exactly")]
    Wildcard(String),
    #[error(
        "callback URL `{0}` uses http on a host that is not loopback; use https (http is only for 127.0.0.1, [::1] and localhost)"
    )]
    InsecureHttp(String),
    #[error(
        "callback URL `{0}` uses an unsupported scheme; use https, http on loopback, or a reverse-domain app scheme such as com.example.app:/callback"
    )]
    Scheme(String),
    #[error("callback URL is longer than 2048 characters")]
    TooLong,
    #[error("callback URL `{0}` has credentials (user:password@) in it")]
    UserInfo(String),
    #[error(
        "callback URL `{0}` has characters outside ASCII; register it as the App will send it, percent-encoded (e.g. /caf%C3%A9) with an IDNA host (xn--...)"
    )]
    NotAscii(String),
}

/// A callback URL that is acceptable for registration. It keeps the exact string it was
/// registered with; comparisons use that string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Validates a callback for registration (checklist A3).
    pub fn parse(s: &str) -> Result<Self, RedirectUriError> {
        if s.len() > MAX_REDIRECT_URI_LEN {
            return Err(RedirectUriError::TooLong);
        }
        if s.contains('*') {
            return Err(RedirectUriError::Wildcard(s.to_owned()));
        }
        if s.contains('#') {
            return Err(RedirectUriError::Fragment(s.to_owned()));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RedirectUriError::NotAbsolute(s.to_owned()));
        }
        // A callback is sent back as a `Location` header, which holds only ASCII. Matching is
        // exact, so roost does not encode one for the App: `café` and `caf%C3%A9` are different
        // callbacks, and only the encoded one can be registered.
        if !s.is_ascii() {
            return Err(RedirectUriError::NotAscii(s.to_owned()));
        }
        let url = url::Url::parse(s).map_err(|_| RedirectUriError::NotAbsolute(s.to_owned()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::UserInfo(s.to_owned()));
        }
        match url.scheme() {
            "https" => {
                if url.host().is_none() {
                    return Err(RedirectUriError::NotAbsolute(s.to_owned()));
                }
            }
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                };
                if !loopback {
                    return Err(RedirectUriError::InsecureHttp(s.to_owned()));
                }
            }
            // RFC 8252 §7.1: native apps use private-use schemes named after a domain they own.
            scheme if scheme.contains('.') => {}
            _ => return Err(RedirectUriError::Scheme(s.to_owned())),
        }
        Ok(Self(s.to_owned()))
    }

    /// Wraps a callback read back from the store (validated when it was registered).
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Exact, byte-for-byte comparison with a requested `redirect_uri`.
    pub fn matches(&self, requested: &str) -> bool {
        self.0 == requested
    }

    /// The callback with `params` appended to its query, keeping any query it already has.
    /// Every value is form-encoded, so nothing in `params` can add a parameter, a fragment or a
    /// header line (checklist A6, H6).
    pub fn with_params(&self, params: &[(&str, &str)]) -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        let encoded = ser.finish();
        let sep = match self.0.find('?') {
            None => "?",
            Some(i) if i + 1 == self.0.len() || self.0.ends_with('&') => "",
            Some(_) => "&",
        };
        format!("{}{sep}{encoded}", self.0)
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:8976/callback",
            "http://localhost:3000/cb",
            "http://[::1]/cb",
            "https://app.example/cb?tenant=1",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://*.example.com/cb",
            "https://example.com/cb#x",
            "cb",
            "/cb",
            "http://example.com/cb",
            "http://127.0.0.1.evil.test/cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "https://user:pw@example.com/cb",
            "https://example.com/c b",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
        for non_ascii in [
            "https://app.example/café",
            "https://bücher.example/cb",
            "https://app.example/cb?q=ü",
            "com.example.app:/cb/é",
        ] {
            assert_eq!(
                RedirectUri::parse(non_ascii),
                Err(RedirectUriError::NotAscii(non_ascii.into()))
            );
        }
        // Their ASCII spellings are fine, and stay distinct from each other.
        let encoded = RedirectUri::parse("https://xn--bcher-kva.example/caf%C3%A9").unwrap();
        assert!(!encoded.matches("https://bücher.example/café"));
        assert!(!encoded.matches("https://xn--bcher-kva.example/caf%c3%a9"));
        assert_eq!(
            RedirectUri::parse(&format!("https://a.example/{}", "a".repeat(2048))),
            Err(RedirectUriError::TooLong)
        );
    }

    #[test]
    fn exact_match_only() {
        let r = RedirectUri::parse("https://app.example/cb").unwrap();
        assert!(r.matches("https://app.example/cb"));
        for near in [
            "https://app.example/cb/",
            "https://app.example/cb/x",
            "https://app.example/cb?x=1",
            "https://app.example/cb#f",
            "https://APP.example/cb",
            "https://app.example:443/cb",
            "http://app.example/cb",
            "https://app.example/cb.evil.test",
            "https://app.example.evil.test/cb",
            "https://evil.test@app.example/cb",
            "https://app.example/cb/../other",
            "https://app.example/%63b",
        ] {
            assert!(!r.matches(near), "{near}");
        }
    }

    #[test]
    fn params_are_appended_and_encoded() {
        let r = RedirectUri::parse("https://app.example/cb").unwrap();
        assert_eq!(
            r.with_params(&[("code", "abc"), ("state", "a&code=evil#x %2F é\r\n")]),
            "https://app.example/cb?code=abc&state=a%26code%3Devil%23x+%252F+%C3%A9%0D%0A"
        );
        let r = RedirectUri::parse("https://app.example/cb?tenant=1").unwrap();
        assert_eq!(
            r.with_params(&[("code", "abc")]),
            "https://app.example/cb?tenant=1&code=abc"
        );
        let r = RedirectUri::parse("https://app.example/cb?").unwrap();
        assert_eq!(
            r.with_params(&[("code", "abc")]),
            "https://app.example/cb?code=abc"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,100}") { let _ = RedirectUri::parse(&s); }

        /// Whatever registration accepts can be sent as a `Location` header.
        #[test]
        fn accepted_callbacks_are_header_safe(s in "(https://a.example/|com.example.app:/).{0,60}") {
            if let Ok(r) = RedirectUri::parse(&s) {
                let loc = r.with_params(&[("code", "c")]);
                proptest::prop_assert!(loc.bytes().all(|b| (0x21..0x7f).contains(&b)), "{loc}");
            }
        }

        #[test]
        fn built_location_never_splits(state in ".{0,100}") {
            let r = RedirectUri::parse("https://app.example/cb?x=1").unwrap();
            let loc = r.with_params(&[("state", &state), ("code", "c")]);
            proptest::prop_assert!(!loc.contains('\r') && !loc.contains('\n') && !loc.contains('#'));
            let query = &loc[loc.find('?').unwrap() + 1..];
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            proptest::prop_assert_eq!(pairs, vec![("x".into(), "1".into()), ("state".into(), state), ("code".into(), "c".into())]);
        }
    }
}
