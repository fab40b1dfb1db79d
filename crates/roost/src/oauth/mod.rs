//! The OAuth 2.0 endpoints other than the browser pages (those are in `web`).

pub mod app_only;
pub mod client_auth;
pub mod error;
pub mod metadata;
pub mod params;
pub mod revoke;
pub mod token;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/2/oauth2/token", post(token::token))
        .route("/2/oauth2/revoke", post(revoke::revoke))
        .route("/oauth2/token", post(app_only::token))
        .route("/oauth2/invalidate_token", post(app_only::invalidate))
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
}
