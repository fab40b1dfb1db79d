//! X API v2 query parameters: one pass over the query string that knows which parameters an
//! endpoint takes, collects every problem the way X reports them, and hands typed values to the
//! handler.
//!
//! X's rules (spec/x-api-v2.md §0.1, §E.2): list values are comma-separated in one parameter and
//! arrive percent-encoded (`ids=1%2C2`); a repeated parameter is an error; an unknown parameter
//! is an error that lists the ones the endpoint takes; every error is reported, not just the
//! first. Path parameters (`:id`) are reported with the same wording X uses, which calls them
//! query parameters too.

use std::collections::BTreeMap;

use axum::http::Uri;
use roost_domain::fields::{POST_FIELDS_2167, Selection, Vocabulary};
use roost_domain::{RequestedId, Snowflake};

use super::error::{ApiError, ParamProblem};
use crate::oauth::params::parse_form;

/// Names of X's later documents, accepted as the names clients send today.
const PARAM_ALIASES: &[(&str, &str)] = &[("post.fields", "tweet.fields")];

pub struct Params {
    /// The parameters given, by the names the endpoint knows them under. Few enough that a
    /// list beats a map.
    values: Vec<(String, String)>,
    /// The name a client used where it was an alias (`tweet.fields` sent as `post.fields`):
    /// problems with the value name the parameter the client sent.
    sent_as: Vec<(&'static str, &'static str)>,
    /// Parameters given more than once: already reported, so not reported again as missing.
    repeated: Vec<String>,
    problems: Vec<ParamProblem>,
}

impl Params {
    /// Reads the query of `uri`; `allowed` lists, in X's order, the parameters the endpoint takes.
    pub fn new(uri: &Uri, allowed: &[&str]) -> Self {
        let mut p = Params {
            values: Vec::new(),
            sent_as: Vec::new(),
            repeated: Vec::new(),
            problems: Vec::new(),
        };
        let pairs = match parse_form(uri.query().unwrap_or("").as_bytes()) {
            Ok(pairs) => pairs,
            Err(e) => {
                p.problems.push(ParamProblem::new(
                    BTreeMap::new(),
                    format!("The query string is malformed: {e}"),
                ));
                return p;
            }
        };
        let mut values: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        let mut clean = true;
        for (k, v) in pairs {
            // An alias is read as the parameter it names only where the endpoint takes that
            // parameter; elsewhere it is unknown, and reported under the name the client sent.
            let name = match PARAM_ALIASES.iter().find(|(a, _)| *a == k) {
                Some((alias, to)) if allowed.contains(to) => {
                    p.sent_as.push((to, alias));
                    (*to).to_owned()
                }
                _ => k,
            };
            clean &= allowed.contains(&name.as_str()) && !values.iter().any(|(n, _)| *n == name);
            values.push((name, v));
        }
        if clean {
            p.values = values;
            return p;
        }
        // Unknown or repeated parameters: every one is reported, in name order, with all its
        // values, as X does.
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, v) in values {
            seen.entry(name).or_default().push(v);
        }
        for (name, vals) in seen {
            if !allowed.contains(&name.as_str()) {
                let message = format!(
                    "The query parameter [{name}] is not one of [{}]",
                    allowed.join(",")
                );
                p.problems.push(ParamProblem::one(&name, vals, message));
            } else if vals.len() > 1 {
                // One parameter under two names is reported under the endpoint's name for it;
                // an alias sent every time, under the alias.
                let aliased: Vec<&str> = p
                    .sent_as
                    .iter()
                    .filter(|(to, _)| *to == name)
                    .map(|(_, alias)| *alias)
                    .collect();
                let shown = match aliased.first() {
                    Some(alias) if aliased.len() == vals.len() => alias,
                    _ => name.as_str(),
                };
                let message =
                    format!("Duplicate parameters are not allowed: the `{shown}` query parameter");
                p.problems.push(ParamProblem::one(shown, vals, message));
                p.repeated.push(name);
            } else if let Some(v) = vals.into_iter().next() {
                p.values.push((name, v));
            }
        }
        p
    }

    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Takes a parameter's value out (each is read once).
    fn take(&mut self, name: &str) -> Option<String> {
        let at = self.values.iter().position(|(n, _)| n == name)?;
        Some(self.values.swap_remove(at).1)
    }

    fn problem(&mut self, name: &str, value: &str, message: String) {
        self.problems
            .push(ParamProblem::one(name, vec![value.to_owned()], message));
    }

    /// A path parameter (`:id`, `:username`), `valid` or not. X treats it as one more query
    /// parameter: the same name in the query string too is a duplicate, and each problem lists
    /// every value, the path's first (abraham/twitteroauth#1028, `/2/tweets/:id?id=...`).
    /// Returns whether the value can be used.
    pub fn path(
        &mut self,
        name: &str,
        value: &str,
        valid: bool,
        invalid: impl FnOnce() -> String,
    ) -> bool {
        let query = self.take(name);
        if valid && query.is_none() {
            return true;
        }
        let mut values = vec![value.to_owned()];
        values.extend(query.iter().cloned());
        if !valid {
            self.problems
                .push(ParamProblem::one(name, values.clone(), invalid()));
        }
        if query.is_some() {
            let message =
                format!("Duplicate parameters are not allowed: the `{name}` query parameter");
            self.problems.push(ParamProblem::one(name, values, message));
        }
        valid && query.is_none()
    }

    /// A path id (`:id`).
    pub fn path_id(&mut self, name: &str, value: &str) -> Option<RequestedId> {
        let id = RequestedId::parse(value).ok();
        let usable = self.path(name, value, id.is_some(), || {
            format!("The `{name}` query parameter value [{value}] is not valid")
        });
        id.filter(|_| usable)
    }

    /// An optional id bound (`since_id`, `until_id`).
    pub fn opt_id(&mut self, name: &str) -> Option<Snowflake> {
        let v = self.raw(name)?.to_owned();
        match RequestedId::parse(&v) {
            Ok(id) => Some(id.bound()),
            Err(_) => {
                self.problem(
                    name,
                    &v,
                    format!("The `{name}` query parameter value [{v}] is not valid"),
                );
                None
            }
        }
    }

    /// A required comma list of 1 to `max` values, each checked by `parse`.
    pub fn list<T>(&mut self, name: &str, max: usize, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
        // X's words, without the backticks its other messages have (PipedreamHQ/pipedream#10108).
        let empty = || format!("The {name} query parameter can not be empty");
        let Some(raw) = self.take(name) else {
            if !self.repeated.iter().any(|r| r == name) {
                self.problems.push(ParamProblem::one(name, vec![], empty()));
            }
            return Vec::new();
        };
        let count = raw.split(',').filter(|s| !s.is_empty()).count();
        if count == 0 {
            self.problems.push(ParamProblem::one(name, vec![], empty()));
            return Vec::new();
        }
        if count > max {
            let message = format!(
                "The number of values in the `{name}` query parameter list [{count}] is not between 1 and {max}"
            );
            self.problems
                .push(ParamProblem::one(name, vec![raw], message));
            return Vec::new();
        }
        let mut out = Vec::with_capacity(count);
        for item in raw.split(',').filter(|s| !s.is_empty()) {
            match parse(item) {
                Some(v) => out.push(v),
                None => self.problem(
                    name,
                    item,
                    format!("The `{name}` query parameter value [{item}] is not valid"),
                ),
            }
        }
        out
    }

    /// A field or expansion selection.
    pub fn select<V: Vocabulary>(&mut self, name: &str) -> Selection<V> {
        let Some(raw) = self.raw(name) else {
            return Selection::default();
        };
        let sent = self
            .sent_as
            .iter()
            .find(|(to, _)| *to == name)
            .map_or(name, |(_, alias)| *alias);
        match Selection::parse(sent, raw) {
            Ok(s) => s,
            Err(mut e) => {
                // A client of the 2.167 document is told 2.167's names.
                if sent == "post.fields" {
                    POST_FIELDS_2167.clone_into(&mut e.allowed);
                }
                // X lists the parameter's whole value and names the bad items in the message
                // (redouane59/twittered#118).
                let problem = ParamProblem::one(sent, vec![raw.to_owned()], e.to_string());
                self.problems.push(problem);
                Selection::default()
            }
        }
    }

    /// An integer in `range`, or `default` when absent.
    pub fn int(&mut self, name: &str, range: std::ops::RangeInclusive<i64>, default: i64) -> i64 {
        let Some(raw) = self.take(name) else {
            return default;
        };
        match raw.parse::<i64>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                let message = format!(
                    "The `{name}` query parameter value [{raw}] is not between {} and {}",
                    range.start(),
                    range.end()
                );
                self.problem(name, &raw, message);
                default
            }
        }
    }

    /// One of a fixed set of words.
    pub fn word(&mut self, name: &str, allowed: &[&'static str]) -> Option<&'static str> {
        let raw = self.raw(name)?.to_owned();
        let found = allowed.iter().find(|a| **a == raw).copied();
        if found.is_none() {
            let message = format!(
                "The `{name}` query parameter value [{raw}] is not one of [{}]",
                allowed.join(",")
            );
            self.problem(name, &raw, message);
        }
        found
    }

    /// A comma list of words from a fixed set (`exclude=replies,retweets`).
    pub fn words(&mut self, name: &str, allowed: &[&'static str]) -> Vec<&'static str> {
        let Some(raw) = self.raw(name).map(str::to_owned) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in raw.split(',').filter(|s| !s.is_empty()) {
            match allowed.iter().find(|a| **a == item) {
                Some(a) => out.push(*a),
                None => {
                    let message = format!(
                        "The `{name}` query parameter value [{item}] is not one of [{}]",
                        allowed.join(",")
                    );
                    self.problem(name, item, message);
                }
            }
        }
        out
    }

    /// An RFC 3339 timestamp, as Unix milliseconds.
    pub fn time(&mut self, name: &str) -> Option<i64> {
        let raw = self.raw(name)?.to_owned();
        match time::OffsetDateTime::parse(&raw, &time::format_description::well_known::Rfc3339) {
            Ok(t) => i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok(),
            Err(_) => {
                let message = format!(
                    "The `{name}` query parameter value [{raw}] is not a valid RFC 3339 timestamp"
                );
                self.problem(name, &raw, message);
                None
            }
        }
    }

    /// `pagination_token`: a direction (`n` older, `p` newer) and a position, or `None`.
    pub fn pagination_token(&mut self) -> Option<(char, i64)> {
        let t = self.raw("pagination_token")?.to_owned();
        let decoded = super::tweets::decode_token(&t);
        if decoded.is_none() {
            let message =
                format!("The `pagination_token` query parameter value [{t}] is not valid");
            self.invalid("pagination_token", &t, message);
        }
        decoded
    }

    /// Records a problem found by the handler itself.
    pub fn invalid(&mut self, name: &str, value: &str, message: String) {
        self.problem(name, value, message);
    }

    /// Every problem found, as X's 400, or nothing.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidRequest(self.problems))
        }
    }
}
