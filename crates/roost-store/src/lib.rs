//! roost's storage.
//!
//! One [`Store`] trait, implemented once per engine with SQL written for that engine (the
//! atuin pattern: plain queries, no generic-over-database bounds). SQLite is the default; the
//! PostgreSQL migrations are kept in lock-step (same versions, same tables) so that the
//! PostgreSQL implementation is the same schema, not a rewrite.
//!
//! The trait is shaped by flows, not tables: anything that must be atomic (redeeming a code,
//! rotating a refresh token) is one method that runs in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use roost_domain::{
    AppKind, ClientId, ClientType, RedirectUri, ScopeNames, ScopeSet, SnapshotName, Snowflake,
    TokenHash, Username, WebsiteUrl,
};

pub mod content;
mod postgres;
mod rate;
mod sqlite;

pub use content::{
    Content, FollowRecord, ImportBatch, ImportReport, SpaceRecord, TopicRecord, TweetRecord,
};
pub use postgres::{CLEANUP_LOCK_KEY, DEFAULT_POOL_SIZE, PgStore};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the string names it (`"username"`, `"client_id"`, ...).
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("the database cannot be opened: {0}")]
    Open(String),
    /// Data that breaks a rule the database enforces, described for the person who sent it.
    #[error("{0}")]
    Invalid(String),
    /// The database cannot be reached, or did not answer in time: nothing was written, and the
    /// same call may succeed later. Every surface answers it with a 503, never a 500.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A record the change needs does not exist; the string names it (`"project"`).
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else if is_unstorable_text(&e) {
            StoreError::Invalid(
                "a text value holds a NUL character, which the database cannot store".to_owned(),
            )
        } else {
            StoreError::Other(e.into())
        }
    }
}

/// PostgreSQL refusing a text value it cannot hold: NUL (SQLSTATE 22021), or a character its
/// encoding lacks (22P05). The value came from whoever sent it, so it is their error.
fn is_unstorable_text(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().is_some_and(|c| matches!(&*c, "22021" | "22P05")))
}

/// Whether an error says the database could not be reached or is going away, rather than that
/// the statement was wrong: no connection in time, a broken connection, or a server that is
/// shutting down or starting (PostgreSQL's SQLSTATE classes 08 and 57P). On PostgreSQL also
/// what the store's own bounds end a call with (`statement_timeout`: 57014, `lock_timeout`:
/// 55P03), a server out of connections or resources (class 53), and a transaction the server
/// rolled back to break a deadlock or a serialization conflict (40001, 40P01): in each case
/// nothing was written, and the same call may succeed a moment later.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLite's codes are numbers; only PostgreSQL's five-character SQLSTATEs are meant.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.len() == 5
                && (c.starts_with("08")
                    || c.starts_with("57P")
                    || c.starts_with("53")
                    || matches!(&*c, "57014" | "55P03" | "40001" | "40P01"))
        }),
        _ => false,
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(e.into())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a store call waits for a connection or a lock unless told otherwise.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the store a database URL names: `sqlite://PATH` (created if missing, mode 0600) or
/// `postgres://...` / `postgresql://...` (see [`PgStore::open_with`]).
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    open_with(url, DEFAULT_TIMEOUT).await
}

/// [`open`], with `timeout` bounding every wait for a connection or a lock.
pub async fn open_with(
    url: &str,
    timeout: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store = SqliteStore::open_with(path, timeout).await?;
        Ok(std::sync::Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::open_with(url, timeout).await?;
        Ok(std::sync::Arc::new(store))
    } else {
        Err(StoreError::Open(format!(
            "unsupported database URL `{}`: use sqlite://PATH or postgres://...",
            url.split('@').next_back().unwrap_or(url)
        )))
    }
}

/// An admin token to store: only its digest.
#[derive(Debug, Clone)]
pub struct NewAdminToken {
    pub id: Snowflake,
    pub hash: TokenHash,
    pub label: String,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenRecord {
    pub id: Snowflake,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub id: Snowflake,
    /// Used when the project named `project_name` does not exist yet.
    pub new_project_id: Snowflake,
    pub project_name: String,
    pub name: String,
    pub client_id: ClientId,
    pub client_type: ClientType,
    pub client_secret_hash: Option<TokenHash>,
    pub api_key: String,
    pub api_secret_hash: TokenHash,
    pub callbacks: Vec<RedirectUri>,
    /// The Project the App goes in; when set, `project_name` and `new_project_id` are unused,
    /// and a Project that does not exist is [`StoreError::NotFound`].
    pub project_id: Option<Snowflake>,
    pub profile: AppProfile,
    pub now: i64,
}

/// What the developer portal shows of an App besides its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppProfile {
    pub kind: AppKind,
    pub description: String,
    pub website_url: Option<WebsiteUrl>,
    /// The last characters of the Client Secret, so that people can tell which one they hold;
    /// the secret itself is kept only as its digest.
    pub client_secret_hint: Option<String>,
    /// The same for the API Key Secret.
    pub api_secret_hint: Option<String>,
}

impl AppProfile {
    /// An App known only by its client type (created before the portal, or by a bare import).
    pub fn of_client_type(t: ClientType) -> Self {
        AppProfile {
            kind: AppKind::of_client_type(t),
            description: String::new(),
            website_url: None,
            client_secret_hint: None,
            api_secret_hint: None,
        }
    }
}

/// An App's profile from its stored columns (shared by both stores).
pub(crate) fn profile_from_columns(
    client_type: ClientType,
    kind: Option<String>,
    description: String,
    website_url: Option<String>,
    client_secret_hint: Option<String>,
    api_secret_hint: Option<String>,
) -> Result<AppProfile> {
    let kind = match kind {
        None => AppKind::of_client_type(client_type),
        Some(k) => {
            AppKind::parse(&k).ok_or_else(|| StoreError::Other(anyhow::anyhow!("app_kind: {k}")))?
        }
    };
    Ok(AppProfile {
        kind,
        description,
        website_url: website_url.map(WebsiteUrl::from_stored),
        client_secret_hint,
        api_secret_hint,
    })
}

/// What [`Store::update_app`] changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AppChange {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(None)` clears the website.
    pub website_url: Option<Option<WebsiteUrl>>,
    /// Only between kinds of the same client type (a native App can become a single-page one).
    pub kind: Option<AppKind>,
    /// The whole list, in order; never empty.
    pub callbacks: Option<Vec<RedirectUri>>,
}

/// A Project to create.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub id: Snowflake,
    pub name: String,
    pub owner_id: Option<Snowflake>,
    pub now: i64,
}

/// An App that holds a live grant for a user: what the connected-apps page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub app_id: Snowflake,
    /// The scopes of every live grant of the App for the user, together.
    pub scopes: ScopeSet,
    /// When the oldest live grant was made.
    pub granted_at: i64,
    /// When a token of one of them was last used, as far as it was recorded.
    pub last_used_at: Option<i64>,
}

/// Requests an App made, counted in one 15-minute bucket of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    pub app_id: Snowflake,
    /// The route, as rate limits name it (`GET /2/users/:id`).
    pub endpoint: String,
    /// The bucket's start (Unix ms, a multiple of [`USAGE_BUCKET_MS`]).
    pub bucket_start: i64,
    pub count: i64,
}

/// The width of a usage bucket: X's rate-limit window.
pub const USAGE_BUCKET_MS: i64 = 15 * 60 * 1000;

/// Who holds what of an App at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppStats {
    /// Users with a live grant.
    pub active_users: i64,
    /// Unexpired, unrevoked access tokens (user and app-context).
    pub active_access_tokens: i64,
    /// Unexpired, unused refresh tokens of live grants.
    pub active_refresh_tokens: i64,
}

#[derive(Debug, Clone)]
pub struct AppRecord {
    pub id: Snowflake,
    pub project_id: Snowflake,
    pub project_name: String,
    pub name: String,
    pub client_id: ClientId,
    pub client_type: ClientType,
    pub client_secret_hash: Option<TokenHash>,
    pub api_key: String,
    pub api_secret_hash: TokenHash,
    pub bearer_generation: i64,
    pub callbacks: Vec<RedirectUri>,
    pub created_at: i64,
    pub profile: AppProfile,
    /// Test-only: the user this App's authorization requests are granted for without login or
    /// consent. `None` (the default): the browser flow as usual.
    pub auto_consent_user_id: Option<Snowflake>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Snowflake,
    pub username: Username,
    pub name: String,
    pub password_hash: Option<String>,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Snowflake,
    pub username: Username,
    pub name: String,
    pub password_hash: Option<String>,
    pub description: String,
    pub location: Option<String>,
    pub url: Option<String>,
    pub profile_image_url: Option<String>,
    pub verified: bool,
    pub verified_type: Option<String>,
    pub protected: bool,
    pub pinned_tweet_id: Option<Snowflake>,
    pub profile_banner_url: Option<String>,
    pub listed_count: i64,
    pub like_count: i64,
    pub created_at: i64,
    /// The confirmed email address (`confirmed_email`), shown only to the user's own tokens
    /// with `users.email`.
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2 codes of the countries the account is withheld in.
    pub withheld_in: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: TokenHash,
    pub grant_id: Snowflake,
    pub app_id: Snowflake,
    pub user_id: Snowflake,
    /// The scopes granted, under the names the client asked for them by.
    pub scopes: ScopeNames,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub grant_id: Snowflake,
    pub app_id: Snowflake,
    pub user_id: Snowflake,
    /// The scopes granted, under the names the client asked for them by.
    pub scopes: ScopeNames,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Token digests and lifetimes to insert when a grant issues tokens.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_hash: TokenHash,
    pub access_expires_at: i64,
    /// The scopes of this access token (a refresh may narrow them).
    pub access_scopes: ScopeSet,
    /// Present when the grant has `offline.access`.
    pub refresh: Option<(TokenHash, i64)>,
    pub now: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemOutcome {
    Issued,
    /// The code had been redeemed before: the grant it produced is now revoked.
    Replayed,
}

#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub grant_id: Snowflake,
    pub app_id: Snowflake,
    pub user_id: Snowflake,
    pub grant_scopes: ScopeSet,
    /// `grant_scopes` under the names the client asked for them by at authorization.
    pub grant_scope_names: ScopeNames,
    /// When the grant (the refresh family) began: its code was redeemed.
    pub grant_created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grant_revoked: bool,
}

/// A browser session that has not ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord {
    pub user_id: Snowflake,
    /// When the session ends unless it is used before (Unix ms).
    pub idle_expires_at: i64,
}

/// A refresh rotation: the presented token and the pair that replaces it.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub presented: TokenHash,
    /// The App that presented it; another App's token is not claimed.
    pub app_id: Snowflake,
    pub now: i64,
    pub access_hash: TokenHash,
    pub access_expires_at: i64,
    /// The new access token's scopes; `None` takes the grant's.
    pub access_scopes: Option<ScopeSet>,
    pub successor_hash: TokenHash,
    /// When the successor ends unused; never after the family's end (below).
    pub successor_expires_at: i64,
    /// How long a family may be refreshed for from its grant's creation; 0: no limit. A family
    /// past it is not claimed.
    pub family_max_age_ms: i64,
}

/// A rotation that took place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    pub grant_id: Snowflake,
    /// The grant's scopes under the names they were asked for by at authorization.
    pub grant_scope_names: ScopeNames,
}

/// The pair an earlier rotation issued, still current (see [`Store::retried_rotation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedPair {
    pub access_expires_at: i64,
    pub scopes: ScopeSet,
}

#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub app_id: Snowflake,
    /// `None` for app-context tokens from `client_credentials`.
    pub user_id: Option<Snowflake>,
    pub grant_id: Option<Snowflake>,
    pub scopes: ScopeSet,
    pub expires_at: i64,
    pub revoked: bool,
}

/// A Project as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    pub id: Snowflake,
    pub name: String,
    pub created_at: i64,
    /// The user who manages it in the developer portal; `None`: only admins (a Project made on
    /// the command line or by the admin API without an owner).
    pub owner_id: Option<Snowflake>,
}

/// An access token as stored: its digest, never the token.
#[derive(Debug, Clone)]
pub struct StoredAccessToken {
    pub hash: TokenHash,
    pub scopes: ScopeSet,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A refresh token as stored: its digest and, once rotated, its successor's.
#[derive(Debug, Clone)]
pub struct StoredRefreshToken {
    pub hash: TokenHash,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub successor: Option<TokenHash>,
}

/// A grant with its token family.
#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub id: Snowflake,
    pub app_id: Snowflake,
    pub user_id: Snowflake,
    /// The scopes under the names the client asked for them by.
    pub scopes: ScopeNames,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub access_tokens: Vec<StoredAccessToken>,
    pub refresh_tokens: Vec<StoredRefreshToken>,
}

/// An app-context access token (`client_credentials` on `/2/oauth2/token`): no grant, no user.
#[derive(Debug, Clone)]
pub struct AppTokenRecord {
    pub app_id: Snowflake,
    pub token: StoredAccessToken,
}

/// Who may act: Projects, Apps (with callbacks and secret digests), grants and their tokens.
/// Sessions, authorization codes and login throttling are not part of it: they last minutes
/// (codes) or belong to one browser (sessions).
#[derive(Debug, Clone, Default)]
pub struct AuthState {
    /// The users who are admins of the developer portal.
    pub admins: Vec<Snowflake>,
    pub projects: Vec<ProjectRecord>,
    pub apps: Vec<AppRecord>,
    pub app_tokens: Vec<AppTokenRecord>,
    pub grants: Vec<GrantRecord>,
}

/// A stored snapshot, without its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub name: SnapshotName,
    pub created_at: i64,
    /// The document's size in bytes.
    pub bytes: i64,
}

/// What deleting an App or a user removed with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The App's or the user's id.
    pub id: Snowflake,
    /// Rows removed with it, by table (every table, zeros included).
    pub removed: BTreeMap<&'static str, u64>,
}

/// What one node admitted in a shared rate-limit window since it last flushed that window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDelta {
    /// The window's key: what is limited, and for whom.
    pub key: String,
    /// When the window began, as the node knows it (Unix ms).
    pub window_start: i64,
    pub window_ms: i64,
    /// Requests admitted since the last flush; 0 only reads the window back.
    pub admitted: i64,
}

/// A shared rate-limit window as it stands after a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// The start every node adopts (Unix ms).
    pub window_start: i64,
    /// Requests admitted in it by every node, as flushed so far.
    pub count: i64,
}

/// What the nodes on a store must stop trusting in their caches: one entry of the
/// invalidation feed, written by the store method that makes the change, in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidated {
    /// One access token was revoked.
    AccessToken(TokenHash),
    /// A grant was revoked, with every token of its family (revocation, a replayed code,
    /// refresh-token reuse).
    Grant(Snowflake),
    /// The App's app-only Bearer Token moved to a new generation: its app-only and app-context
    /// tokens.
    AppTokens(Snowflake),
    /// The App was deleted: every token issued to it.
    App(Snowflake),
    /// The App's settings or credentials changed (name, callbacks, Client Secret): cached copies
    /// of the App, not its tokens.
    AppSettings(Snowflake),
    /// The user was deleted: every token issued for them.
    User(Snowflake),
    /// Anything may have changed (a reset, an import of tokens, an entry this build cannot
    /// read): nothing cached holds.
    Everything,
}

impl Invalidated {
    /// The `kind` and `subject` columns of the feed's row.
    pub fn to_row(&self) -> (&'static str, String) {
        use base64::Engine;
        match self {
            Invalidated::AccessToken(h) => (
                "access_token",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.as_bytes()),
            ),
            Invalidated::Grant(id) => ("grant", id.to_string()),
            Invalidated::AppTokens(id) => ("app_tokens", id.to_string()),
            Invalidated::App(id) => ("app", id.to_string()),
            Invalidated::AppSettings(id) => ("app_settings", id.to_string()),
            Invalidated::User(id) => ("user", id.to_string()),
            Invalidated::Everything => ("everything", String::new()),
        }
    }

    /// Reads a feed row back. A row this build does not understand (written by a newer one, or
    /// damaged) invalidates everything: dropping too much from a cache costs lookups, keeping
    /// too much would serve a revoked token.
    pub fn from_row(kind: &str, subject: &str) -> Self {
        use base64::Engine;
        let id = || {
            subject
                .parse::<i64>()
                .ok()
                .and_then(|i| Snowflake::from_i64(i).ok())
        };
        let parsed = match kind {
            "access_token" => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(subject)
                .ok()
                .and_then(|b| TokenHash::from_slice(&b))
                .map(Invalidated::AccessToken),
            "grant" => id().map(Invalidated::Grant),
            "app_tokens" => id().map(Invalidated::AppTokens),
            "app" => id().map(Invalidated::App),
            "app_settings" => id().map(Invalidated::AppSettings),
            "user" => id().map(Invalidated::User),
            _ => None,
        };
        parsed.unwrap_or(Invalidated::Everything)
    }
}

/// One entry of the invalidation feed: its place in commit order and what it invalidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidationEntry {
    pub seq: i64,
    pub what: Invalidated,
}

/// A read of the invalidation feed (see [`Store::invalidations_since`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvalidationPage {
    /// The last seq assigned when the read began (0: none yet). Rows up to it were committed
    /// before the read; a row at or below it that is missing was pruned.
    pub head: i64,
    /// The entries after the reader's cursor, by seq, at most the limit asked for.
    pub entries: Vec<InvalidationEntry>,
}

/// What a cleanup pass removed, by table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub rows: BTreeMap<&'static str, u64>,
}

impl CleanupReport {
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Answers when the database does: a table can be read and the write lock taken.
    async fn ping(&self) -> Result<()>;
    /// Returns the server key called `name`, storing `candidate` first if there is none yet, so
    /// that every process on this store ends up with the same key.
    async fn server_key(&self, name: &str, candidate: &[u8], now: i64) -> Result<Vec<u8>>;
    /// The database's clock, Unix milliseconds, read when the query runs (not when its
    /// transaction began): the one time source of every node on this store. SQLite answers
    /// with the machine's clock, since every process on a SQLite file runs on that machine.
    async fn database_time_ms(&self) -> Result<i64>;
    /// The shared time of the sandbox's manual clock, if any manual-clock node has stored one.
    async fn manual_clock(&self) -> Result<Option<i64>>;
    /// Sets the shared manual time to `max(stored, floor_ms) + add_ms` (`floor_ms + add_ms`
    /// when there is none) in one statement, and returns it: it never goes back, and two nodes
    /// moving it at once both count.
    async fn raise_manual_clock(&self, floor_ms: i64, add_ms: i64) -> Result<i64>;
    /// Row counts of every table (tests, diagnostics).
    async fn row_counts(&self) -> Result<BTreeMap<String, i64>>;
    /// True when there are no users and no apps.
    async fn is_empty(&self) -> Result<bool>;

    // Admin tokens (the admin HTTP API's credentials).
    async fn create_admin_token(&self, token: NewAdminToken) -> Result<AdminTokenRecord>;
    /// The admin token with this digest, revoked or not.
    async fn admin_token_by_hash(&self, hash: TokenHash) -> Result<Option<AdminTokenRecord>>;
    /// Every admin token, revoked ones included, by id.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>>;
    /// Revokes an admin token; false when there is no live token with this id.
    async fn revoke_admin_token(&self, id: Snowflake, now: i64) -> Result<bool>;

    // Apps.
    async fn create_app(&self, app: NewApp) -> Result<AppRecord>;
    async fn list_apps(&self) -> Result<Vec<AppRecord>>;
    async fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>>;
    async fn app_by_api_key(&self, api_key: &str) -> Result<Option<AppRecord>>;
    async fn app_by_id(&self, id: Snowflake) -> Result<Option<AppRecord>>;
    /// Every App's id (cheap: for dropping cached state of Apps deleted elsewhere).
    async fn app_ids(&self) -> Result<Vec<Snowflake>>;
    /// Deletes the App with this client id and, in the same transaction, everything it was
    /// issued: callbacks, codes, grants, refresh and access tokens. Its app-only Bearer Token is
    /// derived from the App's row, so it dies with it. Bumps the content version, so servers on
    /// this store notice. `None` when no App has the client id.
    async fn delete_app(&self, client_id: &str) -> Result<Option<Deletion>>;
    /// Moves the App's app-only Bearer Token to the next generation if it is still at
    /// `expected`; false when another request got there first.
    async fn bump_bearer_generation(&self, app_id: Snowflake, expected: i64) -> Result<bool>;
    /// Changes an App's settings; `None` when there is no such App. A callback list with one
    /// URL twice is [`StoreError::Conflict`]`("callback")`.
    async fn update_app(&self, app_id: Snowflake, change: AppChange) -> Result<Option<AppRecord>>;
    /// Replaces the Client Secret's digest (and its hint); the old secret stops working at once
    /// on every node. False when there is no such App or it is a public client.
    async fn set_client_secret(
        &self,
        app_id: Snowflake,
        hash: TokenHash,
        hint: &str,
    ) -> Result<bool>;
    /// Replaces the API Key and its secret, and moves the app-only Bearer Token to a new
    /// generation: the old key, secret and Bearer Token stop working at once. A taken key is
    /// [`StoreError::Conflict`]`("api_key")`.
    async fn set_api_credentials(
        &self,
        app_id: Snowflake,
        api_key: &str,
        secret_hash: TokenHash,
        hint: &str,
    ) -> Result<bool>;

    // Projects (the developer portal's).
    /// A taken name is [`StoreError::Conflict`]`("project")`.
    async fn create_project(&self, project: NewProject) -> Result<ProjectRecord>;
    async fn list_projects(&self) -> Result<Vec<ProjectRecord>>;
    async fn project_by_id(&self, id: Snowflake) -> Result<Option<ProjectRecord>>;
    /// Renames a Project; `None` when there is no such Project, a taken name is a conflict.
    async fn rename_project(&self, id: Snowflake, name: &str) -> Result<Option<ProjectRecord>>;
    /// Hands a Project to another owner (`None`: admins only).
    async fn set_project_owner(&self, id: Snowflake, owner: Option<Snowflake>) -> Result<bool>;
    /// Deletes a Project with its Apps and everything issued to them (each App's deletion
    /// reaches the other nodes as [`Invalidated::App`]); `removed` counts the Apps too.
    async fn delete_project(&self, id: Snowflake) -> Result<Option<Deletion>>;

    // Users and browser sessions.
    async fn create_user(&self, user: NewUser) -> Result<UserRecord>;
    async fn user_by_id(&self, id: Snowflake) -> Result<Option<UserRecord>>;
    async fn user_by_username(&self, username: &Username) -> Result<Option<UserRecord>>;
    /// Every user, by id.
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// Sets (or with `None` clears) the App's auto-consent user; false when there is no such App.
    async fn set_auto_consent(&self, app_id: Snowflake, user_id: Option<Snowflake>)
    -> Result<bool>;
    async fn set_password_hash(&self, user_id: Snowflake, hash: &str) -> Result<()>;
    /// Deletes the user and, in the same transaction, their sessions, codes, grants, tokens,
    /// tweets, follows (both ways) and Spaces, and takes them out of other Spaces' host,
    /// speaker and invited lists. Bumps the content version. `None`
    /// when there is no such user.
    async fn delete_user(&self, username: &Username) -> Result<Option<Deletion>>;
    /// Stores a session that ends at `expires_at`, or at `idle_expires_at` if it is not used
    /// (see [`Store::touch_session`]) before then.
    async fn create_session(
        &self,
        hash: TokenHash,
        user_id: Snowflake,
        now: i64,
        expires_at: i64,
        idle_expires_at: i64,
    ) -> Result<()>;
    /// The session, if it has reached neither its end nor its idle end at `now`.
    async fn session(&self, hash: TokenHash, now: i64) -> Result<Option<SessionRecord>>;
    /// Moves the session's idle end forward to `idle_expires_at` (never back).
    async fn touch_session(&self, hash: TokenHash, idle_expires_at: i64) -> Result<()>;
    async fn delete_session(&self, hash: TokenHash) -> Result<()>;
    /// Ends every browser session of a user; how many there were.
    async fn delete_user_sessions(&self, user_id: Snowflake) -> Result<u64>;
    /// Whether the user may manage every Project in the developer portal.
    async fn user_is_admin(&self, user_id: Snowflake) -> Result<bool>;
    /// Makes a user an admin or not; false when there is no such user.
    async fn set_user_admin(&self, user_id: Snowflake, admin: bool) -> Result<bool>;
    /// The ids of every admin user.
    async fn admin_user_ids(&self) -> Result<Vec<Snowflake>>;
    /// Records that an authorization request reached its decision; false if it already had.
    async fn consume_request(&self, hash: TokenHash, expires_at: i64) -> Result<bool>;
    /// Failed logins recorded under each key in the window that starts at `window_start`.
    async fn login_failures(&self, keys: &[String], window_start: i64) -> Result<Vec<i64>>;
    async fn record_login_failure(&self, keys: &[String], window_start: i64) -> Result<()>;

    // Codes, grants and tokens.
    async fn create_code(&self, code: NewCode) -> Result<()>;
    async fn code_by_hash(&self, hash: TokenHash) -> Result<Option<CodeRecord>>;
    /// Marks the code used and issues the grant's first tokens, atomically. If the code had been
    /// used already, revokes the grant it produced instead.
    async fn redeem_code(&self, hash: TokenHash, tokens: IssuedTokens) -> Result<RedeemOutcome>;
    async fn refresh_by_hash(&self, hash: TokenHash) -> Result<Option<RefreshRecord>>;
    /// Claims the presented refresh token and issues its successors, atomically. The claim
    /// succeeds only for a token that is unused, unexpired, of the presenting App and of a live
    /// grant; otherwise nothing is written and `None` comes back, and the caller looks at the
    /// token to say why (and revokes the family on reuse).
    async fn rotate_refresh(&self, rotation: Rotation) -> Result<Option<Rotated>>;
    /// For a retried rotation inside the grace window: whether `presented` was rotated into
    /// `successor` together with the access token `access`, and that pair is still current
    /// (the successor unused, the access token and the grant not revoked).
    async fn retried_rotation(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        access: TokenHash,
    ) -> Result<Option<IssuedPair>>;
    /// Revokes a grant: the grant, its refresh tokens and its access tokens.
    async fn revoke_grant(&self, grant_id: Snowflake, now: i64) -> Result<()>;
    /// The Apps that hold a live grant for the user (one not revoked, with a token that can
    /// still be used), by App.
    async fn connected_apps(&self, user_id: Snowflake, now: i64) -> Result<Vec<ConnectedApp>>;
    /// Revokes every grant of the App for the user, with all their tokens; how many grants
    /// were live.
    async fn revoke_app_for_user(
        &self,
        app_id: Snowflake,
        user_id: Snowflake,
        now: i64,
    ) -> Result<u64>;
    /// Adds request counts to the usage buckets, and records when Apps last used their grants
    /// for users (`(app, user, at)`; a later time only ever moves it forward).
    async fn record_usage(
        &self,
        counts: &[UsageCount],
        used: &[(Snowflake, Snowflake, i64)],
    ) -> Result<()>;
    /// The App's usage buckets that start at or after `since`, by bucket then endpoint.
    async fn app_usage(&self, app_id: Snowflake, since: i64) -> Result<Vec<UsageCount>>;
    /// How many users and live tokens the App has at `now`.
    async fn app_stats(&self, app_id: Snowflake, now: i64) -> Result<AppStats>;
    /// Stores an app-context access token (`client_credentials` on `/2/oauth2/token`).
    async fn insert_app_token(
        &self,
        app_id: Snowflake,
        hash: TokenHash,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;
    async fn access_token(&self, hash: TokenHash) -> Result<Option<AccessRecord>>;
    /// Revokes one access token if `app_id` owns it; false when nothing was revoked.
    async fn revoke_access_token(
        &self,
        hash: TokenHash,
        app_id: Snowflake,
        now: i64,
    ) -> Result<bool>;
    /// Revokes the grant of a refresh token if `app_id` owns it: the grant revoked, if any.
    async fn revoke_refresh_token(
        &self,
        hash: TokenHash,
        app_id: Snowflake,
        now: i64,
    ) -> Result<Option<Snowflake>>;

    // X API v2 content.
    /// Everything the API serves, with the content version it corresponds to.
    async fn load_content(&self) -> Result<Content>;
    /// Bumped by every content write, from any process.
    async fn content_version(&self) -> Result<i64>;
    async fn create_tweet(&self, tweet: TweetRecord) -> Result<()>;
    /// Deletes a tweet; false when it did not exist.
    async fn delete_tweet(&self, id: Snowflake) -> Result<bool>;
    /// Records a follow; if one exists already, returns it unchanged.
    async fn follow(&self, follow: FollowRecord) -> Result<FollowRecord>;
    /// Removes a follow (or pending request); false when there was none.
    async fn unfollow(&self, source: Snowflake, target: Snowflake) -> Result<bool>;
    /// Writes a validated import in one transaction, upserting by id.
    async fn import(&self, batch: ImportBatch) -> Result<ImportReport>;

    // Export, snapshots and reset.
    /// Projects, Apps, grants and tokens, ordered by id (tokens by creation, then digest).
    async fn load_auth(&self) -> Result<AuthState>;
    /// Empties the store but for its server keys, snapshots and whatever else serves the
    /// operator (admin tokens), writes `batch` into it, and counts the reset, all in one
    /// transaction: a batch the database refuses leaves the store as it was.
    async fn reset(&self, batch: ImportBatch) -> Result<ImportReport>;
    /// Stores `document` under `name`, replacing a snapshot of that name; true if it did.
    async fn save_snapshot(&self, name: &SnapshotName, document: &str, now: i64) -> Result<bool>;
    /// Every snapshot, by name.
    async fn snapshots(&self) -> Result<Vec<SnapshotInfo>>;
    async fn snapshot(&self, name: &SnapshotName) -> Result<Option<String>>;
    /// False when there was no such snapshot.
    async fn delete_snapshot(&self, name: &SnapshotName) -> Result<bool>;

    /// Adds what this node admitted to the shared rate-limit windows, atomically with respect
    /// to other nodes' flushes (no lost updates), in one transaction, and returns each window as
    /// it now stands, in the order of `deltas` (whose keys are distinct). Per key: a window that
    /// did not exist, or whose stored window ended before the delta's began (or has another
    /// length), starts with the delta's start and count; a delta whose window ended before the
    /// stored one began is dropped (those requests were in a window that is over); otherwise
    /// the count grows by the delta and the stored start stays, so every node ends up with the
    /// start of the first flush.
    async fn add_rate_counts(&self, deltas: &[RateDelta]) -> Result<Vec<RateWindow>>;

    /// The invalidation feed after `after`: the head (read first) and at most `limit` entries
    /// with a greater seq, by seq. Seqs are assigned in commit order without gaps, so a reader
    /// that applied everything up to its cursor misses nothing by asking for what follows.
    async fn invalidations_since(&self, after: i64, limit: u32) -> Result<InvalidationPage>;

    /// Returns when the feed may have new entries, or after `max` at the latest. The default
    /// just sleeps (the caller polls); PostgreSQL wakes on the `NOTIFY` its writers send.
    async fn wait_for_invalidation(&self, max: std::time::Duration) {
        tokio::time::sleep(max).await;
    }

    /// Deletes what can no longer be used (expired codes, tokens, sessions, ended grants, old
    /// throttling windows, ended rate-limit windows). `grace_ms` keeps ended grants and used
    /// codes that long after they end, so that a late code replay is still recognised, and
    /// invalidation-feed entries that long (by the database's clock), so that a node cut off for
    /// less catches up entry by entry.
    async fn cleanup(&self, now: i64, grace_ms: i64) -> Result<CleanupReport>;

    /// Closes the store's connections, waiting for the ones in use to be given back. Every
    /// later call fails with [`StoreError::Unavailable`]: `serve` closes its store at shutdown,
    /// and tests use it to take the database away from a running server.
    async fn close(&self);

    /// Background upkeep a serving process runs often (every few hundred milliseconds): for
    /// SQLite, copying the write-ahead log back into the database file, so that no request's
    /// commit has to stop and do it.
    async fn upkeep(&self) -> Result<()>;
}
