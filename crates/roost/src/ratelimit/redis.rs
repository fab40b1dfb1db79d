//! Rate-limit windows on a Redis server (`rate_limits.redis_url`): exact across nodes.
//!
//! Each check is one Lua script, which Redis runs atomically: it reads every window of the
//! request (its start, length and count, in a hash), starts afresh a window that has ended,
//! and counts the request in all of them if each has room, in none otherwise, as the in-memory
//! limiter does. Times are the node's clock (the manual clock of a sandbox included), so a
//! window's start and end are what the node reports; Redis's own clock only expires the keys,
//! a minute after their window ends. Keys are `roost:rl:<namespace>:<scope>|<subject>`, the
//! namespace drawn once per database (a server key), so deployments sharing one Redis never
//! count together and every node of one deployment does.
//!
//! The connection manager connects lazily and reconnects after a failure; every call is
//! bounded by `rate_limits.redis_timeout_ms`, so a Redis that is down or unreachable costs a
//! request at most that long and answers it 503, never a hang.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Check, Decision, LimitError};

const CHECK: &str = r"
-- KEYS[i]: a window. ARGV[1]: now (Unix ms); ARGV[2i], ARGV[2i+1]: the window's limit and
-- length (ms); ARGV[2n+2]: how long after its end a window's key is kept (ms).
-- Returns {allowed, start_1, count_1, ..., start_n, count_n}, counts after this request.
local now = tonumber(ARGV[1])
local n = #KEYS
local keep = tonumber(ARGV[2 * n + 2])
local starts, counts = {}, {}
local allowed = 1
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local len = tonumber(ARGV[2 * i + 1])
  local w = redis.call('HMGET', KEYS[i], 's', 'l', 'c')
  local s, l, c = tonumber(w[1]), tonumber(w[2]), tonumber(w[3])
  -- A time a little before the start is in the window (see Window::holds).
  if s == nil or l ~= len or c == nil or now >= s + len or now < s - len then
    s, c = now, 0
    redis.call('HSET', KEYS[i], 's', s, 'l', len, 'c', 0)
    redis.call('PEXPIRE', KEYS[i], len + keep)
  end
  starts[i], counts[i] = s, c
  if c >= limit then allowed = 0 end
end
local out = {allowed}
for i = 1, n do
  if allowed == 1 then counts[i] = redis.call('HINCRBY', KEYS[i], 'c', 1) end
  out[2 * i] = starts[i]
  out[2 * i + 1] = counts[i]
end
return out
";

/// How long Redis keeps a window's key after the window ends: a margin for clocks that differ
/// between the nodes and Redis, and for a manual clock that stands still.
const KEEP_MS: i64 = 60_000;

pub struct RedisWindows {
    conn: ConnectionManager,
    /// `roost:rl:<namespace>:`
    prefix: String,
    timeout: Duration,
    script: redis::Script,
}

impl RedisWindows {
    /// A client of the Redis server at `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]` or
    /// `unix:///PATH`); nothing is connected until the first check. `namespace` separates
    /// deployments that share the server.
    pub fn new(url: &str, namespace: &str, timeout: Duration) -> Result<Self, LimitError> {
        // The URL may hold a password: no part of it goes into the message.
        let client = redis::Client::open(url).map_err(|e| {
            LimitError::Unavailable(format!("the Redis URL is not usable ({:?})", e.kind()))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // A request does not wait through a series of reconnection attempts; the manager
            // tries again on the next one.
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| LimitError::Unavailable(e.to_string()))?;
        Ok(Self {
            conn,
            prefix: format!("roost:rl:{namespace}:"),
            timeout,
            script: redis::Script::new(CHECK),
        })
    }

    fn key(&self, check: &Check) -> String {
        format!("{}{}", self.prefix, check.key.shared_name())
    }

    /// Runs `f` on a connection within the timeout.
    async fn bounded<T, F>(&self, f: impl FnOnce(ConnectionManager) -> F) -> Result<T, LimitError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, f(self.conn.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(LimitError::Unavailable(e.to_string())),
            Err(_) => Err(LimitError::Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    pub async fn check_all(
        &self,
        checks: &[Check],
        now_ms: i64,
    ) -> Result<Vec<Decision>, LimitError> {
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(now_ms);
        for c in checks {
            invocation.key(self.key(c)).arg(c.limit).arg(c.window_ms);
        }
        invocation.arg(KEEP_MS);
        let out: Vec<i64> = self
            .bounded(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        decisions(checks, &out)
    }

    /// Deletes every window of this deployment (after a reset of the store); returns how many.
    pub async fn clear(&self) -> Result<u64, LimitError> {
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .bounded(|mut conn| {
                    let pattern = pattern.clone();
                    async move {
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(pattern)
                            .arg("COUNT")
                            .arg(1000)
                            .query_async(&mut conn)
                            .await
                    }
                })
                .await?;
            if !keys.is_empty() {
                let n: u64 = self
                    .bounded(|mut conn| async move {
                        redis::cmd("UNLINK").arg(keys).query_async(&mut conn).await
                    })
                    .await?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}

/// The script's answer as decisions, in the order of `checks`.
fn decisions(checks: &[Check], out: &[i64]) -> Result<Vec<Decision>, LimitError> {
    let malformed = || LimitError::Unavailable("the rate-limit script answered malformed".into());
    let (&allowed, windows) = out.split_first().ok_or_else(malformed)?;
    if windows.len() != 2 * checks.len() {
        return Err(malformed());
    }
    let allowed = allowed == 1;
    Ok(checks
        .iter()
        .zip(windows.chunks_exact(2))
        .map(|(c, w)| {
            let count = u64::try_from(w[1]).unwrap_or(0);
            Decision {
                // Refused, nothing was counted: the windows without room are the refusing ones.
                allowed: allowed || count < c.limit,
                limit: c.limit,
                remaining: c.limit.saturating_sub(count),
                reset_ms: w[0] + c.window_ms,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::Key;

    fn check(subject: &str, limit: u64) -> Check {
        Check {
            key: Key {
                scope: "GET /2/users/me",
                subject: subject.to_owned(),
            },
            limit,
            window_ms: 1000,
        }
    }

    #[test]
    fn answers_become_decisions_with_the_refusing_window_marked() {
        let checks = [check("quarter", 10), check("second", 1)];
        let d = decisions(&checks, &[1, 0, 1, 5, 1]).unwrap();
        assert!(d.iter().all(|d| d.allowed));
        assert_eq!((d[0].remaining, d[1].remaining), (9, 0));
        assert_eq!((d[0].reset_ms, d[1].reset_ms), (1000, 1005));
        let d = decisions(&checks, &[0, 0, 1, 5, 1]).unwrap();
        assert_eq!((d[0].allowed, d[1].allowed), (true, false));
        assert_eq!((d[0].remaining, d[1].remaining), (9, 0));
        assert!(decisions(&checks, &[1, 0, 1]).is_err());
        assert!(decisions(&checks, &[]).is_err());
    }
}
