//! The background job that keeps the store from growing without bound (checklist K3).

use std::time::Duration;

use crate::oauth::token::secs;
use crate::state::AppState;

/// How long ended grants, used codes and old throttling windows are kept before deletion.
pub fn grace_ms(state: &AppState) -> i64 {
    secs(state.config.login.window.max(600))
}

pub async fn run_once(state: &AppState) {
    let pruned = state.limits.prune(state.now());
    if pruned > 0 {
        tracing::debug!(pruned, "ended rate-limit windows dropped");
    }
    match state.store.cleanup(state.now(), grace_ms(state)).await {
        Ok(report) if report.total() > 0 => {
            tracing::info!(rows = ?report.rows, "cleanup removed expired rows")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cleanup failed; will retry"),
    }
}

/// How often the store's upkeep runs (a WAL checkpoint on SQLite): often enough that the log
/// stays a few megabytes under a steady stream of token writes.
const UPKEEP_EVERY: Duration = Duration::from_millis(250);

pub fn spawn_upkeep(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = state.store.upkeep().await {
                tracing::debug!(error = %e, "store upkeep failed; will retry");
            }
        }
    })
}

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(state.config.cleanup.interval));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            run_once(&state).await;
        }
    })
}
