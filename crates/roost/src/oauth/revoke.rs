//! `POST /2/oauth2/revoke` (RFC 7009, X's `{"revoked":true}` body).
//!
//! Revoking an access token revokes that token only; revoking a refresh token revokes its whole
//! grant. A token that is unknown, already revoked or owned by another App gets the same 200, so
//! the answer never tells whether a token exists (checklist E2, E3).

use axum::Json;
use std::net::IpAddr;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use roost_domain::TokenHash;

use super::client_auth::authenticate;
use super::error::{TokenError, no_store};
use super::params::{OAuthParams, ParamError};
use crate::http::ClientAddr;
use crate::state::AppState;

pub async fn revoke(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    params: Result<OAuthParams, ParamError>,
) -> Response {
    let mut app_id = None;
    let resp = match run(&state, client, params, &mut app_id).await {
        Ok(()) => no_store(Json(serde_json::json!({ "revoked": true })).into_response()),
        Err(e) => e.render(state.strict()),
    };
    crate::sandbox::attribute_client(resp, app_id)
}

/// `app_id` is set once the client has authenticated, for the request inspector.
async fn run(
    state: &AppState,
    client: IpAddr,
    params: Result<OAuthParams, ParamError>,
    app_id: &mut Option<roost_domain::Snowflake>,
) -> Result<(), TokenError> {
    let params = params?;
    // Guessing tokens through revocation is throttled like the token endpoint (E7).
    if let Some(d) = super::throttle(state, client, super::token::client_key(&params))
        .await
        .map_err(|e| TokenError::Unavailable(e.into()))?
    {
        return Err(TokenError::TooManyRequests(d.retry_after(state.now())));
    }
    let app = authenticate(state, &params).await?;
    *app_id = Some(app.id);
    let token = params
        .get("token")
        .ok_or(TokenError::MissingParameter("token"))?;
    let hash = TokenHash::of(token);
    let now = state.now();
    // The hint only decides which kind is tried first (E5).
    let refresh_first = params.get("token_type_hint") == Some("refresh_token");
    let revoke_refresh = || async {
        let grant = state.store.revoke_refresh_token(hash, app.id, now).await?;
        if let Some(g) = grant {
            state.tokens.forget_grant(g);
        }
        Ok::<bool, roost_store::StoreError>(grant.is_some())
    };
    let mut revoked = refresh_first && revoke_refresh().await?;
    if !revoked {
        revoked = state.store.revoke_access_token(hash, app.id, now).await?;
        if revoked {
            state.tokens.forget(&hash);
        }
    }
    if !revoked && !refresh_first {
        revoked = revoke_refresh().await?;
    }
    tracing::info!(client_id = %app.client_id, revoked, "revocation request");
    Ok(())
}
