//! Rate limits on the OAuth endpoints themselves (checklist K1, E7).

use serde_json::Value;

use crate::helpers::*;

async fn post(
    app: &TestApp,
    path: &str,
    basic: (&str, &str),
    body: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = app
        .http
        .post(app.url(path))
        .basic_auth(basic.0, Some(basic.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn sec_k01_token_endpoint_is_limited_per_client() {
    let app = spawn_app_with(|c| c.rate_limits.oauth_per_client = 3).await;
    let web = (
        app.web.client_id.as_str(),
        app.web.client_secret.as_deref().unwrap(),
    );
    for _ in 0..3 {
        let (status, body, _) = post(
            &app,
            "/2/oauth2/token",
            web,
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let before = app.row_counts().await;
    let (status, body, headers) = post(
        &app,
        "/2/oauth2/token",
        web,
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_requests");
    let retry: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        app.row_counts().await,
        before,
        "nothing issued when throttled"
    );
    // Counted before credentials are checked: a wrong secret for the same client is throttled too.
    let (status, _, _) = post(
        &app,
        "/2/oauth2/token",
        (web.0, "wrong"),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(status, 429);
    // Another client is not affected.
    let other = create_app(
        &app.state,
        "Other",
        roost_domain::ClientType::Confidential,
        &[CALLBACK],
    )
    .await;
    let (status, _, _) = post(
        &app,
        "/2/oauth2/token",
        (&other.client_id, other.client_secret.as_deref().unwrap()),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(status, 200);
    // The window passes.
    app.clock.advance_ms(60_000);
    let (status, _, _) = post(
        &app,
        "/2/oauth2/token",
        web,
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sec_k01_token_endpoint_is_limited_per_address() {
    let app = spawn_app_with(|c| c.rate_limits.oauth_per_address = 4).await;
    for i in 0..5 {
        let client = format!("unknown-client-{i}");
        let (status, _, _) = post(
            &app,
            "/2/oauth2/token",
            (&client, "x"),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(status, if i < 4 { 401 } else { 429 }, "request {i}");
    }
}

#[tokio::test]
async fn sec_e07_revocation_is_throttled() {
    let app = spawn_app_with(|c| c.rate_limits.oauth_per_client = 2).await;
    let web = (
        app.web.client_id.as_str(),
        app.web.client_secret.as_deref().unwrap(),
    );
    for _ in 0..2 {
        let (status, _, _) = post(&app, "/2/oauth2/revoke", web, "token=guess").await;
        assert_eq!(status, 200);
    }
    let (status, body, headers) = post(&app, "/2/oauth2/revoke", web, "token=guess").await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn sec_k01_app_only_endpoint_answers_code_99_when_called_too_often() {
    let app = spawn_app_with(|c| c.rate_limits.oauth_per_client = 2).await;
    let keys = (app.web.api_key.as_str(), app.web.api_secret.as_str());
    for _ in 0..2 {
        let (status, _, _) =
            post(&app, "/oauth2/token", keys, "grant_type=client_credentials").await;
        assert_eq!(status, 200);
    }
    let (status, body, _) =
        post(&app, "/oauth2/token", keys, "grant_type=client_credentials").await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"errors": [{"code": 99, "label": "authenticity_token_error", "message": "Unable to verify your credentials"}]})
    );
}

#[tokio::test]
async fn limits_can_be_turned_off() {
    let app = spawn_app_with(|c| {
        c.rate_limits.enabled = false;
        c.rate_limits.oauth_per_client = 1;
    })
    .await;
    let web = (
        app.web.client_id.as_str(),
        app.web.client_secret.as_deref().unwrap(),
    );
    for _ in 0..5 {
        let (status, _, _) = post(
            &app,
            "/2/oauth2/token",
            web,
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(status, 200);
    }
}
