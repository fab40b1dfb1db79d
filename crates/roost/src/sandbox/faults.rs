//! Fault injection (test-only): rules that answer matching requests with X's 429, 503 or 500,
//! or hold them for a while before normal handling, so that a client's retry and back-off paths
//! can be tested. Rules come from `[[sandbox.faults]]` and are added, listed and cleared at run
//! time through [`Faults`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The longest delay a rule may ask for; the request timeout cuts most before this anyway.
pub const MAX_DELAY_MS: u64 = 600_000;

/// A glob over the request path (`/2/tweets*`, `/2/users/*/following`): `*` matches any run of
/// characters, `/` included; `?` one character; `[...]` a class.
#[derive(Debug, Clone)]
pub struct PathPattern {
    source: String,
    matcher: globset::GlobMatcher,
}

impl PathPattern {
    pub fn parse(s: &str) -> Result<Self, FaultRuleError> {
        if !s.starts_with('/') && !s.starts_with('*') {
            return Err(FaultRuleError::Path(format!(
                "`{s}` must start with `/` (or `*`)"
            )));
        }
        let glob = globset::GlobBuilder::new(s)
            .literal_separator(false)
            .build()
            .map_err(|e| FaultRuleError::Path(e.to_string()))?;
        Ok(Self {
            source: s.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }
}

impl PartialEq for PathPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// What a rule does to a request it fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// X's 429 with `x-rate-limit-*` headers of a spent window.
    RateLimit,
    /// X's 503.
    Unavailable,
    /// A 500.
    InternalError,
    /// Normal handling after this long.
    Delay(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultName {
    RateLimit,
    Unavailable,
    InternalError,
    Delay,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultRuleError {
    #[error("path: {0}")]
    Path(String),
    #[error("method: `{0}` is not an HTTP method")]
    Method(String),
    #[error("a `delay` rule needs `delay_ms` (1 to {MAX_DELAY_MS})")]
    DelayMissing,
    #[error("`delay_ms` is only for `delay` rules")]
    DelayUnexpected,
    #[error("probability must be greater than 0 and at most 1")]
    Probability,
    #[error("`seed` needs a `probability`")]
    SeedWithoutProbability,
    #[error("count must be at least 1")]
    Count,
}

/// A rule as written in the config file or sent to the admin API.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultRuleSpec {
    /// Glob over the request path, e.g. `/2/tweets*`.
    pub path: String,
    /// Only requests with this method (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only requests of this App: its bearer token's App, or the client id of HTTP Basic
    /// authentication on the OAuth endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Only requests with a user token of this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub fault: FaultName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Fire on at most this many matching requests, then never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Fire on each matching request with this probability, drawn from a generator seeded by
    /// `seed` (default 0): the same seed gives the same sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub spec: FaultRuleSpec,
    pub path: PathPattern,
    pub method: Option<axum::http::Method>,
    pub fault: Fault,
}

impl TryFrom<FaultRuleSpec> for FaultRule {
    type Error = FaultRuleError;

    fn try_from(mut spec: FaultRuleSpec) -> Result<Self, FaultRuleError> {
        let path = PathPattern::parse(&spec.path)?;
        let method = match &spec.method {
            None => None,
            Some(m) => {
                let upper = m.to_ascii_uppercase();
                let method = axum::http::Method::from_bytes(upper.as_bytes())
                    .map_err(|_| FaultRuleError::Method(m.clone()))?;
                spec.method = Some(upper);
                Some(method)
            }
        };
        let fault = match (spec.fault, spec.delay_ms) {
            (FaultName::Delay, Some(ms)) if (1..=MAX_DELAY_MS).contains(&ms) => {
                Fault::Delay(Duration::from_millis(ms))
            }
            (FaultName::Delay, _) => return Err(FaultRuleError::DelayMissing),
            (_, Some(_)) => return Err(FaultRuleError::DelayUnexpected),
            (FaultName::RateLimit, None) => Fault::RateLimit,
            (FaultName::Unavailable, None) => Fault::Unavailable,
            (FaultName::InternalError, None) => Fault::InternalError,
        };
        if let Some(p) = spec.probability
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(FaultRuleError::Probability);
        }
        if spec.seed.is_some() && spec.probability.is_none() {
            return Err(FaultRuleError::SeedWithoutProbability);
        }
        if spec.count == Some(0) {
            return Err(FaultRuleError::Count);
        }
        Ok(Self {
            spec,
            path,
            method,
            fault,
        })
    }
}

impl<'de> Deserialize<'de> for FaultRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        FaultRule::try_from(FaultRuleSpec::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Who a request is from, for rules that name an App or a user.
#[derive(Debug, Default, Clone)]
pub struct Identity {
    pub client_id: Option<String>,
    pub username: Option<String>,
}

struct Active {
    id: u64,
    rule: FaultRule,
    injected: u64,
    rng: Option<StdRng>,
}

/// A rule as listed: its id, what it was given, and how often it has fired.
#[derive(Debug, Clone, Serialize)]
pub struct FaultListing {
    pub id: u64,
    #[serde(flatten)]
    pub rule: FaultRuleSpec,
    pub injected: u64,
    /// Faults left before a `count` rule is spent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// The rules in force.
#[derive(Default)]
pub struct Faults {
    /// Whether there are rules at all: the one check a request pays when there are none.
    any: AtomicBool,
    rules: Mutex<Vec<Active>>,
    next_id: AtomicU64,
}

impl Faults {
    pub fn new(rules: &[FaultRule]) -> Self {
        let f = Self::default();
        for r in rules {
            f.add(r.clone());
        }
        f
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Active>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Relaxed)
    }

    /// Adds a rule after the others (the first rule that fires on a request wins).
    pub fn add(&self, rule: FaultRule) -> FaultListing {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let rng = rule
            .spec
            .probability
            .map(|_| StdRng::seed_from_u64(rule.spec.seed.unwrap_or(0)));
        let active = Active {
            id,
            rule,
            injected: 0,
            rng,
        };
        let listing = listing(&active);
        let mut rules = self.lock();
        rules.push(active);
        self.any.store(true, Ordering::Relaxed);
        listing
    }

    pub fn list(&self) -> Vec<FaultListing> {
        self.lock().iter().map(listing).collect()
    }

    /// Removes every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut rules = self.lock();
        self.any.store(false, Ordering::Relaxed);
        std::mem::take(&mut *rules).len()
    }

    /// Removes one rule; whether it was there.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|a| a.id != id);
        self.any.store(!rules.is_empty(), Ordering::Relaxed);
        rules.len() != before
    }

    /// Whether some rule matching the path and method needs to know who is calling.
    pub fn needs_identity(&self, method: &axum::http::Method, path: &str) -> bool {
        self.lock().iter().any(|a| {
            (a.rule.spec.client_id.is_some() || a.rule.spec.username.is_some())
                && matches_request(&a.rule, method, path)
        })
    }

    /// The fault for this request, if a rule fires. Every matching rule with a probability
    /// draws once per matching request, in rule order, until one fires, so a rule's sequence
    /// depends only on its seed and the requests it matched.
    pub fn decide(&self, method: &axum::http::Method, path: &str, who: &Identity) -> Option<Fault> {
        let mut rules = self.lock();
        for a in rules.iter_mut() {
            let r = &a.rule;
            if !matches_request(r, method, path)
                || r.spec
                    .client_id
                    .as_ref()
                    .is_some_and(|c| who.client_id.as_ref() != Some(c))
                || r.spec.username.as_ref().is_some_and(|u| {
                    !who.username
                        .as_ref()
                        .is_some_and(|w| w.eq_ignore_ascii_case(u))
                })
            {
                continue;
            }
            if r.spec.count.is_some_and(|n| a.injected >= n) {
                continue;
            }
            let fires = match (&mut a.rng, r.spec.probability) {
                (Some(rng), Some(p)) => rng.gen_bool(p),
                _ => true,
            };
            if fires {
                a.injected += 1;
                return Some(r.fault);
            }
        }
        None
    }
}

fn matches_request(r: &FaultRule, method: &axum::http::Method, path: &str) -> bool {
    r.method.as_ref().is_none_or(|m| m == method) && r.path.matches(path)
}

fn listing(a: &Active) -> FaultListing {
    FaultListing {
        id: a.id,
        rule: a.rule.spec.clone(),
        injected: a.injected,
        remaining: a.rule.spec.count.map(|n| n.saturating_sub(a.injected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn rule(toml_text: &str) -> Result<FaultRule, String> {
        toml::from_str::<FaultRule>(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn rules_are_checked_when_parsed() {
        assert!(rule("path = \"/2/tweets*\"\nfault = \"rate_limit\"").is_ok());
        for bad in [
            "path = \"2/tweets\"\nfault = \"rate_limit\"",
            "path = \"/2/[\"\nfault = \"rate_limit\"",
            "path = \"/2\"\nfault = \"delay\"",
            "path = \"/2\"\nfault = \"delay\"\ndelay_ms = 0",
            "path = \"/2\"\nfault = \"unavailable\"\ndelay_ms = 10",
            "path = \"/2\"\nfault = \"unavailable\"\nprobability = 1.5",
            "path = \"/2\"\nfault = \"unavailable\"\nprobability = 0.0",
            "path = \"/2\"\nfault = \"unavailable\"\nseed = 3",
            "path = \"/2\"\nfault = \"unavailable\"\ncount = 0",
            "path = \"/2\"\nfault = \"unavailable\"\nmethod = \"G T\"",
            "path = \"/2\"\nfault = \"teapot\"",
            "path = \"/2\"\nfault = \"unavailable\"\nstatus = 503",
        ] {
            assert!(rule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs_cross_slashes_and_methods_filter() {
        let f = Faults::new(&[rule(
            "path = \"/2/users/*/following\"\nmethod = \"post\"\nfault = \"internal_error\"",
        )
        .unwrap()]);
        let who = Identity::default();
        assert_eq!(
            f.decide(&Method::POST, "/2/users/12/following", &who),
            Some(Fault::InternalError)
        );
        assert_eq!(f.decide(&Method::GET, "/2/users/12/following", &who), None);
        assert_eq!(f.decide(&Method::POST, "/2/users/12/followers", &who), None);
        assert_eq!(f.list()[0].rule.method.as_deref(), Some("POST"));
    }

    #[test]
    fn count_rules_are_spent_and_probability_follows_the_seed() {
        let who = Identity::default();
        let f =
            Faults::new(&[rule("path = \"/2/*\"\nfault = \"unavailable\"\ncount = 2").unwrap()]);
        let got: Vec<_> = (0..4)
            .map(|_| f.decide(&Method::GET, "/2/x", &who).is_some())
            .collect();
        assert_eq!(got, [true, true, false, false]);
        assert_eq!(f.list()[0].remaining, Some(0));
        let seq = |seed: u64| {
            let f = Faults::new(&[rule(&format!(
                "path = \"/2/*\"\nfault = \"unavailable\"\nprobability = 0.5\nseed = {seed}"
            ))
            .unwrap()]);
            (0..64)
                .map(|_| f.decide(&Method::GET, "/2/x", &who).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(seq(7), seq(7));
        assert_ne!(seq(7), seq(8));
        assert!(f.clear() == 1 && f.is_empty());
    }
}
