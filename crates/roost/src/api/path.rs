//! Path parameters (`:id`, `:username`, ...) that never reject a request.
//!
//! axum's `Path` and `RawPathParams` answer a parameter whose percent-encoding does not decode to
//! UTF-8 (`/2/users/%FF`) with a `text/plain` 400 of their own, before the handler runs. X answers
//! every bad parameter with its invalid-request problem, naming the parameter, and the handlers
//! already check path values that way (`Params::path`); this extractor gets every request there.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;
use percent_encoding::percent_decode_str;

pub enum PathParams {
    /// What axum decoded: the usual case, shared rather than copied.
    Decoded(RawPathParams),
    /// A value axum could not decode, so each value was read from the request target itself.
    Lenient(Vec<(String, String)>),
}

impl PathParams {
    /// The value of `name`; empty when the route has no such parameter (which is invalid for
    /// every endpoint's rules, so it is answered as a bad value, never a 500).
    pub fn get(&self, name: &str) -> &str {
        let found = match self {
            PathParams::Decoded(raw) => raw.iter().find(|(k, _)| *k == name).map(|(_, v)| v),
            PathParams::Lenient(pairs) => pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
        };
        found.unwrap_or("")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await {
            return Ok(PathParams::Decoded(raw));
        }
        let template = parts
            .extensions
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        Ok(PathParams::Lenient(lenient(template, parts.uri.path())))
    }
}

/// The parameters of `template` (`/2/users/{id}`) in `path`, each percent-decoded where it
/// decodes to UTF-8 and kept as sent where it does not. The router matched `path` against
/// `template` segment by segment on the undecoded path, so the segments line up; they are
/// paired from the end because a nested router's `MatchedPath` has its prefix and the URI it
/// sees has not.
fn lenient(template: &str, path: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = template
        .rsplit('/')
        .zip(path.rsplit('/'))
        .filter_map(|(t, v)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            let value = match percent_decode_str(v).decode_utf8() {
                Ok(decoded) => decoded.into_owned(),
                Err(_) => v.to_owned(),
            };
            Some((name.to_owned(), value))
        })
        .collect();
    pairs.reverse();
    pairs
}

#[cfg(test)]
mod tests {
    use super::lenient;

    fn pairs(template: &str, path: &str) -> Vec<(String, String)> {
        lenient(template, path)
    }

    #[test]
    fn values_that_decode_are_decoded_and_the_others_kept_as_sent() {
        assert_eq!(
            pairs(
                "/2/users/{source_user_id}/following/{target_user_id}",
                "/2/users/%31%32/following/%FF%FE"
            ),
            [
                ("source_user_id".to_owned(), "12".to_owned()),
                ("target_user_id".to_owned(), "%FF%FE".to_owned()),
            ]
        );
        assert_eq!(
            pairs(
                "/2/users/by/username/{username}",
                "/2/users/by/username/caf%C3%A9"
            ),
            [("username".to_owned(), "café".to_owned())]
        );
        assert_eq!(
            pairs("/2/tweets/{id}", "/2/tweets/%C0"),
            [("id".to_owned(), "%C0".to_owned())]
        );
        assert!(pairs("", "/2/tweets/%C0").is_empty());
        // Under a nested router: the template has the prefix, the path does not.
        assert_eq!(
            pairs("/api/2/tweets/{id}", "/2/tweets/%C0"),
            [("id".to_owned(), "%C0".to_owned())]
        );
    }
}
