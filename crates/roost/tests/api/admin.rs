//! The admin HTTP API (`/admin/v1`): admin-token authentication, JSON errors, no caching, and
//! the endpoints built on it.

use reqwest::StatusCode;
use roost::admin::client::{AdminClient, ClientError, ServerArgs};
use serde_json::Value;

use crate::helpers::{ALL_SCOPES, TestApp, spawn_app};

/// A fresh admin token for `app`'s store.
pub async fn admin_token(app: &TestApp) -> String {
    roost::admin::create_token(&app.state, "tests")
        .await
        .expect("admin token")
        .token
        .expose()
        .to_owned()
}

/// GET `path` with `Authorization: Bearer token` (if any).
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("admin request")
}

async fn assert_refused(resp: reqwest::Response, why: &str) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{why}");
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"roost-admin\"",
        "{why}"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store", "{why}");
    let body: Value = resp.json().await.expect("JSON body");
    assert_eq!(body["error"], "unauthorized", "{why}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{why}: {body}"
    );
}

#[tokio::test]
async fn admin_api_refuses_requests_without_a_valid_admin_token() {
    let app = spawn_app().await;
    let _real = admin_token(&app).await;
    assert_refused(get(&app, "/admin/v1/apps", None).await, "no token").await;
    assert_refused(
        get(&app, "/admin/v1/apps", Some("roost_admin_not-a-real-token")).await,
        "wrong token",
    )
    .await;
    let user = app.tokens(ALL_SCOPES).await;
    let access = user["access_token"].as_str().expect("access token");
    assert_refused(
        get(&app, "/admin/v1/apps", Some(access)).await,
        "user access token",
    )
    .await;
    let app_only = app.app_token().await;
    assert_refused(
        get(&app, "/admin/v1/apps", Some(&app_only)).await,
        "app-only token",
    )
    .await;
    // Basic credentials of an App are not an admin token either.
    let resp = app
        .http
        .get(app.url("/admin/v1/apps"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .send()
        .await
        .expect("request");
    assert_refused(resp, "App Basic credentials").await;
}

#[tokio::test]
async fn admin_api_lists_apps_without_secrets_for_an_admin_token() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let resp = get(&app, "/admin/v1/apps", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let text = resp.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    let apps = body["apps"].as_array().expect("apps array");
    assert_eq!(apps.len(), 2, "{body}");
    let web = apps
        .iter()
        .find(|a| a["client_id"] == app.web.client_id.as_str())
        .expect("the web App is listed");
    assert_eq!(web["client_type"], "confidential");
    assert_eq!(web["name"], "Test Web App");
    assert_eq!(web["callbacks"][0], crate::helpers::CALLBACK);
    assert_eq!(web["api_key"], app.web.api_key.as_str());
    for secret in [
        app.web.client_secret.as_deref().expect("secret"),
        &app.web.api_secret,
        &app.native.api_secret,
    ] {
        assert!(!text.contains(secret), "a secret is listed: {text}");
    }
}

#[tokio::test]
async fn admin_api_unknown_endpoint_is_a_json_404_and_stays_uncached() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let resp = get(&app, "/admin/v1/nothing-here", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn admin_client_calls_a_running_server_and_reports_refusals() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let client = AdminClient::new(&ServerArgs {
        server_url: app.base.clone(),
        admin_token: Some(token),
    })
    .expect("client");
    let apps = client.get("/apps").await.expect("apps");
    assert_eq!(apps["apps"].as_array().map(Vec::len), Some(2), "{apps}");

    let wrong = AdminClient::new(&ServerArgs {
        server_url: format!("{}/", app.base),
        admin_token: Some("roost_admin_wrong".into()),
    })
    .expect("client");
    match wrong.get("/apps").await {
        Err(ClientError::Refused { status, error, .. }) => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(error, "unauthorized");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let no_token = AdminClient::new(&ServerArgs {
        server_url: app.base.clone(),
        admin_token: None,
    });
    assert!(matches!(no_token, Err(ClientError::NoToken)));
    let https = AdminClient::new(&ServerArgs {
        server_url: "https://roost.example".into(),
        admin_token: Some("t".into()),
    });
    assert!(matches!(https, Err(ClientError::BadUrl(..))));
}
