//! X usernames (handles).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a username is 1 to 15 characters of A-Z, a-z, 0-9 and _")]
pub struct UsernameError;

/// A username as X allows it: `^[A-Za-z0-9_]{1,15}$`. Matching is case-insensitive; the
/// original casing is kept for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        if (1..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(UsernameError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which usernames are unique.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Username {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_x_usernames() {
        for ok in ["XDevelopers", "a", "under_score", "abcdefghijklmno", "123"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Username::parse("XDevelopers").unwrap().canonical(),
            "xdevelopers"
        );
    }

    #[test]
    fn rejects_others() {
        for bad in [
            "",
            "@alice",
            "abcdefghijklmnop",
            "a b",
            "a-b",
            "é",
            "a.b",
            "<script>",
        ] {
            assert_eq!(Username::parse(bad), Err(UsernameError), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn valid_usernames_parse(s in "[A-Za-z0-9_]{1,15}") {
            proptest::prop_assert_eq!(Username::parse(&s).map(|u| u.as_str().to_owned()), Ok(s));
        }
        #[test]
        fn never_panics(s in ".{0,40}") { let _ = Username::parse(&s); }
    }
}
