//! The admin HTTP API (`/admin/v1`): admin-token authentication, JSON errors, no caching, and
//! the endpoints built on it.

use reqwest::StatusCode;
use roost::admin::client::{AdminClient, ClientError, ServerArgs};
use serde_json::Value;

use crate::helpers::{ALL_SCOPES, TestApp, form, spawn_app, spawn_app_with};

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
        server_url: Some(app.base.clone()),
        admin_token: Some(token),
        ..ServerArgs::default()
    })
    .expect("client");
    let apps = client.get("/apps").await.expect("apps");
    assert_eq!(apps["apps"].as_array().map(Vec::len), Some(2), "{apps}");

    let wrong = AdminClient::new(&ServerArgs {
        server_url: Some(format!("{}/", app.base)),
        admin_token: Some("roost_admin_wrong".into()),
        ..ServerArgs::default()
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
        server_url: Some(app.base.clone()),
        admin_token: None,
        ..ServerArgs::default()
    });
    assert!(matches!(no_token, Err(ClientError::NoToken)));
    let https = AdminClient::new(&ServerArgs {
        server_url: Some("https://roost.example".into()),
        admin_token: Some("t".into()),
        ..ServerArgs::default()
    });
    assert!(matches!(https, Err(ClientError::BadUrl(..))));
}

// ---------------------------------------------------------------------------------------------
// Apps and users over the admin API

/// `method path` with the admin token and an optional JSON body: status and JSON answer.
pub(crate) async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .http
        .request(method, app.url(&format!("/admin/v1{path}")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("admin call");
    let status = resp.status();
    assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    let named = body["field"] == field
        || body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains(field));
    assert!(named, "the error names `{field}`: {body}");
}

#[tokio::test]
async fn admin_api_creates_lists_and_deletes_apps() {
    use reqwest::Method;
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let (status, created) = call(
        &app,
        &token,
        Method::POST,
        "/apps",
        Some(serde_json::json!({
            "name": "CI App", "type": "confidential", "callbacks": [crate::helpers::CALLBACK]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for key in [
        "project_id",
        "app_id",
        "client_id",
        "client_secret",
        "api_key",
        "api_secret",
    ] {
        assert!(created[key].is_string(), "{key} in {created}");
    }
    let client_id = created["client_id"].as_str().expect("client_id");
    // The secrets shown work: the App gets an app-only Bearer Token with them.
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(
            created["api_key"].as_str().expect("key"),
            created["api_secret"].as_str(),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("app-only");
    assert_eq!(resp.status(), 200);

    let (_, list) = call(&app, &token, Method::GET, "/apps", None).await;
    let listed = list["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["client_id"] == client_id)
        .cloned()
        .expect("listed");
    assert_eq!(listed["project"], "Default Project");
    assert!(listed.get("client_secret").is_none() && listed.get("api_secret").is_none());
    assert!(listed.get("auto_consent_user").is_none(), "off: {listed}");

    let (status, deleted) = call(
        &app,
        &token,
        Method::DELETE,
        &format!("/apps/{client_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["client_id"], client_id);
    assert!(deleted["removed"].is_object(), "{deleted}");
    let (status, again) = call(
        &app,
        &token,
        Method::DELETE,
        &format!("/apps/{client_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{again}");
    assert_eq!(again["error"], "not_found");
}

#[tokio::test]
async fn admin_api_refuses_bad_apps_naming_the_field() {
    use reqwest::Method;
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let before = app.row_counts().await;
    let cases = [
        (
            serde_json::json!({"type": "public", "callbacks": [crate::helpers::CALLBACK]}),
            "name",
        ),
        (
            serde_json::json!({"name": " ", "type": "public", "callbacks": [crate::helpers::CALLBACK]}),
            "name",
        ),
        (
            serde_json::json!({"name": "A", "type": "bogus", "callbacks": [crate::helpers::CALLBACK]}),
            "type",
        ),
        (
            serde_json::json!({"name": "A", "type": "public", "callbacks": []}),
            "callbacks",
        ),
        (
            serde_json::json!({"name": "A", "type": "public", "callbacks": ["ftp://example.com/cb"]}),
            "callbacks",
        ),
        (
            serde_json::json!({"name": "A", "type": "public", "callbacks": [crate::helpers::CALLBACK], "scopes": "x"}),
            "scopes",
        ),
        (
            serde_json::json!({"name": "A", "type": "public", "callbacks": "not-a-list"}),
            "callbacks",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = call(&app, &token, Method::POST, "/apps", Some(body)).await;
        assert_invalid(status, &answer, field);
    }
    // Not JSON at all.
    let resp = app
        .http
        .post(app.url("/admin/v1/apps"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("call");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A callback given twice breaks the App's uniqueness rule: a conflict.
    let (status, dup) = call(
        &app,
        &token,
        Method::POST,
        "/apps",
        Some(serde_json::json!({
            "name": "A", "type": "public",
            "callbacks": [crate::helpers::CALLBACK, crate::helpers::CALLBACK]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    assert_eq!(dup["error"], "conflict");
    assert_eq!(app.row_counts().await, before, "bad input changes nothing");
}

#[tokio::test]
async fn admin_api_creates_lists_and_deletes_users() {
    use reqwest::Method;
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let (status, carol) = call(
        &app,
        &token,
        Method::POST,
        "/users",
        Some(serde_json::json!({"username": "carol", "name": "Carol", "password": "pw for carol"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{carol}");
    assert_eq!(carol["username"], "carol");
    assert!(carol["id"].is_string());
    assert!(carol.get("password").is_none());
    // The API serves her at once.
    let bearer = app.app_token().await;
    let resp = app
        .http
        .get(app.url("/2/users/by/username/carol"))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("lookup");
    assert_eq!(resp.status(), 200);

    let (_, list) = call(&app, &token, Method::GET, "/users", None).await;
    let names: Vec<&str> = list["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"], "{list}");

    let (status, dup) = call(
        &app,
        &token,
        Method::POST,
        "/users",
        Some(serde_json::json!({"username": "Carol", "name": "Carol again"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    for (body, field) in [
        (
            serde_json::json!({"username": "no spaces", "name": "N"}),
            "username",
        ),
        (serde_json::json!({"username": "dave", "name": ""}), "name"),
        (
            serde_json::json!({"username": "dave", "name": "D", "password": ""}),
            "password",
        ),
        (serde_json::json!({"name": "D"}), "username"),
    ] {
        let (status, answer) = call(&app, &token, Method::POST, "/users", Some(body)).await;
        assert_invalid(status, &answer, field);
    }

    let (status, deleted) = call(&app, &token, Method::DELETE, "/users/carol", None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["username"], "carol");
    let (status, gone) = call(&app, &token, Method::DELETE, "/users/carol", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
}

// ---------------------------------------------------------------------------------------------
// Tokens without a browser

async fn mint(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    call(app, token, reqwest::Method::POST, "/tokens", Some(body)).await
}

async fn me_username(app: &TestApp, access: &str) -> Option<String> {
    let resp = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .expect("me");
    if resp.status() != 200 {
        return None;
    }
    let body: Value = resp.json().await.expect("json");
    body["data"]["username"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn minted_tokens_call_the_api_refresh_and_revoke_like_exchanged_ones() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let (status, minted) = mint(
        &app,
        &token,
        serde_json::json!({"app": app.web.client_id, "user": "alice", "scope": ALL_SCOPES}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let exchanged = app.tokens(ALL_SCOPES).await;
    // The token endpoint's shape: same keys, same values where they do not vary.
    let keys = |v: &Value| {
        v.as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&minted), keys(&exchanged), "{minted} vs {exchanged}");
    for k in ["token_type", "expires_in", "scope"] {
        assert_eq!(minted[k], exchanged[k], "{k}");
    }
    let access = minted["access_token"].as_str().expect("access");
    let decoded = |t: &str| {
        use base64::Engine;
        String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .expect("base64url"),
        )
        .expect("utf8")
    };
    assert!(decoded(access).ends_with(":1:1:at:1"), "X's token shape");
    assert_eq!(me_username(&app, access).await.as_deref(), Some("alice"));

    // The refresh token refreshes with the App's credentials, and rotates.
    let refresh = minted["refresh_token"].as_str().expect("refresh");
    let (status, rotated) = app.refresh(refresh).await;
    assert_eq!(status, 200, "{rotated}");
    let new_access = rotated["access_token"].as_str().expect("access");
    assert_eq!(
        me_username(&app, new_access).await.as_deref(),
        Some("alice")
    );
    let (status, _) = app.refresh(refresh).await;
    assert_ne!(status, 200, "a rotated refresh token is spent");

    // Revocation works as for any grant.
    let (status, minted) = mint(
        &app,
        &token,
        serde_json::json!({"app": app.web.client_id, "user": "bob", "scope": "tweet.read users.read"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    assert!(
        minted.get("refresh_token").is_none(),
        "no offline.access: {minted}"
    );
    let access = minted["access_token"].as_str().expect("access");
    assert_eq!(me_username(&app, access).await.as_deref(), Some("bob"));
    let resp = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(crate::helpers::form(&[("token", access)]))
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), 200);
    assert_eq!(me_username(&app, access).await, None, "revoked");
}

#[tokio::test]
async fn minted_expires_in_is_honoured_on_the_manual_clock() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let (status, minted) = mint(
        &app,
        &token,
        serde_json::json!({
            "app": app.native.client_id, "user": "alice", "scope": "users.read tweet.read", "expires_in": 60
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    assert_eq!(minted["expires_in"], 60);
    let access = minted["access_token"].as_str().expect("access");
    app.clock.advance_ms(59_000);
    assert_eq!(me_username(&app, access).await.as_deref(), Some("alice"));
    app.clock.advance_ms(1_000);
    assert_eq!(me_username(&app, access).await, None, "expired at 60 s");
}

#[tokio::test]
async fn mint_refuses_unknown_apps_users_and_scopes() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let before = app.row_counts().await;
    let web = app.web.client_id.as_str();
    let (status, body) = mint(
        &app,
        &token,
        serde_json::json!({"app": "no-such-app", "user": "alice", "scope": "users.read"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("no-such-app"))
    );
    let (status, body) = mint(
        &app,
        &token,
        serde_json::json!({"app": web, "user": "nobody", "scope": "users.read"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("nobody"))
    );
    for (body, field) in [
        (
            serde_json::json!({"app": web, "user": "alice", "scope": "users.read dm.fly"}),
            "scope",
        ),
        (
            serde_json::json!({"app": web, "user": "alice", "scope": ""}),
            "scope",
        ),
        (
            serde_json::json!({"app": web, "user": "alice", "scope": "users.read", "expires_in": 0}),
            "expires_in",
        ),
        (
            serde_json::json!({"app": web, "user": "alice", "scope": "users.read", "expires_in": -5}),
            "expires_in",
        ),
        (serde_json::json!({"app": web, "user": "alice"}), "scope"),
    ] {
        let (status, answer) = mint(&app, &token, body).await;
        assert_invalid(status, &answer, field);
    }
    assert_eq!(
        app.row_counts().await,
        before,
        "refused mints change nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// Auto-consent (test-only)

#[tokio::test]
async fn auto_consent_gives_a_plain_client_a_code_without_login_or_consent() {
    use reqwest::Method;
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let p = crate::helpers::AuthParams::new(&app.web.client_id, ALL_SCOPES);
    // Off by default: the login page.
    let resp = app
        .http
        .get(app.authorize_url(&p))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 200);

    let path = format!("/apps/{}", app.web.client_id);
    let (status, updated) = call(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(serde_json::json!({"auto_consent_user": "alice"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["auto_consent_user"], "alice");
    let (_, list) = call(&app, &token, Method::GET, "/apps", None).await;
    let listed = list["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["client_id"] == app.web.client_id.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(listed["auto_consent_user"], "alice", "{listed}");

    // A client with no cookies that never posts a form.
    let resp = app
        .http
        .get(app.authorize_url(&p))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 302);
    assert!(resp.headers().get("set-cookie").is_none());
    let location = crate::helpers::location(&resp);
    assert!(location.starts_with(crate::helpers::CALLBACK), "{location}");
    let q = crate::helpers::location_query(&resp);
    assert_eq!(q.get("state").map(String::as_str), Some("state-123"));
    let code = q.get("code").expect("code");
    let (status, tokens) = app.exchange(code, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], ALL_SCOPES);
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(me_username(&app, access).await.as_deref(), Some("alice"));

    // Every other check is unchanged: a wrong verifier, an unregistered callback, no PKCE.
    let p2 = crate::helpers::AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let resp = app
        .http
        .get(app.authorize_url(&p2))
        .send()
        .await
        .expect("authorize");
    let code = crate::helpers::location_query(&resp)["code"].clone();
    let (status, _) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 400, "PKCE still binds the code");
    let bad_cb = crate::helpers::AuthParams::new(&app.web.client_id, ALL_SCOPES)
        .set("redirect_uri", Some("http://127.0.0.1:9999/elsewhere"));
    let resp = app
        .http
        .get(app.authorize_url(&bad_cb))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 400, "an unregistered callback gets no code");
    let no_pkce =
        crate::helpers::AuthParams::new(&app.web.client_id, ALL_SCOPES).set("code_challenge", None);
    let resp = app
        .http
        .get(app.authorize_url(&no_pkce))
        .send()
        .await
        .expect("authorize");
    let q = crate::helpers::location_query(&resp);
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert!(!q.contains_key("code"));
    let bad_scope = crate::helpers::AuthParams::new(&app.web.client_id, "users.read dm.fly");
    let resp = app
        .http
        .get(app.authorize_url(&bad_scope))
        .send()
        .await
        .expect("authorize");
    let q = crate::helpers::location_query(&resp);
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_scope"));
    // Another App is not affected.
    let other = crate::helpers::AuthParams::new(&app.native.client_id, ALL_SCOPES);
    let resp = app
        .http
        .get(app.authorize_url(&other))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        resp.status(),
        200,
        "the native App still shows its login page"
    );

    // Turned off: the login page again.
    let (status, updated) = call(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(serde_json::json!({"auto_consent_user": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["auto_consent_user"], Value::Null);
    let resp = app
        .http
        .get(app.authorize_url(&p))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 200);
    // Unknown user and unknown App.
    let (status, _) = call(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(serde_json::json!({"auto_consent_user": "nobody"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        &token,
        Method::PATCH,
        "/apps/no-such-app",
        Some(serde_json::json!({"auto_consent_user": "alice"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn auto_consent_can_be_set_at_creation_and_ends_with_its_user() {
    use reqwest::Method;
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let (status, created) = call(
        &app,
        &token,
        Method::POST,
        "/apps",
        Some(serde_json::json!({
            "name": "Headless", "type": "public", "callbacks": [crate::helpers::CALLBACK],
            "auto_consent_user": "bob"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["auto_consent_user"], "bob");
    let client_id = created["client_id"].as_str().expect("client_id");
    let p = crate::helpers::AuthParams::new(client_id, "users.read tweet.read");
    let resp = app
        .http
        .get(app.authorize_url(&p))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 302);
    // An unknown auto-consent user creates nothing.
    let before = app.row_counts().await;
    let (status, _) = call(
        &app,
        &token,
        Method::POST,
        "/apps",
        Some(serde_json::json!({
            "name": "X", "type": "public", "callbacks": [crate::helpers::CALLBACK],
            "auto_consent_user": "nobody"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.row_counts().await, before);
    // Deleting bob turns auto-consent off; the App stays.
    let (status, _) = call(&app, &token, Method::DELETE, "/users/bob", None).await;
    assert_eq!(status, StatusCode::OK);
    let resp = app
        .http
        .get(app.authorize_url(&p))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 200, "login page again");
}

/// The admin operations roost's OpenAPI document describes, and the server serves each of them
/// (an admin answer, not the router's 404 or 405).
#[tokio::test]
async fn the_openapi_document_describes_the_admin_api_the_server_serves() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/2/openapi.json"))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(p, _)| p.starts_with("/admin/v1/"))
        .flat_map(|(p, item)| {
            item.as_object()
                .expect("item")
                .keys()
                .map(|m| (m.to_ascii_uppercase(), p.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    documented.sort();
    // The router is built from `routes()`: the document names exactly what it serves.
    let mut expected: Vec<(String, String)> = roost::admin::routes()
        .iter()
        .map(|r| (r.verb.method().to_string(), format!("/admin/v1{}", r.path)))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);
    let token = admin_token(&app).await;
    for (method, path) in &expected {
        let path = path
            .replace("{client_id}", "no-such-app")
            .replace("{username}", "nobody")
            .replace("{project_id}", "1")
            .replace("{id}", "1")
            .replace("{name}", "no-such-snapshot");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("call");
        assert_ne!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let body: Value = resp.json().await.expect("JSON answer");
        assert_ne!(
            body["error_description"], "no such admin endpoint",
            "{method} {path}"
        );
        // Without the token: the documented 401.
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .expect("call");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn a_wrong_method_on_an_admin_path_gets_a_json_405() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let resp = app
        .http
        .put(app.url("/admin/v1/apps"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("call");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = resp
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "allow: {allow}"
    );
    let body: Value = resp.json().await.expect("JSON answer");
    assert_eq!(body["error"], "method_not_allowed", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

/// Every admin route of the router's own table, with real path parameters and a body that an
/// admin's request would act on: so a refusal below is the token check, not a 404 or a 400.
fn admin_requests(app: &TestApp, fault_id: &str) -> Vec<(reqwest::Method, String, Value)> {
    use serde_json::json;
    roost::admin::routes()
        .iter()
        .map(|r| {
            let path = format!("/admin/v1{}", r.path)
                .replace("{client_id}", &app.web.client_id)
                .replace("{username}", "bob")
                .replace("{project_id}", &app.web.project_id)
                .replace("{id}", fault_id)
                .replace("{name}", "baseline");
            let body = match (r.verb, r.path) {
                (roost::admin::AdminVerb::Post, "/apps") => json!({
                    "name": "Intruder", "type": "confidential",
                    "callbacks": ["http://127.0.0.1:3000/cb"]}),
                (roost::admin::AdminVerb::Patch, "/apps/{client_id}") => {
                    json!({"auto_consent_user": "alice"})
                }
                (roost::admin::AdminVerb::Post, "/users") => {
                    json!({"username": "mallory", "name": "Mallory"})
                }
                (roost::admin::AdminVerb::Patch, "/users/{username}") => json!({"admin": true}),
                (roost::admin::AdminVerb::Post, "/projects") => json!({"name": "Intruder Project"}),
                (roost::admin::AdminVerb::Patch, "/projects/{project_id}") => {
                    json!({"name": "Renamed", "owner": "alice"})
                }
                (roost::admin::AdminVerb::Post, "/tokens") => json!({
                    "app": app.web.client_id, "user": "alice", "scope": "tweet.read users.read"}),
                (roost::admin::AdminVerb::Post, "/clock") => json!({"advance_seconds": 3600}),
                (roost::admin::AdminVerb::Post, "/faults") => {
                    json!({"path": "/2/users/me", "fault": "unavailable"})
                }
                (roost::admin::AdminVerb::Post, "/snapshots") => json!({"name": "other"}),
                (roost::admin::AdminVerb::Post, "/reset") => json!({"to": null}),
                _ => json!({}),
            };
            (r.verb.method(), path, body)
        })
        .collect()
}

/// Everything an admin request could change: the store's rows, its export, the clock, the
/// fault rules.
async fn admin_visible_state(
    app: &TestApp,
) -> (
    std::collections::BTreeMap<String, i64>,
    String,
    Value,
    Value,
) {
    let (export, _) = roost::content::export::export(app.state.store.as_ref())
        .await
        .expect("export");
    (
        app.row_counts().await,
        export,
        roost::admin::sandbox::clock_body(&app.state),
        serde_json::to_value(app.state.sandbox.faults.list()).expect("faults"),
    )
}

/// A world with something for every admin route to act on: a snapshot, a fault rule that
/// matches nothing. Returns the real admin token and the rule's id.
async fn admin_world(app: &TestApp) -> (String, String) {
    let token = admin_token(app).await;
    let (status, _) = call(
        app,
        &token,
        reqwest::Method::POST,
        "/snapshots",
        Some(serde_json::json!({"name": "baseline"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, rule) = call(
        app,
        &token,
        reqwest::Method::POST,
        "/faults",
        Some(serde_json::json!({"path": "/nowhere", "fault": "unavailable"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let id = match &rule["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (token, id)
}

// Checklist L1. The admin token is looked up by its SHA-256 digest (`admin::authenticate`,
// `admin_token_by_hash`): the store compares digests of what was presented, never the token
// itself, which is what makes the check constant-time with respect to the stored token.
#[tokio::test]
async fn sec_l01_every_admin_route_refuses_missing_wrong_revoked_and_non_admin_tokens() {
    let app = spawn_app().await;
    let (real, fault_id) = admin_world(&app).await;
    let revoked = roost::admin::create_token(&app.state, "revoked")
        .await
        .expect("token");
    assert!(
        app.state
            .store
            .revoke_admin_token(revoked.record.id, app.state.now())
            .await
            .expect("revoke")
    );
    let user = app.tokens(ALL_SCOPES).await;
    let access = user["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = user["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let app_only = app.app_token().await;
    let wrong = format!("roost_admin_{}", roost_domain::secret::random_base64url(32));
    // The real token with one character changed, and with something appended.
    let mut near = real.clone();
    let last = near.pop().expect("non-empty");
    near.push(if last == 'A' { 'B' } else { 'A' });
    let longer = format!("{real}x");
    let credentials: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("a wrong token", Some(wrong)),
        ("the admin token with one character changed", Some(near)),
        ("the admin token with a character appended", Some(longer)),
        (
            "a revoked admin token",
            Some(revoked.token.expose().to_owned()),
        ),
        ("a user access token", Some(access)),
        ("a refresh token", Some(refresh)),
        ("an app-only token", Some(app_only)),
    ];
    let before = admin_visible_state(&app).await;
    let mut requests = admin_requests(&app, &fault_id);
    assert!(requests.len() >= 20, "the whole table: {}", requests.len());
    // What the router answers before routing too: an unknown path, a wrong method, a body
    // that is not JSON.
    requests.push((
        reqwest::Method::GET,
        "/admin/v1/no-such-endpoint".into(),
        Value::Null,
    ));
    requests.push((reqwest::Method::PUT, "/admin/v1/apps".into(), Value::Null));
    requests.push((
        reqwest::Method::POST,
        "/admin/v1/users".into(),
        Value::String("{not json".into()),
    ));
    for (method, path, body) in &requests {
        for (what, token) in &credentials {
            let mut req = app.http.request(method.clone(), app.url(path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req = match body {
                Value::Null => req,
                Value::String(raw) => req
                    .header("content-type", "application/json")
                    .body(raw.clone()),
                json => req.json(json),
            };
            let resp = req.send().await.expect("admin request");
            assert_refused(resp, &format!("{method} {path} with {what}")).await;
        }
    }
    // The App's Basic credentials are no admin token either.
    for (method, path, body) in &requests {
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
            .json(body)
            .send()
            .await
            .expect("admin request");
        assert_refused(resp, &format!("{method} {path} with Basic credentials")).await;
    }
    assert_eq!(admin_visible_state(&app).await, before, "nothing changed");
    // The control: the same requests with the real token get past the check.
    for (method, path, body) in admin_requests(&app, &fault_id) {
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(&real)
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert_ne!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_ne!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
}

// Checklist L3: CORS is configured as openly as roost allows, for the API and the token
// endpoint, and still no admin answer, preflight or not, carries a CORS header.
#[tokio::test]
async fn sec_l03_admin_routes_answer_no_cors_headers_even_with_cors_configured() {
    const ORIGIN: &str = "https://app.example";
    let app = spawn_app_with(|c| {
        c.cors.api_origins = vec![roost::net::ApiOrigin::Any];
        c.cors.token_origins =
            vec![roost::net::Origin::try_from(ORIGIN.to_owned()).expect("origin")];
    })
    .await;
    let (real, fault_id) = admin_world(&app).await;
    let cors_headers = |resp: &reqwest::Response| -> Vec<String> {
        resp.headers()
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k.starts_with("access-control-"))
            .collect()
    };
    // The control: the API's preflight is answered, so CORS is on.
    let resp = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/2/users/me"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("preflight");
    assert!(resp.headers().contains_key("access-control-allow-origin"));
    for (method, path, body) in admin_requests(&app, &fault_id) {
        for token in [None, Some(&real)] {
            let mut req = app
                .http
                .request(reqwest::Method::OPTIONS, app.url(&path))
                .header("origin", ORIGIN)
                .header("access-control-request-method", method.as_str())
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                );
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.expect("preflight");
            assert!(
                !resp.status().is_success(),
                "preflight {method} {path}: {}",
                resp.status()
            );
            assert_eq!(
                cors_headers(&resp),
                Vec::<String>::new(),
                "preflight {method} {path}"
            );
        }
        // A simple cross-origin request with a valid token is answered without CORS headers
        // either, so a browser page cannot read it. (Only the GETs: the others would act.)
        if method == reqwest::Method::GET {
            let resp = app
                .http
                .get(app.url(&path))
                .header("origin", ORIGIN)
                .bearer_auth(&real)
                .json(&body)
                .send()
                .await
                .expect("request");
            assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
            assert_eq!(cors_headers(&resp), Vec::<String>::new(), "GET {path}");
        }
    }
}

// Checklist L3: the admin token counts only in the Authorization header.
#[tokio::test]
async fn sec_l03_admin_token_in_query_form_body_or_cookie_is_refused() {
    let app = spawn_app().await;
    let (real, fault_id) = admin_world(&app).await;
    let before = admin_visible_state(&app).await;
    for (method, path, body) in admin_requests(&app, &fault_id) {
        for param in ["admin_token", "access_token", "token", "bearer_token"] {
            let resp = app
                .http
                .request(method.clone(), app.url(&format!("{path}?{param}={real}")))
                .json(&body)
                .send()
                .await
                .expect("request");
            assert_refused(resp, &format!("{method} {path}?{param}=")).await;
        }
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("admin_token", &real), ("access_token", &real)]))
            .send()
            .await
            .expect("request");
        assert_refused(
            resp,
            &format!("{method} {path} with the token in a form body"),
        )
        .await;
        let mut with_token = body.clone();
        if let Value::Object(m) = &mut with_token {
            m.insert("admin_token".into(), Value::String(real.clone()));
        }
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .json(&with_token)
            .send()
            .await
            .expect("request");
        assert_refused(
            resp,
            &format!("{method} {path} with the token in a JSON body"),
        )
        .await;
        for cookie in [
            format!("admin_token={real}"),
            format!("roost_admin={real}"),
            format!("access_token={real}"),
            format!("token={real}"),
        ] {
            let resp = app
                .http
                .request(method.clone(), app.url(&path))
                .header("cookie", &cookie)
                .json(&body)
                .send()
                .await
                .expect("request");
            assert_refused(resp, &format!("{method} {path} with Cookie: {cookie}")).await;
        }
        // A token that is not a Bearer credential: the raw header value, or under another
        // header name.
        for (name, value) in [
            ("authorization", real.clone()),
            ("authorization", format!("Token {real}")),
            ("x-admin-token", real.clone()),
            ("x-api-key", real.clone()),
        ] {
            let resp = app
                .http
                .request(method.clone(), app.url(&path))
                .header(name, &value)
                .json(&body)
                .send()
                .await
                .expect("request");
            assert_refused(resp, &format!("{method} {path} with {name}")).await;
        }
    }
    assert_eq!(admin_visible_state(&app).await, before, "nothing changed");
}

// ---------------------------------------------------------------------------------------------
// Checklist L2: the sandbox controls are off unless enabled

/// The sandbox controls of the admin route table, as `METHOD /path`.
fn sandbox_routes() -> std::collections::BTreeSet<String> {
    roost::admin::routes()
        .iter()
        .filter(|r| r.sandbox)
        .map(|r| format!("{} {}", r.verb.method(), r.path))
        .collect()
}

#[tokio::test]
async fn sec_l02_sandbox_routes_are_not_routed_by_default_even_for_an_admin() {
    use reqwest::Method;
    // The table marks exactly the checklist's controls: minting, the clock, faults, reset.
    let expected: std::collections::BTreeSet<String> = [
        "POST /tokens",
        "GET /clock",
        "POST /clock",
        "GET /faults",
        "POST /faults",
        "DELETE /faults",
        "DELETE /faults/{id}",
        "POST /reset",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(sandbox_routes(), expected);
    let default = roost::config::Config::default().sandbox;
    assert!(!default.enabled, "off by default");
    let app = spawn_app_with(|c| c.sandbox.enabled = default.enabled).await;
    let token = admin_token(&app).await;
    let (status, _) = call(
        &app,
        &token,
        Method::POST,
        "/snapshots",
        Some(serde_json::json!({"name": "baseline"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "snapshots can still be saved");
    let before = admin_visible_state(&app).await;
    let requests = admin_requests(&app, "1");
    let mut walked = 0;
    for (route, (method, path, body)) in roost::admin::routes().iter().zip(&requests) {
        if !route.sandbox {
            continue;
        }
        walked += 1;
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .expect("admin request");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
        let answer: Value = resp.json().await.expect("JSON");
        assert_eq!(answer["error"], "not_found", "{method} {path}: {answer}");
        assert_eq!(
            answer["error_description"], "no such admin endpoint",
            "not routed, so no handler answered: {method} {path}"
        );
        // The token is still checked first: without one, the 401 of every admin path.
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .json(body)
            .send()
            .await
            .expect("admin request");
        assert_refused(resp, &format!("{method} {path} without a token")).await;
    }
    assert_eq!(walked, expected.len());
    assert_eq!(admin_visible_state(&app).await, before, "nothing changed");

    // Auto-consent cannot be turned on over the admin API; creating and changing Apps without
    // it works, and turning it off does too.
    let (status, body) = call(
        &app,
        &token,
        Method::POST,
        "/apps",
        Some(serde_json::json!({
            "name": "Headless", "type": "public", "callbacks": [crate::helpers::CALLBACK],
            "auto_consent_user": "alice"
        })),
    )
    .await;
    assert_invalid(status, &body, "auto_consent_user");
    let path = format!("/apps/{}", app.web.client_id);
    let (status, body) = call(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(serde_json::json!({"auto_consent_user": "alice"})),
    )
    .await;
    assert_invalid(status, &body, "auto_consent_user");
    assert_eq!(admin_visible_state(&app).await, before, "nothing changed");
    let (status, body) = call(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(serde_json::json!({"auto_consent_user": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &app,
        &token,
        Method::POST,
        "/apps",
        Some(serde_json::json!({
            "name": "Plain", "type": "public", "callbacks": [crate::helpers::CALLBACK]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The rest of the admin API is there: Apps, users, snapshots, export, the inspector.
    for path in [
        "/apps".to_owned(),
        "/users".to_owned(),
        "/snapshots".to_owned(),
        "/export".to_owned(),
        format!("/apps/{}/requests", app.web.client_id),
    ] {
        let (status, body) = call(&app, &token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    }

    // Auto-consent left in the store (an import, `roost apps set-auto-consent` on the database)
    // does not skip login here; on a server with the controls on it does.
    roost::accounts::set_auto_consent(&app.state, &app.web.client_id, Some("alice"))
        .await
        .expect("auto-consent in the store");
    let p = crate::helpers::AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let resp = app
        .http
        .get(app.authorize_url(&p))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 200, "the login page, not a code");
    let enabled = spawn_app().await;
    roost::accounts::set_auto_consent(&enabled.state, &enabled.web.client_id, Some("alice"))
        .await
        .expect("auto-consent in the store");
    let p = crate::helpers::AuthParams::new(&enabled.web.client_id, ALL_SCOPES);
    let resp = enabled
        .http
        .get(enabled.authorize_url(&p))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 302, "the control: granted at once");
}

/// `roost ARGS` of `ws` with the admin token and the server's URL in the environment.
fn admin_command(
    ws: &crate::cli::Workspace,
    base: &str,
    token: &str,
    args: &[&str],
) -> std::process::Command {
    let mut cmd = ws.command(args);
    cmd.env("ROOST_SERVER_URL", base)
        .env("ROOST_ADMIN_TOKEN", token);
    cmd
}

/// `METHOD path` on `base` with `token`: the status.
async fn status_at(base: &str, token: Option<&str>, method: reqwest::Method, path: &str) -> u16 {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .json(&serde_json::json!({}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request").status().as_u16()
}

/// Every sandbox route of the table on `base`, with `token`: the statuses.
async fn sandbox_statuses(base: &str, token: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for r in roost::admin::routes().iter().filter(|r| r.sandbox) {
        let path = format!("/admin/v1{}", r.path)
            .replace("{id}", "1")
            .replace("{name}", "none");
        let status = status_at(base, Some(token), r.verb.method(), &path).await;
        out.push((format!("{} {path}", r.verb.method()), status));
    }
    out
}

/// The lines of `stderr` that announce the sandbox controls.
fn announcements(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("sandbox controls are ON"))
        .collect()
}

#[tokio::test]
async fn sec_l02_serve_routes_no_sandbox_control_unless_enabled_and_says_so_in_one_line() {
    use crate::cli::{Server, Workspace, create_json, run};
    let ws = Workspace::new();
    let token = create_json(&ws, &["admin-token", "create", "--json"]).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    create_json(
        &ws,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--name",
            "Alice",
            "--password",
            "pw",
            "--json",
        ],
    )
    .await;
    let created = create_json(
        &ws,
        &[
            "apps",
            "create",
            "--name",
            "CI",
            "--type",
            "confidential",
            "--callback",
            crate::helpers::CALLBACK,
            "--json",
        ],
    )
    .await;
    let client_id = created["client_id"].as_str().expect("client_id").to_owned();

    // No flag, no setting: every control 404s for an admin, and nothing is announced.
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    for (route, status) in sandbox_statuses(&server.base, &token).await {
        assert_eq!(status, 404, "{route}");
    }
    let apps = status_at(
        &server.base,
        Some(&token),
        reqwest::Method::GET,
        "/admin/v1/apps",
    )
    .await;
    assert_eq!(apps, 200, "the rest of the admin API is there");
    let shown = run(admin_command(&ws, &server.base, &token, &["clock", "show"])).await;
    shown.assert_roost_error();
    // Operator tools on the store keep working: a token minted on the database is served.
    let minted = create_json(
        &ws,
        &[
            "tokens",
            "mint",
            "--app",
            &client_id,
            "--user",
            "alice",
            "--scope",
            "users.read tweet.read",
            "--json",
        ],
    )
    .await;
    let access = minted["access_token"].as_str().expect("access token");
    let me = reqwest::Client::new()
        .get(server.url("/2/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let (_, stderr) = server.stop();
    assert_eq!(announcements(&stderr), Vec::<&str>::new(), "{stderr}");

    // `ROOST_SANDBOX=0` is off; `--sandbox`, `ROOST_SANDBOX=1` and `--demo` turn them on,
    // with one WARN line.
    let with_env = |value: &str| {
        let addr = format!("127.0.0.1:{}", crate::cli::free_port());
        let mut cmd = ws.command(&["serve", "--addr", &addr, "--database-url", &ws.db_url]);
        cmd.env("ROOST_SANDBOX", value);
        (cmd, addr)
    };
    let (cmd, addr) = with_env("0");
    let off = Server::start_command(cmd, &addr).await;
    let clock = status_at(
        &off.base,
        Some(&token),
        reqwest::Method::GET,
        "/admin/v1/clock",
    )
    .await;
    assert_eq!(clock, 404, "ROOST_SANDBOX=0 is off");
    drop(off);
    for how in ["--sandbox", "ROOST_SANDBOX=1", "--demo"] {
        let server = match how {
            "ROOST_SANDBOX=1" => {
                let (cmd, addr) = with_env("1");
                Server::start_command(cmd, &addr).await
            }
            flag => Server::start(&ws, &[flag, "--database-url", &ws.db_url]).await,
        };
        let clock = status_at(
            &server.base,
            Some(&token),
            reqwest::Method::GET,
            "/admin/v1/clock",
        )
        .await;
        assert_eq!(clock, 200, "{how}");
        let shown = run(admin_command(&ws, &server.base, &token, &["clock", "show"])).await;
        shown.assert_success();
        let (_, stderr) = server.stop();
        let lines = announcements(&stderr);
        assert_eq!(lines.len(), 1, "{how}: {stderr}");
        assert!(
            lines[0].contains("WARN") && lines[0].contains(roost::sandbox::CONTROLS_ON),
            "{how}: {}",
            lines[0]
        );
    }
}

#[tokio::test]
async fn sec_l02_sandbox_settings_without_enabled_stop_serve_with_one_line() {
    use crate::cli::{Server, Workspace, write};
    let ws = Workspace::new();
    let faults = "[[sandbox.faults]]\npath = \"/2/tweets*\"\nfault = \"rate_limit\"\n";
    let consent = "[[sandbox.auto_consent]]\nclient_id = \"c\"\nuser = \"alice\"\n";
    let manual = "[sandbox]\nclock = \"manual\"\n";
    for (name, toml, needle) in [
        ("faults.toml", faults, "[[sandbox.faults]]"),
        ("consent.toml", consent, "[[sandbox.auto_consent]]"),
        ("manual.toml", manual, "manual clock"),
    ] {
        let file = write(&ws, name, toml);
        let addr = format!("127.0.0.1:{}", crate::cli::free_port());
        let args = [
            "serve",
            "--addr",
            &addr,
            "--database-url",
            &ws.db_url,
            "--config",
            file.to_str().expect("path"),
        ];
        let out = ws.run(&args).await;
        out.assert_roost_error();
        assert!(
            out.stderr.contains(needle) && out.stderr.contains("[sandbox] enabled"),
            "{name}: {out:?}"
        );
    }
    // The flag and the environment variable of the manual clock too.
    let addr = format!("127.0.0.1:{}", crate::cli::free_port());
    let out = ws
        .run(&[
            "serve",
            "--addr",
            &addr,
            "--clock",
            "manual",
            "--database-url",
            &ws.db_url,
        ])
        .await;
    out.assert_roost_error();
    assert!(out.stderr.contains("[sandbox] enabled"), "{out:?}");
    let mut cmd = ws.command(&["serve", "--addr", &addr, "--database-url", &ws.db_url]);
    cmd.env("ROOST_CLOCK", "manual");
    let out = crate::cli::run(cmd).await;
    out.assert_roost_error();
    assert!(out.stderr.contains("[sandbox] enabled"), "{out:?}");
    // Enabled, in the file or by the flag, the same settings start.
    let enabled = write(
        &ws,
        "enabled.toml",
        &format!("[sandbox]\nenabled = true\nclock = \"manual\"\n{faults}"),
    );
    let server = Server::start(
        &ws,
        &[
            "--database-url",
            &ws.db_url,
            "--config",
            enabled.to_str().expect("path"),
        ],
    )
    .await;
    drop(server);
    let file = write(&ws, "faults-only.toml", faults);
    let server = Server::start(
        &ws,
        &[
            "--sandbox",
            "--database-url",
            &ws.db_url,
            "--config",
            file.to_str().expect("path"),
        ],
    )
    .await;
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// Checklist L4: the admin API on a listener of its own

#[tokio::test]
async fn sec_l04_with_an_admin_address_the_public_listener_404s_the_admin_api() {
    use crate::cli::{Server, Workspace, create_json, run, write};
    let ws = Workspace::new();
    let token = create_json(&ws, &["admin-token", "create", "--json"]).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let admin_addr = format!("127.0.0.1:{}", crate::cli::free_port());
    let admin_base = format!("http://{admin_addr}");
    let server = Server::start(
        &ws,
        &[
            "--admin-addr",
            &admin_addr,
            "--sandbox",
            "--database-url",
            &ws.db_url,
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let get = |url: String, token: Option<String>| {
        let http = http.clone();
        async move {
            let mut req = http.get(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            (status, headers, resp.text().await.expect("body"))
        }
    };

    // The public listener: every admin route is an unknown path, with a token or without, and
    // answers exactly as one does (no admin 401, nothing that says an admin API is near).
    let (unknown_status, unknown_headers, unknown_body) =
        get(server.url("/no-such-path"), None).await;
    assert_eq!(unknown_status, 404);
    for r in roost::admin::routes() {
        let path = format!("/admin/v1{}", r.path)
            .replace("{client_id}", "c")
            .replace("{username}", "u")
            .replace("{id}", "1")
            .replace("{name}", "n");
        for t in [None, Some(token.as_str())] {
            let mut req = http
                .request(r.verb.method(), server.url(&path))
                .json(&serde_json::json!({}));
            if let Some(t) = t {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.expect("request");
            let what = format!(
                "{} {path} on the public listener, token {}",
                r.verb.method(),
                t.is_some()
            );
            assert_eq!(resp.status(), 404, "{what}");
            assert!(!resp.headers().contains_key("www-authenticate"), "{what}");
            assert_eq!(
                resp.headers().get("cache-control"),
                unknown_headers.get("cache-control"),
                "{what}"
            );
            assert_eq!(resp.text().await.expect("body"), unknown_body, "{what}");
        }
    }
    let (status, _, _) = get(server.url("/healthz"), None).await;
    assert_eq!(status, 200, "the public listener serves the rest");

    // The admin listener: the admin API, 401 without a token and working with one; nothing
    // else but the health checks.
    let (status, headers, _) = get(format!("{admin_base}/admin/v1/apps"), None).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"roost-admin\"");
    let (status, headers, body) =
        get(format!("{admin_base}/admin/v1/apps"), Some(token.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let apps: Value = serde_json::from_str(&body).expect("JSON");
    assert!(apps["apps"].is_array(), "{apps}");
    let (status, _, _) = get(format!("{admin_base}/admin/v1/clock"), Some(token.clone())).await;
    assert_eq!(status, 200, "the sandbox controls are there too, when on");
    for path in ["/healthz", "/readyz"] {
        let (status, _, _) = get(format!("{admin_base}{path}"), None).await;
        assert_eq!(status, 200, "{path} on the admin listener");
    }
    for path in [
        "/2/users/me",
        "/i/oauth2/authorize",
        "/.well-known/oauth-authorization-server",
        "/2/openapi.json",
    ] {
        let (status, _, _) = get(format!("{admin_base}{path}"), None).await;
        assert_eq!(status, 404, "{path} on the admin listener");
    }

    // The CLI finds the admin API at the configured admin address: the flag's environment
    // variable, or `server.admin_addr` in the config file; `--server-url` still wins.
    let mut cmd = ws.command(&["clock", "show", "--json"]);
    cmd.env("ROOST_ADMIN_TOKEN", &token)
        .env("ROOST_ADMIN_ADDR", &admin_addr);
    run(cmd).await.assert_success();
    let config = write(
        &ws,
        "admin.toml",
        &format!("[server]\nadmin_addr = \"{admin_addr}\"\n"),
    );
    let mut cmd = ws.command(&[
        "clock",
        "show",
        "--json",
        "--config",
        config.to_str().expect("path"),
    ]);
    cmd.env("ROOST_ADMIN_TOKEN", &token);
    run(cmd).await.assert_success();
    let on_public = run(admin_command(&ws, &server.base, &token, &["clock", "show"])).await;
    on_public.assert_roost_error();

    let (_, stderr) = server.stop();
    let listening = stderr
        .lines()
        .find(|l| l.contains("roost is listening"))
        .unwrap_or_else(|| panic!("no start-up line: {stderr}"));
    assert!(
        listening.contains(&format!("admin_addr={admin_addr}")),
        "{listening}"
    );
    // Loopback: no warning about an admin API facing the network.
    assert!(!stderr.contains("non-loopback"), "{stderr}");
}

#[tokio::test]
async fn sec_l04_without_an_admin_address_the_admin_api_stays_on_the_public_listener() {
    use crate::cli::{Server, Workspace, create_json};
    let ws = Workspace::new();
    let token = create_json(&ws, &["admin-token", "create", "--json"]).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let ok = status_at(
        &server.base,
        Some(&token),
        reqwest::Method::GET,
        "/admin/v1/apps",
    )
    .await;
    assert_eq!(ok, 200);
    let refused = status_at(&server.base, None, reqwest::Method::GET, "/admin/v1/apps").await;
    assert_eq!(refused, 401);
    let (_, stderr) = server.stop();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("roost is listening") && l.contains("admin_addr=same as addr")),
        "{stderr}"
    );
    // An admin address that is not one, or is the public address itself, stops the start.
    let addr = format!("127.0.0.1:{}", crate::cli::free_port());
    for bad in ["nonsense", addr.as_str()] {
        let out = ws
            .run(&[
                "serve",
                "--addr",
                &addr,
                "--admin-addr",
                bad,
                "--database-url",
                &ws.db_url,
            ])
            .await;
        out.assert_roost_error();
        assert!(out.stderr.contains("admin_addr"), "{out:?}");
    }
}
