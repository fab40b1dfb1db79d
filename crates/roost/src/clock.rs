//! The one time source. Everything time-dependent reads [`Clock::now_ms`], so tests and the
//! sandbox's manual clock (`--clock manual`) move time for codes, tokens, sessions, throttling,
//! rate-limit windows, cleanup, `created_at` and the time part of ids at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Clone, Debug)]
pub enum Clock {
    System,
    /// A clock that only moves when told to.
    Manual(Arc<AtomicI64>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the server runs on the system clock; start it with --clock manual to move time")]
    NotManual,
    /// Real time never goes back: expiries already passed would come back to life and windows
    /// and ids would be out of order with what clients have already seen.
    #[error("the clock only moves forward: {requested_ms} is before the current {now_ms}")]
    Backwards { now_ms: i64, requested_ms: i64 },
}

impl Clock {
    pub fn manual(start_ms: i64) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
            }
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
        assert_eq!(Clock::System.set_ms(0), Err(ClockError::NotManual));
        assert_eq!(Clock::System.try_advance_ms(1), Err(ClockError::NotManual));
    }
}
