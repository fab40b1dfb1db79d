//! The render cache (`content::world::Fragments`): users and tweets are rendered once per field
//! selection and copied after that. These tests show that a cached object never outlives a
//! change that shows in it, and never shows one viewer what belongs to another.

// Test code: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_demo_app_with};
use crate::users::support::*;

const SCOPES: &str = "tweet.read tweet.write users.read users.email follows.read follows.write";

async fn demo(tweak: impl FnOnce(&mut roost::config::Config)) -> (TestApp, String, String) {
    let app = spawn_demo_app_with(tweak).await;
    let alice = access(&app.tokens_for("alice", "alice-password", SCOPES).await);
    let bob = access(&app.tokens_for("bob", "bob-password", SCOPES).await);
    (app, alice, bob)
}

fn fragments(app: &TestApp) -> usize {
    app.state.world.read().fragments.len()
}

async fn ok(app: &TestApp, token: &str, path: &str) -> Value {
    let a = get(app, token, path).await;
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    a.body
}

#[tokio::test]
async fn a_follow_shows_in_a_cached_user() {
    let (app, alice, bob) = demo(|_| {}).await;
    let path = format!("/2/users/{BOB}?user.fields=public_metrics");
    let before = ok(&app, &alice, &path).await;
    assert!(fragments(&app) > 0, "the user was cached");
    assert_eq!(
        ok(&app, &alice, &path).await,
        before,
        "the cached copy is the same"
    );
    let followers = before["data"]["public_metrics"]["followers_count"]
        .as_i64()
        .unwrap();

    // judy_reads does not follow bob in the demo data.
    let judy = access(&app.tokens_for("judy_reads", "judy-password", SCOPES).await);
    let follow = post_json(
        &app,
        &judy,
        &format!("/2/users/{JUDY}/following"),
        &json!({"target_user_id": BOB}),
    )
    .await;
    assert_eq!(follow.status, 200, "{}", follow.body);
    let after = ok(&app, &alice, &path).await;
    assert_eq!(
        after["data"]["public_metrics"]["followers_count"],
        followers + 1
    );
    let unfollow = delete(&app, &judy, &format!("/2/users/{JUDY}/following/{BOB}")).await;
    assert_eq!(unfollow.status, 200, "{}", unfollow.body);
    assert_eq!(ok(&app, &alice, &path).await, before);
    // The same selection seen by another user is the same object.
    assert_eq!(ok(&app, &bob, &path).await, before);
}

#[tokio::test]
async fn a_reply_and_its_deletion_show_in_a_cached_tweet() {
    let (app, alice, bob) = demo(|_| {}).await;
    let timeline = ok(&app, &bob, &format!("/2/users/{BOB}/tweets")).await;
    let id = timeline["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/2/tweets/{id}?tweet.fields=public_metrics");
    let before = ok(&app, &alice, &path).await;
    assert_eq!(ok(&app, &alice, &path).await, before);
    let replies = before["data"]["public_metrics"]["reply_count"]
        .as_i64()
        .unwrap();
    let reply = post_json(
        &app,
        &alice,
        "/2/tweets",
        &json!({"text": "cache check", "reply": {"in_reply_to_tweet_id": id}}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let after = ok(&app, &alice, &path).await;
    assert_eq!(after["data"]["public_metrics"]["reply_count"], replies + 1);
    let reply_id = reply.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        delete(&app, &alice, &format!("/2/tweets/{reply_id}"))
            .await
            .status,
        200
    );
    assert_eq!(ok(&app, &alice, &path).await, before);
    // The deleted tweet itself is gone, not served from the cache.
    let gone = get(&app, &alice, &format!("/2/tweets/{reply_id}")).await;
    assert_eq!(gone.status, 200);
    assert!(gone.body.get("data").is_none(), "{}", gone.body);
}

#[tokio::test]
async fn what_belongs_to_one_viewer_is_not_shown_to_another() {
    let (app, alice, bob) = demo(|_| {}).await;
    let email = format!("/2/users/{ALICE}?user.fields=confirmed_email");
    // Either order: the other viewer's copy must not leak.
    let mine = ok(&app, &alice, &email).await;
    assert!(mine["data"]["confirmed_email"].is_string(), "{mine}");
    let theirs = ok(&app, &bob, &email).await;
    assert!(theirs["data"].get("confirmed_email").is_none(), "{theirs}");
    assert_eq!(ok(&app, &alice, &email).await, mine);

    let bob_email = format!("/2/users/{BOB}?user.fields=confirmed_email");
    let seen_by_alice = ok(&app, &alice, &bob_email).await;
    assert!(seen_by_alice["data"].get("confirmed_email").is_none());

    // connection_status is the viewer's own relation to the user.
    let status = format!("/2/users/{BOB}?user.fields=connection_status");
    let from_alice = ok(&app, &alice, &status).await;
    let from_bob = ok(&app, &bob, &status).await;
    assert!(
        from_bob["data"].get("connection_status").is_none(),
        "{from_bob}"
    );
    assert_eq!(ok(&app, &alice, &status).await, from_alice);

    // A tweet's private metrics are its author's; everyone else gets the field error, from a
    // cached copy too.
    let timeline = ok(&app, &bob, &format!("/2/users/{BOB}/tweets")).await;
    let id = timeline["data"][0]["id"].as_str().unwrap().to_owned();
    let private = format!("/2/tweets/{id}?tweet.fields=non_public_metrics");
    let author = ok(&app, &bob, &private).await;
    assert!(author["data"]["non_public_metrics"].is_object(), "{author}");
    for _ in 0..2 {
        let other = ok(&app, &alice, &private).await;
        assert!(other["data"].get("non_public_metrics").is_none(), "{other}");
        assert_eq!(other["errors"][0]["title"], "Field Authorization Error");
    }
    assert_eq!(ok(&app, &bob, &private).await, author);
}

#[tokio::test]
async fn answers_are_the_same_with_the_cache_off() {
    let (on, on_alice, on_bob) = demo(|_| {}).await;
    let (off, off_alice, off_bob) = demo(|c| c.content.render_cache_size = 0).await;
    let ids = "1000000000000000001,1000000000000000002,2244994945,1288851349177270274";
    let paths = [
        format!(
            "/2/users?ids={ids}&user.fields=created_at,description,entities,public_metrics,pinned_tweet_id,protected,verified&expansions=pinned_tweet_id&tweet.fields=entities,public_metrics,author_id"
        ),
        format!(
            "/2/users/{ALICE}/tweets?max_results=20&tweet.fields=created_at,entities,public_metrics,referenced_tweets,conversation_id&expansions=author_id,referenced_tweets.id,entities.mentions.username"
        ),
        format!(
            "/2/users/{BOB}/tweets?tweet.fields=non_public_metrics,organic_metrics,public_metrics"
        ),
        format!("/2/users/{ALICE}/following?user.fields=connection_status,public_metrics"),
        "/2/users/me?user.fields=confirmed_email,subscription".to_owned(),
    ];
    for path in &paths {
        for (on_token, off_token) in [(&on_alice, &off_alice), (&on_bob, &off_bob)] {
            // Twice on the cached server: once rendered, once copied.
            let first = get(&on, on_token, path).await;
            let second = get(&on, on_token, path).await;
            let uncached = get(&off, off_token, path).await;
            assert_eq!(first.body, uncached.body, "{path}");
            assert_eq!(second.body, uncached.body, "{path}");
        }
    }
    assert!(fragments(&on) > 0);
    assert_eq!(fragments(&off), 0, "render_cache_size = 0 keeps nothing");
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let (app, alice, _) = demo(|c| c.content.render_cache_size = 3).await;
    let page = ok(
        &app,
        &alice,
        &format!("/2/users/{ALICE}/following?max_results=20"),
    )
    .await;
    assert!(page["data"].as_array().unwrap().len() > 3);
    assert!(fragments(&app) <= 3, "{}", fragments(&app));
}

#[tokio::test]
async fn content_changed_by_another_process_is_rendered_afresh() {
    let (app, alice, _) = demo(|_| {}).await;
    let path = format!("/2/users/{BOB}");
    let before = ok(&app, &alice, &path).await;
    assert_eq!(before["data"]["name"], "Bob Example");
    app.import_json(&format!(
        r#"{{"users": [{{"id": "{BOB}", "username": "bob", "name": "Robert \"Bob\" Example", "created_at": "2020-01-01T00:00:00.000Z"}}]}}"#
    ))
    .await;
    let after = ok(&app, &alice, &path).await;
    assert_eq!(after["data"]["name"], "Robert \"Bob\" Example");
}
