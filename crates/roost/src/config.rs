//! Configuration: built-in defaults, then the TOML file, then environment variables and flags
//! (for the three server settings the contract gives flags to).
//!
//! Every tunable is here with its default; the README's configuration reference is written from
//! this file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::net::{ApiOrigin, ForwardedHeader, Origin, ProxyNet};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub oauth: OAuthConfig,
    pub login: LoginConfig,
    pub session: SessionConfig,
    pub log: LogConfig,
    pub cleanup: CleanupConfig,
    pub content: ContentConfig,
    pub cluster: ClusterConfig,
    pub rate_limits: RateLimitConfig,
    pub cors: CorsConfig,
    pub sandbox: crate::sandbox::SandboxConfig,
}

/// X's published per-endpoint limits (spec/x-api-v2.md §R, docs of 2026): per App for app-only
/// tokens, per user (and App) for user tokens, per 15-minute window; and the two secondary
/// windows X documents: 10,000 posts per App per 24 hours on `POST /2/tweets` (user-token
/// requests of every user of the App count), and 1 request per second on
/// `GET /2/spaces/by/creator_ids`. `app`/`user` `None`: that kind of token cannot call the
/// endpoint.
pub const DEFAULT_LIMITS: &[(&str, EndpointLimit)] = &[
    ("GET /2/users/me", EndpointLimit::new(None, Some(75))),
    ("GET /2/users", EndpointLimit::new(Some(300), Some(900))),
    ("GET /2/users/:id", EndpointLimit::new(Some(300), Some(900))),
    ("GET /2/users/by", EndpointLimit::new(Some(300), Some(900))),
    (
        "GET /2/users/by/username/:username",
        EndpointLimit::new(Some(300), Some(900)),
    ),
    ("GET /2/tweets", EndpointLimit::new(Some(3500), Some(5000))),
    (
        "GET /2/tweets/:id",
        EndpointLimit::new(Some(450), Some(900)),
    ),
    (
        "POST /2/tweets",
        EndpointLimit {
            app_24h: Some(10_000),
            ..EndpointLimit::new(None, Some(100))
        },
    ),
    ("DELETE /2/tweets/:id", EndpointLimit::new(None, Some(50))),
    (
        "GET /2/users/:id/tweets",
        EndpointLimit::new(Some(10_000), Some(900)),
    ),
    (
        "GET /2/users/:id/following",
        EndpointLimit::new(Some(300), Some(300)),
    ),
    (
        "GET /2/users/:id/followers",
        EndpointLimit::new(Some(300), Some(300)),
    ),
    (
        "POST /2/users/:id/following",
        EndpointLimit::new(None, Some(50)),
    ),
    (
        "DELETE /2/users/:source_user_id/following/:target_user_id",
        EndpointLimit::new(None, Some(50)),
    ),
    (
        "GET /2/spaces/:id",
        EndpointLimit::new(Some(300), Some(300)),
    ),
    ("GET /2/spaces", EndpointLimit::new(Some(300), Some(300))),
    (
        "GET /2/spaces/by/creator_ids",
        EndpointLimit {
            per_second: Some(1),
            ..EndpointLimit::new(Some(300), Some(300))
        },
    ),
    (
        "GET /2/spaces/search",
        EndpointLimit::new(Some(300), Some(300)),
    ),
    (
        "GET /2/users/:id/following/spaces",
        EndpointLimit::new(Some(300), Some(300)),
    ),
];

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EndpointLimit {
    /// Requests per window for app-only tokens (per App).
    pub app: Option<u64>,
    /// Requests per window for user tokens (per user and App).
    pub user: Option<u64>,
    /// Requests per 24 hours per App, user-token requests of all its users included (X's cap on
    /// posts per App); reported in `x-app-limit-24hour-*`.
    pub app_24h: Option<u64>,
    /// Requests per second in each pool (per App, per user and App).
    pub per_second: Option<u64>,
}

impl EndpointLimit {
    pub const fn new(app: Option<u64>, user: Option<u64>) -> Self {
        Self {
            app,
            user,
            app_24h: None,
            per_second: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `false` turns every limit off (benchmarks, load tests). Default `true`.
    pub enabled: bool,
    /// Seconds in an API window. Default 900 (X's 15 minutes).
    pub window: u64,
    /// Overrides of X's numbers, keyed like `"GET /2/users/:id" = { app = 300, user = 900 }`.
    /// A key replaces X's whole entry (`app`, `user`, `app_24h`, `per_second`): leave `app` or
    /// `user` out to forbid that kind of token, a secondary window out to have none.
    pub endpoints: BTreeMap<String, EndpointLimit>,
    /// Token, revoke and app-only token requests per client (or API key) per `oauth_window`.
    /// Default 3000.
    pub oauth_per_client: u64,
    /// The same per client address. Default 6000.
    pub oauth_per_address: u64,
    /// Seconds. Default 60.
    pub oauth_window: u64,
    /// Where window counts live: `auto` (default: `redis` when `redis_url` is set, `store` on
    /// PostgreSQL, else `memory`), `memory` (this process only, exact on one node), `store`
    /// (shared by every node on the database, flushed every `flush_interval_ms`) or `redis`.
    pub shared: SharedLimits,
    /// Milliseconds between flushes of this node's counts to the store (`store` only): 1 to
    /// 1000. Default 250.
    pub flush_interval_ms: u64,
    /// A Redis server that holds the counts, exact across nodes: `redis://[:PASSWORD@]HOST
    /// [:PORT][/DB]` or `unix:///PATH`. Default none. Flag `--redis-url`, env `ROOST_REDIS_URL`.
    pub redis_url: Option<String>,
    /// Milliseconds a rate-limited request waits for Redis (connecting included); then it is
    /// answered 503. Default 1000.
    pub redis_timeout_ms: u64,
}

/// `rate_limits.shared`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SharedLimits {
    #[default]
    Auto,
    Memory,
    Store,
    Redis,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 900,
            endpoints: BTreeMap::new(),
            oauth_per_client: 3000,
            oauth_per_address: 6000,
            oauth_window: 60,
            shared: SharedLimits::Auto,
            flush_interval_ms: 250,
            redis_url: None,
            redis_timeout_ms: 1000,
        }
    }
}

/// Where the counts of a configuration live, once `auto` is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitSharing {
    Memory,
    Store,
    Redis(String),
}

impl RateLimitConfig {
    /// `shared` resolved against the database URL and `redis_url`.
    pub fn sharing(&self, database_url: &str) -> Result<LimitSharing, ConfigError> {
        let postgres =
            database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
        match (self.shared, &self.redis_url) {
            (SharedLimits::Auto | SharedLimits::Redis, Some(url)) => {
                Ok(LimitSharing::Redis(url.clone()))
            }
            (SharedLimits::Redis, None) => Err(ConfigError::Invalid(
                "rate_limits.shared = \"redis\" needs rate_limits.redis_url (or --redis-url)"
                    .into(),
            )),
            (other, Some(_)) => Err(ConfigError::Invalid(format!(
                "rate_limits.redis_url is set but rate_limits.shared = \"{}\"; leave `shared` at \"auto\" or set it to \"redis\"",
                if other == SharedLimits::Memory {
                    "memory"
                } else {
                    "store"
                }
            ))),
            (SharedLimits::Auto, None) if postgres => Ok(LimitSharing::Store),
            (SharedLimits::Auto | SharedLimits::Memory, None) => Ok(LimitSharing::Memory),
            (SharedLimits::Store, None) => Ok(LimitSharing::Store),
        }
    }
}

impl RateLimitConfig {
    /// The limit of an endpoint (`"GET /2/users/:id"`), with its static key.
    pub fn endpoint(&self, key: &str) -> Option<(&'static str, EndpointLimit)> {
        let (k, default) = DEFAULT_LIMITS.iter().find(|(k, _)| *k == key)?;
        let limit = self.endpoints.get(key).copied().unwrap_or(*default);
        Some((k, limit))
    }

    /// The same, for a request: its method and the route it matched in axum's spelling
    /// (`/2/users/{id}` for X's `/2/users/:id`). Runs on every API request, so it compares in
    /// place instead of building the key.
    pub fn endpoint_of(&self, method: &str, route: &str) -> Option<(&'static str, EndpointLimit)> {
        let (k, default) = DEFAULT_LIMITS
            .iter()
            .find(|(k, _)| names_route(k, method, route))?;
        let limit = self.endpoints.get(*k).copied().unwrap_or(*default);
        Some((k, limit))
    }

    /// The same, for a request's concrete path (`/2/users/12`), for answers made before routing
    /// (injected faults). A literal segment beats a parameter, so `/2/users/me` is not
    /// `/2/users/:id`.
    pub fn endpoint_for_path(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&'static str, EndpointLimit)> {
        let params_matched = |key: &str| -> Option<usize> {
            let tpl = key.strip_prefix(method)?.strip_prefix(' ')?;
            let (mut t, mut p) = (tpl.split('/'), path.split('/'));
            let mut params = 0;
            loop {
                match (t.next(), p.next()) {
                    (None, None) => return Some(params),
                    (Some(a), Some(b)) if a.starts_with(':') && !b.is_empty() => params += 1,
                    (Some(a), Some(b)) if a == b => {}
                    _ => return None,
                }
            }
        };
        let (k, default) = DEFAULT_LIMITS
            .iter()
            .filter_map(|e| params_matched(e.0).map(|n| (n, e)))
            .min_by_key(|(n, _)| *n)?
            .1;
        let limit = self.endpoints.get(*k).copied().unwrap_or(*default);
        Some((k, limit))
    }
}

/// Whether `key` (`"GET /2/users/:id"`) names `method` on `route` (`/2/users/{id}`). One pass
/// over the bytes that stops at the first difference: it is tried against every endpoint.
fn names_route(key: &str, method: &str, route: &str) -> bool {
    let Some(path) = key.strip_prefix(method).and_then(|r| r.strip_prefix(' ')) else {
        return false;
    };
    let (k, r) = (path.as_bytes(), route.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < k.len() && j < r.len() {
        if k[i] == b':' && r[j] == b'{' {
            // `:name` against `{name}`.
            i += 1;
            j += 1;
            while i < k.len() && k[i] != b'/' {
                if r.get(j) != Some(&k[i]) {
                    return false;
                }
                i += 1;
                j += 1;
            }
            if r.get(j) != Some(&b'}') {
                return false;
            }
            j += 1;
        } else if k[i] == r[j] {
            i += 1;
            j += 1;
        } else {
            return false;
        }
    }
    i == k.len() && j == r.len()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ContentConfig {
    /// Milliseconds between checks for content changed by another process (the admin CLI,
    /// `roost import`, another node). Default 1000.
    pub poll_interval_ms: u64,
    /// Rendered users and tweets kept, per field selection, until the content next changes
    /// (0 turns the cache off). Default 50000.
    pub render_cache_size: usize,
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
            render_cache_size: 50_000,
        }
    }
}

/// Several nodes on one database (`crate::cluster`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Milliseconds between reads of the invalidation feed, through which revocations made by
    /// other nodes and processes reach this node's caches; on PostgreSQL a `NOTIFY` wakes the
    /// reader at once and this is the fallback. 10 to 500 (cached tokens are trusted only for
    /// 1 s after the last read that succeeded). Default 250.
    pub invalidation_poll_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            invalidation_poll_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address. Default `127.0.0.1:8080`. Flag `--addr`, env `ROOST_ADDR`.
    pub addr: String,
    /// A listener of its own for the admin API (`/admin/v1`, and the health checks), which the
    /// public listener then answers 404 like any unknown path (checklist L4). Default none: the
    /// admin API is on `addr`. Flag `--admin-addr`, env `ROOST_ADMIN_ADDR`.
    pub admin_addr: Option<String>,
    /// Default `sqlite://roost.db`. Flag `--database-url`, env `ROOST_DATABASE_URL`.
    pub database_url: String,
    /// The URL clients and browsers reach roost at; issuer, form actions and links are built from
    /// it, never from the `Host` header. Default `http://<addr>`. Flag `--public-url`, env
    /// `ROOST_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// Largest request body, in bytes. Default 65536.
    pub max_body_bytes: usize,
    /// Longest request target (path and query), in bytes; longer gets 414. Default 8192.
    pub max_uri_bytes: usize,
    /// Largest total size of the request headers (names, values and separators), in bytes;
    /// larger gets 431. Default 16384.
    pub max_header_bytes: usize,
    /// Seconds a request may take before it is answered 408. Default 30.
    pub request_timeout: u64,
    /// Seconds a client has to send a request's headers, from the moment the connection is
    /// ready for one (so also the idle time of a kept-alive connection); then the connection is
    /// closed. Default 10.
    pub header_read_timeout: u64,
    /// Seconds a request waits for a database connection, or for a lock another process holds;
    /// then it is answered 503. Default 5.
    pub database_timeout: u64,
    /// Proxies whose forwarded headers are believed, as addresses or CIDR blocks. Default none:
    /// the TCP peer is the client.
    pub trusted_proxies: Vec<ProxyNet>,
    /// The header those proxies write: `x-forwarded-for` (default) or `forwarded` (RFC 7239).
    pub forwarded_header: ForwardedHeader,
}

/// Which browser origins may call roost's machine endpoints (checklist I4). The pages never
/// answer cross-origin requests.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins that may call `/2/oauth2/token`, `/2/oauth2/revoke` and the metadata document
    /// (browser-based public Apps). Echoed exactly; never `*`, never with credentials. Default
    /// none.
    pub token_origins: Vec<Origin>,
    /// Origins that may call the X API v2 (`/2/...`), or `["*"]` for any. Default none.
    pub api_origins: Vec<ApiOrigin>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// `false` (default): X's wire format and leniency. `true`: RFC 6749 error codes, RFC 7636
    /// verifier lengths (43-128), no `plain` PKCE. What is refused or revoked is the same.
    pub strict_rfc: bool,
    /// Seconds an authorization code lives. Default 30 (X's); at most 600.
    pub authorization_code_ttl: u64,
    /// Seconds an access token lives. Default 7200 (X's).
    pub access_token_ttl: u64,
    /// Seconds a refresh token lives unused; every refresh starts a new period. Default 15552000
    /// (180 days).
    pub refresh_token_ttl: u64,
    /// Seconds during which a client that retries a refresh it already made (a lost response, a
    /// race between two of its own requests) is handed the same new pair instead of having the
    /// retry treated as reuse. Default 0: off, every second use of a refresh token revokes the
    /// family. At most 60.
    pub refresh_grace_period: u64,
    /// Seconds a refresh family (everything one authorization led to) may be refreshed for,
    /// counted from the code's redemption, however often it is used; then the App must send the
    /// user through authorization again. 0: no limit (as X documents none). Default 31536000
    /// (365 days).
    pub refresh_family_max_age: u64,
    /// Seconds a person has to finish login and consent after opening the authorize URL.
    /// Default 600.
    pub authorization_request_ttl: u64,
    /// How many resolved bearer tokens are kept in memory. 0 turns the cache off. Default 100000.
    pub token_cache_size: usize,
    /// Seconds a cached token may be used before it is looked up again; revocations through
    /// this server take effect at once regardless. Default 60.
    pub token_cache_ttl: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// Failed logins allowed per username and client address in one window. Default 5.
    pub max_failures_per_user: i64,
    /// Failed logins allowed per client address in one window. Default 100.
    pub max_failures_per_address: i64,
    /// Window length in seconds. Default 900 (15 minutes).
    pub window: u64,
    /// Password hashes computed at once (argon2id costs 19 MiB each). Default 2.
    pub max_concurrent_hashes: usize,
    /// Seconds a login waits for one of those before it is answered 503. 0: no waiting.
    /// Default 2.
    pub hash_wait: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Seconds a browser login stays valid, however much it is used. Default 604800 (7 days).
    pub ttl: u64,
    /// Seconds a browser login stays valid without being used (the authorize page, a sign-in
    /// or consent answer); each use starts a new period, recorded at most once a minute.
    /// Default 86400 (1 day). The absolute `ttl` applies as well.
    pub idle_ttl: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `human` (default) or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `roost=debug,info`. Default `info`. `RUST_LOG`
    /// overrides it.
    pub filter: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CleanupConfig {
    /// Seconds between passes of the job that deletes expired codes, tokens and sessions.
    /// Default 60.
    pub interval: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".to_owned(),
            admin_addr: None,
            database_url: "sqlite://roost.db".to_owned(),
            public_url: None,
            max_body_bytes: 64 * 1024,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            request_timeout: 30,
            header_read_timeout: 10,
            database_timeout: 5,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
        }
    }
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            strict_rfc: false,
            authorization_code_ttl: 30,
            access_token_ttl: 7200,
            refresh_token_ttl: 180 * 24 * 3600,
            refresh_grace_period: 0,
            refresh_family_max_age: 365 * 24 * 3600,
            authorization_request_ttl: 600,
            token_cache_size: 100_000,
            token_cache_ttl: 60,
        }
    }
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            max_failures_per_user: 5,
            max_failures_per_address: 100,
            window: 900,
            max_concurrent_hashes: 2,
            hash_wait: 2,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ttl: 7 * 24 * 3600,
            idle_ttl: 24 * 3600,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: "info".to_owned(),
        }
    }
}

impl Default for CleanupConfig {
    fn default() -> Self {
        Self { interval: 60 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: String::new(),
            message: e.message().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let o = &self.oauth;
        if o.authorization_code_ttl == 0 || o.authorization_code_ttl > 600 {
            return Err(ConfigError::Invalid(
                "oauth.authorization_code_ttl must be 1 to 600 seconds".into(),
            ));
        }
        if o.refresh_grace_period > 60 {
            return Err(ConfigError::Invalid(
                "oauth.refresh_grace_period must be 0 (off) to 60 seconds".into(),
            ));
        }
        for (name, v) in [
            ("oauth.access_token_ttl", o.access_token_ttl),
            ("oauth.refresh_token_ttl", o.refresh_token_ttl),
            (
                "oauth.authorization_request_ttl",
                o.authorization_request_ttl,
            ),
            ("oauth.token_cache_ttl", o.token_cache_ttl),
            ("session.ttl", self.session.ttl),
            ("session.idle_ttl", self.session.idle_ttl),
            ("login.window", self.login.window),
            ("cleanup.interval", self.cleanup.interval),
            ("server.request_timeout", self.server.request_timeout),
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("server.database_timeout", self.server.database_timeout),
            ("content.poll_interval_ms", self.content.poll_interval_ms),
            ("rate_limits.window", self.rate_limits.window),
            ("rate_limits.oauth_window", self.rate_limits.oauth_window),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        if !(10..=500).contains(&self.cluster.invalidation_poll_ms) {
            return Err(ConfigError::Invalid(
                "cluster.invalidation_poll_ms must be 10 to 500 (cached tokens are trusted for 1 s after the last read of the invalidation feed)".into(),
            ));
        }
        if self.login.max_concurrent_hashes == 0 {
            return Err(ConfigError::Invalid(
                "login.max_concurrent_hashes must be at least 1".into(),
            ));
        }
        if self.cors.api_origins.len() > 1 && self.cors.api_origins.contains(&ApiOrigin::Any) {
            return Err(ConfigError::Invalid(
                "cors.api_origins: \"*\" allows every origin and must be the only entry".into(),
            ));
        }
        if let Some(k) = self
            .rate_limits
            .endpoints
            .keys()
            .find(|k| !DEFAULT_LIMITS.iter().any(|(d, _)| d == k))
        {
            return Err(ConfigError::Invalid(format!(
                "rate_limits.endpoints: `{k}` is not an endpoint roost serves (keys look like \"GET /2/users/:id\")"
            )));
        }
        let r = &self.rate_limits;
        if r.flush_interval_ms == 0 || r.flush_interval_ms > 1000 {
            return Err(ConfigError::Invalid(
                "rate_limits.flush_interval_ms must be 1 to 1000 milliseconds".into(),
            ));
        }
        if r.redis_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "rate_limits.redis_timeout_ms must be at least 1".into(),
            ));
        }
        r.sharing(&self.server.database_url)?;
        let public = self.socket_addr()?;
        if let Some(admin) = self.admin_socket_addr()?
            && admin == public
            && admin.port() != 0
        {
            return Err(ConfigError::Invalid(format!(
                "server.admin_addr `{admin}` is server.addr: give the admin API another port, or leave admin_addr out to serve it on the public listener"
            )));
        }
        self.public_url()?;
        Ok(())
    }

    pub fn socket_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.addr.parse().map_err(|_| {
            ConfigError::Invalid(format!("`{}` is not a HOST:PORT address", self.server.addr))
        })
    }

    /// The admin API's own listen address, when it has one (`server.admin_addr`).
    pub fn admin_socket_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.server
            .admin_addr
            .as_deref()
            .map(|a| {
                a.parse().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "server.admin_addr `{a}` is not a HOST:PORT address"
                    ))
                })
            })
            .transpose()
    }

    /// Whether the public URL is plain http on a host other than loopback: credentials would
    /// cross a network in clear text unless a proxy terminates TLS (checklist I8).
    pub fn public_url_is_cleartext(&self) -> Result<bool, ConfigError> {
        let url = self.public_url()?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        Ok(url.scheme() == "http" && !loopback)
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> Result<url::Url, ConfigError> {
        let raw = match &self.server.public_url {
            Some(u) => u.clone(),
            None => format!("http://{}", self.server.addr),
        };
        let url = url::Url::parse(&raw)
            .map_err(|_| ConfigError::Invalid(format!("public URL `{raw}` is not a URL")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError::Invalid(format!(
                "public URL `{raw}` must be an http(s) URL"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::Invalid(format!(
                "public URL `{raw}` must not have a query or fragment"
            )));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_xs() {
        let c = Config::default();
        assert_eq!(c.oauth.authorization_code_ttl, 30);
        assert_eq!(c.oauth.access_token_ttl, 7200);
        assert_eq!(c.oauth.refresh_family_max_age, 365 * 24 * 3600);
        assert_eq!(c.session.idle_ttl, 24 * 3600);
        assert!(!c.oauth.strict_rfc);
        assert!(!c.sandbox.enabled, "sandbox controls off unless enabled");
        assert_eq!(c.server.admin_addr, None);
        assert_eq!(
            c.oauth.refresh_grace_period, 0,
            "strict rotation unless configured"
        );
        assert!(c.validate().is_ok());
        assert_eq!(c.public_url().unwrap().as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn admin_addr_is_an_address_of_its_own() {
        assert_eq!(Config::default().admin_socket_addr().unwrap(), None);
        let c = Config::from_toml_str("[server]\nadmin_addr = \"127.0.0.1:8081\"\n").unwrap();
        assert_eq!(
            c.admin_socket_addr().unwrap(),
            Some("127.0.0.1:8081".parse().unwrap())
        );
        for bad in [
            "[server]\nadmin_addr = \"nope\"\n",
            "[server]\nadmin_addr = \"127.0.0.1\"\n",
            "[server]\naddr = \"127.0.0.1:9000\"\nadmin_addr = \"127.0.0.1:9000\"\n",
        ] {
            let e = Config::from_toml_str(bad).expect_err(bad);
            assert!(e.to_string().contains("admin_addr"), "{bad}: {e}");
        }
    }

    // Checklist L2: settings that need the sandbox controls are refused while they are off,
    // with the setting that turns them on named.
    #[test]
    fn sec_l02_sandbox_settings_are_refused_while_the_controls_are_off() {
        let off = Config::default();
        assert!(!off.sandbox.enabled);
        assert!(off.sandbox.check().is_ok());
        for (toml, named) in [
            ("[sandbox]\nclock = \"manual\"\n", "manual clock"),
            (
                "[[sandbox.faults]]\npath = \"/2/*\"\nfault = \"unavailable\"\n",
                "[[sandbox.faults]]",
            ),
            (
                "[[sandbox.auto_consent]]\nclient_id = \"c\"\nuser = \"u\"\n",
                "[[sandbox.auto_consent]]",
            ),
        ] {
            let mut c = Config::from_toml_str(toml).expect("parses: checked by serve");
            let e = c.sandbox.check().expect_err(toml).to_string();
            assert!(
                e.contains(named) && e.contains("[sandbox] enabled") && !e.contains('\n'),
                "{e}"
            );
            c.sandbox.enabled = true;
            assert!(c.sandbox.check().is_ok(), "{toml}");
        }
        // The seed is not a control: predictable ids, random credentials.
        assert!(
            Config::from_toml_str("[sandbox]\nseed = 7\n")
                .unwrap()
                .sandbox
                .check()
                .is_ok()
        );
    }

    #[test]
    fn concrete_paths_find_their_endpoint() {
        let c = RateLimitConfig::default();
        let key = |m: &str, p: &str| c.endpoint_for_path(m, p).map(|e| e.0);
        assert_eq!(key("GET", "/2/users/me"), Some("GET /2/users/me"));
        assert_eq!(key("GET", "/2/users/12"), Some("GET /2/users/:id"));
        assert_eq!(key("POST", "/2/tweets"), Some("POST /2/tweets"));
        assert_eq!(
            key("DELETE", "/2/users/1/following/2"),
            Some("DELETE /2/users/:source_user_id/following/:target_user_id")
        );
        assert_eq!(key("GET", "/2/users/"), None);
        assert_eq!(key("GET", "/2/oauth2/token"), None);
    }

    #[test]
    fn routes_are_named_by_x_keys() {
        assert!(names_route("GET /2/users/:id", "GET", "/2/users/{id}"));
        assert!(names_route("GET /2/users/me", "GET", "/2/users/me"));
        assert!(!names_route("GET /2/users/:id", "POST", "/2/users/{id}"));
        assert!(!names_route(
            "GET /2/users/:id",
            "GET",
            "/2/users/{username}"
        ));
        assert!(!names_route("GET /2/users/:id", "GET", "/2/users/me"));
        assert!(!names_route(
            "GET /2/users/:id",
            "GET",
            "/2/users/{id}/tweets"
        ));
        assert!(!names_route(
            "GET /2/users/:id/tweets",
            "GET",
            "/2/users/{id}"
        ));
        let c = Config::default();
        for (key, _) in DEFAULT_LIMITS {
            let (method, path) = key.split_once(' ').unwrap();
            let route: String = path
                .split('/')
                .map(|seg| match seg.strip_prefix(':') {
                    Some(name) => format!("{{{name}}}"),
                    None => seg.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            assert_eq!(
                c.rate_limits.endpoint_of(method, &route).map(|e| e.0),
                Some(*key)
            );
        }
    }

    #[test]
    fn refresh_grace_period_is_bounded() {
        assert!(Config::from_toml_str("[oauth]\nrefresh_grace_period = 60\n").is_ok());
        let long = Config::from_toml_str("[oauth]\nrefresh_grace_period = 61\n");
        assert!(matches!(long, Err(ConfigError::Invalid(m)) if m.contains("refresh_grace_period")));
    }

    #[test]
    fn toml_overrides_and_rejects_unknown_keys() {
        let c = Config::from_toml_str(
            "[oauth]\nstrict_rfc = true\naccess_token_ttl = 60\n[log]\nformat = \"json\"\n",
        )
        .unwrap();
        assert!(c.oauth.strict_rfc);
        assert_eq!(c.oauth.access_token_ttl, 60);
        assert_eq!(c.oauth.authorization_code_ttl, 30);
        assert_eq!(c.log.format, LogFormat::Json);
        assert!(Config::from_toml_str("[oauth]\nstrict = true\n").is_err());
        assert!(Config::from_toml_str("[oauth]\nauthorization_code_ttl = 601\n").is_err());
        assert!(Config::from_toml_str("[server]\npublic_url = \"ftp://x\"\n").is_err());
        assert!(Config::from_toml_str("[server]\naddr = \"nope\"\n").is_err());
        assert!(Config::from_toml_str("[session]\nidle_ttl = 0\n").is_err());
        let c = Config::from_toml_str("[oauth]\nrefresh_family_max_age = 0\n").unwrap();
        assert_eq!(c.oauth.refresh_family_max_age, 0);
    }

    #[test]
    fn endpoint_overrides_replace_xs_entry_secondary_windows_included() {
        let c = Config::from_toml_str(
            "[rate_limits.endpoints]\n\"POST /2/tweets\" = { user = 5, app_24h = 20 }\n\"GET /2/spaces/by/creator_ids\" = { app = 1, user = 2 }\n",
        )
        .unwrap();
        let (_, posts) = c.rate_limits.endpoint("POST /2/tweets").unwrap();
        assert_eq!(
            posts,
            EndpointLimit {
                app_24h: Some(20),
                ..EndpointLimit::new(None, Some(5))
            }
        );
        // Left out: no per-second window any more.
        let (_, spaces) = c
            .rate_limits
            .endpoint("GET /2/spaces/by/creator_ids")
            .unwrap();
        assert_eq!(spaces, EndpointLimit::new(Some(1), Some(2)));
        let (_, default) = Config::default()
            .rate_limits
            .endpoint("GET /2/spaces/by/creator_ids")
            .unwrap();
        assert_eq!(default.per_second, Some(1));
        assert!(
            Config::from_toml_str("[rate_limits.endpoints]\n\"POST /2/tweets\" = { daily = 1 }\n")
                .is_err()
        );
    }

    #[test]
    fn shared_limits_follow_the_store_unless_told_and_redis_wins_when_given() {
        let sharing = |toml: &str, db: &str| {
            let mut c = Config::from_toml_str(toml)?;
            c.server.database_url = db.to_owned();
            c.validate()?;
            c.rate_limits.sharing(db)
        };
        let pg = "postgres://roost@db/roost";
        let lite = "sqlite://roost.db";
        assert_eq!(sharing("", lite).unwrap(), LimitSharing::Memory);
        assert_eq!(sharing("", pg).unwrap(), LimitSharing::Store);
        assert_eq!(
            sharing("[rate_limits]\nshared = \"store\"\n", lite).unwrap(),
            LimitSharing::Store
        );
        assert_eq!(
            sharing("[rate_limits]\nshared = \"memory\"\n", pg).unwrap(),
            LimitSharing::Memory
        );
        let redis = "[rate_limits]\nredis_url = \"redis://127.0.0.1:6379\"\n";
        assert_eq!(
            sharing(redis, pg).unwrap(),
            LimitSharing::Redis("redis://127.0.0.1:6379".into())
        );
        for bad in [
            "[rate_limits]\nshared = \"redis\"\n",
            "[rate_limits]\nshared = \"memory\"\nredis_url = \"redis://h\"\n",
            "[rate_limits]\nshared = \"cluster\"\n",
            "[rate_limits]\nflush_interval_ms = 0\n",
            "[rate_limits]\nflush_interval_ms = 1001\n",
            "[rate_limits]\nredis_timeout_ms = 0\n",
        ] {
            assert!(sharing(bad, lite).is_err(), "{bad}");
        }
        assert_eq!(Config::default().rate_limits.flush_interval_ms, 250);
    }

    #[test]
    fn transport_settings_parse_into_their_types() {
        let c = Config::from_toml_str(
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\nforwarded_header = \"forwarded\"\n\
             [cors]\ntoken_origins = [\"https://app.example\"]\napi_origins = [\"*\"]\n",
        )
        .unwrap();
        assert_eq!(c.server.trusted_proxies.len(), 2);
        assert_eq!(c.server.forwarded_header, ForwardedHeader::Forwarded);
        assert_eq!(c.cors.token_origins[0].as_str(), "https://app.example");
        assert_eq!(c.cors.api_origins, vec![ApiOrigin::Any]);
        for bad in [
            "[server]\ntrusted_proxies = [\"proxy.internal\"]\n",
            "[server]\nforwarded_header = \"x-real-ip\"\n",
            "[server]\nheader_read_timeout = 0\n",
            "[cors]\ntoken_origins = [\"*\"]\n",
            "[cors]\ntoken_origins = [\"null\"]\n",
            "[cors]\napi_origins = [\"*\", \"https://app.example\"]\n",
        ] {
            assert!(Config::from_toml_str(bad).is_err(), "{bad}");
        }
        let cleartext = |u: &str| {
            let mut c = Config::default();
            c.server.public_url = Some(u.to_owned());
            c.public_url_is_cleartext().unwrap()
        };
        assert!(cleartext("http://id.example"));
        assert!(cleartext("http://10.0.0.5:8080"));
        assert!(!cleartext("https://id.example"));
        assert!(!cleartext("http://127.0.0.1:8080"));
        assert!(!cleartext("http://127.1.2.3"));
        assert!(!cleartext("http://[::1]:8080"));
        assert!(!cleartext("http://localhost:8080"));
    }
}
