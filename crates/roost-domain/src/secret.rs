//! Random secrets and their digests.
//!
//! Every secret roost hands out (codes, access and refresh tokens, client and API secrets,
//! session ids) comes from [`Secret::generate`] or [`random_base64url`], both drawing from the
//! operating system's generator; the one exception is a refresh rotation under a grace window,
//! whose pair is an HMAC under a server key of the (random) token it replaces. Only a [`TokenHash`] (SHA-256) of a secret reaches the store:
//! the values are 256 uniformly random bits, so a fast hash is enough (security checklist G2).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Equality of two secret values whose running time does not depend on where they differ
/// (checklist G5): every comparison of a presented secret with a stored or expected one goes
/// through this or [`TokenHash::ct_eq`]. A length difference answers at once; lengths are not
/// secret (digests, MACs and tokens have fixed lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `n` random bytes from the OS, base64url without padding.
pub fn random_base64url(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `len` random characters of `[A-Za-z0-9]` from the OS (rejection sampling, no modulo bias).
pub fn random_alphanumeric(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        OsRng.fill_bytes(&mut buf);
        for b in buf {
            // 62 * 4 = 248: bytes at or above it would bias the result.
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// The kind of a token: part of its visible form, like X's `:at:1` suffixes. The server never
/// trusts it; lookups are by the digest of the whole string (checklist F7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    AuthorizationCode,
    AccessToken,
    RefreshToken,
}

impl TokenKind {
    fn tag(self) -> &'static str {
        match self {
            TokenKind::AuthorizationCode => "ac",
            TokenKind::AccessToken => "at",
            TokenKind::RefreshToken => "rt",
        }
    }
}

/// A secret value as handed to a client. `Debug` never prints it; `==` is constant-time.
#[derive(Clone, Eq)]
pub struct Secret(String);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Secret {
    /// A token in X's visible shape: base64url of `<43 random chars>:<epoch ms>:1:1:<kind>:1`.
    /// The random part carries 256 bits.
    pub fn generate(kind: TokenKind, now_ms: i64) -> Self {
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        Self::with_key_bytes(kind, now_ms, &random)
    }

    /// A token in the same shape from 256 bits the caller derived (a keyed MAC's output), for
    /// tokens that must be re-derivable, such as a refresh rotation answered again inside its
    /// grace window.
    pub fn with_key_bytes(kind: TokenKind, now_ms: i64, bytes: &[u8; 32]) -> Self {
        let raw = format!(
            "{}:{now_ms}:1:1:{}:1",
            URL_SAFE_NO_PAD.encode(bytes),
            kind.tag()
        );
        Self(URL_SAFE_NO_PAD.encode(raw))
    }

    /// 256 random bits, base64url (session ids, CSRF keys).
    pub fn random() -> Self {
        Self(random_base64url(32))
    }

    /// A 50-character alphanumeric secret (~297 bits), the shape of X's client and API secrets.
    pub fn client_secret() -> Self {
        Self(random_alphanumeric(50))
    }

    /// Wraps a secret a client presented.
    pub fn from_presented(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// SHA-256 of a secret: the only form in which a secret is stored or looked up. `==` (and so
/// a lookup in a hash map) is [`TokenHash::ct_eq`].
#[derive(Clone, Copy, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

/// A digest is already uniformly distributed, and nobody can choose the input that gives a
/// digest of their liking, so eight of its bytes are as good a hash as any: a hash map keyed by
/// digests need not hash 32 bytes again on every lookup. (Equal digests have equal first
/// bytes, so this agrees with `eq`.)
impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(b).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality (checklist G5).
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight bytes are enough to tell digests apart in a log, and reveal nothing.
        write!(f, "TokenHash(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_unique_and_long() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let t = Secret::generate(TokenKind::AccessToken, 1_622_147_743_914);
            let decoded = URL_SAFE_NO_PAD.decode(t.expose()).unwrap();
            let random = decoded.split(|b| *b == b':').next().unwrap();
            assert_eq!(URL_SAFE_NO_PAD.decode(random).unwrap().len(), 32);
            assert!(seen.insert(t.expose().to_owned()));
        }
    }

    #[test]
    fn token_has_x_shape() {
        let t = Secret::generate(TokenKind::RefreshToken, 1_622_147_743_914);
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(t.expose()).unwrap()).unwrap();
        assert!(decoded.ends_with(":1622147743914:1:1:rt:1"), "{decoded}");
    }

    #[test]
    fn derived_tokens_are_reproducible_and_distinct() {
        let a = Secret::with_key_bytes(TokenKind::RefreshToken, 7, &[1; 32]);
        assert_eq!(
            a,
            Secret::with_key_bytes(TokenKind::RefreshToken, 7, &[1; 32])
        );
        assert_ne!(
            a,
            Secret::with_key_bytes(TokenKind::RefreshToken, 7, &[2; 32])
        );
        assert_ne!(
            a,
            Secret::with_key_bytes(TokenKind::AccessToken, 7, &[1; 32])
        );
        assert_ne!(
            a,
            Secret::with_key_bytes(TokenKind::RefreshToken, 8, &[1; 32])
        );
    }

    #[test]
    fn client_secrets_are_alphanumeric() {
        let s = Secret::client_secret();
        assert_eq!(s.expose().len(), 50);
        assert!(s.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(Secret::client_secret(), s);
    }

    #[test]
    fn sec_g05_constant_time_eq_is_plain_equality() {
        let a = [7u8; 32];
        assert!(constant_time_eq(&a, &a));
        assert!(constant_time_eq(b"", b""));
        for i in [0, 15, 31] {
            let mut b = a;
            b[i] ^= 1;
            assert!(!constant_time_eq(&a, &b), "differs at byte {i}");
        }
        assert!(!constant_time_eq(&a, &a[..31]), "a prefix is not equal");
        assert!(!constant_time_eq(b"secret", b"secreT"));
    }

    #[test]
    fn sec_g05_equality_of_secret_types_is_the_constant_time_one() {
        let s = Secret::random();
        let h = s.hash();
        let mut flipped = h;
        flipped.0[31] ^= 0x80;
        // `==` on digests and secrets answers exactly as the constant-time comparisons do.
        for (x, y) in [(h, h), (h, flipped), (flipped, h)] {
            assert_eq!(x == y, x.ct_eq(&y));
            assert_eq!(x == y, constant_time_eq(x.as_bytes(), y.as_bytes()));
        }
        assert!(h != flipped);
        let same = Secret::from_presented(s.expose());
        let other = Secret::from_presented(format!("{}x", &s.expose()[..s.expose().len() - 1]));
        assert!(s == same);
        assert!(s != other);
        // A digest found in a hash map is found by that same equality.
        let map = std::collections::HashMap::from([(h, "found")]);
        assert_eq!(map.get(&TokenHash::of(s.expose())), Some(&"found"));
        assert_eq!(map.get(&flipped), None);
    }

    #[test]
    fn debug_is_redacted() {
        let s = Secret::random();
        assert!(!format!("{s:?}").contains(s.expose()));
        let h = s.hash();
        assert!(h.ct_eq(&TokenHash::of(s.expose())));
        assert!(!h.ct_eq(&TokenHash::of("other")));
    }
}
