//! Input hardening (checklist H1-H7) and HTTP headers every response carries (I1-I3, request ids).

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod raw;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use roost::accounts::{self, AppSpec, FixedCredentials};
use roost_domain::{ClientId, ClientType, CodeChallenge, CodeVerifier, PkceMode, Secret};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::storage::db::{assert_unchanged, snapshot};
use raw::{RawResponse, chunked, request, send};

const FORM: &[u8] = b"application/x-www-form-urlencoded";
const JSON: &[u8] = b"application/json";

/// Every endpoint that takes input, with its method.
const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/2/oauth2/token"),
    ("POST", "/2/oauth2/revoke"),
    ("POST", "/oauth2/token"),
    ("POST", "/oauth2/invalidate_token"),
    ("GET", "/i/oauth2/authorize"),
    ("POST", "/i/oauth2/authorize"),
    ("GET", "/2/users/me"),
    // The API's writes and paths with broken escapes (no credentials here; with a valid token
    // in `sec_h06_malformed_api_writes_are_4xx_and_change_nothing`).
    ("POST", "/2/tweets"),
    ("POST", "/2/users/1000000000000000001/following"),
    (
        "DELETE",
        "/2/users/1000000000000000001/following/1000000000000000002",
    ),
    ("DELETE", "/2/tweets/1000000000000000001"),
    ("GET", "/2/users/%FF"),
    ("GET", "/2/users/by/username/%FF"),
    ("DELETE", "/2/users/%FF/following/%C0"),
];

fn basic(id: &str, secret: &str) -> String {
    roost_domain::BasicCredentials::header_value(id, secret)
}

fn web_basic(app: &TestApp) -> String {
    basic(
        &app.web.client_id,
        app.web.client_secret.as_deref().unwrap(),
    )
}

fn api_basic(app: &TestApp) -> String {
    basic(&app.web.api_key, &app.web.api_secret)
}

/// `json` padded with trailing spaces to exactly `len` bytes (still valid JSON).
fn padded_json(json: &str, len: usize) -> Vec<u8> {
    assert!(json.len() <= len);
    let mut v = json.as_bytes().to_vec();
    v.resize(len, b' ');
    v
}

async fn app_only_token(app: &TestApp) -> String {
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .header("authorization", api_basic(app))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// For each machine endpoint: the Authorization and JSON body of a call that succeeds.
async fn succeeding_call(app: &TestApp, path: &str) -> (String, String) {
    match path {
        "/2/oauth2/token" => (
            web_basic(app),
            json!({"grant_type": "client_credentials"}).to_string(),
        ),
        "/2/oauth2/revoke" => (web_basic(app), json!({"token": "unknown"}).to_string()),
        "/oauth2/token" => (
            api_basic(app),
            json!({"grant_type": "client_credentials"}).to_string(),
        ),
        "/oauth2/invalidate_token" => (
            api_basic(app),
            json!({"access_token": app_only_token(app).await}).to_string(),
        ),
        other => panic!("{other}"),
    }
}

const MACHINE: [&str; 4] = [
    "/2/oauth2/token",
    "/2/oauth2/revoke",
    "/oauth2/token",
    "/oauth2/invalidate_token",
];

#[tokio::test]
async fn sec_h01_oversized_bodies_are_413_before_any_work() {
    let app = spawn_app().await;
    let limit = app.state.config.server.max_body_bytes;
    let over = limit + 1024;
    let bearer = app_only_token(&app).await;
    for path in MACHINE {
        let (auth, body) = succeeding_call(&app, path).await;
        let before = snapshot(&app).await;
        // With Content-Length.
        let resp = app
            .http
            .post(app.url(path))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(padded_json(&body, over))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}, Content-Length");
        // Chunked, without Content-Length.
        let r = send(
            &app,
            request(
                "POST",
                path.as_bytes(),
                &[
                    ("Authorization", auth.as_bytes()),
                    ("Content-Type", JSON),
                    ("Transfer-Encoding", b"chunked"),
                ],
                &chunked(&padded_json(&body, over), 4096),
            ),
        )
        .await;
        assert_eq!(r.status, 413, "{path}, chunked: {}", r.body_text());
        assert_unchanged(&app, &before, path).await;
    }
    // The browser form too.
    for chunk in [None, Some(4096)] {
        let body = format!("username=alice&password={}", "p".repeat(over));
        let mut headers: Vec<(&str, &[u8])> = vec![("Content-Type", FORM)];
        let payload = match chunk {
            Some(n) => {
                headers.push(("Transfer-Encoding", b"chunked"));
                chunked(body.as_bytes(), n)
            }
            None => body.into_bytes(),
        };
        let r = send(
            &app,
            request("POST", b"/i/oauth2/authorize", &headers, &payload),
        )
        .await;
        assert_eq!(r.status, 413, "authorize form, chunk {chunk:?}");
    }
    // The app-only token survived every refused invalidation.
    let me = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 403);
}

#[tokio::test]
async fn sec_h01_bodies_at_the_limit_are_accepted() {
    let app = spawn_app().await;
    let limit = app.state.config.server.max_body_bytes;
    for path in MACHINE {
        for chunk in [None, Some(8192)] {
            let (auth, body) = succeeding_call(&app, path).await;
            let padded = padded_json(&body, limit);
            let mut headers: Vec<(&str, &[u8])> =
                vec![("Authorization", auth.as_bytes()), ("Content-Type", JSON)];
            let payload = match chunk {
                Some(n) => {
                    headers.push(("Transfer-Encoding", b"chunked"));
                    chunked(&padded, n)
                }
                None => padded,
            };
            let r = send(&app, request("POST", path.as_bytes(), &headers, &payload)).await;
            assert_eq!(r.status, 200, "{path}, chunk {chunk:?}: {}", r.body_text());
        }
    }
}

#[tokio::test]
async fn sec_h02_long_uri_is_414() {
    let app = spawn_app().await;
    let max = app.state.config.server.max_uri_bytes;
    for (method, path) in [
        ("GET", "/healthz"),
        ("GET", "/2/users/me"),
        ("GET", "/i/oauth2/authorize"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("POST", "/2/oauth2/token"),
        ("POST", "/2/oauth2/revoke"),
        ("POST", "/oauth2/token"),
    ] {
        let pad = |len: usize| format!("{path}?pad={}", "a".repeat(len - path.len() - 5));
        let at = pad(max);
        assert_eq!(at.len(), max);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let at_limit = app
            .http
            .request(m.clone(), app.url(&at))
            .send()
            .await
            .unwrap();
        assert_ne!(at_limit.status(), 414, "{path} at the limit");
        assert!(at_limit.status().as_u16() < 500, "{path}");
        for len in [max + 1, 20 * 1024] {
            let resp = app
                .http
                .request(m.clone(), app.url(&pad(len)))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 414, "{method} {path}, {len} bytes");
        }
    }
}

#[tokio::test]
async fn sec_h02_oversized_headers_are_431() {
    let app = spawn_app().await;
    let max = app.state.config.server.max_header_bytes;
    // `request` sends `Host: roost.test` and `Connection: close`; each line counts name, ": ",
    // value and CRLF.
    let fixed = ("host".len() + "roost.test".len() + 4) + ("connection".len() + "close".len() + 4);
    let pad = |total: usize| vec![b'p'; total - fixed - ("x-pad".len() + 4)];
    for path in ["/healthz", "/2/users/me", "/2/oauth2/token"] {
        let at = pad(max);
        let r = send(
            &app,
            request("GET", path.as_bytes(), &[("X-Pad", &at)], b""),
        )
        .await;
        assert_ne!(r.status, 431, "{path} at the limit");
        assert!(r.status < 500, "{path}");
        for total in [max + 1, 20 * 1024, 200 * 1024] {
            let r = send(
                &app,
                request("GET", path.as_bytes(), &[("X-Pad", &pad(total))], b""),
            )
            .await;
            assert_eq!(r.status, 431, "{path}, {total} bytes of headers");
        }
    }
    // A client's own request id is echoed, so it is kept short.
    let r = send(
        &app,
        request("GET", b"/healthz", &[("X-Request-Id", b"abc-123")], b""),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id"), Some(b"abc-123".as_slice()));
    let r = send(
        &app,
        request("GET", b"/healthz", &[("X-Request-Id", &[b'r'; 129])], b""),
    )
    .await;
    assert_eq!(r.status, 431, "a 129-byte request id");
    // Too many headers, each small.
    let names: Vec<String> = (0..150).map(|i| format!("X-H{i}")).collect();
    let headers: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), b"1".as_slice()))
        .collect();
    let r = send(&app, request("GET", b"/healthz", &headers, b"")).await;
    assert_eq!(r.status, 431, "150 headers");
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

// ---- H3: parameter lengths ----

fn too_long(name: &str, limit: usize) -> Value {
    json!({
        "error": "invalid_request",
        "error_description": format!("the parameter `{name}` is longer than {limit} characters"),
    })
}

/// A scope value of exactly `len` characters: `tweet.read` and spaces.
fn scope_of_len(len: usize) -> String {
    let mut s = "tweet.read".to_owned();
    s.push_str(&" ".repeat(len - s.len()));
    s
}

/// A loopback callback URL of exactly `len` characters.
fn callback_of_len(len: usize) -> String {
    let mut s = "http://127.0.0.1:8976/callback?pad=".to_owned();
    s.push_str(&"p".repeat(len - s.len()));
    s
}

#[tokio::test]
async fn sec_h03_parameter_limits_on_the_code_exchange() {
    let app = spawn_app().await;
    // A public App whose client_id and callback are exactly at their limits.
    let client_id = "c".repeat(128);
    let callback = callback_of_len(2048);
    accounts::create_app(
        app.state.store.as_ref(),
        &app.state.ids,
        app.state.now(),
        AppSpec {
            name: "Limits",
            project: "Test Project",
            client_type: ClientType::Public,
            callbacks: std::slice::from_ref(&callback),
            fixed: Some(FixedCredentials {
                client_id: ClientId::parse(&client_id).unwrap(),
                client_secret: None,
                api_key: "limits-api-key".into(),
                api_secret: Secret::client_secret(),
            }),
        },
    )
    .await
    .unwrap();
    let verifier = "v".repeat(256);
    let challenge = CodeChallenge::s256_of(&CodeVerifier::parse(&verifier, PkceMode::X).unwrap());
    let p = AuthParams::new(&client_id, ALL_SCOPES)
        .set("redirect_uri", Some(&callback))
        .set("code_challenge", Some(challenge.as_str()));
    let code = app.code_for(&p).await;

    let state = "s".repeat(500);
    let extra_challenge = "x".repeat(128);
    let scope = scope_of_len(1024);
    let at_limit: Vec<(&str, String)> = vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", callback.clone()),
        ("code_verifier", verifier.clone()),
        ("client_id", client_id.clone()),
        ("state", state),
        ("code_challenge", extra_challenge),
        ("scope", scope),
    ];
    let before = snapshot(&app).await;
    for (name, limit) in [
        ("client_id", 128),
        ("state", 500),
        ("code_challenge", 128),
        ("code_verifier", 256),
        ("scope", 1024),
        ("redirect_uri", 2048),
        ("code", 512),
    ] {
        let fields: Vec<(&str, String)> = at_limit
            .iter()
            .map(|(k, v)| {
                if *k == name {
                    // One more character of the same kind (spaces for the scope, so it stays
                    // a valid list).
                    let mut v = v.clone();
                    v.push(if name == "scope" { ' ' } else { 'z' });
                    while v.chars().count() <= limit {
                        v.push('z');
                    }
                    assert_eq!(v.chars().count(), limit + 1, "{name}");
                    (*k, v)
                } else {
                    (*k, v.clone())
                }
            })
            .collect();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = app
            .http
            .post(app.url("/2/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&fields))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{name}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.json::<Value>().await.unwrap(), too_long(name, limit));
    }
    assert_unchanged(&app, &before, "over-long parameters").await;
    // Every parameter exactly at its limit: the code was not burnt, and it redeems.
    let fields: Vec<(&str, &str)> = at_limit.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = app
        .http
        .post(app.url("/2/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&fields))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    // The scope sent at the token endpoint cannot change the grant (B8).
    assert_eq!(tokens["scope"], ALL_SCOPES);
    assert_eq!(app.me(tokens["access_token"].as_str().unwrap()).await, 200);
}

#[tokio::test]
async fn sec_h03_token_limits_on_refresh_and_revoke() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let before = snapshot(&app).await;
    // 512 characters: looked up (unknown); 513: refused before any lookup.
    let (s, b) = app.refresh(&"r".repeat(512)).await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid.", "roost_detail": "the refresh token is unknown"})
    );
    let (s, b) = app.refresh(&"r".repeat(513)).await;
    assert_eq!(s, 400);
    assert_eq!(b, too_long("refresh_token", 512));
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", &scope_of_len(1025)),
            ],
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(b, too_long("scope", 1024));
    let revoke = |token: String| {
        app.http
            .post(app.url("/2/oauth2/revoke"))
            .header("authorization", web_basic(&app))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", &token)]))
            .send()
    };
    let resp = revoke("t".repeat(512)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = revoke("t".repeat(513)).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap(), too_long("token", 512));
    assert_unchanged(&app, &before, "over-long tokens").await;
    // A 1024-character scope is accepted (and narrows the grant to tweet.read).
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", &scope_of_len(1024)),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "tweet.read");
}

#[tokio::test]
async fn sec_h03_at_most_64_parameters() {
    let app = spawn_app().await;
    let names: Vec<String> = (1..=64).map(|i| format!("p{i}")).collect();
    let mut fields: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    fields.extend(names.iter().take(63).map(|n| (n.as_str(), "1")));
    assert_eq!(fields.len(), 64);
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &fields,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let before = snapshot(&app).await;
    fields.push((names[63].as_str(), "1"));
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &fields,
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"error": "invalid_request", "error_description": "the request has more than 64 parameters"})
    );
    assert_unchanged(&app, &before, "65 parameters").await;
}

// ---- H4, H5: repeated, empty and unknown parameters ----

fn conflict(name: &str) -> Value {
    json!({
        "error": "invalid_request",
        "error_description": format!("the parameter `{name}` was given more than once with different values"),
    })
}

async fn post_raw_form(
    app: &TestApp,
    path_and_query: &str,
    auth: Option<&str>,
    ct: &str,
    body: &str,
) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url(path_and_query))
        .header("content-type", ct)
        .body(body.to_owned());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sec_h04_disagreeing_repeats_are_refused() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let auth = web_basic(&app);
    let form_ct = "application/x-www-form-urlencoded";
    let before = snapshot(&app).await;
    let rows: Vec<(&str, String, &str, String, Value)> = vec![
        (
            "scope twice in a form",
            "/2/oauth2/token".into(),
            form_ct,
            format!(
                "grant_type=refresh_token&refresh_token={rt}&scope=tweet.read&scope=users.read"
            ),
            conflict("scope"),
        ),
        (
            "refresh_token in query and body",
            "/2/oauth2/token?grant_type=refresh_token".into(),
            form_ct,
            format!("grant_type=client_credentials&refresh_token={rt}"),
            conflict("grant_type"),
        ),
        (
            "duplicate keys in a JSON object",
            "/2/oauth2/token".into(),
            "application/json",
            format!(
                r#"{{"grant_type":"refresh_token","refresh_token":"{rt}","scope":"tweet.read","scope":"users.read"}}"#
            ),
            conflict("scope"),
        ),
        (
            "JSON and query disagree",
            "/2/oauth2/token?scope=users.read".into(),
            "application/json",
            json!({"grant_type": "refresh_token", "refresh_token": rt, "scope": "tweet.read"})
                .to_string(),
            conflict("scope"),
        ),
        (
            "token twice on revoke",
            "/2/oauth2/revoke".into(),
            form_ct,
            format!("token={rt}&token=other"),
            conflict("token"),
        ),
        (
            "token twice in JSON on revoke",
            "/2/oauth2/revoke".into(),
            "application/json",
            format!(r#"{{"token":"other","token":"{rt}"}}"#),
            conflict("token"),
        ),
    ];
    for (what, path, ct, body, expected) in rows {
        let (s, b) = post_raw_form(&app, &path, Some(&auth), ct, &body).await;
        assert_eq!(s, 400, "{what}: {b}");
        assert_eq!(b, expected, "{what}");
    }
    // Basic and body disagreeing on the client is a client-authentication failure (C3).
    let (s, b) = post_raw_form(
        &app,
        "/2/oauth2/token",
        Some(&auth),
        form_ct,
        &format!(
            "grant_type=refresh_token&refresh_token={rt}&client_id={}",
            app.native.client_id
        ),
    )
    .await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["error"], "unauthorized_client");
    assert_unchanged(&app, &before, "disagreeing repeats").await;

    // Agreeing repeats are fine, in every source.
    let (s, b) = post_raw_form(
        &app,
        &format!("/2/oauth2/token?client_id={}", app.web.client_id),
        Some(&auth),
        "application/json",
        &format!(
            r#"{{"grant_type":"refresh_token","refresh_token":"{rt}","scope":"tweet.read","scope":"tweet.read","client_id":"{}"}}"#,
            app.web.client_id
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "tweet.read");
    let rt2 = b["refresh_token"].as_str().unwrap();
    let (s, b) = post_raw_form(
        &app,
        "/2/oauth2/token",
        Some(&auth),
        form_ct,
        &format!("grant_type=refresh_token&refresh_token={rt2}&scope=tweet.read&scope=tweet.read"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn sec_h05_empty_means_absent_and_unknown_is_ignored() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let before = snapshot(&app).await;
    // An empty code_verifier is a missing one.
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", ""),
            ],
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"error": "invalid_request", "error_description": "Missing required parameter [code_verifier]."})
    );
    assert_unchanged(&app, &before, "empty code_verifier").await;
    // Unknown parameters are ignored: not echoed, not stored.
    let marker = "unknown-param-marker-7f3a";
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
                ("foo", marker),
                (marker, "<script>"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(!b.to_string().contains(marker));
    assert!(
        snapshot(&app)
            .await
            .find_bytes(marker.as_bytes())
            .is_empty()
    );
    // An empty scope on refresh is no scope: the whole grant.
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", b["refresh_token"].as_str().unwrap()),
                ("scope", ""),
            ],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], ALL_SCOPES);
}

/// `POST /2/oauth2/token` with a raw `Authorization` value and a form body: (status, body).
async fn token_with_authorization(
    app: &TestApp,
    authorization: Option<&str>,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/2/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sec_h05_empty_client_secret_is_no_secret_in_basic_and_body() {
    let app = spawn_app().await;
    let empty_basic = |id: &str| format!("Basic {}", STANDARD.encode(format!("{id}:")));
    // A public App sending `Basic base64(id:)` authenticates as public, as with `client_id` and
    // an empty `client_secret` in the body.
    let p = AuthParams::new(&app.native.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (s, b) = token_with_authorization(
        &app,
        Some(&empty_basic(&app.native.client_id)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = token_with_authorization(
        &app,
        Some(&empty_basic(&app.native.client_id)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", b["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = token_with_authorization(
        &app,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", b["refresh_token"].as_str().unwrap()),
            ("client_id", &app.native.client_id),
            ("client_secret", ""),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // A confidential App with an empty secret has not presented one, wherever it is empty:
    // the same missing-secret refusal both ways, nothing changed.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", p.verifier.as_str()),
    ];
    let before = snapshot(&app).await;
    let (s, in_basic) =
        token_with_authorization(&app, Some(&empty_basic(&app.web.client_id)), &fields).await;
    assert_eq!(s, 401, "{in_basic}");
    assert_eq!(in_basic["error"], "unauthorized_client");
    assert!(
        in_basic["roost_detail"]
            .as_str()
            .unwrap()
            .contains("is confidential and must authenticate with its client secret"),
        "{in_basic}"
    );
    let mut body_fields = fields.to_vec();
    body_fields.extend([
        ("client_id", app.web.client_id.as_str()),
        ("client_secret", ""),
    ]);
    let (s, in_body) = token_with_authorization(&app, None, &body_fields).await;
    assert_eq!(s, 401, "{in_body}");
    assert_eq!(in_basic, in_body);
    // `Basic base64(:)` names no client at all.
    let (s, b) = token_with_authorization(&app, Some(&empty_basic("")), &fields).await;
    assert_eq!(s, 401, "{b}");
    assert_unchanged(&app, &before, "empty client secrets").await;
    // The code still works for its App with its secret.
    let (s, b) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{b}");
}

// ---- H6: the malformed-request corpus ----

struct Case {
    name: &'static str,
    query: Option<Vec<u8>>,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    /// A malformed encoding of the body: with valid credentials, token and revoke answer exactly
    /// 400 `invalid_request`.
    bad_body: bool,
}

fn case(name: &'static str, ct: Option<&[u8]>, body: &[u8], bad_body: bool) -> Case {
    Case {
        name,
        query: None,
        headers: ct
            .map(|c| vec![("Content-Type", c.to_vec())])
            .unwrap_or_default(),
        body: body.to_vec(),
        bad_body,
    }
}

fn header_case(name: &'static str, headers: Vec<(&'static str, Vec<u8>)>) -> Case {
    let mut h = headers;
    h.push(("Content-Type", FORM.to_vec()));
    Case {
        name,
        query: None,
        headers: h,
        body: b"grant_type=client_credentials&token=x".to_vec(),
        bad_body: false,
    }
}

fn query_case(name: &'static str, query: &[u8]) -> Case {
    Case {
        name,
        query: Some(query.to_vec()),
        headers: vec![("Content-Type", FORM.to_vec())],
        body: Vec::new(),
        bad_body: false,
    }
}

fn b64(bytes: &[u8]) -> Vec<u8> {
    let mut v = b"Basic ".to_vec();
    v.extend_from_slice(STANDARD.encode(bytes).as_bytes());
    v
}

/// The malformed bodies. Each one, read leniently, would be a valid `client_credentials` token
/// request or a revocation of `TOKEN` (replaced by a real token).
fn body_corpus() -> Vec<Case> {
    let deep = "[".repeat(60_000);
    let many = "a=1&".repeat(10_000);
    let huge = format!("grant_type=client_credentials&token={}", "T".repeat(60_000));
    let multipart = b"--XyZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nTOKEN\r\n--XyZ--\r\n";
    vec![
        case(
            "invalid UTF-8",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&x=\xff\xfe",
            true,
        ),
        case(
            "invalid UTF-8 behind an escape",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&x=%C3%28",
            true,
        ),
        case(
            "broken escape",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&x=%zz",
            true,
        ),
        case(
            "truncated escape",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&x=%4",
            true,
        ),
        case(
            "lone percent",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&x=%",
            true,
        ),
        case(
            "broken escape in a name",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&%zz=1",
            true,
        ),
        case(
            "escaped NUL",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&x=a%00b",
            true,
        ),
        case(
            "raw NUL",
            Some(FORM),
            b"grant_type=client_credentials&token=TOKEN&x=a\0b",
            true,
        ),
        case(
            "NUL in JSON",
            Some(JSON),
            b"{\"grant_type\":\"client_credentials\",\"token\":\"TOKEN\",\"x\":\"a\\u0000b\"}",
            true,
        ),
        case(
            "CR/LF in a value",
            Some(FORM),
            b"grant_type=client_credentials%0D%0ASet-Cookie:%20a=b&token=TOKEN%0D%0A",
            false,
        ),
        case(
            "raw CR/LF",
            Some(FORM),
            b"grant_type=client_credentials\r\n&token=TOKEN\r\n",
            false,
        ),
        case(
            "truncated JSON",
            Some(JSON),
            b"{\"grant_type\":\"client_credentials\",\"token\":\"TOKEN\"",
            true,
        ),
        case(
            "single-quoted JSON",
            Some(JSON),
            b"{'grant_type':'client_credentials','token':'TOKEN'}",
            true,
        ),
        case(
            "JSON array",
            Some(JSON),
            b"[\"grant_type\",\"client_credentials\",\"token\",\"TOKEN\"]",
            true,
        ),
        case(
            "JSON array of objects",
            Some(JSON),
            b"[{\"grant_type\":\"client_credentials\",\"token\":\"TOKEN\"}]",
            true,
        ),
        case(
            "JSON nested object",
            Some(JSON),
            b"{\"grant_type\":\"client_credentials\",\"token\":\"TOKEN\",\"x\":{\"a\":1}}",
            true,
        ),
        case(
            "JSON array value",
            Some(JSON),
            b"{\"grant_type\":[\"client_credentials\"],\"token\":[\"TOKEN\"]}",
            true,
        ),
        case(
            "JSON string",
            Some(JSON),
            b"\"grant_type=client_credentials&token=TOKEN\"",
            true,
        ),
        case("deeply nested JSON", Some(JSON), deep.as_bytes(), true),
        case(
            "deeply nested JSON member",
            Some(JSON),
            format!("{{\"grant_type\":\"client_credentials\",\"x\":{deep}").as_bytes(),
            true,
        ),
        case(
            "JSON with invalid UTF-8",
            Some(JSON),
            b"{\"grant_type\":\"client_credentials\",\"token\":\"TOKEN\",\"x\":\"\xff\"}",
            true,
        ),
        case(
            "text/plain",
            Some(b"text/plain"),
            b"grant_type=client_credentials&token=TOKEN",
            true,
        ),
        case(
            "multipart",
            Some(b"multipart/form-data; boundary=XyZ"),
            multipart,
            true,
        ),
        case(
            "XML",
            Some(b"application/xml"),
            b"<grant_type>client_credentials</grant_type>",
            true,
        ),
        case(
            "no Content-Type",
            None,
            b"grant_type=client_credentials&token=TOKEN",
            true,
        ),
        case(
            "Content-Type not UTF-8",
            Some(b"application/x-www-form-urlencoded\xff"),
            b"grant_type=client_credentials&token=TOKEN",
            true,
        ),
        case("a 60 KB value", Some(FORM), huge.as_bytes(), true),
        Case {
            name: "bad chunk size",
            query: None,
            headers: vec![
                ("Content-Type", FORM.to_vec()),
                ("Transfer-Encoding", b"chunked".to_vec()),
            ],
            body: b"zz\r\ngrant_type=client_credentials&token=TOKEN\r\n0\r\n\r\n".to_vec(),
            bad_body: true,
        },
        case("10,000 parameters", Some(FORM), many.as_bytes(), true),
    ]
}

/// Malformed requests with no usable credentials, for every endpoint.
fn full_corpus() -> Vec<Case> {
    let mut cases = body_corpus();
    cases.extend([
        header_case(
            "two Authorization headers",
            vec![
                ("Authorization", b"Basic Zm9vOmJhcg==".to_vec()),
                ("Authorization", b"Basic YmF6OnF1eA==".to_vec()),
            ],
        ),
        header_case(
            "Basic, bad base64",
            vec![("Authorization", b"Basic !!!***".to_vec())],
        ),
        header_case("Basic, no colon", vec![("Authorization", b64(b"nocolon"))]),
        header_case(
            "Basic, not UTF-8",
            vec![("Authorization", b64(b"\xff\xfe:\xff"))],
        ),
        header_case(
            "Basic, broken escapes",
            vec![("Authorization", b64(b"%zz:%zz"))],
        ),
        header_case("Basic, NUL", vec![("Authorization", b64(b"a\0:b\0"))]),
        header_case("Basic, empty", vec![("Authorization", b"Basic ".to_vec())]),
        header_case(
            "Basic, scheme only",
            vec![("Authorization", b"Basic".to_vec())],
        ),
        header_case(
            "Authorization not UTF-8",
            vec![("Authorization", b"Basic \xff\xfe".to_vec())],
        ),
        header_case(
            "Bearer on a client endpoint",
            vec![("Authorization", b"Bearer abc".to_vec())],
        ),
        header_case(
            "a 10 KB Authorization header",
            vec![(
                "Authorization",
                [b"Basic ".as_slice(), &[b'A'; 10_000]].concat(),
            )],
        ),
        header_case(
            "Content-Length not a number",
            vec![("Content-Length", b"abc".to_vec())],
        ),
        header_case(
            "two different Content-Lengths",
            vec![
                ("Content-Length", b"5".to_vec()),
                ("Content-Length", b"7".to_vec()),
            ],
        ),
        query_case("query: broken escape", b"client_id=%zz&state=%"),
        query_case(
            "query: escaped invalid UTF-8",
            b"client_id=%FF%FE&redirect_uri=%C3%28",
        ),
        query_case("query: raw invalid UTF-8", b"client_id=\xff\xfe"),
        query_case("query: NUL", b"client_id=a%00b&response_type=code"),
        query_case(
            "query: CR/LF",
            b"client_id=a%0D%0ALocation:%20https://evil.test&redirect_uri=%0D%0A",
        ),
        query_case("query: client_secret", b"client_id=a&client_secret=b"),
        query_case("query: 2,000 parameters", "x=1&".repeat(2_000).as_bytes()),
    ]);
    cases
}

fn target(path: &str, query: &Option<Vec<u8>>) -> Vec<u8> {
    let mut t = path.as_bytes().to_vec();
    if let Some(q) = query {
        t.push(b'?');
        t.extend_from_slice(q);
    }
    t
}

async fn send_case(
    app: &TestApp,
    method: &str,
    path: &str,
    c: &Case,
    auth: Option<&str>,
    token: &str,
) -> RawResponse {
    let body = String::from_utf8_lossy(&c.body).contains("TOKEN");
    let payload = if body {
        // Byte-level replacement keeps invalid UTF-8 intact.
        let mut out = Vec::new();
        let mut rest = c.body.as_slice();
        while let Some(i) = rest.windows(5).position(|w| w == b"TOKEN") {
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(token.as_bytes());
            rest = &rest[i + 5..];
        }
        out.extend_from_slice(rest);
        out
    } else {
        c.body.clone()
    };
    let mut headers: Vec<(&str, &[u8])> =
        c.headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    if let Some(a) = auth {
        headers.push(("Authorization", a.as_bytes()));
    }
    send(
        app,
        request(method, &target(path, &c.query), &headers, &payload),
    )
    .await
}

#[tokio::test]
async fn sec_h06_malformed_requests_never_crash() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let at = tokens["access_token"].as_str().unwrap();
    let bearer = app_only_token(&app).await;
    let before = snapshot(&app).await;
    for (method, path) in ENDPOINTS {
        for c in full_corpus() {
            let r = send_case(&app, method, path, &c, None, at).await;
            assert!(
                (400..500).contains(&r.status),
                "{method} {path}, {}: {} {}",
                c.name,
                r.status,
                r.body_text()
            );
            if let Some(loc) = r.header("location") {
                assert!(!loc.contains(&b'\r') && !loc.contains(&b'\n'), "{}", c.name);
            }
        }
    }
    assert_unchanged(&app, &before, "the corpus").await;
    // Still serving, and nothing was harmed.
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(app.me(at).await, 200);
    assert_eq!(app.me(&bearer).await, 403);
    let fresh = app.tokens(ALL_SCOPES).await;
    assert_eq!(app.me(fresh["access_token"].as_str().unwrap()).await, 200);
}

#[tokio::test]
async fn sec_h06_malformed_bodies_with_valid_credentials_issue_and_revoke_nothing() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let at = tokens["access_token"].as_str().unwrap();
    let bearer = app_only_token(&app).await;
    let before = snapshot(&app).await;
    let web = web_basic(&app);
    let api = api_basic(&app);
    for c in body_corpus() {
        for (path, auth, token) in [
            ("/2/oauth2/token", &web, at),
            ("/2/oauth2/revoke", &web, at),
            ("/oauth2/token", &api, at),
            ("/oauth2/invalidate_token", &api, bearer.as_str()),
        ] {
            let r = send_case(&app, "POST", path, &c, Some(auth), token).await;
            let what = format!("{path}, {}: {} {}", c.name, r.status, r.body_text());
            assert!(r.status < 500, "{what}");
            // Nothing is issued; a revocation may answer 200 for a token it cannot match
            // (RFC 7009 §2.2), and the store comparison below shows nothing was revoked.
            if path != "/2/oauth2/revoke" || c.bad_body {
                assert_ne!(r.status, 200, "{what}");
            }
            if c.bad_body && path.starts_with("/2/") {
                assert_eq!(r.status, 400, "{what}");
                let b: Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(b["error"], "invalid_request", "{what}");
            }
            if !path.starts_with("/2/") {
                assert_eq!(r.status, 403, "{what}");
            }
        }
    }
    assert_unchanged(&app, &before, "malformed bodies with valid credentials").await;
    assert_eq!(app.me(at).await, 200);
    assert_eq!(app.me(&bearer).await, 403);
}

#[tokio::test]
async fn sec_h06_crlf_cannot_split_the_redirect() {
    let app = spawn_app().await;
    let evil = "x\r\nSet-Cookie: a=b\r\nLocation: https://evil.test/";
    // An error redirect (unsupported response_type) carrying the state back.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
        .set("response_type", Some("token"))
        .set("state", Some(evil));
    let r = send(
        &app,
        request(
            "GET",
            format!("/i/oauth2/authorize?{}", p.query()).as_bytes(),
            &[],
            b"",
        ),
    )
    .await;
    assert!(r.status < 500, "{}", r.status);
    assert!(r.header("set-cookie").is_none());
    if (300..400).contains(&r.status) {
        let loc = String::from_utf8(r.header("location").unwrap().to_vec()).unwrap();
        assert!(loc.starts_with(CALLBACK), "{loc}");
        let q: Vec<(String, String)> =
            form_urlencoded::parse(loc.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert!(q.contains(&("state".into(), evil.into())), "{q:?}");
        assert!(q.contains(&("error".into(), "unsupported_response_type".into())));
    }
}

// ---- H6 on the API: path parameters with broken escapes, malformed writes ----

/// Every scope the API endpoints below need.
const API_SCOPES: &str =
    "tweet.read tweet.write users.read follows.read follows.write space.read offline.access";

/// The demo server without rate limits (the corpus sends more writes than a window allows),
/// and alice's token with `API_SCOPES`.
async fn api_app() -> (TestApp, String) {
    let app = spawn_demo_app_with(|c| c.rate_limits.enabled = false).await;
    let tokens = app.tokens_for("alice", "alice-password", API_SCOPES).await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    (app, at)
}

/// Each API path parameter, sent with an escape that does not decode to UTF-8 (or does not
/// decode at all), is X's invalid-request problem naming the parameter as X names it, with
/// the value as sent. axum's `Path` answered these with a `text/plain` 400 of its own.
#[tokio::test]
async fn sec_h06_broken_escapes_in_api_paths_are_x_invalid_requests() {
    use crate::users::support::{self as s, ALICE, BOB, JUDY};
    let (app, at) = api_app().await;
    let before = snapshot(&app).await;
    let bad = |name: &str, value: &str| {
        s::problem(
            name,
            &[value],
            &format!("The `{name}` query parameter value [{value}] is not valid"),
        )
    };
    let follow = json!({"target_user_id": BOB});
    let tweet = s::demo_timeline(ALICE)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: Vec<(&str, String, Value)> = vec![
        ("GET", "/2/users/%FF".into(), json!([bad("id", "%FF")])),
        (
            "GET",
            "/2/users/%C3%28".into(),
            json!([bad("id", "%C3%28")]),
        ),
        // An encoded UTF-16 surrogate is no UTF-8 either.
        (
            "GET",
            "/2/users/%ED%A0%80".into(),
            json!([bad("id", "%ED%A0%80")]),
        ),
        // Escapes that are no escapes are kept as sent too.
        ("GET", "/2/users/%zz".into(), json!([bad("id", "%zz")])),
        ("GET", "/2/tweets/%".into(), json!([bad("id", "%")])),
        ("GET", "/2/tweets/%C0".into(), json!([bad("id", "%C0")])),
        (
            "GET",
            "/2/users/%FF/tweets".into(),
            json!([bad("id", "%FF")]),
        ),
        (
            "GET",
            "/2/users/%FF/following".into(),
            json!([bad("id", "%FF")]),
        ),
        (
            "GET",
            "/2/users/%FF/followers".into(),
            json!([bad("id", "%FF")]),
        ),
        (
            "GET",
            "/2/users/%FF/following/spaces".into(),
            json!([bad("id", "%FF")]),
        ),
        ("GET", "/2/spaces/%FF".into(), json!([bad("id", "%FF")])),
        (
            "GET",
            "/2/users/by/username/%FF".into(),
            json!([s::problem(
                "username",
                &["%FF"],
                "The `username` query parameter value [%FF] does not match ^[A-Za-z0-9_]{1,15}$"
            )]),
        ),
        // The path rules stay the path rules: the same name in the query is a duplicate.
        (
            "GET",
            format!("/2/users/%FF?id={BOB}"),
            json!([
                s::problem(
                    "id",
                    &["%FF", BOB],
                    "The `id` query parameter value [%FF] is not valid"
                ),
                s::problem(
                    "id",
                    &["%FF", BOB],
                    "Duplicate parameters are not allowed: the `id` query parameter"
                ),
            ]),
        ),
        (
            "POST",
            "/2/users/%FF/following".into(),
            json!([bad("id", "%FF")]),
        ),
        ("DELETE", "/2/tweets/%C0".into(), json!([bad("id", "%C0")])),
        (
            "DELETE",
            "/2/users/%FF/following/%C0".into(),
            json!([bad("source_user_id", "%FF"), bad("target_user_id", "%C0")]),
        ),
        (
            "DELETE",
            format!("/2/users/{ALICE}/following/%FF"),
            json!([bad("target_user_id", "%FF")]),
        ),
        (
            "DELETE",
            format!("/2/users/%FF/following/{JUDY}"),
            json!([bad("source_user_id", "%FF")]),
        ),
    ];
    for (method, path, errors) in cases {
        let answer = match method {
            "GET" => s::get(&app, &at, &path).await,
            "POST" => s::post_json(&app, &at, &path, &follow).await,
            _ => s::delete(&app, &at, &path).await,
        };
        assert_eq!(answer.status, 400, "{method} {path}: {}", answer.body);
        answer.assert_invalid(errors);
    }
    // An escape that decodes is decoded, as before: `%31%32` is the id 12, which names nobody.
    s::get(&app, &at, "/2/users/%31%32")
        .await
        .assert_ok(&json!({
            "errors": [s::not_found("user", "id", "12")]
        }));
    assert_unchanged(&app, &before, "broken escapes in API paths").await;
    // alice still follows judy_reads, and her newest tweet is still there.
    let still = s::get(&app, &at, &format!("/2/tweets/{tweet}")).await;
    assert_eq!(still.status, 200);
    assert_eq!(still.body["data"]["id"], tweet.as_str());
}

/// Bodies no JSON client sends, for the API's writes: with `Content-Type: application/json`
/// unless the case says otherwise.
fn api_body_corpus() -> Vec<Case> {
    let over_limit = format!("{{\"text\":\"{}\"}}", "x".repeat(70_000));
    let long_text = format!("{{\"text\":\"{}\"}}", "x".repeat(60_000));
    vec![
        case("empty JSON body", Some(JSON), b"", true),
        case("JSON null", Some(JSON), b"null", true),
        case("JSON number", Some(JSON), b"42", true),
        case(
            "BOM before JSON",
            Some(JSON),
            b"\xef\xbb\xbf{\"text\":\"hi\"}",
            true,
        ),
        case("text is a number", Some(JSON), b"{\"text\":42}", true),
        case(
            "text is an object",
            Some(JSON),
            b"{\"text\":{\"a\":1}}",
            true,
        ),
        case(
            "lone surrogate",
            Some(JSON),
            b"{\"text\":\"\\ud800\",\"target_user_id\":\"\\ud800\"}",
            true,
        ),
        case(
            "target_user_id is a number",
            Some(JSON),
            b"{\"target_user_id\":1000000000000000002}",
            true,
        ),
        case(
            "target_user_id with a broken escape",
            Some(JSON),
            b"{\"target_user_id\":\"%FF\"}",
            true,
        ),
        case(
            "JSON as a form",
            Some(FORM),
            b"{\"text\":\"hi\",\"target_user_id\":\"1000000000000000002\"}",
            true,
        ),
        case(
            "JSON as text/plain",
            Some(b"text/plain"),
            b"{\"text\":\"hi\",\"target_user_id\":\"1000000000000000002\"}",
            true,
        ),
        case(
            "JSON without a Content-Type",
            None,
            b"{\"text\":\"hi\",\"target_user_id\":\"1000000000000000002\"}",
            true,
        ),
        case(
            "application/json-seq",
            Some(b"application/json-seq"),
            b"{\"text\":\"hi\",\"target_user_id\":\"1000000000000000002\"}",
            true,
        ),
        case("a 60 KB text", Some(JSON), long_text.as_bytes(), true),
        case(
            "a body over the limit",
            Some(JSON),
            over_limit.as_bytes(),
            true,
        ),
        Case {
            name: "a chunked body over the limit",
            query: None,
            headers: vec![
                ("Content-Type", JSON.to_vec()),
                ("Transfer-Encoding", b"chunked".to_vec()),
            ],
            body: chunked(over_limit.as_bytes(), 4096),
            bad_body: true,
        },
    ]
}

/// The API's writes with alice's valid token: the malformed-body corpus (the OAuth one and the
/// API's own) on `POST /2/tweets` and follow, and the malformed queries and paths on every
/// write. Every answer is a 4xx (X's invalid-request problem wherever the request reached the
/// API), none a 5xx, and nothing is written.
#[tokio::test]
async fn sec_h06_malformed_api_writes_are_4xx_and_change_nothing() {
    use crate::users::support::{ALICE, JUDY, demo_timeline};
    let (app, at) = api_app().await;
    let before = snapshot(&app).await;
    let bearer = format!("Bearer {at}");
    let tweet = demo_timeline(ALICE)[0]["id"].as_str().unwrap().to_owned();
    let follow = format!("/2/users/{ALICE}/following");
    let unfollow = format!("/2/users/{ALICE}/following/{JUDY}");
    let delete = format!("/2/tweets/{tweet}");
    let limit = app.state.config.server.max_body_bytes;
    let check = |what: String, r: &RawResponse, bad_body: bool| {
        assert!(
            (400..500).contains(&r.status),
            "{what}: {} {}",
            r.status,
            r.body_text()
        );
        if r.status == 413 {
            return;
        }
        if bad_body {
            assert_eq!(r.status, 400, "{what}: {}", r.body_text());
        }
        // Requests hyper cannot parse (raw bytes in the target, a bad chunk size) never reach
        // roost (no request id); every one that does gets X's body.
        if r.status == 400 && r.header("x-request-id").is_some() {
            let b: Value = serde_json::from_slice(&r.body)
                .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.body_text()));
            assert_eq!(b["title"], "Invalid Request", "{what}: {b}");
            assert_eq!(
                r.header("content-type"),
                Some(b"application/json; charset=utf-8".as_slice()),
                "{what}"
            );
        }
    };
    let mut bodies = body_corpus();
    bodies.extend(api_body_corpus());
    for path in ["/2/tweets", follow.as_str()] {
        for c in &bodies {
            let r = send_case(&app, "POST", path, c, Some(&bearer), &at).await;
            let what = format!("POST {path}, {}", c.name);
            if c.body.len() > limit {
                assert_eq!(r.status, 413, "{what}: {}", r.body_text());
            }
            check(what, &r, c.bad_body);
        }
    }
    // Queries: every case names parameters no write takes. Paths: broken escapes.
    let queries: Vec<Case> = full_corpus()
        .into_iter()
        .filter(|c| c.query.is_some())
        .map(|mut c| {
            c.headers.clear();
            c
        })
        .collect();
    assert!(queries.len() >= 5);
    let writes = [
        ("POST", "/2/tweets"),
        ("POST", follow.as_str()),
        ("DELETE", unfollow.as_str()),
        ("DELETE", delete.as_str()),
        ("POST", "/2/users/%FF/following"),
        ("DELETE", "/2/users/%FF/following/%C0"),
        ("DELETE", "/2/tweets/%C0"),
    ];
    for (method, path) in writes {
        for c in &queries {
            let mut c = Case {
                name: c.name,
                query: c.query.clone(),
                headers: c.headers.clone(),
                body: Vec::new(),
                bad_body: false,
            };
            if method == "POST" {
                // A body the endpoint would take, so that only the query (or path) is wrong.
                c.headers.push(("Content-Type", JSON.to_vec()));
                c.body = if path == "/2/tweets" {
                    br#"{"text":"a post that is never made"}"#.to_vec()
                } else {
                    br#"{"target_user_id":"1303667635778846721"}"#.to_vec()
                };
            }
            let r = send_case(&app, method, path, &c, Some(&bearer), &at).await;
            check(format!("{method} {path}, {}", c.name), &r, true);
        }
    }
    assert_unchanged(&app, &before, "malformed API writes").await;
    // The token still works, and so do the writes.
    let ok = send(
        &app,
        request(
            "DELETE",
            delete.as_bytes(),
            &[("Authorization", bearer.as_bytes())],
            b"",
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body_text());
    let b: Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(b, json!({"data": {"deleted": true}}));
}

#[tokio::test]
async fn sec_h07_only_form_and_json_bodies() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let at = tokens["access_token"].as_str().unwrap();
    let before = snapshot(&app).await;
    let multipart = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{at}\r\n--XyZ--\r\n"
    );
    let expected = json!({
        "error": "invalid_request",
        "error_description": "the body must be application/x-www-form-urlencoded or application/json",
    });
    for ct in [
        "multipart/form-data; boundary=XyZ",
        "text/plain",
        "application/octet-stream",
        "application/jsonx",
    ] {
        for path in ["/2/oauth2/token", "/2/oauth2/revoke"] {
            let (s, b) = post_raw_form(&app, path, Some(&web_basic(&app)), ct, &multipart).await;
            assert_eq!(s, 400, "{path} {ct}: {b}");
            assert_eq!(b, expected, "{path} {ct}");
        }
    }
    assert_unchanged(&app, &before, "other content types").await;
    assert_eq!(app.me(at).await, 200);
    // Both accepted types work, with parameters and any letter case in the media type.
    for ct in [
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
    ] {
        let (s, b) = post_raw_form(
            &app,
            "/2/oauth2/token",
            Some(&web_basic(&app)),
            ct,
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(s, 200, "{ct}: {b}");
    }
    let (s, b) = post_raw_form(
        &app,
        "/2/oauth2/token",
        Some(&web_basic(&app)),
        "application/json;charset=UTF-8",
        r#"{"grant_type":"client_credentials"}"#,
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

// ---- I1-I3 and request ids: headers on every response ----

/// A spread of responses: JSON successes and errors, problem bodies, HTML, 404, 413, 414.
async fn sample_responses(app: &TestApp, base: &str) -> Vec<(String, reqwest::Response)> {
    let http = &app.http;
    let url = |p: &str| format!("{base}{p}");
    let mut out = Vec::new();
    let web = web_basic(app);
    let api = api_basic(app);
    let form_ct = "application/x-www-form-urlencoded";
    let reqs: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("healthz", http.get(url("/healthz"))),
        ("readyz", http.get(url("/readyz"))),
        (
            "metadata",
            http.get(url("/.well-known/oauth-authorization-server")),
        ),
        (
            "token 200",
            http.post(url("/2/oauth2/token"))
                .header("authorization", &web)
                .header("content-type", form_ct)
                .body("grant_type=client_credentials"),
        ),
        (
            "token 400",
            http.post(url("/2/oauth2/token"))
                .header("authorization", &web)
                .header("content-type", form_ct)
                .body("grant_type=password"),
        ),
        (
            "token 401",
            http.post(url("/2/oauth2/token"))
                .header("content-type", form_ct)
                .body("grant_type=client_credentials"),
        ),
        (
            "revoke 200",
            http.post(url("/2/oauth2/revoke"))
                .header("authorization", &web)
                .header("content-type", form_ct)
                .body("token=x"),
        ),
        (
            "app-only 200",
            http.post(url("/oauth2/token"))
                .header("authorization", &api)
                .header("content-type", form_ct)
                .body("grant_type=client_credentials"),
        ),
        (
            "app-only 403",
            http.post(url("/oauth2/token"))
                .header("content-type", form_ct)
                .body("grant_type=client_credentials"),
        ),
        (
            "invalidate 403",
            http.post(url("/oauth2/invalidate_token"))
                .header("authorization", &api)
                .header("content-type", form_ct)
                .body("access_token=x"),
        ),
        ("me 401", http.get(url("/2/users/me"))),
        ("404", http.get(url("/2/nope"))),
        (
            "authorize error page",
            http.get(url("/i/oauth2/authorize?client_id=nope")),
        ),
        (
            "413",
            http.post(url("/2/oauth2/token"))
                .header("content-type", form_ct)
                .body(vec![b'a'; 70_000]),
        ),
        (
            "414",
            http.get(url(&format!("/healthz?{}", "a".repeat(10_000)))),
        ),
    ];
    for (name, req) in reqs {
        out.push((name.to_owned(), req.send().await.expect(name)));
    }
    out
}

#[tokio::test]
async fn sec_i02_nosniff_and_exact_content_types_on_json_responses() {
    let app = spawn_app().await;
    for (name, resp) in sample_responses(&app, &app.base).await {
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{name}");
        let ct = h
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let expected = match name.as_str() {
            "token 401" | "token 400" | "token 200" | "revoke 200" | "app-only 403"
            | "invalidate 403" | "healthz" | "readyz" | "metadata" => "application/json",
            // X's media type on the app-only endpoints' success (x-oauth2.md §6).
            "app-only 200" => "application/json; charset=utf-8",
            "me 401" | "404" => "application/problem+json",
            "authorize error page" => "text/html; charset=utf-8",
            _ => continue,
        };
        assert_eq!(ct, expected, "{name}");
    }
}

#[tokio::test]
async fn sec_i03_no_hsts_over_http() {
    let app = spawn_app().await;
    for (name, resp) in sample_responses(&app, &app.base).await {
        assert!(
            resp.headers().get("strict-transport-security").is_none(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn sec_i03_hsts_when_the_public_url_is_https() {
    let app = spawn_app_with(|c| c.server.public_url = Some("https://roost.test".into())).await;
    let direct = format!("http://{}", app.state.config.server.addr);
    for (name, resp) in sample_responses(&app, &direct).await {
        let sts = resp
            .headers()
            .get("strict-transport-security")
            .unwrap_or_else(|| panic!("{name}: no HSTS"));
        let v = sts.to_str().unwrap();
        let max_age: u64 = v
            .split(';')
            .find_map(|p| p.trim().strip_prefix("max-age="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(max_age >= 31_536_000, "{name}: {v}");
    }
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let app = spawn_app().await;
    let mut seen = std::collections::HashSet::new();
    for (name, resp) in sample_responses(&app, &app.base).await {
        let id = resp
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{name}: no x-request-id"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            id.len() >= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{name}: {id}"
        );
        assert!(seen.insert(id), "{name}: request id reused");
    }
    // HTML pages of the browser flow too.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&browser(), &app.authorize_url(&p)).await;
    assert_eq!(page.status, 200);
    assert!(page.headers.contains_key("x-request-id"));
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
}
