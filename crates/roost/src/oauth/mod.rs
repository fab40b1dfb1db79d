//! The OAuth 2.0 endpoints other than the browser pages (those are in `web`).

pub mod app_only;
pub mod client_auth;
pub mod error;
pub mod metadata;
pub mod params;
pub mod revoke;
pub mod token;

use std::net::IpAddr;

use axum::Router;
use axum::routing::{get, post};

use crate::ratelimit::{Decision, Key, LimitError};
use crate::state::AppState;

/// Limits token, revoke and app-only requests per client and per client address (checklist
/// K1), before any credential is checked. Returns the refusing decision when over a limit, and
/// an error when the shared counters cannot be reached (the caller answers 503).
pub async fn throttle(
    state: &AppState,
    addr: IpAddr,
    client: Option<&str>,
) -> Result<Option<Decision>, LimitError> {
    let cfg = &state.config.rate_limits;
    if !cfg.enabled {
        return Ok(None);
    }
    let window = token::secs(cfg.oauth_window);
    let now = state.now();
    let by_addr = state
        .limits
        .check(
            Key {
                scope: "oauth:address",
                subject: addr.to_string(),
            },
            cfg.oauth_per_address,
            window,
            now,
        )
        .await?;
    if !by_addr.allowed {
        return Ok(Some(by_addr));
    }
    let Some(client) = client else {
        return Ok(None);
    };
    let by_client = state
        .limits
        .check(
            Key {
                scope: "oauth:client",
                subject: client.chars().take(128).collect(),
            },
            cfg.oauth_per_client,
            window,
            now,
        )
        .await?;
    Ok((!by_client.allowed).then_some(by_client))
}

/// The endpoints a browser-based public App calls, which CORS may open to listed origins.
pub fn browser_router() -> Router<AppState> {
    Router::new()
        .route("/2/oauth2/token", post(token::token))
        .route("/2/oauth2/revoke", post(revoke::revoke))
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
}

/// The app-only endpoints: they take the App's API key and secret, which never belong in a
/// browser, so they never answer cross-origin requests.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(app_only::token))
        .route("/oauth2/invalidate_token", post(app_only::invalidate))
}
