//! The developer portal over the admin API: Projects, keys and tokens, usage, admin users and a
//! user's connected Apps. The handlers call [`crate::developer`], as the portal's pages and
//! `roost projects|apps|users ...` do; the JSON builders here are the CLI's too, so `--json`
//! prints what the API answers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roost_domain::Secret;
use roost_store::{AppRecord, Deletion, ProjectRecord, StoreError, UserRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminAuth, AdminError, AdminJson, AdminVerb, AppListing, Row, at};
use crate::accounts::{self, AccountError};
use crate::api::render::timestamp;
use crate::developer;
use crate::state::AppState;

pub(super) fn routes() -> Vec<Row> {
    use AdminVerb::{Delete, Get, Patch, Post};
    vec![
        at(Get, "/projects", list_projects),
        at(Post, "/projects", create_project),
        at(Patch, "/projects/{project_id}", update_project),
        at(Delete, "/projects/{project_id}", delete_project),
        at(
            Post,
            "/apps/{client_id}/client-secret",
            regenerate_client_secret,
        ),
        at(Post, "/apps/{client_id}/api-key", regenerate_api_key),
        at(Post, "/apps/{client_id}/bearer-token", bearer_token),
        at(
            Delete,
            "/apps/{client_id}/bearer-token",
            revoke_bearer_token,
        ),
        at(Get, "/apps/{client_id}/usage", usage),
        at(Patch, "/users/{username}", update_user),
        at(Get, "/users/{username}/connected-apps", connected_apps),
        at(
            Delete,
            "/users/{username}/connected-apps/{client_id}",
            revoke_connected_app,
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// The answers, shared with the CLI

/// A Project: its owner's username (`null`: only admins manage it) and its Apps' client ids.
pub async fn project_json(state: &AppState, project: &ProjectRecord) -> Result<Value, StoreError> {
    let apps = developer::apps_of(state, project.id).await?;
    project_value(state, project, &apps).await
}

/// `{"projects": [...]}`, oldest first.
pub async fn projects_json(state: &AppState) -> Result<Value, StoreError> {
    let apps = state.store.list_apps().await?;
    let mut out = Vec::new();
    for p in state.store.list_projects().await? {
        out.push(project_value(state, &p, &apps).await?);
    }
    Ok(json!({ "projects": out }))
}

/// `apps` may hold other Projects' Apps too: only this one's are listed.
async fn project_value(
    state: &AppState,
    project: &ProjectRecord,
    apps: &[AppRecord],
) -> Result<Value, StoreError> {
    let owner = match project.owner_id {
        Some(id) => state
            .store
            .user_by_id(id)
            .await?
            .map(|u| u.username.to_string()),
        None => None,
    };
    let apps: Vec<&str> = apps
        .iter()
        .filter(|a| a.project_id == project.id)
        .map(|a| a.client_id.as_str())
        .collect();
    Ok(json!({
        "id": project.id.to_string(),
        "name": project.name,
        "owner": owner,
        "created_at": timestamp(project.created_at),
        "apps": apps,
    }))
}

/// What deleting a Project answers: the Apps that went with it and the rows removed, by table.
pub fn project_deletion_json(
    project: &ProjectRecord,
    apps: &[String],
    deleted: &Deletion,
) -> Value {
    json!({
        "id": deleted.id.to_string(),
        "name": project.name,
        "apps": apps,
        "removed": deleted.removed,
    })
}

/// An App as listed, with `auto_consent_user` always present (`null` when off): what changing
/// an App answers.
pub async fn app_json(state: &AppState, app: AppRecord) -> Result<Value, StoreError> {
    let user = match app.auto_consent_user_id {
        Some(id) => state.store.user_by_id(id).await?,
        None => None,
    };
    let mut listing = AppListing::from(app);
    listing.auto_consent_user = user.map(|u| u.username.to_string());
    let mut body = serde_json::to_value(listing).map_err(|e| StoreError::Other(e.into()))?;
    if body.get("auto_consent_user").is_none() {
        body["auto_consent_user"] = Value::Null;
    }
    Ok(body)
}

pub fn client_secret_json(app: &AppRecord, secret: &Secret) -> Value {
    json!({"client_id": app.client_id.as_str(), "client_secret": secret.expose()})
}

pub fn api_key_json(app: &AppRecord, api_key: &str, api_secret: &Secret) -> Value {
    json!({
        "client_id": app.client_id.as_str(),
        "api_key": api_key,
        "api_secret": api_secret.expose(),
    })
}

/// As `POST /oauth2/token` answers it.
pub fn bearer_json(token: &str) -> Value {
    json!({"token_type": "bearer", "access_token": token})
}

/// A user as listed, with whether they are an admin of the developer portal.
pub fn user_json(user: &UserRecord, admin: bool) -> Value {
    let mut v = accounts::user_json(user);
    v["admin"] = Value::Bool(admin);
    v
}

/// `{"users": [...]}`, by id, each with `admin`.
pub async fn users_json(state: &AppState) -> Result<Value, StoreError> {
    let admins = state.store.admin_user_ids().await?;
    let users: Vec<Value> = state
        .store
        .list_users()
        .await?
        .iter()
        .map(|u| user_json(u, admins.contains(&u.id)))
        .collect();
    Ok(json!({ "users": users }))
}

/// The Apps that hold a live grant for the user, by App.
pub async fn connected_apps_json(state: &AppState, user: &UserRecord) -> Result<Value, StoreError> {
    let apps: Vec<Value> = developer::connections(state, user)
        .await?
        .iter()
        .map(|c| {
            json!({
                "client_id": c.app.client_id.as_str(),
                "app_name": c.app.name,
                "project": c.app.project_name,
                "scopes": c.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "granted_at": timestamp(c.granted_at),
                "last_used_at": c.last_used_at.map(timestamp),
            })
        })
        .collect();
    Ok(json!({"username": user.username.as_str(), "connected_apps": apps}))
}

pub fn revoked_app_json(user: &UserRecord, app: &AppRecord, revoked: u64) -> Value {
    json!({
        "username": user.username.as_str(),
        "client_id": app.client_id.as_str(),
        "revoked_grants": revoked,
    })
}

// ---------------------------------------------------------------------------------------------
// Projects

/// A Project's name is its `name` here, not an App's `project`.
fn project_error(e: AccountError) -> AdminError {
    match e {
        AccountError::BadProjectName => AdminError::Invalid {
            field: "name",
            message: e.to_string(),
        },
        other => other.into(),
    }
}

async fn list_projects(
    _: AdminAuth,
    State(state): State<AppState>,
) -> Result<Response, AdminError> {
    Ok(axum::Json(projects_json(&state).await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectInput {
    name: String,
    /// A username; absent or `null`: only admins manage it.
    #[serde(default)]
    owner: Option<String>,
}

/// `POST /admin/v1/projects`: as `roost projects create --json`.
async fn create_project(
    _: AdminAuth,
    State(state): State<AppState>,
    AdminJson(input): AdminJson<ProjectInput>,
) -> Result<Response, AdminError> {
    let owner = match &input.owner {
        Some(u) => Some(accounts::find_user(&state, u).await?),
        None => None,
    };
    let project = developer::create_project(&state, &input.name, owner.as_ref())
        .await
        .map_err(project_error)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(project_json(&state, &project).await?),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectUpdate {
    #[serde(default)]
    name: Option<String>,
    /// A username hands the Project to them, `null` to the admins alone; absent: unchanged.
    #[serde(default, with = "super::accounts::present")]
    owner: Option<Option<String>>,
}

/// `PATCH /admin/v1/projects/{project_id}`: as `roost projects rename|set-owner --json`.
async fn update_project(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    AdminJson(update): AdminJson<ProjectUpdate>,
) -> Result<Response, AdminError> {
    let mut project = developer::find_project(&state, &project_id).await?;
    // An unknown owner is refused before the name changes.
    if let Some(Some(u)) = &update.owner {
        accounts::find_user(&state, u).await?;
    }
    if let Some(name) = &update.name {
        project = developer::rename_project(&state, &project, name)
            .await
            .map_err(project_error)?;
    }
    if let Some(owner) = &update.owner {
        project = developer::set_project_owner(&state, &project, owner.as_deref()).await?;
    }
    Ok(axum::Json(project_json(&state, &project).await?).into_response())
}

/// `DELETE /admin/v1/projects/{project_id}`: as `roost projects delete --json`; every token of
/// its Apps stops working.
async fn delete_project(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(project_id): Path<String>,
) -> Result<Response, AdminError> {
    let project = developer::find_project(&state, &project_id).await?;
    let (apps, deleted) = delete_project_with_apps(&state, &project).await?;
    Ok(axum::Json(project_deletion_json(&project, &apps, &deleted)).into_response())
}

/// Deletes the Project; the client ids of the Apps that went with it.
pub async fn delete_project_with_apps(
    state: &AppState,
    project: &ProjectRecord,
) -> Result<(Vec<String>, Deletion), AccountError> {
    let apps: Vec<String> = developer::apps_of(state, project.id)
        .await?
        .iter()
        .map(|a| a.client_id.to_string())
        .collect();
    let deleted = developer::delete_project(state, project).await?;
    Ok((apps, deleted))
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens, usage

/// `POST /admin/v1/apps/{client_id}/client-secret`: a new Client Secret, shown only in this
/// answer; the old one is refused from now on. A public App has none: 409.
async fn regenerate_client_secret(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    let app = accounts::find_app(&state, &client_id).await?;
    let secret = developer::regenerate_client_secret(&state, &app).await?;
    Ok(axum::Json(client_secret_json(&app, &secret)).into_response())
}

/// `POST /admin/v1/apps/{client_id}/api-key`: a new API Key and Secret; the old pair and the
/// app-only Bearer Token made with it are refused from now on.
async fn regenerate_api_key(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    let app = accounts::find_app(&state, &client_id).await?;
    let (key, secret) = developer::regenerate_api_key(&state, &app).await?;
    Ok(axum::Json(api_key_json(&app, &key, &secret)).into_response())
}

/// `POST /admin/v1/apps/{client_id}/bearer-token`: the App's current app-only Bearer Token.
async fn bearer_token(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    let app = accounts::find_app(&state, &client_id).await?;
    let token = developer::bearer_token(&state, &app).await?;
    Ok(axum::Json(bearer_json(&token)).into_response())
}

/// `DELETE /admin/v1/apps/{client_id}/bearer-token`: invalidates it; 204.
async fn revoke_bearer_token(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    let app = accounts::find_app(&state, &client_id).await?;
    developer::revoke_bearer_token(&state, &app).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /admin/v1/apps/{client_id}/usage`: requests per endpoint over the last 24 hours.
async fn usage(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    let app = accounts::find_app(&state, &client_id).await?;
    let report = developer::usage(&state, &app).await?;
    Ok(axum::Json(report).into_response())
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    /// Whether the user manages every Project in the portal; absent: unchanged.
    #[serde(default)]
    admin: Option<bool>,
}

/// `PATCH /admin/v1/users/{username}`: as `roost users promote [--demote] --json`.
async fn update_user(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(username): Path<String>,
    AdminJson(update): AdminJson<UserUpdate>,
) -> Result<Response, AdminError> {
    let user = match update.admin {
        Some(admin) => developer::set_admin(&state, &username, admin).await?,
        None => accounts::find_user(&state, &username).await?,
    };
    let admin = state.store.user_is_admin(user.id).await?;
    Ok(axum::Json(user_json(&user, admin)).into_response())
}

/// `GET /admin/v1/users/{username}/connected-apps`: as `roost users connected-apps --json`.
async fn connected_apps(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Response, AdminError> {
    let user = accounts::find_user(&state, &username).await?;
    Ok(axum::Json(connected_apps_json(&state, &user).await?).into_response())
}

/// `DELETE /admin/v1/users/{username}/connected-apps/{client_id}`: revokes every grant of the
/// App for the user, as the user's "Revoke access" does.
async fn revoke_connected_app(
    _: AdminAuth,
    State(state): State<AppState>,
    Path((username, client_id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let user = accounts::find_user(&state, &username).await?;
    let app = accounts::find_app(&state, &client_id).await?;
    let revoked = developer::revoke_connection(&state, &user, app.id).await?;
    Ok(axum::Json(revoked_app_json(&user, &app, revoked)).into_response())
}
