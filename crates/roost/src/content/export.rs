//! The export document (`roost export`): the whole store as an import file.
//!
//! Users, tweets, follows, spaces and topics in the import format (`import.rs`), plus the
//! extension only exports carry: users' `password_hash`, `projects`, `apps` and `grants` with
//! their tokens. Secrets and tokens appear only as the SHA-256 digests the store holds
//! (unpadded base64url), never in the clear; still, a digest of a token is what the server checks,
//! so an export is as sensitive as the database file.
//!
//! Deterministic: every array is ordered by id (follows by source and target, tokens by creation
//! and digest), keys come in a fixed order, and importing an export into an empty store and
//! exporting again gives the same bytes.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roost_domain::{Snowflake, TokenHash};
use roost_store::{AuthState, Content, Store, StoreError, StoredAccessToken};
use serde::Serialize;

use crate::api::render::timestamp;

#[derive(Serialize)]
struct Document {
    users: Vec<UserOut>,
    tweets: Vec<TweetOut>,
    follows: Vec<FollowOut>,
    spaces: Vec<SpaceOut>,
    topics: Vec<TopicOut>,
    projects: Vec<ProjectOut>,
    apps: Vec<AppOut>,
    grants: Vec<GrantOut>,
}

#[derive(Serialize)]
struct UserOut {
    id: String,
    username: String,
    name: String,
    created_at: String,
    description: String,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified_type: Option<String>,
    protected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_banner_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_tweet_id: Option<String>,
    public_metrics: UserMetricsOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmed_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    withheld: Option<WithheldOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    /// An admin of the developer portal.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    admin: bool,
}

#[derive(Serialize)]
struct UserMetricsOut {
    listed_count: i64,
    like_count: i64,
}

#[derive(Serialize)]
struct WithheldOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    copyright: Option<bool>,
    country_codes: Vec<String>,
    scope: &'static str,
}

#[derive(Serialize)]
struct RefOut {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
}

#[derive(Serialize)]
struct TweetOut {
    id: String,
    text: String,
    author_id: String,
    created_at: String,
    conversation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to_user_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    referenced_tweets: Vec<RefOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
    reply_settings: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    possibly_sensitive: bool,
    public_metrics: TweetMetricsOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    withheld: Option<WithheldOut>,
}

#[derive(Serialize)]
struct TweetMetricsOut {
    like_count: i64,
    bookmark_count: i64,
    impression_count: i64,
}

#[derive(Serialize)]
struct FollowOut {
    source_user_id: String,
    target_user_id: String,
    created_at: String,
    pending: bool,
}

#[derive(Serialize)]
struct SpaceOut {
    id: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    creator_id: String,
    host_ids: Vec<String>,
    speaker_ids: Vec<String>,
    invited_user_ids: Vec<String>,
    topic_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
    is_ticketed: bool,
    participant_count: i64,
    subscriber_count: i64,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_start: Option<String>,
}

#[derive(Serialize)]
struct TopicOut {
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Serialize)]
struct ProjectOut {
    id: String,
    name: String,
    created_at: String,
    /// The user who manages it in the developer portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_id: Option<String>,
}

#[derive(Serialize)]
struct AppOut {
    id: String,
    project_id: String,
    name: String,
    client_id: String,
    client_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_sha256: Option<String>,
    api_key: String,
    api_secret_sha256: String,
    bearer_generation: i64,
    callback_urls: Vec<String>,
    created_at: String,
    /// The user the App's test-only auto-consent signs in as, when it is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_consent_user_id: Option<String>,
    /// X's App type (`native`, `single_page`, `web`), when it is not the client type's default.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    website_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_secret_hint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tokens: Vec<AccessOut>,
}

#[derive(Serialize)]
struct AccessOut {
    sha256: String,
    scope: String,
    created_at: String,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
}

#[derive(Serialize)]
struct RefreshOut {
    sha256: String,
    created_at: String,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    successor_sha256: Option<String>,
}

#[derive(Serialize)]
struct GrantOut {
    id: String,
    app_id: String,
    user_id: String,
    scope: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    access_tokens: Vec<AccessOut>,
    refresh_tokens: Vec<RefreshOut>,
}

/// What an export holds, by kind (`roost export --json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExportCounts {
    pub users: usize,
    pub tweets: usize,
    pub follows: usize,
    pub spaces: usize,
    pub topics: usize,
    pub projects: usize,
    pub apps: usize,
    pub grants: usize,
}

fn digest(h: &TokenHash) -> String {
    URL_SAFE_NO_PAD.encode(h.as_bytes())
}

fn access(t: &StoredAccessToken) -> AccessOut {
    AccessOut {
        sha256: digest(&t.hash),
        scope: t.scopes.to_string(),
        created_at: timestamp(t.created_at),
        expires_at: timestamp(t.expires_at),
        revoked_at: t.revoked_at.map(timestamp),
    }
}

fn ids(v: &[Snowflake]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

/// The whole store as an export document (pretty-printed JSON with a final newline).
pub async fn export(store: &dyn Store) -> Result<(String, ExportCounts), StoreError> {
    let content = store.load_content().await?;
    let auth = store.load_auth().await?;
    Ok(render(content, auth))
}

/// Renders what the store holds as an export document.
pub fn render(mut c: Content, mut auth: AuthState) -> (String, ExportCounts) {
    c.users.sort_by_key(|u| u.id);
    c.tweets.sort_by_key(|t| t.id);
    c.follows
        .sort_by_key(|f| (f.source_user_id, f.target_user_id));
    c.spaces.sort_by(|a, b| a.id.cmp(&b.id));
    c.topics.sort_by(|a, b| a.id.cmp(&b.id));
    auth.projects.sort_by_key(|p| p.id);
    auth.apps.sort_by_key(|a| a.id);
    auth.grants.sort_by_key(|g| g.id);
    let user_ids: HashSet<Snowflake> = c.users.iter().map(|u| u.id).collect();
    let tweet_ids: HashSet<Snowflake> = c.tweets.iter().map(|t| t.id).collect();
    let counts = ExportCounts {
        users: c.users.len(),
        tweets: c.tweets.len(),
        follows: c.follows.len(),
        spaces: c.spaces.len(),
        topics: c.topics.len(),
        projects: auth.projects.len(),
        apps: auth.apps.len(),
        grants: auth.grants.len(),
    };
    let withheld = |codes: &[String], copyright: Option<bool>, scope| {
        (!codes.is_empty()).then(|| WithheldOut {
            copyright,
            country_codes: codes.to_vec(),
            scope,
        })
    };
    let doc = Document {
        users: c
            .users
            .into_iter()
            .map(|u| UserOut {
                id: u.id.to_string(),
                username: u.username.to_string(),
                name: u.name,
                created_at: timestamp(u.created_at),
                description: u.description,
                verified: u.verified,
                verified_type: u.verified_type,
                protected: u.protected,
                location: u.location,
                url: u.url,
                profile_image_url: u.profile_image_url,
                profile_banner_url: u.profile_banner_url,
                pinned_tweet_id: u.pinned_tweet_id.map(|t| t.to_string()),
                public_metrics: UserMetricsOut {
                    listed_count: u.listed_count,
                    like_count: u.like_count,
                },
                confirmed_email: u.email,
                withheld: withheld(&u.withheld_in, None, "user"),
                admin: auth.admins.contains(&u.id),
                password_hash: u.password_hash,
            })
            .collect(),
        tweets: c
            .tweets
            .into_iter()
            .map(|t| {
                // A reference to a tweet deleted since (a reply outliving its parent) is left
                // out: the import would refuse it, and the API shows it nowhere.
                let refs = [
                    ("replied_to", t.replied_to_id),
                    ("quoted", t.quoted_id),
                    ("retweeted", t.retweeted_id),
                ]
                .into_iter()
                .filter_map(|(kind, id)| {
                    id.filter(|id| tweet_ids.contains(id)).map(|id| RefOut {
                        kind,
                        id: id.to_string(),
                    })
                })
                .collect();
                TweetOut {
                    id: t.id.to_string(),
                    text: t.text,
                    author_id: t.author_id.to_string(),
                    created_at: timestamp(t.created_at),
                    conversation_id: t.conversation_id.to_string(),
                    in_reply_to_user_id: t
                        .in_reply_to_user_id
                        .filter(|u| user_ids.contains(u))
                        .map(|u| u.to_string()),
                    referenced_tweets: refs,
                    lang: t.lang,
                    reply_settings: t.reply_settings,
                    source: t.source,
                    possibly_sensitive: t.possibly_sensitive,
                    public_metrics: TweetMetricsOut {
                        like_count: t.like_count,
                        bookmark_count: t.bookmark_count,
                        impression_count: t.impression_count,
                    },
                    withheld: withheld(&t.withheld_in, Some(t.withheld_copyright), "tweet"),
                }
            })
            .collect(),
        follows: c
            .follows
            .into_iter()
            .map(|f| FollowOut {
                source_user_id: f.source_user_id.to_string(),
                target_user_id: f.target_user_id.to_string(),
                created_at: timestamp(f.created_at),
                pending: f.pending,
            })
            .collect(),
        spaces: c
            .spaces
            .into_iter()
            .map(|s| SpaceOut {
                id: s.id,
                state: s.state,
                title: s.title,
                creator_id: s.creator_id.to_string(),
                host_ids: ids(&s.host_ids),
                speaker_ids: ids(&s.speaker_ids),
                invited_user_ids: ids(&s.invited_user_ids),
                topic_ids: s.topic_ids,
                lang: s.lang,
                is_ticketed: s.is_ticketed,
                participant_count: s.participant_count,
                subscriber_count: s.subscriber_count,
                created_at: timestamp(s.created_at),
                updated_at: s.updated_at.map(timestamp),
                started_at: s.started_at.map(timestamp),
                ended_at: s.ended_at.map(timestamp),
                scheduled_start: s.scheduled_start.map(timestamp),
            })
            .collect(),
        topics: c
            .topics
            .into_iter()
            .map(|t| TopicOut {
                id: t.id,
                name: t.name,
                description: t.description,
            })
            .collect(),
        projects: auth
            .projects
            .into_iter()
            .map(|p| ProjectOut {
                id: p.id.to_string(),
                name: p.name,
                created_at: timestamp(p.created_at),
                owner_id: p.owner_id.map(|o| o.to_string()),
            })
            .collect(),
        apps: auth
            .apps
            .into_iter()
            .map(|a| AppOut {
                id: a.id.to_string(),
                project_id: a.project_id.to_string(),
                name: a.name,
                client_id: a.client_id.to_string(),
                client_type: a.client_type.as_str(),
                client_secret_sha256: a.client_secret_hash.as_ref().map(digest),
                api_key: a.api_key,
                api_secret_sha256: digest(&a.api_secret_hash),
                bearer_generation: a.bearer_generation,
                callback_urls: a.callbacks.iter().map(|c| c.as_str().to_owned()).collect(),
                created_at: timestamp(a.created_at),
                auto_consent_user_id: a.auto_consent_user_id.map(|u| u.to_string()),
                kind: (a.profile.kind != roost_domain::AppKind::of_client_type(a.client_type))
                    .then(|| a.profile.kind.as_str()),
                description: a.profile.description,
                website_url: a.profile.website_url.map(|w| w.as_str().to_owned()),
                client_secret_hint: a.profile.client_secret_hint,
                api_secret_hint: a.profile.api_secret_hint,
                tokens: auth
                    .app_tokens
                    .iter()
                    .filter(|t| t.app_id == a.id)
                    .map(|t| access(&t.token))
                    .collect(),
            })
            .collect(),
        grants: auth
            .grants
            .into_iter()
            .map(|g| GrantOut {
                id: g.id.to_string(),
                app_id: g.app_id.to_string(),
                user_id: g.user_id.to_string(),
                scope: g.scopes.to_string(),
                created_at: timestamp(g.created_at),
                revoked_at: g.revoked_at.map(timestamp),
                access_tokens: g.access_tokens.iter().map(access).collect(),
                refresh_tokens: g
                    .refresh_tokens
                    .iter()
                    .map(|r| RefreshOut {
                        sha256: digest(&r.hash),
                        created_at: timestamp(r.created_at),
                        expires_at: timestamp(r.expires_at),
                        used_at: r.used_at.map(timestamp),
                        successor_sha256: r.successor.as_ref().map(digest),
                    })
                    .collect(),
            })
            .collect(),
    };
    // Serializing plain structs of strings, numbers and booleans cannot fail.
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    (text, counts)
}
