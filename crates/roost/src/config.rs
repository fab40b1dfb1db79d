//! Configuration: built-in defaults, then the TOML file, then environment variables and flags
//! (for the three server settings the contract gives flags to).
//!
//! Every tunable is here with its default; the README's configuration reference is written from
//! this file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

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
    pub rate_limits: RateLimitConfig,
}

/// X's published per-endpoint limits (spec/x-api-v2.md §R, docs of 2026): per App for app-only
/// tokens, per user (and App) for user tokens, per 15-minute window. `None`: that kind of token
/// cannot call the endpoint.
pub const DEFAULT_LIMITS: &[(&str, Option<u64>, Option<u64>)] = &[
    ("GET /2/users/me", None, Some(75)),
    ("GET /2/users", Some(300), Some(900)),
    ("GET /2/users/:id", Some(300), Some(900)),
    ("GET /2/users/by", Some(300), Some(900)),
    ("GET /2/users/by/username/:username", Some(300), Some(900)),
    ("GET /2/tweets", Some(3500), Some(5000)),
    ("GET /2/tweets/:id", Some(450), Some(900)),
    ("POST /2/tweets", None, Some(100)),
    ("DELETE /2/tweets/:id", None, Some(50)),
    ("GET /2/users/:id/tweets", Some(10_000), Some(900)),
    ("GET /2/users/:id/following", Some(300), Some(300)),
    ("GET /2/users/:id/followers", Some(300), Some(300)),
    ("POST /2/users/:id/following", None, Some(50)),
    (
        "DELETE /2/users/:source_user_id/following/:target_user_id",
        None,
        Some(50),
    ),
    ("GET /2/spaces/:id", Some(300), Some(300)),
    ("GET /2/spaces", Some(300), Some(300)),
    ("GET /2/spaces/by/creator_ids", Some(300), Some(300)),
    ("GET /2/spaces/search", Some(300), Some(300)),
    ("GET /2/users/:id/following/spaces", Some(300), Some(300)),
];

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EndpointLimit {
    /// Requests per window for app-only tokens (per App).
    pub app: Option<u64>,
    /// Requests per window for user tokens (per user and App).
    pub user: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `false` turns every limit off (benchmarks, load tests). Default `true`.
    pub enabled: bool,
    /// Seconds in an API window. Default 900 (X's 15 minutes).
    pub window: u64,
    /// Overrides of X's numbers, keyed like `"GET /2/users/:id" = { app = 300, user = 900 }`.
    /// A key sets both numbers; leave one out to forbid that kind of token.
    pub endpoints: BTreeMap<String, EndpointLimit>,
    /// Token, revoke and app-only token requests per client (or API key) per `oauth_window`.
    /// Default 3000.
    pub oauth_per_client: u64,
    /// The same per client address. Default 6000.
    pub oauth_per_address: u64,
    /// Seconds. Default 60.
    pub oauth_window: u64,
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
        }
    }
}

impl RateLimitConfig {
    /// The limit of an endpoint (`"GET /2/users/:id"`), with its static key.
    pub fn endpoint(&self, key: &str) -> Option<(&'static str, EndpointLimit)> {
        let (k, app, user) = DEFAULT_LIMITS.iter().find(|(k, _, _)| *k == key)?;
        let limit = self.endpoints.get(key).copied().unwrap_or(EndpointLimit {
            app: *app,
            user: *user,
        });
        Some((k, limit))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ContentConfig {
    /// Milliseconds between checks for content changed by another process (the admin CLI,
    /// `roost import`, another node). Default 1000.
    pub poll_interval_ms: u64,
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address. Default `127.0.0.1:8080`. Flag `--addr`, env `ROOST_ADDR`.
    pub addr: String,
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
            database_url: "sqlite://roost.db".to_owned(),
            public_url: None,
            max_body_bytes: 64 * 1024,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            request_timeout: 30,
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
            ("content.poll_interval_ms", self.content.poll_interval_ms),
            ("rate_limits.window", self.rate_limits.window),
            ("rate_limits.oauth_window", self.rate_limits.oauth_window),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        if self.login.max_concurrent_hashes == 0 {
            return Err(ConfigError::Invalid(
                "login.max_concurrent_hashes must be at least 1".into(),
            ));
        }
        if let Some(k) = self
            .rate_limits
            .endpoints
            .keys()
            .find(|k| !DEFAULT_LIMITS.iter().any(|(d, _, _)| d == k))
        {
            return Err(ConfigError::Invalid(format!(
                "rate_limits.endpoints: `{k}` is not an endpoint roost serves (keys look like \"GET /2/users/:id\")"
            )));
        }
        self.socket_addr()?;
        self.public_url()?;
        Ok(())
    }

    pub fn socket_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.addr.parse().map_err(|_| {
            ConfigError::Invalid(format!("`{}` is not a HOST:PORT address", self.server.addr))
        })
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
        assert!(c.validate().is_ok());
        assert_eq!(c.public_url().unwrap().as_str(), "http://127.0.0.1:8080/");
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
}
