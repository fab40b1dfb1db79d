//! The request inspector: the last requests of each App, in memory, for `roost logs --app` and
//! the admin API. A record holds no secret: no token, code, password or `Authorization`, and the
//! values of query parameters that can carry one are replaced.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use roost_domain::{ScopeSet, Snowflake};
use serde::Serialize;

/// Query parameters whose values are never recorded.
const SECRET_PARAMS: &[&str] = &[
    "code",
    "code_verifier",
    "token",
    "access_token",
    "refresh_token",
    "client_secret",
    "password",
    "state",
    "oauth_token",
    "oauth_verifier",
];

/// Who an answered request was from, set on the response by the API gate.
#[derive(Debug, Clone, Copy)]
pub struct Attribution {
    pub app_id: Snowflake,
    pub user_id: Option<Snowflake>,
    /// The token's scopes (user tokens).
    pub scopes: Option<ScopeSet>,
    /// The rate-limit window the request was counted in (X's endpoint key).
    pub bucket: Option<&'static str>,
}

/// The scopes an endpoint required, set on a refusal for missing scopes.
#[derive(Debug, Clone, Copy)]
pub struct RequiredScopes(pub ScopeSet);

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRecord {
    /// When the request arrived, Unix milliseconds of the server's clock.
    pub at_ms: i64,
    #[serde(serialize_with = "method_str")]
    pub method: axum::http::Method,
    /// The path, and the query with secret parameters' values replaced by `[redacted]`.
    pub path: String,
    pub status: u16,
    pub latency_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Snowflake>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<ScopeSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scopes: Option<ScopeSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_bucket: Option<&'static str>,
    /// Set when a fault rule answered instead of roost.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub injected_fault: bool,
}

fn method_str<S: serde::Serializer>(m: &axum::http::Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

/// Sharded by App, so that requests of different Apps rarely wait on each other.
const SHARDS: usize = 16;

type Rings = HashMap<Snowflake, VecDeque<RequestRecord>>;

pub struct Inspector {
    per_app: usize,
    shards: Vec<Mutex<Rings>>,
}

impl Inspector {
    /// Keeps `per_app` requests per App; 0 keeps none.
    pub fn new(per_app: usize) -> Self {
        Self {
            per_app,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.per_app > 0
    }

    fn lock(&self, app_id: Snowflake) -> std::sync::MutexGuard<'_, Rings> {
        let i = usize::try_from(app_id.get().rem_euclid(SHARDS as i64)).unwrap_or(0);
        self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record(&self, app_id: Snowflake, r: RequestRecord) {
        if self.per_app == 0 {
            return;
        }
        let mut apps = self.lock(app_id);
        let ring = apps
            .entry(app_id)
            .or_insert_with(|| VecDeque::with_capacity(self.per_app.min(64)));
        if ring.len() >= self.per_app {
            ring.pop_front();
        }
        ring.push_back(r);
    }

    /// The App's requests, oldest first.
    pub fn requests(&self, app_id: Snowflake) -> Vec<RequestRecord> {
        self.lock(app_id)
            .get(&app_id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets an App's requests (it was deleted).
    pub fn forget(&self, app_id: Snowflake) {
        self.lock(app_id).remove(&app_id);
    }
}

/// `path?query` with the values of secret parameters replaced.
pub fn redacted_target(uri: &axum::http::Uri) -> String {
    let Some(q) = uri.query() else {
        return uri.path().to_owned();
    };
    let mut out = String::with_capacity(uri.path().len() + q.len() + 1);
    out.push_str(uri.path());
    out.push('?');
    for (i, pair) in q.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let (k, _) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        if SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            out.push_str(k);
            out.push_str("=[redacted]");
        } else {
            out.push_str(pair);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_query_values_are_replaced() {
        let uri: axum::http::Uri = "/2/x?ids=1,2&code=abc&%74oken=t&user.fields=id"
            .parse()
            .unwrap();
        assert_eq!(
            redacted_target(&uri),
            "/2/x?ids=1,2&code=[redacted]&%74oken=[redacted]&user.fields=id"
        );
        assert_eq!(
            redacted_target(&"/2/users/me".parse().unwrap()),
            "/2/users/me"
        );
    }

    #[test]
    fn keeps_the_last_n_per_app() {
        let i = Inspector::new(2);
        let rec = |s: u16| RequestRecord {
            at_ms: 0,
            method: axum::http::Method::GET,
            path: "/".into(),
            status: s,
            latency_us: 0,
            user_id: None,
            scopes: None,
            required_scopes: None,
            rate_limit_bucket: None,
            injected_fault: false,
        };
        let a = Snowflake::parse("1").unwrap();
        for s in [200, 201, 202] {
            i.record(a, rec(s));
        }
        let got: Vec<u16> = i.requests(a).iter().map(|r| r.status).collect();
        assert_eq!(got, [201, 202]);
        assert!(i.requests(Snowflake::parse("2").unwrap()).is_empty());
    }
}
