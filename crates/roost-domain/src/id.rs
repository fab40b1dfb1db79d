//! X-style snowflake ids: 64-bit integers serialised as decimal strings.

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// X's snowflake epoch (2010-11-04T01:42:54.657Z) in Unix milliseconds.
pub const TWITTER_EPOCH_MS: i64 = 1_288_834_974_657;

/// A decimal id as X uses for users, tweets, apps and projects.
///
/// Stored as a non-negative `i64` (both SQLite and PostgreSQL have a signed 64-bit integer) and
/// always serialised as a JSON string, because X's clients reject numbers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Snowflake(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id: expected 1 to 19 decimal digits")]
pub struct InvalidSnowflake;

impl Snowflake {
    /// Wraps a value read back from the store.
    pub fn from_i64(v: i64) -> Result<Self, InvalidSnowflake> {
        if v < 0 {
            Err(InvalidSnowflake)
        } else {
            Ok(Self(v))
        }
    }

    /// Parses X's wire form: `^[0-9]{1,19}$`, and the value must fit in a signed 64-bit integer.
    pub fn parse(s: &str) -> Result<Self, InvalidSnowflake> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidSnowflake);
        }
        s.parse::<i64>().map(Self).map_err(|_| InvalidSnowflake)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Snowflake {
    type Err = InvalidSnowflake;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Ids are JSON strings (client quirk 15). Every API answer writes dozens of them, and
        // `collect_str` goes through the formatting machinery: itoa is a third of the work.
        s.serialize_str(itoa::Buffer::new().format(self.0))
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An id as a request names it: X's pattern `^[0-9]{1,19}$`, kept as it was sent, because X
/// echoes the value as supplied in errors (`007`, not `7`).
///
/// Every value of the pattern is a valid request, also one above `i64::MAX` (nineteen nines):
/// such an id names nothing that can exist, so it is not found rather than refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestedId {
    /// The digits as sent (at most 19, so they live inline: lists of 100 ids cost no
    /// allocations).
    raw: [u8; 19],
    len: u8,
    id: Option<Snowflake>,
}

impl RequestedId {
    pub fn parse(s: &str) -> Result<Self, InvalidSnowflake> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 19 {
            return Err(InvalidSnowflake);
        }
        let mut raw = [0u8; 19];
        // At most 19 digits: the value fits a u64, and fits an i64 unless it is too large to be
        // an id anyone issued.
        let mut value = 0u64;
        for (slot, &d) in raw.iter_mut().zip(b) {
            if !d.is_ascii_digit() {
                return Err(InvalidSnowflake);
            }
            *slot = d;
            value = value * 10 + u64::from(d - b'0');
        }
        Ok(Self {
            raw,
            len: u8::try_from(b.len()).unwrap_or(19),
            id: i64::try_from(value).ok().map(Snowflake),
        })
    }

    /// The value as sent.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.raw[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The snowflake it names; `None` when it is beyond any id that can exist.
    pub fn snowflake(&self) -> Option<Snowflake> {
        self.id
    }

    /// As a bound (`since_id`, `until_id`): a value beyond every id is the largest id.
    pub fn bound(&self) -> Snowflake {
        self.id.unwrap_or(Snowflake(i64::MAX))
    }
}

impl fmt::Display for RequestedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Generates snowflakes as X lays them out: 41 bits of milliseconds since X's epoch, 10 bits of
/// worker id, 12 bits of sequence.
///
/// The caller passes the time in, so the generator is deterministic under a manual clock. If the
/// clock goes backwards (or more than 4096 ids are asked for in one millisecond) the generator
/// keeps counting from the last id it gave out, so ids stay unique and increasing.
#[derive(Debug)]
pub struct SnowflakeGenerator {
    worker: i64,
    last: Mutex<i64>,
}

impl SnowflakeGenerator {
    pub fn new(worker: u16) -> Self {
        Self {
            worker: i64::from(worker & 0x3ff),
            last: Mutex::new(0),
        }
    }

    pub fn next(&self, now_ms: i64) -> Snowflake {
        let since_epoch = (now_ms - TWITTER_EPOCH_MS).max(0) & ((1 << 41) - 1);
        let candidate = (since_epoch << 22) | (self.worker << 12);
        // A poisoned lock only means another thread panicked mid-update; the integer is intact.
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = if candidate > *last {
            candidate
        } else {
            *last + 1
        };
        *last = id;
        Snowflake(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_x_ids() {
        assert_eq!(
            Snowflake::parse("2244994945").map(Snowflake::get),
            Ok(2_244_994_945)
        );
        assert_eq!(
            Snowflake::parse("1261326399320715264").map(Snowflake::get),
            Ok(1_261_326_399_320_715_264)
        );
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "",
            "abc",
            "-1",
            "+1",
            " 1",
            "12345678901234567890",
            "9999999999999999999",
            "1.0",
        ] {
            assert_eq!(Snowflake::parse(bad), Err(InvalidSnowflake), "{bad}");
        }
    }

    #[test]
    fn requested_ids_keep_what_was_sent_and_take_every_19_digit_value() {
        let z = RequestedId::parse("007").unwrap();
        assert_eq!(
            (z.as_str(), z.snowflake().map(Snowflake::get)),
            ("007", Some(7))
        );
        let big = RequestedId::parse("9999999999999999999").unwrap();
        assert_eq!(big.as_str(), "9999999999999999999");
        assert_eq!(big.snowflake(), None);
        assert_eq!(big.bound().get(), i64::MAX);
        let max = RequestedId::parse("9223372036854775807").unwrap();
        assert_eq!(max.snowflake().map(Snowflake::get), Some(i64::MAX));
        for bad in ["", "abc", "-1", "+1", " 1", "12345678901234567890", "1.0"] {
            assert_eq!(RequestedId::parse(bad), Err(InvalidSnowflake), "{bad}");
        }
    }

    #[test]
    fn serialises_as_string() {
        let id = Snowflake::parse("1261326399320715264").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"1261326399320715264\""
        );
        let back: Snowflake = serde_json::from_str("\"1261326399320715264\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<Snowflake>("1261326399320715264").is_err());
    }

    #[test]
    fn generator_is_increasing_and_unique() {
        let g = SnowflakeGenerator::new(1);
        let now = 1_700_000_000_000;
        let mut prev = g.next(now);
        for i in 0..10_000 {
            // Includes a clock that goes backwards.
            let t = if i % 7 == 0 { now - 5 } else { now + i / 100 };
            let id = g.next(t);
            assert!(id > prev);
            prev = id;
        }
        // 19 digits, like X's current ids.
        assert_eq!(g.next(now).to_string().len(), 19);
    }

    proptest::proptest! {
        #[test]
        fn every_valid_id_round_trips(v in 0i64..=i64::MAX) {
            let s = v.to_string();
            proptest::prop_assume!(s.len() <= 19);
            proptest::prop_assert_eq!(Snowflake::parse(&s).map(Snowflake::get), Ok(v));
        }

        #[test]
        fn parse_never_panics(s in ".{0,30}") {
            let _ = Snowflake::parse(&s);
        }
    }
}
