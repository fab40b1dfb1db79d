//! The one time source. Everything time-dependent reads [`Clock::now_ms`], so tests and the
//! sandbox's manual clock (`--clock manual`) move time for codes, tokens, sessions, throttling,
//! rate-limit windows, cleanup, `created_at` and the time part of ids at once.
//!
//! Many nodes, one clock (checklist J7): the system clock follows the database's. A background
//! task ([`spawn_sync`]) measures how far the database's clock is from this node's and every
//! [`Clock::now_ms`] adds that offset, so nodes whose own clocks disagree still agree on when a
//! code or token expires. A manual clock is shared the same way: it is kept in the database and
//! every manual-clock node on it follows the furthest any of them has been moved.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use roost_store::{Store, StoreError};

#[derive(Clone, Debug)]
pub enum Clock {
    /// The machine's clock, corrected by the offset to the database's clock.
    System(Arc<SystemClock>),
    /// A clock that only moves when told to.
    Manual(Arc<AtomicI64>),
}

/// The machine's clock plus what [`sync_once`] measured against the database.
#[derive(Debug, Default)]
pub struct SystemClock {
    /// An artificial error of the machine's clock, for tests of skewed nodes (0 otherwise).
    skew_ms: i64,
    /// Database time minus this node's raw time, as last measured.
    offset_ms: AtomicI64,
}

/// The machine's clock, Unix milliseconds, uncorrected.
pub fn wall_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// How often a system clock's offset to the database is measured again: clocks drift by
/// milliseconds an hour, so this only needs to catch steps (an NTP correction, a VM resumed).
pub const OFFSET_SYNC_EVERY: Duration = Duration::from_secs(30);

/// How often a manual-clock node reads the shared manual time: a move on one node reaches
/// the others within this (plus one store round trip), well inside a second.
pub const MANUAL_SYNC_EVERY: Duration = Duration::from_millis(250);

/// An offset larger than this means the node's own clock is wrong; it is corrected anyway,
/// and said in a WARN so that the operator fixes NTP.
pub const WARN_OFFSET_MS: i64 = 5_000;

/// Round-trip samples per measurement; the one with the shortest round trip is kept, as it
/// bounds the uncertainty tightest.
const SAMPLES: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error(
        "the server runs on the system clock; start it with --sandbox --clock manual to move time"
    )]
    NotManual,
    /// Real time never goes back: expiries already passed would come back to life and windows
    /// and ids would be out of order with what clients have already seen.
    #[error("the clock only moves forward: {requested_ms} is before the current {now_ms}")]
    Backwards { now_ms: i64, requested_ms: i64 },
    /// Past the year 9999: no RFC 3339 time, and arithmetic on it would overflow.
    #[error("the clock cannot go past {max_ms} (9999-12-31T23:59:59.999Z)")]
    TooFar { max_ms: i64 },
}

/// The furthest a manual clock goes when moved through the admin API.
pub const MAX_MANUAL_MS: i64 = 253_402_300_799_999;

impl Clock {
    /// The machine's clock, to be corrected by [`sync_once`] / [`spawn_sync`].
    pub fn system() -> Self {
        Clock::System(Arc::default())
    }

    /// A system clock whose raw reading is off by `skew_ms`, as a node with a wrong clock has:
    /// for tests of the correction (not offered by the CLI, whose nodes have real clocks).
    pub fn skewed_system(skew_ms: i64) -> Self {
        Clock::System(Arc::new(SystemClock {
            skew_ms,
            offset_ms: AtomicI64::new(0),
        }))
    }

    pub fn manual(start_ms: i64) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    /// The offset this system clock adds to its raw reading (0 for a manual clock).
    pub fn offset_ms(&self) -> i64 {
        match self {
            Clock::System(c) => c.offset_ms.load(Ordering::Relaxed),
            Clock::Manual(_) => 0,
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System(c) => c
                .raw_ms()
                .saturating_add(c.offset_ms.load(Ordering::Relaxed)),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; a no-op on the system clock (tests call it on either).
    pub fn advance_ms(&self, ms: i64) {
        if let Clock::Manual(t) = self {
            t.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Moves a manual clock forward by `ms` (at least 0), returning the new time.
    pub fn try_advance_ms(&self, ms: i64) -> Result<i64, ClockError> {
        let Clock::Manual(t) = self else {
            return Err(ClockError::NotManual);
        };
        if ms < 0 {
            let now_ms = t.load(Ordering::SeqCst);
            return Err(ClockError::Backwards {
                now_ms,
                requested_ms: now_ms.saturating_add(ms),
            });
        }
        let before = t
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(ms))
            })
            .unwrap_or_else(|v| v);
        Ok(before.saturating_add(ms))
    }

    /// Sets a manual clock to `ms` (Unix milliseconds), which must not be before its current
    /// time. Checked and set in one atomic step, so two callers cannot move it back between
    /// them.
    pub fn set_ms(&self, ms: i64) -> Result<i64, ClockError> {
        let Clock::Manual(t) = self else {
            return Err(ClockError::NotManual);
        };
        t.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
            (ms >= now).then_some(ms)
        })
        .map(|_| ms)
        .map_err(|now_ms| ClockError::Backwards {
            now_ms,
            requested_ms: ms,
        })
    }
}

impl SystemClock {
    /// The machine's clock with the test skew, before the database's correction.
    fn raw_ms(&self) -> i64 {
        wall_ms().saturating_add(self.skew_ms)
    }
}

/// One reading of the database's clock: this node's raw time when the query went out, how long
/// the answer took, and the database's time in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub sent_ms: i64,
    pub round_trip_ms: i64,
    pub database_ms: i64,
}

impl Sample {
    /// Database time minus node time. The database read its clock somewhere inside the round
    /// trip; the middle is the best guess, so the node's time then was `sent + rtt / 2`.
    pub fn offset_ms(&self) -> i64 {
        let mid = self.sent_ms.saturating_add(self.round_trip_ms.max(0) / 2);
        self.database_ms.saturating_sub(mid)
    }

    /// How far the true offset can be from [`Sample::offset_ms`]: half the round trip, plus a
    /// millisecond for both clocks being read in whole milliseconds.
    pub fn uncertainty_ms(&self) -> i64 {
        (self.round_trip_ms.max(0) + 1) / 2 + 1
    }
}

/// The sample to trust: the one with the shortest round trip (its midpoint guess is the
/// tightest), the first of equals.
pub fn best_sample(samples: &[Sample]) -> Option<Sample> {
    samples.iter().copied().min_by_key(|s| s.round_trip_ms)
}

/// Measures this node's offset to the database's clock once and applies it (a system clock),
/// or brings a manual clock level with the shared manual time (a manual clock).
pub async fn sync_once(clock: &Clock, store: &dyn Store) -> Result<(), StoreError> {
    match clock {
        Clock::System(c) => {
            let mut samples = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let sent_ms = c.raw_ms();
                let started = std::time::Instant::now();
                let database_ms = store.database_time_ms().await?;
                let round_trip_ms =
                    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
                samples.push(Sample {
                    sent_ms,
                    round_trip_ms,
                    database_ms,
                });
            }
            let Some(best) = best_sample(&samples) else {
                return Ok(());
            };
            let offset_ms = best.offset_ms();
            let before = c.offset_ms.swap(offset_ms, Ordering::Relaxed);
            if offset_ms.abs() > WARN_OFFSET_MS {
                tracing::warn!(
                    offset_ms,
                    uncertainty_ms = best.uncertainty_ms(),
                    "this node's clock is more than 5 s off the database's; roost corrects it, but fix the machine's time synchronisation"
                );
            } else if (offset_ms - before).abs() > best.uncertainty_ms() {
                tracing::debug!(
                    offset_ms,
                    uncertainty_ms = best.uncertainty_ms(),
                    "clock offset to the database measured"
                );
            }
            Ok(())
        }
        Clock::Manual(t) => {
            let local = t.load(Ordering::SeqCst);
            let shared = match store.manual_clock().await? {
                // A node started later, or moved while the store was away, is ahead: the
                // others catch up with it, never the reverse.
                Some(shared) if shared >= local => shared,
                _ => store.raise_manual_clock(local, 0).await?,
            };
            t.fetch_max(shared, Ordering::SeqCst);
            Ok(())
        }
    }
}

/// Keeps `clock` in step with the store: the offset of a system clock every
/// [`OFFSET_SYNC_EVERY`], the shared time of a manual clock every [`MANUAL_SYNC_EVERY`]. A
/// failed measurement keeps the last offset and is retried within a second.
pub fn spawn_sync(clock: Clock, store: std::sync::Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
    let every = match clock {
        Clock::System(_) => OFFSET_SYNC_EVERY,
        Clock::Manual(_) => MANUAL_SYNC_EVERY,
    };
    tokio::spawn(async move {
        loop {
            let wait = match sync_once(&clock, store.as_ref()).await {
                Ok(()) => every,
                Err(e) => {
                    tracing::debug!(error = %e, "clock sync with the store failed; will retry");
                    every.min(Duration::from_secs(1))
                }
            };
            tokio::time::sleep(wait).await;
        }
    })
}

/// A move of the manual clock asked for through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMove {
    /// To this time (Unix milliseconds).
    To(i64),
    /// Forward by this many milliseconds.
    By(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves a manual clock for every manual-clock node on the store: the shared time is moved in
/// the store first (in one statement, so two nodes' moves cannot undo each other), then this
/// node's clock follows it at once and the others within [`MANUAL_SYNC_EVERY`]. A refused move
/// changes nothing, here or in the store.
pub async fn move_shared(clock: &Clock, store: &dyn Store, m: ClockMove) -> Result<i64, MoveError> {
    let Clock::Manual(t) = clock else {
        return Err(ClockError::NotManual.into());
    };
    let local = t.load(Ordering::SeqCst);
    let too_far = ClockError::TooFar {
        max_ms: MAX_MANUAL_MS,
    };
    let moved = match m {
        ClockMove::To(ms) if ms > MAX_MANUAL_MS => return Err(too_far.into()),
        ClockMove::By(ms) if local.checked_add(ms).is_none_or(|t| t > MAX_MANUAL_MS) => {
            return Err(too_far.into());
        }
        ClockMove::To(ms) => {
            if ms < local {
                return Err(ClockError::Backwards {
                    now_ms: local,
                    requested_ms: ms,
                }
                .into());
            }
            let shared = store.raise_manual_clock(ms, 0).await?;
            if shared > ms {
                t.fetch_max(shared, Ordering::SeqCst);
                return Err(ClockError::Backwards {
                    now_ms: shared,
                    requested_ms: ms,
                }
                .into());
            }
            ms
        }
        ClockMove::By(ms) => {
            if ms < 0 {
                return Err(ClockError::Backwards {
                    now_ms: local,
                    requested_ms: local.saturating_add(ms),
                }
                .into());
            }
            // The stored time may be ahead of this node's; past the limit from there is
            // refused too (and left unchanged: the statement only runs below the limit).
            let shared = store.manual_clock().await?.unwrap_or(local).max(local);
            if shared.checked_add(ms).is_none_or(|t| t > MAX_MANUAL_MS) {
                return Err(too_far.into());
            }
            store.raise_manual_clock(local, ms).await?
        }
    };
    let before = t.fetch_max(moved, Ordering::SeqCst);
    Ok(before.max(moved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_forward_only() {
        let c = Clock::manual(1000);
        assert_eq!(c.set_ms(5000), Ok(5000));
        assert_eq!(c.set_ms(5000), Ok(5000), "standing still is allowed");
        assert_eq!(
            c.set_ms(4999),
            Err(ClockError::Backwards {
                now_ms: 5000,
                requested_ms: 4999
            })
        );
        assert_eq!(c.now_ms(), 5000);
        assert_eq!(c.try_advance_ms(2500), Ok(7500));
        assert!(c.try_advance_ms(-1).is_err());
        assert_eq!(c.now_ms(), 7500);
        assert_eq!(Clock::system().set_ms(0), Err(ClockError::NotManual));
        assert_eq!(
            Clock::system().try_advance_ms(1),
            Err(ClockError::NotManual)
        );
    }

    #[test]
    fn the_offset_is_taken_at_the_middle_of_the_round_trip() {
        // Sent at node time 1000, answered 40 ms later; the database read 21_020 at the middle
        // (node time 1020): the database is 20 s ahead.
        let s = Sample {
            sent_ms: 1000,
            round_trip_ms: 40,
            database_ms: 21_020,
        };
        assert_eq!(s.offset_ms(), 20_000);
        assert_eq!(s.uncertainty_ms(), 21);
        // A database behind the node gives a negative offset.
        let s = Sample {
            sent_ms: 50_000,
            round_trip_ms: 3,
            database_ms: 30_001,
        };
        assert_eq!(s.offset_ms(), -20_000);
        assert_eq!(s.uncertainty_ms(), 3);
        // Whatever the database read inside the round trip, the truth is within the bound.
        for read_at in [0, 20, 40] {
            let s = Sample {
                sent_ms: 1000,
                round_trip_ms: 40,
                database_ms: 1000 + read_at + 7_000,
            };
            assert!(
                (s.offset_ms() - 7_000).abs() <= s.uncertainty_ms(),
                "{read_at}"
            );
        }
        // No overflow at the edges.
        let s = Sample {
            sent_ms: i64::MAX,
            round_trip_ms: i64::MAX,
            database_ms: i64::MIN,
        };
        assert_eq!(s.offset_ms(), i64::MIN);
    }

    #[test]
    fn the_shortest_round_trip_is_trusted() {
        let s = |round_trip_ms, database_ms| Sample {
            sent_ms: 0,
            round_trip_ms,
            database_ms,
        };
        assert_eq!(best_sample(&[]), None);
        assert_eq!(
            best_sample(&[s(900, 1), s(4, 2), s(4, 3), s(30, 4)]),
            Some(s(4, 2))
        );
    }

    #[test]
    fn a_skewed_system_clock_is_corrected_by_its_offset() {
        let c = Clock::skewed_system(20_000);
        let Clock::System(inner) = &c else {
            unreachable!()
        };
        assert!((c.now_ms() - wall_ms() - 20_000).abs() < 1_000);
        inner.offset_ms.store(-20_000, Ordering::Relaxed);
        assert!((c.now_ms() - wall_ms()).abs() < 1_000);
        assert_eq!(c.offset_ms(), -20_000);
    }
}
