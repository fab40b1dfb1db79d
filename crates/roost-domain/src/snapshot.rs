//! Names of stored snapshots (`roost snapshot save NAME`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a snapshot name is 1 to 64 characters of A-Z a-z 0-9 . _ - and does not start with . or -"
)]
pub struct InvalidSnapshotName;

/// 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`: safe in a URL path segment,
/// a file name and a shell word without quoting, and never mistaken for a flag.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotName(String);

impl SnapshotName {
    pub fn parse(s: &str) -> Result<Self, InvalidSnapshotName> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !s.starts_with(['.', '-']);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidSnapshotName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["baseline", "a", "before-login_2.v1", &"x".repeat(64)] {
            assert_eq!(
                SnapshotName::parse(ok).map(|n| n.to_string()).as_deref(),
                Ok(ok)
            );
        }
        for bad in [
            "",
            "-rf",
            ".hidden",
            "a/b",
            "a b",
            "é",
            &"x".repeat(65),
            "a%2F",
        ] {
            assert_eq!(
                SnapshotName::parse(bad),
                Err(InvalidSnapshotName),
                "{bad:?}"
            );
        }
    }
}
