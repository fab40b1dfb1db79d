//! The authorization endpoint and its browser pages (`GET`/`POST /i/oauth2/authorize`):
//! security checklist section A.

// Test helpers outside `#[test]` functions panic on purpose when the server misbehaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use roost::accounts::{self, AppSpec, CreatedApp};
use roost_domain::{ClientType, CodeChallenge, CodeVerifier, ScopeSet, TokenHash};

use crate::helpers::*;

/// Markup that must only ever appear escaped (checklist A16).
const XSS: &str = "<script>alert(1)</script>\"'><img src=x onerror=1>";
/// A `state` that would add a parameter and a fragment if it were not re-encoded (A6).
const TRICKY_STATE: &str = "a&code=evil#x %2F é";

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/// A browser whose cookie jar the test can read and plant cookies in.
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("browser");
        Self { client, jar }
    }

    fn cookie(&self, app: &TestApp, name: &str) -> Option<String> {
        let url: reqwest::Url = app.base.parse().expect("base url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    fn plant(&self, app: &TestApp, name: &str, value: &str) {
        let url: reqwest::Url = app.base.parse().expect("base url");
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Every HTML page: `text/html`, framing forbidden twice over (A10).
#[track_caller]
fn assert_page_headers(page: &Page) {
    assert!(
        header(&page.headers, "content-type").starts_with("text/html"),
        "content-type: {:?}",
        page.headers.get("content-type")
    );
    let csp = header(&page.headers, "content-security-policy");
    assert!(
        csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
        "CSP without frame-ancestors 'none': {csp:?}"
    );
    assert_eq!(header(&page.headers, "x-frame-options"), "DENY");
}

/// An HTML error page with `status`, no redirect, and `text` in it.
#[track_caller]
fn assert_error_page(page: &Page, status: u16, text: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_page_headers(page);
    assert!(
        page.headers.get(LOCATION).is_none(),
        "an error page must not redirect: {:?}",
        page.headers.get(LOCATION)
    );
    assert!(
        page.body.contains(text),
        "expected {text:?} in the page: {}",
        page.body
    );
}

fn is_login(page: &Page) -> bool {
    page.body.contains("name=\"username\"") && page.body.contains("name=\"password\"")
}

fn is_consent(page: &Page) -> bool {
    page.body.contains("name=\"decision\" value=\"allow\"")
        && page.body.contains("name=\"decision\" value=\"deny\"")
}

#[track_caller]
fn assert_login_page(page: &Page, status: u16) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_page_headers(page);
    assert!(is_login(page), "not the login page: {}", page.body);
    assert!(!is_consent(page), "login page shows consent: {}", page.body);
}

#[track_caller]
fn assert_consent_page(page: &Page) {
    assert_eq!(page.status, 200, "{}", page.body);
    assert_page_headers(page);
    assert!(is_consent(page), "not the consent page: {}", page.body);
}

async fn page_of(resp: reqwest::Response) -> Page {
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

/// The hidden fields of a login or consent form.
struct FormKeys {
    csrf: String,
    request: String,
}

#[track_caller]
fn keys_of(page: &Page) -> FormKeys {
    FormKeys {
        csrf: hidden(&page.body, "csrf_token").expect("csrf_token in page"),
        request: hidden(&page.body, "request").expect("request in page"),
    }
}

/// POST to the authorize endpoint with extra request headers.
async fn post_with(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Page {
    let mut req = client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    page_of(req.send().await.expect("POST")).await
}

async fn post(app: &TestApp, client: &reqwest::Client, fields: &[(&str, &str)]) -> Page {
    post_with(app, client, "/i/oauth2/authorize", fields, &[]).await
}

async fn login_post(
    app: &TestApp,
    client: &reqwest::Client,
    keys: &FormKeys,
    username: &str,
    password: &str,
) -> Page {
    post(
        app,
        client,
        &[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn decision_post(
    app: &TestApp,
    client: &reqwest::Client,
    keys: &FormKeys,
    decision: &str,
) -> Page {
    post(
        app,
        client,
        &[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("decision", decision),
        ],
    )
    .await
}

/// The query of a `Location` as ordered pairs (repeated names stay visible).
fn query_pairs(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn values<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn page_location(page: &Page) -> String {
    header(&page.headers, "location").to_owned()
}

/// An error redirect to `callback`: its query pairs. Asserts 302/303 and the callback prefix.
#[track_caller]
fn error_redirect(page: &Page, callback: &str) -> Vec<(String, String)> {
    assert!(
        page.status == 302 || page.status == 303,
        "expected a redirect, got {}: {}",
        page.status,
        page.body
    );
    let loc = page_location(page);
    assert!(
        loc.starts_with(callback),
        "redirect to {loc:?}, not to {callback:?}"
    );
    let pairs = query_pairs(&loc);
    assert!(values(&pairs, "code").is_empty(), "a code in {loc}");
    assert!(!loc.contains("access_token"), "a token in {loc}");
    assert!(!loc.contains('#'), "a fragment in {loc}");
    pairs
}

/// An error redirect to `CALLBACK` with `error` and the default state.
#[track_caller]
fn assert_error_redirect(page: &Page, error: &str) -> Vec<(String, String)> {
    let pairs = error_redirect(page, CALLBACK);
    assert_eq!(values(&pairs, "error"), [error], "{pairs:?}");
    assert_eq!(values(&pairs, "state"), ["state-123"], "{pairs:?}");
    let description = values(&pairs, "error_description");
    assert!(
        description.len() == 1 && !description[0].is_empty(),
        "error_description: {pairs:?}"
    );
    pairs
}

/// Signs `browser` in as `user` through the pages for `p`; returns the consent page.
async fn sign_in(app: &TestApp, b: &Browser, p: &AuthParams, user: &str) -> Page {
    let consent = app.login(&b.client, p, user).await;
    assert_consent_page(&consent);
    consent
}

/// In a signed-in browser: opens `p`, allows, returns the code from the callback.
async fn allow(app: &TestApp, b: &Browser, p: &AuthParams) -> String {
    let consent = app.get_page(&b.client, &app.authorize_url(p)).await;
    assert_consent_page(&consent);
    let resp = decision_post(app, &b.client, &keys_of(&consent), "allow").await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let pairs = query_pairs(&page_location(&resp));
    let codes = values(&pairs, "code");
    assert_eq!(codes.len(), 1, "{pairs:?}");
    codes[0].to_owned()
}

async fn create_app_in(
    app: &TestApp,
    name: &str,
    project: &str,
    ty: ClientType,
    callbacks: &[&str],
) -> CreatedApp {
    let callbacks: Vec<String> = callbacks.iter().map(|s| (*s).to_owned()).collect();
    let spec = AppSpec {
        name,
        project,
        client_type: ty,
        callbacks: &callbacks,
        fixed: None,
    };
    accounts::create_app(
        app.state.store.as_ref(),
        &app.state.ids,
        app.state.now(),
        spec,
    )
    .await
    .expect("create app")
}

/// Tables whose row count differs between two snapshots.
fn changed(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .collect()
}

/// `Set-Cookie` headers as (name, value, lower-cased attributes).
fn set_cookies(headers: &HeaderMap) -> Vec<(String, String, Vec<String>)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|s| {
            let mut parts = s.split(';').map(str::trim);
            let (name, value) = parts
                .next()
                .and_then(|nv| nv.split_once('='))
                .unwrap_or(("", ""));
            let attrs = parts.map(str::to_ascii_lowercase).collect();
            (name.to_owned(), value.to_owned(), attrs)
        })
        .collect()
}

fn sets_cookie(page: &Page, name: &str) -> bool {
    set_cookies(&page.headers)
        .iter()
        .any(|(n, v, _)| n == name && !v.is_empty())
}

#[track_caller]
fn assert_cookie_flags(cookie: &(String, String, Vec<String>), secure: bool) {
    let (name, _, attrs) = cookie;
    let has = |a: &str| attrs.iter().any(|x| x == a);
    assert!(has("httponly"), "{name}: {attrs:?}");
    assert!(has("samesite=lax"), "{name}: {attrs:?}");
    assert!(has("path=/"), "{name}: {attrs:?}");
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "{name}: {attrs:?}"
    );
    assert_eq!(has("secure"), secure, "{name}: {attrs:?}");
}

// ---------------------------------------------------------------------------------------------
// A1, A2: the client and its redirect_uri are checked first and never redirected to
// ---------------------------------------------------------------------------------------------

const REGISTERED: &str = "https://app.example/cb";

const NEAR_MISSES: &[&str] = &[
    "https://app.example/cb/",
    "https://app.example/cb/x",
    "https://app.example/cb?x=1",
    "https://app.example/cb#f",
    "https://APP.example/cb",
    "https://app.example:443/cb",
    "http://app.example/cb",
    "https://app.example/cb.evil.test",
    "https://app.example.evil.test/cb",
    "https://evil.test@app.example/cb",
    "https://app.example/cb/../other",
    "https://app.example/%63b",
    "https://app.example/CB",
    "https://app.example/c",
    " https://app.example/cb",
    "https://app.example/cb ",
    "//app.example/cb",
];

/// The error page sets the values its detail quotes (a callback URL, a client_id, an App's
/// name) as code, escaped, instead of showing a person the backticks of the log message.
#[tokio::test]
async fn error_page_sets_quoted_values_as_code() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read")
        .set("redirect_uri", Some("https://evil.test/cb?a=<b>"));
    let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
    assert_error_page(&page, 400, "is not among the callback URLs registered");
    let alert = page
        .body
        .split("<p class=\"alert\" role=\"alert\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .expect("alert paragraph");
    assert!(
        alert.contains(
            "The redirect_uri <code>https://evil.test/cb?a=&#60;b&#62;</code> is not among"
        ) || alert.contains(
            "The redirect_uri <code>https://evil.test/cb?a=&lt;b&gt;</code> is not among"
        ),
        "{alert}"
    );
    assert!(alert.contains("<code>Test Web App</code>"), "{alert}");
    assert!(!alert.contains('`'), "{alert}");

    let p = AuthParams::new("no-such-client", "tweet.read");
    let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
    assert_error_page(&page, 400, "No App has the client_id");
    assert!(
        page.body
            .contains("No App has the client_id <code>no-such-client</code>."),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn sec_a01_redirect_uri_exact_match() {
    let app = spawn_app().await;
    let exact = create_app_in(
        &app,
        "Exact App",
        "Exact Project",
        ClientType::Confidential,
        &[REGISTERED],
    )
    .await;
    let before = app.row_counts().await;
    for near in NEAR_MISSES {
        let p = AuthParams::new(&exact.client_id, "tweet.read").set("redirect_uri", Some(near));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        assert_error_page(&page, 400, "is not among the callback URLs registered");
        assert!(
            !set_cookies(&page.headers)
                .iter()
                .any(|(n, ..)| n.contains("session")),
            "{near}"
        );
    }
    assert_eq!(app.row_counts().await, before);

    // The loopback callback of the harness: no port, host or path leniency either.
    for near in [
        "http://127.0.0.1:8977/callback",
        "http://127.0.0.1/callback",
        "http://localhost:8976/callback",
        "http://[::1]:8976/callback",
        "http://127.0.0.1:8976/callback/",
        "http://127.0.0.1:8976/Callback",
        "https://127.0.0.1:8976/callback",
    ] {
        let p =
            AuthParams::new(&app.native.client_id, "tweet.read").set("redirect_uri", Some(near));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        assert_error_page(&page, 400, "is not among the callback URLs registered");
    }
    assert_eq!(app.row_counts().await, before);

    // The exact string is accepted, and the code goes to exactly that URL.
    let b = Browser::new();
    let p = AuthParams::new(&exact.client_id, "tweet.read").set("redirect_uri", Some(REGISTERED));
    let consent = sign_in(&app, &b, &p, "alice").await;
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "allow").await;
    assert_eq!(resp.status, 303);
    let loc = page_location(&resp);
    assert!(loc.starts_with("https://app.example/cb?"), "{loc}");
    assert_eq!(values(&query_pairs(&loc), "code").len(), 1);
}

#[tokio::test]
async fn sec_a01_non_ascii_callbacks_only_in_their_registered_ascii_spelling() {
    let app = spawn_app().await;
    // Registration refuses the raw spelling: it could never be sent back in a Location header.
    let callbacks = vec!["https://app.example/café".to_owned()];
    let refused = accounts::create_app(
        app.state.store.as_ref(),
        &app.state.ids,
        app.state.now(),
        AppSpec {
            name: "Raw",
            project: "Intl Project",
            client_type: ClientType::Public,
            callbacks: &callbacks,
            fixed: None,
        },
    )
    .await;
    assert!(refused.is_err(), "a non-ASCII callback was registered");
    let encoded = "https://app.example/caf%C3%A9";
    let intl = create_app_in(
        &app,
        "Intl App",
        "Intl Project",
        ClientType::Public,
        &[encoded],
    )
    .await;
    // Matching stays exact: the decoded form, other escapes' case, double encoding are not it.
    let before = app.row_counts().await;
    for near in [
        "https://app.example/café",
        "https://app.example/caf%c3%a9",
        "https://app.example/caf%25C3%25A9",
        "https://app.example/cafe%CC%81",
    ] {
        let p = AuthParams::new(&intl.client_id, "tweet.read").set("redirect_uri", Some(near));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        assert_error_page(&page, 400, "is not among the callback URLs registered");
        assert!(page.headers.get(LOCATION).is_none(), "{near}");
    }
    assert_eq!(app.row_counts().await, before);
    // The registered spelling works end to end: errors and the code go back to it.
    let p = AuthParams::new(&intl.client_id, "tweet.read").set("redirect_uri", Some(encoded));
    let bad = p.clone().set("state", None);
    let page = app.get_page(&app.http, &app.authorize_url(&bad)).await;
    let pairs = error_redirect(&page, &format!("{encoded}?"));
    assert_eq!(values(&pairs, "error"), ["invalid_request"]);
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "allow").await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let loc = page_location(&resp);
    assert!(loc.starts_with(&format!("{encoded}?")), "{loc}");
    let code = values(&query_pairs(&loc), "code")[0].to_owned();
    let r = crate::token::post_token(
        &app,
        crate::token::Cred::Body(&intl.client_id, None),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", encoded),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn sec_a02_never_redirect_for_unknown_client_or_unregistered_redirect_uri() {
    let app = spawn_app().await;
    let other = create_app_in(
        &app,
        "Other App",
        "Other Project",
        ClientType::Confidential,
        &["https://other.example/cb"],
    )
    .await;
    let web = app.web.client_id.clone();
    let ok = || AuthParams::new(&web, "tweet.read");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown client_id",
            app.authorize_url(&ok().set("client_id", Some("bm9zdWNoOjE6Y2k"))),
            "No App has the client_id",
        ),
        (
            "missing client_id",
            app.authorize_url(&ok().set("client_id", None)),
            "The request has no client_id",
        ),
        (
            "empty client_id",
            app.authorize_url(&ok().set("client_id", Some(""))),
            "The request has no client_id",
        ),
        (
            "client_id twice with different values",
            format!(
                "{}&client_id={}",
                app.authorize_url(&ok()),
                app.native.client_id
            ),
            "more than once",
        ),
        (
            "missing redirect_uri",
            app.authorize_url(&ok().set("redirect_uri", None)),
            "The request has no redirect_uri",
        ),
        (
            "empty redirect_uri",
            app.authorize_url(&ok().set("redirect_uri", Some(""))),
            "The request has no redirect_uri",
        ),
        (
            "redirect_uri registered for a different App",
            app.authorize_url(&ok().set("redirect_uri", Some("https://other.example/cb"))),
            "is not among the callback URLs registered",
        ),
        (
            "another App's client_id with this App's callback",
            app.authorize_url(&AuthParams::new(&other.client_id, "tweet.read")),
            "is not among the callback URLs registered",
        ),
        (
            "unregistered redirect_uri, and everything else wrong too",
            app.authorize_url(
                &ok()
                    .set("redirect_uri", Some("https://evil.test/cb"))
                    .set("response_type", Some("token"))
                    .set("scope", None)
                    .set("state", None)
                    .set("code_challenge", None),
            ),
            "is not among the callback URLs registered",
        ),
        (
            "unknown client_id, and everything else wrong too",
            app.authorize_url(
                &ok()
                    .set("client_id", Some("nope"))
                    .set("response_type", Some("token"))
                    .set("scope", Some("nonsense"))
                    .set("code_challenge_method", Some("S512")),
            ),
            "No App has the client_id",
        ),
        (
            "redirect_uri twice with different values",
            format!(
                "{}&redirect_uri={}",
                app.authorize_url(&ok()),
                "https%3A%2F%2Fevil.test%2Fcb"
            ),
            "more than once",
        ),
        (
            "malformed query",
            format!("{}&scope=%ZZ", app.authorize_url(&ok().set("scope", None))),
            "malformed",
        ),
    ];
    let before = app.row_counts().await;
    for path in ["/i/oauth2/authorize", "/2/oauth2/authorize"] {
        for (what, url, text) in &cases {
            let url = url.replacen("/i/oauth2/authorize", path, 1);
            let b = browser();
            let page = app.get_page(&b, &url).await;
            assert_error_page(&page, 400, text);
            assert!(
                page.body
                    .contains("This authorization request is not valid"),
                "{what}: {}",
                page.body
            );
            assert!(!is_login(&page) && !is_consent(&page), "{what}");
            assert!(!page.body.contains("csrf_token"), "{what}");
        }
    }
    // A signed-in browser gets the same page, not a consent page.
    let b = Browser::new();
    sign_in(&app, &b, &ok(), "alice").await;
    let before_signed_in = app.row_counts().await;
    for (what, url, text) in &cases {
        let page = app.get_page(&b.client, url).await;
        assert_error_page(&page, 400, text);
        assert!(!is_consent(&page), "{what}");
    }
    assert_eq!(app.row_counts().await, before_signed_in);
    assert_eq!(
        changed(&before, &before_signed_in)
            .keys()
            .collect::<Vec<_>>(),
        ["sessions"]
    );
}

// ---------------------------------------------------------------------------------------------
// A4, A5, A6: errors after validation go back to the client, with the state
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a04_errors_after_validation_redirect_with_error_and_state() {
    let app = spawn_app().await;
    let with_query = "http://127.0.0.1:8976/callback?tenant=acme&lang=en";
    let tenant = create_app_in(
        &app,
        "Tenant App",
        "Tenant Project",
        ClientType::Public,
        &[with_query],
    )
    .await;
    let base =
        || AuthParams::new(&tenant.client_id, "tweet.read").set("redirect_uri", Some(with_query));
    let cases: Vec<(&str, AuthParams, &str)> = vec![
        (
            "response_type=token",
            base().set("response_type", Some("token")),
            "unsupported_response_type",
        ),
        (
            "response_type missing",
            base().set("response_type", None),
            "invalid_request",
        ),
        ("scope missing", base().set("scope", None), "invalid_scope"),
        (
            "scope empty",
            base().set("scope", Some("")),
            "invalid_scope",
        ),
        (
            "scope blank",
            base().set("scope", Some("  ")),
            "invalid_scope",
        ),
        (
            "scope unknown",
            base().set("scope", Some("tweet.read tweet.delete")),
            "invalid_scope",
        ),
        (
            "scope wrong case",
            base().set("scope", Some("Tweet.Read")),
            "invalid_scope",
        ),
        (
            "state missing",
            base().set("state", None),
            "invalid_request",
        ),
        (
            "state empty",
            base().set("state", Some("")),
            "invalid_request",
        ),
        (
            "code_challenge missing",
            base().set("code_challenge", None),
            "invalid_request",
        ),
        (
            "code_challenge malformed",
            base().set("code_challenge", Some("short")),
            "invalid_request",
        ),
        (
            "code_challenge_method unknown",
            base().set("code_challenge_method", Some("S512")),
            "invalid_request",
        ),
    ];
    let before = app.row_counts().await;
    for (what, p, error) in &cases {
        let page = app.get_page(&app.http, &app.authorize_url(p)).await;
        let prefix = format!("{with_query}&");
        let pairs = error_redirect(&page, &prefix);
        assert_eq!(values(&pairs, "tenant"), ["acme"], "{what}: {pairs:?}");
        assert_eq!(values(&pairs, "lang"), ["en"], "{what}: {pairs:?}");
        assert_eq!(values(&pairs, "error"), [*error], "{what}: {pairs:?}");
        let description = values(&pairs, "error_description");
        assert!(
            description.len() == 1 && !description[0].is_empty(),
            "{what}: {pairs:?}"
        );
        let state_given = p.pairs.iter().any(|(k, v)| k == "state" && !v.is_empty());
        if state_given {
            assert_eq!(values(&pairs, "state"), ["state-123"], "{what}: {pairs:?}");
        } else {
            assert!(values(&pairs, "state").is_empty(), "{what}: {pairs:?}");
        }
    }
    assert_eq!(app.row_counts().await, before);

    // The success and denial redirects keep the registered query too.
    let b = Browser::new();
    let consent = sign_in(&app, &b, &base(), "alice").await;
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "deny").await;
    let pairs = error_redirect(&resp, &format!("{with_query}&"));
    assert_eq!(values(&pairs, "tenant"), ["acme"]);
    assert_eq!(values(&pairs, "error"), ["access_denied"]);
    let code = allow(&app, &b, &base()).await;
    assert!(!code.is_empty());
}

#[tokio::test]
async fn sec_a05_no_implicit_or_hybrid_flow() {
    let app = spawn_app().await;
    let before = app.row_counts().await;
    for client in [&app.web.client_id, &app.native.client_id] {
        for rt in [
            "token",
            "code token",
            "code id_token",
            "id_token",
            "token code",
            "CODE",
            "code ",
        ] {
            let p = AuthParams::new(client, "tweet.read").set("response_type", Some(rt));
            let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
            let loc = page_location(&page);
            assert_error_redirect(&page, "unsupported_response_type");
            assert!(!loc.contains("token="), "{rt}: {loc}");
        }
    }
    // A signed-in browser gets no token either.
    let b = Browser::new();
    sign_in(
        &app,
        &b,
        &AuthParams::new(&app.web.client_id, "tweet.read"),
        "alice",
    )
    .await;
    let counts = app.row_counts().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read").set("response_type", Some("token"));
    let page = app.get_page(&b.client, &app.authorize_url(&p)).await;
    assert_error_redirect(&page, "unsupported_response_type");
    assert_eq!(app.row_counts().await, counts);
    assert_eq!(
        changed(&before, &counts).keys().collect::<Vec<_>>(),
        ["sessions"]
    );
}

#[tokio::test]
async fn sec_a06_state_echoed_exactly_on_success_denial_and_error() {
    let app = spawn_app().await;
    let b = Browser::new();
    let p = AuthParams::new(&app.web.client_id, "tweet.read users.read")
        .set("state", Some(TRICKY_STATE));

    // Success: exactly one code (the real one) and the state as sent.
    let consent = sign_in(&app, &b, &p, "alice").await;
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "allow").await;
    assert_eq!(resp.status, 303);
    let loc = page_location(&resp);
    assert!(!loc.contains('#'), "{loc}");
    let pairs = query_pairs(&loc);
    assert_eq!(values(&pairs, "state"), [TRICKY_STATE], "{loc}");
    let codes = values(&pairs, "code");
    assert_eq!(codes.len(), 1, "{loc}");
    assert_ne!(codes[0], "evil");
    assert_eq!(pairs.len(), 2, "{loc}");
    let (status, body) = app.exchange(codes[0], &p.verifier).await;
    assert_eq!(status, 200, "{body}");

    // Denial.
    let consent = app.get_page(&b.client, &app.authorize_url(&p)).await;
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "deny").await;
    let pairs = error_redirect(&resp, CALLBACK);
    assert_eq!(values(&pairs, "state"), [TRICKY_STATE]);
    assert_eq!(values(&pairs, "error"), ["access_denied"]);

    // Error after validation.
    let bad = p.clone().set("scope", Some("nonsense"));
    let page = app.get_page(&app.http, &app.authorize_url(&bad)).await;
    let pairs = error_redirect(&page, CALLBACK);
    assert_eq!(values(&pairs, "state"), [TRICKY_STATE]);
    assert_eq!(values(&pairs, "error"), ["invalid_scope"]);

    // Line breaks cannot split the Location header.
    let crlf = "x\r\nSet-Cookie: evil=1";
    let bad = p.clone().set("scope", None).set("state", Some(crlf));
    let page = app.get_page(&app.http, &app.authorize_url(&bad)).await;
    let pairs = error_redirect(&page, CALLBACK);
    assert_eq!(values(&pairs, "state"), [crlf]);
    assert!(!set_cookies(&page.headers).iter().any(|(n, ..)| n == "evil"));
}

#[tokio::test]
async fn sec_a06_state_longer_than_500_characters_is_refused() {
    let app = spawn_app().await;
    let before = app.row_counts().await;
    for unit in ["a", "é"] {
        let p =
            AuthParams::new(&app.web.client_id, "tweet.read").set("state", Some(&unit.repeat(500)));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        assert_login_page(&page, 200);

        let p = p.set("state", Some(&unit.repeat(501)));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        let pairs = error_redirect(&page, CALLBACK);
        assert_eq!(values(&pairs, "error"), ["invalid_request"], "{unit}");
        assert!(
            values(&pairs, "error_description")
                .first()
                .is_some_and(|d| d.contains("500")),
            "{pairs:?}"
        );
    }
    assert_eq!(app.row_counts().await, before);

    // A 500-character state survives login and consent intact.
    let long = "é".repeat(250) + &"~".repeat(250);
    let p = AuthParams::new(&app.web.client_id, "tweet.read").set("state", Some(&long));
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "allow").await;
    let pairs = query_pairs(&page_location(&resp));
    assert_eq!(values(&pairs, "state"), [long.as_str()]);
    assert_eq!(values(&pairs, "code").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// A7, A8, A9: PKCE
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a07_pkce_required_for_every_client() {
    let app = spawn_app().await;
    let before = app.row_counts().await;
    for client in [&app.web.client_id, &app.native.client_id] {
        let p = AuthParams::new(client, "tweet.read");
        for bad in [
            p.clone().set("code_challenge", None),
            p.clone()
                .set("code_challenge", None)
                .set("code_challenge_method", None),
            p.clone().set("code_challenge", Some("")),
            p.clone()
                .set("code_challenge", None)
                .set("code_challenge_method", Some("plain")),
        ] {
            let page = app.get_page(&app.http, &app.authorize_url(&bad)).await;
            let pairs = assert_error_redirect(&page, "invalid_request");
            assert!(
                values(&pairs, "error_description")[0].contains("code_challenge"),
                "{pairs:?}"
            );
        }
        // The same request with a challenge is fine.
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        assert_login_page(&page, 200);
    }
    assert_eq!(app.row_counts().await, before);
}

/// A 43-character S256 challenge that is also a well-formed `plain` challenge.
fn s256_challenge() -> (String, String) {
    let verifier = CodeVerifier::random();
    let challenge = CodeChallenge::s256_of(&verifier);
    (
        verifier.secret_str().to_owned(),
        challenge.as_str().to_owned(),
    )
}

#[tokio::test]
async fn sec_a08_code_challenge_method_table_x_mode() {
    let app = spawn_app().await;
    let (_, challenge) = s256_challenge();
    let with = |method: Option<&str>, challenge: &str| {
        AuthParams::new(&app.web.client_id, "tweet.read")
            .set("code_challenge", Some(challenge))
            .set("code_challenge_method", method)
    };
    let before = app.row_counts().await;
    for (method, ch) in [
        (Some("S256"), challenge.as_str()),
        (Some("s256"), challenge.as_str()),
        (Some("plain"), "challenge"),
        (Some("PLAIN"), "challenge"),
        (Some("plain"), challenge.as_str()),
        (None, "challenge"),
        (None, challenge.as_str()),
    ] {
        let page = app
            .get_page(&app.http, &app.authorize_url(&with(method, ch)))
            .await;
        assert_login_page(&page, 200);
    }
    for method in [
        "S512",
        "sha256",
        "SHA256",
        "",
        "S-256",
        " S256",
        "S256 ",
        "plain S256",
    ] {
        let page = app
            .get_page(
                &app.http,
                &app.authorize_url(&with(Some(method), &challenge)),
            )
            .await;
        let pairs = assert_error_redirect(&page, "invalid_request");
        assert!(
            values(&pairs, "error_description")[0].contains("code_challenge_method"),
            "{method:?}: {pairs:?}"
        );
    }
    assert_eq!(app.row_counts().await, before);

    // The method is recorded with the code and used at the token endpoint.
    let b = Browser::new();
    sign_in(&app, &b, &with(Some("S256"), &challenge), "alice").await;

    // Lowercase s256 is S256: the verifier (not the challenge) redeems the code.
    let (verifier, ch) = s256_challenge();
    let code = allow(&app, &b, &with(Some("s256"), &ch)).await;
    let (status, body) = app.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let code = allow(&app, &b, &with(Some("s256"), &ch)).await;
    let (status, body) = app.exchange(&code, &ch).await;
    assert_eq!(status, 400, "s256 code redeemed with its challenge: {body}");

    // An absent method is plain: the challenge itself is the verifier.
    let (_, plain) = s256_challenge();
    let code = allow(&app, &b, &with(None, &plain)).await;
    let (status, body) = app.exchange(&code, &plain).await;
    assert_eq!(status, 200, "{body}");

    // X's documented example: plain with the verifier `challenge`.
    let code = allow(&app, &b, &with(Some("plain"), "challenge")).await;
    let (status, body) = app.exchange(&code, "challenge").await;
    assert_eq!(status, 200, "{body}");

    // A code issued for S256 cannot be redeemed with the challenge as verifier, whatever
    // method the token request claims.
    let (_, ch) = s256_challenge();
    let code = allow(&app, &b, &with(Some("S256"), &ch)).await;
    let counts = app.row_counts().await;
    let secret = app.web.client_secret.clone();
    for extra in [None, Some("plain")] {
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", ch.as_str()),
        ];
        if let Some(m) = extra {
            fields.push(("code_challenge_method", m));
        }
        let (status, body, _) = app
            .token(&app.web.client_id, secret.as_deref(), &fields)
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert_eq!(
            body["error_description"],
            "Value passed for the code verifier did not match the code challenge.",
            "{body}"
        );
    }
    assert_eq!(app.row_counts().await, counts);
}

#[tokio::test]
async fn sec_a08_code_challenge_method_table_strict_mode() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let (_, challenge) = s256_challenge();
    let with = |method: Option<&str>, challenge: &str| {
        AuthParams::new(&app.web.client_id, "tweet.read")
            .set("code_challenge", Some(challenge))
            .set("code_challenge_method", method)
    };
    let before = app.row_counts().await;
    for method in ["S256", "s256"] {
        let page = app
            .get_page(
                &app.http,
                &app.authorize_url(&with(Some(method), &challenge)),
            )
            .await;
        assert_login_page(&page, 200);
    }
    for (method, ch) in [
        (Some("plain"), challenge.as_str()),
        (Some("plain"), "challenge"),
        (Some("PLAIN"), challenge.as_str()),
        (None, challenge.as_str()),
        (Some(""), challenge.as_str()),
        (Some("S512"), challenge.as_str()),
        (Some("sha256"), challenge.as_str()),
    ] {
        let page = app
            .get_page(&app.http, &app.authorize_url(&with(method, ch)))
            .await;
        let pairs = assert_error_redirect(&page, "invalid_request");
        assert!(
            values(&pairs, "error_description")[0].contains("code_challenge_method"),
            "{method:?}: {pairs:?}"
        );
    }
    assert_eq!(app.row_counts().await, before);

    let b = Browser::new();
    let (verifier, ch) = s256_challenge();
    let p = with(Some("S256"), &ch);
    sign_in(&app, &b, &p, "alice").await;
    let code = allow(&app, &b, &p).await;
    let counts = app.row_counts().await;
    let (status, body) = app.exchange(&code, &ch).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(app.row_counts().await, counts);
    let code = allow(&app, &b, &p).await;
    let (status, body) = app.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn sec_a09_code_challenge_format() {
    let app = spawn_app().await;
    let (_, ok) = s256_challenge();
    let before = app.row_counts().await;
    let s256_bad = [
        ok[..42].to_owned(),
        format!("{ok}A"),
        format!("{}=", &ok[..42]),
        format!("{}=", &ok[..43]),
        format!("{}+{}", &ok[..20], &ok[21..]),
        format!("{}/{}", &ok[..20], &ok[21..]),
        format!("{} {}", &ok[..20], &ok[21..]),
        format!("{}.{}", &ok[..20], &ok[21..]),
        format!("{}~{}", &ok[..20], &ok[21..]),
        format!("{}é", &ok[..41]),
        "A".repeat(128),
    ];
    for bad in &s256_bad {
        let p =
            AuthParams::new(&app.native.client_id, "tweet.read").set("code_challenge", Some(bad));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        let pairs = assert_error_redirect(&page, "invalid_request");
        assert!(
            values(&pairs, "error_description")[0].contains("code_challenge"),
            "{bad:?}: {pairs:?}"
        );
    }
    let plain_bad = [
        "abc def".to_owned(),
        "abc+def".to_owned(),
        "abc/def".to_owned(),
        "abc=".to_owned(),
        "abcé".to_owned(),
        "a".repeat(257),
    ];
    for bad in &plain_bad {
        let p = AuthParams::new(&app.native.client_id, "tweet.read")
            .set("code_challenge", Some(bad))
            .set("code_challenge_method", Some("plain"));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        assert_error_redirect(&page, "invalid_request");
    }
    assert_eq!(app.row_counts().await, before);

    // The edges that are fine: 43 base64url characters for S256; 1 to 256 unreserved
    // characters for plain in X mode.
    for (method, ch) in [
        ("S256", ok.clone()),
        ("S256", "-_".repeat(21) + "A"),
        ("plain", "a".to_owned()),
        ("plain", "a".repeat(256)),
        ("plain", "Az09-._~".to_owned()),
    ] {
        let p = AuthParams::new(&app.native.client_id, "tweet.read")
            .set("code_challenge", Some(&ch))
            .set("code_challenge_method", Some(method));
        let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
        assert_login_page(&page, 200);
    }
}

// ---------------------------------------------------------------------------------------------
// A10: framing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a10_every_page_forbids_framing() {
    let app = spawn_app().await;
    let b = Browser::new();
    let p = AuthParams::new(&app.web.client_id, "tweet.read");

    let login = app.get_page(&b.client, &app.authorize_url(&p)).await;
    assert_login_page(&login, 200);
    let keys = keys_of(&login);
    let wrong = login_post(&app, &b.client, &keys, "alice", "nope").await;
    assert_login_page(&wrong, 401);
    let forbidden = login_post(
        &app,
        &b.client,
        &FormKeys {
            csrf: "x".into(),
            request: keys.request.clone(),
        },
        "alice",
        PASSWORD,
    )
    .await;
    assert_error_page(&forbidden, 403, "anti-forgery token");
    let stale = login_post(
        &app,
        &b.client,
        &FormKeys {
            csrf: keys.csrf.clone(),
            request: "x.y".into(),
        },
        "alice",
        PASSWORD,
    )
    .await;
    assert_error_page(&stale, 400, "This page has expired");
    let error = app
        .get_page(
            &b.client,
            &app.authorize_url(&p.clone().set("client_id", Some("nope"))),
        )
        .await;
    assert_error_page(&error, 400, "No App has the client_id");

    let consent = sign_in(&app, &b, &p, "alice").await;
    assert_page_headers(&consent);
}

// ---------------------------------------------------------------------------------------------
// A11, A12: forged and cross-site form posts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a11_login_form_csrf() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let a = Browser::new();
    let login_a = app.get_page(&a.client, &app.authorize_url(&p)).await;
    let keys_a = keys_of(&login_a);
    let other = Browser::new();
    let login_other = app.get_page(&other.client, &app.authorize_url(&p)).await;
    let keys_other = keys_of(&login_other);
    assert_ne!(keys_a.csrf, keys_other.csrf);

    let before = app.row_counts().await;
    let rows: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "missing token",
            vec![
                ("request", &keys_a.request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        ),
        (
            "empty token",
            vec![
                ("csrf_token", ""),
                ("request", &keys_a.request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        ),
        (
            "wrong token",
            vec![
                ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("request", &keys_a.request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        ),
        (
            "another browser's token",
            vec![
                ("csrf_token", &keys_other.csrf),
                ("request", &keys_a.request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        ),
        (
            "another browser's token and request",
            vec![
                ("csrf_token", &keys_other.csrf),
                ("request", &keys_other.request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        ),
    ];
    for (what, fields) in &rows {
        let page = post(&app, &a.client, fields).await;
        assert_error_page(&page, 403, "anti-forgery token is missing or wrong");
        assert!(!sets_cookie(&page, "roost_session"), "{what}");
        assert_eq!(app.row_counts().await, before, "{what}");
    }
    // Without the browser cookie the token cannot be checked at all.
    let page = post(
        &app,
        &app.http,
        &[
            ("csrf_token", &keys_a.csrf),
            ("request", &keys_a.request),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_error_page(&page, 403, "cookie");
    assert!(!sets_cookie(&page, "roost_session"));
    assert_eq!(app.row_counts().await, before);
    let consent = app.get_page(&a.client, &app.authorize_url(&p)).await;
    assert_login_page(&consent, 200);

    // The right token signs in.
    let page = login_post(&app, &a.client, &keys_a, "alice", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(sets_cookie(&page, "roost_session"));
    assert_eq!(
        changed(&before, &app.row_counts().await),
        BTreeMap::from([("sessions".to_owned(), 1)])
    );
}

#[tokio::test]
async fn sec_a11_consent_form_csrf() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let a = Browser::new();
    let consent = sign_in(&app, &a, &p, "alice").await;
    let keys = keys_of(&consent);
    let other = Browser::new();
    let other_keys = keys_of(&app.get_page(&other.client, &app.authorize_url(&p)).await);

    let before = app.row_counts().await;
    for decision in ["allow", "deny"] {
        let rows: Vec<(&str, Vec<(&str, &str)>)> = vec![
            (
                "missing token",
                vec![("request", &keys.request), ("decision", decision)],
            ),
            (
                "wrong token",
                vec![
                    ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                    ("request", &keys.request),
                    ("decision", decision),
                ],
            ),
            (
                "another browser's token",
                vec![
                    ("csrf_token", &other_keys.csrf),
                    ("request", &keys.request),
                    ("decision", decision),
                ],
            ),
        ];
        for (what, fields) in &rows {
            let page = post(&app, &a.client, fields).await;
            assert_error_page(&page, 403, "anti-forgery token is missing or wrong");
            assert_eq!(app.row_counts().await, before, "{decision}: {what}");
        }
    }
    // The logout form is protected too: the session survives.
    let page = post(
        &app,
        &a.client,
        &[("request", &keys.request), ("logout", "1")],
    )
    .await;
    assert_error_page(&page, 403, "anti-forgery token");
    assert_eq!(app.row_counts().await, before);

    // The pending request was not used up by the refused posts.
    let resp = decision_post(&app, &a.client, &keys, "allow").await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(values(&query_pairs(&page_location(&resp)), "code").len(), 1);
    assert_eq!(
        app.row_counts().await["authorization_codes"],
        before["authorization_codes"] + 1
    );
}

#[tokio::test]
async fn sec_a12_cross_site_posts_refused() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let login = app.get_page(&b.client, &app.authorize_url(&p)).await;
    let keys = keys_of(&login);
    let login_fields = [
        ("csrf_token", keys.csrf.as_str()),
        ("request", keys.request.as_str()),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let cross: [&[(&str, &str)]; 5] = [
        &[("origin", "https://evil.test")],
        &[("origin", "null")],
        &[("origin", &app.base.replace("127.0.0.1", "localhost"))],
        &[("sec-fetch-site", "cross-site")],
        &[("origin", &app.base), ("sec-fetch-site", "cross-site")],
    ];
    let before = app.row_counts().await;
    for headers in cross {
        let page = post_with(
            &app,
            &b.client,
            "/i/oauth2/authorize",
            &login_fields,
            headers,
        )
        .await;
        assert_error_page(&page, 403, "posted from another site");
        assert!(!sets_cookie(&page, "roost_session"), "{headers:?}");
        assert_eq!(app.row_counts().await, before, "{headers:?}");
    }
    // Same origin (as a browser sends it) is fine.
    let page = post_with(
        &app,
        &b.client,
        "/i/oauth2/authorize",
        &login_fields,
        &[("origin", &app.base), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let consent = app.get_page(&b.client, &page_location(&page)).await;
    assert_consent_page(&consent);

    let keys = keys_of(&consent);
    let allow_fields = [
        ("csrf_token", keys.csrf.as_str()),
        ("request", keys.request.as_str()),
        ("decision", "allow"),
    ];
    let before = app.row_counts().await;
    for headers in cross {
        let page = post_with(
            &app,
            &b.client,
            "/i/oauth2/authorize",
            &allow_fields,
            headers,
        )
        .await;
        assert_error_page(&page, 403, "posted from another site");
        assert_eq!(app.row_counts().await, before, "{headers:?}");
    }
    let page = post_with(
        &app,
        &b.client,
        "/i/oauth2/authorize",
        &allow_fields,
        &[("origin", &app.base)],
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(values(&query_pairs(&page_location(&page)), "code").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// A13, A14, A15, A17: consent
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a13_consent_without_a_pending_request_is_refused() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    let keys = keys_of(&consent);
    let before = app.row_counts().await;
    for request in [None, Some(""), Some("garbage"), Some("a.b")] {
        let mut fields = vec![("csrf_token", keys.csrf.as_str()), ("decision", "allow")];
        if let Some(r) = request {
            fields.push(("request", r));
        }
        let page = post(&app, &b.client, &fields).await;
        assert_error_page(&page, 400, "This page has expired");
        assert_eq!(app.row_counts().await, before, "{request:?}");
    }
    // A browser that never opened the authorize URL has no cookie and gets 403.
    let page = post(&app, &browser(), &[("decision", "allow")]).await;
    assert_error_page(&page, 403, "cookie");
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_a13_consent_with_another_browsers_request_is_refused() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read users.read");
    let alice = Browser::new();
    let alice_keys = keys_of(&sign_in(&app, &alice, &p, "alice").await);
    let bob = Browser::new();
    let bob_keys = keys_of(&sign_in(&app, &bob, &p, "bob").await);

    let before = app.row_counts().await;
    for decision in ["allow", "deny"] {
        let stolen = FormKeys {
            csrf: bob_keys.csrf.clone(),
            request: alice_keys.request.clone(),
        };
        let page = decision_post(&app, &bob.client, &stolen, decision).await;
        assert_error_page(&page, 400, "This page has expired");
        assert_eq!(app.row_counts().await, before);
    }
    // Each browser's own request still works, and gives that browser's user.
    let resp = decision_post(&app, &alice.client, &alice_keys, "allow").await;
    let code = values(&query_pairs(&page_location(&resp)), "code")[0].to_owned();
    let (status, tokens) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let me: serde_json::Value = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "alice");
}

#[tokio::test]
async fn sec_a13_tampered_request_is_refused_and_form_fields_change_nothing() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&sign_in(&app, &b, &p, "alice").await);
    let (body, tag) = keys.request.split_once('.').expect("sealed request");

    // A signed request whose content was changed.
    let mut json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
    let mut forged = Vec::new();
    for (field, value) in [
        ("r", serde_json::json!("https://evil.test/cb")),
        ("st", serde_json::json!("forged")),
        ("e", serde_json::json!(i64::MAX)),
    ] {
        let mut j = json.clone();
        assert!(j.get(field).is_some(), "request has no `{field}`: {json}");
        j[field] = value;
        forged.push(format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&j).unwrap())
        ));
    }
    json["s"] = serde_json::json!("tweet.read tweet.write dm.write");
    forged.push(format!(
        "{}.{tag}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
    ));
    // A bit flipped in the signature, and a request without one.
    let mut flipped = tag.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    forged.push(format!("{body}.{}", String::from_utf8(flipped).unwrap()));
    forged.push(body.to_owned());
    forged.push(format!("{body}."));

    let before = app.row_counts().await;
    for request in &forged {
        let page = decision_post(
            &app,
            &b.client,
            &FormKeys {
                csrf: keys.csrf.clone(),
                request: request.clone(),
            },
            "allow",
        )
        .await;
        assert_error_page(&page, 400, "This page has expired");
        assert_eq!(app.row_counts().await, before);
    }

    // Extra hidden fields naming another callback, scope, state or App are ignored.
    let page = post(
        &app,
        &b.client,
        &[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("decision", "allow"),
            ("redirect_uri", "https://evil.test/cb"),
            ("scope", "tweet.read tweet.write dm.read offline.access"),
            ("state", "forged"),
            ("client_id", &app.native.client_id),
            ("code_challenge", "challenge"),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let loc = page_location(&page);
    assert!(loc.starts_with(&format!("{CALLBACK}?")), "{loc}");
    let pairs = query_pairs(&loc);
    assert_eq!(values(&pairs, "state"), ["state-123"]);
    let (status, tokens) = app.exchange(values(&pairs, "code")[0], &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "tweet.read");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

#[tokio::test]
async fn sec_a13_request_is_single_use() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&sign_in(&app, &b, &p, "alice").await);
    let before = app.row_counts().await;
    let first = decision_post(&app, &b.client, &keys, "allow").await;
    assert_eq!(first.status, 303, "{}", first.body);
    let after_first = app.row_counts().await;
    assert_eq!(
        after_first["authorization_codes"],
        before["authorization_codes"] + 1
    );
    for decision in ["allow", "deny"] {
        let again = decision_post(&app, &b.client, &keys, decision).await;
        assert_error_page(&again, 400, "This page has expired");
        assert_eq!(app.row_counts().await, after_first, "{decision}");
    }

    // Deny uses the request up as well.
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let deny = decision_post(&app, &b.client, &keys, "deny").await;
    assert_eq!(deny.status, 303);
    let counts = app.row_counts().await;
    let again = decision_post(&app, &b.client, &keys, "allow").await;
    assert_error_page(&again, 400, "This page has expired");
    assert_eq!(app.row_counts().await, counts);

    // Two posts racing for one request: exactly one code.
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let counts = app.row_counts().await;
    let (x, y) = tokio::join!(
        decision_post(&app, &b.client, &keys, "allow"),
        decision_post(&app, &b.client, &keys, "allow")
    );
    let mut statuses = [x.status.as_u16(), y.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 400]);
    assert_eq!(
        app.row_counts().await["authorization_codes"],
        counts["authorization_codes"] + 1
    );
}

#[tokio::test]
async fn sec_a13_request_expires() {
    let app = spawn_app().await;
    let ttl_ms = app.state.config.oauth.authorization_request_ttl as i64 * 1000;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&sign_in(&app, &b, &p, "alice").await);
    // A login form left open expires as well.
    let other = Browser::new();
    let login_keys = keys_of(&app.get_page(&other.client, &app.authorize_url(&p)).await);

    app.clock.advance_ms(ttl_ms + 1000);
    let before = app.row_counts().await;
    let page = decision_post(&app, &b.client, &keys, "allow").await;
    assert_error_page(&page, 400, "This page has expired");
    let page = login_post(&app, &other.client, &login_keys, "alice", PASSWORD).await;
    assert_error_page(&page, 400, "This page has expired");
    assert!(!sets_cookie(&page, "roost_session"));
    assert_eq!(app.row_counts().await, before);

    // Opening the authorize URL again gives a fresh request.
    let code = allow(&app, &b, &p).await;
    let (status, body) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn sec_a13_request_still_valid_just_before_expiry() {
    let app = spawn_app().await;
    let ttl_ms = app.state.config.oauth.authorization_request_ttl as i64 * 1000;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&sign_in(&app, &b, &p, "alice").await);
    app.clock.advance_ms(ttl_ms - 1000);
    let page = decision_post(&app, &b.client, &keys, "allow").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(values(&query_pairs(&page_location(&page)), "code").len(), 1);
}

#[tokio::test]
async fn sec_a14_second_authorization_still_shows_consent() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read users.read");
    let b = Browser::new();
    sign_in(&app, &b, &p, "alice").await;
    let code = allow(&app, &b, &p).await;
    let (status, body) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 200, "{body}");
    // Same App, same user, same scopes: still a consent page, not a redirect with a code.
    for _ in 0..2 {
        let before = app.row_counts().await;
        let page = app.get_page(&b.client, &app.authorize_url(&p)).await;
        assert_consent_page(&page);
        assert!(page.headers.get(LOCATION).is_none());
        assert_eq!(app.row_counts().await, before);
    }
}

#[tokio::test]
async fn sec_a15_consent_page_names_app_project_and_each_scope() {
    let app = spawn_app().await;
    let scope = "tweet.read users.read follows.read offline.access like.write";
    let p = AuthParams::new(&app.web.client_id, scope);
    let b = Browser::new();
    let page = sign_in(&app, &b, &p, "alice").await;
    assert!(page.body.contains("Test Web App"), "{}", page.body);
    assert!(page.body.contains("Test Project"), "{}", page.body);
    assert!(page.body.contains("Alice Example") && page.body.contains("@alice"));
    assert!(page.body.contains("http://127.0.0.1:8976"), "{}", page.body);
    let set = ScopeSet::parse(scope).unwrap();
    let list = page
        .body
        .split("<ul class=\"scopes\">")
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .expect("scope list");
    assert_eq!(list.matches("<li>").count(), set.iter().count(), "{list}");
    for s in set.iter() {
        let line = list
            .lines()
            .find(|l| l.contains(&format!("<code>{}</code>", s.as_str())))
            .unwrap_or_else(|| panic!("no line for {s}: {list}"));
        assert!(line.contains(s.description()), "{line}");
    }
    // Unrequested scopes are not listed.
    assert!(!list.contains("dm.read") && !list.contains("tweet.write"));

    // The login page names the App and its Project as well: a person deciding whether to type
    // a password sees who asks.
    let login = app.get_page(&browser(), &app.authorize_url(&p)).await;
    assert_login_page(&login, 200);
    assert!(login.body.contains("Test Web App"), "{}", login.body);
    assert!(login.body.contains("Test Project"), "{}", login.body);
}

#[tokio::test]
async fn sec_a17_deny_creates_no_code_or_grant() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.native.client_id, "tweet.read offline.access");
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    let before = app.row_counts().await;
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "deny").await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let loc = page_location(&resp);
    assert!(loc.starts_with(&format!("{CALLBACK}?")), "{loc}");
    let pairs = error_redirect(&resp, CALLBACK);
    assert_eq!(
        pairs,
        [
            ("error".to_owned(), "access_denied".to_owned()),
            ("state".to_owned(), "state-123".to_owned())
        ]
    );
    // Only the request is marked as decided.
    assert_eq!(
        changed(&before, &app.row_counts().await),
        BTreeMap::from([("consumed_requests".to_owned(), 1)])
    );
    // An unknown decision is refused and does not use the request up.
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let counts = app.row_counts().await;
    for decision in ["", "yes", "ALLOW"] {
        let page = decision_post(&app, &b.client, &keys, decision).await;
        assert_error_page(&page, 403, "allow or deny");
    }
    assert_eq!(app.row_counts().await, counts);
}

// ---------------------------------------------------------------------------------------------
// A16: escaping
// ---------------------------------------------------------------------------------------------

/// The page with the entity spellings of `<` and `>` unified to `&lt;` and `&gt;`.
fn unify_entities(body: &str) -> String {
    body.replace("&#60;", "&lt;")
        .replace("&#x3c;", "&lt;")
        .replace("&#x3C;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#x3e;", "&gt;")
        .replace("&#x3E;", "&gt;")
}

#[track_caller]
fn assert_escaped(page: &Page) {
    for raw in ["<script>", "<img", "onerror=1>", "\"'>"] {
        assert!(
            !page.body.contains(raw),
            "raw {raw:?} in page: {}",
            page.body
        );
    }
    assert!(
        unify_entities(&page.body).contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped form missing: {}",
        page.body
    );
}

#[tokio::test]
async fn sec_a16_app_names_and_parameters_are_escaped() {
    let app = spawn_app().await;
    let evil = create_app_in(&app, XSS, XSS, ClientType::Public, &[CALLBACK]).await;
    accounts::create_user(
        app.state.store.as_ref(),
        &app.state.ids,
        &app.state.hasher,
        app.state.now(),
        "mallory",
        XSS,
        Some(PASSWORD),
    )
    .await
    .expect("create user");
    let p = AuthParams::new(&evil.client_id, "tweet.read");
    let b = Browser::new();

    let login = app.get_page(&b.client, &app.authorize_url(&p)).await;
    assert_login_page(&login, 200);
    assert_escaped(&login);
    let consent = sign_in(&app, &b, &p, "mallory").await;
    assert_escaped(&consent);

    // An unregistered redirect_uri: the page names the App and the URI, both escaped.
    let bad = p
        .clone()
        .set("redirect_uri", Some(&format!("https://evil.test/{XSS}")));
    let page = app.get_page(&app.http, &app.authorize_url(&bad)).await;
    assert_error_page(&page, 400, "is not among the callback URLs registered");
    assert_escaped(&page);

    // A client_id carrying markup.
    let bad = p.clone().set("client_id", Some(XSS));
    let page = app.get_page(&app.http, &app.authorize_url(&bad)).await;
    assert_error_page(&page, 400, "No App has the client_id");
    assert_escaped(&page);

    // A username carrying markup is echoed escaped in the login form.
    let other = Browser::new();
    let keys = keys_of(&app.get_page(&other.client, &app.authorize_url(&p)).await);
    let page = login_post(&app, &other.client, &keys, "\"><b>x</b>", "nope").await;
    assert_login_page(&page, 401);
    assert!(!page.body.contains("\"><b>"), "{}", page.body);
    assert!(
        unify_entities(&page.body).contains("&gt;&lt;b&gt;x&lt;/b&gt;"),
        "{}",
        page.body
    );
}

// ---------------------------------------------------------------------------------------------
// A18: redirects after POST
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a18_posts_answer_303_never_307_or_308() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let login = login_post(&app, &b.client, &keys, "alice", PASSWORD).await;
    let consent = app.get_page(&b.client, &page_location(&login)).await;
    let keys = keys_of(&consent);
    let allow = decision_post(&app, &b.client, &keys, "allow").await;
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let deny = decision_post(&app, &b.client, &keys, "deny").await;
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let logout = post(
        &app,
        &b.client,
        &[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("logout", "1"),
        ],
    )
    .await;
    for (what, page) in [
        ("login", &login),
        ("allow", &allow),
        ("deny", &deny),
        ("logout", &logout),
    ] {
        assert!(
            page.status == 302 || page.status == 303,
            "{what}: {} {}",
            page.status,
            page.body
        );
        assert!(!page_location(page).is_empty(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// A19, A20: login throttling and enumeration
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn assert_throttled(page: &Page, window: u64) {
    assert_login_page(page, 429);
    assert!(
        page.body.contains("Too many failed sign-in attempts"),
        "{}",
        page.body
    );
    let retry: u64 = header(&page.headers, "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=window).contains(&retry), "Retry-After {retry}");
    assert!(!sets_cookie(page, "roost_session"));
}

#[tokio::test]
async fn sec_a19_login_throttled_per_username() {
    let app = spawn_app().await;
    let limit = app.state.config.login.max_failures_per_user;
    let window = app.state.config.login.window;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    for i in 0..limit {
        let page = login_post(&app, &b.client, &keys, "alice", &format!("wrong {i}")).await;
        assert_login_page(&page, 401);
        assert!(header(&page.headers, "retry-after").is_empty());
    }
    let before = app.row_counts().await;
    // The right password is not even checked now; other spellings of the name count too.
    for name in ["alice", "ALICE", "Alice"] {
        let page = login_post(&app, &b.client, &keys, name, PASSWORD).await;
        assert_throttled(&page, window);
    }
    let page = app.get_page(&b.client, &app.authorize_url(&p)).await;
    assert_login_page(&page, 200);
    assert_eq!(app.row_counts().await, before);

    // Another user from the same address is not affected by alice's limit.
    let page = login_post(&app, &b.client, &keys, "bob", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);

    // After the window, alice can sign in (the old form has expired; open the URL again).
    app.clock.advance_ms(window as i64 * 1000);
    let other = Browser::new();
    let keys = keys_of(&app.get_page(&other.client, &app.authorize_url(&p)).await);
    let page = login_post(&app, &other.client, &keys, "alice", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let consent = app.get_page(&other.client, &page_location(&page)).await;
    assert_consent_page(&consent);
    assert!(consent.body.contains("@alice"));
}

#[tokio::test]
async fn sec_a19_login_throttled_per_address() {
    let app = spawn_app_with(|c| c.login.max_failures_per_address = 3).await;
    let window = app.state.config.login.window;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    for name in ["alice", "bob", "nobody"] {
        let page = login_post(&app, &b.client, &keys, name, "wrong").await;
        assert_login_page(&page, 401);
    }
    let before = app.row_counts().await;
    for name in ["alice", "bob"] {
        let page = login_post(&app, &b.client, &keys, name, PASSWORD).await;
        assert_throttled(&page, window);
    }
    assert_eq!(app.row_counts().await, before);

    app.clock.advance_ms(window as i64 * 1000);
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let page = login_post(&app, &b.client, &keys, "bob", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
}

/// A login page with the per-request values and the echoed username blanked.
fn normalised(page: &Page, username: &str) -> String {
    let mut body = page.body.clone();
    for name in ["csrf_token", "request"] {
        if let Some(v) = hidden(&body, name) {
            body = body.replace(&v, "");
        }
    }
    body.replacen(&format!("value=\"{username}\""), "value=\"\"", 1)
}

#[tokio::test]
async fn sec_a20_unknown_username_and_wrong_password_look_the_same() {
    let app = spawn_app().await;
    accounts::create_user(
        app.state.store.as_ref(),
        &app.state.ids,
        &app.state.hasher,
        app.state.now(),
        "carol",
        "Carol Without Password",
        None,
    )
    .await
    .expect("create user");
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let before = app.row_counts().await;

    let wrong = login_post(&app, &b.client, &keys, "alice", "wrong password").await;
    assert_login_page(&wrong, 401);
    assert!(wrong.body.contains("Wrong username or password."));
    let expected = normalised(&wrong, "alice");
    for name in ["nobody", "no such user!", "carol", "x".repeat(40).as_str()] {
        let page = login_post(&app, &b.client, &keys, name, "wrong password").await;
        assert_eq!(page.status, wrong.status, "{name}");
        assert_eq!(
            header(&page.headers, "content-type"),
            header(&wrong.headers, "content-type")
        );
        let shown: String = name.chars().take(15).collect();
        assert_eq!(normalised(&page, &shown), expected, "{name}");
        assert!(!sets_cookie(&page, "roost_session"));
    }
    // Failures are counted, nothing else is written.
    assert_eq!(
        changed(&before, &app.row_counts().await)
            .keys()
            .collect::<Vec<_>>(),
        ["login_failures"]
    );
}

/// The timing half of A20: an unknown username costs what a wrong password costs, because a
/// dummy argon2id verification runs in its place. Attempts alternate between the two (which of
/// them goes first alternates too), so load on the machine falls on both alike, and medians
/// ignore the odd slow request. Throttling limits are raised so that no attempt is refused
/// before hashing.
#[tokio::test]
async fn sec_a20_unknown_username_takes_as_long_as_a_wrong_password() {
    const ATTEMPTS: usize = 20;
    let app = spawn_app_with(|c| {
        c.login.max_failures_per_user = 10_000;
        c.login.max_failures_per_address = 10_000;
    })
    .await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let attempt = |username: &'static str| {
        let (app, client, keys) = (&app, &b.client, &keys);
        async move {
            let started = std::time::Instant::now();
            let page = login_post(app, client, keys, username, "wrong password").await;
            let took = started.elapsed();
            assert_login_page(&page, 401);
            took
        }
    };
    // Warm-up: the first unknown username also builds the dummy hash.
    attempt("nobody").await;
    attempt("alice").await;
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..ATTEMPTS {
        if i % 2 == 0 {
            unknown.push(attempt("nobody").await);
            wrong.push(attempt("alice").await);
        } else {
            wrong.push(attempt("alice").await);
            unknown.push(attempt("nobody").await);
        }
    }
    let median = |v: &mut Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (u, w) = (median(&mut unknown), median(&mut wrong));
    let difference = (u - w).abs() / u.min(w);
    assert!(
        difference < 0.5,
        "median unknown username {:.1} ms, wrong password {:.1} ms: {:.0}% apart",
        u * 1e3,
        w * 1e3,
        difference * 100.0
    );
}

#[tokio::test]
async fn wrong_password_rerenders_login_with_401() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let keys = keys_of(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let page = login_post(&app, &b.client, &keys, "alice", "not the password").await;
    assert_login_page(&page, 401);
    assert!(
        page.body.contains("Wrong username or password."),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"alice\""), "{}", page.body);
    assert!(!page.body.contains("not the password"));
    assert!(!sets_cookie(&page, "roost_session"));
    assert!(b.cookie(&app, "roost_session").is_none());
    assert_eq!(app.row_counts().await["sessions"], 0);
    // The re-rendered form works.
    let again = login_post(&app, &b.client, &keys_of(&page), "alice", PASSWORD).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_consent_page(&app.get_page(&b.client, &page_location(&again)).await);
}

// ---------------------------------------------------------------------------------------------
// A21, A22: cookies and sessions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a21_cookie_flags_over_http() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let login = app.get_page(&b.client, &app.authorize_url(&p)).await;
    let cookies = set_cookies(&login.headers);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert_eq!(cookies[0].0, "roost_browser");
    assert_cookie_flags(&cookies[0], false);

    let resp = login_post(&app, &b.client, &keys_of(&login), "alice", PASSWORD).await;
    assert_eq!(resp.status, 303);
    let cookies = set_cookies(&resp.headers);
    let names: Vec<&str> = cookies.iter().map(|c| c.0.as_str()).collect();
    assert!(
        names.contains(&"roost_session") && names.contains(&"roost_browser"),
        "{names:?}"
    );
    for c in &cookies {
        assert_cookie_flags(c, false);
    }
    assert!(header(&resp.headers, "strict-transport-security").is_empty());
}

#[tokio::test]
async fn sec_a21_cookie_flags_over_https_public_url() {
    let app = spawn_app_with(|c| c.server.public_url = Some("https://roost.test".into())).await;
    let real = format!("http://{}", app.state.config.server.addr);
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let url = format!("{real}/i/oauth2/authorize?{}", p.query());
    let login = page_of(app.http.get(&url).send().await.unwrap()).await;
    assert_login_page(&login, 200);
    assert!(
        login
            .body
            .contains("action=\"https://roost.test/i/oauth2/authorize\""),
        "{}",
        login.body
    );
    let cookies = set_cookies(&login.headers);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert_eq!(cookies[0].0, "__Host-roost_browser");
    assert_cookie_flags(&cookies[0], true);
    let browser_cookie = format!("__Host-roost_browser={}", cookies[0].1);

    // The unprefixed name is not read.
    let keys = keys_of(&login);
    let fields = [
        ("csrf_token", keys.csrf.as_str()),
        ("request", keys.request.as_str()),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let post_to = |cookie: String| {
        app.http
            .post(format!("{real}/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(form(&fields))
            .send()
    };
    let refused = page_of(
        post_to(format!("roost_browser={}", cookies[0].1))
            .await
            .unwrap(),
    )
    .await;
    assert_error_page(&refused, 403, "cookie");

    let resp = page_of(post_to(browser_cookie).await.unwrap()).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert!(page_location(&resp).starts_with("https://roost.test/i/oauth2/authorize?"));
    let cookies = set_cookies(&resp.headers);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for c in &cookies {
        assert!(c.0.starts_with("__Host-"), "{c:?}");
        assert_cookie_flags(c, true);
    }
    assert!(!header(&resp.headers, "strict-transport-security").is_empty());

    // The new cookies carry the session.
    let jar: Vec<String> = cookies.iter().map(|c| format!("{}={}", c.0, c.1)).collect();
    let next = page_location(&resp).replace("https://roost.test", &real);
    let consent = page_of(
        app.http
            .get(&next)
            .header("cookie", jar.join("; "))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_consent_page(&consent);
}

#[tokio::test]
async fn sec_a22_session_id_is_new_at_login_and_planted_ids_are_ignored() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let planted_session = "planted-session-id-chosen-by-an-attacker";
    let planted_browser = "planted-browser-id-chosen-by-an-attacker";
    b.plant(&app, "roost_session", planted_session);
    b.plant(&app, "roost_browser", planted_browser);
    let login = app.get_page(&b.client, &app.authorize_url(&p)).await;
    assert_login_page(&login, 200);
    let resp = login_post(&app, &b.client, &keys_of(&login), "alice", PASSWORD).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let session = b.cookie(&app, "roost_session").expect("session cookie");
    let browser_id = b.cookie(&app, "roost_browser").expect("browser cookie");
    assert_ne!(session, planted_session);
    assert_ne!(browser_id, planted_browser);
    assert!(session.len() >= 43, "{session}");
    assert_consent_page(&app.get_page(&b.client, &app.authorize_url(&p)).await);

    // The planted ids give nothing.
    for cookie in [
        format!("roost_session={planted_session}; roost_browser={planted_browser}"),
        format!("roost_session={planted_session}"),
    ] {
        let page = page_of(
            app.http
                .get(app.authorize_url(&p))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_login_page(&page, 200);
    }
}

#[tokio::test]
async fn sec_a22_signing_in_again_replaces_the_old_session() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    let old = b.cookie(&app, "roost_session").expect("session");
    // A login post from a browser that already has a session (e.g. a replayed form).
    let resp = login_post(&app, &b.client, &keys_of(&consent), "bob", PASSWORD).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let new = b.cookie(&app, "roost_session").expect("session");
    assert_ne!(old, new);
    let consent = app.get_page(&b.client, &page_location(&resp)).await;
    assert_consent_page(&consent);
    assert!(consent.body.contains("@bob"));
    // The old id no longer signs anyone in.
    let page = page_of(
        app.http
            .get(app.authorize_url(&p))
            .header("cookie", format!("roost_session={old}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_login_page(&page, 200);
    assert_eq!(app.row_counts().await["sessions"], 1);
}

#[tokio::test]
async fn sec_a22_logout_deletes_the_session() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    assert!(
        consent.body.contains("Not you? Sign out"),
        "{}",
        consent.body
    );
    let old = b.cookie(&app, "roost_session").expect("session");
    let browser_id = b.cookie(&app, "roost_browser").expect("browser");
    let before = app.row_counts().await;
    assert_eq!(before["sessions"], 1);

    let keys = keys_of(&consent);
    let resp = post(
        &app,
        &b.client,
        &[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("logout", "1"),
        ],
    )
    .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let cleared = set_cookies(&resp.headers);
    let session_cookie = cleared
        .iter()
        .find(|c| c.0 == "roost_session")
        .expect("session cookie cleared");
    assert!(
        session_cookie.1.is_empty() && session_cookie.2.iter().any(|a| a == "max-age=0"),
        "{session_cookie:?}"
    );
    assert_eq!(
        changed(&before, &app.row_counts().await),
        BTreeMap::from([("sessions".to_owned(), -1)])
    );

    // Back to the same request, now signed out.
    let loc = page_location(&resp);
    assert!(loc.starts_with(&app.url("/i/oauth2/authorize?")), "{loc}");
    let page = app.get_page(&b.client, &loc).await;
    assert_login_page(&page, 200);
    assert!(b.cookie(&app, "roost_session").is_none());

    // The old cookie, replayed, is not signed in.
    let replay = page_of(
        app.http
            .get(app.authorize_url(&p))
            .header(
                "cookie",
                format!("roost_session={old}; roost_browser={browser_id}"),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_login_page(&replay, 200);
    // ... and cannot decide a consent it had open.
    let stale = app
        .http
        .post(app.url("/i/oauth2/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "cookie",
            format!("roost_session={old}; roost_browser={browser_id}"),
        )
        .body(form(&[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("decision", "allow"),
        ]))
        .send()
        .await
        .unwrap();
    let stale = page_of(stale).await;
    assert_login_page(&stale, 401);
    assert_eq!(app.row_counts().await["authorization_codes"], 0);

    // Signing in again gives a new id.
    let resp = login_post(&app, &b.client, &keys_of(&page), "alice", PASSWORD).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let new = b.cookie(&app, "roost_session").expect("session");
    assert_ne!(new, old);
}

#[tokio::test]
async fn sec_a22_session_expires() {
    let app = spawn_app().await;
    let ttl_ms = app.state.config.session.ttl as i64 * 1000;
    let idle_ms = app.state.config.session.idle_ttl as i64 * 1000;
    assert!(
        idle_ms < ttl_ms,
        "the defaults have an idle limit below the absolute one"
    );
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    sign_in(&app, &b, &p, "alice").await;
    // Used a little before each idle period runs out, the session lasts until its absolute end.
    let step = idle_ms - 1000;
    let mut used = 0;
    while used + step < ttl_ms - 1000 {
        app.clock.advance_ms(step);
        used += step;
        assert_consent_page(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    }
    app.clock.advance_ms(ttl_ms - 1000 - used);
    assert_consent_page(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    app.clock.advance_ms(2000);
    assert_login_page(&app.get_page(&b.client, &app.authorize_url(&p)).await, 200);
}

#[tokio::test]
async fn sec_a22_session_expires_when_idle() {
    // Shorter than the 10 minutes a pending authorization request lives, so that a consent
    // answer can outlive the session.
    let app = spawn_app_with(|c| {
        c.session.ttl = 3600;
        c.session.idle_ttl = 300;
    })
    .await;
    let idle_ms = app.state.config.session.idle_ttl as i64 * 1000;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    sign_in(&app, &b, &p, "alice").await;
    app.clock.advance_ms(idle_ms - 1000);
    assert_consent_page(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    // Idle for a whole period since that use: signed out.
    app.clock.advance_ms(idle_ms);
    assert_login_page(&app.get_page(&b.client, &app.authorize_url(&p)).await, 200);
    // A consent answer from that session is not accepted either.
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    app.clock.advance_ms(idle_ms + 1000);
    let before = app.row_counts().await;
    let page = decision_post(&app, &b.client, &keys_of(&consent), "allow").await;
    assert_login_page(&page, 401);
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_a22_session_use_is_recorded_at_most_once_a_minute() {
    let app = spawn_app_with(|c| c.session.idle_ttl = 600).await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    sign_in(&app, &b, &p, "alice").await;
    let idle_end = |d: &crate::storage::db::Dump| -> Vec<crate::storage::db::Cell> {
        d.table("sessions")
            .iter()
            .map(|r| r["idle_expires_at"].clone())
            .collect()
    };
    // Pages viewed within a minute of the last recorded use write nothing.
    let before = crate::storage::db::snapshot(&app).await;
    for _ in 0..3 {
        app.clock.advance_ms(10_000);
        assert_consent_page(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    }
    crate::storage::db::assert_unchanged(&app, &before, "pages viewed within a minute").await;
    // Past the minute, the use is recorded: the idle end moves forward.
    app.clock.advance_ms(31_000);
    assert_consent_page(&app.get_page(&b.client, &app.authorize_url(&p)).await);
    let after = crate::storage::db::snapshot(&app).await;
    assert_eq!(idle_end(&after).len(), 1);
    assert_ne!(idle_end(&after), idle_end(&before));
    // And the session now lives a full idle period from that use, not from the sign-in.
    app.clock.advance_ms(600_000 - 1000);
    assert_consent_page(&app.get_page(&b.client, &app.authorize_url(&p)).await);
}

#[tokio::test]
async fn sec_a22_expired_sessions_are_cleaned_up() {
    let app = spawn_app_with(|c| c.session.idle_ttl = 600).await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    sign_in(&app, &b, &p, "alice").await;
    assert_eq!(app.row_counts().await["sessions"], 1);
    app.clock.advance_ms(601_000);
    app.state
        .store
        .cleanup(app.state.now(), 0)
        .await
        .expect("cleanup");
    assert_eq!(
        app.row_counts().await["sessions"],
        0,
        "idle sessions are deleted"
    );
}

#[tokio::test]
async fn consent_post_after_session_deleted_shows_login_again() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let b = Browser::new();
    let consent = sign_in(&app, &b, &p, "alice").await;
    let session = b.cookie(&app, "roost_session").expect("session");
    app.state
        .store
        .delete_session(TokenHash::of(&session))
        .await
        .unwrap();
    let before = app.row_counts().await;
    let page = decision_post(&app, &b.client, &keys_of(&consent), "allow").await;
    assert_login_page(&page, 401);
    assert!(
        page.body.contains("Your session has ended"),
        "{}",
        page.body
    );
    assert_eq!(app.row_counts().await, before);
    // Signing in from that form leads back to consent for the same request.
    let resp = login_post(&app, &b.client, &keys_of(&page), "alice", PASSWORD).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let consent = app.get_page(&b.client, &page_location(&resp)).await;
    assert_consent_page(&consent);
    let resp = decision_post(&app, &b.client, &keys_of(&consent), "allow").await;
    let pairs = query_pairs(&page_location(&resp));
    assert_eq!(values(&pairs, "state"), ["state-123"]);
    let (status, body) = app.exchange(values(&pairs, "code")[0], &p.verifier).await;
    assert_eq!(status, 200, "{body}");
}

// ---------------------------------------------------------------------------------------------
// A23 and the alias path
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sec_a23_only_get_and_post() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let before = app.row_counts().await;
    for path in ["/i/oauth2/authorize", "/2/oauth2/authorize"] {
        let url = app.url(&format!("{path}?{}", p.query()));
        for method in [
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
            reqwest::Method::PATCH,
        ] {
            let resp = app
                .http
                .request(method.clone(), &url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("decision=allow")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 405, "{method} {path}");
            let allow = header(resp.headers(), "allow").to_owned();
            assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
            assert!(resp.headers().get(LOCATION).is_none());
        }
    }
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn alias_2_oauth2_authorize_serves_the_same_flow() {
    let app = spawn_app().await;
    let p = AuthParams::new(
        &app.native.client_id,
        "tweet.read users.read offline.access",
    );
    let b = Browser::new();
    let url = app.url(&format!("/2/oauth2/authorize?{}", p.query()));
    let login = app.get_page(&b.client, &url).await;
    assert_login_page(&login, 200);
    assert!(
        login
            .body
            .contains(&format!("action=\"{}\"", app.url("/i/oauth2/authorize"))),
        "{}",
        login.body
    );
    let keys = keys_of(&login);
    let resp = post_with(
        &app,
        &b.client,
        "/2/oauth2/authorize",
        &[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
        &[],
    )
    .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let consent = app.get_page(&b.client, &page_location(&resp)).await;
    assert_consent_page(&consent);
    let keys = keys_of(&consent);
    let resp = post_with(
        &app,
        &b.client,
        "/2/oauth2/authorize",
        &[
            ("csrf_token", &keys.csrf),
            ("request", &keys.request),
            ("decision", "allow"),
        ],
        &[],
    )
    .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let pairs = query_pairs(&page_location(&resp));
    assert_eq!(values(&pairs, "state"), ["state-123"]);
    let code = values(&pairs, "code")[0];
    let (status, body, _) = app
        .token(
            &app.native.client_id,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "tweet.read users.read offline.access");
    // Validation errors behave the same on the alias.
    let bad = app.url(&format!(
        "/2/oauth2/authorize?{}",
        p.clone().set("scope", Some("nope")).query()
    ));
    let page = app.get_page(&app.http, &bad).await;
    assert_error_redirect(&page, "invalid_scope");
}
