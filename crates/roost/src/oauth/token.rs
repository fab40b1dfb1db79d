//! `POST /2/oauth2/token`: one handler, one module per grant type below it.

use axum::Json;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use roost_domain::{
    CodeChallenge, CodeChallengeMethod, CodeVerifier, Scope, ScopeNames, ScopeSet, Secret,
    TokenHash, TokenKind,
};
use roost_store::{IssuedTokens, RedeemOutcome, RotateOutcome};
use serde::Serialize;

use super::client_auth::authenticate;
use super::error::{CODE_UNKNOWN, REFRESH_UNKNOWN, TokenError, no_store};
use super::params::{OAuthParams, ParamError};
use crate::state::AppState;

/// X's token response. Field order follows X's; `refresh_token` only with `offline.access`.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub token_type: &'static str,
    pub expires_in: u64,
    pub access_token: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    fn parse(s: Option<&str>) -> Result<Self, TokenError> {
        match s {
            None => Err(TokenError::MissingParameter("grant_type")),
            Some("authorization_code") => Ok(GrantType::AuthorizationCode),
            Some("refresh_token") => Ok(GrantType::RefreshToken),
            Some("client_credentials") => Ok(GrantType::ClientCredentials),
            Some(other) => Err(TokenError::UnsupportedGrantType(format!(
                "grant_type `{}` is not supported; use authorization_code, refresh_token or client_credentials",
                other.chars().take(64).collect::<String>()
            ))),
        }
    }
}

pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    params: Result<OAuthParams, ParamError>,
) -> Response {
    match issue(&state, peer, params).await {
        Ok(body) => no_store(Json(body).into_response()),
        Err(e) => e.render(state.strict()),
    }
}

async fn issue(
    state: &AppState,
    peer: SocketAddr,
    params: Result<OAuthParams, ParamError>,
) -> Result<TokenResponse, TokenError> {
    let params = params?;
    if let Some(d) = super::throttle(state, peer, client_key(&params)) {
        return Err(TokenError::TooManyRequests(d.retry_after(state.now())));
    }
    let grant = GrantType::parse(params.get("grant_type"))?;
    let app = authenticate(state, &params).await?;
    tracing::Span::current().record("client_id", app.client_id.as_str());
    match grant {
        GrantType::AuthorizationCode => authorization_code(state, &params, &app).await,
        GrantType::RefreshToken => refresh_token(state, &params, &app).await,
        GrantType::ClientCredentials => client_credentials(state, &app).await,
    }
}

/// The client a request names, for throttling: the Basic id, else `client_id`.
pub(super) fn client_key(params: &OAuthParams) -> Option<&str> {
    match &params.basic {
        Some(Ok(b)) => Some(b.id.as_str()),
        _ => params.get("client_id"),
    }
}

/// Tokens for a grant that began at `grant_created_at`. A refresh token never outlives its
/// family's maximum age, so the cleanup job can remove a family that has reached it.
fn new_tokens(
    state: &AppState,
    now: i64,
    scopes: ScopeSet,
    grant_scopes: ScopeSet,
    grant_created_at: i64,
) -> (Secret, Option<Secret>, IssuedTokens) {
    let o = &state.config.oauth;
    let access = Secret::generate(TokenKind::AccessToken, now);
    let refresh = grant_scopes
        .contains(Scope::OfflineAccess)
        .then(|| Secret::generate(TokenKind::RefreshToken, now));
    let mut refresh_expires_at = now + secs(o.refresh_token_ttl);
    if let Some(family_end) = family_end(state, grant_created_at) {
        refresh_expires_at = refresh_expires_at.min(family_end);
    }
    let issued = IssuedTokens {
        access_hash: access.hash(),
        access_expires_at: now + secs(o.access_token_ttl),
        access_scopes: scopes,
        refresh: refresh.as_ref().map(|r| (r.hash(), refresh_expires_at)),
        now,
    };
    (access, refresh, issued)
}

/// When a refresh family that began at `grant_created_at` can no longer be refreshed
/// (`[oauth] refresh_family_max_age`; `None` when unlimited). Checklist D7.
fn family_end(state: &AppState, grant_created_at: i64) -> Option<i64> {
    let max_age = state.config.oauth.refresh_family_max_age;
    (max_age > 0).then(|| grant_created_at.saturating_add(secs(max_age)))
}

pub fn secs(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 2_000)
        .saturating_mul(1000)
}

/// The token response; `scope` names the scopes as the client asked for them (client-quirks
/// rule 5), which for X's historic names is not how roost stores them.
fn response(
    state: &AppState,
    access: Secret,
    refresh: Option<Secret>,
    scopes: ScopeNames,
) -> TokenResponse {
    TokenResponse {
        token_type: "bearer",
        expires_in: state.config.oauth.access_token_ttl,
        access_token: access.expose().to_owned(),
        scope: scopes.to_string(),
        refresh_token: refresh.map(|r| r.expose().to_owned()),
    }
}

async fn authorization_code(
    state: &AppState,
    params: &OAuthParams,
    app: &roost_store::AppRecord,
) -> Result<TokenResponse, TokenError> {
    let code = params
        .get("code")
        .ok_or(TokenError::MissingParameter("code"))?;
    let verifier = params
        .get("code_verifier")
        .ok_or(TokenError::MissingParameter("code_verifier"))?;
    // A missing redirect_uri is a mismatch with the code's, not a missing parameter: the code
    // is bound to the URI it was issued for (checklist B6, RFC 6749 §4.1.3).
    let redirect_uri = params.get("redirect_uri");
    let now = state.now();
    let hash = TokenHash::of(code);
    let record = state
        .store
        .code_by_hash(hash)
        .await?
        .ok_or(TokenError::InvalidCode(CODE_UNKNOWN))?;
    // A code shown to another App is refused without being burnt, and answered like an
    // unknown one (checklist B5).
    if record.app_id != app.id {
        return Err(TokenError::ForeignCode);
    }
    if record.used_at.is_some() {
        // Replay: revoke what the code produced (B3).
        state.store.revoke_grant(record.grant_id, now).await?;
        state.tokens.forget_grant(record.grant_id);
        tracing::warn!(grant_id = %record.grant_id, "authorization code replayed; its grant is revoked");
        return Err(TokenError::InvalidCode(
            "the code was already used; the tokens issued from it are revoked",
        ));
    }
    if now >= record.expires_at {
        return Err(TokenError::InvalidCode(
            "the code has expired (codes live 30 seconds by default)",
        ));
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        return Err(TokenError::RedirectMismatch);
    }
    let method = CodeChallengeMethod::from_stored(&record.code_challenge_method).ok_or(
        TokenError::InvalidCode("the code has an unknown PKCE method"),
    )?;
    // Stored challenges were validated at authorize time; parse them in the lenient mode so a
    // later switch to strict mode cannot make a stored code unreadable.
    let challenge = CodeChallenge::parse(method, &record.code_challenge, roost_domain::PkceMode::X)
        .map_err(|_| TokenError::InvalidCode("the code has a malformed PKCE challenge"))?;
    let verifier = CodeVerifier::parse(verifier, state.pkce_mode())
        .map_err(|e| TokenError::InvalidRequest(e.to_string()))?;
    if !challenge.verify(&verifier) {
        return Err(TokenError::VerifierMismatch);
    }
    // The grant begins now: `redeem_code` records it with this `now`.
    let granted = record.scopes.set();
    let (access, refresh, issued) = new_tokens(state, now, granted, granted, now);
    match state.store.redeem_code(hash, issued).await? {
        RedeemOutcome::Issued => {
            tracing::info!(grant_id = %record.grant_id, user_id = %record.user_id, "authorization code redeemed");
            Ok(response(state, access, refresh, record.scopes))
        }
        RedeemOutcome::Replayed => {
            state.tokens.forget_grant(record.grant_id);
            Err(TokenError::InvalidCode(
                "the code was already used; the tokens issued from it are revoked",
            ))
        }
    }
}

async fn refresh_token(
    state: &AppState,
    params: &OAuthParams,
    app: &roost_store::AppRecord,
) -> Result<TokenResponse, TokenError> {
    let token = params
        .get("refresh_token")
        .ok_or(TokenError::MissingParameter("refresh_token"))?;
    let now = state.now();
    let hash = TokenHash::of(token);
    let record = state
        .store
        .refresh_by_hash(hash)
        .await?
        .ok_or(TokenError::InvalidRefreshToken(REFRESH_UNKNOWN))?;
    // Another App's token: refused like an unknown one, and the owner's family is left alone
    // (D5).
    if record.app_id != app.id {
        return Err(TokenError::ForeignRefreshToken);
    }
    if record.grant_revoked {
        return Err(TokenError::InvalidRefreshToken(
            "the refresh token has been revoked",
        ));
    }
    if record.used_at.is_some() {
        // Reuse of a rotated token: the family is revoked (checklist D3).
        state.store.revoke_grant(record.grant_id, now).await?;
        state.tokens.forget_grant(record.grant_id);
        tracing::warn!(grant_id = %record.grant_id, "refresh token reused; the whole family is revoked");
        return Err(TokenError::InvalidRefreshToken(
            "the refresh token was already used; every token of its grant is now revoked",
        ));
    }
    if now >= record.expires_at {
        return Err(TokenError::InvalidRefreshToken(
            "the refresh token has expired",
        ));
    }
    if family_end(state, record.grant_created_at).is_some_and(|end| now >= end) {
        return Err(TokenError::InvalidRefreshToken(
            "the grant has reached its maximum age (oauth.refresh_family_max_age); the user must authorize the App again",
        ));
    }
    // Echoed under the names the client uses now, or, without `scope`, those it asked for at
    // authorization; enforced as today's scopes.
    let names = match params.get("scope") {
        None => record.grant_scope_names,
        Some(s) => {
            let asked =
                ScopeNames::parse(s).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if !asked.set().is_subset_of(record.grant_scopes) {
                return Err(TokenError::InvalidScope(format!(
                    "the scope may only narrow the grant; not granted: {}",
                    record.grant_scopes.missing_from(asked.set())
                )));
            }
            asked
        }
    };
    let (access, refresh, issued) = new_tokens(
        state,
        now,
        names.set(),
        record.grant_scopes,
        record.grant_created_at,
    );
    match state.store.rotate_refresh(hash, issued).await? {
        RotateOutcome::Rotated => {
            tracing::info!(grant_id = %record.grant_id, "refresh token rotated");
            Ok(response(state, access, refresh, names))
        }
        RotateOutcome::Reused => {
            state.tokens.forget_grant(record.grant_id);
            tracing::warn!(grant_id = %record.grant_id, "refresh token reused; the whole family is revoked");
            Err(TokenError::InvalidRefreshToken(
                "the refresh token was already used; every token of its grant is now revoked",
            ))
        }
    }
}

async fn client_credentials(
    state: &AppState,
    app: &roost_store::AppRecord,
) -> Result<TokenResponse, TokenError> {
    if app.client_type != roost_domain::ClientType::Confidential {
        return Err(TokenError::UnauthorizedClient(format!(
            "App `{}` is public; client_credentials is only for confidential Apps",
            app.client_id
        )));
    }
    let now = state.now();
    let access = Secret::generate(TokenKind::AccessToken, now);
    state
        .store
        .insert_app_token(
            app.id,
            access.hash(),
            now,
            now + secs(state.config.oauth.access_token_ttl),
        )
        .await?;
    Ok(response(
        state,
        access,
        None,
        ScopeNames::current(ScopeSet::EMPTY),
    ))
}
