//! The X API v2 endpoints.

pub mod error;
pub mod principal;
pub mod users;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/2/users/me", get(users::me))
}
