//! `POST /2/oauth2/revoke` (checklist E1-E6, x-oauth2.md §4): who may revoke what, and what a
//! revocation takes with it.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::header::HeaderMap;
use roost_domain::ClientType;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::storage::db::{assert_unchanged, snapshot};

/// POST /2/oauth2/revoke as a form, with Basic when `secret` is given (else `client_id` in the
/// body, as public clients send it).
async fn revoke(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    fields: &[(&str, &str)],
) -> (u16, Value, HeaderMap) {
    let mut fields: Vec<(&str, &str)> = fields.to_vec();
    let mut req = app.http.post(app.url("/2/oauth2/revoke"));
    match secret {
        Some(s) => req = req.basic_auth(client_id, Some(s)),
        None => fields.push(("client_id", client_id)),
    }
    let resp = req
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&fields))
        .send()
        .await
        .expect("revoke request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

/// Revokes as the web App (confidential, Basic).
async fn revoke_web(app: &TestApp, fields: &[(&str, &str)]) -> (u16, Value, HeaderMap) {
    let secret = app.web.client_secret.clone();
    revoke(app, &app.web.client_id, secret.as_deref(), fields).await
}

fn assert_revoked_body(status: u16, body: &Value, headers: &HeaderMap) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(*body, json!({"revoked": true}));
    assert_no_store(headers);
    assert_eq!(headers["content-type"], "application/json");
}

fn assert_no_store(headers: &HeaderMap) {
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
}

/// X's 401 for failed client authentication (x-oauth2.md §3.6), plus roost's detail member.
fn assert_unauthorized_client(status: u16, body: &Value, headers: &HeaderMap) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(
        body["error_description"],
        "Missing valid authorization header"
    );
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        keys.iter()
            .all(|k| ["error", "error_description", "roost_detail"].contains(k)),
        "{body}"
    );
    assert_no_store(headers);
}

fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().expect("access_token")
}

fn refresh(tokens: &Value) -> &str {
    tokens["refresh_token"].as_str().expect("refresh_token")
}

#[tokio::test]
async fn sec_e01_wrong_secret_is_401_and_revokes_nothing() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let other = create_app(&app.state, "Other", ClientType::Confidential, &[CALLBACK]).await;
    let before = snapshot(&app).await;
    for token in [access(&tokens), refresh(&tokens)] {
        let (s, b, h) = revoke(
            &app,
            &app.web.client_id,
            Some("wrong-secret"),
            &[("token", token)],
        )
        .await;
        assert_unauthorized_client(s, &b, &h);
        assert_eq!(h["www-authenticate"], "Basic realm=\"roost\"");
    }
    // Another App's secret with this App's id, no secret at all, or a secret for a public App.
    let (s, b, h) = revoke(
        &app,
        &app.web.client_id,
        other.client_secret.as_deref(),
        &[("token", access(&tokens))],
    )
    .await;
    assert_unauthorized_client(s, &b, &h);
    let (s, b, h) = revoke(
        &app,
        &app.web.client_id,
        None,
        &[("token", access(&tokens))],
    )
    .await;
    assert_unauthorized_client(s, &b, &h);
    let (s, b, h) = revoke(
        &app,
        &app.native.client_id,
        Some("anything"),
        &[("token", access(&tokens))],
    )
    .await;
    assert_unauthorized_client(s, &b, &h);
    let (s, b, h) = revoke(&app, "no-such-client", None, &[("token", access(&tokens))]).await;
    assert_unauthorized_client(s, &b, &h);
    assert_unchanged(&app, &before, "failed client authentication").await;
    assert_eq!(app.me(access(&tokens)).await, 200);
    let (s, b) = app.refresh(refresh(&tokens)).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn sec_e01_strict_mode_says_invalid_client() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let before = snapshot(&app).await;
    let (s, b, h) = revoke(
        &app,
        &app.web.client_id,
        Some("wrong"),
        &[("token", access(&tokens))],
    )
    .await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["error"], "invalid_client");
    assert_eq!(h["www-authenticate"], "Basic realm=\"roost\"");
    assert_no_store(&h);
    assert_unchanged(&app, &before, "strict mode, wrong secret").await;
    assert_eq!(app.me(access(&tokens)).await, 200);
}

#[tokio::test]
async fn sec_e02_revoke_foreign_token_is_noop() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let other = create_app(&app.state, "Other", ClientType::Confidential, &[CALLBACK]).await;
    let before = snapshot(&app).await;
    for token in [access(&tokens), refresh(&tokens)] {
        for hint in [None, Some("access_token"), Some("refresh_token")] {
            let mut fields = vec![("token", token)];
            if let Some(h) = hint {
                fields.push(("token_type_hint", h));
            }
            // Another confidential App, and the public App.
            let (s, b, h) = revoke(
                &app,
                &other.client_id,
                other.client_secret.as_deref(),
                &fields,
            )
            .await;
            assert_revoked_body(s, &b, &h);
            let (s, b, h) = revoke(&app, &app.native.client_id, None, &fields).await;
            assert_revoked_body(s, &b, &h);
        }
    }
    assert_unchanged(&app, &before, "another App's revocation").await;
    assert_eq!(app.me(access(&tokens)).await, 200);
    let (s, b) = app.refresh(refresh(&tokens)).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn sec_e02_owner_revocation_answers_the_same() {
    // The owner's answer is byte-for-byte the foreign answer, so existence is not revealed.
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let other = create_app(&app.state, "Other", ClientType::Confidential, &[CALLBACK]).await;
    let foreign = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&other.client_id, other.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", access(&tokens))]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let own = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", access(&tokens))]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(foreign, own);
    assert_eq!(own, r#"{"revoked":true}"#);
    assert_eq!(app.me(access(&tokens)).await, 401);
}

#[tokio::test]
async fn sec_e03_unknown_malformed_and_revoked_tokens_get_200() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let before = snapshot(&app).await;
    let random = roost_domain::Secret::generate(roost_domain::TokenKind::AccessToken, 0);
    for token in [
        random.expose(),
        "not-a-token",
        " ",
        "null",
        "undefined",
        "AAAAAAAAAAAAAAAAAAAAA",
        "'; DELETE FROM access_tokens; --",
        "%",
        "é😀",
    ] {
        for hint in [
            None,
            Some("access_token"),
            Some("refresh_token"),
            Some("bogus"),
        ] {
            let mut fields = vec![("token", token)];
            if let Some(h) = hint {
                fields.push(("token_type_hint", h));
            }
            let (s, b, h) = revoke_web(&app, &fields).await;
            assert_revoked_body(s, &b, &h);
        }
    }
    assert_unchanged(&app, &before, "unknown tokens").await;
    assert_eq!(app.me(access(&tokens)).await, 200);

    // Revoked twice, and then once more after the grant is gone: 200 every time.
    for _ in 0..3 {
        let (s, b, h) = revoke_web(&app, &[("token", refresh(&tokens))]).await;
        assert_revoked_body(s, &b, &h);
        let (s, b, h) = revoke_web(&app, &[("token", access(&tokens))]).await;
        assert_revoked_body(s, &b, &h);
    }
    assert_eq!(app.me(access(&tokens)).await, 401);
}

#[tokio::test]
async fn sec_e03_missing_token_is_invalid_request() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    for fields in [
        &[][..],
        &[("token", "")][..],
        &[("token_type_hint", "access_token")][..],
    ] {
        let (s, b, h) = revoke_web(&app, fields).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(
            b,
            json!({"error": "invalid_request", "error_description": "Missing required parameter [token]."})
        );
        assert_no_store(&h);
    }
    assert_unchanged(&app, &before, "revoke without a token").await;
}

#[tokio::test]
async fn sec_e03_an_authorization_code_is_not_a_token() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let before = snapshot(&app).await;
    let (s, b, h) = revoke_web(&app, &[("token", &code)]).await;
    assert_revoked_body(s, &b, &h);
    assert_unchanged(&app, &before, "revoking a code").await;
    let (s, b) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn sec_e04_revoking_refresh_token_revokes_the_grant() {
    let app = spawn_app().await;
    let first = app.tokens(ALL_SCOPES).await;
    let (s, second) = app.refresh(refresh(&first)).await;
    assert_eq!(s, 200, "{second}");
    // An unrelated grant of the same App and user stays alive.
    let unrelated = app.tokens(ALL_SCOPES).await;
    assert_eq!(app.me(access(&first)).await, 200);
    assert_eq!(app.me(access(&second)).await, 200);

    let (s, b, h) = revoke_web(&app, &[("token", refresh(&second))]).await;
    assert_revoked_body(s, &b, &h);
    // Every access token of the family, old and new, is dead at once (E6), and so is the family.
    assert_eq!(app.me(access(&first)).await, 401);
    assert_eq!(app.me(access(&second)).await, 401);
    for rt in [refresh(&second), refresh(&first)] {
        let (s, b) = app.refresh(rt).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error"], "invalid_request");
        assert_eq!(
            b["error_description"],
            "Value passed for the token was invalid."
        );
    }
    assert_eq!(app.me(access(&unrelated)).await, 200);
    let (s, b) = app.refresh(refresh(&unrelated)).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn sec_e04_revoking_an_old_rotated_refresh_token_also_ends_the_grant() {
    let app = spawn_app().await;
    let first = app.tokens(ALL_SCOPES).await;
    let (s, second) = app.refresh(refresh(&first)).await;
    assert_eq!(s, 200, "{second}");
    let (s, b, h) = revoke_web(&app, &[("token", refresh(&first))]).await;
    assert_revoked_body(s, &b, &h);
    assert_eq!(app.me(access(&second)).await, 401);
    let (s, b) = app.refresh(refresh(&second)).await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn sec_e04_revoking_access_token_keeps_the_refresh_token() {
    let app = spawn_app().await;
    let first = app.tokens(ALL_SCOPES).await;
    let (s, second) = app.refresh(refresh(&first)).await;
    assert_eq!(s, 200, "{second}");
    let (s, b, h) = revoke_web(&app, &[("token", access(&first))]).await;
    assert_revoked_body(s, &b, &h);
    assert_eq!(app.me(access(&first)).await, 401);
    // Only that access token: its sibling and the family live on.
    assert_eq!(app.me(access(&second)).await, 200);
    let (s, third) = app.refresh(refresh(&second)).await;
    assert_eq!(s, 200, "{third}");
    assert_eq!(app.me(access(&third)).await, 200);
}

#[tokio::test]
async fn sec_e05_wrong_hint_still_revokes() {
    let app = spawn_app().await;
    for hint in ["access_token", "bogus", "ACCESS_TOKEN"] {
        let tokens = app.tokens(ALL_SCOPES).await;
        let (s, b, h) = revoke_web(
            &app,
            &[("token", refresh(&tokens)), ("token_type_hint", hint)],
        )
        .await;
        assert_revoked_body(s, &b, &h);
        let (s, b) = app.refresh(refresh(&tokens)).await;
        assert_eq!(s, 400, "hint {hint}: {b}");
        assert_eq!(app.me(access(&tokens)).await, 401, "hint {hint}");
    }
    for hint in ["refresh_token", "bogus"] {
        let tokens = app.tokens(ALL_SCOPES).await;
        let (s, b, h) = revoke_web(
            &app,
            &[("token", access(&tokens)), ("token_type_hint", hint)],
        )
        .await;
        assert_revoked_body(s, &b, &h);
        assert_eq!(app.me(access(&tokens)).await, 401, "hint {hint}");
        // An access token's revocation never spreads to the refresh token, whatever the hint.
        let (s, b) = app.refresh(refresh(&tokens)).await;
        assert_eq!(s, 200, "hint {hint}: {b}");
    }
}

#[tokio::test]
async fn sec_e06_revocation_takes_effect_immediately() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    assert_eq!(app.me(access(&tokens)).await, 200);
    let (s, b, h) = revoke_web(&app, &[("token", access(&tokens))]).await;
    assert_revoked_body(s, &b, &h);
    assert_eq!(app.me(access(&tokens)).await, 401);
}

#[tokio::test]
async fn public_client_revokes_with_client_id_only() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.native.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (s, tokens, _) = app
        .token(
            &app.native.client_id,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(s, 200, "{tokens}");
    // The web App cannot revoke the public App's tokens.
    let (s, b, h) = revoke_web(&app, &[("token", access(&tokens))]).await;
    assert_revoked_body(s, &b, &h);
    assert_eq!(app.me(access(&tokens)).await, 200);

    let (s, b, h) = revoke(
        &app,
        &app.native.client_id,
        None,
        &[
            ("token", access(&tokens)),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_revoked_body(s, &b, &h);
    assert_eq!(app.me(access(&tokens)).await, 401);
    let (s, b, h) = revoke(
        &app,
        &app.native.client_id,
        None,
        &[("token", refresh(&tokens))],
    )
    .await;
    assert_revoked_body(s, &b, &h);
    let (s, b, _) = app
        .token(
            &app.native.client_id,
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh(&tokens)),
            ],
        )
        .await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn json_body_with_basic_and_body_credentials_revokes() {
    // twitter-api-v2 sends Basic and repeats client_id and client_secret in a JSON body.
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let secret = app.web.client_secret.clone().unwrap();
    let send = |body: Value| {
        app.http
            .post(app.url("/2/oauth2/revoke"))
            .basic_auth(&app.web.client_id, Some(&secret))
            .header("content-type", "application/json;charset=UTF-8")
            .body(body.to_string())
            .send()
    };
    // Disagreeing copies of the secret: refused, nothing revoked.
    let before = snapshot(&app).await;
    let resp = send(json!({
        "token": access(&tokens),
        "token_type_hint": "access_token",
        "client_id": app.web.client_id,
        "client_secret": "not-the-secret",
    }))
    .await
    .unwrap();
    let (s, h) = (resp.status().as_u16(), resp.headers().clone());
    let b: Value = resp.json().await.unwrap();
    assert_unauthorized_client(s, &b, &h);
    assert_unchanged(&app, &before, "disagreeing JSON secret").await;
    assert_eq!(app.me(access(&tokens)).await, 200);

    let resp = send(json!({
        "token": access(&tokens),
        "token_type_hint": "access_token",
        "client_id": app.web.client_id,
        "client_secret": secret,
    }))
    .await
    .unwrap();
    let (s, h) = (resp.status().as_u16(), resp.headers().clone());
    let b: Value = resp.json().await.unwrap();
    assert_revoked_body(s, &b, &h);
    assert_eq!(app.me(access(&tokens)).await, 401);
}

#[tokio::test]
async fn client_secret_post_without_basic_revokes() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let secret = app.web.client_secret.clone().unwrap();
    let (s, b, h) = revoke(
        &app,
        &app.web.client_id,
        None,
        &[("token", access(&tokens)), ("client_secret", &secret)],
    )
    .await;
    assert_revoked_body(s, &b, &h);
    assert_eq!(app.me(access(&tokens)).await, 401);
}

#[tokio::test]
async fn app_context_token_is_revocable_by_its_app() {
    let app = spawn_app().await;
    let secret = app.web.client_secret.clone();
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            secret.as_deref(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let token = access(&b);
    // Valid (app-only on a user endpoint is 403, not 401).
    assert_eq!(app.me(token).await, 403);
    let other = create_app(&app.state, "Other", ClientType::Confidential, &[CALLBACK]).await;
    let (s, r, h) = revoke(
        &app,
        &other.client_id,
        other.client_secret.as_deref(),
        &[("token", token)],
    )
    .await;
    assert_revoked_body(s, &r, &h);
    assert_eq!(app.me(token).await, 403);
    let (s, r, h) = revoke_web(&app, &[("token", token)]).await;
    assert_revoked_body(s, &r, &h);
    assert_eq!(app.me(token).await, 401);
}
