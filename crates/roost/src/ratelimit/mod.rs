//! Fixed-window request counters.
//!
//! X counts requests in 15-minute windows per endpoint, per user (user-context tokens) or per
//! App (app-only tokens), and reports the window with `x-rate-limit-*` headers; some endpoints
//! have a second window on top (a day per App, a second per pool). A window begins with its
//! key's first request. Where the counts live is `rate_limits.shared`:
//!
//! - **memory** (one node; the default on SQLite): counters live in this process, exact. A
//!   store write per request would cost more than the rest of the request
//!   (design/PERFORMANCE.md). The map is sharded so concurrent requests rarely contend, and
//!   every check-and-count happens under the locks of the shards involved, so counts stay right
//!   under concurrency and a request refused by one of its windows is counted in none.
//! - **store** (several nodes on one database; the default on PostgreSQL): each node counts in
//!   memory as above, and a background flusher sends what it admitted since the last flush to
//!   the store every `rate_limits.flush_interval_ms`, in one transaction, getting back each
//!   window's global count and start ([`roost_store::Store::add_rate_counts`]). A node decides
//!   on the last global count it heard plus what it admitted since, so the request path never
//!   waits for the store. The store keeps the start of a window's first flush, so every node
//!   reports the same `x-rate-limit-reset` from its first flush in that window on, and windows
//!   end for all nodes at once. **The bound:** a node does not see what the other nodes
//!   admitted since it last heard the count, so a window can admit more than its limit by at
//!   most what the other nodes admitted in that time: for a key a node is serving, what they
//!   admitted in the last two flush intervals (their unflushed requests, and what they flushed
//!   after this node's last flush); for a key it has not served in the last
//!   [`REFRESH_FLUSHES`] flushes, until its first flush after its next request. With the
//!   default 250 ms, a limit is exceeded by at most what the other nodes admit for that key in
//!   half a second (a client sending at the full rate to every node), and never on one node.
//!   If the store is down, nodes go on deciding on what they know and send their counts when
//!   it is back.
//! - **redis** (`rate_limits.redis_url` / `--redis-url`): one Lua script per check reads each
//!   window with its start, creates it if it has ended, and counts the request in all of its
//!   windows or none, atomically on the Redis server: exact across nodes, at one round trip
//!   per rate-limited request. A Redis that cannot be reached or does not answer within
//!   `rate_limits.redis_timeout_ms` makes those requests 503, like a store outage.

mod redis;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use roost_store::{RateDelta, Store, StoreError};

pub use self::redis::RedisWindows;

const SHARDS: usize = 32;

/// How many flushes after its last request a window is still read back from the store, so a
/// node that served a key lately learns what the others admitted for it (and its headers agree
/// with theirs) although it has admitted nothing new. A window idle for longer costs nothing.
pub const REFRESH_FLUSHES: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// What is limited, e.g. `GET /2/users/:id` or `token:client`.
    pub scope: &'static str,
    /// The App, user or client address the window belongs to.
    pub subject: String,
}

impl Key {
    /// The window's name in a shared store: the scope never contains `|`, so this is unique.
    pub fn shared_name(&self) -> String {
        format!("{}|{}", self.scope, self.subject)
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: i64,
    len_ms: i64,
    /// The requests counted in the window as this node knows them: all of them in memory;
    /// shared through the store, the global count at the last flush plus `pending`.
    count: u64,
    /// Admitted here since the last flush (store only).
    pending: u64,
    /// Flushes that will still read the window back (store only; see [`REFRESH_FLUSHES`]).
    refresh: u8,
}

impl Window {
    /// Whether a request at `now_ms` belongs in this window. A time a little before its start
    /// does: concurrent requests read the clock before they take the lock, so one that read it
    /// first may come second (and another node that began the window may run a little ahead).
    /// Only a clock that moved back by more than a window starts one afresh.
    fn holds(&self, now_ms: i64, len_ms: i64) -> bool {
        self.len_ms == len_ms
            && now_ms < self.start_ms + self.len_ms
            && now_ms >= self.start_ms - self.len_ms
    }
}

/// One window a request is counted in.
#[derive(Debug, Clone)]
pub struct Check {
    pub key: Key,
    pub limit: u64,
    pub window_ms: i64,
}

/// An open window as [`RateLimiter::live_windows`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveWindow {
    pub key: Key,
    pub count: u64,
    /// When the window ends, Unix milliseconds.
    pub reset_ms: i64,
}

/// The outcome of one check, with what the headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// When the window ends, Unix milliseconds.
    pub reset_ms: i64,
}

impl Decision {
    /// `x-rate-limit-reset`: epoch seconds.
    pub fn reset_secs(&self) -> i64 {
        self.reset_ms.div_euclid(1000) + i64::from(self.reset_ms.rem_euclid(1000) != 0)
    }

    /// Seconds until the window ends, at least 1 (`Retry-After`).
    pub fn retry_after(&self, now_ms: i64) -> i64 {
        ((self.reset_ms - now_ms + 999) / 1000).max(1)
    }
}

/// The shared counters could not be used: the request is answered 503, as for a store outage.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("Redis (rate-limit counters): {0}")]
    Unavailable(String),
}

impl From<LimitError> for StoreError {
    fn from(e: LimitError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// Where the counts live (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Memory,
    Store,
    Redis,
}

enum Backend {
    Memory,
    Store {
        store: Arc<dyn Store>,
        /// One flush at a time, so two never subtract the same pending requests.
        flushing: tokio::sync::Mutex<()>,
    },
    Redis(RedisWindows),
}

pub struct RateLimiter {
    shards: Vec<Mutex<HashMap<Key, Window>>>,
    backend: Backend,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::with(Backend::Memory)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RateLimiter {
    fn with(backend: Backend) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            backend,
        }
    }

    /// Counts in this process only: exact on one node.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Counts in this process and flushes the counts to `store` (see [`RateLimiter::flush`]).
    pub fn shared_through_store(store: Arc<dyn Store>) -> Self {
        Self::with(Backend::Store {
            store,
            flushing: tokio::sync::Mutex::new(()),
        })
    }

    /// Counts on a Redis server, exact across nodes.
    pub fn shared_through_redis(redis: RedisWindows) -> Self {
        Self::with(Backend::Redis(redis))
    }

    pub fn mode(&self) -> Mode {
        match self.backend {
            Backend::Memory => Mode::Memory,
            Backend::Store { .. } => Mode::Store,
            Backend::Redis(_) => Mode::Redis,
        }
    }

    fn shard_index(&self, key: &Key) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        usize::try_from(h.finish() % SHARDS as u64).unwrap_or(0)
    }

    /// Counts one request against `key` if the window has room.
    pub async fn check(
        &self,
        key: Key,
        limit: u64,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Decision, LimitError> {
        let d = self
            .check_all(
                &[Check {
                    key,
                    limit,
                    window_ms,
                }],
                now_ms,
            )
            .await?;
        Ok(d.into_iter().next().unwrap_or(Decision {
            allowed: false,
            limit,
            remaining: 0,
            reset_ms: now_ms + window_ms,
        }))
    }

    /// Counts one request in every window of `checks` if each has room, and in none otherwise.
    /// The decisions come in the order of `checks`; a window that has no room is the one whose
    /// decision is not `allowed`. Only with Redis does this wait for anything.
    pub async fn check_all(
        &self,
        checks: &[Check],
        now_ms: i64,
    ) -> Result<Vec<Decision>, LimitError> {
        match &self.backend {
            Backend::Memory => Ok(self.check_here(checks, now_ms, false)),
            Backend::Store { .. } => Ok(self.check_here(checks, now_ms, true)),
            Backend::Redis(r) => r.check_all(checks, now_ms).await,
        }
    }

    /// The in-process check; `shared` also records what the next flush sends.
    fn check_here(&self, checks: &[Check], now_ms: i64, shared: bool) -> Vec<Decision> {
        let shards: Vec<usize> = checks.iter().map(|c| self.shard_index(&c.key)).collect();
        let mut order = shards.clone();
        order.sort_unstable();
        order.dedup();
        // Locked in index order, so two requests never wait on each other's locks.
        let mut guards: Vec<(usize, MutexGuard<'_, HashMap<Key, Window>>)> =
            order.iter().map(|i| (*i, lock(&self.shards[*i]))).collect();
        let mut decisions = Vec::with_capacity(checks.len());
        for (c, shard) in checks.iter().zip(&shards) {
            let Some((_, map)) = guards.iter_mut().find(|(i, _)| i == shard) else {
                continue;
            };
            let fresh = Window {
                start_ms: now_ms,
                len_ms: c.window_ms,
                count: 0,
                pending: 0,
                refresh: 0,
            };
            // The key is cloned only for a window's first request.
            let w = match map.get_mut(&c.key) {
                Some(w) => w,
                None => map.entry(c.key.clone()).or_insert(fresh),
            };
            if !w.holds(now_ms, c.window_ms) {
                *w = fresh;
            }
            if shared {
                w.refresh = REFRESH_FLUSHES;
            }
            decisions.push(Decision {
                allowed: w.count < c.limit,
                limit: c.limit,
                remaining: c.limit.saturating_sub(w.count),
                reset_ms: w.start_ms + w.len_ms,
            });
        }
        if decisions.len() == checks.len() && decisions.iter().all(|d| d.allowed) {
            for ((c, shard), d) in checks.iter().zip(&shards).zip(decisions.iter_mut()) {
                if let Some((_, map)) = guards.iter_mut().find(|(i, _)| i == shard)
                    && let Some(w) = map.get_mut(&c.key)
                {
                    w.count += 1;
                    if shared {
                        w.pending += 1;
                    }
                    d.remaining = d.limit.saturating_sub(w.count);
                }
            }
        }
        decisions
    }

    /// Shared through the store: sends what this node admitted since the last flush, and reads
    /// back the windows it served lately, in one store call; then decides on the global counts
    /// and adopts the stored starts. Returns how many windows were sent (0 in the other modes).
    /// On an error nothing is taken off the pending counts: the next flush sends them again.
    pub async fn flush(&self, now_ms: i64) -> Result<usize, StoreError> {
        let Backend::Store { store, flushing } = &self.backend else {
            return Ok(0);
        };
        let _one = flushing.lock().await;
        let mut keys = Vec::new();
        let mut deltas = Vec::new();
        for shard in &self.shards {
            for (k, w) in lock(shard).iter_mut() {
                if now_ms >= w.start_ms + w.len_ms || (w.pending == 0 && w.refresh == 0) {
                    continue;
                }
                w.refresh = w.refresh.saturating_sub(1);
                keys.push(k.clone());
                deltas.push(RateDelta {
                    key: k.shared_name(),
                    window_start: w.start_ms,
                    window_ms: w.len_ms,
                    admitted: i64::try_from(w.pending).unwrap_or(i64::MAX),
                });
            }
        }
        if deltas.is_empty() {
            return Ok(0);
        }
        let windows = store.add_rate_counts(&deltas).await?;
        for ((key, sent), global) in keys.iter().zip(&deltas).zip(&windows) {
            let mut map = lock(&self.shards[self.shard_index(key)]);
            // A window that began here while the flush was out has nothing to do with the
            // answer, which is about the one before.
            let Some(w) = map.get_mut(key) else { continue };
            if w.start_ms != sent.window_start || w.len_ms != sent.window_ms {
                continue;
            }
            w.pending = w
                .pending
                .saturating_sub(u64::try_from(sent.admitted).unwrap_or(0));
            w.start_ms = global.window_start;
            w.count = u64::try_from(global.count)
                .unwrap_or(0)
                .saturating_add(w.pending);
        }
        Ok(deltas.len())
    }

    /// Drops every window this process holds: each key starts afresh (after a reset of the
    /// store).
    pub fn clear(&self) {
        for shard in &self.shards {
            lock(shard).clear();
        }
    }

    /// After a reset of the store: drops the windows kept outside it (on Redis). The store's
    /// own windows went with the reset.
    pub async fn clear_shared(&self) -> Result<u64, LimitError> {
        match &self.backend {
            Backend::Redis(r) => r.clear().await,
            Backend::Memory | Backend::Store { .. } => Ok(0),
        }
    }

    /// The windows this process holds that are open at `now` and whose key `keep` takes, with
    /// their counts as this process knows them: exact in memory, the last global count plus
    /// what it admitted since when shared through the store, none when Redis holds them. For
    /// the developer portal's usage page, not for decisions.
    pub fn live_windows(&self, now: i64, keep: impl Fn(&Key) -> bool) -> Vec<LiveWindow> {
        let mut out = Vec::new();
        for shard in &self.shards {
            for (key, w) in lock(shard).iter() {
                if now < w.start_ms + w.len_ms && keep(key) {
                    out.push(LiveWindow {
                        key: key.clone(),
                        count: w.count,
                        reset_ms: w.start_ms + w.len_ms,
                    });
                }
            }
        }
        out
    }

    /// Drops windows that have ended (called by the cleanup job).
    pub fn prune(&self, now: i64) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut map = lock(shard);
            let before = map.len();
            map.retain(|_, w| w.start_ms + w.len_ms > now);
            removed += before - map.len();
        }
        removed
    }
}

/// The background flusher of a limiter shared through the store: every
/// `rate_limits.flush_interval_ms`. None in the other modes.
pub fn spawn_flusher(state: crate::state::AppState) -> Option<tokio::task::JoinHandle<()>> {
    if state.limits.mode() != Mode::Store {
        return None;
    }
    Some(tokio::spawn(async move {
        let every = std::time::Duration::from_millis(state.config.rate_limits.flush_interval_ms);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match state.limits.flush(state.now()).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("rate-limit counts reach the store again");
                }
                Ok(_) => {}
                Err(e) => {
                    // Once per outage, not four times a second.
                    if !failing {
                        tracing::warn!(error = %e, "cannot send rate-limit counts to the store; deciding on the last counts known, will retry");
                    }
                    failing = true;
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RateLimiter {
        /// One window's check, in process.
        fn check_now(&self, key: Key, limit: u64, window_ms: i64, now_ms: i64) -> Decision {
            self.check_here(
                &[Check {
                    key,
                    limit,
                    window_ms,
                }],
                now_ms,
                self.mode() == Mode::Store,
            )[0]
        }
    }

    fn key(s: &str) -> Key {
        Key {
            scope: "GET /2/users/me",
            subject: s.to_owned(),
        }
    }

    #[test]
    fn counts_to_the_limit_then_refuses_until_the_window_ends() {
        let rl = RateLimiter::default();
        let t0 = 1_700_000_000_500;
        for i in 0..3 {
            let d = rl.check_now(key("u1"), 3, 900_000, t0 + i);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - u64::try_from(i).unwrap());
            assert_eq!(d.reset_ms, t0 + 900_000);
        }
        let d = rl.check_now(key("u1"), 3, 900_000, t0 + 10);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_secs(), 1_700_000_901);
        assert!(
            rl.check_now(key("u2"), 3, 900_000, t0 + 10).allowed,
            "other keys are independent"
        );
        assert!(
            rl.check_now(key("u1"), 3, 900_000, t0 + 900_000).allowed,
            "a new window"
        );
    }

    #[test]
    fn exact_under_concurrency() {
        let rl = std::sync::Arc::new(RateLimiter::default());
        let allowed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (rl, allowed) = (rl.clone(), allowed.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if rl.check_now(key("u"), 2500, 900_000, 0).allowed {
                            allowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(allowed.load(std::sync::atomic::Ordering::Relaxed), 2500);
    }

    #[test]
    fn a_request_that_read_the_clock_before_the_window_began_is_counted_in_it() {
        let rl = RateLimiter::default();
        assert!(rl.check_now(key("u"), 2, 1000, 500).allowed);
        let d = rl.check_now(key("u"), 2, 1000, 499);
        assert_eq!((d.allowed, d.remaining, d.reset_ms), (true, 0, 1500));
        assert!(!rl.check_now(key("u"), 2, 1000, 498).allowed);
        // A clock that went back by more than a window starts afresh.
        assert!(rl.check_now(key("u"), 2, 1000, -501).allowed);
    }

    #[test]
    fn prune_drops_ended_windows_each_by_its_own_length() {
        let rl = RateLimiter::default();
        rl.check_now(key("a"), 1, 1000, 0);
        rl.check_now(key("b"), 1, 1000, 5000);
        rl.check_now(key("day"), 1, 86_400_000, 0);
        assert_eq!(rl.prune(5500), 1);
        assert!(!rl.check_now(key("day"), 1, 86_400_000, 5500).allowed);
    }

    #[test]
    fn a_request_refused_by_one_window_is_counted_in_none() {
        let rl = RateLimiter::default();
        let checks = |n: u64| {
            vec![
                Check {
                    key: key("quarter"),
                    limit: 10,
                    window_ms: 900_000,
                },
                Check {
                    key: key("second"),
                    limit: n,
                    window_ms: 1000,
                },
            ]
        };
        let d = rl.check_here(&checks(1), 0, false);
        assert!(d.iter().all(|d| d.allowed));
        assert_eq!((d[0].remaining, d[1].remaining), (9, 0));
        let d = rl.check_here(&checks(1), 10, false);
        assert_eq!((d[0].allowed, d[1].allowed), (true, false));
        assert_eq!((d[0].remaining, d[1].remaining), (9, 0), "nothing counted");
        assert_eq!(d[1].reset_ms, 1000);
        let d = rl.check_here(&checks(1), 1000, false);
        assert!(d.iter().all(|d| d.allowed));
        assert_eq!(d[0].remaining, 8);
    }

    /// Two nodes on one SQLite file.
    async fn two_nodes() -> (tempfile::TempDir, RateLimiter, RateLimiter) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rl.db");
        let store = roost_store::SqliteStore::open(path.to_str().unwrap())
            .await
            .unwrap();
        roost_store::Store::migrate(&store).await.unwrap();
        let other = roost_store::SqliteStore::open(path.to_str().unwrap())
            .await
            .unwrap();
        (
            dir,
            RateLimiter::shared_through_store(Arc::new(store)),
            RateLimiter::shared_through_store(Arc::new(other)),
        )
    }

    #[tokio::test]
    async fn nodes_agree_on_count_and_start_after_flushing() {
        let (_dir, a, b) = two_nodes().await;
        for t in 0..3 {
            assert!(a.check_now(key("u"), 10, 900_000, 100 + t).allowed);
        }
        // B began its window later, and knows nothing of A's requests yet.
        for t in 0..2 {
            let d = b.check_now(key("u"), 10, 900_000, 500 + t);
            assert_eq!(
                (d.remaining, d.reset_ms),
                (9 - u64::try_from(t).unwrap(), 900_500)
            );
        }
        assert_eq!(a.flush(600).await.unwrap(), 1);
        assert_eq!(b.flush(600).await.unwrap(), 1);
        // A has heard of B's two through the read-back of a window it served lately.
        assert_eq!(a.flush(700).await.unwrap(), 1);
        let (da, db) = (
            a.check_now(key("u"), 10, 900_000, 800),
            b.check_now(key("u"), 10, 900_000, 800),
        );
        assert_eq!((da.remaining, da.reset_ms), (4, 900_100));
        assert_eq!(
            (db.remaining, db.reset_ms),
            (4, 900_100),
            "A's start, the first flushed"
        );
        a.flush(900).await.unwrap();
        b.flush(900).await.unwrap();
        a.flush(900).await.unwrap();
        // 7 admitted, both know it; each counts its next request on top.
        assert_eq!(a.check_now(key("u"), 10, 900_000, 1000).remaining, 2);
        assert_eq!(b.check_now(key("u"), 10, 900_000, 1000).remaining, 2);
    }

    #[tokio::test]
    async fn overshoot_is_what_the_other_node_admitted_unflushed_and_nothing_is_lost() {
        let (_dir, a, b) = two_nodes().await;
        let admitted = |rl: &RateLimiter, n: usize, t: i64| {
            (0..n)
                .filter(|_| rl.check_now(key("u"), 10, 900_000, t).allowed)
                .count()
        };
        // Neither has flushed: each admits up to the limit on its own.
        assert_eq!(admitted(&a, 6, 0), 6);
        assert_eq!(admitted(&b, 6, 1), 6);
        a.flush(2).await.unwrap();
        // B decides on A's six and its own six: full, and it stays refused.
        b.flush(2).await.unwrap();
        assert_eq!(admitted(&b, 3, 3), 0);
        a.flush(4).await.unwrap();
        assert_eq!(admitted(&a, 3, 5), 0);
        // 12 admitted for a limit of 10: the overshoot, 2, is within what B admitted before
        // its first flush (6). The store holds every admitted request, no more.
        let d = RateDelta {
            key: key("u").shared_name(),
            window_start: 0,
            window_ms: 900_000,
            admitted: 0,
        };
        let Backend::Store { store, .. } = &a.backend else {
            unreachable!()
        };
        assert_eq!(store.add_rate_counts(&[d]).await.unwrap()[0].count, 12);
    }

    #[tokio::test]
    async fn a_window_ends_for_every_node_at_its_stored_end() {
        let (_dir, a, b) = two_nodes().await;
        assert!(a.check_now(key("u"), 1, 1000, 0).allowed);
        a.flush(10).await.unwrap();
        // B has not heard of A's request: it admits one (the bound), in a window of its own.
        let d = b.check_now(key("u"), 1, 1000, 400);
        assert_eq!((d.allowed, d.reset_ms), (true, 1400));
        b.flush(500).await.unwrap();
        let d = b.check_now(key("u"), 1, 1000, 999);
        assert_eq!((d.allowed, d.reset_ms), (false, 1000), "A's start");
        // At the end both begin again.
        assert!(a.check_now(key("u"), 1, 1000, 1000).allowed);
        a.flush(1001).await.unwrap();
        assert!(
            b.check_now(key("u"), 1, 1000, 1002).allowed,
            "not flushed yet"
        );
        b.flush(1003).await.unwrap();
        a.flush(1003).await.unwrap();
        assert!(!a.check_now(key("u"), 1, 1000, 1004).allowed);
        let d = b.check_now(key("u"), 1, 1000, 1004);
        assert_eq!((d.allowed, d.reset_ms), (false, 2000));
    }

    #[tokio::test]
    async fn idle_windows_cost_a_flush_nothing_after_a_few_rounds() {
        let (_dir, a, _b) = two_nodes().await;
        a.check_now(key("u"), 5, 900_000, 0);
        for _ in 0..REFRESH_FLUSHES {
            assert_eq!(a.flush(1).await.unwrap(), 1);
        }
        assert_eq!(a.flush(1).await.unwrap(), 0);
        // Memory mode never flushes.
        let m = RateLimiter::in_memory();
        m.check_now(key("u"), 5, 900_000, 0);
        assert_eq!(m.flush(1).await.unwrap(), 0);
    }
}
