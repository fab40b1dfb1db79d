//! Fixed-window request counters, in memory.
//!
//! X counts requests in 15-minute windows per endpoint, per user (user-context tokens) or per
//! App (app-only tokens), and reports the window with `x-rate-limit-*` headers; some endpoints
//! have a second window on top (a day per App, a second per pool). A store write per request
//! would cost more than the rest of the request (design/PERFORMANCE.md), so counters live in
//! memory: exact on one node. The map is sharded so concurrent requests rarely contend, and every
//! check-and-count happens under the locks of the shards involved, so counts stay right under
//! concurrency and a request refused by one of its windows is counted in none.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

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
    len_ms: i64,
    count: u64,
}

/// One window a request is counted in.
#[derive(Debug, Clone)]
pub struct Check {
    pub key: Key,
    pub limit: u64,
    pub window_ms: i64,
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
    fn shard_index(&self, key: &Key) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        usize::try_from(h.finish() % SHARDS as u64).unwrap_or(0)
    }

    /// Counts one request against `key` if the window has room. A window starts with its first
    /// request and lasts `window_ms`.
    pub fn check(&self, key: Key, limit: u64, window_ms: i64, now_ms: i64) -> Decision {
        let d = self.check_all(
            &[Check {
                key,
                limit,
                window_ms,
            }],
            now_ms,
        );
        d.into_iter().next().unwrap_or(Decision {
            allowed: false,
            limit,
            remaining: 0,
            reset_ms: now_ms + window_ms,
        })
    }

    /// Counts one request in every window of `checks` if each has room, and in none otherwise.
    /// The decisions come in the order of `checks`; a window that has no room is the one whose
    /// decision is not `allowed`.
    pub fn check_all(&self, checks: &[Check], now_ms: i64) -> Vec<Decision> {
        let shards: Vec<usize> = checks.iter().map(|c| self.shard_index(&c.key)).collect();
        let mut order = shards.clone();
        order.sort_unstable();
        order.dedup();
        // Locked in index order, so two requests never wait on each other's locks.
        let mut guards: Vec<(usize, MutexGuard<'_, HashMap<Key, Window>>)> = order
            .iter()
            .map(|i| {
                let g = self.shards[*i]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                (*i, g)
            })
            .collect();
        let mut decisions = Vec::with_capacity(checks.len());
        for (c, shard) in checks.iter().zip(&shards) {
            let Some((_, map)) = guards.iter_mut().find(|(i, _)| i == shard) else {
                continue;
            };
            let fresh = Window {
                start_ms: now_ms,
                len_ms: c.window_ms,
                count: 0,
            };
            // The key is cloned only for a window's first request.
            let w = match map.get_mut(&c.key) {
                Some(w) => w,
                None => map.entry(c.key.clone()).or_insert(fresh),
            };
            if now_ms >= w.start_ms + w.len_ms || now_ms < w.start_ms || w.len_ms != c.window_ms {
                *w = fresh;
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
                    d.remaining = d.limit.saturating_sub(w.count);
                }
            }
        }
        decisions
    }

    /// Drops every window: each key starts afresh (after a reset of the store).
    pub fn clear(&self) {
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
        }
    }

    /// Drops windows that have ended (called by the cleanup job).
    pub fn prune(&self, now_ms: i64) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut map = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = map.len();
            map.retain(|_, w| w.start_ms + w.len_ms > now_ms);
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
    fn prune_drops_ended_windows_each_by_its_own_length() {
        let rl = RateLimiter::default();
        rl.check(key("a"), 1, 1000, 0);
        rl.check(key("b"), 1, 1000, 5000);
        rl.check(key("day"), 1, 86_400_000, 0);
        assert_eq!(rl.prune(5500), 1);
        assert!(!rl.check(key("day"), 1, 86_400_000, 5500).allowed);
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
        let d = rl.check_all(&checks(1), 0);
        assert!(d.iter().all(|d| d.allowed));
        assert_eq!((d[0].remaining, d[1].remaining), (9, 0));
        let d = rl.check_all(&checks(1), 10);
        assert_eq!((d[0].allowed, d[1].allowed), (true, false));
        assert_eq!((d[0].remaining, d[1].remaining), (9, 0), "nothing counted");
        assert_eq!(d[1].reset_ms, 1000);
        let d = rl.check_all(&checks(1), 1000);
        assert!(d.iter().all(|d| d.allowed));
        assert_eq!(d[0].remaining, 8);
    }
}
