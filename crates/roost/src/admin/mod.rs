//! The admin HTTP API (`/admin/v1`): the sandbox controls of issue 6 for test suites in any
//! language. Every request carries an admin token (`roost admin-token create`), never a user or
//! an App token; answers are JSON and never cached.
//!
//! Each control lives in a file of its own, registered with one line in [`router`]. The
//! sandbox controls among them are routed only with `[sandbox] enabled` (checklist L2); where
//! the API is served (the public listener, or `server.admin_addr`) is `http::Surface`'s.

pub mod accounts;
pub mod client;
pub mod developer;
pub mod sandbox;
mod snapshots;
pub mod tokens;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use roost_domain::{Secret, TokenHash};
use roost_store::{AdminTokenRecord, NewAdminToken, StoreError};
use serde::Serialize;

use crate::state::AppState;

/// Admin tokens start with this, so that secret scanners and people can tell them apart.
pub const TOKEN_PREFIX: &str = "roost_admin_";

/// Random bytes in an admin token: 256 bits (checklist L1).
pub const TOKEN_BYTES: usize = 32;

/// The methods the admin API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdminVerb {
    Get,
    Post,
    Patch,
    Delete,
}

impl AdminVerb {
    pub fn method(self) -> Method {
        match self {
            AdminVerb::Get => Method::GET,
            AdminVerb::Post => Method::POST,
            AdminVerb::Patch => Method::PATCH,
            AdminVerb::Delete => Method::DELETE,
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            AdminVerb::Get => MethodFilter::GET,
            AdminVerb::Post => MethodFilter::POST,
            AdminVerb::Patch => MethodFilter::PATCH,
            AdminVerb::Delete => MethodFilter::DELETE,
        }
    }
}

/// One admin route: a method on a path template under `/admin/v1` (`/apps/{client_id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AdminRoute {
    pub verb: AdminVerb,
    pub path: &'static str,
    /// A sandbox control (checklist L2): routed only with `[sandbox] enabled`.
    pub sandbox: bool,
}

/// A row of an admin route table.
pub(crate) type Row = (AdminRoute, MethodRouter<AppState>);

pub(crate) fn at<H, T>(verb: AdminVerb, path: &'static str, handler: H) -> Row
where
    H: Handler<T, AppState>,
    T: 'static,
{
    (
        AdminRoute {
            verb,
            path,
            sandbox: false,
        },
        on(verb.filter(), handler),
    )
}

/// [`at`] for a sandbox control.
pub(crate) fn sandbox_at<H, T>(verb: AdminVerb, path: &'static str, handler: H) -> Row
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let (route, handler) = at(verb, path, handler);
    (
        AdminRoute {
            sandbox: true,
            ..route
        },
        handler,
    )
}

/// Every admin route with its handler. The router is built from this table and the tests walk
/// it (tests/api/admin.rs, checklist L1), so a new route cannot miss the token check's tests.
fn table() -> Vec<Row> {
    use AdminVerb::{Delete, Get, Patch, Post};
    let mut rows = vec![
        at(Get, "/apps", list_apps),
        at(Post, "/apps", accounts::create_app),
        at(Patch, "/apps/{client_id}", accounts::update_app),
        at(Delete, "/apps/{client_id}", accounts::delete_app),
        at(Get, "/users", accounts::list_users),
        at(Post, "/users", accounts::create_user),
        at(Delete, "/users/{username}", accounts::delete_user),
        sandbox_at(Post, "/tokens", tokens::mint),
    ];
    rows.extend(developer::routes());
    rows.extend(sandbox::routes());
    rows.extend(snapshots::routes());
    rows
}

/// The admin routes, as the router serves them (paths relative to `/admin/v1`).
pub fn routes() -> Vec<AdminRoute> {
    table().into_iter().map(|(r, _)| r).collect()
}

/// The admin API's routes, nested at `/admin/v1` by `http::router`.
///
/// The token is checked by a layer over the whole router, before routing: an unknown path or
/// method, a malformed path parameter or body is answered only to an admin (a 401 first for
/// everyone else), and no handler can be added without the check.
///
/// The sandbox controls are left out unless `[sandbox] enabled` (checklist L2): not routed, an
/// admin gets the 404 of an unknown admin path, so that no handler of theirs runs at all.
pub fn router(state: AppState) -> Router<AppState> {
    let sandbox = state.config.sandbox.enabled;
    table()
        .into_iter()
        .filter(|(route, _)| sandbox || !route.sandbox)
        // Two methods on one path are merged into one method router by axum.
        .fold(Router::new(), |r, (route, handler)| {
            r.route(route.path, handler)
        })
        .method_not_allowed_fallback(|| async { AdminError::MethodNotAllowed })
        .fallback(|| async { AdminError::NotFound("no such admin endpoint".into()) })
        .layer(middleware::from_fn_with_state(state, require_admin_token))
}

/// Authenticates every admin request and hands the token to the handler's [`AdminAuth`].
async fn require_admin_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&state, req.headers()).await {
        Ok(auth) => {
            req.extensions_mut().insert(auth);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// An admin API failure, as a JSON body `{"error": ..., "error_description": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No admin token, or one that is unknown or revoked.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Bad input; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// Bad input in one field, named in the body's `field`.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not (a JSON 405, like every other admin answer).
    #[error("this admin endpoint does not take that method")]
    MethodNotAllowed,
    /// The thing exists already (a username, a client id).
    #[error("{0}")]
    Conflict(String),
    #[error("the store is unavailable")]
    Unavailable(#[from] StoreError),
    /// A failure of roost's own (password hashing); logged, not described.
    #[error("internal error")]
    Internal(String),
}

impl From<crate::accounts::AccountError> for AdminError {
    fn from(e: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as A;
        if let Some(field) = e.field() {
            return AdminError::Invalid {
                field,
                message: e.to_string(),
            };
        }
        match e {
            A::DuplicateUsername(_) | A::ProjectTaken(_) => AdminError::Conflict(e.to_string()),
            A::UnknownApp(_) | A::UnknownUser(_) | A::UnknownProject(_) => {
                AdminError::NotFound(e.to_string())
            }
            A::PublicClientSecret(_) => AdminError::Conflict(e.to_string()),
            A::Store(StoreError::NotFound(what)) => AdminError::NotFound(format!("no such {what}")),
            A::Store(StoreError::Conflict(what)) => {
                AdminError::Conflict(format!("{what} already exists"))
            }
            A::Store(StoreError::Invalid(m)) => AdminError::BadRequest(m),
            A::Store(other) => AdminError::Unavailable(other),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

/// A JSON request body; a malformed one (not JSON, a missing or mistyped field, an unknown
/// field) is a 400 whose description is serde's, which names the field.
pub struct AdminJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S>
    for AdminJson<T>
{
    type Rejection = AdminError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AdminError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AdminJson(v)),
            Err(e) => Err(AdminError::BadRequest(e.body_text())),
        }
    }
}

impl AdminError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AdminError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AdminError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            AdminError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AdminError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            AdminError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AdminError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match &self {
            AdminError::Unavailable(e) => {
                tracing::error!(error = %e, "store error on the admin API")
            }
            AdminError::Internal(e) => tracing::error!(error = %e, "failure on the admin API"),
            _ => {}
        }
        let (status, code) = self.status_and_code();
        let mut body = serde_json::json!({"error": code, "error_description": self.to_string()});
        if let AdminError::Invalid { field, .. } = &self {
            body["field"] = serde_json::Value::from(*field);
        }
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::oauth::error::RETRY_AFTER_UNAVAILABLE),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roost-admin\""),
            );
        }
        resp
    }
}

/// A request authenticated with a live admin token.
#[derive(Debug, Clone)]
pub struct AdminAuth {
    pub token: AdminTokenRecord,
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        // Set by the router's layer; looked up here only for a handler served without it.
        match parts.extensions.get::<AdminAuth>() {
            Some(auth) => Ok(auth.clone()),
            None => authenticate(state, &parts.headers).await,
        }
    }
}

/// The admin token of a request, from `Authorization: Bearer` only (checklist L3): a token in
/// the query string, a form body or a cookie is not looked at, so it cannot leak into URLs,
/// logs or a browser's ambient credentials and still work.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<AdminAuth, AdminError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(AdminError::Unauthorized(
            "an admin token is required: Authorization: Bearer <token from `roost admin-token create`>",
        ))?;
    // Looked up by SHA-256 digest, as every other credential: the store compares digests, so
    // how long a comparison takes says nothing about a stored token (checklist L1). User and
    // App tokens live in other tables, so they never match here.
    let token = state
        .store
        .admin_token_by_hash(TokenHash::of(presented))
        .await?
        .filter(|t| t.revoked_at.is_none())
        .ok_or(AdminError::Unauthorized(
            "the admin token is unknown or revoked",
        ))?;
    Ok(AdminAuth { token })
}

/// A new admin token: the record and the token itself, shown only this once.
pub struct CreatedAdminToken {
    pub record: AdminTokenRecord,
    pub token: Secret,
}

/// Draws a 256-bit admin token and stores its digest.
pub async fn create_token(state: &AppState, label: &str) -> Result<CreatedAdminToken, AdminError> {
    let label = label.trim();
    if label.chars().count() > 100 {
        return Err(AdminError::BadRequest(
            "label: at most 100 characters".into(),
        ));
    }
    let token = new_token();
    let now = state.now();
    let record = state
        .store
        .create_admin_token(NewAdminToken {
            id: state.ids.next(now),
            hash: token.hash(),
            label: label.to_owned(),
            now,
        })
        .await?;
    tracing::info!(admin_token_id = %record.id, label = %record.label, "admin token created");
    Ok(CreatedAdminToken { record, token })
}

/// A fresh admin token: the prefix and [`TOKEN_BYTES`] from the OS, base64url.
fn new_token() -> Secret {
    Secret::from_presented(format!(
        "{TOKEN_PREFIX}{}",
        roost_domain::secret::random_base64url(TOKEN_BYTES)
    ))
}

/// An App as listed: everything but its secrets, which are shown only at creation (and
/// regeneration); their last characters are, so that people can tell which one they hold.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AppListing {
    pub project_id: String,
    pub project: String,
    pub app_id: String,
    pub name: String,
    pub client_id: String,
    pub client_type: String,
    /// X's App type: `native`, `single_page` or `web`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub website_url: Option<String>,
    pub api_key: String,
    pub callbacks: Vec<String>,
    /// The Client Secret's last characters (confidential Apps made or regenerated since the
    /// portal; `null` otherwise).
    #[serde(default)]
    pub client_secret_hint: Option<String>,
    #[serde(default)]
    pub api_secret_hint: Option<String>,
    /// Test-only auto-consent: the user, when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_consent_user: Option<String>,
}

impl From<roost_store::AppRecord> for AppListing {
    fn from(a: roost_store::AppRecord) -> Self {
        Self {
            project_id: a.project_id.to_string(),
            project: a.project_name,
            app_id: a.id.to_string(),
            name: a.name,
            client_id: a.client_id.to_string(),
            client_type: a.client_type.as_str().to_owned(),
            kind: a.profile.kind.as_str().to_owned(),
            description: a.profile.description,
            website_url: a.profile.website_url.map(|w| w.as_str().to_owned()),
            api_key: a.api_key,
            callbacks: a.callbacks.iter().map(|c| c.as_str().to_owned()).collect(),
            client_secret_hint: a.profile.client_secret_hint,
            api_secret_hint: a.profile.api_secret_hint,
            auto_consent_user: None,
        }
    }
}

/// Every App, without secrets (what `roost apps list --json` prints).
pub async fn app_listing(state: &AppState) -> Result<Vec<AppListing>, StoreError> {
    let apps = state.store.list_apps().await?;
    let mut out = Vec::with_capacity(apps.len());
    for app in apps {
        let user = match app.auto_consent_user_id {
            Some(id) => state.store.user_by_id(id).await?,
            None => None,
        };
        let mut listing = AppListing::from(app);
        listing.auto_consent_user = user.map(|u| u.username.to_string());
        out.push(listing);
    }
    Ok(out)
}

async fn list_apps(_: AdminAuth, State(state): State<AppState>) -> Result<Response, AdminError> {
    let apps = app_listing(&state).await?;
    Ok(axum::Json(serde_json::json!({ "apps": apps })).into_response())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    // Checklist L1: at least 256 random bits.
    #[test]
    fn sec_l01_admin_tokens_carry_256_random_bits() {
        let draws: Vec<String> = (0..64).map(|_| new_token().expose().to_owned()).collect();
        for t in &draws {
            let rest = t.strip_prefix(TOKEN_PREFIX).expect("the prefix");
            assert_eq!(rest.len(), 43, "{t}");
            let bytes = URL_SAFE_NO_PAD.decode(rest).expect("base64url");
            assert_eq!(bytes.len() * 8, 256, "{t}");
        }
        let distinct: std::collections::BTreeSet<&String> = draws.iter().collect();
        assert_eq!(distinct.len(), draws.len(), "every draw differs");
        // Each bit position is set in some draw and clear in another: no byte is fixed.
        let decoded: Vec<Vec<u8>> = draws
            .iter()
            .map(|t| {
                URL_SAFE_NO_PAD
                    .decode(&t[TOKEN_PREFIX.len()..])
                    .expect("base64url")
            })
            .collect();
        for i in 0..TOKEN_BYTES {
            let or = decoded.iter().fold(0u8, |a, d| a | d[i]);
            let and = decoded.iter().fold(0xffu8, |a, d| a & d[i]);
            assert_eq!((or, and), (0xff, 0), "byte {i} varies in every bit");
        }
    }
}
