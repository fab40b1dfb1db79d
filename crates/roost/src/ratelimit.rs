//! Fixed-window request counters, in memory.
//!
//! X counts requests in 15-minute windows per endpoint, per user (user-context tokens) or per
//! App (app-only tokens), and reports the window with `x-rate-limit-*` headers. A store write per
//! request would cost more than the rest of the request (design/PERFORMANCE.md), so counters live
//! in memory: exact on one node. The map is sharded so concurrent requests rarely contend, and
//! every check-and-count happens under the shard's lock, so counts stay right under concurrency.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

const SHARDS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// What is limited, e.g. `GET /2/users/:id` or `token:client`.
    pub scope: &'static str,
    /// The App, user or client address the window belongs to.
    pub subject: String,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: i64,
    count: u64,
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

pub struct RateLimiter {
    shards: Vec<Mutex<HashMap<Key, Window>>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl RateLimiter {
    fn shard(&self, key: &Key) -> &Mutex<HashMap<Key, Window>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let i = usize::try_from(h.finish() % SHARDS as u64).unwrap_or(0);
        &self.shards[i]
    }

    /// Counts one request against `key` if the window has room. A window starts with its first
    /// request and lasts `window_ms`.
    pub fn check(&self, key: Key, limit: u64, window_ms: i64, now_ms: i64) -> Decision {
        let mut map = self
            .shard(&key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let w = map.entry(key).or_insert(Window {
            start_ms: now_ms,
            count: 0,
        });
        if now_ms >= w.start_ms + window_ms || now_ms < w.start_ms {
            *w = Window {
                start_ms: now_ms,
                count: 0,
            };
        }
        let reset_ms = w.start_ms + window_ms;
        if w.count >= limit {
            return Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_ms,
            };
        }
        w.count += 1;
        Decision {
            allowed: true,
            limit,
            remaining: limit - w.count,
            reset_ms,
        }
    }

    /// Drops windows that ended before `now_ms - max_window_ms` (called by the cleanup job).
    pub fn prune(&self, now_ms: i64, max_window_ms: i64) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut map = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = map.len();
            map.retain(|_, w| w.start_ms + max_window_ms > now_ms);
            removed += before - map.len();
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let d = rl.check(key("u1"), 3, 900_000, t0 + i);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - u64::try_from(i).unwrap());
            assert_eq!(d.reset_ms, t0 + 900_000);
        }
        let d = rl.check(key("u1"), 3, 900_000, t0 + 10);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_secs(), 1_700_000_901);
        assert!(
            rl.check(key("u2"), 3, 900_000, t0 + 10).allowed,
            "other keys are independent"
        );
        assert!(
            rl.check(key("u1"), 3, 900_000, t0 + 900_000).allowed,
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
                        if rl.check(key("u"), 2500, 900_000, 0).allowed {
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
    fn prune_drops_ended_windows() {
        let rl = RateLimiter::default();
        rl.check(key("a"), 1, 1000, 0);
        rl.check(key("b"), 1, 1000, 5000);
        assert_eq!(rl.prune(5500, 1000), 1);
    }
}
