//! App-only Bearer Tokens: `POST /oauth2/token` and `POST /oauth2/invalidate_token`.
//!
//! X hands back the same Bearer Token for an App until it is invalidated. roost does the same
//! without storing the token: it is derived with HMAC-SHA-256 from a server key, the App's id and
//! the App's bearer generation, which invalidation bumps. Checking a token is a MAC check and a
//! comparison of generations; an invalidated token's generation is behind the App's, so it is
//! refused everywhere at once.
//!
//! The visible shape imitates X's (a run of `A`s, literal `%3D`), and clients pass it verbatim.

use axum::Json;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roost_domain::{Snowflake, TokenHash, constant_time_eq};
use roost_store::AppRecord;

use super::error::{RETRY_AFTER_UNAVAILABLE, TokenError, no_store};
use super::params::{OAuthParams, ParamError};
use crate::http::ClientAddr;
use crate::state::AppState;

const PREFIX: &str = "AAAAAAAAAAAAAAAAAAAAA";
const SEP: &str = "%3D";

pub fn mint(state: &AppState, app_id: Snowflake, generation: i64) -> String {
    let body = format!("{app_id}{SEP}{generation}");
    let tag = URL_SAFE_NO_PAD.encode(state.keys.sign_bearer(body.as_bytes()));
    format!("{PREFIX}{body}{SEP}{tag}")
}

/// A token with a valid MAC: the App and generation it was minted for. Whether that generation
/// is still current is the caller's check.
pub fn verify(state: &AppState, token: &str) -> Option<(Snowflake, i64)> {
    let rest = token.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(3, SEP);
    let (app, generation, tag) = (parts.next()?, parts.next()?, parts.next()?);
    let body = format!("{app}{SEP}{generation}");
    let expected = URL_SAFE_NO_PAD.encode(state.keys.sign_bearer(body.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), tag.as_bytes()) {
        return None;
    }
    Some((Snowflake::parse(app).ok()?, generation.parse().ok()?))
}

/// The token as issued. X's docs paste the token into the form body or URL of
/// `invalidate_token` without encoding it, so its literal `%3D` separators arrive decoded as
/// `=`. Nothing else in a token can be `=` (the parts are digits and unpadded base64url), so
/// mapping them back is unambiguous.
fn canonical(token: &str) -> String {
    token.replace('=', SEP)
}

pub fn looks_like_app_token(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// A success as X sends it on these two endpoints: `application/json; charset=utf-8`
/// (spec/x-oauth2.md §6, §7), not the bare `application/json` of `/2/oauth2/token`.
fn success(body: serde_json::Value) -> Response {
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    no_store(resp)
}

/// X's answer to every failure on these two endpoints.
fn code_99() -> Response {
    let body = serde_json::json!({"errors": [{"code": 99, "label": "authenticity_token_error", "message": "Unable to verify your credentials"}]});
    no_store((StatusCode::FORBIDDEN, Json(body)).into_response())
}

/// The store failed or timed out (checklist K5): 503 and `Retry-After`. In X mode the body is
/// X's own for this status in the dialect these endpoints speak (code 130, "Over capacity");
/// in strict mode the token endpoint's RFC 6749 body.
fn unavailable(state: &AppState, e: roost_store::StoreError) -> Response {
    if state.strict() {
        return TokenError::Unavailable(e).render(true);
    }
    tracing::error!(error = %e, "store error on an app-only endpoint");
    let body = serde_json::json!({"errors": [{"code": 130, "message": "Over capacity"}]});
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(RETRY_AFTER_UNAVAILABLE),
    );
    no_store(resp)
}

/// Why authentication with the API key and secret did not succeed.
enum AuthFailure {
    Refused(&'static str),
    Unavailable(roost_store::StoreError),
}

impl AuthFailure {
    fn respond(self, state: &AppState, what: &'static str) -> Response {
        match self {
            AuthFailure::Refused(reason) => {
                tracing::info!(reason, "{what}");
                code_99()
            }
            AuthFailure::Unavailable(e) => unavailable(state, e),
        }
    }
}

/// A request whose parameters cannot be read: 413 for an oversized body, as on every other
/// endpoint (checklist H1, chunked bodies included), else X's code 99.
fn param_error(e: ParamError, what: &'static str) -> Response {
    tracing::info!(reason = %e, "{what}");
    match e {
        ParamError::BodyTooLarge => no_store(StatusCode::PAYLOAD_TOO_LARGE.into_response()),
        _ => code_99(),
    }
}

/// Authenticates with the App's API key and secret (HTTP Basic, halves percent-decoded).
async fn authenticate(
    state: &AppState,
    params: &OAuthParams,
) -> Result<std::sync::Arc<AppRecord>, AuthFailure> {
    let creds = match &params.basic {
        Some(Ok(c)) => c,
        Some(Err(_)) => {
            return Err(AuthFailure::Refused(
                "the Authorization header is not valid Basic credentials",
            ));
        }
        None => {
            return Err(AuthFailure::Refused(
                "no Authorization header: send HTTP Basic api_key:api_secret",
            ));
        }
    };
    let presented = TokenHash::of(&creds.secret);
    match state
        .apps
        .by_api_key(state.store.as_ref(), &creds.id, state.now())
        .await
    {
        Ok(Some(app)) if presented.ct_eq(&app.api_secret_hash) => Ok(app),
        Ok(Some(_)) | Ok(None) => {
            let _ = presented.ct_eq(&TokenHash::of("roost-dummy-secret"));
            Err(AuthFailure::Refused("unknown API key or wrong API secret"))
        }
        Err(e) => Err(AuthFailure::Unavailable(e)),
    }
}

pub async fn token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    params: Result<OAuthParams, ParamError>,
) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return param_error(e, "app-only token request refused"),
    };
    // X answers requests that come too often with code 99 as well.
    match super::throttle(&state, client, super::token::client_key(&params)).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            tracing::info!("app-only token request refused: too many requests");
            return code_99();
        }
        Err(e) => return unavailable(&state, e.into()),
    }
    if params.get("grant_type") != Some("client_credentials") {
        tracing::info!("app-only token request refused: grant_type must be client_credentials");
        return code_99();
    }
    match authenticate(&state, &params).await {
        Ok(app) => {
            let token = mint(&state, app.id, app.bearer_generation);
            crate::sandbox::attribute_client(
                success(serde_json::json!({"token_type": "bearer", "access_token": token})),
                Some(app.id),
            )
        }
        Err(failure) => failure.respond(&state, "app-only token request refused"),
    }
}

pub async fn invalidate(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    params: Result<OAuthParams, ParamError>,
) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return param_error(e, "invalidate_token refused"),
    };
    // X answers requests that come too often with code 99 as well.
    match super::throttle(&state, client, super::token::client_key(&params)).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            tracing::info!("invalidate_token refused: too many requests");
            return code_99();
        }
        Err(e) => return unavailable(&state, e.into()),
    }
    let app = match authenticate(&state, &params).await {
        Ok(app) => app,
        Err(failure) => return failure.respond(&state, "invalidate_token refused"),
    };
    let Some(token) = params.get("access_token") else {
        tracing::info!("invalidate_token refused: access_token is missing");
        return code_99();
    };
    let token = canonical(token);
    let token = token.as_str();
    // Only the owner's current token can be invalidated (checklist E8).
    match verify(&state, token) {
        Some((app_id, generation)) if app_id == app.id && generation == app.bearer_generation => {
            match state.store.bump_bearer_generation(app.id, generation).await {
                Ok(true) => {
                    state.tokens.forget_app_tokens(app.id);
                    state.apps.forget(app.id);
                    tracing::info!(client_id = %app.client_id, "app-only bearer token invalidated");
                    success(serde_json::json!({"access_token": token}))
                }
                Ok(false) => code_99(),
                Err(e) => unavailable(&state, e),
            }
        }
        _ => {
            tracing::info!("invalidate_token refused: not this App's current token");
            code_99()
        }
    }
}
