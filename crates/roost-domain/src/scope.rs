//! X's OAuth 2.0 scopes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! scopes {
    ($( $variant:ident => $name:literal, $words:literal; )*) => {
        /// One scope X knows. Names are case-sensitive.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Scope { $( $variant, )* }

        impl Scope {
            /// Every scope, in canonical (display) order.
            pub const ALL: &'static [Scope] = &[ $( Scope::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( Scope::$variant => $name, )* }
            }

            /// What the scope lets an App do, in plain words for the consent page.
            pub fn description(self) -> &'static str {
                match self { $( Scope::$variant => $words, )* }
            }

            fn from_current_name(s: &str) -> Option<Self> {
                match s {
                    $( $name => Some(Scope::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

scopes! {
    TweetRead => "tweet.read", "Read posts you can see, including those of protected accounts you follow.";
    TweetWrite => "tweet.write", "Post and repost for you.";
    TweetModerateWrite => "tweet.moderate.write", "Hide and unhide replies to your posts.";
    UsersEmail => "users.email", "See the email address of your account.";
    UsersRead => "users.read", "See any account you can see, including protected accounts you follow.";
    FollowsRead => "follows.read", "See who you follow and who follows you.";
    FollowsWrite => "follows.write", "Follow and unfollow accounts for you.";
    OfflineAccess => "offline.access", "Stay connected to your account until you revoke access.";
    SpaceRead => "space.read", "See all the Spaces you can see.";
    MuteRead => "mute.read", "See the accounts you have muted.";
    MuteWrite => "mute.write", "Mute and unmute accounts for you.";
    LikeRead => "like.read", "See the posts you have liked and the likes you can see.";
    LikeWrite => "like.write", "Like and unlike posts for you.";
    ListRead => "list.read", "See Lists, their members and followers, including private Lists you own or belong to.";
    ListWrite => "list.write", "Create and manage Lists for you.";
    BlockRead => "block.read", "See the accounts you have blocked.";
    BlockWrite => "block.write", "Block and unblock accounts for you.";
    BookmarkRead => "bookmark.read", "See your bookmarks.";
    BookmarkWrite => "bookmark.write", "Add and remove bookmarks for you.";
    DmRead => "dm.read", "Read your Direct Messages.";
    DmWrite => "dm.write", "Send and manage Direct Messages for you.";
    MediaWrite => "media.write", "Upload photos and videos for you.";
    TimelineRead => "timeline.read", "See the custom timelines you can see.";
    BroadcastRead => "broadcast.read", "See your live broadcasts and their chat.";
    BroadcastWrite => "broadcast.write", "Manage your live broadcasts and chat in them for you.";
}

/// Names from X's 2021 beta that clients written then still send. They are accepted and mean
/// today's scope; the grant is stored and enforced under today's name.
const HISTORIC_NAMES: &[(&str, Scope)] = &[
    ("account.follows.read", Scope::FollowsRead),
    ("account.follows.write", Scope::FollowsWrite),
    ("spaces.read", Scope::SpaceRead),
];

impl Scope {
    /// The scope's name in X's 2021 beta, if it had another one.
    pub fn historic_name(self) -> Option<&'static str> {
        HISTORIC_NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map(|(name, _)| *name)
    }

    /// A scope by name: today's name, or a historic one (`true` when it was historic).
    fn from_name(s: &str) -> Option<(Self, bool)> {
        Self::from_current_name(s).map(|x| (x, false)).or_else(|| {
            HISTORIC_NAMES
                .iter()
                .find(|(name, _)| *name == s)
                .map(|(_, x)| (*x, true))
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("no scope was requested")]
    Empty,
    #[error("unknown scope `{0}`")]
    Unknown(String),
    #[error("the scope parameter is too long")]
    TooLong,
}

/// A set of scopes, parsed from X's space-separated form and printed in canonical order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u32);

/// Longer scope strings are refused before parsing (security checklist H3).
pub const MAX_SCOPE_PARAM_LEN: usize = 1024;

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// Parses a space-separated list. Runs of spaces are tolerated; an unknown name is an error
    /// that names it, and so is an empty list.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let set = Self::parse_allow_empty(s)?;
        if set.is_empty() {
            Err(ScopeError::Empty)
        } else {
            Ok(set)
        }
    }

    /// As [`ScopeSet::parse`], but an empty string is the empty set (stored grants with no scope,
    /// app-context tokens).
    pub fn parse_allow_empty(s: &str) -> Result<Self, ScopeError> {
        ScopeNames::parse_allow_empty(s).map(ScopeNames::set)
    }

    pub fn from_scopes(scopes: &[Scope]) -> Self {
        scopes.iter().fold(ScopeSet::EMPTY, |set, s| set.with(*s))
    }

    #[must_use]
    pub fn with(self, scope: Scope) -> Self {
        ScopeSet(self.0 | (1 << scope as u8))
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u8) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every scope of `self` is also in `other`.
    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes of `required` that `self` lacks.
    pub fn missing_from(self, required: ScopeSet) -> ScopeSet {
        ScopeSet(required.0 & !self.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(move |s| self.contains(*s))
    }
}

/// Scopes as a client named them: the set, and which of its scopes were asked for by their
/// historic name. oauthlib-based clients (tweepy, X's Python SDK) refuse a token response whose
/// `scope` names differ from those they asked for (client-quirks rule 5), so responses echo
/// these names while the grant is stored and enforced as [`ScopeNames::set`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeNames {
    /// Scopes asked for by today's name.
    current: ScopeSet,
    /// Scopes asked for by their historic name (a client may have used both names).
    historic: ScopeSet,
}

impl ScopeNames {
    /// As [`ScopeSet::parse`]: space-separated, no unknown names, not empty.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let names = Self::parse_allow_empty(s)?;
        if names.set().is_empty() {
            Err(ScopeError::Empty)
        } else {
            Ok(names)
        }
    }

    /// As [`ScopeSet::parse_allow_empty`].
    pub fn parse_allow_empty(s: &str) -> Result<Self, ScopeError> {
        if s.len() > MAX_SCOPE_PARAM_LEN {
            return Err(ScopeError::TooLong);
        }
        let mut names = ScopeNames::default();
        for name in s.split(' ').filter(|n| !n.is_empty()) {
            match Scope::from_name(name) {
                Some((scope, false)) => names.current = names.current.with(scope),
                Some((scope, true)) => names.historic = names.historic.with(scope),
                None => return Err(ScopeError::Unknown(truncate(name))),
            }
        }
        Ok(names)
    }

    /// Today's names for every scope of `set`.
    pub fn current(set: ScopeSet) -> Self {
        ScopeNames {
            current: set,
            historic: ScopeSet::EMPTY,
        }
    }

    /// The scopes, whatever they were called: what is stored and enforced.
    pub fn set(self) -> ScopeSet {
        ScopeSet(self.current.0 | self.historic.0)
    }

    /// True when some scope was named by its historic name.
    pub fn uses_historic_names(self) -> bool {
        !self.historic.is_empty()
    }
}

/// Canonical order, each scope under the name(s) it was asked for.
impl fmt::Display for ScopeNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in self.set().iter() {
            let current = self.current.contains(s).then_some(s.as_str());
            let historic = s.historic_name().filter(|_| self.historic.contains(s));
            for name in [current, historic].into_iter().flatten() {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeNames({self})")
    }
}

impl Serialize for ScopeNames {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_allow_empty(&s).map_err(serde::de::Error::custom)
    }
}

fn truncate(name: &str) -> String {
    name.chars().take(64).collect()
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
            first = false;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({self})")
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_allow_empty(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        let set = ScopeSet::parse("offline.access  users.read tweet.read").unwrap();
        assert_eq!(set.to_string(), "tweet.read users.read offline.access");
        assert!(set.contains(Scope::OfflineAccess));
        assert!(!set.contains(Scope::TweetWrite));
    }

    #[test]
    fn every_scope_round_trips() {
        for s in Scope::ALL {
            assert_eq!(
                ScopeSet::parse(s.as_str())
                    .unwrap()
                    .iter()
                    .collect::<Vec<_>>(),
                vec![*s]
            );
            assert!(!s.description().is_empty());
        }
        let all = ScopeSet::from_scopes(Scope::ALL);
        assert_eq!(ScopeSet::parse(&all.to_string()).unwrap(), all);
    }

    #[test]
    fn legacy_names_map_to_current_ones() {
        let set =
            ScopeSet::parse("account.follows.read account.follows.write spaces.read").unwrap();
        assert_eq!(set.to_string(), "follows.read follows.write space.read");
    }

    #[test]
    fn historic_names_are_remembered_but_mean_todays_scopes() {
        let asked = "spaces.read tweet.read account.follows.read users.read";
        let names = ScopeNames::parse(asked).unwrap();
        assert!(names.uses_historic_names());
        assert_eq!(
            names.set(),
            ScopeSet::parse("tweet.read users.read follows.read space.read").unwrap()
        );
        assert_eq!(
            names.to_string(),
            "tweet.read users.read account.follows.read spaces.read"
        );
        // Both names for one scope: both are echoed, the scope counts once.
        let both = ScopeNames::parse("follows.read account.follows.read").unwrap();
        assert_eq!(both.to_string(), "follows.read account.follows.read");
        assert_eq!(both.set(), ScopeSet::parse("follows.read").unwrap());
        // Today's names only: the same text as the set's.
        let plain = ScopeNames::parse("users.read tweet.read").unwrap();
        assert!(!plain.uses_historic_names());
        assert_eq!(plain.to_string(), plain.set().to_string());
        assert_eq!(ScopeNames::current(plain.set()), plain);
        // What is printed parses back to the same names.
        assert_eq!(ScopeNames::parse(&names.to_string()), Ok(names));
        assert_eq!(ScopeNames::parse(""), Err(ScopeError::Empty));
        assert_eq!(
            ScopeNames::parse("spaces.write"),
            Err(ScopeError::Unknown("spaces.write".into()))
        );
    }

    #[test]
    fn rejects_unknown_and_empty() {
        assert_eq!(
            ScopeSet::parse("tweet.read email"),
            Err(ScopeError::Unknown("email".into()))
        );
        assert_eq!(
            ScopeSet::parse("Tweet.Read"),
            Err(ScopeError::Unknown("Tweet.Read".into()))
        );
        assert_eq!(ScopeSet::parse(""), Err(ScopeError::Empty));
        assert_eq!(ScopeSet::parse("   "), Err(ScopeError::Empty));
        assert_eq!(ScopeSet::parse(&"a ".repeat(600)), Err(ScopeError::TooLong));
        assert_eq!(ScopeSet::parse_allow_empty(""), Ok(ScopeSet::EMPTY));
    }

    #[test]
    fn subset_rules() {
        let grant = ScopeSet::parse("tweet.read users.read offline.access").unwrap();
        assert!(ScopeSet::parse("tweet.read").unwrap().is_subset_of(grant));
        assert!(grant.is_subset_of(grant));
        assert!(!ScopeSet::parse("tweet.write").unwrap().is_subset_of(grant));
        let need = ScopeSet::parse("tweet.read users.read follows.read").unwrap();
        assert_eq!(grant.missing_from(need).to_string(), "follows.read");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,200}") {
            let _ = ScopeSet::parse(&s);
        }

        #[test]
        fn any_subset_round_trips(bits in 0u32..(1 << 25)) {
            let set = ScopeSet(bits);
            proptest::prop_assert_eq!(ScopeSet::parse_allow_empty(&set.to_string()), Ok(set));
        }
    }
}
