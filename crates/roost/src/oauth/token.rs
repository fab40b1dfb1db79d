//! `POST /2/oauth2/token`: one handler, one module per grant type below it.

use axum::Json;
use std::net::IpAddr;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use roost_domain::{
    CodeChallenge, CodeChallengeMethod, CodeVerifier, Scope, ScopeNames, ScopeSet, Secret,
    TokenHash, TokenKind,
};
use roost_store::{IssuedTokens, RedeemOutcome, Rotation};
use serde::Serialize;

use super::client_auth::authenticate;
use super::error::{CODE_UNKNOWN, REFRESH_UNKNOWN, TokenError, no_store};
use super::params::{OAuthParams, ParamError};
use crate::http::ClientAddr;
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
    ClientAddr(client): ClientAddr,
    params: Result<OAuthParams, ParamError>,
) -> Response {
    let mut app_id = None;
    let resp = match issue(&state, client, params, &mut app_id).await {
        Ok(body) => no_store(Json(body).into_response()),
        Err(e) => e.render(state.strict()),
    };
    crate::sandbox::attribute_client(resp, app_id)
}

/// `app_id` is set once the client has authenticated, for the request inspector.
async fn issue(
    state: &AppState,
    client: IpAddr,
    params: Result<OAuthParams, ParamError>,
    app_id: &mut Option<roost_domain::Snowflake>,
) -> Result<TokenResponse, TokenError> {
    let params = params?;
    if let Some(d) = super::throttle(state, client, client_key(&params))
        .await
        .map_err(|e| TokenError::Unavailable(e.into()))?
    {
        return Err(TokenError::TooManyRequests(d.retry_after(state.now())));
    }
    let grant = GrantType::parse(params.get("grant_type"))?;
    let app = authenticate(state, &params).await?;
    *app_id = Some(app.id);
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

/// Tokens for a user of an App without a browser (`roost tokens mint`, `POST /admin/v1/tokens`).
/// An authorization code is recorded and redeemed at once, through the same store calls as the
/// consent page and the code exchange, so the grant and its tokens are like any other: same
/// format, lifetimes, scopes, revocation and refresh rotation. `access_ttl` (seconds) replaces
/// the access token's lifetime.
pub async fn mint(
    state: &AppState,
    app: &roost_store::AppRecord,
    user_id: roost_domain::Snowflake,
    scopes: ScopeNames,
    access_ttl: Option<u64>,
) -> Result<TokenResponse, roost_store::StoreError> {
    let now = state.now();
    let code = Secret::generate(TokenKind::AuthorizationCode, now);
    let grant_id = state.ids.next(now);
    // Never checked: the code is redeemed here, not by a client.
    let verifier = roost_domain::secret::random_base64url(32);
    let redirect_uri = app
        .callbacks
        .first()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    state
        .store
        .create_code(roost_store::NewCode {
            code_hash: code.hash(),
            grant_id,
            app_id: app.id,
            user_id,
            scopes,
            redirect_uri,
            code_challenge: verifier,
            code_challenge_method: "S256".to_owned(),
            created_at: now,
            expires_at: now + secs(state.config.oauth.authorization_code_ttl),
        })
        .await?;
    let granted = scopes.set();
    let (access, refresh, mut issued) = new_tokens(state, now, granted, granted, now);
    let ttl = access_ttl.unwrap_or(state.config.oauth.access_token_ttl);
    issued.access_expires_at = now + secs(ttl);
    match state.store.redeem_code(code.hash(), issued).await? {
        RedeemOutcome::Issued => {}
        RedeemOutcome::Replayed => {
            return Err(roost_store::StoreError::Other(anyhow::anyhow!(
                "a freshly minted code was already redeemed"
            )));
        }
    }
    tracing::info!(client_id = %app.client_id, %user_id, %grant_id, scopes = %scopes, "tokens minted without a browser (admin)");
    Ok(TokenResponse {
        token_type: "bearer",
        expires_in: ttl,
        access_token: access.expose().to_owned(),
        scope: scopes.to_string(),
        refresh_token: refresh.map(|r| r.expose().to_owned()),
    })
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
    // Echoed under the names the client uses now, or, without `scope`, those it asked for at
    // authorization (client-quirks rule 5); enforced as today's scopes.
    let asked = params
        .get("scope")
        .map(ScopeNames::parse)
        .transpose()
        .map_err(|e| TokenError::InvalidScope(e.to_string()))?;
    // Only a narrowing needs the grant's scopes before the claim; without `scope` the claim is
    // the only trip to the store. The claim re-checks everything else atomically.
    if let Some(asked) = asked {
        match state.store.refresh_by_hash(hash).await? {
            Some(r) if r.app_id == app.id && claimable(state, &r, now) => {
                if !asked.set().is_subset_of(r.grant_scopes) {
                    return Err(TokenError::InvalidScope(format!(
                        "the scope may only narrow the grant; not granted: {}",
                        r.grant_scopes.missing_from(asked.set())
                    )));
                }
            }
            _ => return unclaimed(state, token, hash, app, now).await,
        }
    }
    let (access, refresh) = rotation_pair(state, token, now);
    let o = &state.config.oauth;
    let rotation = Rotation {
        presented: hash,
        app_id: app.id,
        now,
        access_hash: access.hash(),
        access_expires_at: now + secs(o.access_token_ttl),
        access_scopes: asked.map(ScopeNames::set),
        successor_hash: refresh.hash(),
        successor_expires_at: now + secs(o.refresh_token_ttl),
        family_max_age_ms: family_max_age_ms(state),
    };
    match state.store.rotate_refresh(rotation).await? {
        Some(done) => {
            tracing::info!(grant_id = %done.grant_id, "refresh token rotated");
            let names = asked.unwrap_or(done.grant_scope_names);
            Ok(response(state, access, Some(refresh), names))
        }
        None => unclaimed(state, token, hash, app, now).await,
    }
}

fn claimable(state: &AppState, r: &roost_store::RefreshRecord, now: i64) -> bool {
    !r.grant_revoked
        && r.used_at.is_none()
        && now < r.expires_at
        && family_end(state, r.grant_created_at).is_none_or(|end| now < end)
}

/// `[oauth] refresh_family_max_age` in milliseconds, 0 when unlimited, for the store's claim.
fn family_max_age_ms(state: &AppState) -> i64 {
    secs(state.config.oauth.refresh_family_max_age)
}

/// The pair a rotation of `presented` at `at` issues. With a grace window it is derived from
/// the presented token under a server key, so that a retry can be answered with the same pair
/// although only digests are stored; without one it is random.
fn rotation_pair(state: &AppState, presented: &str, at: i64) -> (Secret, Secret) {
    if state.config.oauth.refresh_grace_period == 0 {
        return (
            Secret::generate(TokenKind::AccessToken, at),
            Secret::generate(TokenKind::RefreshToken, at),
        );
    }
    let derive = |kind, purpose| {
        Secret::with_key_bytes(kind, at, &state.keys.rotation_bytes(purpose, presented))
    };
    (
        derive(TokenKind::AccessToken, "rotation-access"),
        derive(TokenKind::RefreshToken, "rotation-refresh"),
    )
}

/// Says why a refresh token could not be claimed. A used one is a retry inside the grace
/// window (answered with the pair its rotation issued) or a reuse, which revokes the whole
/// family (checklist D3, D4).
async fn unclaimed(
    state: &AppState,
    token: &str,
    hash: TokenHash,
    app: &roost_store::AppRecord,
    now: i64,
) -> Result<TokenResponse, TokenError> {
    let record = state.store.refresh_by_hash(hash).await?;
    let Some(record) = record else {
        return Err(TokenError::InvalidRefreshToken(REFRESH_UNKNOWN));
    };
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
    if let Some(used_at) = record.used_at {
        if let Some(again) = retried(state, token, hash, &record, used_at, now).await? {
            tracing::info!(grant_id = %record.grant_id, "refresh retried inside the grace window; the same pair is handed out again");
            return Ok(again);
        }
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
    // Unused, live and this App's, yet not claimed: only a store that changed under us.
    Err(TokenError::InvalidRefreshToken(
        "the refresh token could not be used; try again",
    ))
}

/// The pair that the rotation of `token` at `used_at` issued, if the grace window is on, has
/// not passed, and that pair is still the family's current one: an older generation never
/// comes back this way.
async fn retried(
    state: &AppState,
    token: &str,
    hash: TokenHash,
    record: &roost_store::RefreshRecord,
    used_at: i64,
    now: i64,
) -> Result<Option<TokenResponse>, TokenError> {
    let grace = state.config.oauth.refresh_grace_period;
    if grace == 0 || now.saturating_sub(used_at) > secs(grace) {
        return Ok(None);
    }
    let (access, refresh) = rotation_pair(state, token, used_at);
    let Some(pair) = state
        .store
        .retried_rotation(hash, refresh.hash(), access.hash())
        .await?
    else {
        return Ok(None);
    };
    let Ok(left_ms) = u64::try_from(pair.access_expires_at - now) else {
        return Ok(None);
    };
    if left_ms == 0 {
        return Ok(None);
    }
    Ok(Some(TokenResponse {
        token_type: "bearer",
        expires_in: left_ms.div_ceil(1000),
        access_token: access.expose().to_owned(),
        // The retried rotation's scopes, under the names of the grant where they are its own.
        scope: if pair.scopes == record.grant_scopes {
            record.grant_scope_names.to_string()
        } else {
            ScopeNames::current(pair.scopes).to_string()
        },
        refresh_token: Some(refresh.expose().to_owned()),
    }))
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
