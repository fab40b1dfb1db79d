//! X API v2 content as stored: tweets, follows, spaces (users are in `lib.rs`).

use roost_domain::Snowflake;

#[derive(Debug, Clone, PartialEq)]
pub struct TweetRecord {
    pub id: Snowflake,
    pub author_id: Snowflake,
    pub text: String,
    pub created_at: i64,
    pub conversation_id: Snowflake,
    pub in_reply_to_user_id: Option<Snowflake>,
    pub replied_to_id: Option<Snowflake>,
    pub quoted_id: Option<Snowflake>,
    pub retweeted_id: Option<Snowflake>,
    pub lang: Option<String>,
    pub reply_settings: String,
    pub source: Option<String>,
    pub possibly_sensitive: bool,
    pub like_count: i64,
    pub bookmark_count: i64,
    pub impression_count: i64,
    /// Withheld in these countries (ISO 3166-1 alpha-2)...
    pub withheld_in: Vec<String>,
    /// ...because of a copyright claim.
    pub withheld_copyright: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowRecord {
    pub source_user_id: Snowflake,
    pub target_user_id: Snowflake,
    pub created_at: i64,
    /// A follow request to a protected account that is not approved yet.
    pub pending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpaceRecord {
    /// `^[a-zA-Z0-9]{1,13}$`
    pub id: String,
    /// `live`, `scheduled` or `ended`.
    pub state: String,
    pub title: Option<String>,
    pub creator_id: Snowflake,
    pub host_ids: Vec<Snowflake>,
    pub speaker_ids: Vec<Snowflake>,
    pub invited_user_ids: Vec<Snowflake>,
    pub topic_ids: Vec<String>,
    pub lang: Option<String>,
    pub is_ticketed: bool,
    pub participant_count: i64,
    pub subscriber_count: i64,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub scheduled_start: Option<i64>,
}

/// A Space topic added by an import (X's `Topic`: id, name, description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// Everything the API serves, as loaded into memory at start and after outside changes.
#[derive(Debug, Clone, Default)]
pub struct Content {
    pub version: i64,
    /// How many resets the store has had (see [`crate::Store::reset`]).
    pub resets: i64,
    pub users: Vec<crate::UserRecord>,
    pub tweets: Vec<TweetRecord>,
    pub follows: Vec<FollowRecord>,
    pub spaces: Vec<SpaceRecord>,
    pub topics: Vec<TopicRecord>,
}

/// An import, validated by the caller: written all-or-nothing, upserting by id.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    pub users: Vec<crate::UserRecord>,
    pub tweets: Vec<TweetRecord>,
    pub follows: Vec<FollowRecord>,
    pub spaces: Vec<SpaceRecord>,
    pub topics: Vec<TopicRecord>,
    /// Projects, Apps, grants and tokens (an export's extension of the import format).
    pub auth: crate::AuthState,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub users: usize,
    pub tweets: usize,
    pub follows: usize,
    pub spaces: usize,
    /// Reported only when the file had topics, so the report of a file without them keeps
    /// the four counts it always had.
    #[serde(skip_serializing_if = "is_zero")]
    pub topics: usize,
    /// Apps and grants (with their tokens) of an export; reported only when there are some.
    #[serde(skip_serializing_if = "is_zero")]
    pub apps: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub grants: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Country codes as stored: comma-separated.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn join_ids(ids: &[Snowflake]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn split_ids(s: &str) -> Result<Vec<Snowflake>, roost_domain::id::InvalidSnowflake> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(Snowflake::parse)
        .collect()
}
