//! The developer portal (`/portal`) and the user's connected-apps page
//! (`/settings/connected_apps`), with their sign-in (`/login`, `/logout`).
//!
//! Every page is server-rendered and every action is a plain form post, so nothing needs
//! JavaScript (`/static/portal.js` only adds copy buttons). Each post passes the checks of
//! [`read_form`] (same origin, form-encoded, the browser's anti-forgery token), then the
//! ownership check: a Project, and its Apps, are seen and changed only by its owner or an admin;
//! anyone else gets the same 404 as for a Project that does not exist, so ids reveal nothing.
//! After an action the browser is sent back to a page (303), except where a secret is shown:
//! that page is the answer to the post itself, so the secret is never in a URL or a history
//! entry, and the answer is `no-store`.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use roost_domain::{AppKind, ClientType, Scope, ScopeSet, Snowflake};
use roost_store::{AppRecord, ProjectRecord, StoreError, UserRecord};
use serde::Deserialize;

use super::pages::{CSS_PATH, error_page, unavailable_page, with_page_headers};
use super::session::{
    PostedForm, browser_cookie, csrf_token, read_form, repeated, session_user, sign_in, sign_out,
    with_cookies,
};
use crate::accounts::AccountError;
use crate::developer::{self, AppSettingsInput, NewAppInput};
use crate::http::ClientAddr;
use crate::state::AppState;

/// What a page handler answers: the page, or (through `?`) the answer that cut it short: the
/// sign-in redirect, a 404, a 403 or a 503.
type Page = Result<Response, Response>;

pub const JS_PATH: &str = "/static/portal.js";
const JS: &str = include_str!("../../static/portal.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/portal", get(home))
        .route("/portal/", get(home))
        .route("/portal/projects", post(create_project))
        .route("/portal/projects/{id}", get(project_page))
        .route("/portal/projects/{id}/rename", post(rename_project))
        .route(
            "/portal/projects/{id}/delete",
            get(confirm_delete_project).post(delete_project),
        )
        .route("/portal/projects/{id}/apps/new", get(new_app_page))
        .route("/portal/projects/{id}/apps", post(create_app))
        .route("/portal/apps/{id}", get(app_page))
        .route("/portal/apps/{id}/settings", post(save_settings))
        .route("/portal/apps/{id}/callbacks", post(add_callback))
        .route("/portal/apps/{id}/callbacks/remove", post(remove_callback))
        .route(
            "/portal/apps/{id}/delete",
            get(confirm_delete_app).post(delete_app),
        )
        .route("/portal/apps/{id}/keys", get(keys_page))
        .route(
            "/portal/apps/{id}/keys/client-secret",
            post(regenerate_secret),
        )
        .route("/portal/apps/{id}/keys/api-key", post(regenerate_api_key))
        .route("/portal/apps/{id}/keys/bearer-token", post(bearer_token))
        .route(
            "/portal/apps/{id}/keys/bearer-token/revoke",
            post(revoke_bearer_token),
        )
        .route("/portal/apps/{id}/usage", get(usage_page))
        .route("/settings/connected_apps", get(connected_page))
        .route(
            "/settings/connected_apps/{id}/revoke",
            post(revoke_connected),
        )
        .route(JS_PATH, get(js))
}

/// The page headers of [`with_page_headers`], with scripts from roost's own origin allowed (the
/// copy buttons); everything else stays as strict.
fn page(status: StatusCode, tpl: &impl Template) -> Response {
    match tpl.render() {
        Ok(body) => {
            let mut resp = with_page_headers(
                (
                    status,
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    )],
                    body,
                )
                    .into_response(),
            );
            resp.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            with_page_headers(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

async fn js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        JS,
    )
        .into_response()
}

fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => {
            with_page_headers((StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response())
        }
        Err(_) => not_found(),
    }
}

fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page, or it belongs to an account other than yours.",
        Some("Go back to your Projects at /portal."),
    )
}

fn forbidden(reason: &str) -> Response {
    tracing::info!(reason, "portal form post refused");
    error_page(
        StatusCode::FORBIDDEN,
        "This form cannot be accepted",
        reason,
        Some("Reload the page and try again."),
    )
}

fn store_failed(e: &StoreError) -> Response {
    tracing::error!(error = %e, "store error on a portal page");
    unavailable_page()
}

/// The navigation bar's data, on every signed-in page.
pub struct Nav {
    pub css_href: &'static str,
    pub js_href: &'static str,
    pub username: String,
    pub admin: bool,
    pub csrf: String,
    pub section: &'static str,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// A signed-in person on a portal page.
struct Viewer {
    user: UserRecord,
    admin: bool,
    browser: String,
    /// A new browser cookie to set (the browser had none).
    set_browser: Option<String>,
}

impl Viewer {
    fn nav(&self, state: &AppState, section: &'static str) -> Nav {
        Nav {
            css_href: CSS_PATH,
            js_href: JS_PATH,
            username: self.user.username.to_string(),
            admin: self.admin,
            csrf: csrf_token(state, &self.browser),
            section,
            notice: None,
            error: None,
        }
    }

    fn respond(&self, resp: Response) -> Response {
        with_cookies(resp, &self.set_browser.iter().cloned().collect::<Vec<_>>())
    }

    fn can_manage(&self, project: &ProjectRecord) -> bool {
        developer::can_manage(project, self.user.id, self.admin)
    }
}

/// Where a page that needs a session sends a browser without one.
fn to_login(next: &str) -> Response {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    ser.append_pair("next", next);
    see_other(&format!("/login?{}", ser.finish()))
}

/// The signed-in person, or the answer for a browser without a session (the login page, then
/// back to `here`).
async fn viewer(state: &AppState, headers: &HeaderMap, here: &str) -> Result<Viewer, Response> {
    let user = match session_user(state, headers).await {
        Ok(Some(u)) => u,
        Ok(None) => return Err(to_login(here)),
        Err(e) => return Err(store_failed(&e)),
    };
    let admin = state
        .store
        .user_is_admin(user.id)
        .await
        .map_err(|e| store_failed(&e))?;
    let (browser, set_browser) = browser_cookie(state, headers);
    Ok(Viewer {
        user,
        admin,
        browser,
        set_browser,
    })
}

/// A signed-in person's form post, checked; the error is the page to answer with.
async fn posted(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    here: &str,
) -> Result<(Viewer, PostedForm), Response> {
    let form = read_form(state, headers, body).map_err(forbidden)?;
    let v = viewer(state, headers, here).await?;
    Ok((v, form))
}

/// The Project `id` if the viewer may manage it; otherwise the 404 of a missing one.
async fn owned_project(state: &AppState, v: &Viewer, id: &str) -> Result<ProjectRecord, Response> {
    let Ok(pid) = Snowflake::parse(id) else {
        return Err(not_found());
    };
    match state.store.project_by_id(pid).await {
        Ok(Some(p)) if v.can_manage(&p) => Ok(p),
        Ok(_) => Err(not_found()),
        Err(e) => Err(store_failed(&e)),
    }
}

/// The App `id` if the viewer may manage its Project; otherwise a 404.
async fn owned_app(state: &AppState, v: &Viewer, id: &str) -> Result<AppRecord, Response> {
    let Ok(aid) = Snowflake::parse(id) else {
        return Err(not_found());
    };
    let app = match state.store.app_by_id(aid).await {
        Ok(Some(a)) => a,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(store_failed(&e)),
    };
    owned_project(state, v, &app.project_id.to_string()).await?;
    Ok(app)
}

/// What a failed action shows.
enum Failed {
    /// The reason, on the form again.
    Say(String),
    /// The whole answer (the store failed).
    Page(Response),
}

/// A failed action's message for the person, or the page for a store failure.
fn account_error(e: AccountError) -> Failed {
    match e {
        // What the database refused of the input (a text with NUL, a name taken meanwhile)
        // is the person's to fix, not an outage.
        AccountError::Store(
            e @ (StoreError::Conflict(_) | StoreError::Invalid(_) | StoreError::NotFound(_)),
        ) => Failed::Say(e.to_string()),
        AccountError::Store(e) => Failed::Page(store_failed(&e)),
        other => Failed::Say(other.to_string()),
    }
}

/// The answer when an action on a record that was just found fails: it went away meanwhile
/// (404), or the store failed (503).
fn vanished(e: AccountError) -> Response {
    match account_error(e) {
        Failed::Say(_) => not_found(),
        Failed::Page(r) => r,
    }
}

/// A short, fixed notice named by a redirect's `?done=`, so no text from a URL reaches a page.
fn notice(done: Option<&str>) -> Option<String> {
    let text = match done? {
        "project-created" => "Project created.",
        "renamed" => "Project renamed.",
        "saved" => "Settings saved.",
        "callback-added" => "Callback URL added.",
        "callback-removed" => "Callback URL removed.",
        "bearer-revoked" => "The app-only Bearer Token was revoked. The next one generated is new.",
        "project-deleted" => "Project deleted; every token of its Apps was revoked.",
        "app-deleted" => "App deleted; every token it was issued was revoked.",
        "revoked" => "Access revoked. The App's tokens for your account no longer work.",
        _ => return None,
    };
    Some(text.to_owned())
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    done: Option<String>,
    next: Option<String>,
}

fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_else(|_| "-".to_owned())
}

// ----- sign-in -----

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    css_href: &'a str,
    purpose: &'a str,
    csrf_token: &'a str,
    next: &'a str,
    username: &'a str,
    message: Option<&'a str>,
}

/// Where `next` may send a browser after sign-in: roost's own portal and settings pages only,
/// so the parameter cannot make an open redirect.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if (n == "/portal" || n.starts_with("/portal/") || n.starts_with("/settings/"))
                && n.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.')
                })
                && !n.contains("//")
                && !n.contains("..") =>
        {
            n
        }
        _ => "/portal",
    }
}

fn purpose_of(next: &str) -> &'static str {
    if next.starts_with("/settings/") {
        "Sign in to see and manage the Apps connected to your account."
    } else {
        "Sign in to the developer portal to manage your Projects, Apps and keys."
    }
}

fn sign_in_form(
    state: &AppState,
    browser: &str,
    status: StatusCode,
    next: &str,
    username: &str,
    message: Option<&str>,
) -> Response {
    let csrf = csrf_token(state, browser);
    page(
        status,
        &SignInPage {
            css_href: CSS_PATH,
            purpose: purpose_of(next),
            csrf_token: &csrf,
            next,
            username,
            message,
        },
    )
}

async fn login_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let next = safe_next(q.next.as_deref());
    // Signed in already: straight on.
    match session_user(&state, &headers).await {
        Ok(Some(_)) => return see_other(next),
        Ok(None) => {}
        Err(e) => return store_failed(&e),
    }
    let (browser, set) = browser_cookie(&state, &headers);
    let resp = sign_in_form(&state, &browser, StatusCode::OK, next, "", None);
    with_cookies(resp, &set.into_iter().collect::<Vec<_>>())
}

async fn login_submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match read_form(&state, &headers, &body) {
        Ok(f) => f,
        Err(reason) => return forbidden(reason),
    };
    let next = safe_next(form.get("next")).to_owned();
    let raw = form.get("username").unwrap_or("");
    let shown: String = raw.chars().take(15).collect();
    let password = form.get("password").unwrap_or("").to_owned();
    match sign_in(&state, client, &headers, raw, password).await {
        Ok(signed_in) => with_cookies(see_other(&next), &signed_in.cookies),
        Err(refusal) => refusal.respond(|status, message| {
            sign_in_form(&state, &form.browser, status, &next, &shown, Some(message))
        }),
    }
}

/// Signs out: this session, or with `everywhere` every session of the person.
async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match read_form(&state, &headers, &body) {
        Ok(f) => f,
        Err(reason) => return forbidden(reason),
    };
    if form.get("everywhere").is_some() {
        match session_user(&state, &headers).await {
            Ok(Some(u)) => match state.store.delete_user_sessions(u.id).await {
                Ok(n) => tracing::info!(user_id = %u.id, sessions = n, "signed out everywhere"),
                Err(e) => return store_failed(&e),
            },
            Ok(None) => {}
            Err(e) => return store_failed(&e),
        }
    }
    match sign_out(&state, &headers).await {
        Ok(clear) => with_cookies(see_other("/login"), &[clear]),
        Err(e) => store_failed(&e),
    }
}

// ----- Projects -----

struct ProjectRow {
    id: Snowflake,
    name: String,
    owner: Option<String>,
    /// (app id, name, type label)
    apps: Vec<(Snowflake, String, &'static str)>,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    nav: Nav,
    projects: Vec<ProjectRow>,
}

async fn home(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Page {
    let v = viewer(&state, &headers, "/portal").await?;
    let mut nav = v.nav(&state, "portal");
    nav.notice = notice(q.done.as_deref());
    render_home(&state, &v, nav, StatusCode::OK).await
}

/// The Projects page, with what `nav` says above it.
async fn render_home(state: &AppState, v: &Viewer, nav: Nav, status: StatusCode) -> Page {
    let (projects, apps, users) = tokio::try_join!(
        developer::projects_for(state, v.user.id, v.admin),
        state.store.list_apps(),
        async {
            // Only admins see others' Projects, so only they are told whose each is.
            if v.admin {
                state.store.list_users().await
            } else {
                Ok(Vec::new())
            }
        }
    )
    .map_err(|e| store_failed(&e))?;
    let rows = projects
        .into_iter()
        .map(|p| ProjectRow {
            apps: apps
                .iter()
                .filter(|a| a.project_id == p.id)
                .map(|a| (a.id, a.name.clone(), a.profile.kind.label()))
                .collect(),
            owner: p.owner_id.and_then(|o| {
                users
                    .iter()
                    .find(|u| u.id == o)
                    .map(|u| u.username.to_string())
            }),
            id: p.id,
            name: p.name,
        })
        .collect();
    Ok(v.respond(page(
        status,
        &HomePage {
            nav,
            projects: rows,
        },
    )))
}

async fn create_project(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Page {
    let (v, form) = posted(&state, &headers, &body, "/portal").await?;
    match developer::create_project(&state, form.get("name").unwrap_or(""), Some(&v.user)).await {
        Ok(p) => Ok(see_other(&format!(
            "/portal/projects/{}?done=project-created",
            p.id
        ))),
        Err(e) => match account_error(e) {
            // The Projects page again, with the reason; the status says it failed.
            Failed::Say(message) => {
                let mut nav = v.nav(&state, "portal");
                nav.error = Some(message);
                render_home(&state, &v, nav, StatusCode::BAD_REQUEST).await
            }
            Failed::Page(r) => Err(r),
        },
    }
}

#[derive(Template)]
#[template(path = "portal/project.html")]
struct ProjectPage {
    nav: Nav,
    project: ProjectRecord,
    created: String,
    apps: Vec<(Snowflake, String, &'static str)>,
}

async fn render_project(
    state: &AppState,
    v: &Viewer,
    project: ProjectRecord,
    status: StatusCode,
    notice_text: Option<String>,
    error: Option<String>,
) -> Response {
    let apps = match developer::apps_of(state, project.id).await {
        Ok(a) => a,
        Err(e) => return store_failed(&e),
    };
    let mut nav = v.nav(state, "portal");
    nav.notice = notice_text;
    nav.error = error;
    v.respond(page(
        status,
        &ProjectPage {
            nav,
            created: date(project.created_at),
            project,
            apps: apps
                .iter()
                .map(|a| (a.id, a.name.clone(), a.profile.kind.label()))
                .collect(),
        },
    ))
}

async fn project_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Page {
    let here = format!("/portal/projects/{id}");
    let v = viewer(&state, &headers, &here).await?;
    let project = owned_project(&state, &v, &id).await?;
    Ok(render_project(
        &state,
        &v,
        project,
        StatusCode::OK,
        notice(q.done.as_deref()),
        None,
    )
    .await)
}

async fn rename_project(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let here = format!("/portal/projects/{id}");
    let (v, form) = posted(&state, &headers, &body, &here).await?;
    let project = owned_project(&state, &v, &id).await?;
    Ok(
        match developer::rename_project(&state, &project, form.get("name").unwrap_or("")).await {
            Ok(p) => see_other(&format!("/portal/projects/{}?done=renamed", p.id)),
            Err(e) => match account_error(e) {
                Failed::Say(m) => {
                    render_project(&state, &v, project, StatusCode::BAD_REQUEST, None, Some(m))
                        .await
                }
                Failed::Page(r) => r,
            },
        },
    )
}

#[derive(Template)]
#[template(path = "portal/confirm.html")]
struct ConfirmPage {
    nav: Nav,
    title: String,
    message: String,
    action: String,
    button: &'static str,
    back: String,
}

async fn confirm_delete_project(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Page {
    let here = format!("/portal/projects/{id}/delete");
    let v = viewer(&state, &headers, &here).await?;
    let project = owned_project(&state, &v, &id).await?;
    let apps = developer::apps_of(&state, project.id)
        .await
        .map(|a| a.len())
        .unwrap_or(0);
    Ok(v.respond(page(
        StatusCode::OK,
        &ConfirmPage {
            nav: v.nav(&state, "portal"),
            title: format!("Delete the Project {}?", project.name),
            message: format!(
                "This deletes its {apps} App{} and revokes every token they were issued: every user signed in with them is signed out. This cannot be undone.",
                if apps == 1 { "" } else { "s" }
            ),
            action: here,
            button: "Delete Project",
            back: format!("/portal/projects/{}", project.id),
        },
    )))
}

async fn delete_project(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let here = format!("/portal/projects/{id}/delete");
    let (v, form) = posted(&state, &headers, &body, &here).await?;
    let project = owned_project(&state, &v, &id).await?;
    if form.get("confirm") != Some("yes") {
        return Ok(see_other(&here));
    }
    developer::delete_project(&state, &project)
        .await
        .map_err(vanished)?;
    Ok(see_other("/portal?done=project-deleted"))
}

// ----- Apps -----

/// The App types a form offers: (value, X's name, what it means).
fn kinds_of(only: Option<ClientType>) -> Vec<(&'static str, &'static str, &'static str)> {
    AppKind::ALL
        .into_iter()
        .filter(|k| only.is_none_or(|t| k.client_type() == t))
        .map(|k| {
            (
                k.as_str(),
                k.label(),
                match k.client_type() {
                    ClientType::Public => "public client: no Client Secret, PKCE only",
                    ClientType::Confidential => "confidential client: has a Client Secret",
                },
            )
        })
        .collect()
}

#[derive(Default)]
struct NewAppForm {
    name: String,
    description: String,
    website_url: String,
    kind: String,
    callback: String,
}

#[derive(Template)]
#[template(path = "portal/app_new.html")]
struct NewAppPage {
    nav: Nav,
    project: ProjectRecord,
    kinds: Vec<(&'static str, &'static str, &'static str)>,
    form: NewAppForm,
}

async fn new_app_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Page {
    let here = format!("/portal/projects/{id}/apps/new");
    let v = viewer(&state, &headers, &here).await?;
    let project = owned_project(&state, &v, &id).await?;
    Ok(v.respond(page(
        StatusCode::OK,
        &NewAppPage {
            nav: v.nav(&state, "portal"),
            project,
            kinds: kinds_of(None),
            form: NewAppForm {
                kind: AppKind::Web.as_str().to_owned(),
                ..NewAppForm::default()
            },
        },
    )))
}

async fn create_app(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let here = format!("/portal/projects/{id}/apps/new");
    let (v, form) = posted(&state, &headers, &body, &here).await?;
    let project = owned_project(&state, &v, &id).await?;
    let entered = NewAppForm {
        name: form.get("name").unwrap_or("").to_owned(),
        description: form.get("description").unwrap_or("").to_owned(),
        website_url: form.get("website_url").unwrap_or("").to_owned(),
        kind: form.get("type").unwrap_or("").to_owned(),
        callback: form.get("callback").unwrap_or("").to_owned(),
    };
    let result = match AppKind::parse(&entered.kind) {
        None => Err(AccountError::BadAppKind(entered.kind.clone())),
        Some(kind) => {
            let callbacks = vec![entered.callback.clone()];
            developer::create_app_in(
                &state,
                &project,
                NewAppInput {
                    name: &entered.name,
                    description: &entered.description,
                    website_url: &entered.website_url,
                    kind,
                    callbacks: &callbacks,
                },
            )
            .await
        }
    };
    Ok(match result {
        Ok(created) => {
            let Some(app) = created.record else {
                return Err(not_found());
            };
            let shown = [
                Some(("Client ID", created.client_id)),
                created.client_secret.map(|s| ("Client Secret", s)),
                Some(("API Key", created.api_key)),
                Some(("API Key Secret", created.api_secret)),
            ]
            .into_iter()
            .flatten()
            .collect();
            render_keys(
                &state,
                &v,
                app,
                shown,
                Some("App created. Here are its keys.".to_owned()),
            )
        }
        Err(e) => match account_error(e) {
            Failed::Say(message) => {
                let mut nav = v.nav(&state, "portal");
                nav.error = Some(message);
                v.respond(page(
                    StatusCode::BAD_REQUEST,
                    &NewAppPage {
                        nav,
                        project,
                        kinds: kinds_of(None),
                        form: entered,
                    },
                ))
            }
            Failed::Page(r) => r,
        },
    })
}

#[derive(Template)]
#[template(path = "portal/app.html")]
struct AppPage {
    nav: Nav,
    kinds: Vec<(&'static str, &'static str, &'static str)>,
    kind: &'static str,
    kind_label: &'static str,
    kind_note: &'static str,
    client_type: &'static str,
    website: String,
    callbacks: Vec<String>,
    app: AppRecord,
}

fn render_app(
    state: &AppState,
    v: &Viewer,
    app: AppRecord,
    status: StatusCode,
    notice_text: Option<String>,
    error: Option<String>,
) -> Response {
    let mut nav = v.nav(state, "portal");
    nav.notice = notice_text;
    nav.error = error;
    v.respond(page(
        status,
        &AppPage {
            nav,
            kinds: kinds_of(Some(app.client_type)),
            kind: app.profile.kind.as_str(),
            kind_label: app.profile.kind.label(),
            kind_note: match app.client_type {
                ClientType::Public => {
                    "A public App can switch between Native and Single page; making it confidential needs a new App (it would need a Client Secret)."
                }
                ClientType::Confidential => {
                    "A confidential App keeps its type; a public client needs a new App."
                }
            },
            client_type: app.client_type.as_str(),
            website: app
                .profile
                .website_url
                .as_ref()
                .map(|w| w.as_str().to_owned())
                .unwrap_or_default(),
            callbacks: app.callbacks.iter().map(|c| c.as_str().to_owned()).collect(),
            app,
        },
    ))
}

async fn app_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Page {
    let here = format!("/portal/apps/{id}");
    let v = viewer(&state, &headers, &here).await?;
    Ok(match owned_app(&state, &v, &id).await {
        Ok(app) => render_app(
            &state,
            &v,
            app,
            StatusCode::OK,
            notice(q.done.as_deref()),
            None,
        ),
        Err(r) => r,
    })
}

/// Applies a settings change from a form; back to the App's page with a notice, or the page
/// again with the reason.
async fn change_app(
    state: &AppState,
    v: &Viewer,
    app: AppRecord,
    input: AppSettingsInput,
    done: &str,
) -> Response {
    let result = match input.parse() {
        Ok(change) => developer::update_app(state, &app, change).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(a) => see_other(&format!("/portal/apps/{}?done={done}", a.id)),
        Err(e) => match account_error(e) {
            Failed::Say(m) => render_app(state, v, app, StatusCode::BAD_REQUEST, None, Some(m)),
            Failed::Page(r) => r,
        },
    }
}

async fn save_settings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let here = format!("/portal/apps/{id}");
    let (v, form) = posted(&state, &headers, &body, &here).await?;
    let app = owned_app(&state, &v, &id).await?;
    let input = AppSettingsInput {
        name: form.get("name").map(str::to_owned),
        description: form.get("description").map(str::to_owned),
        website_url: form.get("website_url").map(str::to_owned),
        kind: form.get("type").map(str::to_owned),
        callbacks: None,
    };
    Ok(change_app(&state, &v, app, input, "saved").await)
}

async fn add_callback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let here = format!("/portal/apps/{id}");
    let (v, form) = posted(&state, &headers, &body, &here).await?;
    let app = owned_app(&state, &v, &id).await?;
    let mut callbacks: Vec<String> = app
        .callbacks
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    callbacks.push(form.get("callback").unwrap_or("").trim().to_owned());
    let input = AppSettingsInput {
        callbacks: Some(callbacks),
        ..AppSettingsInput::default()
    };
    Ok(change_app(&state, &v, app, input, "callback-added").await)
}

async fn remove_callback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let here = format!("/portal/apps/{id}");
    let (v, _form) = posted(&state, &headers, &body, &here).await?;
    let app = owned_app(&state, &v, &id).await?;
    let gone = repeated(&body, "callback");
    let callbacks: Vec<String> = app
        .callbacks
        .iter()
        .map(|c| c.as_str().to_owned())
        .filter(|c| !gone.contains(c))
        .collect();
    let input = AppSettingsInput {
        callbacks: Some(callbacks),
        ..AppSettingsInput::default()
    };
    Ok(change_app(&state, &v, app, input, "callback-removed").await)
}

async fn confirm_delete_app(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Page {
    let here = format!("/portal/apps/{id}/delete");
    let v = viewer(&state, &headers, &here).await?;
    let app = owned_app(&state, &v, &id).await?;
    Ok(v.respond(page(
        StatusCode::OK,
        &ConfirmPage {
            nav: v.nav(&state, "portal"),
            title: format!("Delete the App {}?", app.name),
            message: "This revokes every token the App was issued and its keys stop working. This cannot be undone.".to_owned(),
            action: here,
            button: "Delete App",
            back: format!("/portal/apps/{}", app.id),
        },
    )))
}

async fn delete_app(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let here = format!("/portal/apps/{id}/delete");
    let (v, form) = posted(&state, &headers, &body, &here).await?;
    let app = owned_app(&state, &v, &id).await?;
    if form.get("confirm") != Some("yes") {
        return Ok(see_other(&here));
    }
    crate::accounts::delete_app(&state, app.client_id.as_str())
        .await
        .map_err(vanished)?;
    Ok(see_other(&format!(
        "/portal/projects/{}?done=app-deleted",
        app.project_id
    )))
}

// ----- Keys and tokens -----

#[derive(Template)]
#[template(path = "portal/keys.html")]
struct KeysPage {
    nav: Nav,
    confidential: bool,
    kind_label: &'static str,
    /// Secrets shown this once: (what, value).
    shown: Vec<(&'static str, String)>,
    app: AppRecord,
}

fn render_keys(
    state: &AppState,
    v: &Viewer,
    app: AppRecord,
    shown: Vec<(&'static str, String)>,
    notice_text: Option<String>,
) -> Response {
    let mut nav = v.nav(state, "portal");
    nav.notice = notice_text;
    keys_with(v, nav, StatusCode::OK, app, shown)
}

fn keys_with(
    v: &Viewer,
    nav: Nav,
    status: StatusCode,
    app: AppRecord,
    shown: Vec<(&'static str, String)>,
) -> Response {
    v.respond(page(
        status,
        &KeysPage {
            nav,
            confidential: app.client_type == ClientType::Confidential,
            kind_label: app.profile.kind.label(),
            shown,
            app,
        },
    ))
}

async fn keys_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Page {
    let here = format!("/portal/apps/{id}/keys");
    let v = viewer(&state, &headers, &here).await?;
    Ok(match owned_app(&state, &v, &id).await {
        Ok(app) => render_keys(&state, &v, app, Vec::new(), notice(q.done.as_deref())),
        Err(r) => r,
    })
}

/// The App as it is after a change of its keys, for the page that shows the new ones.
async fn reread(state: &AppState, app: &AppRecord) -> Result<AppRecord, Response> {
    match state.store.app_by_id(app.id).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(not_found()),
        Err(e) => Err(store_failed(&e)),
    }
}

async fn key_action(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    id: &str,
) -> Result<(Viewer, AppRecord), Response> {
    let here = format!("/portal/apps/{id}/keys");
    let (v, _) = posted(state, headers, body, &here).await?;
    let app = owned_app(state, &v, id).await?;
    Ok((v, app))
}

async fn regenerate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let (v, app) = key_action(&state, &headers, &body, &id).await?;
    let secret = match developer::regenerate_client_secret(&state, &app).await {
        Ok(secret) => secret,
        // A public App has no Client Secret: the keys page again, saying so.
        Err(e) => {
            return match account_error(e) {
                Failed::Say(m) => {
                    let mut nav = v.nav(&state, "portal");
                    nav.error = Some(m);
                    Ok(keys_with(&v, nav, StatusCode::CONFLICT, app, Vec::new()))
                }
                Failed::Page(r) => Err(r),
            };
        }
    };
    let app = reread(&state, &app).await?;
    Ok(render_keys(
        &state,
        &v,
        app,
        vec![("Client Secret", secret.expose().to_owned())],
        Some("A new Client Secret was made; the old one no longer works.".to_owned()),
    ))
}

async fn regenerate_api_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let (v, app) = key_action(&state, &headers, &body, &id).await?;
    let (key, secret) = developer::regenerate_api_key(&state, &app)
        .await
        .map_err(vanished)?;
    let app = reread(&state, &app).await?;
    Ok(render_keys(
        &state,
        &v,
        app,
        vec![
            ("API Key", key),
            ("API Key Secret", secret.expose().to_owned()),
        ],
        Some(
            "A new API Key and Secret were made; the old pair and the Bearer Token made with it no longer work."
                .to_owned(),
        ),
    ))
}

async fn bearer_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let (v, app) = key_action(&state, &headers, &body, &id).await?;
    let token = developer::bearer_token(&state, &app)
        .await
        .map_err(vanished)?;
    Ok(render_keys(
        &state,
        &v,
        app,
        vec![("Bearer Token", token)],
        None,
    ))
}

async fn revoke_bearer_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let (_v, app) = key_action(&state, &headers, &body, &id).await?;
    developer::revoke_bearer_token(&state, &app)
        .await
        .map_err(vanished)?;
    Ok(see_other(&format!(
        "/portal/apps/{}/keys?done=bearer-revoked",
        app.id
    )))
}

// ----- Usage -----

struct Bar {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    count: i64,
    label: String,
    current: bool,
}

struct Meter {
    /// What the window is: "App-only tokens", "User tokens, busiest user @alice".
    label: String,
    requests: u64,
    limit: u64,
    /// 0 to 100.
    percent: u64,
    /// When the window ends, as the page shows it; `None` for the 15-minute bucket's count.
    resets: Option<String>,
}

struct Chart {
    endpoint: String,
    total: i64,
    peak: i64,
    width: i64,
    height: i64,
    bars: Vec<Bar>,
    /// Requests of every token in the current 15-minute bucket.
    window_requests: i64,
    /// The App's open rate-limit windows, as this node's limiter holds them.
    windows: Vec<Meter>,
    /// Whether the endpoint has a 15-minute limit at all.
    limited: bool,
}

const BAR_W: i64 = 6;
const CHART_H: i64 = 120;

fn meter(label: String, requests: u64, limit: u64, resets: Option<String>) -> Meter {
    Meter {
        label,
        requests,
        limit,
        percent: (requests * 100).checked_div(limit).unwrap_or(100).min(100),
        resets,
    }
}

/// One endpoint's chart. `username` names the user of a per-user window.
fn chart(
    e: &developer::EndpointUsage,
    since: i64,
    bucket_ms: i64,
    username: impl Fn(Snowflake) -> Option<String>,
) -> Chart {
    let peak = e.buckets.iter().copied().max().unwrap_or(0);
    let last = e.buckets.len().saturating_sub(1);
    let bars = e
        .buckets
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let i64i = i64::try_from(i).unwrap_or(0);
            let h = if peak > 0 {
                (count * (CHART_H - 4) / peak).max(i64::from(count > 0))
            } else {
                0
            };
            Bar {
                x: i64i * BAR_W,
                y: CHART_H - h,
                w: BAR_W - 1,
                h,
                count,
                label: date(since + i64i * bucket_ms),
                current: i == last,
            }
        })
        .collect();
    let w = &e.window;
    let mut windows = Vec::new();
    if let (Some(live), Some(limit)) = (&w.app_window, w.app_limit) {
        windows.push(meter(
            "App-only tokens (one window per App)".to_owned(),
            live.requests,
            limit,
            Some(date(live.reset_ms)),
        ));
    }
    if let (Some(live), Some(limit)) = (&w.busiest_user_window, w.user_limit) {
        let who = live
            .user_id
            .and_then(&username)
            .map(|u| format!(" @{u}"))
            .unwrap_or_default();
        windows.push(meter(
            format!("User tokens (one window per user; the busiest,{who})"),
            live.requests,
            limit,
            Some(date(live.reset_ms)),
        ));
    }
    Chart {
        endpoint: e.endpoint.clone(),
        total: e.total,
        peak,
        width: i64::try_from(e.buckets.len()).unwrap_or(96) * BAR_W,
        height: CHART_H,
        bars,
        window_requests: w.requests,
        windows,
        limited: w.app_limit.is_some() || w.user_limit.is_some(),
    }
}

#[derive(Template)]
#[template(path = "portal/usage.html")]
struct UsagePage {
    nav: Nav,
    app: AppRecord,
    report: developer::UsageReport,
    charts: Vec<Chart>,
}

async fn usage_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Page {
    let here = format!("/portal/apps/{id}/usage");
    let v = viewer(&state, &headers, &here).await?;
    let app = owned_app(&state, &v, &id).await?;
    let report = developer::usage(&state, &app).await.map_err(vanished)?;
    let world = state.world.read();
    let username = |id: Snowflake| world.user(id).map(|u| u.username.to_string());
    let charts = report
        .endpoints
        .iter()
        .map(|e| chart(e, report.since, report.bucket_ms, username))
        .collect();
    drop(world);
    Ok(v.respond(page(
        StatusCode::OK,
        &UsagePage {
            nav: v.nav(&state, "portal"),
            app,
            report,
            charts,
        },
    )))
}

// ----- Connected apps -----

struct ConnectedRow {
    app_id: Snowflake,
    name: String,
    project: String,
    website: Option<String>,
    granted: String,
    used: Option<String>,
    scopes: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "portal/connected.html")]
struct ConnectedPage {
    nav: Nav,
    apps: Vec<ConnectedRow>,
}

fn scope_lines(scopes: ScopeSet) -> Vec<(&'static str, &'static str)> {
    scopes
        .iter()
        .map(|s: Scope| (s.as_str(), s.description()))
        .collect()
}

async fn connected_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Page {
    let v = viewer(&state, &headers, "/settings/connected_apps").await?;
    let connections = developer::connections(&state, &v.user)
        .await
        .map_err(|e| store_failed(&e))?;
    let apps = connections
        .into_iter()
        .map(|c| ConnectedRow {
            app_id: c.app.id,
            name: c.app.name.clone(),
            project: c.app.project_name.clone(),
            website: c
                .app
                .profile
                .website_url
                .as_ref()
                .map(|w| w.as_str().to_owned()),
            granted: date(c.granted_at),
            used: c.last_used_at.map(date),
            scopes: scope_lines(c.scopes),
        })
        .collect();
    let mut nav = v.nav(&state, "connected");
    nav.notice = notice(q.done.as_deref());
    Ok(v.respond(page(StatusCode::OK, &ConnectedPage { nav, apps })))
}

async fn revoke_connected(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let (v, _) = posted(&state, &headers, &body, "/settings/connected_apps").await?;
    let app_id = Snowflake::parse(&id).map_err(|_| not_found())?;
    developer::revoke_connection(&state, &v.user, app_id)
        .await
        .map_err(|e| store_failed(&e))?;
    Ok(see_other("/settings/connected_apps?done=revoked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_portal_or_settings_path() {
        assert_eq!(safe_next(Some("/portal/apps/12")), "/portal/apps/12");
        assert_eq!(
            safe_next(Some("/settings/connected_apps")),
            "/settings/connected_apps"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/portal//evil",
            "/portal/../i/oauth2/authorize",
            "/portal/x?y=1",
            "/\\evil",
            "/other",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/portal", "{bad}");
        }
        assert_eq!(safe_next(None), "/portal");
    }

    #[test]
    fn notices_are_fixed_texts() {
        assert!(notice(Some("saved")).is_some());
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }

    #[test]
    fn charts_scale_to_the_peak() {
        let mut buckets = vec![0; 96];
        buckets[10] = 5;
        buckets[95] = 10;
        let e = developer::EndpointUsage {
            endpoint: "GET /2/users/me".into(),
            total: 15,
            buckets,
            window: developer::WindowUsage {
                requests: 10,
                app_limit: None,
                user_limit: Some(75),
                app_window: None,
                busiest_user_window: Some(developer::LiveWindowUsage {
                    requests: 10,
                    reset_ms: 900_000,
                    user_id: Snowflake::from_i64(7).ok(),
                }),
            },
        };
        let c = chart(&e, 0, 900_000, |_| Some("alice".to_owned()));
        assert_eq!(c.peak, 10);
        assert_eq!(c.bars[95].h, CHART_H - 4);
        assert_eq!(c.bars[10].h, (CHART_H - 4) / 2);
        assert_eq!(c.bars[0].h, 0);
        assert!(c.bars[95].current);
        assert!(c.limited);
        assert_eq!(c.windows.len(), 1);
        assert_eq!(c.windows[0].requests, 10);
        assert_eq!(c.windows[0].percent, 13);
        assert!(
            c.windows[0].label.contains("@alice"),
            "{}",
            c.windows[0].label
        );
    }
}
