//! Tokens without a browser: `POST /admin/v1/tokens` and `roost tokens mint`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use roost_domain::ScopeNames;
use serde::Deserialize;

use super::{AdminAuth, AdminError, AdminJson};
use crate::oauth::token::TokenResponse;
use crate::state::AppState;

/// The longest access-token lifetime a mint may ask for: a year.
pub const MAX_EXPIRES_IN: u64 = 365 * 24 * 3600;

/// What `roost tokens mint` and `POST /admin/v1/tokens` take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintInput {
    /// The App's client id.
    pub app: String,
    /// The user's username.
    pub user: String,
    /// Space-separated scopes, as on the authorize URL.
    pub scope: String,
    /// The access token's lifetime in seconds (default: `access_token_ttl`).
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// Checks `input` and mints a grant and its tokens, as the code exchange issues them.
pub async fn mint_tokens(state: &AppState, input: &MintInput) -> Result<TokenResponse, AdminError> {
    let scopes = ScopeNames::parse(&input.scope).map_err(|e| AdminError::Invalid {
        field: "scope",
        message: format!("{e}; use the scopes X defines, space-separated"),
    })?;
    if let Some(s) = input.expires_in
        && !(1..=MAX_EXPIRES_IN).contains(&s)
    {
        return Err(AdminError::Invalid {
            field: "expires_in",
            message: format!("must be 1 to {MAX_EXPIRES_IN} seconds (got {s})"),
        });
    }
    let app = crate::accounts::find_app(state, &input.app).await?;
    let user = crate::accounts::find_user(state, &input.user).await?;
    Ok(crate::oauth::token::mint(state, &app, user.id, scopes, input.expires_in).await?)
}

/// `POST /admin/v1/tokens`: the token endpoint's JSON.
pub async fn mint(
    _: AdminAuth,
    State(state): State<AppState>,
    AdminJson(input): AdminJson<MintInput>,
) -> Result<Response, AdminError> {
    let body = mint_tokens(&state, &input).await?;
    Ok(axum::Json(body).into_response())
}
