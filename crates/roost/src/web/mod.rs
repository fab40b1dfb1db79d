//! The browser-facing pages: the authorize endpoint's login and consent.

pub mod authorize;
pub mod pages;
pub mod portal;
pub mod request;
pub mod session;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/i/oauth2/authorize",
            get(authorize::show).post(authorize::submit),
        )
        // X's OpenAPI document advertises this path too.
        .route(
            "/2/oauth2/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route(pages::CSS_PATH, get(pages::css))
        .merge(portal::router())
}

/// Cookie names; with an https public URL they take the `__Host-` prefix (checklist A21).
pub struct CookieNames {
    pub session: &'static str,
    pub browser: &'static str,
}

pub fn cookie_names(secure: bool) -> CookieNames {
    if secure {
        CookieNames {
            session: "__Host-roost_session",
            browser: "__Host-roost_browser",
        }
    } else {
        CookieNames {
            session: "roost_session",
            browser: "roost_browser",
        }
    }
}

/// The value of cookie `name`, if the request has exactly one.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(axum::http::header::COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    return None;
                }
                found = Some(v.to_owned());
            }
        }
    }
    found.filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`, `Secure` over https.
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Max-Age={max_age_secs}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

pub fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", 0, secure)
}
