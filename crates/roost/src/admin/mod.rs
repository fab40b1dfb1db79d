//! The admin HTTP API (`/admin/v1`): the sandbox controls of issue 6 for test suites in any
//! language. Every request carries an admin token (`roost admin-token create`), never a user or
//! an App token; answers are JSON and never cached.
//!
//! Each control lives in a file of its own, registered with one line in [`router`].

pub mod client;
mod snapshots;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use roost_domain::{Secret, TokenHash};
use roost_store::{AdminTokenRecord, NewAdminToken, StoreError};
use serde::Serialize;

use crate::state::AppState;

/// Admin tokens start with this, so that secret scanners and people can tell them apart.
pub const TOKEN_PREFIX: &str = "roost_admin_";

/// The admin API's routes, nested at `/admin/v1` by `http::router`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/apps", get(list_apps))
        .merge(snapshots::router())
        .fallback(|| async { AdminError::NotFound("no such admin endpoint".into()) })
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
    #[error("{0}")]
    NotFound(String),
    /// The thing exists already (a username, a client id).
    #[error("{0}")]
    Conflict(String),
    #[error("the store is unavailable")]
    Unavailable(#[from] StoreError),
}

impl AdminError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AdminError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AdminError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AdminError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        if let AdminError::Unavailable(e) = &self {
            tracing::error!(error = %e, "store error on the admin API");
        }
        let (status, code) = self.status_and_code();
        let body = serde_json::json!({"error": code, "error_description": self.to_string()});
        let mut resp = (status, axum::Json(body)).into_response();
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
        let presented = parts
            .headers
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
        // Looked up by digest, as every other credential; user and App tokens live in other
        // tables, so they never match here.
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
    let token = Secret::from_presented(format!(
        "{TOKEN_PREFIX}{}",
        roost_domain::secret::random_base64url(32)
    ));
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

/// An App as listed: everything but its secrets, which are shown only at creation.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AppListing {
    pub project_id: String,
    pub project: String,
    pub app_id: String,
    pub name: String,
    pub client_id: String,
    pub client_type: String,
    pub api_key: String,
    pub callbacks: Vec<String>,
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
            api_key: a.api_key,
            callbacks: a.callbacks.iter().map(|c| c.as_str().to_owned()).collect(),
        }
    }
}

/// Every App, without secrets (what `roost apps list --json` prints).
pub async fn app_listing(state: &AppState) -> Result<Vec<AppListing>, StoreError> {
    Ok(state
        .store
        .list_apps()
        .await?
        .into_iter()
        .map(AppListing::from)
        .collect())
}

async fn list_apps(_: AdminAuth, State(state): State<AppState>) -> Result<Response, AdminError> {
    let apps = app_listing(&state).await?;
    Ok(axum::Json(serde_json::json!({ "apps": apps })).into_response())
}
