//! `GET` and `POST /i/oauth2/authorize`.
//!
//! Validation is an ordered list of checks. The client and the `redirect_uri` come first: until
//! both are known good, every failure is an HTML page (400) and nothing is redirected to
//! (checklist A2). After that, failures go back to the client's callback with `error`,
//! `error_description` and `state` (A4). The person sees the exact reason either way, and so does
//! the log.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use roost_domain::{
    CodeChallenge, CodeChallengeMethod, RedirectUri, Scope, ScopeNames, ScopeSet, Secret,
    TokenHash, TokenKind, Username,
};
use roost_store::{AppRecord, NewCode};

use super::pages::{CSS_PATH, ConsentPage, LoginPage, error_page, html, unavailable_page};
use super::request::{PendingRequest, browser_binding};
use super::{clear_cookie, cookie_names, read_cookie, set_cookie};
use crate::accounts::PasswordCheck;
use crate::http::ClientAddr;
use crate::oauth::params::parse_form;
use crate::oauth::token::secs;
use crate::state::AppState;

/// X's limit on `state`, in characters (not bytes: a state of 500 `é` is 500 characters).
const MAX_STATE_LEN: usize = 500;

fn state_too_long(s: &str) -> bool {
    s.chars().count() > MAX_STATE_LEN
}

const PATH: &str = "/i/oauth2/authorize";

/// Why a request cannot be shown a login or consent page.
enum Refusal {
    /// Not redirectable: an HTML page.
    Page { detail: String },
    /// The store failed before the request could be judged: 503, not redirected.
    Unavailable,
    /// Redirected to the validated callback.
    Redirect {
        to: RedirectUri,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

impl Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unavailable => unavailable_page(),
            Refusal::Page { detail } => {
                tracing::info!(reason = %detail, "authorization request refused (not redirected)");
                error_page(
                    StatusCode::BAD_REQUEST,
                    "This authorization request is not valid",
                    &detail,
                    Some(
                        "This is a problem with the App that sent you here, not with your account. Nothing was shared.",
                    ),
                )
            }
            Refusal::Redirect {
                to,
                error,
                description,
                state,
            } => {
                tracing::info!(error, reason = %description, "authorization request refused (redirected)");
                let mut params = vec![
                    ("error", error),
                    ("error_description", description.as_str()),
                ];
                if let Some(s) = &state {
                    params.push(("state", s.as_str()));
                }
                redirect(&to.with_params(&params), StatusCode::FOUND)
            }
        }
    }
}

fn redirect(location: &str, status: StatusCode) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (status, [(header::LOCATION, v)]).into_response(),
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "Cannot redirect",
            "The callback URL is not valid.",
            None,
        ),
    }
}

/// The query as name → values, decoded strictly.
pub(crate) fn parse_query(uri: &Uri) -> Result<BTreeMap<String, Vec<String>>, String> {
    let pairs = parse_form(uri.query().unwrap_or("").as_bytes()).map_err(|e| e.to_string())?;
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        map.entry(k).or_default().push(v);
    }
    Ok(map)
}

/// One value of a parameter: `Ok(None)` when absent or empty, `Err` when given twice differently.
fn single<'a>(q: &'a BTreeMap<String, Vec<String>>, name: &str) -> Result<Option<&'a str>, String> {
    match q.get(name).map(Vec::as_slice) {
        None => Ok(None),
        Some([v]) => Ok(Some(v.as_str()).filter(|v| !v.is_empty())),
        Some(vs) if vs.iter().all(|v| *v == vs[0]) => {
            Ok(Some(vs[0].as_str()).filter(|v| !v.is_empty()))
        }
        Some(_) => Err(format!(
            "the parameter `{name}` was given more than once with different values"
        )),
    }
}

struct Validated {
    app: AppRecord,
    redirect: RedirectUri,
    scopes: ScopeNames,
    state: String,
    challenge: CodeChallenge,
}

async fn validate(state: &AppState, uri: &Uri) -> Result<Validated, Refusal> {
    let page = |detail: String| Refusal::Page { detail };
    let q = parse_query(uri)
        .map_err(|e| page(format!("The request's query string is malformed: {e}.")))?;
    let client_id = single(&q, "client_id")
        .map_err(page)?
        .ok_or_else(|| page("The request has no client_id.".into()))?;
    let app = match roost_domain::ClientId::parse(client_id) {
        Ok(id) => state
            .store
            .app_by_client_id(id.as_str())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "store error on authorize");
                Refusal::Unavailable
            })?,
        Err(_) => None,
    };
    let Some(app) = app else {
        return Err(page(format!(
            "No App has the client_id `{}`.",
            truncate(client_id, 128)
        )));
    };
    let sent = single(&q, "redirect_uri").map_err(page)?.ok_or_else(|| page(format!("The request has no redirect_uri; App `{}` must send one of its registered callback URLs.", app.name)))?;
    let Some(redirect) = app.callbacks.iter().find(|c| c.matches(sent)).cloned() else {
        let registered: Vec<&str> = app.callbacks.iter().map(RedirectUri::as_str).collect();
        tracing::info!(client_id = %app.client_id, sent = %truncate(sent, 2048), ?registered, "redirect_uri not registered");
        return Err(page(format!(
            "The redirect_uri `{}` is not among the callback URLs registered for App `{}`. Callback URLs must match exactly, character for character.",
            truncate(sent, 2048),
            app.name
        )));
    };
    // From here on, errors go back to the App.
    let state_param = single(&q, "state");
    let echo = state_param
        .as_ref()
        .ok()
        .copied()
        .flatten()
        .filter(|s| !state_too_long(s))
        .map(str::to_owned);
    let back = |error: &'static str, description: String| Refusal::Redirect {
        to: redirect.clone(),
        error,
        description,
        state: echo.clone(),
    };
    match single(&q, "response_type").map_err(|e| back("invalid_request", e))? {
        None => {
            return Err(back(
                "invalid_request",
                "response_type is missing; it must be `code`".into(),
            ));
        }
        Some("code") => {}
        Some(other) => {
            return Err(back(
                "unsupported_response_type",
                format!(
                    "response_type `{}` is not supported; only `code` is",
                    truncate(other, 64)
                ),
            ));
        }
    }
    // Only `query` is served and advertised (checklist I9); another mode would have the client
    // wait for a fragment or a form post that never comes, so it is refused, in the query.
    match single(&q, "response_mode").map_err(|e| back("invalid_request", e))? {
        None | Some("query") => {}
        Some(other) => {
            return Err(back(
                "invalid_request",
                format!(
                    "response_mode `{}` is not supported; roost returns the code in the query (response_mode=query)",
                    truncate(other, 64)
                ),
            ));
        }
    }
    let st = state_param
        .map_err(|e| back("invalid_request", e))?
        .ok_or_else(|| back("invalid_request", "state is missing; X requires it".into()))?;
    if state_too_long(st) {
        return Err(back(
            "invalid_request",
            format!("state is longer than {MAX_STATE_LEN} characters"),
        ));
    }
    let scope = single(&q, "scope").map_err(|e| back("invalid_request", e))?;
    let scopes = ScopeNames::parse(scope.unwrap_or(""))
        .map_err(|e| back("invalid_scope", format!("{e}; see the scopes X defines")))?;
    let challenge = single(&q, "code_challenge").map_err(|e| back("invalid_request", e))?;
    // An absent method means `plain` (RFC 7636 §4.3), but an empty one is not absent: it is an
    // unknown method (checklist A8). `single` folds empty into absent, so look again.
    let method = single(&q, "code_challenge_method")
        .map_err(|e| back("invalid_request", e))?
        .or_else(|| q.contains_key("code_challenge_method").then_some(""));
    let Some(challenge) = challenge else {
        return Err(back(
            "invalid_request",
            "PKCE is required: code_challenge is missing".into(),
        ));
    };
    let method = CodeChallengeMethod::parse(method, state.pkce_mode())
        .map_err(|e| back("invalid_request", e.to_string()))?;
    let challenge = CodeChallenge::parse(method, challenge, state.pkce_mode())
        .map_err(|e| back("invalid_request", e.to_string()))?;
    Ok(Validated {
        app,
        redirect,
        scopes,
        state: st.to_owned(),
        challenge,
    })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The browser cookie, and a `Set-Cookie` if a new one had to be made.
fn browser_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
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

fn csrf_token(state: &AppState, browser: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(state.keys.sign_web("csrf", browser.as_bytes()))
}

/// Whether a form's anti-forgery token is the one of this browser (checklist A11), compared
/// in constant time (G5).
fn csrf_ok(state: &AppState, browser: &str, given: Option<&str>) -> bool {
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
async fn session_user(
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

fn with_cookies(mut resp: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn authorize_url(state: &AppState, app: &AppRecord, req: &PendingRequest) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    ser.append_pair("response_type", "code")
        .append_pair("client_id", app.client_id.as_str())
        .append_pair("redirect_uri", &req.r)
        .append_pair("scope", &req.s.to_string())
        .append_pair("state", &req.st)
        .append_pair("code_challenge", &req.c)
        .append_pair("code_challenge_method", &req.m);
    state.url(&format!("{PATH}?{}", ser.finish()))
}

fn scope_lines(scopes: ScopeSet) -> Vec<(&'static str, &'static str)> {
    scopes
        .iter()
        .map(|s: Scope| (s.as_str(), s.description()))
        .collect()
}

fn host_of(uri: &str) -> String {
    url::Url::parse(uri)
        .ok()
        .map(|u| match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => u.scheme().to_owned(),
        })
        .unwrap_or_else(|| uri.to_owned())
}

struct PageCtx<'a> {
    state: &'a AppState,
    app: &'a AppRecord,
    req: &'a PendingRequest,
    browser: &'a str,
}

impl PageCtx<'_> {
    fn login(&self, status: StatusCode, username: &str, message: Option<&str>) -> Response {
        let action = self.state.url(PATH);
        let csrf = csrf_token(self.state, self.browser);
        let sealed = self.req.seal(&self.state.keys);
        html(
            status,
            &LoginPage {
                css_href: CSS_PATH,
                action: &action,
                app_name: &self.app.name,
                project_name: &self.app.project_name,
                csrf_token: &csrf,
                request: &sealed,
                username,
                message,
            },
        )
    }

    fn consent(&self, user: &roost_store::UserRecord) -> Response {
        let action = self.state.url(PATH);
        let csrf = csrf_token(self.state, self.browser);
        let sealed = self.req.seal(&self.state.keys);
        let host = host_of(&self.req.r);
        html(
            StatusCode::OK,
            &ConsentPage {
                css_href: CSS_PATH,
                action: &action,
                app_name: &self.app.name,
                project_name: &self.app.project_name,
                user_name: &user.name,
                username: user.username.as_str(),
                scopes: scope_lines(self.req.s.set()),
                redirect_host: &host,
                csrf_token: &csrf,
                request: &sealed,
            },
        )
    }
}

pub async fn show(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let v = match validate(&state, &uri).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let (browser, new_cookie) = browser_cookie(&state, &headers);
    let req = PendingRequest {
        a: v.app.id,
        r: v.redirect.as_str().to_owned(),
        s: v.scopes,
        st: v.state,
        c: v.challenge.as_str().to_owned(),
        m: v.challenge.method().as_str().to_owned(),
        b: browser_binding(&browser),
        e: state.now() + secs(state.config.oauth.authorization_request_ttl),
        j: roost_domain::secret::random_base64url(16),
    };
    // Test-only auto-consent: a request that passed every check above is granted for the App's
    // configured user at once, with no page, no session and no form post. Only while the
    // sandbox controls are on (checklist L2): a flag left in the store (an import, an
    // operator's `apps set-auto-consent`) must not skip login on a server without them.
    if let Some(user_id) = v.app.auto_consent_user_id
        && state.config.sandbox.enabled
    {
        tracing::warn!(client_id = %v.app.client_id, %user_id, "auto_consent (test-only): authorization granted without login or consent");
        return match issue_code(&state, &v.app, user_id, &req).await {
            Some(loc) => redirect(&loc, StatusCode::FOUND),
            None => unavailable_page(),
        };
    }
    let ctx = PageCtx {
        state: &state,
        app: &v.app,
        req: &req,
        browser: &browser,
    };
    let resp = match session_user(&state, &headers).await {
        Ok(Some(user)) => ctx.consent(&user),
        Ok(None) => ctx.login(StatusCode::OK, "", None),
        Err(e) => {
            tracing::error!(error = %e, "store error reading a session");
            return unavailable_page();
        }
    };
    with_cookies(resp, &new_cookie.into_iter().collect::<Vec<_>>())
}

/// Whether a form post comes from roost's own pages, judged by `Origin` and Fetch Metadata.
///
/// The pages are served with `Referrer-Policy: no-referrer`, under which browsers send
/// `Origin: null` even for same-origin form posts. So `null` is accepted only when the browser's
/// `Sec-Fetch-Site` (which page content cannot forge) says `same-origin`; sandboxed frames and
/// other opaque origins send `null` too, so without Fetch Metadata it is refused. Any real origin
/// must be roost's public origin.
fn same_origin_post(state: &AppState, headers: &HeaderMap) -> bool {
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

fn forbidden(detail: &str) -> Response {
    tracing::info!(reason = detail, "authorize form post refused");
    error_page(
        StatusCode::FORBIDDEN,
        "This form cannot be accepted",
        detail,
        Some("Go back to the App and start the sign-in again."),
    )
}

fn expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "This page has expired",
        "The authorization request behind this page is no longer valid: it has expired, was already answered, or was opened in another browser.",
        Some("Go back to the App and start the sign-in again."),
    )
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Cross-site posts are refused before anything else (checklist A12).
    if !same_origin_post(&state, &headers) {
        return forbidden("The form was posted from another site.");
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
        return forbidden("The form must be posted as application/x-www-form-urlencoded.");
    }
    let Ok(fields) = parse_form(&body) else {
        return forbidden("The form data is malformed.");
    };
    let mut form: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in fields {
        if form.get(&k).is_some_and(|old| *old != v) {
            return forbidden("A form field was sent twice with different values.");
        }
        form.insert(k, v);
    }
    let names = cookie_names(state.secure_cookies);
    let Some(browser) = read_cookie(&headers, names.browser) else {
        return forbidden(
            "Your browser did not send roost's cookie; cookies must be enabled to sign in.",
        );
    };
    if !csrf_ok(&state, &browser, form.get("csrf_token").map(String::as_str)) {
        return forbidden("The form's anti-forgery token is missing or wrong.");
    }
    let now = state.now();
    let Some(req) = form
        .get("request")
        .and_then(|r| PendingRequest::open(r, &state.keys, &browser_binding(&browser), now))
    else {
        return expired();
    };
    // The App and its callback are checked again: either may have changed since the GET.
    let app = match state.store.app_by_id(req.a).await {
        Ok(Some(app)) if app.callbacks.iter().any(|c| c.matches(&req.r)) => app,
        Ok(_) => return expired(),
        Err(e) => {
            tracing::error!(error = %e, "store error on authorize");
            return unavailable_page();
        }
    };
    let ctx = PageCtx {
        state: &state,
        app: &app,
        req: &req,
        browser: &browser,
    };
    if form.contains_key("logout") {
        return logout(&state, &headers, &app, &req).await;
    }
    if let Some(decision) = form.get("decision") {
        return decide(&ctx, &headers, decision).await;
    }
    if form.contains_key("username") {
        return login(&ctx, client, &headers, &form).await;
    }
    forbidden("The form has neither a decision nor a username.")
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    app: &AppRecord,
    req: &PendingRequest,
) -> Response {
    let names = cookie_names(state.secure_cookies);
    // A session the store still holds would outlive the cookie this answer clears (a copy of
    // the cookie would still sign in), so a logout the store did not record is a 503.
    if let Some(cookie) = read_cookie(headers, names.session)
        && let Err(e) = state.store.delete_session(TokenHash::of(&cookie)).await
    {
        tracing::error!(error = %e, "could not delete session");
        return unavailable_page();
    }
    let resp = redirect(&authorize_url(state, app, req), StatusCode::SEE_OTHER);
    with_cookies(resp, &[clear_cookie(names.session, state.secure_cookies)])
}

async fn decide(ctx: &PageCtx<'_>, headers: &HeaderMap, decision: &str) -> Response {
    let state = ctx.state;
    let user = match session_user(state, headers).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return ctx.login(
                StatusCode::UNAUTHORIZED,
                "",
                Some("Your session has ended. Sign in again to continue."),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "store error reading a session");
            return unavailable_page();
        }
    };
    if decision != "allow" && decision != "deny" {
        return forbidden("The decision must be allow or deny.");
    }
    let redirect_uri = RedirectUri::from_stored(ctx.req.r.clone());
    match state
        .store
        .consume_request(ctx.req.decision_key(), ctx.req.e)
        .await
    {
        Ok(true) => {}
        Ok(false) => return expired(),
        Err(e) => {
            tracing::error!(error = %e, "store error on consent");
            return unavailable_page();
        }
    }
    if decision == "deny" {
        tracing::info!(client_id = %ctx.app.client_id, user_id = %user.id, "authorization denied");
        let loc = redirect_uri.with_params(&[("error", "access_denied"), ("state", &ctx.req.st)]);
        return redirect(&loc, StatusCode::SEE_OTHER);
    }
    match issue_code(state, ctx.app, user.id, ctx.req).await {
        Some(loc) => redirect(&loc, StatusCode::SEE_OTHER),
        None => unavailable_page(),
    }
}

/// Records a code granting `req` to `user_id` and gives the callback URL that carries it, or
/// `None` when the store failed (logged).
async fn issue_code(
    state: &AppState,
    app: &AppRecord,
    user_id: roost_domain::Snowflake,
    req: &PendingRequest,
) -> Option<String> {
    let now = state.now();
    let code = Secret::generate(TokenKind::AuthorizationCode, now);
    let grant_id = state.ids.next(now);
    let new = NewCode {
        code_hash: code.hash(),
        grant_id,
        app_id: app.id,
        user_id,
        scopes: req.s,
        redirect_uri: req.r.clone(),
        code_challenge: req.c.clone(),
        code_challenge_method: req.m.clone(),
        created_at: now,
        expires_at: now + secs(state.config.oauth.authorization_code_ttl),
    };
    if let Err(e) = state.store.create_code(new).await {
        tracing::error!(error = %e, "store error creating a code");
        return None;
    }
    tracing::info!(client_id = %app.client_id, %user_id, %grant_id, scopes = %req.s, "authorization granted");
    let redirect_uri = RedirectUri::from_stored(req.r.clone());
    Some(redirect_uri.with_params(&[("state", &req.st), ("code", code.expose())]))
}

async fn login(
    ctx: &PageCtx<'_>,
    client: IpAddr,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Response {
    let state = ctx.state;
    let raw_username = form.get("username").map(String::as_str).unwrap_or("");
    let password = form.get("password").cloned().unwrap_or_default();
    let shown_username = truncate(raw_username, 15);
    let now = state.now();
    let cfg = &state.config.login;
    let window_ms = secs(cfg.window);
    let window_start = now - now.rem_euclid(window_ms);
    let addr = client.to_string();
    let keys = [
        // Usernames are at most 15 characters; a longer value is cut so keys stay small.
        format!(
            "user:{}|addr:{addr}",
            truncate(&raw_username.to_ascii_lowercase(), 32)
        ),
        format!("addr:{addr}"),
    ];
    // Throttling is decided before any password hashing (checklist A19, K2).
    match state.store.login_failures(&keys, window_start).await {
        Ok(counts)
            if counts[0] >= cfg.max_failures_per_user
                || counts[1] >= cfg.max_failures_per_address =>
        {
            let retry = ((window_start + window_ms - now + 999) / 1000).max(1);
            tracing::warn!(%addr, "login throttled");
            let msg = format!(
                "Too many failed sign-in attempts. Try again in {} minutes.",
                (retry + 59) / 60
            );
            let mut resp = ctx.login(StatusCode::TOO_MANY_REQUESTS, &shown_username, Some(&msg));
            if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "store error on login");
            return unavailable_page();
        }
    }
    let user = match Username::parse(raw_username) {
        Ok(u) => match state.store.user_by_username(&u).await {
            Ok(user) => user,
            // Not "wrong password": that would count a failure against the person.
            Err(e) => {
                tracing::error!(error = %e, "store error on login");
                return unavailable_page();
            }
        },
        Err(_) => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let Ok(check) = state.hasher.check(stored, password).await else {
        // Overload, not a failed attempt: nothing is counted against the person (checklist K2).
        tracing::warn!(%addr, "login refused: every password hashing slot stayed busy");
        let mut resp = ctx.login(
            StatusCode::SERVICE_UNAVAILABLE,
            &shown_username,
            Some("roost is busy signing other people in and could not check your password. Nothing was changed; try again in a moment."),
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::oauth::error::RETRY_AFTER_UNAVAILABLE),
        );
        return resp;
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
                return unavailable_page();
            }
            tracing::info!(%addr, "login failed");
            return ctx.login(
                StatusCode::UNAUTHORIZED,
                &shown_username,
                Some("Wrong username or password."),
            );
        }
    };
    // A new session id and a new browser cookie at every login (checklist A22), and a session
    // this browser already had ends: the id it held before this login stops working.
    let names = cookie_names(state.secure_cookies);
    if let Some(old) = read_cookie(headers, names.session)
        && let Err(e) = state.store.delete_session(TokenHash::of(&old)).await
    {
        tracing::error!(error = %e, "could not delete the previous session");
        return unavailable_page();
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
        return unavailable_page();
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
    with_cookies(
        redirect(
            &authorize_url(state, ctx.app, ctx.req),
            StatusCode::SEE_OTHER,
        ),
        &cookies,
    )
}
