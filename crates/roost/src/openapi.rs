//! `GET /2/openapi.json`: the OpenAPI 3.0 document of what roost serves, at the path where X
//! serves its own.
//!
//! The document is generated from X's own documents (2.159, with 2.167's names roost accepts)
//! and roost's route table by a test (tests/api/openapi_roost.rs), which fails when the
//! committed file differs from what it generates, and is embedded here. At startup the server
//! entry and the OAuth URLs are made absolute with the public URL, so the document names the
//! server it came from.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// The path, as X has it.
pub const PATH: &str = "/2/openapi.json";

/// The committed, generated document (relative OAuth URLs, a placeholder server).
pub const DOCUMENT: &str = include_str!("../openapi/openapi.json");

/// A client may keep the document five minutes, then revalidates it with the `ETag`: it only
/// changes when roost is upgraded or its public URL changes.
const CACHE_CONTROL: &str = "public, max-age=300";

/// The document as served by one server: serialized once, with its entity tag.
struct Served {
    body: Bytes,
    etag: HeaderValue,
}

/// The document for a server at `public_url` (no trailing slash).
pub fn document(public_url: &str) -> Result<Value, serde_json::Error> {
    let mut doc: Value = serde_json::from_str(DOCUMENT)?;
    if let Some(servers) = doc.get_mut("servers").and_then(Value::as_array_mut) {
        for s in servers {
            if let Some(url) = s.get_mut("url") {
                *url = Value::String(public_url.to_owned());
            }
        }
    }
    let schemes = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(Value::as_object_mut);
    for scheme in schemes.into_iter().flat_map(|m| m.values_mut()) {
        let flows = scheme.get_mut("flows").and_then(Value::as_object_mut);
        for flow in flows.into_iter().flat_map(|m| m.values_mut()) {
            for key in ["authorizationUrl", "tokenUrl", "refreshUrl"] {
                if let Some(Value::String(url)) = flow.get_mut(key)
                    && url.starts_with('/')
                {
                    *url = format!("{public_url}{url}");
                }
            }
        }
    }
    Ok(doc)
}

fn served(public_url: &str) -> Result<Served, serde_json::Error> {
    let body = serde_json::to_vec(&document(public_url)?)?;
    let digest = Sha256::digest(&body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let etag =
        HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"0\""));
    Ok(Served {
        body: Bytes::from(body),
        etag,
    })
}

/// Whether `If-None-Match` names the current entity tag (RFC 9110 §13.1.2: weak comparison).
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(tag) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

fn respond(doc: &Served, headers: &HeaderMap) -> Response {
    let mut resp = if not_modified(headers, &doc.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = doc.body.clone().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, doc.etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    resp
}

/// The route: public, like X's (no token needed to read what the API is).
pub fn router(state: &AppState) -> Router<AppState> {
    let doc = match served(&state.public_url) {
        Ok(d) => Some(Arc::new(d)),
        Err(e) => {
            // The embedded file is checked by the test suite; this is a broken build.
            tracing::error!(error = %e, "the embedded OpenAPI document is not valid JSON");
            None
        }
    };
    Router::new().route(
        PATH,
        get(move |headers: HeaderMap| {
            let doc = doc.clone();
            async move {
                match doc {
                    Some(d) => respond(&d, &headers),
                    None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_document_parses_and_names_the_server() {
        let doc = document("https://roost.example").unwrap_or_default();
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(doc["servers"][0]["url"], "https://roost.example");
        let flow =
            &doc["components"]["securitySchemes"]["OAuth2UserToken"]["flows"]["authorizationCode"];
        assert_eq!(
            flow["authorizationUrl"],
            "https://roost.example/i/oauth2/authorize"
        );
        assert_eq!(flow["tokenUrl"], "https://roost.example/2/oauth2/token");
    }

    #[test]
    fn if_none_match_is_compared_weakly_and_in_lists() {
        let tag = HeaderValue::from_static("\"abc\"");
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_static(v));
            h
        };
        assert!(not_modified(&with("\"abc\""), &tag));
        assert!(not_modified(&with("W/\"abc\""), &tag));
        assert!(not_modified(&with("\"x\", \"abc\""), &tag));
        assert!(not_modified(&with("*"), &tag));
        assert!(!not_modified(&with("\"abd\""), &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }
}
