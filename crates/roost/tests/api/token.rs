//! `POST /2/oauth2/token` with `authorization_code` and `client_credentials`: checklist B
//! (authorization codes), C (the token endpoint) and D1.
//!
//! The helpers at the top are shared with `refresh.rs` and `quirks.rs`: raw requests, a browser
//! signed in once (so that further codes cost a consent click, not an argon2 run), and the
//! assertions every token-endpoint response must pass (C7: `no-store`, `no-cache`; C11: no
//! cookies).

// Test code: a failed expectation is a failed test (clippy.toml allows this in #[test] fns
// only; the helpers here are test code too).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use roost::accounts::{self, AppSpec, CreatedApp, FixedCredentials};
use roost_domain::{ClientId, ClientType, ScopeSet, Secret, TokenHash};
use roost_store::{IssuedTokens, RedeemOutcome};
use serde_json::Value;

use crate::helpers::*;

pub const TOKEN_PATH: &str = "/2/oauth2/token";
pub const FORM: &str = "application/x-www-form-urlencoded";

// X's verbatim texts (spec/x-oauth2.md §3.6), written out here rather than imported from the
// server so that a change there shows up as a failing test.
pub const X_INVALID_CODE: &str = "Value passed for the authorization code was invalid.";
pub const X_VERIFIER_MISMATCH: &str =
    "Value passed for the code verifier did not match the code challenge.";
pub const X_REDIRECT_MISMATCH: &str =
    "Value passed for the redirect uri did not match the uri of the authorization code.";
pub const X_INVALID_TOKEN: &str = "Value passed for the token was invalid.";
pub const X_MISSING_AUTH: &str = "Missing valid authorization header";

/// A syntactically plausible value that was never issued.
pub const NEVER_ISSUED: &str = "bm90LWlzc3VlZDoxNzAwMDAwMDAwMDAwOjE6MTphYzox";

/// One HTTP answer, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    /// A string member of the JSON body (panics when absent).
    pub fn str(&self, key: &str) -> &str {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("`{key}` is not a string in {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(rb: reqwest::RequestBuilder) -> Reply {
    send_response(rb.send().await.expect("request")).await
}

pub async fn send_response(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        body,
    }
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// How a request to the token endpoint identifies its client.
#[derive(Clone, Copy, Debug)]
pub enum Cred<'a> {
    /// HTTP Basic `id:secret`.
    Basic(&'a str, &'a str),
    /// `client_id` (and `client_secret`, when given) in the form body.
    Body(&'a str, Option<&'a str>),
    /// No client identification at all.
    Nothing,
}

/// What a well-behaved client of this App sends: Basic for confidential Apps, `client_id` in
/// the body for public ones.
pub fn creds(c: &CreatedApp) -> Cred<'_> {
    match &c.client_secret {
        Some(s) => Cred::Basic(&c.client_id, s),
        None => Cred::Body(&c.client_id, None),
    }
}

/// `POST /2/oauth2/token` with a form body.
pub async fn post_token(app: &TestApp, cred: Cred<'_>, fields: &[(&str, &str)]) -> Reply {
    let mut fields = fields.to_vec();
    let mut rb = app.http.post(app.url(TOKEN_PATH));
    match cred {
        Cred::Basic(id, secret) => rb = rb.header(AUTHORIZATION, basic(id, secret)),
        Cred::Body(id, secret) => {
            fields.push(("client_id", id));
            if let Some(s) = secret {
                fields.push(("client_secret", s));
            }
        }
        Cred::Nothing => {}
    }
    send(rb.header(CONTENT_TYPE, FORM).body(form(&fields))).await
}

pub fn code_fields<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]
}

pub async fn redeem(app: &TestApp, client: &CreatedApp, code: &str, verifier: &str) -> Reply {
    post_token(app, creds(client), &code_fields(code, verifier)).await
}

/// `grant_type=refresh_token` for `client`, with `extra` fields (e.g. `scope`).
pub async fn refresh_as(
    app: &TestApp,
    client: &CreatedApp,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut fields = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    fields.extend_from_slice(extra);
    post_token(app, creds(client), &fields).await
}

/// A browser signed in as alice. Signing in costs one argon2 run; every later authorization in
/// this browser goes straight to the consent page.
pub async fn signed_in(app: &TestApp) -> reqwest::Client {
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let consent = app.login(&b, &p, "alice").await;
    assert_eq!(consent.status, 200, "consent page: {}", consent.body);
    b
}

/// A code for `p`, approved in the signed-in browser `b`.
pub async fn code_in(app: &TestApp, b: &reqwest::Client, p: &AuthParams) -> String {
    let consent = app.get_page(b, &app.authorize_url(p)).await;
    let resp = app.decide(b, &consent, "allow").await;
    assert_eq!(resp.status(), 303, "consent answer");
    location_query(&resp)
        .get("code")
        .cloned()
        .expect("code in the redirect")
}

/// A fresh token response for `client` (alice, `scope`), through the signed-in browser `b`.
pub async fn tokens_in(
    app: &TestApp,
    b: &reqwest::Client,
    client: &CreatedApp,
    scope: &str,
) -> Value {
    let p = AuthParams::new(&client.client_id, scope);
    let code = code_in(app, b, &p).await;
    let r = redeem(app, client, &code, &p.verifier).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

pub fn token_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

/// C7 and C11 on any token-endpoint response: never cached, never a cookie, never a redirect.
pub fn assert_no_store(r: &Reply) {
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
    assert_eq!(r.header("pragma"), Some("no-cache"), "{r:?}");
    assert!(r.headers.get("set-cookie").is_none(), "{r:?}");
    assert!(r.headers.get("location").is_none(), "{r:?}");
}

/// An error response in the RFC 6749 §5.2 shape: exact status and `error`, a JSON object with
/// nothing but `error`, `error_description` and (X mode) `roost_detail`, no internals.
pub fn assert_error(r: &Reply, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"], error, "{}", r.text);
    assert_no_store(r);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{r:?}"
    );
    let obj = r.body.as_object().expect("a JSON object");
    for k in obj.keys() {
        assert!(
            ["error", "error_description", "roost_detail"].contains(&k.as_str()),
            "unexpected member `{k}` in {}",
            r.text
        );
    }
    assert!(error.is_ascii());
    assert!(r.body["error_description"].is_string(), "{}", r.text);
    let lower = r.text.to_ascii_lowercase();
    for internal in ["sqlite", "select ", "panicked", "/tmp/", ".rs:", "stack"] {
        assert!(!lower.contains(internal), "internals in {}", r.text);
    }
}

/// An error in X's dialect with X's verbatim `error_description`.
pub fn assert_x_error(r: &Reply, status: u16, error: &str, description: &str) {
    assert_error(r, status, error);
    assert_eq!(r.body["error_description"], description, "{}", r.text);
}

/// X's answer to failed client authentication (spec/x-oauth2.md §1), with C5's header.
pub fn assert_x_unauthorized_client(r: &Reply) {
    assert_x_error(r, 401, "unauthorized_client", X_MISSING_AUTH);
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"roost\""));
}

/// The body never repeats a secret the request carried (C6).
pub fn assert_no_echo(r: &Reply, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !r.text.contains(s),
            "the response echoes a secret: {}",
            r.text
        );
    }
}

/// Two refusals a client cannot tell apart: same status, same body byte for byte, same
/// headers (apart from the request id and date).
pub fn assert_same_answer(a: &Reply, b: &Reply) {
    assert_eq!(a.status, b.status, "{} / {}", a.text, b.text);
    assert_eq!(a.text, b.text);
    let visible = |r: &Reply| {
        let mut h: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "x-request-id" | "date"))
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        h.sort();
        h
    };
    assert_eq!(visible(a), visible(b));
}

pub fn scope_set(s: &str) -> BTreeSet<&str> {
    s.split(' ').collect()
}

/// A successful token response in X's shape (spec/x-oauth2.md §3.2, client-quirks rule 4).
pub fn assert_tokens(app: &TestApp, r: &Reply, scope: &str, refresh: bool) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_store(r);
    // X's media type, exactly (spec/x-oauth2.md §3.2): no charset parameter.
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    let obj = r.body.as_object().expect("a JSON object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec!["access_token", "expires_in", "scope", "token_type"];
    if refresh {
        expected.push("refresh_token");
        expected.sort_unstable();
    }
    assert_eq!(keys, expected, "{}", r.text);
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(
        r.body["expires_in"].as_u64(),
        Some(app.state.config.oauth.access_token_ttl),
        "expires_in must be a JSON number: {}",
        r.text
    );
    assert!(!r.str("access_token").is_empty());
    let got = r.str("scope");
    assert!(
        !got.starts_with(' ') && !got.ends_with(' ') && !got.contains("  "),
        "{got:?}"
    );
    assert_eq!(scope_set(got), scope_set(scope), "{}", r.text);
    if refresh {
        assert!(!r.str("refresh_token").is_empty());
    }
}

pub async fn other_web_app(app: &TestApp) -> CreatedApp {
    create_app(
        &app.state,
        "Other Web App",
        ClientType::Confidential,
        &[CALLBACK],
    )
    .await
}

/// Everything the store holds, as raw bytes: on SQLite the database files (main file, WAL and
/// shared memory), where a value stored in any table shows up in any form SQLite keeps text,
/// old page versions included; on PostgreSQL, whose files belong to the server, every cell of
/// every table.
pub async fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    match app.store_kind {
        StoreKind::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = app.db_path.clone().into_os_string();
                path.push(suffix);
                if let Ok(bytes) = std::fs::read(&path) {
                    all.extend_from_slice(&bytes);
                }
            }
        }
        StoreKind::Postgres => {
            for (_, _, cell) in crate::storage::db::snapshot(app).await.cells() {
                all.extend(cell.bytes());
                all.push(0);
            }
        }
    }
    all
}

pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn access_rows(app: &TestApp) -> i64 {
    app.row_counts().await["access_tokens"]
}

// ---------------------------------------------------------------------------------------------
// B. Authorization codes

#[tokio::test]
async fn sec_b01_codes_stored_only_as_digests() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    // ≥ 256 bits: the code is base64url of `<43 random base64url chars>:...`.
    let decoded = URL_SAFE_NO_PAD.decode(&code).expect("base64url code");
    let decoded = String::from_utf8(decoded).expect("utf-8");
    let random = decoded.split(':').next().expect("random part");
    assert!(random.len() >= 43, "{decoded}");

    let dump = database_bytes(&app).await;
    // The dump method sees stored rows: the client_id and the code's digest are there...
    assert!(contains_bytes(&dump, app.web.client_id.as_bytes()));
    assert!(contains_bytes(&dump, TokenHash::of(&code).as_bytes()));
    // ... but neither the code nor its random part.
    assert!(
        !contains_bytes(&dump, code.as_bytes()),
        "code stored in clear"
    );
    assert!(
        !contains_bytes(&dump, random.as_bytes()),
        "code stored in clear"
    );
    assert!(
        app.state
            .store
            .code_by_hash(TokenHash::of(&code))
            .await
            .expect("store")
            .is_some()
    );

    // Still true once the code has been redeemed.
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let dump = database_bytes(&app).await;
    for secret in [
        code.as_str(),
        random,
        r.str("access_token"),
        r.str("refresh_token"),
    ] {
        assert!(!contains_bytes(&dump, secret.as_bytes()), "secret in clear");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec_b02_code_single_use_under_concurrency() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let secret = app.web.client_secret.clone().expect("secret");
    let body = form(&code_fields(&code, &p.verifier));
    let auth = basic(&app.web.client_id, &secret);
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let rb = app
            .http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, auth.clone())
            .header(CONTENT_TYPE, FORM)
            .body(body.clone());
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            send(rb).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.expect("task");
        if r.status == 200 {
            ok += 1;
        } else {
            assert_x_error(&r, 400, "invalid_request", X_INVALID_CODE);
        }
    }
    assert_eq!(ok, 1, "exactly one redemption succeeds");
    let after = app.row_counts().await;
    assert_eq!(after["grants"], before["grants"] + 1);
    assert_eq!(after["access_tokens"], before["access_tokens"] + 1);
    assert_eq!(after["refresh_tokens"], before["refresh_tokens"] + 1);
}

/// B2 one level down: whatever the handler's earlier read saw, the store's conditional update
/// lets exactly one of many simultaneous redemptions of one code through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec_b02_store_redemption_is_one_conditional_update() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let hash = TokenHash::of(&code);
    let scopes = ScopeSet::parse(ALL_SCOPES).expect("scopes");
    let before = app.row_counts().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = app.state.store.clone();
        let now = app.state.now();
        let issued = IssuedTokens {
            access_hash: TokenHash::of(&roost_domain::secret::random_base64url(32)),
            access_expires_at: now + 7_200_000,
            access_scopes: scopes,
            refresh: Some((
                TokenHash::of(&roost_domain::secret::random_base64url(32)),
                now + 3_600_000,
            )),
            now,
        };
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.redeem_code(hash, issued).await.expect("store")
        }));
    }
    let mut issued = 0;
    for task in tasks {
        if task.await.expect("task") == RedeemOutcome::Issued {
            issued += 1;
        }
    }
    assert_eq!(issued, 1);
    let after = app.row_counts().await;
    assert_eq!(after["grants"], before["grants"] + 1);
    assert_eq!(after["access_tokens"], before["access_tokens"] + 1);
}

#[tokio::test]
async fn sec_b03_code_replay_refused_and_revokes_its_tokens() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    // An unrelated grant of the same user and App must survive the replay.
    let bystander = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let first = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &first, ALL_SCOPES, true);
    let access = first.str("access_token");
    let refresh = first.str("refresh_token");
    assert_eq!(app.me(access).await, 200);

    let before = app.row_counts().await;
    let replay = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_x_error(&replay, 400, "invalid_request", X_INVALID_CODE);
    assert_no_echo(&replay, &[&code, &p.verifier]);
    assert_eq!(app.row_counts().await, before, "a replay issues nothing");

    // What the code produced is revoked.
    assert_eq!(app.me(access).await, 401);
    let r = refresh_as(&app, &app.web, refresh, &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    // A second replay is refused the same way.
    let again = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_x_error(&again, 400, "invalid_request", X_INVALID_CODE);

    // Nothing else is.
    assert_eq!(app.me(token_of(&bystander, "access_token")).await, 200);
    let r = refresh_as(&app, &app.web, token_of(&bystander, "refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_b03_code_replay_detected_after_the_code_expired() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let first = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &first, ALL_SCOPES, true);
    // Long after the code's own lifetime, but while its tokens live.
    app.clock.advance_ms(3_600_000);
    let replay = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_x_error(&replay, 400, "invalid_request", X_INVALID_CODE);
    assert_eq!(app.me(first.str("access_token")).await, 401);
}

#[tokio::test]
async fn sec_b03_late_replay_still_detected_after_cleanup() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let first = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &first, ALL_SCOPES, true);
    // The access token has expired and the cleanup job has run, but the refresh token lives:
    // the used code must still be recognised.
    let access_ttl = i64::try_from(app.state.config.oauth.access_token_ttl).expect("ttl") * 1000;
    app.clock.advance_ms(access_ttl + 3_600_000);
    roost::cleanup::run_once(&app.state).await;
    assert_eq!(app.row_counts().await["access_tokens"], 0, "cleanup ran");
    let replay = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_x_error(&replay, 400, "invalid_request", X_INVALID_CODE);
    let r = refresh_as(&app, &app.web, first.str("refresh_token"), &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
}

#[tokio::test]
async fn sec_b04_code_lifetime() {
    let app = spawn_app().await;
    let ttl_ms = i64::try_from(app.state.config.oauth.authorization_code_ttl).expect("ttl") * 1000;
    assert_eq!(ttl_ms, 30_000, "X's default");
    let b = signed_in(&app).await;

    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    app.clock.advance_ms(ttl_ms - 1000);
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);

    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    app.clock.advance_ms(ttl_ms + 1000);
    let before = app.row_counts().await;
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_CODE);
    assert_eq!(app.row_counts().await, before);
    // An expired code stays refused; it never comes back to life.
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_CODE);
}

#[tokio::test]
async fn sec_b04_configured_code_lifetime_is_used() {
    let app = spawn_app_with(|c| c.oauth.authorization_code_ttl = 5).await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    app.clock.advance_ms(6_000);
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_CODE);
    // The cap of 10 minutes is enforced by configuration validation.
    let mut c = roost::config::Config::default();
    c.oauth.authorization_code_ttl = 601;
    assert!(c.validate().is_err());
}

#[tokio::test]
async fn sec_b05_code_bound_to_its_client() {
    let app = spawn_app().await;
    let other = other_web_app(&app).await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    // Another confidential App with valid credentials, and a public App.
    for thief in [&other, &app.native] {
        let r = redeem(&app, thief, &code, &p.verifier).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_CODE);
        assert_no_echo(&r, &[&code, &p.verifier]);
        assert_eq!(app.row_counts().await, before);
        // The answer does not tell that the code exists for another client.
        let unknown = redeem(&app, thief, NEVER_ISSUED, &p.verifier).await;
        assert_same_answer(&r, &unknown);
    }
    // The failed attempts did not burn the code for its App.
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
}

#[tokio::test]
async fn sec_b05_code_bound_to_its_client_strict() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let other = other_web_app(&app).await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let r = redeem(&app, &other, &code, &p.verifier).await;
    assert_error(&r, 400, "invalid_grant");
    assert_eq!(app.row_counts().await, before);
    assert_same_answer(&r, &redeem(&app, &other, NEVER_ISSUED, &p.verifier).await);
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_b06_code_bound_to_redirect_uri() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let different = [
        "http://127.0.0.1:8976/callback/",
        "http://127.0.0.1:8976/Callback",
        "http://127.0.0.1:8976/callback?x=1",
        "http://localhost:8976/callback",
        "http://127.0.0.1:8977/callback",
        "http://127.0.0.1:8976/%63allback",
    ];
    for uri in different {
        let r = post_token(
            &app,
            creds(&app.web),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", uri),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
        assert_x_error(&r, 400, "invalid_request", X_REDIRECT_MISMATCH);
    }
    // Missing: the same refusal (checklist B6).
    let r = post_token(
        &app,
        creds(&app.web),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_x_error(&r, 400, "invalid_request", X_REDIRECT_MISMATCH);
    assert_eq!(app.row_counts().await, before);
    // The exact URI works, and the refusals did not burn the code.
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_b06_code_bound_to_redirect_uri_strict() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    for uri in [Some("http://127.0.0.1:8976/callback/"), None] {
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", p.verifier.as_str()),
        ];
        if let Some(u) = uri {
            fields.push(("redirect_uri", u));
        }
        let r = post_token(&app, creds(&app.web), &fields).await;
        assert_error(&r, 400, "invalid_grant");
    }
    assert_eq!(app.row_counts().await, before);
}

/// RFC 7636 Appendix B.
const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn rfc_vector_params(client_id: &str) -> AuthParams {
    AuthParams::new(client_id, ALL_SCOPES)
        .set("code_challenge", Some(RFC_CHALLENGE))
        .set("code_challenge_method", Some("S256"))
}

#[tokio::test]
async fn sec_b07_code_bound_to_pkce_challenge() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = rfc_vector_params(&app.web.client_id);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;

    // One changed character, first or last.
    for wrong in [
        "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
    ] {
        let r = redeem(&app, &app.web, &code, wrong).await;
        assert_x_error(&r, 400, "invalid_request", X_VERIFIER_MISMATCH);
        assert_no_echo(&r, &[wrong, &code]);
    }
    // The challenge itself as the verifier (a `plain` downgrade): the recorded method is S256.
    let r = redeem(&app, &app.web, &code, RFC_CHALLENGE).await;
    assert_x_error(&r, 400, "invalid_request", X_VERIFIER_MISMATCH);
    // A method sent at token time is ignored.
    let r = post_token(
        &app,
        creds(&app.web),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", RFC_CHALLENGE),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_x_error(&r, 400, "invalid_request", X_VERIFIER_MISMATCH);
    // No verifier at all (PKCE downgrade).
    let r = post_token(
        &app,
        creds(&app.web),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_x_error(
        &r,
        400,
        "invalid_request",
        "Missing required parameter [code_verifier].",
    );
    // An empty verifier counts as missing (checklist H5).
    let r = redeem(&app, &app.web, &code, "").await;
    assert_x_error(
        &r,
        400,
        "invalid_request",
        "Missing required parameter [code_verifier].",
    );
    // Characters outside [A-Za-z0-9-._~], including the RFC vector with one of them swapped in.
    for bad in [
        "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX=",
        "dBjftJeZ4CVP mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXé",
    ] {
        let r = redeem(&app, &app.web, &code, bad).await;
        assert_error(&r, 400, "invalid_request");
        assert_no_echo(&r, &[bad, &code]);
    }
    assert_eq!(app.row_counts().await, before, "refusals change nothing");

    // The RFC vector itself passes, through the whole flow.
    let r = redeem(&app, &app.web, &code, RFC_VERIFIER).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
}

#[tokio::test]
async fn sec_b07_code_bound_to_pkce_challenge_strict() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let b = signed_in(&app).await;
    let p = rfc_vector_params(&app.web.client_id);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let r = redeem(
        &app,
        &app.web,
        &code,
        "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    )
    .await;
    assert_error(&r, 400, "invalid_grant");
    let r = post_token(
        &app,
        creds(&app.web),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(app.row_counts().await, before);
    let r = redeem(&app, &app.web, &code, RFC_VERIFIER).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_b08_token_time_scope_cannot_widen() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let granted = "tweet.read users.read offline.access";
    let p = AuthParams::new(&app.web.client_id, granted);
    let code = code_in(&app, &b, &p).await;
    let mut fields = code_fields(&code, &p.verifier);
    fields.push((
        "scope",
        "tweet.read users.read offline.access tweet.write dm.read",
    ));
    let r = post_token(&app, creds(&app.web), &fields).await;
    assert_tokens(&app, &r, granted, true);
    let stored = app
        .state
        .store
        .access_token(TokenHash::of(r.str("access_token")))
        .await
        .expect("store")
        .expect("access token row");
    assert_eq!(stored.scopes.to_string(), granted);
    // A refresh of this grant cannot reach the extra scopes either.
    let r2 = refresh_as(
        &app,
        &app.web,
        r.str("refresh_token"),
        &[("scope", "tweet.read tweet.write")],
    )
    .await;
    assert_error(&r2, 400, "invalid_scope");
}

#[tokio::test]
async fn sec_b09_no_token_kind_confusion() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let access = token_of(&t, "access_token");
    let refresh = token_of(&t, "refresh_token");
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;

    // A code and a refresh token are not bearer tokens.
    assert_eq!(app.me(&code).await, 401);
    assert_eq!(app.me(refresh).await, 401);
    // A client secret is not one either.
    assert_eq!(
        app.me(app.web.client_secret.as_deref().expect("secret"))
            .await,
        401
    );
    assert_eq!(app.me(access).await, 200);

    let before = app.row_counts().await;
    // An access token or a code is not a refresh token.
    for not_refresh in [access, code.as_str()] {
        let r = refresh_as(&app, &app.web, not_refresh, &[]).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
        assert_no_echo(&r, &[not_refresh]);
    }
    // An access token or a refresh token is not a code.
    for not_code in [access, refresh] {
        let r = redeem(&app, &app.web, not_code, &p.verifier).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_CODE);
        assert_no_echo(&r, &[not_code]);
    }
    assert_eq!(app.row_counts().await, before);
    // None of that disturbed the real tokens or the code.
    assert_eq!(app.me(access).await, 200);
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let r = refresh_as(&app, &app.web, refresh, &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

// ---------------------------------------------------------------------------------------------
// C. The token endpoint

#[tokio::test]
async fn sec_c01_client_authentication_per_app_type() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let web_id = app.web.client_id.as_str();
    let web_secret = app.web.client_secret.as_deref().expect("secret");
    let native_id = app.native.client_id.as_str();

    // Refusals first, each against a live code that must survive them.
    let wp = AuthParams::new(web_id, ALL_SCOPES);
    let web_code = code_in(&app, &b, &wp).await;
    let np = AuthParams::new(native_id, ALL_SCOPES);
    let native_code = code_in(&app, &b, &np).await;
    let before = app.row_counts().await;
    let refusals: [(&str, Cred<'_>, &AuthParams, &str); 7] = [
        (
            "confidential, no secret",
            Cred::Body(web_id, None),
            &wp,
            &web_code,
        ),
        (
            "confidential, no credentials at all",
            Cred::Nothing,
            &wp,
            &web_code,
        ),
        (
            "confidential, wrong Basic secret",
            Cred::Basic(web_id, "wrong"),
            &wp,
            &web_code,
        ),
        (
            "confidential, wrong body secret",
            Cred::Body(web_id, Some("wrong")),
            &wp,
            &web_code,
        ),
        (
            "public, Basic with a secret",
            Cred::Basic(native_id, "anything"),
            &np,
            &native_code,
        ),
        (
            "public, body secret",
            Cred::Body(native_id, Some("anything")),
            &np,
            &native_code,
        ),
        (
            "public, the other App's secret",
            Cred::Basic(native_id, web_secret),
            &np,
            &native_code,
        ),
    ];
    for (what, cred, p, code) in refusals {
        let r = post_token(&app, cred, &code_fields(code, &p.verifier)).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        assert_x_unauthorized_client(&r);
        assert_no_echo(&r, &[web_secret, code]);
        assert_eq!(app.row_counts().await, before, "{what}");
    }

    // Confidential with Basic; public with client_id only.
    let r = redeem(&app, &app.web, &web_code, &wp.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let r = redeem(&app, &app.native, &native_code, &np.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
    // Confidential with the secret in the body (client_secret_post).
    let p = AuthParams::new(web_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let r = post_token(
        &app,
        Cred::Body(web_id, Some(web_secret)),
        &code_fields(&code, &p.verifier),
    )
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_c01_client_authentication_strict() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let before = app.row_counts().await;
    let web_id = app.web.client_id.as_str();
    for cred in [
        Cred::Body(web_id, None),
        Cred::Basic(web_id, "wrong"),
        Cred::Basic(&app.native.client_id, "anything"),
    ] {
        let r = post_token(&app, cred, &code_fields(NEVER_ISSUED, RFC_VERIFIER)).await;
        assert_error(&r, 401, "invalid_client");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"roost\""));
    }
    assert_eq!(app.row_counts().await, before);
}

/// Every byte as `%XX`, as some clients form-encode Basic halves.
fn percent_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn client_credentials_with_header(app: &TestApp, header: HeaderValue) -> Reply {
    send(
        app.http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, header)
            .header(CONTENT_TYPE, FORM)
            .body("grant_type=client_credentials"),
    )
    .await
}

#[tokio::test]
async fn sec_c02_basic_halves_are_percent_decoded() {
    let app = spawn_app().await;
    // The checklist's example App.
    let fixed = accounts::create_app(
        app.state.store.as_ref(),
        &app.state.ids,
        app.state.now(),
        AppSpec {
            name: "Dashed App",
            project: "Test Project",
            client_type: ClientType::Confidential,
            callbacks: &[CALLBACK.to_owned()],
            fixed: Some(FixedCredentials {
                client_id: ClientId::parse("my-client").expect("client id"),
                client_secret: Some(Secret::from_presented("s3cr3t-_.~x")),
                api_key: "dashedappapikey0000000001".to_owned(),
                api_secret: Secret::from_presented("dashed-app-api-secret"),
            }),
        },
    )
    .await
    .expect("create app");
    assert_eq!(fixed.client_secret.as_deref(), Some("s3cr3t-_.~x"));

    let web_id = app.web.client_id.clone();
    let web_secret = app.web.client_secret.clone().expect("secret");
    let accepted = [
        "Basic ".to_owned() + &STANDARD.encode("my%2Dclient:s3cr3t%2D%5F%2E%7Ex"),
        "Basic ".to_owned() + &STANDARD.encode("my-client:s3cr3t-_.~x"),
        "Basic ".to_owned() + &STANDARD.encode("my-client:s3cr3t%2d_.%7ex"),
        "Basic ".to_owned()
            + &STANDARD.encode(format!(
                "{}:{}",
                percent_all(&web_id),
                percent_all(&web_secret)
            )),
        "Basic ".to_owned() + &STANDARD.encode(format!("{web_id}:{}", percent_all(&web_secret))),
        // The scheme name is case-insensitive.
        "basic ".to_owned() + &STANDARD.encode(format!("{web_id}:{web_secret}")),
    ];
    for h in accepted {
        let r =
            client_credentials_with_header(&app, HeaderValue::from_str(&h).expect("header")).await;
        assert_tokens(&app, &r, "", false);
    }
}

#[tokio::test]
async fn sec_c02_malformed_basic_is_401_never_500() {
    let app = spawn_app().await;
    let web_id = app.web.client_id.clone();
    let web_secret = app.web.client_secret.clone().expect("secret");
    let b64 = |s: &[u8]| STANDARD.encode(s);
    let mut refused: Vec<Vec<u8>> = vec![
        b"Basic !!!not-base64!!!".to_vec(),
        b"Basic".to_vec(),
        b"Basic ".to_vec(),
        format!("Basic {}", b64(b"no-colon-here")).into_bytes(),
        format!("Basic {}", b64(format!("{web_id}{web_secret}").as_bytes())).into_bytes(),
        format!(
            "Basic {}",
            b64(format!("{web_id}:{web_secret}%").as_bytes())
        )
        .into_bytes(),
        format!(
            "Basic {}",
            b64(format!("{web_id}:{web_secret}%2").as_bytes())
        )
        .into_bytes(),
        format!(
            "Basic {}",
            b64(format!("{web_id}%zz:{web_secret}").as_bytes())
        )
        .into_bytes(),
        format!(
            "Basic {}",
            b64(format!("{web_id}:{web_secret}%FF").as_bytes())
        )
        .into_bytes(),
        format!(
            "Basic {}",
            b64(format!("{web_id}:{web_secret}%C3").as_bytes())
        )
        .into_bytes(),
        format!("Basic {}", b64(&[0xff, 0xfe, b':', b'x'])).into_bytes(),
        format!("Basic {}", b64(format!(":{web_secret}").as_bytes())).into_bytes(),
        format!("Basic {}", b64(format!("{web_id}:").as_bytes())).into_bytes(),
        format!("Basic {}", b64(b":")).into_bytes(),
        // Right credentials, wrong scheme.
        format!(
            "Bearer {}",
            b64(format!("{web_id}:{web_secret}").as_bytes())
        )
        .into_bytes(),
        format!(
            "Digest {}",
            b64(format!("{web_id}:{web_secret}").as_bytes())
        )
        .into_bytes(),
        // A truncated encoding of the right credentials.
        {
            let mut s = format!("Basic {}", b64(format!("{web_id}:{web_secret}").as_bytes()));
            s.pop();
            s.pop();
            s.into_bytes()
        },
    ];
    // Bytes that are not visible ASCII (obs-text) in the header value.
    refused.push(b"Basic \xff\xfe".to_vec());
    let before = app.row_counts().await;
    for h in refused {
        let value = HeaderValue::from_bytes(&h).expect("a sendable header value");
        let r = client_credentials_with_header(&app, value).await;
        assert_eq!(
            r.status,
            401,
            "{:?}: {}",
            String::from_utf8_lossy(&h),
            r.text
        );
        assert_x_unauthorized_client(&r);
        assert_no_echo(&r, &[&web_secret]);
    }
    assert_eq!(app.row_counts().await, before);

    // Two Authorization headers are refused too, not a 500.
    let r = send(
        app.http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, basic(&web_id, &web_secret))
            .header(AUTHORIZATION, basic(&web_id, &web_secret))
            .header(CONTENT_TYPE, FORM)
            .body("grant_type=client_credentials"),
    )
    .await;
    assert!(r.status == 400 || r.status == 401, "{}", r.text);
    assert_no_store(&r);
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_c03_credential_copies_must_agree() {
    let app = spawn_app().await;
    let other = other_web_app(&app).await;
    let b = signed_in(&app).await;
    let web_id = app.web.client_id.as_str();
    let web_secret = app.web.client_secret.as_deref().expect("secret");
    let other_secret = other.client_secret.as_deref().expect("secret");
    let p = AuthParams::new(web_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let fields = code_fields(&code, &p.verifier);
    let form_with = |extra: &[(&str, &str)]| {
        let mut f = fields.clone();
        f.extend_from_slice(extra);
        form(&f)
    };

    let disagreeing: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "Basic A + body client_id B",
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, basic(web_id, web_secret))
                .header(CONTENT_TYPE, FORM)
                .body(form_with(&[("client_id", &other.client_id)])),
        ),
        (
            "Basic B + body client_id A",
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, basic(&other.client_id, other_secret))
                .header(CONTENT_TYPE, FORM)
                .body(form_with(&[("client_id", web_id)])),
        ),
        (
            "Basic A + body client_secret of B",
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, basic(web_id, web_secret))
                .header(CONTENT_TYPE, FORM)
                .body(form_with(&[("client_secret", other_secret)])),
        ),
        (
            "Basic A + JSON client_id A and client_secret of B",
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, basic(web_id, web_secret))
                .json(&serde_json::json!({
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": CALLBACK,
                    "code_verifier": p.verifier,
                    "client_id": web_id,
                    "client_secret": other_secret,
                })),
        ),
        (
            "Basic A + query client_id B",
            app.http
                .post(app.url(&format!("{TOKEN_PATH}?client_id={}", other.client_id)))
                .header(AUTHORIZATION, basic(web_id, web_secret))
                .header(CONTENT_TYPE, FORM)
                .body(form(&fields)),
        ),
        (
            "query client_id A + body client_id B + body secret A",
            app.http
                .post(app.url(&format!("{TOKEN_PATH}?client_id={web_id}")))
                .header(CONTENT_TYPE, FORM)
                .body(form_with(&[
                    ("client_id", &other.client_id),
                    ("client_secret", web_secret),
                ])),
        ),
        (
            "body client_id A twice with B in between",
            app.http
                .post(app.url(TOKEN_PATH))
                .header(CONTENT_TYPE, FORM)
                .body(form_with(&[
                    ("client_id", web_id),
                    ("client_id", &other.client_id),
                    ("client_secret", web_secret),
                ])),
        ),
    ];
    for (what, rb) in disagreeing {
        let r = send(rb).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        assert_x_unauthorized_client(&r);
        assert_no_echo(&r, &[web_secret, other_secret, &code]);
        assert_eq!(app.row_counts().await, before, "{what}");
    }
    // Agreeing copies are fine (tweepy, twitter-api-v2): and the code is still good.
    let r = send(
        app.http
            .post(app.url(&format!("{TOKEN_PATH}?client_id={web_id}")))
            .header(AUTHORIZATION, basic(web_id, web_secret))
            .header(CONTENT_TYPE, FORM)
            .body(form_with(&[
                ("client_id", web_id),
                ("client_secret", web_secret),
            ])),
    )
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

/// The parts of two answers that must be byte-identical.
fn comparable(r: &Reply) -> (u16, String, Vec<(String, Vec<u8>)>) {
    let mut headers: Vec<(String, Vec<u8>)> = r
        .headers
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-request-id"))
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    headers.sort();
    (r.status, r.text.clone(), headers)
}

async fn unknown_vs_wrong(app: &TestApp) -> (Reply, Reply) {
    let web_id = app.web.client_id.as_str();
    // An unknown id of the same shape and length as a real one.
    let unknown = ClientId::generate();
    assert_eq!(unknown.as_str().len(), web_id.len());
    let unknown = post_token(
        app,
        Cred::Basic(unknown.as_str(), "some-secret-value"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let wrong = post_token(
        app,
        Cred::Basic(web_id, "some-secret-value"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    (unknown, wrong)
}

#[tokio::test]
async fn sec_c04_unknown_client_and_wrong_secret_answer_identically() {
    let app = spawn_app().await;
    let before = app.row_counts().await;
    let (unknown, wrong) = unknown_vs_wrong(&app).await;
    assert_x_unauthorized_client(&unknown);
    assert_eq!(comparable(&unknown), comparable(&wrong));
    // Same in the body (client_secret_post).
    let u = post_token(
        &app,
        Cred::Body(ClientId::generate().as_str(), Some("x")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let w = post_token(
        &app,
        Cred::Body(&app.web.client_id, Some("x")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(comparable(&u), comparable(&w));
    assert_eq!(app.row_counts().await, before);

    let strict = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let (unknown, wrong) = unknown_vs_wrong(&strict).await;
    assert_error(&unknown, 401, "invalid_client");
    assert_eq!(comparable(&unknown), comparable(&wrong));
}

#[tokio::test]
async fn sec_c05_failed_client_authentication_is_401_with_basic_challenge() {
    for strict in [false, true] {
        let app = spawn_app_with(|c| c.oauth.strict_rfc = strict).await;
        let before = app.row_counts().await;
        let r = post_token(
            &app,
            Cred::Basic(&app.web.client_id, "wrong"),
            &[("grant_type", "client_credentials")],
        )
        .await;
        let code = if strict {
            "invalid_client"
        } else {
            "unauthorized_client"
        };
        assert_error(&r, 401, code);
        if !strict {
            assert_eq!(r.body["error_description"], X_MISSING_AUTH);
        }
        let challenge = r.header("www-authenticate").expect("WWW-Authenticate");
        assert_eq!(challenge, "Basic realm=\"roost\"");
        assert_eq!(app.row_counts().await, before);
        // The right secret in the same mode: 200, no challenge.
        let r = post_token(
            &app,
            creds(&app.web),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_tokens(&app, &r, "", false);
        assert!(r.headers.get("www-authenticate").is_none());
    }
}

/// One row per error of C6, in X mode or strict mode; every row also checks C7.
async fn error_table(strict: bool) {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = strict).await;
    let other = other_web_app(&app).await;
    let b = signed_in(&app).await;
    let web_secret = app.web.client_secret.clone().expect("secret");
    let grant_error = if strict {
        "invalid_grant"
    } else {
        "invalid_request"
    };
    let check = |r: &Reply, status: u16, error: &str, x_description: Option<&str>| {
        assert_error(r, status, error);
        match (strict, x_description) {
            (false, Some(d)) => assert_eq!(r.body["error_description"], d, "{}", r.text),
            (true, _) => assert!(r.body.get("roost_detail").is_none(), "{}", r.text),
            (false, None) => {}
        }
        if status == 401 {
            assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"roost\""));
        }
    };
    let p1 = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code1 = code_in(&app, &b, &p1).await;
    let p2 = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code2 = code_in(&app, &b, &p2).await;
    let web = creds(&app.web);
    let mut secrets = vec![
        code1.clone(),
        code2.clone(),
        p1.verifier.clone(),
        web_secret.clone(),
    ];
    let mut replies = Vec::new();

    let before = app.row_counts().await;
    // Unknown code.
    let r = post_token(&app, web, &code_fields(NEVER_ISSUED, &p1.verifier)).await;
    check(&r, 400, grant_error, Some(X_INVALID_CODE));
    replies.push(r);
    // Another App's code.
    let r = redeem(&app, &other, &code1, &p1.verifier).await;
    check(&r, 400, grant_error, Some(X_INVALID_CODE));
    replies.push(r);
    // Bad verifier.
    let r = redeem(&app, &app.web, &code1, &p2.verifier).await;
    check(&r, 400, grant_error, Some(X_VERIFIER_MISMATCH));
    replies.push(r);
    // Different redirect_uri.
    let r = post_token(
        &app,
        web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code1),
            ("redirect_uri", "http://127.0.0.1:8976/other"),
            ("code_verifier", &p1.verifier),
        ],
    )
    .await;
    check(&r, 400, grant_error, Some(X_REDIRECT_MISMATCH));
    replies.push(r);
    // Missing parameters.
    for (missing, fields) in [
        (
            "code",
            vec![
                ("grant_type", "authorization_code"),
                ("redirect_uri", CALLBACK),
                ("code_verifier", p1.verifier.as_str()),
            ],
        ),
        ("grant_type", vec![("code", code1.as_str())]),
        ("refresh_token", vec![("grant_type", "refresh_token")]),
    ] {
        let r = post_token(&app, web, &fields).await;
        let text = format!("Missing required parameter [{missing}].");
        check(&r, 400, "invalid_request", Some(&text));
        assert_eq!(r.body["error_description"], text.as_str());
        replies.push(r);
    }
    // A parameter repeated with different values.
    let body = format!(
        "{}&code={NEVER_ISSUED}",
        form(&code_fields(&code1, &p1.verifier))
    );
    let r = send(
        app.http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, basic(&app.web.client_id, &web_secret))
            .header(CONTENT_TYPE, FORM)
            .body(body),
    )
    .await;
    check(&r, 400, "invalid_request", None);
    replies.push(r);
    // Unsupported grant types, including the two RFC 9700 forbids.
    for grant in [
        "password",
        "implicit",
        "token",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "AUTHORIZATION_CODE",
        "nonsense",
    ] {
        let r = post_token(
            &app,
            web,
            &[
                ("grant_type", grant),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
        check(&r, 400, "unsupported_grant_type", None);
        assert_no_echo(&r, &[PASSWORD]);
        replies.push(r);
    }
    // Failed client authentication.
    let r = post_token(
        &app,
        Cred::Basic(&app.web.client_id, "wrong"),
        &code_fields(&code1, &p1.verifier),
    )
    .await;
    check(
        &r,
        401,
        if strict {
            "invalid_client"
        } else {
            "unauthorized_client"
        },
        Some(X_MISSING_AUTH),
    );
    replies.push(r);
    // A grant type this App may not use.
    let r = post_token(
        &app,
        creds(&app.native),
        &[("grant_type", "client_credentials")],
    )
    .await;
    if strict {
        check(&r, 400, "unauthorized_client", None);
    } else {
        check(&r, 401, "unauthorized_client", Some(X_MISSING_AUTH));
    }
    replies.push(r);
    assert_eq!(app.row_counts().await, before, "refusals change nothing");

    // Redeem code1; then the refresh-token rows.
    let ok = redeem(&app, &app.web, &code1, &p1.verifier).await;
    assert_tokens(&app, &ok, ALL_SCOPES, true);
    let rt = ok.str("refresh_token").to_owned();
    secrets.push(rt.clone());
    secrets.push(ok.str("access_token").to_owned());
    let before = app.row_counts().await;
    for scope in [
        "tweet.read users.read follows.read offline.access tweet.write",
        "tweet.read no.such.scope",
    ] {
        let r = refresh_as(&app, &app.web, &rt, &[("scope", scope)]).await;
        check(&r, 400, "invalid_scope", None);
        replies.push(r);
    }
    let r = refresh_as(&app, &app.web, NEVER_ISSUED, &[]).await;
    check(&r, 400, grant_error, Some(X_INVALID_TOKEN));
    replies.push(r);
    // Used code (this also revokes what it produced, B3).
    let r = redeem(&app, &app.web, &code1, &p1.verifier).await;
    check(&r, 400, grant_error, Some(X_INVALID_CODE));
    replies.push(r);
    // Revoked refresh token.
    let r = refresh_as(&app, &app.web, &rt, &[]).await;
    check(&r, 400, grant_error, Some(X_INVALID_TOKEN));
    replies.push(r);
    // Expired code.
    let ttl_ms = i64::try_from(app.state.config.oauth.authorization_code_ttl).expect("ttl") * 1000;
    app.clock.advance_ms(ttl_ms + 1000);
    let r = redeem(&app, &app.web, &code2, &p2.verifier).await;
    check(&r, 400, grant_error, Some(X_INVALID_CODE));
    replies.push(r);
    assert_eq!(app.row_counts().await, before, "refusals change nothing");

    // No error body echoes a code, verifier, token or secret.
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    for r in &replies {
        assert_no_echo(r, &secrets);
    }
}

#[tokio::test]
async fn sec_c06_error_table_x_mode() {
    error_table(false).await;
}

#[tokio::test]
async fn sec_c06_error_table_strict_mode() {
    error_table(true).await;
}

#[tokio::test]
async fn sec_c07_no_store_on_success_and_errors() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    // Success of each grant type.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let r = refresh_as(&app, &app.web, r.str("refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let r = post_token(
        &app,
        creds(&app.web),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_tokens(&app, &r, "", false);
    // Errors the handler does not reach: unreadable bodies and content types.
    for (ct, body) in [
        (
            "multipart/form-data; boundary=x",
            "--x\r\n\r\n--x--".to_owned(),
        ),
        ("text/plain", "grant_type=client_credentials".to_owned()),
        ("application/json", "{not json".to_owned()),
        (FORM, "grant_type=%zz".to_owned()),
        (
            FORM,
            format!("grant_type=client_credentials&scope={}", "a".repeat(1100)),
        ),
    ] {
        let r = send(
            app.http
                .post(app.url(TOKEN_PATH))
                .header(CONTENT_TYPE, ct)
                .body(body),
        )
        .await;
        assert_error(&r, 400, "invalid_request");
    }
    // Too large a body.
    let r = send(
        app.http
            .post(app.url(TOKEN_PATH))
            .header(CONTENT_TYPE, FORM)
            .body(format!("x={}", "a".repeat(70 * 1024))),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_no_store(&r);
}

#[tokio::test]
async fn sec_c08_client_credentials_confidential_only() {
    let app = spawn_app().await;
    let before = app.row_counts().await;
    let r = post_token(
        &app,
        creds(&app.native),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_x_unauthorized_client(&r);
    assert_eq!(
        app.row_counts().await,
        before,
        "no token row for a public App"
    );

    let r = post_token(
        &app,
        creds(&app.web),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_tokens(&app, &r, "", false);
    assert!(r.body.get("refresh_token").is_none());
    let after = app.row_counts().await;
    assert_eq!(after["access_tokens"], before["access_tokens"] + 1);
    assert_eq!(after["refresh_tokens"], before["refresh_tokens"]);
    assert_eq!(after["grants"], before["grants"]);
    // An app-context token: no user, so user-context endpoints refuse it.
    let resp = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(r.str("access_token"))
        .send()
        .await
        .expect("me");
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.expect("problem body");
    assert_eq!(
        body["type"],
        "https://api.twitter.com/2/problems/unsupported-authentication"
    );
    assert_eq!(body["status"], 403);
    // `scope` asked for at client_credentials time grants nothing.
    let r = post_token(
        &app,
        creds(&app.web),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "tweet.read users.read"),
        ],
    )
    .await;
    assert_tokens(&app, &r, "", false);
    assert_eq!(app.me(r.str("access_token")).await, 403);
}

#[tokio::test]
async fn sec_c08_client_credentials_public_refused_strict() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let before = app.row_counts().await;
    let r = post_token(
        &app,
        creds(&app.native),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_error(&r, 400, "unauthorized_client");
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_c10_no_secrets_in_the_url() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let web_id = app.web.client_id.as_str();
    let web_secret = app.web.client_secret.as_deref().expect("secret");
    let p = AuthParams::new(web_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    for (name, value) in [
        ("client_secret", web_secret),
        ("password", PASSWORD),
        ("refresh_token", NEVER_ISSUED),
    ] {
        let query = form(&[(name, value)]);
        // Otherwise a valid exchange, with the client_id and secret in the body.
        let mut fields = code_fields(&code, &p.verifier);
        fields.push(("client_id", web_id));
        let r = send(
            app.http
                .post(app.url(&format!("{TOKEN_PATH}?{query}")))
                .header(CONTENT_TYPE, FORM)
                .body(form(&fields)),
        )
        .await;
        assert_error(&r, 400, "invalid_request");
        assert_no_echo(&r, &[value, &code]);
        assert_eq!(app.row_counts().await, before, "{name} in the URL");
    }
    // The code is untouched; a valid exchange gives a refresh token.
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let rt = r.str("refresh_token");
    // A real refresh token in the URL is refused and not rotated.
    let before = app.row_counts().await;
    let r = send(
        app.http
            .post(app.url(&format!("{TOKEN_PATH}?{}", form(&[("refresh_token", rt)]))))
            .header(AUTHORIZATION, basic(web_id, web_secret))
            .header(CONTENT_TYPE, FORM)
            .body("grant_type=refresh_token"),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    assert_no_echo(&r, &[rt]);
    assert_eq!(app.row_counts().await, before);
    // Even with nothing else in the request.
    let r = send(app.http.post(app.url(&format!(
        "{TOKEN_PATH}?{}",
        form(&[("client_secret", web_secret)])
    ))))
    .await;
    assert_error(&r, 400, "invalid_request");
    let r = refresh_as(&app, &app.web, rt, &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_c11_post_only_no_cookies() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let secret = app.web.client_secret.as_deref().expect("secret");
    // GET (even carrying a complete, valid exchange) and other methods → 405, nothing issued.
    let query = form(&code_fields(&code, &p.verifier));
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url(&format!("{TOKEN_PATH}?{query}")))
            .header(AUTHORIZATION, basic(&app.web.client_id, secret))
            .send()
            .await
            .expect("request");
        let r = send_response(resp).await;
        assert_eq!(r.status, 405, "{method}");
        assert_no_store(&r);
    }
    assert_eq!(app.row_counts().await, before);

    // The signed-in browser's cookies do not authenticate a client.
    for cred in [Cred::Nothing, Cred::Body(&app.web.client_id, None)] {
        let mut fields = code_fields(&code, &p.verifier);
        if let Cred::Body(id, _) = cred {
            fields.push(("client_id", id));
        }
        let r = send(
            b.post(app.url(TOKEN_PATH))
                .header(CONTENT_TYPE, FORM)
                .body(form(&fields)),
        )
        .await;
        assert_x_unauthorized_client(&r);
    }
    let r = send(
        b.post(app.url(TOKEN_PATH))
            .header(CONTENT_TYPE, FORM)
            .body("grant_type=client_credentials"),
    )
    .await;
    assert_x_unauthorized_client(&r);
    assert_eq!(app.row_counts().await, before);
    // A successful exchange sets no cookie and does not redirect (assert_tokens checks both).
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

// ---------------------------------------------------------------------------------------------
// D1. Refresh tokens only with offline.access

#[tokio::test]
async fn sec_d01_refresh_token_only_with_offline_access() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let before = app.row_counts().await;
    for client in [&app.web, &app.native] {
        let p = AuthParams::new(&client.client_id, "tweet.read users.read");
        let code = code_in(&app, &b, &p).await;
        let r = redeem(&app, client, &code, &p.verifier).await;
        assert_tokens(&app, &r, "tweet.read users.read", false);
        assert!(r.body.get("refresh_token").is_none(), "{}", r.text);
        assert_eq!(app.me(r.str("access_token")).await, 200);
    }
    let after = app.row_counts().await;
    assert_eq!(
        after["refresh_tokens"], before["refresh_tokens"],
        "no refresh row"
    );
    assert_eq!(after["access_tokens"], before["access_tokens"] + 2);

    // With offline.access: the field and exactly one row.
    let t = tokens_in(&app, &b, &app.web, "tweet.read users.read offline.access").await;
    assert!(t["refresh_token"].is_string());
    assert_eq!(
        app.row_counts().await["refresh_tokens"],
        after["refresh_tokens"] + 1
    );
    assert_eq!(access_rows(&app).await, after["access_tokens"] + 1);
}
