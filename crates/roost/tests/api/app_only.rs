//! App-only Bearer Tokens: `POST /oauth2/token` and `POST /oauth2/invalidate_token`
//! (x-oauth2.md §6-7; checklist C9, E8, F5).
//!
//! There is no app-only-capable API endpoint yet, so a token's validity is read from
//! `/2/users/me`: a valid app-only token gets 403 `unsupported-authentication`, an invalid one 401.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::header::HeaderMap;
use roost::accounts::CreatedApp;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::storage::db::{assert_unchanged, snapshot};

/// X's answer to every failure on the two app-only endpoints, byte for byte.
const CODE_99: &str = r#"{"errors":[{"code":99,"label":"authenticity_token_error","message":"Unable to verify your credentials"}]}"#;

const FORM_UTF8: &str = "application/x-www-form-urlencoded;charset=UTF-8";

/// What X's app-only endpoints send on success; `/2/oauth2/token` sends bare `application/json`.
const APP_ONLY_JSON: &str = "application/json; charset=utf-8";

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn assert_code_99(&self, what: &str) {
        assert_eq!(self.status, 403, "{what}: {}", self.body);
        assert_eq!(self.body, CODE_99, "{what}");
        assert_eq!(self.headers["cache-control"], "no-store", "{what}");
        assert_eq!(self.headers["content-type"], "application/json", "{what}");
    }
}

/// POST `path` with an optional raw `Authorization` value and a form body.
async fn post(app: &TestApp, path: &str, authorization: Option<&str>, body: &str) -> Answer {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", FORM_UTF8)
        .body(body.to_owned());
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("request");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

fn basic(id: &str, secret: &str) -> String {
    roost_domain::BasicCredentials::header_value(id, secret)
}

fn api_basic(a: &CreatedApp) -> String {
    basic(&a.api_key, &a.api_secret)
}

/// A successful `/oauth2/token` call for `a`; returns the token.
async fn bearer_for(app: &TestApp, a: &CreatedApp) -> String {
    let r = post(
        app,
        "/oauth2/token",
        Some(&api_basic(a)),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

async fn invalidate(app: &TestApp, authorization: &str, token: &str) -> Answer {
    post(
        app,
        "/oauth2/invalidate_token",
        Some(authorization),
        &form(&[("access_token", token)]),
    )
    .await
}

/// The 403 an app-only token gets on a user-context endpoint (x-api-v2.md §E.4 a).
async fn assert_app_only_valid(app: &TestApp, token: &str) {
    let resp = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body = resp.text().await.unwrap();
    assert!(body.contains("endpoint.  Supported"), "two spaces: {body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({
            "title": "Unsupported Authentication",
            "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
            "type": "https://api.twitter.com/2/problems/unsupported-authentication",
            "status": 403
        })
    );
}

async fn assert_invalid(app: &TestApp, token: &str, what: &str) {
    let resp = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "{what}");
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"roost\", error=\"invalid_token\"",
        "{what}"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        "{what}"
    );
}

async fn generation(app: &TestApp, a: &CreatedApp) -> i64 {
    app.state
        .store
        .app_by_api_key(&a.api_key)
        .await
        .unwrap()
        .unwrap()
        .bearer_generation
}

#[tokio::test]
async fn token_success_body_is_exactly_xs() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    let r = post(
        &app,
        "/oauth2/token",
        Some(&api_basic(&app.web)),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    // Exactly two fields, in X's order; no expires_in, no refresh_token.
    assert_eq!(
        r.body,
        format!(r#"{{"token_type":"bearer","access_token":"{token}"}}"#)
    );
    // X's exact media type for this endpoint (spec/x-oauth2.md §6).
    assert_eq!(r.headers["content-type"], APP_ONLY_JSON);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["pragma"], "no-cache");
    // X's visible shape: a run of `A`s and literal percent-escapes.
    assert!(token.starts_with("AAAAAAAAAAAAAAAAAAAAA"), "{token}");
    assert!(token.contains("%3D"), "{token}");
    // Derived, not stored: the store is untouched.
    assert_unchanged(&app, &before, "issuing an app-only token").await;
    assert_app_only_valid(&app, &token).await;
}

#[tokio::test]
async fn token_is_stable_per_app_and_distinct_between_apps() {
    let app = spawn_app().await;
    let a1 = bearer_for(&app, &app.web).await;
    let a2 = bearer_for(&app, &app.web).await;
    assert_eq!(a1, a2);
    // Public Apps have API keys too; their token is their own.
    let n = bearer_for(&app, &app.native).await;
    assert_ne!(a1, n);
    assert_app_only_valid(&app, &a1).await;
    assert_app_only_valid(&app, &n).await;
    // Percent-encoded halves of Basic are decoded (RFC 6749 §2.3.1).
    let key = &app.web.api_key;
    let encoded_key = format!("%{:02X}{}", key.as_bytes()[0], &key[1..]);
    let r = post(
        &app,
        "/oauth2/token",
        Some(&basic(&encoded_key, &app.web.api_secret)),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["access_token"], a1.as_str());
}

#[tokio::test]
async fn sec_c09_token_refusals_are_code_99() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    let web = &app.web;
    let gt = "grant_type=client_credentials";
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("wrong secret", Some(basic(&web.api_key, "wrong")), gt),
        (
            "other App's secret",
            Some(basic(&web.api_key, &app.native.api_secret)),
            gt,
        ),
        (
            "unknown key",
            Some(basic("no-such-key", &web.api_secret)),
            gt,
        ),
        ("empty secret", Some(basic(&web.api_key, "")), gt),
        ("missing grant_type", Some(api_basic(web)), ""),
        ("empty grant_type", Some(api_basic(web)), "grant_type="),
        (
            "other grant_type",
            Some(api_basic(web)),
            "grant_type=authorization_code",
        ),
        (
            "password grant",
            Some(api_basic(web)),
            "grant_type=password",
        ),
        ("no Authorization", None, gt),
        (
            "OAuth 2.0 client id and secret (C9)",
            Some(basic(&web.client_id, web.client_secret.as_deref().unwrap())),
            gt,
        ),
        (
            "API key with the OAuth 2.0 client secret (C9)",
            Some(basic(&web.api_key, web.client_secret.as_deref().unwrap())),
            gt,
        ),
        (
            "credentials in the body instead of Basic",
            None,
            "grant_type=client_credentials&client_id=KEY&client_secret=SECRET",
        ),
        ("bad base64", Some("Basic !!!".into()), gt),
        ("Bearer scheme", Some(format!("Bearer {}", web.api_key)), gt),
        (
            "conflicting grant_type",
            Some(api_basic(web)),
            "grant_type=client_credentials&grant_type=password",
        ),
    ];
    for (what, auth, body) in cases {
        let body = body
            .replace("KEY", &web.api_key)
            .replace("SECRET", &web.api_secret);
        let r = post(&app, "/oauth2/token", auth.as_deref(), &body).await;
        r.assert_code_99(what);
    }
    assert_unchanged(&app, &before, "refused app-only token requests").await;
}

#[tokio::test]
async fn sec_c09_api_key_pair_is_refused_on_the_oauth2_token_endpoint() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    for a in [&app.web, &app.native] {
        let (s, b, h) = app
            .token(
                &a.api_key,
                Some(&a.api_secret),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["error"], "unauthorized_client");
        assert_eq!(b["error_description"], "Missing valid authorization header");
        assert_eq!(h["www-authenticate"], "Basic realm=\"roost\"");
        assert!(b.get("access_token").is_none());
    }
    assert_unchanged(&app, &before, "API key pair on /2/oauth2/token").await;
    // The OAuth 2.0 pair is the one that works there (C8: confidential only, no refresh token).
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "bearer");
    assert!(b.get("refresh_token").is_none(), "{b}");
    assert_app_only_valid(&app, b["access_token"].as_str().unwrap()).await;
}

#[tokio::test]
async fn sec_e08_invalidate_with_another_apps_key_is_refused() {
    let app = spawn_app().await;
    let a_token = bearer_for(&app, &app.web).await;
    let b_token = bearer_for(&app, &app.native).await;
    let before = snapshot(&app).await;
    let r = invalidate(&app, &api_basic(&app.web), &b_token).await;
    r.assert_code_99("A's key with B's token");
    assert_unchanged(&app, &before, "foreign invalidation").await;
    assert_app_only_valid(&app, &b_token).await;
    assert_app_only_valid(&app, &a_token).await;
    assert_eq!(bearer_for(&app, &app.native).await, b_token);
    assert_eq!(bearer_for(&app, &app.web).await, a_token);
}

#[tokio::test]
async fn sec_e08_invalidate_refusals_are_code_99_and_change_nothing() {
    let app = spawn_app().await;
    let token = bearer_for(&app, &app.web).await;
    let user_tokens = app.tokens(ALL_SCOPES).await;
    let before = snapshot(&app).await;
    let web = &app.web;
    let cases: Vec<(&str, Option<String>, String)> = vec![
        (
            "wrong secret",
            Some(basic(&web.api_key, "wrong")),
            form(&[("access_token", &token)]),
        ),
        ("no Authorization", None, form(&[("access_token", &token)])),
        (
            "OAuth 2.0 client credentials (C9)",
            Some(basic(&web.client_id, web.client_secret.as_deref().unwrap())),
            form(&[("access_token", &token)]),
        ),
        ("missing access_token", Some(api_basic(web)), String::new()),
        (
            "garbage token",
            Some(api_basic(web)),
            form(&[("access_token", "AAAAAAAAAAAAAAAAAAAAAgarbage")]),
        ),
        (
            "a user access token",
            Some(api_basic(web)),
            form(&[(
                "access_token",
                user_tokens["access_token"].as_str().unwrap(),
            )]),
        ),
        (
            "conflicting access_token",
            Some(api_basic(web)),
            format!("{}&access_token=other", form(&[("access_token", &token)])),
        ),
    ];
    for (what, auth, body) in cases {
        let r = post(&app, "/oauth2/invalidate_token", auth.as_deref(), &body).await;
        r.assert_code_99(what);
    }
    assert_unchanged(&app, &before, "refused invalidations").await;
    assert_app_only_valid(&app, &token).await;
    assert_eq!(
        app.me(user_tokens["access_token"].as_str().unwrap()).await,
        200
    );
}

#[tokio::test]
async fn sec_e08_valid_invalidation_kills_the_token_and_issues_a_new_one() {
    let app = spawn_app().await;
    let old = bearer_for(&app, &app.web).await;
    let other = bearer_for(&app, &app.native).await;
    assert_eq!(generation(&app, &app.web).await, 0);
    let r = invalidate(&app, &api_basic(&app.web), &old).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, format!(r#"{{"access_token":"{old}"}}"#));
    assert_eq!(r.json(), json!({"access_token": old}));
    assert_eq!(r.headers["cache-control"], "no-store");
    // X's exact media type for this endpoint (spec/x-oauth2.md §7).
    assert_eq!(r.headers["content-type"], APP_ONLY_JSON);
    assert_eq!(generation(&app, &app.web).await, 1);
    assert_invalid(&app, &old, "invalidated token").await;

    let new = bearer_for(&app, &app.web).await;
    assert_ne!(new, old);
    assert_app_only_valid(&app, &new).await;
    assert_eq!(bearer_for(&app, &app.web).await, new);
    // Other Apps are unaffected.
    assert_app_only_valid(&app, &other).await;

    // Invalidating the dead token again is refused and must not touch the new one.
    let before = snapshot(&app).await;
    let r = invalidate(&app, &api_basic(&app.web), &old).await;
    r.assert_code_99("already invalidated");
    assert_unchanged(&app, &before, "second invalidation").await;
    assert_app_only_valid(&app, &new).await;
    assert_invalid(&app, &old, "invalidated token, later").await;
}

#[tokio::test]
async fn sec_e08_invalidate_accepts_the_token_in_the_query_string() {
    // X's docs show `POST /oauth2/invalidate_token?access_token=...` too.
    let app = spawn_app().await;
    let token = bearer_for(&app, &app.web).await;
    let query = form(&[("access_token", &token)]);
    let resp = app
        .http
        .post(app.url(&format!("/oauth2/invalidate_token?{query}")))
        .header("authorization", api_basic(&app.web))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"access_token": token})
    );
    assert_invalid(&app, &token, "invalidated via the query").await;
}

#[tokio::test]
async fn sec_e08_invalidate_accepts_the_token_pasted_unencoded() {
    // X's docs paste the token as is (`access_token=AAAA%2FAAA%3DAAAAAAAA`), so the server
    // reads `%3D` as `=`. The token meant is the one that was issued; it is echoed as issued.
    let app = spawn_app().await;
    let token = bearer_for(&app, &app.web).await;
    let r = post(
        &app,
        "/oauth2/invalidate_token",
        Some(&api_basic(&app.web)),
        &format!("access_token={token}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"access_token": token}));
    assert_invalid(&app, &token, "invalidated, sent unencoded").await;

    let token = bearer_for(&app, &app.web).await;
    let resp = app
        .http
        .post(app.url(&format!("/oauth2/invalidate_token?access_token={token}")))
        .header("authorization", api_basic(&app.web))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_invalid(&app, &token, "invalidated via the raw query").await;
}

/// `AAAA…<app id>%3D<generation>%3D<tag>` split into its parts.
fn parts(token: &str) -> (String, String, String, String) {
    let start = token.find(|c: char| c != 'A').unwrap();
    let (prefix, rest) = token.split_at(start);
    let v: Vec<&str> = rest.split("%3D").collect();
    assert_eq!(v.len(), 3, "{token}");
    (
        prefix.to_owned(),
        v[0].to_owned(),
        v[1].to_owned(),
        v[2].to_owned(),
    )
}

fn flip(c: char) -> char {
    if c == 'x' { 'y' } else { 'x' }
}

#[tokio::test]
async fn tampered_tokens_are_401() {
    let app = spawn_app().await;
    let token = bearer_for(&app, &app.web).await;
    let native = bearer_for(&app, &app.native).await;
    let (prefix, id, generation, tag) = parts(&token);
    let (_, native_id, _, native_tag) = parts(&native);
    let mut tag_last = tag.clone();
    let last = tag_last.pop().unwrap();
    tag_last.push(flip(last));
    let mut tag_first = tag.clone();
    let first = tag_first.remove(0);
    tag_first.insert(0, flip(first));
    let cases = vec![
        (
            "last MAC char",
            format!("{prefix}{id}%3D{generation}%3D{tag_last}"),
        ),
        (
            "first MAC char",
            format!("{prefix}{id}%3D{generation}%3D{tag_first}"),
        ),
        ("next generation", format!("{prefix}{id}%3D1%3D{tag}")),
        ("negative generation", format!("{prefix}{id}%3D-1%3D{tag}")),
        (
            "other App's id",
            format!("{prefix}{native_id}%3D{generation}%3D{tag}"),
        ),
        (
            "MACs swapped",
            format!("{prefix}{id}%3D{generation}%3D{native_tag}"),
        ),
        ("no MAC", format!("{prefix}{id}%3D{generation}%3D")),
        (
            "truncated MAC",
            format!("{prefix}{id}%3D{generation}%3D{}", &tag[..tag.len() - 1]),
        ),
        ("extra char", format!("{token}A")),
        ("decoded separators", token.replace("%3D", "=")),
        ("lower-case", token.to_lowercase()),
        ("prefix only", prefix.clone()),
        ("one A fewer", token[1..].to_owned()),
    ];
    for (what, t) in cases {
        assert_ne!(t, token, "{what}");
        assert_invalid(&app, &t, what).await;
    }
    assert_app_only_valid(&app, &token).await;
    // After invalidation, a token forged for the new generation with the old MAC is still no good.
    let r = invalidate(&app, &api_basic(&app.web), &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_invalid(
        &app,
        &format!("{prefix}{id}%3D1%3D{tag}"),
        "old MAC, new generation",
    )
    .await;
}
