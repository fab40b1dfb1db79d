//! API usage per App, for the developer portal's charts and the connected-apps page's "last
//! used".
//!
//! A store write per API request would cost more than the request (design/PERFORMANCE.md), so
//! requests are counted in memory, per App, endpoint and 15-minute bucket, and a background task
//! adds the counts to the store every few seconds ([`spawn_flusher`]); a page that shows usage
//! flushes first, so it shows every request this node has served. Counts of other nodes arrive
//! within their flush interval. A node that stops abruptly loses at most one interval of
//! counts: usage is a picture, not a bill.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use roost_domain::Snowflake;
use roost_store::{Store, StoreError, USAGE_BUCKET_MS, UsageCount};

/// How often counts go to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Pending {
    /// (App, endpoint, bucket start) → requests.
    counts: HashMap<(Snowflake, &'static str, i64), i64>,
    /// (App, user) → the last request's time.
    used: HashMap<(Snowflake, Snowflake), i64>,
}

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
    /// One flush at a time, so that two never send the same counts.
    flushing: tokio::sync::Mutex<()>,
}

impl UsageRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one API request of `app` on `endpoint` (a rate-limit key such as
    /// `GET /2/users/:id`), made for `user` when it carried a user token.
    pub fn record(
        &self,
        app: Snowflake,
        user: Option<Snowflake>,
        endpoint: &'static str,
        now: i64,
    ) {
        let bucket = now - now.rem_euclid(USAGE_BUCKET_MS);
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *p.counts.entry((app, endpoint, bucket)).or_default() += 1;
        if let Some(user) = user {
            let at = p.used.entry((app, user)).or_default();
            *at = (*at).max(now);
        }
    }

    /// Sends what was counted since the last flush. Counts that could not be sent are kept
    /// for the next one.
    pub async fn flush(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _one = self.flushing.lock().await;
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if taken.counts.is_empty() && taken.used.is_empty() {
            return Ok(());
        }
        let mut counts: Vec<UsageCount> = taken
            .counts
            .iter()
            .map(|(&(app_id, endpoint, bucket_start), &count)| UsageCount {
                app_id,
                endpoint: endpoint.to_owned(),
                bucket_start,
                count,
            })
            .collect();
        counts.sort_by(|a, b| {
            (a.app_id, a.bucket_start, &a.endpoint).cmp(&(b.app_id, b.bucket_start, &b.endpoint))
        });
        let mut used: Vec<(Snowflake, Snowflake, i64)> =
            taken.used.iter().map(|(&(a, u), &t)| (a, u, t)).collect();
        used.sort();
        if let Err(e) = store.record_usage(&counts, &used).await {
            // Put them back, merged with what arrived meanwhile.
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for (k, n) in taken.counts {
                *p.counts.entry(k).or_default() += n;
            }
            for (k, t) in taken.used {
                let at = p.used.entry(k).or_default();
                *at = (*at).max(t);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Forgets everything not yet sent (a reset of the store).
    pub fn clear(&self) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Pending::default();
    }
}

/// Flushes the counts every [`FLUSH_EVERY`] until the process ends.
pub fn spawn_flusher(state: crate::state::AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match state.usage.flush(state.store.as_ref()).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("usage counts reach the store again");
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot send usage counts to the store; keeping them, will retry");
                    }
                    failing = true;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sf(n: i64) -> Snowflake {
        Snowflake::from_i64(n).unwrap()
    }

    #[test]
    fn counts_by_app_endpoint_and_bucket() {
        let r = UsageRecorder::new();
        let t = 10 * USAGE_BUCKET_MS;
        r.record(sf(1), Some(sf(5)), "GET /2/users/me", t + 1);
        r.record(sf(1), Some(sf(5)), "GET /2/users/me", t + 2);
        r.record(sf(1), None, "GET /2/users/me", t + USAGE_BUCKET_MS);
        r.record(sf(2), Some(sf(5)), "GET /2/tweets", t + 3);
        let p = r.pending.lock().unwrap();
        assert_eq!(p.counts[&(sf(1), "GET /2/users/me", t)], 2);
        assert_eq!(
            p.counts[&(sf(1), "GET /2/users/me", t + USAGE_BUCKET_MS)],
            1
        );
        assert_eq!(p.counts[&(sf(2), "GET /2/tweets", t)], 1);
        assert_eq!(p.used[&(sf(1), sf(5))], t + 2);
        assert_eq!(p.used.len(), 2);
    }
}
