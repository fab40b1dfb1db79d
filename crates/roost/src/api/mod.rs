//! The X API v2 endpoints.

pub mod error;
pub mod follows;
pub mod principal;
pub mod query;
pub mod render;
pub mod spaces;
pub mod tweets;
pub mod users;

use axum::Router;
use axum::routing::{delete, get};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/2/users/me", get(users::me))
        .route("/2/users", get(users::by_ids))
        .route("/2/users/by", get(users::by_usernames))
        .route("/2/users/by/username/{username}", get(users::by_username))
        .route("/2/users/{id}", get(users::by_id))
        .route("/2/users/{id}/tweets", get(tweets::timeline))
        .route(
            "/2/users/{id}/following",
            get(follows::following).post(follows::follow),
        )
        .route("/2/users/{id}/followers", get(follows::followers))
        .route("/2/users/{id}/following/spaces", get(spaces::of_following))
        .route(
            "/2/users/{source_user_id}/following/{target_user_id}",
            delete(follows::unfollow),
        )
        .route("/2/tweets", get(tweets::by_ids).post(tweets::create))
        .route("/2/tweets/{id}", get(tweets::by_id).delete(tweets::delete))
        .route("/2/spaces", get(spaces::by_ids))
        .route("/2/spaces/search", get(spaces::search))
        .route("/2/spaces/by/creator_ids", get(spaces::by_creator_ids))
        .route("/2/spaces/{id}", get(spaces::by_id))
}
