//! roost: an X-compatible OAuth 2.0 authorization server and X API v2, as a library so that the
//! binary (`main.rs`) stays a shim and the integration tests drive the real application.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod apps;
pub mod cleanup;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod content;
pub mod demo;
pub mod developer;
pub mod developer_cli;
pub mod http;
pub mod keys;
pub mod net;
pub mod oauth;
pub mod openapi;
pub mod ratelimit;
pub mod sandbox;
pub mod snapshots;
pub mod state;
pub mod telemetry;
pub mod usage;
pub mod web;

#[cfg(test)]
mod linear_time;

use std::sync::Arc;

use roost_domain::SnowflakeGenerator;
use roost_store::Store;

use crate::accounts::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::ServerKeys;
use crate::oauth::token;
use crate::state::{AppState, Inner};

/// Opens the store named by the configuration and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = roost_store::open_with(
        &config.server.database_url,
        std::time::Duration::from_secs(config.server.database_timeout),
    )
    .await?;
    store.migrate().await?;
    Ok(store)
}

/// Builds the application state over an open, migrated store.
pub async fn build_state(
    config: Config,
    store: Arc<dyn Store>,
    clock: Clock,
) -> anyhow::Result<AppState> {
    config.validate()?;
    let public = config.public_url()?;
    let public_url = public.as_str().trim_end_matches('/').to_owned();
    let public_origin = public.origin().ascii_serialization();
    let keys = ServerKeys::load(store.as_ref(), clock.now_ms()).await?;
    let hasher = Hasher::new(
        config.login.max_concurrent_hashes,
        std::time::Duration::from_secs(config.login.hash_wait),
    );
    let world =
        content::SharedWorld::load(store.as_ref(), config.content.render_cache_size).await?;
    let tokens = api::principal::TokenCache::new(
        config.oauth.token_cache_size,
        token::secs(config.oauth.token_cache_ttl),
    );
    let ids = SnowflakeGenerator::new(sandbox::worker_id(config.sandbox.seed));
    let sandbox = sandbox::Sandbox::new(&config.sandbox);
    let limits = rate_limiter(&config, &store, clock.now_ms()).await?;
    Ok(AppState::new(Inner {
        store,
        secure_cookies: public.scheme() == "https",
        config,
        clock,
        ids,
        sandbox,
        keys,
        hasher,
        public_url,
        public_origin,
        world,
        tokens,
        limits,
        apps: apps::AppCache::new(1000),
        usage: usage::UsageRecorder::new(),
    }))
}

/// The rate limiter `rate_limits.shared` asks for.
async fn rate_limiter(
    config: &Config,
    store: &Arc<dyn Store>,
    now: i64,
) -> anyhow::Result<ratelimit::RateLimiter> {
    use config::LimitSharing;
    Ok(
        match config.rate_limits.sharing(&config.server.database_url)? {
            LimitSharing::Memory => ratelimit::RateLimiter::in_memory(),
            LimitSharing::Store => ratelimit::RateLimiter::shared_through_store(store.clone()),
            LimitSharing::Redis(url) => {
                // Drawn once per database, so every node on it counts under the same keys and
                // other deployments on the same Redis never do.
                let mut candidate = [0u8; 8];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut candidate);
                let stored = store
                    .server_key("rate_limit_namespace", &candidate, now)
                    .await?;
                let namespace: String = stored.iter().map(|b| format!("{b:02x}")).collect();
                let timeout = std::time::Duration::from_millis(config.rate_limits.redis_timeout_ms);
                ratelimit::RateLimiter::shared_through_redis(ratelimit::RedisWindows::new(
                    &url, &namespace, timeout,
                )?)
            }
        },
    )
}
