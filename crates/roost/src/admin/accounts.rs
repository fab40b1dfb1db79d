//! Apps and users over the admin API: the same functions as `roost apps ...` and
//! `roost users ...`, with the same validation and errors.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AdminAuth, AdminError, AdminJson};
use crate::accounts::{self, AppInput};
use crate::state::AppState;

/// Auto-consent is a sandbox control (checklist L2): with the controls off, an admin request
/// cannot turn it on. Turning it off stays possible, as does the operator's
/// `roost apps set-auto-consent` on the store (which the authorize page then ignores).
fn auto_consent_allowed(state: &AppState, user: Option<&String>) -> Result<(), AdminError> {
    if user.is_none() || state.config.sandbox.enabled {
        return Ok(());
    }
    Err(AdminError::Invalid {
        field: "auto_consent_user",
        message: "auto-consent is a sandbox control, and the sandbox controls are off on this server (`[sandbox] enabled`)".into(),
    })
}

/// `POST /admin/v1/apps`: as `roost apps create --json`, secrets shown this once.
pub async fn create_app(
    _: AdminAuth,
    State(state): State<AppState>,
    AdminJson(input): AdminJson<AppInput>,
) -> Result<Response, AdminError> {
    auto_consent_allowed(&state, input.auto_consent_user.as_ref())?;
    let created = accounts::create_app_from(&state, &input).await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// `DELETE /admin/v1/apps/{client_id}`: as `roost apps delete --json`.
pub async fn delete_app(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    let (app, deleted) = accounts::delete_app(&state, &client_id).await?;
    Ok(axum::Json(accounts::app_deletion_json(&app, &deleted)).into_response())
}

/// The fields `PATCH /admin/v1/apps/{client_id}` changes; absent ones stay as they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppUpdate {
    /// A username turns auto-consent on for them; `null` turns it off.
    #[serde(default, with = "present")]
    pub auto_consent_user: Option<Option<String>>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `""` or `null` clears it.
    #[serde(default, with = "present")]
    pub website_url: Option<Option<String>>,
    /// Another kind of the same client type (`native` and `single_page` are both public).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The whole list, replacing the registered one.
    #[serde(default)]
    pub callbacks: Option<Vec<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(super) mod present {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PATCH /admin/v1/apps/{client_id}`: as `roost apps update` and `roost apps
/// set-auto-consent`; answers the App as listed, with `auto_consent_user`. Every field is
/// checked, and an auto-consent user looked up, before anything changes.
pub async fn update_app(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminJson(update): AdminJson<AppUpdate>,
) -> Result<Response, AdminError> {
    auto_consent_allowed(
        &state,
        update.auto_consent_user.as_ref().and_then(Option::as_ref),
    )?;
    let mut app = accounts::find_app(&state, &client_id).await?;
    let settings = crate::developer::AppSettingsInput {
        name: update.name,
        description: update.description,
        website_url: update.website_url.map(Option::unwrap_or_default),
        kind: update.kind,
        callbacks: update.callbacks,
    };
    let change = settings.parse()?;
    if let Some(Some(u)) = &update.auto_consent_user {
        accounts::find_user(&state, u).await?;
    }
    let changes_settings = change.name.is_some()
        || change.description.is_some()
        || change.website_url.is_some()
        || change.kind.is_some()
        || change.callbacks.is_some();
    if changes_settings {
        app = crate::developer::update_app(&state, &app, change).await?;
    }
    if let Some(user) = update.auto_consent_user {
        (app, _) = accounts::set_auto_consent(&state, &client_id, user.as_deref()).await?;
    }
    Ok(axum::Json(super::developer::app_json(&state, app).await?).into_response())
}

/// What `POST /admin/v1/users` takes: `roost users create`'s fields. Without a password the
/// user cannot sign in on the consent page, but tokens can be minted for them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub username: String,
    pub name: String,
    #[serde(default)]
    pub password: Option<String>,
    /// An admin of the developer portal (manages every Project).
    #[serde(default)]
    pub admin: bool,
}

/// `POST /admin/v1/users`: as `roost users create [--admin] --json`, with `admin`.
pub async fn create_user(
    _: AdminAuth,
    State(state): State<AppState>,
    AdminJson(input): AdminJson<UserInput>,
) -> Result<Response, AdminError> {
    let user = accounts::create_user(
        state.store.as_ref(),
        &state.ids,
        &state.hasher,
        state.now(),
        &input.username,
        &input.name,
        input.password.as_deref(),
    )
    .await?;
    if input.admin {
        crate::developer::set_admin(&state, user.username.as_str(), true).await?;
    }
    // The API serves users from memory: load the new one now rather than at the next poll.
    state.world.refresh(state.store.as_ref()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(super::developer::user_json(&user, input.admin)),
    )
        .into_response())
}

/// `GET /admin/v1/users`: every user, as `users create --json` shows one, with `admin`.
pub async fn list_users(
    _: AdminAuth,
    State(state): State<AppState>,
) -> Result<Response, AdminError> {
    Ok(axum::Json(super::developer::users_json(&state).await?).into_response())
}

/// `DELETE /admin/v1/users/{username}`: as `roost users delete --json`.
pub async fn delete_user(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Response, AdminError> {
    let (user, deleted) = accounts::delete_user(&state, &username).await?;
    Ok(axum::Json(accounts::user_deletion_json(&user, &deleted)).into_response())
}
