//! The shared rate-limit windows' upsert, written once for both engines: only the way the rows
//! are sent differs (a multi-row `VALUES` on SQLite, arrays on PostgreSQL).

use std::collections::HashMap;

use anyhow::anyhow;

use crate::{RateDelta, RateWindow, Result, StoreError};

/// Whether the stored window is over for the delta: it has another length, or ended before
/// the delta's window began. Then the delta's window replaces it.
const REPLACED: &str = "rate_windows.window_ms <> excluded.window_ms \
    OR rate_windows.window_start + rate_windows.window_ms <= excluded.window_start";

/// The conflict clause after `INSERT INTO rate_windows (key, window_start, window_ms, count)`.
/// One statement per row, so a concurrent flush of another node either comes before or after
/// it, never in between (no lost update). A delta whose window ended before the stored one
/// began is dropped: those requests belonged to a window that is over.
pub(crate) fn upsert_conflict_clause() -> String {
    format!(
        "ON CONFLICT (key) DO UPDATE SET \
         count = CASE WHEN {REPLACED} THEN excluded.count \
         WHEN excluded.window_start + excluded.window_ms <= rate_windows.window_start THEN rate_windows.count \
         ELSE rate_windows.count + excluded.count END, \
         window_start = CASE WHEN {REPLACED} THEN excluded.window_start ELSE rate_windows.window_start END, \
         window_ms = excluded.window_ms \
         RETURNING key, window_start, count"
    )
}

/// `deltas` sorted by key: concurrent flushes then lock rows in the same order and cannot
/// deadlock each other (PostgreSQL takes a row lock per upserted row).
pub(crate) fn in_key_order(deltas: &[RateDelta]) -> Vec<&RateDelta> {
    let mut sorted: Vec<&RateDelta> = deltas.iter().collect();
    sorted.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    sorted
}

/// The windows the upsert returned (by key), in the order of `deltas`.
pub(crate) fn in_delta_order(
    deltas: &[RateDelta],
    mut returned: HashMap<String, RateWindow>,
) -> Result<Vec<RateWindow>> {
    deltas
        .iter()
        .map(|d| {
            returned.remove(&d.key).ok_or_else(|| {
                StoreError::Other(anyhow!("the rate-limit upsert returned no row for a key"))
            })
        })
        .collect()
}
