//! What every browser-facing page shares: the browser cookie and the anti-forgery token bound
//! to it, the signed-in session, form posts and signing in. The authorize flow, the developer
//! portal and the connected-apps page all use these, so a session, a CSRF check and the login
//! throttle mean the same thing on every page.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use roost_domain::{Secret, TokenHash, Username};
use roost_store::StoreError;

use super::{cookie_names, read_cookie, set_cookie};
use crate::accounts::PasswordCheck;
use crate::oauth::params::parse_form;
use crate::oauth::token::secs;
use crate::state::AppState;

/// The browser cookie, and a `Set-Cookie` if a new one had to be made.
pub(crate) fn browser_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let names = cookie_names(state.secure_cookies);
    match read_cookie(headers, names.browser) {
        Some(v) => (v, None),
        None => {
            let v = Secret::random().expose().to_owned();
            let c = set_cookie(
                names.browser,
                &v,
                state.config.session.ttl,
                state.secure_cookies,
            );
            (v, Some(c))
        }
    }
}

pub(crate) fn csrf_token(state: &AppState, browser: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(state.keys.sign_web("csrf", browser.as_bytes()))
}

/// Whether a form's anti-forgery token is the one of this browser (checklist A11), compared
/// in constant time (G5).
pub(crate) fn csrf_ok(state: &AppState, browser: &str, given: Option<&str>) -> bool {
    let expected = csrf_token(state, browser);
    roost_domain::constant_time_eq(expected.as_bytes(), given.unwrap_or("").as_bytes())
}

/// How often, at most, a session's idle end is moved forward: recording every use would make
/// every page view a write.
const SESSION_TOUCH_MS: i64 = 60_000;

/// The signed-in user, if the browser has a session that has ended neither by age nor by
/// idleness (checklist A22). Using it starts a new idle period. Sessions are read from the
/// store on every page, never cached, so a logout on one node is a logout on all. A store that
/// cannot say is an error, not "signed out": the page is a 503, not a login form.
pub(crate) async fn session_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<roost_store::UserRecord>, roost_store::StoreError> {
    let names = cookie_names(state.secure_cookies);
    let Some(cookie) = read_cookie(headers, names.session) else {
        return Ok(None);
    };
    let hash = TokenHash::of(&cookie);
    let now = state.now();
    let Some(session) = state.store.session(hash, now).await? else {
        return Ok(None);
    };
    let idle = secs(state.config.session.idle_ttl);
    // The last recorded use; a short idle_ttl is recorded often enough never to lapse in use.
    let since_touch = idle - (session.idle_expires_at - now);
    if since_touch >= SESSION_TOUCH_MS.min(idle / 2)
        && let Err(e) = state.store.touch_session(hash, now + idle).await
    {
        tracing::error!(error = %e, "could not record the use of a session");
    }
    state.store.user_by_id(session.user_id).await
}

pub(crate) fn with_cookies(mut resp: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Whether a form post comes from roost's own pages, judged by `Origin` and Fetch Metadata.
///
/// The pages are served with `Referrer-Policy: no-referrer`, under which browsers send
/// `Origin: null` even for same-origin form posts. So `null` is accepted only when the browser's
/// `Sec-Fetch-Site` (which page content cannot forge) says `same-origin`; sandboxed frames and
/// other opaque origins send `null` too, so without Fetch Metadata it is refused. Any real origin
/// must be roost's public origin.
pub(crate) fn same_origin_post(state: &AppState, headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if fetch_site.is_some_and(|s| s != b"same-origin" && s != b"none") {
        return false;
    }
    match headers.get(header::ORIGIN).map(|o| o.as_bytes()) {
        None => true,
        Some(b"null") => fetch_site == Some(b"same-origin"),
        Some(origin) => origin == state.public_origin.as_bytes(),
    }
}

/// A form post that passed the checks every form of roost's pages needs.
pub(crate) struct PostedForm {
    pub fields: BTreeMap<String, String>,
    /// The browser cookie the anti-forgery token was checked against.
    pub browser: String,
}

impl PostedForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Checks a form post: from roost's own pages (checklist A12), form-encoded, each field once,
/// from a browser with roost's cookie, carrying that browser's anti-forgery token (A11). The
/// error is the reason, for a 403 page.
pub(crate) fn read_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<PostedForm, &'static str> {
    let fields = read_fields(state, headers, body)?;
    let names = cookie_names(state.secure_cookies);
    let Some(browser) = read_cookie(headers, names.browser) else {
        return Err(
            "Your browser did not send roost's cookie; cookies must be enabled to sign in.",
        );
    };
    if !csrf_ok(
        state,
        &browser,
        fields.get("csrf_token").map(String::as_str),
    ) {
        return Err("The form's anti-forgery token is missing or wrong.");
    }
    Ok(PostedForm { fields, browser })
}

/// The fields of a same-origin, form-encoded post, before the anti-forgery check.
pub(crate) fn read_fields(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<BTreeMap<String, String>, &'static str> {
    // Cross-site posts are refused before anything else (checklist A12).
    if !same_origin_post(state, headers) {
        return Err("The form was posted from another site.");
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err("The form must be posted as application/x-www-form-urlencoded.");
    }
    let Ok(pairs) = parse_form(body) else {
        return Err("The form data is malformed.");
    };
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        if fields.get(&k).is_some_and(|old| *old != v) {
            return Err("A form field was sent twice with different values.");
        }
        fields.insert(k, v);
    }
    Ok(fields)
}

/// The values of a field that may repeat (`callback=...&callback=...`), in order.
pub(crate) fn repeated(body: &Bytes, name: &str) -> Vec<String> {
    parse_form(body)
        .map(|pairs| {
            pairs
                .into_iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v)
                .collect()
        })
        .unwrap_or_default()
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Why a sign-in did not succeed, for the login form that shows it.
pub(crate) enum SignInRefusal {
    /// Shown on the login form with this status; `retry_after` in seconds when it applies.
    Form {
        status: StatusCode,
        message: String,
        retry_after: Option<HeaderValue>,
    },
    /// The store failed: a 503 page, nothing counted against the person.
    Unavailable,
}

impl SignInRefusal {
    /// The answer: the login form `form` draws (with the status and message), with
    /// `Retry-After` when it applies, or the 503 page.
    pub fn respond(self, form: impl FnOnce(StatusCode, &str) -> Response) -> Response {
        match self {
            SignInRefusal::Unavailable => super::pages::unavailable_page(),
            SignInRefusal::Form {
                status,
                message,
                retry_after,
            } => {
                let mut resp = form(status, &message);
                if let Some(v) = retry_after {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                resp
            }
        }
    }
}

/// A successful sign-in: the two cookies to set (a new session, a new browser).
pub(crate) struct SignedIn {
    pub cookies: [String; 2],
}

/// Checks a username and password and starts a session.
///
/// Throttling is decided before any password hashing (checklist A19, K2); a failure is counted
/// before it is answered; a new session id and a new browser cookie are made at every sign-in,
/// and a session this browser already had ends (A22).
pub(crate) async fn sign_in(
    state: &AppState,
    client: IpAddr,
    headers: &HeaderMap,
    raw_username: &str,
    password: String,
) -> Result<SignedIn, SignInRefusal> {
    let now = state.now();
    let cfg = &state.config.login;
    let window_ms = secs(cfg.window);
    let window_start = now - now.rem_euclid(window_ms);
    let addr = client.to_string();
    let form = |status: StatusCode, message: &str| SignInRefusal::Form {
        status,
        message: message.to_owned(),
        retry_after: None,
    };
    let keys = [
        // Usernames are at most 15 characters; a longer value is cut so keys stay small.
        format!(
            "user:{}|addr:{addr}",
            truncate(&raw_username.to_ascii_lowercase(), 32)
        ),
        format!("addr:{addr}"),
    ];
    match state.store.login_failures(&keys, window_start).await {
        Ok(counts)
            if counts[0] >= cfg.max_failures_per_user
                || counts[1] >= cfg.max_failures_per_address =>
        {
            let retry = ((window_start + window_ms - now + 999) / 1000).max(1);
            tracing::warn!(%addr, "login throttled");
            return Err(SignInRefusal::Form {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "Too many failed sign-in attempts. Try again in {} minutes.",
                    (retry + 59) / 60
                ),
                retry_after: HeaderValue::from_str(&retry.to_string()).ok(),
            });
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "store error on login");
            return Err(SignInRefusal::Unavailable);
        }
    }
    let user = match Username::parse(raw_username) {
        Ok(u) => match state.store.user_by_username(&u).await {
            Ok(user) => user,
            // Not "wrong password": that would count a failure against the person.
            Err(e) => {
                tracing::error!(error = %e, "store error on login");
                return Err(SignInRefusal::Unavailable);
            }
        },
        Err(_) => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let Ok(check) = state.hasher.check(stored, password).await else {
        // Overload, not a failed attempt: nothing is counted against the person (checklist K2).
        tracing::warn!(%addr, "login refused: every password hashing slot stayed busy");
        return Err(SignInRefusal::Form {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "roost is busy signing other people in and could not check your password. Nothing was changed; try again in a moment.".to_owned(),
            retry_after: Some(HeaderValue::from(
                crate::oauth::error::RETRY_AFTER_UNAVAILABLE,
            )),
        });
    };
    let user = match (user, check) {
        (Some(user), PasswordCheck::Ok) => user,
        (Some(user), PasswordCheck::OkRehash(h)) => {
            if let Err(e) = state.store.set_password_hash(user.id, &h).await {
                tracing::error!(error = %e, "could not store an upgraded password hash");
            }
            user
        }
        _ => {
            // An uncounted failure would let guesses past the throttle while the store is down.
            if let Err(e) = state.store.record_login_failure(&keys, window_start).await {
                tracing::error!(error = %e, "could not record a failed login");
                return Err(SignInRefusal::Unavailable);
            }
            tracing::info!(%addr, "login failed");
            return Err(form(
                StatusCode::UNAUTHORIZED,
                "Wrong username or password.",
            ));
        }
    };
    let names = cookie_names(state.secure_cookies);
    if let Some(old) = read_cookie(headers, names.session)
        && let Err(e) = state.store.delete_session(TokenHash::of(&old)).await
    {
        tracing::error!(error = %e, "could not delete the previous session");
        return Err(SignInRefusal::Unavailable);
    }
    let session = Secret::random();
    if let Err(e) = state
        .store
        .create_session(
            session.hash(),
            user.id,
            now,
            now + secs(state.config.session.ttl),
            now + secs(state.config.session.idle_ttl),
        )
        .await
    {
        tracing::error!(error = %e, "could not create a session");
        return Err(SignInRefusal::Unavailable);
    }
    tracing::info!(user_id = %user.id, "login succeeded");
    let browser = Secret::random();
    let cookies = [
        set_cookie(
            names.session,
            session.expose(),
            state.config.session.ttl,
            state.secure_cookies,
        ),
        set_cookie(
            names.browser,
            browser.expose(),
            state.config.session.ttl,
            state.secure_cookies,
        ),
    ];
    Ok(SignedIn { cookies })
}

/// Ends this browser's session in the store (every node reads sessions from it, so the
/// session ends everywhere at once) and gives the cookie that clears it. A session the store
/// still holds would outlive the cleared cookie (a copy of it would still sign in), so a
/// sign-out the store did not record is an error.
pub(crate) async fn sign_out(state: &AppState, headers: &HeaderMap) -> Result<String, StoreError> {
    let names = cookie_names(state.secure_cookies);
    if let Some(cookie) = read_cookie(headers, names.session) {
        state.store.delete_session(TokenHash::of(&cookie)).await?;
    }
    Ok(super::clear_cookie(names.session, state.secure_cookies))
}
