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
    CodeChallenge, CodeChallengeMethod, RedirectUri, Scope, ScopeNames, ScopeSet, Secret, TokenKind,
};
use roost_store::{AppRecord, NewCode};

use super::pages::{CSS_PATH, ConsentPage, LoginPage, error_page, html, unavailable_page};
use super::request::{PendingRequest, browser_binding};
use super::session::{
    PostedForm, browser_cookie, csrf_token, read_form, session_user, sign_in, sign_out,
    with_cookies,
};
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
    let PostedForm {
        fields: form,
        browser,
    } = match read_form(&state, &headers, &body) {
        Ok(f) => f,
        Err(reason) => return forbidden(reason),
    };
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
    match sign_out(state, headers).await {
        Ok(clear) => with_cookies(
            redirect(&authorize_url(state, app, req), StatusCode::SEE_OTHER),
            &[clear],
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not delete session");
            unavailable_page()
        }
    }
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
    let raw_username = form.get("username").map(String::as_str).unwrap_or("");
    let password = form.get("password").cloned().unwrap_or_default();
    // Shown back in the form, at most a username's length.
    let shown_username: String = raw_username.chars().take(15).collect();
    match sign_in(ctx.state, client, headers, raw_username, password).await {
        Ok(signed_in) => with_cookies(
            redirect(
                &authorize_url(ctx.state, ctx.app, ctx.req),
                StatusCode::SEE_OTHER,
            ),
            &signed_in.cookies,
        ),
        Err(refusal) => {
            refusal.respond(|status, message| ctx.login(status, &shown_username, Some(message)))
        }
    }
}
