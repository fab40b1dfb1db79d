//! Shared application state.

use std::sync::Arc;

use roost_domain::{PkceMode, SnowflakeGenerator};
use roost_store::Store;

use crate::accounts::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::content::SharedWorld;
use crate::keys::ServerKeys;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub clock: Clock,
    pub ids: SnowflakeGenerator,
    pub keys: ServerKeys,
    pub hasher: Hasher,
    /// The public base URL without a trailing slash.
    pub public_url: String,
    /// `scheme://host[:port]` of the public URL, for `Origin` checks.
    pub public_origin: String,
    pub secure_cookies: bool,
    /// The API's content, in memory.
    pub world: SharedWorld,
    /// Resolved bearer tokens.
    pub tokens: crate::api::principal::TokenCache,
    /// Request counters for the API and the OAuth endpoints.
    pub limits: crate::ratelimit::RateLimiter,
    /// Apps by client id and API key.
    pub apps: crate::apps::AppCache,
    /// Fault rules and the request inspector.
    pub sandbox: crate::sandbox::Sandbox,
    /// API requests per App, on their way to the store.
    pub usage: crate::usage::UsageRecorder,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn strict(&self) -> bool {
        self.config.oauth.strict_rfc
    }

    pub fn pkce_mode(&self) -> PkceMode {
        if self.strict() {
            PkceMode::Strict
        } else {
            PkceMode::X
        }
    }

    /// Sets the manual clock (Unix milliseconds); it never moves back.
    pub fn set_clock_ms(&self, ms: i64) -> Result<i64, crate::clock::ClockError> {
        self.clock.set_ms(ms)
    }

    /// Moves the manual clock forward; returns the new time.
    pub fn advance_clock_ms(&self, ms: i64) -> Result<i64, crate::clock::ClockError> {
        self.clock.try_advance_ms(ms)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }
}
