//! Errors of the token and revoke endpoints, in X's dialect or RFC 6749's.
//!
//! X's clients match on X's `error` and `error_description` strings, so in X mode those are
//! kept verbatim where X's answer is recorded (spec/x-oauth2.md §3.6), and roost's precise reason
//! goes in an extra `roost_detail` member (clients ignore unknown members). In strict mode the
//! RFC's code is used and the precise reason is the `error_description`.
//!
//! | situation | X mode | strict mode |
//! |---|---|---|
//! | client authentication failed, or copies of `client_id`/`client_secret` disagree | 401 `unauthorized_client` "Missing valid authorization header" | 401 `invalid_client` |
//! | unknown, expired, used or foreign code (a foreign one answered exactly like an unknown one) | 400 `invalid_request` "Value passed for the authorization code was invalid." | 400 `invalid_grant` |
//! | PKCE verifier does not match | 400 `invalid_request` "Value passed for the code verifier did not match the code challenge." | 400 `invalid_grant` |
//! | `redirect_uri` missing or different from the code's | 400 `invalid_request` "Value passed for the redirect uri did not match the uri of the authorization code." | 400 `invalid_grant` |
//! | bad, used, revoked, expired or foreign refresh token (foreign answered like unknown) | 400 `invalid_request` "Value passed for the token was invalid." | 400 `invalid_grant` |
//! | missing parameter | 400 `invalid_request` "Missing required parameter [name]." | same |
//! | malformed or repeated parameter | 400 `invalid_request` | same |
//! | unknown `grant_type` | 400 `unsupported_grant_type` | same |
//! | scope wider than granted, or unknown | 400 `invalid_scope` | same |
//! | `client_credentials` from a public App | 401 `unauthorized_client` "Missing valid authorization header" | 400 `unauthorized_client` |
//! | the store failed or did not answer in time | 503 `temporarily_unavailable` "Service Unavailable" | 503 `temporarily_unavailable` (RFC 6749 §4.1.2.1's wording) |

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roost_store::StoreError;
use serde::Serialize;

use super::params::ParamError;

pub const X_INVALID_CODE: &str = "Value passed for the authorization code was invalid.";
pub const X_VERIFIER_MISMATCH: &str =
    "Value passed for the code verifier did not match the code challenge.";
pub const X_REDIRECT_MISMATCH: &str =
    "Value passed for the redirect uri did not match the uri of the authorization code.";
pub const X_INVALID_TOKEN: &str = "Value passed for the token was invalid.";
pub const X_MISSING_AUTH: &str = "Missing valid authorization header";
/// X documents no answer for an outage of its token endpoint; this is the title of X's API 503.
pub const X_UNAVAILABLE: &str = "Service Unavailable";
/// RFC 6749 §4.1.2.1's description of `temporarily_unavailable`.
pub const RFC_UNAVAILABLE: &str = "The authorization server is currently unable to handle the request due to a temporary overloading or maintenance of the server.";
/// Seconds a client is asked to wait after a 503 (checklist K5): store hiccups (a lock held by
/// another process, a full connection queue) pass within about that long.
pub const RETRY_AFTER_UNAVAILABLE: u64 = 1;

/// roost's reasons for an unknown code and refresh token; another App's answer the same.
pub const CODE_UNKNOWN: &str = "the code is unknown";
pub const REFRESH_UNKNOWN: &str = "the refresh token is unknown";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("client authentication failed: {0}")]
    InvalidClient(String),
    #[error("{0}")]
    InvalidCode(&'static str),
    /// Another App's code: logged as such, answered exactly like an unknown code, so that the
    /// answer never tells that a code exists for another client (checklist B5).
    #[error("the code was issued to another client")]
    ForeignCode,
    #[error("the code_verifier does not match the code_challenge")]
    VerifierMismatch,
    #[error("the redirect_uri is missing or does not match the one the code was issued for")]
    RedirectMismatch,
    #[error("{0}")]
    InvalidRefreshToken(&'static str),
    /// Another App's refresh token: answered exactly like an unknown one (checklist D5).
    #[error("the refresh token was issued to another client")]
    ForeignRefreshToken,
    #[error("Missing required parameter [{0}].")]
    MissingParameter(&'static str),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// Over the per-client or per-address limit; retry after this many seconds.
    #[error("too many requests; retry after {0} seconds")]
    TooManyRequests(i64),
    /// The store failed or did not answer within `server.database_timeout`: 503, never a wait
    /// without end (checklist K5) and never a 500, so clients retry.
    #[error("the store is unavailable; retry in a moment")]
    Unavailable(#[from] StoreError),
}

impl From<ParamError> for TokenError {
    fn from(e: ParamError) -> Self {
        match e {
            ParamError::BodyTooLarge => TokenError::PayloadTooLarge,
            // Client credentials that disagree with each other are a failed client
            // authentication wherever the copies came from (checklist C3, client-quirks rule 2).
            ParamError::Conflict(name) if name == "client_id" || name == "client_secret" => {
                TokenError::InvalidClient(format!(
                    "the request carries `{name}` more than once with different values"
                ))
            }
            other => TokenError::InvalidRequest(other.to_string()),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    roost_detail: Option<&'a str>,
}

/// Headers every token-endpoint response carries (checklist C7).
pub fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

impl TokenError {
    /// Renders the error in X's dialect or, with `strict`, RFC 6749's.
    pub fn render(&self, strict: bool) -> Response {
        if let TokenError::Unavailable(e) = self {
            tracing::error!(error = %e, "store error on the token endpoint");
        } else {
            tracing::info!(reason = %self, "token request refused");
        }
        // The log has the precise reason; the wire must not tell another App's code or token
        // from an unknown one, in either mode (byte for byte the same answer).
        let shown = match self {
            TokenError::ForeignCode => &TokenError::InvalidCode(CODE_UNKNOWN),
            TokenError::ForeignRefreshToken => &TokenError::InvalidRefreshToken(REFRESH_UNKNOWN),
            other => other,
        };
        let reason = shown.to_string();
        let (status, code, x_description): (StatusCode, &str, Option<&str>) = match shown {
            TokenError::InvalidClient(_) => (
                StatusCode::UNAUTHORIZED,
                if strict {
                    "invalid_client"
                } else {
                    "unauthorized_client"
                },
                Some(X_MISSING_AUTH),
            ),
            TokenError::InvalidCode(_) | TokenError::ForeignCode => (
                StatusCode::BAD_REQUEST,
                grant_code(strict),
                Some(X_INVALID_CODE),
            ),
            TokenError::VerifierMismatch => (
                StatusCode::BAD_REQUEST,
                grant_code(strict),
                Some(X_VERIFIER_MISMATCH),
            ),
            TokenError::RedirectMismatch => (
                StatusCode::BAD_REQUEST,
                grant_code(strict),
                Some(X_REDIRECT_MISMATCH),
            ),
            TokenError::InvalidRefreshToken(_) | TokenError::ForeignRefreshToken => (
                StatusCode::BAD_REQUEST,
                grant_code(strict),
                Some(X_INVALID_TOKEN),
            ),
            TokenError::MissingParameter(_) | TokenError::InvalidRequest(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request", None)
            }
            TokenError::UnsupportedGrantType(_) => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type", None)
            }
            TokenError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope", None),
            TokenError::UnauthorizedClient(_) if strict => {
                (StatusCode::BAD_REQUEST, "unauthorized_client", None)
            }
            TokenError::UnauthorizedClient(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                Some(X_MISSING_AUTH),
            ),
            TokenError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", None),
            TokenError::TooManyRequests(_) => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", None)
            }
            TokenError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                Some(X_UNAVAILABLE),
            ),
        };
        let unavailable = matches!(shown, TokenError::Unavailable(_));
        let body = match (strict, x_description) {
            // The store's own message stays in the log: it may name files and tables.
            (true, _) if unavailable => Body {
                error: code,
                error_description: RFC_UNAVAILABLE,
                roost_detail: None,
            },
            (false, Some(x)) => Body {
                error: code,
                error_description: x,
                roost_detail: Some(reason.as_str()),
            },
            _ => Body {
                error: code,
                error_description: &reason,
                roost_detail: None,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if let TokenError::TooManyRequests(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if unavailable {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_AFTER_UNAVAILABLE),
            );
        }
        // RFC 6749 §5.2: a 401 names the scheme to authenticate with (checklist C5).
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"roost\""),
            );
        }
        no_store(resp)
    }
}

fn grant_code(strict: bool) -> &'static str {
    if strict {
        "invalid_grant"
    } else {
        "invalid_request"
    }
}
