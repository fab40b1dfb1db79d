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

/// What both stores must do with rate-limit windows; each store's tests run these.
#[cfg(test)]
pub(crate) mod conformance {
    use std::sync::Arc;

    use crate::{RateDelta, RateWindow, Store};

    fn delta(key: &str, window_start: i64, admitted: i64) -> RateDelta {
        RateDelta {
            key: key.to_owned(),
            window_start,
            window_ms: 1000,
            admitted,
        }
    }

    fn window(window_start: i64, count: i64) -> RateWindow {
        RateWindow {
            window_start,
            count,
        }
    }

    pub(crate) async fn windows_add_up_keep_the_first_start_and_drop_what_ended(store: &dyn Store) {
        // Two nodes began the same window at different moments: the first flush's start stays.
        let got = store
            .add_rate_counts(&[delta("b", 100, 3), delta("a", 0, 1)])
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![window(100, 3), window(0, 1)],
            "in the order asked"
        );
        let got = store.add_rate_counts(&[delta("b", 150, 2)]).await.unwrap();
        assert_eq!(got, vec![window(100, 5)]);
        // A read only.
        let got = store.add_rate_counts(&[delta("b", 150, 0)]).await.unwrap();
        assert_eq!(got, vec![window(100, 5)]);
        // A delta of a window that ended before the stored one began is dropped ...
        let got = store.add_rate_counts(&[delta("b", -900, 7)]).await.unwrap();
        assert_eq!(got, vec![window(100, 5)]);
        // ... and one that begins after the stored window ended starts the next window.
        let got = store.add_rate_counts(&[delta("b", 1100, 1)]).await.unwrap();
        assert_eq!(got, vec![window(1100, 1)]);
        // Another length (the configuration changed): a new window.
        let longer = RateDelta {
            window_ms: 5000,
            ..delta("b", 1200, 2)
        };
        assert_eq!(
            store.add_rate_counts(&[longer]).await.unwrap(),
            vec![window(1200, 2)]
        );
        // Keys hold what requests named (a client id), NUL and backslashes included: each is
        // a window of its own.
        let odd = ["c|a\0b", "c|a\\0b", "c|a\\\0b", "c|a\\\\0b"];
        let deltas: Vec<RateDelta> = odd.iter().zip(1..).map(|(k, n)| delta(k, 0, n)).collect();
        let got = store.add_rate_counts(&deltas).await.unwrap();
        let counts: Vec<i64> = got.iter().map(|w| w.count).collect();
        assert_eq!(counts, vec![1, 2, 3, 4]);
        // Many keys at once: more than one statement's worth on SQLite.
        let many: Vec<RateDelta> = (0..600).map(|i| delta(&format!("k{i}"), 0, i)).collect();
        let got = store.add_rate_counts(&many).await.unwrap();
        assert!(got.iter().zip(0..).all(|(w, i)| *w == window(0, i)));
        // Ended windows are cleaned up; live ones stay.
        let report = store.cleanup(1000, 0).await.unwrap();
        assert_eq!(
            report.rows["rate_windows"], 605,
            "a, the four c|... and k0..k599"
        );
        let counts = store.row_counts().await.unwrap();
        assert_eq!(counts["rate_windows"], 1);
    }

    /// Four flushers on two processes (nodes), sharing keys and sending them in opposite
    /// orders: every delta is counted once, and no flush deadlocks another.
    pub(crate) async fn no_update_is_lost_under_concurrent_flushes(
        first: Arc<dyn Store>,
        second: Arc<dyn Store>,
    ) {
        let flushes = |store: Arc<dyn Store>, reversed: bool| {
            tokio::spawn(async move {
                for i in 0..50 {
                    let mut batch = vec![delta("shared", i, 1), delta("other", 0, 2)];
                    if reversed {
                        batch.reverse();
                    }
                    store.add_rate_counts(&batch).await.unwrap();
                }
            })
        };
        let tasks = [
            flushes(first.clone(), false),
            flushes(second.clone(), true),
            flushes(first.clone(), true),
            flushes(second, false),
        ];
        for t in tasks {
            t.await.unwrap();
        }
        let got = first
            .add_rate_counts(&[delta("shared", 0, 0), delta("other", 0, 0)])
            .await
            .unwrap();
        assert_eq!(got, vec![window(0, 200), window(0, 400)]);
    }
}
