//! The sandbox controls over the admin API: the manual clock, fault rules and the request
//! inspector (`/admin/v1/clock`, `/admin/v1/faults`, `/admin/v1/apps/{client_id}/requests`).
//! The clock and the fault rules are routed only with `[sandbox] enabled` (checklist L2).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminAuth, AdminError, AdminVerb, Row, at, sandbox_at};
use crate::clock::{ClockError, ClockMove, MoveError};
use crate::sandbox::faults::{FaultRule, FaultRuleSpec};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Row> {
    use AdminVerb::{Delete, Get, Post};
    vec![
        sandbox_at(Get, "/clock", show_clock),
        sandbox_at(Post, "/clock", move_clock),
        sandbox_at(Get, "/faults", list_faults),
        sandbox_at(Post, "/faults", add_fault),
        sandbox_at(Delete, "/faults", clear_faults),
        sandbox_at(Delete, "/faults/{id}", remove_fault),
        // Not a control: it reads what happened and holds no secret.
        at(Get, "/apps/{client_id}/requests", app_requests),
    ]
}

/// The clock as the admin API shows it.
pub fn clock_body(state: &AppState) -> Value {
    let ms = state.now();
    let rfc3339 = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    json!({
        "mode": if state.clock.is_manual() { "manual" } else { "system" },
        "now_ms": ms,
        "now": rfc3339,
    })
}

async fn show_clock(_: AdminAuth, State(state): State<AppState>) -> Response {
    axum::Json(clock_body(&state)).into_response()
}

/// `{"now": "2026-01-01T00:00:00Z" | 1767225600000}` or `{"advance_seconds": N}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveClock {
    now: Option<Instant>,
    advance_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Instant {
    EpochMs(i64),
    Rfc3339(String),
}

impl Instant {
    fn ms(&self) -> Result<i64, AdminError> {
        match self {
            Instant::EpochMs(ms) => Ok(*ms),
            Instant::Rfc3339(s) => {
                let t =
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| {
                            AdminError::BadRequest(format!(
                                "now: `{s}` is neither epoch milliseconds nor an RFC 3339 time"
                            ))
                        })?;
                i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
                    .map_err(|_| AdminError::BadRequest("now: out of range".into()))
            }
        }
    }
}

fn clock_error(e: MoveError) -> AdminError {
    match e {
        MoveError::Clock(e @ ClockError::NotManual) => AdminError::Conflict(e.to_string()),
        MoveError::Clock(e @ (ClockError::Backwards { .. } | ClockError::TooFar { .. })) => {
            AdminError::BadRequest(e.to_string())
        }
        MoveError::Store(e) => AdminError::Unavailable(e),
    }
}

async fn move_clock(
    _: AdminAuth,
    State(state): State<AppState>,
    body: Result<axum::Json<MoveClock>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AdminError> {
    let axum::Json(body) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    // Moved in the store too, so that every manual-clock node on it follows (checklist J7).
    let to = match (&body.now, body.advance_seconds) {
        (Some(now), None) => ClockMove::To(now.ms()?),
        (None, Some(s)) => {
            let ms = i64::try_from(s)
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .ok_or_else(|| AdminError::BadRequest("advance_seconds: too large".into()))?;
            ClockMove::By(ms)
        }
        _ => {
            return Err(AdminError::BadRequest(
                "send exactly one of `now` (RFC 3339 or epoch milliseconds) and `advance_seconds`"
                    .into(),
            ));
        }
    };
    crate::clock::move_shared(&state.clock, state.store.as_ref(), to)
        .await
        .map_err(clock_error)?;
    tracing::info!(now_ms = state.now(), "clock moved through the admin API");
    Ok(axum::Json(clock_body(&state)).into_response())
}

async fn list_faults(_: AdminAuth, State(state): State<AppState>) -> Response {
    axum::Json(json!({ "faults": state.sandbox.faults.list() })).into_response()
}

async fn add_fault(
    _: AdminAuth,
    State(state): State<AppState>,
    body: Result<axum::Json<FaultRuleSpec>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AdminError> {
    let axum::Json(spec) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let rule = FaultRule::try_from(spec).map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let listed = state.sandbox.faults.add(rule);
    tracing::warn!(fault_rule = listed.id, path = %listed.rule.path, "test-only: fault rule added");
    Ok((StatusCode::CREATED, axum::Json(listed)).into_response())
}

async fn clear_faults(_: AdminAuth, State(state): State<AppState>) -> Response {
    let removed = state.sandbox.faults.clear();
    axum::Json(json!({ "removed": removed })).into_response()
}

async fn remove_fault(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let missing = || AdminError::NotFound(format!("no fault rule `{id}`"));
    let n: u64 = id.parse().map_err(|_| missing())?;
    if !state.sandbox.faults.remove(n) {
        return Err(missing());
    }
    Ok(axum::Json(json!({ "removed": 1 })).into_response())
}

async fn app_requests(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Response, AdminError> {
    let app = state
        .store
        .app_by_client_id(&client_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no App with client id `{client_id}`")))?;
    let requests = state.sandbox.inspector.requests(app.id);
    Ok(axum::Json(json!({ "client_id": client_id, "requests": requests })).into_response())
}
