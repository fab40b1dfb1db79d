//! The whole journey, end to end.

use crate::helpers::*;

#[tokio::test]
async fn browser_flow_code_exchange_refresh_and_api() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 7200);
    assert_eq!(
        tokens["scope"],
        "tweet.read users.read follows.read offline.access"
    );
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let me: serde_json::Value = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "alice");
    assert_eq!(me["data"]["name"], "Alice Example");
    assert!(me["data"]["id"].is_string());

    let (status, refreshed) = app.refresh(refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    assert_eq!(
        app.me(refreshed["access_token"].as_str().unwrap()).await,
        200
    );
}
