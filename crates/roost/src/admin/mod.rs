//! The admin HTTP API (`/admin/v1`): the sandbox controls of issue 6 for test suites in any
//! language. Every request carries an admin token (`roost admin-token create`), never a user or
//! an App token; answers are JSON and never cached.
//!
//! Each control lives in a file of its own, registered with one line in [`router`].

pub mod accounts;
pub mod client;
pub mod sandbox;
mod snapshots;
pub mod tokens;

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
        .route("/apps", get(list_apps).post(accounts::create_app))
        .route(
            "/apps/{client_id}",
            axum::routing::patch(accounts::update_app).delete(accounts::delete_app),
        )
        .route(
            "/users",
            get(accounts::list_users).post(accounts::create_user),
        )
        .route(
            "/users/{username}",
            axum::routing::delete(accounts::delete_user),
        )
        .route("/tokens", axum::routing::post(tokens::mint))
        .merge(sandbox::router())
        .merge(snapshots::router())
        .method_not_allowed_fallback(|| async { AdminError::MethodNotAllowed })
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
            A::DuplicateUsername(_) => AdminError::Conflict(e.to_string()),
            A::UnknownApp(_) | A::UnknownUser(_) => AdminError::NotFound(e.to_string()),
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
            api_key: a.api_key,
            callbacks: a.callbacks.iter().map(|c| c.as_str().to_owned()).collect(),
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
