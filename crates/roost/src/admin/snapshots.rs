//! Export, snapshots and reset over the admin API (`/admin/v1`): the same operations as
//! `roost export`, `roost snapshot ...` and `roost reset`, taking effect on this server at once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use roost_domain::SnapshotName;
use roost_store::StoreError;
use serde::Deserialize;

use super::{AdminAuth, AdminError, AdminVerb, Row, at, sandbox_at};
use crate::snapshots::{self, SnapshotError};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Row> {
    use AdminVerb::{Delete, Get, Post};
    vec![
        at(Get, "/export", export),
        at(Post, "/snapshots", save),
        at(Get, "/snapshots", list),
        at(Delete, "/snapshots/{name}", remove),
        // Restoring a snapshot is the control (checklist L2); saving, listing and deleting
        // them change nothing the server serves.
        sandbox_at(Post, "/reset", reset),
    ]
}

impl From<SnapshotError> for AdminError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Unknown(_) => AdminError::NotFound(e.to_string()),
            SnapshotError::Unreadable { .. } | SnapshotError::Store(StoreError::Invalid(_)) => {
                AdminError::Conflict(e.to_string())
            }
            SnapshotError::Store(s) => AdminError::Unavailable(s),
        }
    }
}

fn snapshot_name(s: &str) -> Result<SnapshotName, AdminError> {
    SnapshotName::parse(s).map_err(|e| AdminError::BadRequest(format!("name: {e}")))
}

/// A JSON object body; an empty body is `{}`.
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, AdminError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| AdminError::BadRequest(format!("body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    #[serde(default)]
    to: Option<String>,
}

async fn export(_: AdminAuth, State(state): State<AppState>) -> Result<Response, AdminError> {
    let (document, _) = crate::content::export::export(state.store.as_ref()).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], document).into_response())
}

async fn save(
    _: AdminAuth,
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Response, AdminError> {
    let b: SaveBody = body(&bytes)?;
    let name = snapshot_name(
        b.name
            .as_deref()
            .ok_or_else(|| AdminError::BadRequest("name: required".into()))?,
    )?;
    let saved = snapshots::save(&state, &name).await?;
    let status = if saved.replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(saved)).into_response())
}

async fn list(_: AdminAuth, State(state): State<AppState>) -> Result<Response, AdminError> {
    let list = snapshots::list(&state).await?;
    Ok(axum::Json(serde_json::json!({ "snapshots": list })).into_response())
}

async fn remove(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let name = snapshot_name(&name)?;
    snapshots::delete(&state, &name).await?;
    Ok(axum::Json(serde_json::json!({ "name": name.as_str(), "deleted": true })).into_response())
}

async fn reset(
    _: AdminAuth,
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Response, AdminError> {
    let b: ResetBody = body(&bytes)?;
    let to = b.to.as_deref().map(snapshot_name).transpose()?;
    let done = snapshots::reset(&state, to.as_ref()).await?;
    tracing::info!(to = ?done.to, took_ms = done.took_ms, "store reset through the admin API");
    Ok(axum::Json(done).into_response())
}
