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
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};

use crate::ratelimit::{Decision, Key};
use crate::state::AppState;

/// Every API route passes this gate: it authenticates the bearer token once (handlers take the
/// resulting `Principal`), then counts the request against X's per-endpoint window for the user
/// (user tokens) or the App (app-only tokens), and writes the `x-rate-limit-*` headers on the
/// answer, 429s included. Unauthenticated requests get 401 without rate-limit headers, as on X.
async fn gate(
    State(state): State<AppState>,
    matched: MatchedPath,
    mut req: Request,
    next: Next,
) -> Response {
    let principal = match principal::resolve(&state, req.headers()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(principal.clone());
    let decision = limit(&state, req.method(), matched.as_str(), &principal);
    if let Some(d) = decision
        && !d.allowed
    {
        tracing::info!(endpoint = matched.as_str(), "rate limit reached");
        return with_limit_headers(error::ApiError::TooManyRequests.into_response(), &d);
    }
    let resp = next.run(req).await;
    match decision {
        Some(d) => with_limit_headers(resp, &d),
        None => resp,
    }
}

fn limit(
    state: &AppState,
    method: &Method,
    path: &str,
    principal: &principal::Principal,
) -> Option<Decision> {
    let cfg = &state.config.rate_limits;
    if !cfg.enabled {
        return None;
    }
    // axum's `/2/users/{id}` is X's `/2/users/:id`.
    let key = format!("{method} {}", path.replace('{', ":").replace('}', ""));
    let (scope, limit) = cfg.endpoint(&key)?;
    let (n, subject) = match principal {
        principal::Principal::User {
            user_id, app_id, ..
        } => (limit.user?, format!("u{user_id}:a{app_id}")),
        principal::Principal::App { app_id } => (limit.app?, format!("a{app_id}")),
    };
    let window_ms = crate::oauth::token::secs(cfg.window);
    Some(
        state
            .limits
            .check(Key { scope, subject }, n, window_ms, state.now()),
    )
}

fn with_limit_headers(mut resp: Response, d: &Decision) -> Response {
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-rate-limit-limit", d.limit.to_string()),
        ("x-rate-limit-remaining", d.remaining.to_string()),
        ("x-rate-limit-reset", d.reset_secs().to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}

pub fn router(state: AppState) -> Router<AppState> {
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
        .route_layer(middleware::from_fn_with_state(state, gate))
}
