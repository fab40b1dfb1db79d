//! X API v2 error bodies (spec/x-api-v2.md §E), sent as `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roost_domain::ScopeSet;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

/// One entry of X's 400 `errors` array: the offending parameters and values, and a message.
#[derive(Debug, Clone, Serialize)]
pub struct ParamProblem {
    pub parameters: BTreeMap<String, Vec<String>>,
    pub message: String,
}

impl ParamProblem {
    pub fn new(parameters: BTreeMap<String, Vec<String>>, message: String) -> Self {
        Self {
            parameters,
            message,
        }
    }

    pub fn one(name: &str, values: Vec<String>, message: String) -> Self {
        Self {
            parameters: BTreeMap::from([(name.to_owned(), values)]),
            message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No, or an unusable, bearer token. `error` is whether a token was presented at all.
    #[error("unauthorized")]
    Unauthorized { token_presented: bool },
    /// An app-only token on a user-context endpoint.
    #[error("unsupported authentication")]
    AppOnlyForbidden,
    /// A user token on an endpoint configured for app-only tokens only.
    #[error("unsupported authentication: user context")]
    UserContextForbidden,
    /// A method the path does not serve.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A user token missing scopes: what the endpoint requires, and which of those it lacks.
    #[error("missing scopes {missing}")]
    MissingScopes {
        required: ScopeSet,
        missing: ScopeSet,
    },
    /// X's generic 403 body with this `detail` (`"Forbidden"` where X gives no reason).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// X's 400 `invalid-request` problem with one entry per problem found.
    #[error("invalid request")]
    InvalidRequest(Vec<ParamProblem>),
    /// The window's requests are spent; the rate-limit headers are added by the limiter.
    #[error("too many requests")]
    TooManyRequests,
    #[error("not found")]
    RouteNotFound,
    #[error("store unavailable: {0}")]
    Unavailable(#[from] roost_store::StoreError),
}

fn problem(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Unauthorized { token_presented } => {
                let mut r = problem(
                    StatusCode::UNAUTHORIZED,
                    json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
                );
                // RFC 6750 §3: no error attribute when no token was sent (checklist F2, F3).
                let v = if token_presented {
                    "Bearer realm=\"roost\", error=\"invalid_token\""
                } else {
                    "Bearer realm=\"roost\""
                };
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
                r
            }
            ApiError::AppOnlyForbidden => problem(
                StatusCode::FORBIDDEN,
                json!({
                    "title": "Unsupported Authentication",
                    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                    "status": 403
                }),
            ),
            ApiError::UserContextForbidden => problem(
                StatusCode::FORBIDDEN,
                json!({
                    "title": "Unsupported Authentication",
                    "detail": "Authenticating with OAuth 2.0 User Context is forbidden for this endpoint.  Supported authentication types are [OAuth 2.0 Application-Only].",
                    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                    "status": 403
                }),
            ),
            ApiError::MethodNotAllowed => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"title": "Method Not Allowed", "type": "about:blank", "status": 405, "detail": "Method Not Allowed"}),
            ),
            ApiError::MissingScopes { required, missing } => {
                tracing::info!(%missing, "API request refused: token lacks scopes");
                let mut r = problem(
                    StatusCode::FORBIDDEN,
                    json!({"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}),
                );
                // RFC 6750 §3: `scope` is the scope the resource requires (checklist F4).
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "Bearer realm=\"roost\", error=\"insufficient_scope\", scope=\"{required}\""
                )) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                r.extensions_mut()
                    .insert(crate::sandbox::inspector::RequiredScopes(required));
                r
            }
            ApiError::Forbidden(detail) => {
                tracing::info!(%detail, "API request refused");
                problem(
                    StatusCode::FORBIDDEN,
                    json!({"title": "Forbidden", "type": "about:blank", "status": 403, "detail": detail}),
                )
            }
            ApiError::InvalidRequest(problems) => {
                tracing::info!(
                    problems = problems.len(),
                    "API request refused: invalid parameters"
                );
                let body = json!({
                    "errors": problems,
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request"
                });
                let mut r = (StatusCode::BAD_REQUEST, body.to_string()).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                );
                r
            }
            ApiError::TooManyRequests => problem(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
            ),
            ApiError::RouteNotFound => problem(
                StatusCode::NOT_FOUND,
                json!({"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not Found"}),
            ),
            ApiError::Unavailable(e) => {
                // Fail closed: a token that cannot be checked is not accepted (checklist J6).
                tracing::error!(error = %e, "store error on the API");
                let mut r = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"title": "Service Unavailable", "type": "about:blank", "status": 503, "detail": "Service Unavailable"}),
                );
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(crate::oauth::error::RETRY_AFTER_UNAVAILABLE),
                );
                r
            }
        }
    }
}
