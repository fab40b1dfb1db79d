//! One view of the parameters of a token, revoke or app-only request.
//!
//! Real clients send these parameters as a form body, a JSON body (twitter-api-v2), or in the
//! query string with an empty body (some SDKs), and client credentials in Basic, the body, or
//! both (client-quirks rules 1-3). [`OAuthParams`] merges all of it, refusing a parameter given
//! twice with different values, and leaves the decision about credentials to `client_auth`.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use roost_domain::client::{BasicCredentials, BasicError, form_decode};

/// At most this many parameters in one request (checklist H3).
const MAX_PARAMS: usize = 64;

/// Parameters that must never travel in a URL (checklist C10).
const NEVER_IN_QUERY: &[&str] = &["client_secret", "refresh_token", "password"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("the parameter `{0}` was given more than once with different values")]
    Conflict(String),
    #[error("the request is malformed: {0}")]
    Malformed(String),
    #[error("the body must be application/x-www-form-urlencoded or application/json")]
    UnsupportedContentType,
    #[error("the parameter `{0}` is longer than {1} characters")]
    TooLong(String, usize),
    #[error("the request has more than {MAX_PARAMS} parameters")]
    TooMany,
    #[error("`{0}` must not be sent in the URL; send it in the body")]
    SecretInQuery(String),
    #[error("the request body is too large")]
    BodyTooLarge,
}

/// The longest value roost accepts for each parameter (checklist H3).
fn max_len(name: &str) -> usize {
    match name {
        "client_id" | "code_challenge" => 128,
        "state" => 500,
        "code_verifier" => 256,
        "scope" => 1024,
        "redirect_uri" => 2048,
        "grant_type" | "token_type_hint" | "response_type" | "code_challenge_method" => 64,
        _ => 512,
    }
}

#[derive(Debug, Default)]
pub struct OAuthParams {
    values: BTreeMap<String, String>,
    /// The header's Basic credentials, or why they could not be read.
    pub basic: Option<Result<BasicCredentials, BasicError>>,
}

impl OAuthParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        authorization: Option<Result<&str, ()>>,
    ) -> Result<Self, ParamError> {
        let mut out = OAuthParams::default();
        let mut seen_query = BTreeSet::new();
        if let Some(q) = query {
            for (k, v) in parse_form(q.as_bytes())? {
                if NEVER_IN_QUERY.contains(&k.as_str()) {
                    return Err(ParamError::SecretInQuery(k));
                }
                seen_query.insert(k.clone());
                out.insert(k, v)?;
            }
        }
        if !body.is_empty() {
            let essence = content_type
                .map(|ct| {
                    ct.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .unwrap_or_default();
            let pairs = match essence.as_str() {
                "application/x-www-form-urlencoded" => parse_form(body)?,
                "application/json" => parse_json(body)?,
                _ => return Err(ParamError::UnsupportedContentType),
            };
            for (k, v) in pairs {
                out.insert(k, v)?;
            }
        }
        out.basic = match authorization {
            None => None,
            Some(Err(())) => Some(Err(BasicError::NotBasic)),
            Some(Ok(h)) => Some(BasicCredentials::parse(h)),
        };
        Ok(out)
    }

    fn insert(&mut self, k: String, v: String) -> Result<(), ParamError> {
        let limit = max_len(&k);
        if v.chars().count() > limit {
            return Err(ParamError::TooLong(k, limit));
        }
        // Empty means absent (checklist H5).
        if v.is_empty() {
            return Ok(());
        }
        match self.values.get(&k) {
            Some(existing) if *existing != v => Err(ParamError::Conflict(k)),
            Some(_) => Ok(()),
            None => {
                if self.values.len() >= MAX_PARAMS {
                    return Err(ParamError::TooMany);
                }
                self.values.insert(k, v);
                Ok(())
            }
        }
    }
}

/// Strict `application/x-www-form-urlencoded` parsing: a broken `%` escape or invalid UTF-8 is
/// an error, not silently kept.
pub fn parse_form(input: &[u8]) -> Result<Vec<(String, String)>, ParamError> {
    let text = std::str::from_utf8(input).map_err(|_| ParamError::Malformed("not UTF-8".into()))?;
    let mut out = Vec::new();
    for part in text.split('&').filter(|p| !p.is_empty()) {
        if out.len() > MAX_PARAMS {
            return Err(ParamError::TooMany);
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = form_decode(k).map_err(|e| {
            ParamError::Malformed(e.to_string().replace("Basic credentials", "parameters"))
        })?;
        let v = form_decode(v).map_err(|_| {
            ParamError::Malformed(format!(
                "the value of `{}` has a broken percent-escape or is not UTF-8",
                truncate(&k)
            ))
        })?;
        if k.contains('\0') || v.contains('\0') {
            return Err(ParamError::Malformed(
                "parameters must not contain NUL".into(),
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn parse_json(body: &[u8]) -> Result<Vec<(String, String)>, ParamError> {
    let Members(members) = serde_json::from_slice(body).map_err(|e| {
        ParamError::Malformed(
            if e.classify() == serde_json::error::Category::Data {
                "the JSON body must be an object"
            } else {
                "the body is not valid JSON"
            }
            .into(),
        )
    })?;
    if members.len() > MAX_PARAMS {
        return Err(ParamError::TooMany);
    }
    let mut out = Vec::with_capacity(members.len());
    for (k, v) in members {
        let v = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => {
                return Err(ParamError::Malformed(format!(
                    "`{}` must be a string",
                    truncate(&k)
                )));
            }
        };
        // As in form bodies: a NUL (`\u0000`) has no place in any parameter.
        if k.contains('\0') || v.contains('\0') {
            return Err(ParamError::Malformed(
                "parameters must not contain NUL".into(),
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// The members of a JSON object in document order, repeated names included: serde_json's own
/// map keeps only the last of a repeated name, which would let `{"scope":"a","scope":"b"}`
/// through as `b` instead of being refused as a conflict (checklist H4).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Extracts [`OAuthParams`]; the rejection is the `ParamError`, so each endpoint renders it in
/// its own dialect (take `Result<OAuthParams, ParamError>`).
impl<S: Send + Sync> FromRequest<S> for OAuthParams {
    type Rejection = ParamError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let headers = &parts.headers;
        let mut auth = headers.get_all(AUTHORIZATION).iter();
        let authorization = match (auth.next(), auth.next()) {
            (None, _) => None,
            (Some(_), Some(_)) => {
                return Err(ParamError::Malformed(
                    "more than one Authorization header".into(),
                ));
            }
            (Some(v), None) => Some(v.to_str().map(str::to_owned).map_err(|_| ())),
        };
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query = parts.uri.query().map(str::to_owned);
        let req = Request::from_parts(parts, body);
        // Only a body over the limit is "too large"; one that cannot be read (a broken chunked
        // encoding, a dropped connection) is malformed.
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ParamError::BodyTooLarge
            } else {
                ParamError::Malformed("the request body could not be read".into())
            }
        })?;
        let authorization = authorization
            .as_ref()
            .map(|a| a.as_ref().map(String::as_str).map_err(|_| ()));
        OAuthParams::parse(
            query.as_deref(),
            content_type.as_deref(),
            &body,
            authorization,
        )
    }
}

/// Only used when a handler takes `OAuthParams` directly; roost's handlers take
/// `Result<OAuthParams, ParamError>` and render the error in their own dialect.
impl axum::response::IntoResponse for ParamError {
    fn into_response(self) -> axum::response::Response {
        super::error::TokenError::from(self).render(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: Option<&str>, ct: Option<&str>, body: &str) -> Result<OAuthParams, ParamError> {
        OAuthParams::parse(q, ct, body.as_bytes(), None)
    }

    #[test]
    fn form_json_and_query_merge() {
        let x = p(
            Some("grant_type=authorization_code&code=c"),
            Some("application/x-www-form-urlencoded;charset=UTF-8"),
            "client_id=a&code=c",
        )
        .unwrap();
        assert_eq!(x.get("grant_type"), Some("authorization_code"));
        assert_eq!(x.get("client_id"), Some("a"));
        let j = p(
            None,
            Some("application/json;charset=UTF-8"),
            r#"{"grant_type":"refresh_token","refresh_token":"r","client_id":"a","n":1,"z":null}"#,
        )
        .unwrap();
        assert_eq!(j.get("refresh_token"), Some("r"));
        assert_eq!(j.get("n"), Some("1"));
        assert_eq!(j.get("z"), None);
        // Query string with an empty body and a form content type (some SDKs).
        let q = p(
            Some("code=c&grant_type=authorization_code"),
            Some("application/x-www-form-urlencoded"),
            "",
        )
        .unwrap();
        assert_eq!(q.get("code"), Some("c"));
    }

    #[test]
    fn conflicting_repeats_are_refused() {
        assert_eq!(
            p(
                None,
                Some("application/x-www-form-urlencoded"),
                "scope=a&scope=b"
            )
            .unwrap_err(),
            ParamError::Conflict("scope".into())
        );
        assert!(
            p(
                None,
                Some("application/x-www-form-urlencoded"),
                "scope=a&scope=a"
            )
            .is_ok()
        );
        assert_eq!(
            p(
                Some("code=a"),
                Some("application/x-www-form-urlencoded"),
                "code=b"
            )
            .unwrap_err(),
            ParamError::Conflict("code".into())
        );
    }

    #[test]
    fn secrets_in_the_url_are_refused() {
        for k in ["client_secret", "refresh_token", "password"] {
            assert_eq!(
                p(Some(&format!("{k}=x")), None, "").unwrap_err(),
                ParamError::SecretInQuery(k.into())
            );
        }
    }

    #[test]
    fn malformed_inputs() {
        let form = Some("application/x-www-form-urlencoded");
        assert!(matches!(
            p(None, form, "code=%zz"),
            Err(ParamError::Malformed(_))
        ));
        assert!(matches!(
            p(None, form, "code=%C3"),
            Err(ParamError::Malformed(_))
        ));
        assert!(matches!(
            p(None, form, "code=a%00"),
            Err(ParamError::Malformed(_))
        ));
        assert!(matches!(
            p(None, Some("application/json"), "{"),
            Err(ParamError::Malformed(_))
        ));
        assert!(matches!(
            p(None, Some("application/json"), "[1]"),
            Err(ParamError::Malformed(_))
        ));
        assert!(matches!(
            p(None, Some("application/json"), r#"{"code":{"a":1}}"#),
            Err(ParamError::Malformed(_))
        ));
        assert!(matches!(
            p(None, Some("application/json"), r#"{"code":"a\u0000"}"#),
            Err(ParamError::Malformed(_))
        ));
        assert_eq!(
            p(None, Some("application/json"), r#"{"code":"a","code":"b"}"#).unwrap_err(),
            ParamError::Conflict("code".into())
        );
        assert!(p(None, Some("application/json"), r#"{"code":"a","code":"a"}"#).is_ok());
        assert_eq!(
            p(None, Some("multipart/form-data"), "x").unwrap_err(),
            ParamError::UnsupportedContentType
        );
        assert_eq!(
            p(None, None, "code=a").unwrap_err(),
            ParamError::UnsupportedContentType
        );
        assert_eq!(
            p(None, form, &format!("state={}", "a".repeat(501))).unwrap_err(),
            ParamError::TooLong("state".into(), 500)
        );
        assert!(p(None, form, &format!("state={}", "a".repeat(500))).is_ok());
        let many: Vec<String> = (0..70).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            p(None, form, &many.join("&")).unwrap_err(),
            ParamError::TooMany
        );
    }

    #[test]
    fn empty_means_absent_and_plus_is_space() {
        let x = p(
            None,
            Some("application/x-www-form-urlencoded"),
            "state=&scope=tweet.read+users.read",
        )
        .unwrap();
        assert_eq!(x.get("state"), None);
        assert_eq!(x.get("scope"), Some("tweet.read users.read"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(q in ".{0,200}", body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = OAuthParams::parse(Some(&q), Some("application/x-www-form-urlencoded"), &body, Some(Ok(&q)));
            let _ = OAuthParams::parse(None, Some("application/json"), &body, None);
        }
    }
}
