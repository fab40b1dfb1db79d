//! Users endpoints.

use axum::Json;
use axum::extract::State;
use roost_domain::Scope;
use serde_json::{Value, json};

use super::error::ApiError;
use super::principal::Principal;
use crate::state::AppState;

/// `GET /2/users/me`: user context only, `tweet.read` and `users.read`.
pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let user_id = principal.require_user(&[Scope::TweetRead, Scope::UsersRead])?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::Unauthorized {
            token_presented: true,
        })?;
    Ok(Json(
        json!({"data": {"id": user.id, "name": user.name, "username": user.username}}),
    ))
}
