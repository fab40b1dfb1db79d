//! PKCE (RFC 7636) as X runs it, with a strict RFC mode.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Which rules apply: X's (the default) or RFC 7636's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMode {
    /// X accepts `plain`, short `plain` verifiers (its docs use `challenge`), and verifiers up to
    /// 256 characters (X's TypeScript SDK makes 171).
    X,
    /// RFC 7636: `S256` only, verifiers of 43 to 128 characters.
    Strict,
}

impl PkceMode {
    fn verifier_len(self) -> std::ops::RangeInclusive<usize> {
        match self {
            PkceMode::X => 1..=MAX_VERIFIER_LEN,
            PkceMode::Strict => 43..=128,
        }
    }
}

/// The longest verifier roost accepts in X mode.
pub const MAX_VERIFIER_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge_method must be S256 or plain")]
    UnknownMethod,
    #[error("code_challenge_method plain is not allowed: use S256")]
    PlainNotAllowed,
    #[error(
        "code_challenge for S256 must be 43 characters of base64url (A-Z a-z 0-9 - _), without padding"
    )]
    MalformedS256Challenge,
    #[error("code_challenge must be {min} to {max} characters of A-Z a-z 0-9 - . _ ~")]
    MalformedPlainChallenge { min: usize, max: usize },
    #[error("code_verifier must be {min} to {max} characters of A-Z a-z 0-9 - . _ ~")]
    MalformedVerifier { min: usize, max: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChallengeMethod {
    S256,
    Plain,
}

impl CodeChallengeMethod {
    /// Parses the method name case-insensitively (twitter-api-v2 sends `s256`). An absent
    /// method means `plain` (RFC 7636 §4.3); strict mode refuses `plain`.
    pub fn parse(s: Option<&str>, mode: PkceMode) -> Result<Self, PkceError> {
        let method = match s {
            None => CodeChallengeMethod::Plain,
            Some(m) if m.eq_ignore_ascii_case("S256") => CodeChallengeMethod::S256,
            Some(m) if m.eq_ignore_ascii_case("plain") => CodeChallengeMethod::Plain,
            Some(_) => return Err(PkceError::UnknownMethod),
        };
        if method == CodeChallengeMethod::Plain && mode == PkceMode::Strict {
            return Err(PkceError::PlainNotAllowed);
        }
        Ok(method)
    }

    /// The stored, normalised name.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeChallengeMethod::S256 => "S256",
            CodeChallengeMethod::Plain => "plain",
        }
    }

    /// Reads the stored name back (always normalised).
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "S256" => Some(CodeChallengeMethod::S256),
            "plain" => Some(CodeChallengeMethod::Plain),
            _ => None,
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

/// A challenge that is well-formed for its method.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeChallenge {
    method: CodeChallengeMethod,
    value: String,
}

impl CodeChallenge {
    pub fn parse(
        method: CodeChallengeMethod,
        value: &str,
        mode: PkceMode,
    ) -> Result<Self, PkceError> {
        match method {
            CodeChallengeMethod::S256 => {
                if value.len() != 43 || !value.bytes().all(is_base64url) {
                    return Err(PkceError::MalformedS256Challenge);
                }
            }
            CodeChallengeMethod::Plain => {
                let range = mode.verifier_len();
                if !range.contains(&value.len()) || !value.bytes().all(is_unreserved) {
                    return Err(PkceError::MalformedPlainChallenge {
                        min: *range.start(),
                        max: *range.end(),
                    });
                }
            }
        }
        Ok(Self {
            method,
            value: value.to_owned(),
        })
    }

    /// Derives the S256 challenge of a verifier (for clients, demo output and tests).
    pub fn s256_of(verifier: &CodeVerifier) -> Self {
        let digest = Sha256::digest(verifier.0.as_bytes());
        Self {
            method: CodeChallengeMethod::S256,
            value: URL_SAFE_NO_PAD.encode(digest),
        }
    }

    pub fn method(&self) -> CodeChallengeMethod {
        self.method
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Checks a verifier against this challenge with the method recorded at authorize time,
    /// never one sent at token time, in constant time.
    pub fn verify(&self, verifier: &CodeVerifier) -> bool {
        let computed = match self.method {
            CodeChallengeMethod::S256 => {
                URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes()))
            }
            CodeChallengeMethod::Plain => verifier.0.clone(),
        };
        crate::secret::constant_time_eq(computed.as_bytes(), self.value.as_bytes())
    }
}

impl fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeChallenge({:?}, {})", self.method, self.value)
    }
}

/// A well-formed PKCE verifier. Its `Debug` is redacted and its `==` constant-time: the
/// verifier is a secret.
#[derive(Clone, Eq)]
pub struct CodeVerifier(String);

impl PartialEq for CodeVerifier {
    fn eq(&self, other: &Self) -> bool {
        crate::secret::constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl CodeVerifier {
    pub fn parse(value: &str, mode: PkceMode) -> Result<Self, PkceError> {
        let range = mode.verifier_len();
        if !range.contains(&value.len()) || !value.bytes().all(is_unreserved) {
            return Err(PkceError::MalformedVerifier {
                min: *range.start(),
                max: *range.end(),
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// A fresh random verifier (43 characters, 256 bits).
    pub fn random() -> Self {
        Self(crate::secret::random_base64url(32))
    }

    pub fn secret_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = CodeVerifier::parse(RFC_VERIFIER, PkceMode::Strict).unwrap();
        let c = CodeChallenge::parse(CodeChallengeMethod::S256, RFC_CHALLENGE, PkceMode::Strict)
            .unwrap();
        assert!(c.verify(&v));
        assert_eq!(CodeChallenge::s256_of(&v), c);
        let mut changed = RFC_VERIFIER.to_owned();
        changed.replace_range(0..1, "e");
        assert!(!c.verify(&CodeVerifier::parse(&changed, PkceMode::Strict).unwrap()));
    }

    #[test]
    fn method_is_case_insensitive_and_defaults_to_plain() {
        use CodeChallengeMethod::*;
        assert_eq!(
            CodeChallengeMethod::parse(Some("s256"), PkceMode::X),
            Ok(S256)
        );
        assert_eq!(
            CodeChallengeMethod::parse(Some("S256"), PkceMode::Strict),
            Ok(S256)
        );
        assert_eq!(
            CodeChallengeMethod::parse(Some("PLAIN"), PkceMode::X),
            Ok(Plain)
        );
        assert_eq!(CodeChallengeMethod::parse(None, PkceMode::X), Ok(Plain));
        for bad in ["S512", "sha256", "S-256", "", " S256"] {
            assert_eq!(
                CodeChallengeMethod::parse(Some(bad), PkceMode::X),
                Err(PkceError::UnknownMethod)
            );
        }
        assert_eq!(
            CodeChallengeMethod::parse(Some("plain"), PkceMode::Strict),
            Err(PkceError::PlainNotAllowed)
        );
        assert_eq!(
            CodeChallengeMethod::parse(None, PkceMode::Strict),
            Err(PkceError::PlainNotAllowed)
        );
    }

    #[test]
    fn s256_challenge_shape() {
        let ok = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(CodeChallenge::parse(CodeChallengeMethod::S256, ok, PkceMode::X).is_ok());
        for bad in [
            &ok[..42],
            &format!("{ok}A"),
            &format!("{}=", &ok[..42]),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
        ] {
            assert_eq!(
                CodeChallenge::parse(CodeChallengeMethod::S256, bad, PkceMode::X),
                Err(PkceError::MalformedS256Challenge),
                "{bad}"
            );
        }
    }

    #[test]
    fn x_mode_accepts_short_plain_and_long_verifiers() {
        // X's docs: plain with the verifier `challenge`.
        let c = CodeChallenge::parse(CodeChallengeMethod::Plain, "challenge", PkceMode::X).unwrap();
        assert!(c.verify(&CodeVerifier::parse("challenge", PkceMode::X).unwrap()));
        assert!(!c.verify(&CodeVerifier::parse("challengf", PkceMode::X).unwrap()));
        assert!(
            CodeChallenge::parse(CodeChallengeMethod::Plain, "challenge", PkceMode::Strict)
                .is_err()
        );
        // X's TypeScript SDK makes 171-character verifiers.
        for len in [43, 48, 128, 171, 256] {
            assert!(
                CodeVerifier::parse(&"a".repeat(len), PkceMode::X).is_ok(),
                "{len}"
            );
        }
        assert!(CodeVerifier::parse(&"a".repeat(257), PkceMode::X).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(171), PkceMode::Strict).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(42), PkceMode::Strict).is_err());
        for bad in ["", "abc def", "abc+def", "abc/def", "abcé", "a=b"] {
            assert!(CodeVerifier::parse(bad, PkceMode::X).is_err(), "{bad}");
        }
    }

    #[test]
    fn s256_challenge_does_not_accept_itself_as_verifier() {
        let c =
            CodeChallenge::parse(CodeChallengeMethod::S256, RFC_CHALLENGE, PkceMode::X).unwrap();
        assert!(!c.verify(&CodeVerifier::parse(RFC_CHALLENGE, PkceMode::X).unwrap()));
    }

    /// The S256 and plain checks go through the constant-time comparison, which a test cannot
    /// time; what it can check is the contract: every character of the challenge counts, for
    /// either method, and a challenge of another length never matches.
    #[test]
    fn sec_g05_pkce_check_compares_the_whole_value() {
        let verifier = CodeVerifier::parse(RFC_VERIFIER, PkceMode::Strict).unwrap();
        for method in [CodeChallengeMethod::S256, CodeChallengeMethod::Plain] {
            let good = match method {
                CodeChallengeMethod::S256 => RFC_CHALLENGE.to_owned(),
                CodeChallengeMethod::Plain => RFC_VERIFIER.to_owned(),
            };
            let ok = CodeChallenge::parse(method, &good, PkceMode::X).unwrap();
            assert!(ok.verify(&verifier), "{method:?}");
            for i in 0..good.len() {
                let mut bad = good.clone().into_bytes();
                bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
                let bad = String::from_utf8(bad).unwrap();
                let c = CodeChallenge::parse(method, &bad, PkceMode::X).unwrap();
                assert!(!c.verify(&verifier), "{method:?}: character {i} changed");
            }
        }
        let longer = CodeChallenge::parse(
            CodeChallengeMethod::Plain,
            &format!("{RFC_VERIFIER}x"),
            PkceMode::X,
        )
        .unwrap();
        assert!(!longer.verify(&verifier));
        // Verifiers compare as secrets too.
        assert!(verifier == CodeVerifier::parse(RFC_VERIFIER, PkceMode::Strict).unwrap());
        assert!(verifier != CodeVerifier::random());
    }

    #[test]
    fn verifier_debug_is_redacted() {
        let v = CodeVerifier::parse(RFC_VERIFIER, PkceMode::X).unwrap();
        assert!(!format!("{v:?}").contains(RFC_VERIFIER));
    }

    proptest::proptest! {
        #[test]
        fn random_verifiers_verify(_i in 0..50u8) {
            let v = CodeVerifier::random();
            let parsed = CodeVerifier::parse(v.secret_str(), PkceMode::Strict).unwrap();
            proptest::prop_assert!(CodeChallenge::s256_of(&v).verify(&parsed));
        }

        #[test]
        fn parsers_never_panic(s in ".{0,300}") {
            let _ = CodeVerifier::parse(&s, PkceMode::X);
            let _ = CodeChallenge::parse(CodeChallengeMethod::S256, &s, PkceMode::X);
            let _ = CodeChallenge::parse(CodeChallengeMethod::Plain, &s, PkceMode::Strict);
            let _ = CodeChallengeMethod::parse(Some(&s), PkceMode::X);
        }

        #[test]
        fn every_valid_verifier_parses(s in "[A-Za-z0-9._~-]{43,256}") {
            proptest::prop_assert!(CodeVerifier::parse(&s, PkceMode::X).is_ok());
        }
    }
}
