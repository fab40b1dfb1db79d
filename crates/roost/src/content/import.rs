//! The import file (CONTRACT.md): users, tweets, follows and spaces in X API v2 shapes.
//!
//! Every record is parsed and checked before anything is written, and the batch is written in
//! one transaction, so a file with any bad record changes nothing; the error names the record
//! (`tweets[12] (id 1261...)`) and what is wrong with it. Re-importing the same ids updates them
//! in place, so an import can be run again.
//!
//! `roost export` writes this format too, extended with what an import file from elsewhere never
//! carries: users' `password_hash`, and `projects`, `apps` and `grants` with their tokens, all as
//! SHA-256 digests (see `export.rs`), so that a reset to a snapshot restores who may act.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roost_domain::{
    ClientId, ClientType, RedirectUri, ScopeNames, ScopeSet, Snowflake, TokenHash, Username,
};
use roost_store::{
    AppRecord, AppTokenRecord, AuthState, Content, FollowRecord, GrantRecord, ImportBatch,
    ProjectRecord, SpaceRecord, StoredAccessToken, StoredRefreshToken, TopicRecord, TweetRecord,
    UserRecord,
};
use serde::Deserialize;
use serde_json::Value;

use crate::accounts::{Hasher, MAX_PASSWORD_BYTES};

/// Longest tweet text an import may carry (X's long posts go to 25,000).
const MAX_IMPORT_TEXT: usize = 25_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not valid JSON: {0}")]
    Json(String),
    #[error(
        "the file must be one JSON object with optional keys users, tweets, follows, spaces, topics (and, in an export, projects, apps, grants); found key `{0}`"
    )]
    UnknownKey(String),
    #[error("`{0}` must be an array")]
    NotArray(&'static str),
    #[error("{record}: {problem}")]
    Record { record: String, problem: String },
    #[error(transparent)]
    Store(#[from] roost_store::StoreError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserIn {
    id: String,
    username: String,
    name: String,
    created_at: Option<String>,
    description: Option<String>,
    verified: Option<bool>,
    verified_type: Option<String>,
    protected: Option<bool>,
    password: Option<String>,
    /// An export's argon2 PHC string (never together with `password`).
    password_hash: Option<String>,
    /// An export's mark of an admin of the developer portal.
    admin: Option<bool>,
    location: Option<String>,
    url: Option<String>,
    profile_image_url: Option<String>,
    profile_banner_url: Option<String>,
    pinned_tweet_id: Option<String>,
    public_metrics: Option<UserMetricsIn>,
    confirmed_email: Option<String>,
    withheld: Option<WithheldIn>,
}

/// X's `withheld` object (`UserWithheld`, `TweetWithheld`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithheldIn {
    country_codes: Vec<String>,
    copyright: Option<bool>,
    scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicIn {
    id: String,
    name: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct UserMetricsIn {
    listed_count: Option<i64>,
    like_count: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefIn {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TweetIn {
    id: String,
    text: String,
    author_id: String,
    created_at: Option<String>,
    conversation_id: Option<String>,
    in_reply_to_user_id: Option<String>,
    referenced_tweets: Option<Vec<RefIn>>,
    lang: Option<String>,
    reply_settings: Option<String>,
    source: Option<String>,
    possibly_sensitive: Option<bool>,
    public_metrics: Option<TweetMetricsIn>,
    edit_history_tweet_ids: Option<Vec<String>>,
    withheld: Option<WithheldIn>,
}

#[derive(Deserialize)]
struct TweetMetricsIn {
    like_count: Option<i64>,
    bookmark_count: Option<i64>,
    impression_count: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowIn {
    source_user_id: String,
    target_user_id: String,
    created_at: Option<String>,
    pending: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceIn {
    id: String,
    state: String,
    title: Option<String>,
    creator_id: String,
    host_ids: Option<Vec<String>>,
    speaker_ids: Option<Vec<String>>,
    invited_user_ids: Option<Vec<String>>,
    topic_ids: Option<Vec<String>>,
    lang: Option<String>,
    is_ticketed: Option<bool>,
    participant_count: Option<i64>,
    subscriber_count: Option<i64>,
    created_at: Option<String>,
    updated_at: Option<String>,
    started_at: Option<String>,
    ended_at: Option<String>,
    scheduled_start: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectIn {
    id: String,
    name: String,
    created_at: Option<String>,
    /// The user who manages it in the developer portal (an export carries it).
    owner_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppIn {
    id: String,
    project_id: String,
    name: String,
    client_id: String,
    client_type: String,
    client_secret_sha256: Option<String>,
    api_key: String,
    api_secret_sha256: String,
    bearer_generation: Option<i64>,
    callback_urls: Vec<String>,
    created_at: Option<String>,
    /// The user the App's test-only auto-consent signs in as (an export carries it).
    auto_consent_user_id: Option<String>,
    /// The developer portal's fields (an export carries them): X's App type, description,
    /// website, and the last characters of the secrets.
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
    website_url: Option<String>,
    client_secret_hint: Option<String>,
    api_secret_hint: Option<String>,
    /// App-context access tokens (`client_credentials` on `/2/oauth2/token`).
    tokens: Option<Vec<AccessIn>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessIn {
    sha256: String,
    scope: Option<String>,
    created_at: String,
    expires_at: String,
    revoked_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshIn {
    sha256: String,
    created_at: String,
    expires_at: String,
    used_at: Option<String>,
    successor_sha256: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantIn {
    id: String,
    app_id: String,
    user_id: String,
    scope: String,
    created_at: String,
    revoked_at: Option<String>,
    access_tokens: Option<Vec<AccessIn>>,
    refresh_tokens: Option<Vec<RefreshIn>>,
}

/// A record's label in errors: `users[3] (id 12)`.
fn label(kind: &str, i: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!(
            "{kind}[{i}] (id {})",
            id.chars().take(40).collect::<String>()
        ),
        None => format!("{kind}[{i}]"),
    }
}

struct Ctx {
    record: String,
}

impl Ctx {
    fn err(&self, problem: impl Into<String>) -> ImportError {
        ImportError::Record {
            record: self.record.clone(),
            problem: problem.into(),
        }
    }

    fn id(&self, field: &str, s: &str) -> Result<Snowflake, ImportError> {
        Snowflake::parse(s)
            .map_err(|_| self.err(format!("`{field}` [{s}] is not an id (1 to 19 digits)")))
    }

    fn time(&self, field: &str, s: Option<&str>) -> Result<Option<i64>, ImportError> {
        let Some(s) = s else { return Ok(None) };
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                self.err(format!(
                    "`{field}` [{s}] is not an RFC 3339 time such as 2020-05-15T16:03:42.000Z"
                ))
            })?;
        Ok(Some(
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
        ))
    }

    /// X's `withheld`: 1 or more distinct ISO 3166-1 alpha-2 codes; `scope` (if given) must be
    /// the record's own kind, `copyright` is for tweets only.
    fn withheld(
        &self,
        w: Option<WithheldIn>,
        scope: &str,
    ) -> Result<(Vec<String>, bool), ImportError> {
        let Some(w) = w else {
            return Ok((Vec::new(), false));
        };
        if w.country_codes.is_empty() {
            return Err(self.err("`withheld.country_codes` must list at least one country"));
        }
        let mut seen = HashSet::new();
        for c in &w.country_codes {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(self.err(format!(
                    "`withheld.country_codes` [{c}] is not an ISO 3166-1 alpha-2 code such as DE"
                )));
            }
            if !seen.insert(c) {
                return Err(self.err(format!("`withheld.country_codes` lists {c} twice")));
            }
        }
        if let Some(s) = &w.scope
            && s != scope
        {
            return Err(self.err(format!("`withheld.scope` [{s}] must be {scope}")));
        }
        if scope == "user" && w.copyright.is_some() {
            return Err(self.err("`withheld.copyright` is for tweets only"));
        }
        Ok((w.country_codes, w.copyright.unwrap_or(false)))
    }

    fn required_time(&self, field: &str, s: &str) -> Result<i64, ImportError> {
        Ok(self.time(field, Some(s))?.unwrap_or(0))
    }

    /// A SHA-256 digest as an export writes it: 43 characters of unpadded base64url.
    fn digest(&self, field: &str, s: &str) -> Result<TokenHash, ImportError> {
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| TokenHash::from_slice(&b))
            .ok_or_else(|| {
                self.err(format!(
                    "`{field}` must be a SHA-256 digest in unpadded base64url (43 characters)"
                ))
            })
    }

    fn access(&self, field: &str, t: AccessIn) -> Result<StoredAccessToken, ImportError> {
        let scope = t.scope.unwrap_or_default();
        Ok(StoredAccessToken {
            hash: self.digest(&format!("{field}.sha256"), &t.sha256)?,
            scopes: ScopeSet::parse_allow_empty(&scope)
                .map_err(|e| self.err(format!("`{field}.scope`: {e}")))?,
            created_at: self.required_time(&format!("{field}.created_at"), &t.created_at)?,
            expires_at: self.required_time(&format!("{field}.expires_at"), &t.expires_at)?,
            revoked_at: self.time(&format!("{field}.revoked_at"), t.revoked_at.as_deref())?,
        })
    }

    fn ids(&self, field: &str, v: Option<&Vec<String>>) -> Result<Vec<Snowflake>, ImportError> {
        v.map_or(Ok(Vec::new()), |v| {
            v.iter().map(|s| self.id(field, s)).collect()
        })
    }
}

fn records<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    root: &serde_json::Map<String, Value>,
) -> Result<Vec<(String, T)>, ImportError> {
    let Some(v) = root.get(kind) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        return Err(ImportError::NotArray(kind));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = item.get("id").and_then(Value::as_str);
            let record = label(kind, i, id);
            serde_json::from_value::<T>(item.clone())
                .map(|t| (record.clone(), t))
                .map_err(|e| ImportError::Record {
                    record,
                    problem: e.to_string(),
                })
        })
        .collect()
}

/// The top-level keys, in the order an export writes them.
pub const KEYS: &[&str] = &[
    "users", "tweets", "follows", "spaces", "topics", "projects", "apps", "grants",
];

/// Parses and checks an import file against what the store already holds.
/// `existing_auth` is what the store holds of Projects, Apps and grants, which an export's
/// records may refer to.
pub async fn parse(
    text: &str,
    existing: &Content,
    existing_auth: &AuthState,
    hasher: &Hasher,
    now: i64,
) -> Result<ImportBatch, ImportError> {
    let root: Value = serde_json::from_str(text).map_err(|e| ImportError::Json(e.to_string()))?;
    let Value::Object(root) = root else {
        return Err(ImportError::Json("the top level must be an object".into()));
    };
    if let Some(k) = root.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(ImportError::UnknownKey(k.clone()));
    }
    let users_in: Vec<(String, UserIn)> = records("users", &root)?;
    let tweets_in: Vec<(String, TweetIn)> = records("tweets", &root)?;
    let follows_in: Vec<(String, FollowIn)> = records("follows", &root)?;
    let spaces_in: Vec<(String, SpaceIn)> = records("spaces", &root)?;
    let topics_in: Vec<(String, TopicIn)> = records("topics", &root)?;

    // Users first: everything else refers to them.
    let mut user_ids: HashSet<Snowflake> = existing.users.iter().map(|u| u.id).collect();
    let mut usernames: HashMap<String, Snowflake> = existing
        .users
        .iter()
        .map(|u| (u.username.canonical(), u.id))
        .collect();
    let mut seen_users = HashSet::new();
    let mut users = Vec::with_capacity(users_in.len());
    let mut admins = Vec::new();
    let mut pinned: Vec<(String, Snowflake, Snowflake)> = Vec::new();
    for (record, u) in users_in {
        let c = Ctx { record };
        let id = c.id("id", &u.id)?;
        if !seen_users.insert(id) {
            return Err(c.err("this id appears twice in the file"));
        }
        let username = Username::parse(&u.username).map_err(|_| {
            c.err(format!(
                "`username` [{}] must be 1 to 15 characters of A-Z a-z 0-9 _",
                u.username
            ))
        })?;
        if let Some(other) = usernames.insert(username.canonical(), id)
            && other != id
        {
            return Err(c.err(format!(
                "username `{username}` belongs to another user ({other})"
            )));
        }
        let name = u.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 50 {
            return Err(c.err("`name` must be 1 to 50 characters"));
        }
        if let Some(vt) = &u.verified_type
            && !["none", "blue", "business", "government"].contains(&vt.as_str())
        {
            return Err(c.err(format!(
                "`verified_type` [{vt}] is not one of none, blue, business, government"
            )));
        }
        let password_hash = match (u.password, u.password_hash) {
            (Some(_), Some(_)) => {
                return Err(c.err("`password` and `password_hash` cannot both be given"));
            }
            (None, Some(h)) => Some(phc_hash(&c, h)?),
            (p, None) => match p {
                Some(p) if p.is_empty() || p.len() > MAX_PASSWORD_BYTES => {
                    return Err(c.err(format!(
                        "`password` must be 1 to {MAX_PASSWORD_BYTES} bytes"
                    )));
                }
                Some(p) => Some(hasher.hash(p).await.map_err(|e| c.err(e.to_string()))?),
                None => None,
            },
        };
        if let Some(p) = &u.pinned_tweet_id {
            pinned.push((c.record.clone(), id, c.id("pinned_tweet_id", p)?));
        }
        user_ids.insert(id);
        let metrics = u.public_metrics.unwrap_or(UserMetricsIn {
            listed_count: None,
            like_count: None,
        });
        if let Some(e) = &u.confirmed_email
            && !plausible_email(e)
        {
            return Err(c.err(format!(
                "`confirmed_email` [{e}] is not an email address such as alice@example.com"
            )));
        }
        let (withheld_in, _) = c.withheld(u.withheld, "user")?;
        if u.admin == Some(true) {
            admins.push(id);
        }
        users.push(UserRecord {
            id,
            username,
            name,
            password_hash,
            description: u.description.unwrap_or_default(),
            location: u.location,
            url: u.url,
            profile_image_url: u.profile_image_url,
            verified: u.verified.unwrap_or(false),
            verified_type: u.verified_type,
            protected: u.protected.unwrap_or(false),
            pinned_tweet_id: None,
            profile_banner_url: u.profile_banner_url,
            listed_count: metrics.listed_count.unwrap_or(0).max(0),
            like_count: metrics.like_count.unwrap_or(0).max(0),
            created_at: c
                .time("created_at", u.created_at.as_deref())?
                .unwrap_or(now),
            email: u.confirmed_email,
            withheld_in,
        });
    }

    // Tweets: ids and authors first, references after, so a file may list them in any order.
    let mut tweet_author: HashMap<Snowflake, Snowflake> = existing
        .tweets
        .iter()
        .map(|t| (t.id, t.author_id))
        .collect();
    let mut conversation: HashMap<Snowflake, Snowflake> = existing
        .tweets
        .iter()
        .map(|t| (t.id, t.conversation_id))
        .collect();
    let mut parsed: Vec<(Ctx, TweetIn, Snowflake, Snowflake)> = Vec::with_capacity(tweets_in.len());
    let mut seen_tweets = HashSet::new();
    for (record, t) in tweets_in {
        let c = Ctx { record };
        let id = c.id("id", &t.id)?;
        if !seen_tweets.insert(id) {
            return Err(c.err("this id appears twice in the file"));
        }
        let author = c.id("author_id", &t.author_id)?;
        if !user_ids.contains(&author) {
            return Err(c.err(format!(
                "`author_id` {author} is not a user in the file or the store"
            )));
        }
        tweet_author.insert(id, author);
        parsed.push((c, t, id, author));
    }
    let mut tweets = Vec::with_capacity(parsed.len());
    for (c, t, id, author) in parsed {
        let len = t.text.chars().count();
        // A quote needs no words of its own (POST /2/tweets takes a quote without text).
        let quotes = t
            .referenced_tweets
            .iter()
            .flatten()
            .any(|r| r.kind == "quoted");
        if (len == 0 && !quotes) || len > MAX_IMPORT_TEXT {
            return Err(c.err(format!(
                "`text` must be 1 to {MAX_IMPORT_TEXT} characters (or empty in a quote)"
            )));
        }
        let (withheld_in, withheld_copyright) = c.withheld(t.withheld, "tweet")?;
        let (mut replied, mut quoted, mut retweeted) = (None, None, None);
        for r in t.referenced_tweets.iter().flatten() {
            let rid = c.id("referenced_tweets.id", &r.id)?;
            if !tweet_author.contains_key(&rid) {
                return Err(c.err(format!(
                    "referenced tweet {rid} is not a tweet in the file or the store"
                )));
            }
            let slot = match r.kind.as_str() {
                "replied_to" => &mut replied,
                "quoted" => &mut quoted,
                "retweeted" => &mut retweeted,
                other => return Err(c.err(format!(
                    "referenced_tweets type [{other}] is not one of replied_to, quoted, retweeted"
                ))),
            };
            if slot.replace(rid).is_some() {
                return Err(c.err(format!("two `{}` references", r.kind)));
            }
        }
        let in_reply_to_user = match (&t.in_reply_to_user_id, replied) {
            (Some(u), _) => {
                let u = c.id("in_reply_to_user_id", u)?;
                if !user_ids.contains(&u) {
                    return Err(c.err(format!(
                        "`in_reply_to_user_id` {u} is not a user in the file or the store"
                    )));
                }
                Some(u)
            }
            (None, Some(r)) => tweet_author.get(&r).copied(),
            (None, None) => None,
        };
        let conv = match &t.conversation_id {
            Some(cv) => c.id("conversation_id", cv)?,
            None => replied
                .and_then(|r| conversation.get(&r).copied())
                .unwrap_or(id),
        };
        conversation.insert(id, conv);
        let created_at = match c.time("created_at", t.created_at.as_deref())? {
            Some(ms) => ms,
            // A snowflake carries its own time.
            None => (id.get() >> 22) + roost_domain::id::TWITTER_EPOCH_MS,
        };
        if let Some(h) = &t.edit_history_tweet_ids
            && h.iter().any(|x| *x != t.id)
        {
            return Err(c.err("edited tweets are not supported: `edit_history_tweet_ids` may only list the tweet itself"));
        }
        let reply_settings = t.reply_settings.unwrap_or_else(|| "everyone".into());
        if ![
            "everyone",
            "mentionedUsers",
            "following",
            "subscribers",
            "verified",
        ]
        .contains(&reply_settings.as_str())
        {
            return Err(c.err(format!("`reply_settings` [{reply_settings}] is not one of everyone, mentionedUsers, following, subscribers, verified")));
        }
        let m = t.public_metrics.unwrap_or(TweetMetricsIn {
            like_count: None,
            bookmark_count: None,
            impression_count: None,
        });
        tweets.push(TweetRecord {
            id,
            author_id: author,
            text: t.text,
            created_at,
            conversation_id: conv,
            in_reply_to_user_id: in_reply_to_user,
            replied_to_id: replied,
            quoted_id: quoted,
            retweeted_id: retweeted,
            lang: t.lang,
            reply_settings,
            source: t.source,
            possibly_sensitive: t.possibly_sensitive.unwrap_or(false),
            like_count: m.like_count.unwrap_or(0).max(0),
            bookmark_count: m.bookmark_count.unwrap_or(0).max(0),
            impression_count: m.impression_count.unwrap_or(0).max(0),
            withheld_in,
            withheld_copyright,
        });
    }
    for (record, user, tweet) in pinned {
        if tweet_author.get(&tweet) != Some(&user) {
            let c = Ctx { record };
            return Err(c.err(format!(
                "`pinned_tweet_id` {tweet} is not a tweet by this user"
            )));
        }
        if let Some(u) = users.iter_mut().find(|u| u.id == user) {
            u.pinned_tweet_id = Some(tweet);
        }
    }

    let mut follows = Vec::with_capacity(follows_in.len());
    let mut seen_follows = HashSet::new();
    for (i, (_, f)) in follows_in.into_iter().enumerate() {
        let c = Ctx {
            record: label("follows", i, None),
        };
        let source = c.id("source_user_id", &f.source_user_id)?;
        let target = c.id("target_user_id", &f.target_user_id)?;
        for u in [source, target] {
            if !user_ids.contains(&u) {
                return Err(c.err(format!("user {u} is not a user in the file or the store")));
            }
        }
        if source == target {
            return Err(c.err("a user cannot follow themselves"));
        }
        if !seen_follows.insert((source, target)) {
            return Err(c.err("this follow appears twice in the file"));
        }
        let created_at = c
            .time("created_at", f.created_at.as_deref())?
            .unwrap_or(now);
        follows.push(FollowRecord {
            source_user_id: source,
            target_user_id: target,
            created_at,
            pending: f.pending.unwrap_or(false),
        });
    }

    // Topics before the Spaces that name them.
    let mut topic_ids: HashSet<String> = super::topics::CATALOGUE
        .iter()
        .map(|t| t.0.to_owned())
        .chain(existing.topics.iter().map(|t| t.id.clone()))
        .collect();
    let mut topics = Vec::with_capacity(topics_in.len());
    let mut seen_topics = HashSet::new();
    for (record, t) in topics_in {
        let c = Ctx { record };
        if t.id.is_empty() || t.id.chars().count() > 64 || t.id.contains(',') {
            return Err(c.err("`id` must be 1 to 64 characters without commas"));
        }
        if !seen_topics.insert(t.id.clone()) {
            return Err(c.err("this id appears twice in the file"));
        }
        let name = t.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(c.err("`name` must be 1 to 100 characters"));
        }
        if t.description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 500)
        {
            return Err(c.err("`description` must be at most 500 characters"));
        }
        topic_ids.insert(t.id.clone());
        topics.push(TopicRecord {
            id: t.id,
            name,
            description: t.description,
        });
    }

    let mut spaces = Vec::with_capacity(spaces_in.len());
    let mut seen_spaces = HashSet::new();
    for (record, s) in spaces_in {
        let c = Ctx { record };
        if !(1..=13).contains(&s.id.len()) || !s.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(c.err(format!(
                "`id` [{}] must be 1 to 13 characters of A-Z a-z 0-9",
                s.id
            )));
        }
        if !seen_spaces.insert(s.id.clone()) {
            return Err(c.err("this id appears twice in the file"));
        }
        if !["live", "scheduled", "ended"].contains(&s.state.as_str()) {
            return Err(c.err(format!(
                "`state` [{}] is not one of live, scheduled, ended",
                s.state
            )));
        }
        let creator = c.id("creator_id", &s.creator_id)?;
        let hosts = c.ids("host_ids", s.host_ids.as_ref())?;
        let speakers = c.ids("speaker_ids", s.speaker_ids.as_ref())?;
        let invited = c.ids("invited_user_ids", s.invited_user_ids.as_ref())?;
        if let Some(u) = std::iter::once(&creator)
            .chain(&hosts)
            .chain(&speakers)
            .chain(&invited)
            .find(|u| !user_ids.contains(u))
        {
            return Err(c.err(format!("user {u} is not a user in the file or the store")));
        }
        let space_topics = s.topic_ids.unwrap_or_default();
        if let Some(t) = space_topics.iter().find(|t| !topic_ids.contains(*t)) {
            return Err(c.err(format!(
                "topic {t} is not a topic of roost's catalogue, the file or the store"
            )));
        }
        spaces.push(SpaceRecord {
            id: s.id.clone(),
            state: s.state,
            title: s.title,
            creator_id: creator,
            host_ids: if hosts.is_empty() {
                vec![creator]
            } else {
                hosts
            },
            speaker_ids: speakers,
            invited_user_ids: invited,
            topic_ids: space_topics,
            lang: s.lang,
            is_ticketed: s.is_ticketed.unwrap_or(false),
            participant_count: s.participant_count.unwrap_or(0).max(0),
            subscriber_count: s.subscriber_count.unwrap_or(0).max(0),
            created_at: c
                .time("created_at", s.created_at.as_deref())?
                .unwrap_or(now),
            updated_at: c.time("updated_at", s.updated_at.as_deref())?,
            started_at: c.time("started_at", s.started_at.as_deref())?,
            ended_at: c.time("ended_at", s.ended_at.as_deref())?,
            scheduled_start: c.time("scheduled_start", s.scheduled_start.as_deref())?,
        });
    }
    let mut auth = parse_auth(&root, &user_ids, existing_auth)?;
    auth.admins = admins;
    Ok(ImportBatch {
        users,
        tweets,
        follows,
        spaces,
        topics,
        auth,
    })
}

/// An export's `password_hash`: an argon2 PHC string, which sign-in can check.
fn phc_hash(c: &Ctx, h: String) -> Result<String, ImportError> {
    let ok = argon2::password_hash::PasswordHash::new(&h).is_ok_and(|p| {
        [
            argon2::ARGON2ID_IDENT,
            argon2::ARGON2I_IDENT,
            argon2::ARGON2D_IDENT,
        ]
        .contains(&p.algorithm)
    });
    if ok {
        Ok(h)
    } else {
        Err(c.err("`password_hash` is not an argon2 PHC string ($argon2id$v=19$...)"))
    }
}

/// An App's portal fields from an export; absent ones take the client type's defaults.
fn app_profile(
    c: &Ctx,
    client_type: ClientType,
    a: &AppIn,
) -> Result<roost_store::AppProfile, ImportError> {
    let kind = match a.kind.as_deref() {
        None => roost_domain::AppKind::of_client_type(client_type),
        Some(k) => match roost_domain::AppKind::parse(k) {
            Some(kind) if kind.client_type() == client_type => kind,
            _ => {
                return Err(c.err(format!(
                    "`type` {k} is not an App type of a {client_type} client (native and single_page are public, web is confidential)"
                )));
            }
        },
    };
    let description = roost_domain::parse_description(a.description.as_deref().unwrap_or(""))
        .map_err(|e| c.err(format!("`description` {e}")))?;
    let website_url = a
        .website_url
        .as_deref()
        .map(roost_domain::WebsiteUrl::parse)
        .transpose()
        .map_err(|e| c.err(format!("`website_url`: {e}")))?;
    let hint = |name: &str, h: &Option<String>| match h {
        Some(h) if h.chars().count() > 8 || !h.bytes().all(|b| b.is_ascii_graphic()) => Err(c.err(
            format!("`{name}` must be at most 8 printable ASCII characters"),
        )),
        other => Ok(other.clone()),
    };
    Ok(roost_store::AppProfile {
        kind,
        description,
        website_url,
        client_secret_hint: hint("client_secret_hint", &a.client_secret_hint)?,
        api_secret_hint: hint("api_secret_hint", &a.api_secret_hint)?,
    })
}

/// The export's Projects, Apps (with their app-context tokens) and grants (with their tokens).
fn parse_auth(
    root: &serde_json::Map<String, Value>,
    user_ids: &HashSet<Snowflake>,
    existing: &AuthState,
) -> Result<AuthState, ImportError> {
    let projects_in: Vec<(String, ProjectIn)> = records("projects", root)?;
    let apps_in: Vec<(String, AppIn)> = records("apps", root)?;
    let grants_in: Vec<(String, GrantIn)> = records("grants", root)?;

    let mut project_names: HashMap<Snowflake, String> = existing
        .projects
        .iter()
        .map(|p| (p.id, p.name.clone()))
        .collect();
    let mut projects = Vec::with_capacity(projects_in.len());
    let mut seen = HashSet::new();
    for (record, p) in projects_in {
        let c = Ctx { record };
        let id = c.id("id", &p.id)?;
        if !seen.insert(id) {
            return Err(c.err("this id appears twice in the file"));
        }
        if p.name.trim() != p.name || p.name.is_empty() || p.name.chars().count() > 100 {
            return Err(c.err("`name` must be 1 to 100 characters, without spaces around"));
        }
        project_names.insert(id, p.name.clone());
        let owner_id = match p.owner_id.as_deref() {
            None => None,
            Some(u) => {
                let u = c.id("owner_id", u)?;
                if !user_ids.contains(&u) {
                    return Err(c.err(format!(
                        "`owner_id` {u} is not a user in the file or the store"
                    )));
                }
                Some(u)
            }
        };
        projects.push(ProjectRecord {
            id,
            name: p.name,
            created_at: c.time("created_at", p.created_at.as_deref())?.unwrap_or(0),
            owner_id,
        });
    }

    let mut app_ids: HashSet<Snowflake> = existing.apps.iter().map(|a| a.id).collect();
    let mut apps = Vec::with_capacity(apps_in.len());
    let mut app_tokens = Vec::new();
    let mut seen = HashSet::new();
    for (record, a) in apps_in {
        let c = Ctx { record };
        let id = c.id("id", &a.id)?;
        if !seen.insert(id) {
            return Err(c.err("this id appears twice in the file"));
        }
        let project_id = c.id("project_id", &a.project_id)?;
        let Some(project_name) = project_names.get(&project_id).cloned() else {
            return Err(c.err(format!(
                "`project_id` {project_id} is not a project in the file or the store"
            )));
        };
        if a.name.trim() != a.name || a.name.is_empty() || a.name.chars().count() > 100 {
            return Err(c.err("`name` must be 1 to 100 characters, without spaces around"));
        }
        let client_id =
            ClientId::parse(&a.client_id).map_err(|_| c.err("`client_id` is not a client id"))?;
        let client_type = ClientType::parse(&a.client_type).ok_or_else(|| {
            c.err(format!(
                "`client_type` [{}] is not one of confidential, public",
                a.client_type
            ))
        })?;
        let profile = app_profile(&c, client_type, &a)?;
        let client_secret_hash = match (client_type, a.client_secret_sha256) {
            (ClientType::Confidential, Some(h)) => Some(c.digest("client_secret_sha256", &h)?),
            (ClientType::Confidential, None) => {
                return Err(c.err("a confidential App needs `client_secret_sha256`"));
            }
            (ClientType::Public, Some(_)) => {
                return Err(c.err("a public App has no `client_secret_sha256`"));
            }
            (ClientType::Public, None) => None,
        };
        if a.api_key.is_empty()
            || a.api_key.len() > 128
            || !a.api_key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(c.err("`api_key` must be 1 to 128 printable ASCII characters"));
        }
        if a.callback_urls.is_empty() {
            return Err(c.err("`callback_urls` must list at least one URL"));
        }
        let mut callbacks = Vec::with_capacity(a.callback_urls.len());
        for u in &a.callback_urls {
            let cb =
                RedirectUri::parse(u).map_err(|e| c.err(format!("callback URL [{u}]: {e}")))?;
            if callbacks.contains(&cb) {
                return Err(c.err(format!("callback URL [{u}] is listed twice")));
            }
            callbacks.push(cb);
        }
        let bearer_generation = a.bearer_generation.unwrap_or(0);
        if bearer_generation < 0 {
            return Err(c.err("`bearer_generation` must not be negative"));
        }
        for t in a.tokens.into_iter().flatten() {
            app_tokens.push(AppTokenRecord {
                app_id: id,
                token: c.access("tokens[]", t)?,
            });
        }
        let auto_consent_user_id = match a.auto_consent_user_id.as_deref() {
            None => None,
            Some(u) => {
                let u = c.id("auto_consent_user_id", u)?;
                if !user_ids.contains(&u) {
                    return Err(c.err(format!(
                        "`auto_consent_user_id` {u} is not a user in the file or the store"
                    )));
                }
                Some(u)
            }
        };
        app_ids.insert(id);
        apps.push(AppRecord {
            id,
            project_id,
            project_name,
            name: a.name,
            client_id,
            client_type,
            client_secret_hash,
            api_key: a.api_key,
            api_secret_hash: c.digest("api_secret_sha256", &a.api_secret_sha256)?,
            bearer_generation,
            callbacks,
            created_at: c.time("created_at", a.created_at.as_deref())?.unwrap_or(0),
            auto_consent_user_id,
            profile,
        });
    }

    let mut grants = Vec::with_capacity(grants_in.len());
    let mut seen = HashSet::new();
    for (record, g) in grants_in {
        let c = Ctx { record };
        let id = c.id("id", &g.id)?;
        if !seen.insert(id) {
            return Err(c.err("this id appears twice in the file"));
        }
        let app_id = c.id("app_id", &g.app_id)?;
        if !app_ids.contains(&app_id) {
            return Err(c.err(format!(
                "`app_id` {app_id} is not an App in the file or the store"
            )));
        }
        let user_id = c.id("user_id", &g.user_id)?;
        if !user_ids.contains(&user_id) {
            return Err(c.err(format!(
                "`user_id` {user_id} is not a user in the file or the store"
            )));
        }
        let scopes =
            ScopeNames::parse_allow_empty(&g.scope).map_err(|e| c.err(format!("`scope`: {e}")))?;
        let access_tokens = g
            .access_tokens
            .into_iter()
            .flatten()
            .map(|t| c.access("access_tokens[]", t))
            .collect::<Result<_, _>>()?;
        let refresh_tokens = g
            .refresh_tokens
            .into_iter()
            .flatten()
            .map(|r| {
                Ok(StoredRefreshToken {
                    hash: c.digest("refresh_tokens[].sha256", &r.sha256)?,
                    created_at: c.required_time("refresh_tokens[].created_at", &r.created_at)?,
                    expires_at: c.required_time("refresh_tokens[].expires_at", &r.expires_at)?,
                    used_at: c.time("refresh_tokens[].used_at", r.used_at.as_deref())?,
                    successor: r
                        .successor_sha256
                        .map(|s| c.digest("refresh_tokens[].successor_sha256", &s))
                        .transpose()?,
                })
            })
            .collect::<Result<_, ImportError>>()?;
        grants.push(GrantRecord {
            id,
            app_id,
            user_id,
            scopes,
            created_at: c.required_time("created_at", &g.created_at)?,
            revoked_at: c.time("revoked_at", g.revoked_at.as_deref())?,
            access_tokens,
            refresh_tokens,
        });
    }
    Ok(AuthState {
        admins: Vec::new(),
        projects,
        apps,
        app_tokens,
        grants,
    })
}

/// An address of the form `local@domain`: roost sends no mail, so this only keeps obvious
/// mistakes (a name, a missing domain) out of `confirmed_email`.
fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}
