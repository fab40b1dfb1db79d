//! The demo data set loads and the harness's demo helpers work.

use crate::helpers::*;

#[tokio::test]
async fn demo_data_loads_and_alice_can_sign_in() {
    let app = spawn_demo_app().await;
    let tokens = app
        .tokens_for("alice", "alice-password", "tweet.read users.read")
        .await;
    let token = tokens["access_token"].as_str().unwrap();
    let me: serde_json::Value = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["id"], "1000000000000000001");
    let app_token = app.app_token().await;
    let r: serde_json::Value = app
        .http
        .get(app.url("/2/users/by/username/XDevelopers?user.fields=verified"))
        .bearer_auth(app_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"]["id"], "2244994945");
    assert_eq!(r["data"]["verified"], true);
}
