//! Follows (x-api-v2.md §3): the following and followers lists with their offset pagination,
//! follow (pending for protected targets), unfollow, and who may do what (checklist F5).
//!
//! The small HTTP helpers at the top are shared with `spaces`, `rate_limits` and `openapi`.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) const ALICE: &str = "1000000000000000001";
pub(crate) const BOB: &str = "1000000000000000002";
pub(crate) const XDEV: &str = "2244994945";
/// Public; follows alice, alice does not follow back.
const NIAJ: &str = "1612377570541387776";
/// Protected; follows alice, alice does not follow heidi.
const HEIDI: &str = "1353056366493310980";
/// Protected; alice follows judy.
const JUDY: &str = "1288851349177270274";
/// Public; alice follows carol.
const CAROL: &str = "1183920461";

pub(crate) const FOLLOWS_READ: &str = "follows.read tweet.read users.read";
pub(crate) const FOLLOWS_WRITE: &str = "follows.write follows.read tweet.read users.read";

/// One API answer.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request; `body` is `(content type, bytes)`.
pub(crate) async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> Reply {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some((ct, b)) = body {
        req = req.header("content-type", ct).body(b.to_owned());
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    Reply {
        status,
        headers,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

pub(crate) async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    send(app, Method::GET, path, Some(token), None).await
}

pub(crate) async fn post_json(app: &TestApp, path: &str, token: &str, body: &Value) -> Reply {
    send(
        app,
        Method::POST,
        path,
        Some(token),
        Some(("application/json", &body.to_string())),
    )
    .await
}

pub(crate) async fn delete(app: &TestApp, path: &str, token: &str) -> Reply {
    send(app, Method::DELETE, path, Some(token), None).await
}

/// A user access token for a demo user (`<username>-password`) through the browser flow.
pub(crate) async fn token(app: &TestApp, username: &str, scopes: &str) -> String {
    let t = app
        .tokens_for(username, &format!("{username}-password"), scopes)
        .await;
    t["access_token"].as_str().expect("access_token").to_owned()
}

/// X's 400 body (x-api-v2.md §E.2) with these `errors`.
pub(crate) fn invalid_request(errors: Value) -> Value {
    json!({
        "errors": errors,
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"
    })
}

/// A 400 for one parameter and one value.
pub(crate) fn invalid_param(name: &str, value: &str, message: &str) -> Value {
    invalid_request(json!([{"parameters": {name: [value]}, "message": message}]))
}

/// A 400 about the request body (no parameters).
pub(crate) fn invalid_body(message: &str) -> Value {
    invalid_request(json!([{"parameters": {}, "message": message}]))
}

pub(crate) fn forbidden(detail: &str) -> Value {
    json!({"title": "Forbidden", "type": "about:blank", "status": 403, "detail": detail})
}

pub(crate) fn unsupported_authentication() -> Value {
    json!({
        "title": "Unsupported Authentication",
        "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
        "type": "https://api.twitter.com/2/problems/unsupported-authentication",
        "status": 403
    })
}

pub(crate) fn not_found(resource_type: &str, parameter: &str, value: &str) -> Value {
    json!({
        "value": value,
        "detail": format!("Could not find {resource_type} with {parameter}: [{value}]."),
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": "https://api.twitter.com/2/problems/resource-not-found"
    })
}

fn not_authorized_user(id: &str) -> Value {
    json!({
        "value": id,
        "detail": format!("Sorry, you are not authorized to see the user with id: [{id}]."),
        "title": "Authorization Error",
        "resource_type": "user",
        "parameter": "id",
        "resource_id": id,
        "section": "data",
        "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"
    })
}

/// Asserts a 400 with X's invalid-request body and content type.
pub(crate) fn assert_400(r: &Reply, expected: &Value, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text);
    assert_eq!(&r.json, expected, "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{what}"
    );
}

/// Asserts a problem+json answer with this status and body.
pub(crate) fn assert_problem(r: &Reply, status: u16, expected: &Value, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(&r.json, expected, "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
}

/// The demo data set as JSON.
pub(crate) fn demo() -> Value {
    serde_json::from_str(roost::demo::DATA).expect("demo json")
}

/// Demo follow edges `(source, target, created_at)` (accepted ones: pending requests are no
/// follows).
fn demo_follows() -> Vec<(String, String, String)> {
    demo()["follows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pending"] != true)
        .map(|f| {
            (
                f["source_user_id"].as_str().unwrap().to_owned(),
                f["target_user_id"].as_str().unwrap().to_owned(),
                f["created_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Ids of a list answer's `data`, in order.
pub(crate) fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `public_metrics` of a user, as seen by `token`.
async fn metrics(app: &TestApp, token: &str, id: &str) -> Value {
    let r = get(
        app,
        &format!("/2/users/{id}?user.fields=public_metrics"),
        token,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["data"]["public_metrics"].clone()
}

fn count(m: &Value, name: &str) -> i64 {
    m[name].as_i64().unwrap_or_else(|| panic!("{name} in {m}"))
}

async fn list(app: &TestApp, token: &str, id: &str, which: &str, query: &str) -> Reply {
    get(app, &format!("/2/users/{id}/{which}?{query}"), token).await
}

async fn all_ids(app: &TestApp, token: &str, id: &str, which: &str) -> Vec<String> {
    let r = list(app, token, id, which, "max_results=1000").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["meta"].get("next_token").is_none());
    ids(&r.json)
}

// ---- the lists ----

#[tokio::test]
async fn lists_hold_every_accepted_edge_newest_first() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_READ).await;
    let edges = demo_follows();
    for (which, mine, theirs) in [("following", 0, 1), ("followers", 1, 0)] {
        let mut expected: Vec<&(String, String, String)> = edges
            .iter()
            .filter(|e| [&e.0, &e.1][mine] == ALICE)
            .collect();
        // X lists the most recent follow first.
        expected.sort_by(|a, b| b.2.cmp(&a.2));
        let expected: Vec<String> = expected
            .iter()
            .map(|e| [&e.0, &e.1][theirs].clone())
            .collect();
        let r = list(&app, &t, ALICE, which, "").await;
        assert_eq!(r.status, 200, "{which}: {}", r.text);
        assert_eq!(ids(&r.json), expected, "{which}");
        // Alone, `meta` is `result_count` only: one page, no tokens (quirk 16).
        assert_eq!(r.json["meta"], json!({"result_count": expected.len()}));
        // Default user objects: id, name, username.
        for u in r.json["data"].as_array().unwrap() {
            let keys: BTreeSet<&str> = u.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            assert_eq!(keys, BTreeSet::from(["id", "name", "username"]), "{u}");
        }
        assert!(r.json.get("includes").is_none() && r.json.get("errors").is_none());
    }
    assert_eq!(all_ids(&app, &t, ALICE, "following").await.len(), 15);
    assert_eq!(all_ids(&app, &t, ALICE, "followers").await.len(), 25);
}

#[tokio::test]
async fn default_page_is_100_and_max_results_reaches_1000() {
    let app = spawn_demo_app().await;
    // 120 extra accounts follow bob, more recently than anyone in the demo.
    let users: Vec<Value> = (0..120)
        .map(|i| json!({"id": format!("{}", 3_000_000_000_000_000_000u64 + i), "username": format!("fan_{i}"), "name": format!("Fan {i}")}))
        .collect();
    let follows: Vec<Value> = (0..120)
        .map(|i| json!({"source_user_id": format!("{}", 3_000_000_000_000_000_000u64 + i), "target_user_id": BOB, "created_at": format!("2027-01-01T00:{:02}:{:02}.000Z", i / 60, i % 60)}))
        .collect();
    app.import_json(&json!({"users": users, "follows": follows}).to_string())
        .await;
    let t = token(&app, "alice", FOLLOWS_READ).await;
    let total = demo_follows().iter().filter(|e| e.1 == BOB).count() + 120;

    let first = list(&app, &t, BOB, "followers", "").await;
    let r = &first;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r.json).len(), 100);
    assert_eq!(r.json["meta"]["result_count"], 100);
    assert!(r.json["meta"]["next_token"].as_str().unwrap().len() >= 16);
    assert!(r.json["meta"].get("previous_token").is_none());

    let r = list(&app, &t, BOB, "followers", "max_results=1000").await;
    assert_eq!(ids(&r.json).len(), total);
    assert_eq!(r.json["meta"], json!({"result_count": total}));
    // The second default page holds the rest, and leads back.
    let next = first.json["meta"]["next_token"].as_str().unwrap();
    let r = list(
        &app,
        &t,
        BOB,
        "followers",
        &format!("pagination_token={next}"),
    )
    .await;
    assert_eq!(ids(&r.json).len(), total - 100);
    assert_eq!(r.json["meta"]["result_count"], json!(total - 100));
    assert!(r.json["meta"].get("next_token").is_none());
    let prev = r.json["meta"]["previous_token"].as_str().unwrap();
    let back = list(
        &app,
        &t,
        BOB,
        "followers",
        &format!("pagination_token={prev}"),
    )
    .await;
    assert_eq!(ids(&back.json), ids(&first.json));
    // An empty list: `meta.result_count` 0 and nothing else.
    let r = list(&app, &t, "3000000000000000000", "followers", "").await;
    assert_eq!(r.json, json!({"meta": {"result_count": 0}}));
    let r = list(&app, &t, BOB, "followers", "max_results=1").await;
    assert_eq!(ids(&r.json).len(), 1);
    // The newest follow comes first.
    assert_eq!(ids(&r.json), vec!["3000000000000000119".to_owned()]);
}

#[tokio::test]
async fn max_results_outside_1_to_1000_is_400() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_READ).await;
    for which in ["following", "followers"] {
        for v in ["0", "1001", "-1", "ten", "99999999999999999999"] {
            let r = list(&app, &t, ALICE, which, &format!("max_results={v}")).await;
            assert_400(
                &r,
                &invalid_param(
                    "max_results",
                    v,
                    &format!(
                        "The `max_results` query parameter value [{v}] is not between 1 and 1000"
                    ),
                ),
                &format!("{which} max_results={v}"),
            );
        }
    }
    // Every problem is reported, and an unknown parameter lists the ones the endpoint takes.
    let r = list(&app, &t, ALICE, "following", "max_results=0&count=5").await;
    assert_400(
        &r,
        &invalid_request(json!([
            {"parameters": {"count": ["5"]}, "message": "The query parameter [count] is not one of [id,expansions,max_results,pagination_token,tweet.fields,user.fields]"},
            {"parameters": {"max_results": ["0"]}, "message": "The `max_results` query parameter value [0] is not between 1 and 1000"}
        ])),
        "two problems",
    );
    let r = list(&app, &t, ALICE, "followers", "pagination_token=nope").await;
    assert_400(
        &r,
        &invalid_param(
            "pagination_token",
            "nope",
            "The `pagination_token` query parameter value [nope] is not valid",
        ),
        "bad token",
    );
    let r = get(&app, "/2/users/abc/followers", &t).await;
    assert_400(
        &r,
        &invalid_param(
            "id",
            "abc",
            "The `id` query parameter value [abc] is not valid",
        ),
        "bad id",
    );
}

#[tokio::test]
async fn followers_walk_with_max_results_7_sees_everyone_once() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_READ).await;
    let expected: BTreeSet<String> = demo_follows()
        .into_iter()
        .filter(|e| e.1 == ALICE)
        .map(|e| e.0)
        .collect();
    assert_eq!(expected.len(), 25);

    let mut pages: Vec<Value> = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let q = match &next {
            Some(tok) => format!("max_results=7&pagination_token={tok}"),
            None => "max_results=7".to_owned(),
        };
        let r = list(&app, &t, ALICE, "followers", &q).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let meta = &r.json["meta"];
        assert_eq!(meta["result_count"], json!(ids(&r.json).len()));
        // The first page has no previous_token; every later one has.
        assert_eq!(
            meta.get("previous_token").is_some(),
            !pages.is_empty(),
            "{meta}"
        );
        next = meta.get("next_token").map(|v| {
            let s = v.as_str().expect("next_token is a string, never null");
            assert!(s.len() >= 16, "OpenAPI minLength 16: {s}");
            s.to_owned()
        });
        pages.push(r.json);
        if next.is_none() {
            break;
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    let sizes: Vec<usize> = pages.iter().map(|p| ids(p).len()).collect();
    assert_eq!(sizes, vec![7, 7, 7, 4]);
    let seen: Vec<String> = pages.iter().flat_map(ids).collect();
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 25, "every follower exactly once");
    assert_eq!(unique, expected);

    // previous_token leads back page by page.
    for k in (1..pages.len()).rev() {
        let prev = pages[k]["meta"]["previous_token"].as_str().unwrap();
        let r = list(
            &app,
            &t,
            ALICE,
            "followers",
            &format!("max_results=7&pagination_token={prev}"),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(ids(&r.json), ids(&pages[k - 1]), "back from page {k}");
        assert_eq!(r.json["meta"], pages[k - 1]["meta"], "back from page {k}");
    }
}

#[tokio::test]
async fn user_fields_and_pinned_tweet_expansion() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_READ).await;
    let r = list(
        &app,
        &t,
        ALICE,
        "following",
        "user.fields=pinned_tweet_id,protected,public_metrics,created_at&expansions=pinned_tweet_id&tweet.fields=author_id",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let users = r.json["data"].as_array().unwrap();
    assert_eq!(users.len(), 15);
    let demo = demo();
    let by_id: HashMap<&str, &Value> = demo["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u))
        .collect();
    let mut pinned = BTreeSet::new();
    for u in users {
        let d = by_id[u["id"].as_str().unwrap()];
        assert_eq!(
            u["protected"],
            json!(d["protected"].as_bool().unwrap_or(false))
        );
        assert_eq!(u["created_at"], d["created_at"]);
        assert!(u["public_metrics"]["followers_count"].is_i64(), "{u}");
        assert_eq!(u.get("pinned_tweet_id"), d.get("pinned_tweet_id"), "{u}");
        if let Some(p) = d.get("pinned_tweet_id") {
            pinned.insert((
                p.as_str().unwrap().to_owned(),
                d["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert!(pinned.len() >= 3, "the demo pins tweets of followed users");
    // Each pinned tweet once in includes.tweets, with the requested tweet.fields.
    let tweets = r.json["includes"]["tweets"].as_array().unwrap();
    let got: BTreeSet<(String, String)> = tweets
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_owned(),
                t["author_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, pinned);
    assert_eq!(tweets.len(), pinned.len());
    for tw in tweets {
        assert_eq!(tw["edit_history_tweet_ids"], json!([tw["id"]]));
        assert!(tw["text"].is_string());
    }
    // An unknown field is X's 400.
    let r = list(&app, &t, ALICE, "following", "user.fields=colour").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json["errors"][0]["parameters"],
        json!({"user.fields": ["colour"]})
    );
}

#[tokio::test]
async fn protected_lists_are_for_followers_only() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_READ).await;
    let app_only = app.app_token().await;
    for which in ["following", "followers"] {
        // alice does not follow heidi: a partial Authorization Error, HTTP 200.
        let r = list(&app, &t, HEIDI, which, "").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.json,
            json!({"errors": [not_authorized_user(HEIDI)]}),
            "{which}"
        );
        // alice follows judy: the lists are visible.
        let r = list(&app, &t, JUDY, which, "").await;
        assert_eq!(r.status, 200);
        assert!(!ids(&r.json).is_empty(), "{which}: {}", r.text);
        // An app-only token follows no one.
        let r = list(&app, &app_only, JUDY, which, "").await;
        assert_eq!(
            r.json,
            json!({"errors": [not_authorized_user(JUDY)]}),
            "{which}"
        );
        // An unknown user is a partial Not Found Error.
        let r = list(&app, &t, "1234567", which, "").await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json,
            json!({"errors": [not_found("user", "id", "1234567")]})
        );
    }
    // Public accounts' lists are open to app-only tokens.
    let r = list(&app, &app_only, ALICE, "followers", "").await;
    assert_eq!(ids(&r.json).len(), 25);
}

// ---- follow ----

async fn follow(app: &TestApp, token: &str, source: &str, target: &str) -> Reply {
    post_json(
        app,
        &format!("/2/users/{source}/following"),
        token,
        &json!({"target_user_id": target}),
    )
    .await
}

#[tokio::test]
async fn follow_a_public_account() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_WRITE).await;
    let before_alice = metrics(&app, &t, ALICE).await;
    let before_niaj = metrics(&app, &t, NIAJ).await;
    assert!(
        !all_ids(&app, &t, ALICE, "following")
            .await
            .contains(&NIAJ.to_owned())
    );

    let r = follow(&app, &t, ALICE, NIAJ).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"data": {"following": true, "pending_follow": false}})
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );

    let following = all_ids(&app, &t, ALICE, "following").await;
    assert_eq!(
        following.first().map(String::as_str),
        Some(NIAJ),
        "newest first"
    );
    assert_eq!(following.len(), 16);
    let followers = all_ids(&app, &t, NIAJ, "followers").await;
    assert_eq!(followers.first().map(String::as_str), Some(ALICE));
    let after_alice = metrics(&app, &t, ALICE).await;
    let after_niaj = metrics(&app, &t, NIAJ).await;
    assert_eq!(
        count(&after_alice, "following_count"),
        count(&before_alice, "following_count") + 1
    );
    assert_eq!(
        count(&after_niaj, "followers_count"),
        count(&before_niaj, "followers_count") + 1
    );
    let r = get(
        &app,
        &format!("/2/users/{NIAJ}?user.fields=connection_status"),
        &t,
    )
    .await;
    assert_eq!(
        r.json["data"]["connection_status"],
        json!(["following", "followed_by"])
    );

    // Following again changes nothing and answers the same.
    let rows = app.row_counts().await;
    let r = follow(&app, &t, ALICE, NIAJ).await;
    assert_eq!(
        r.json,
        json!({"data": {"following": true, "pending_follow": false}})
    );
    assert_eq!(app.row_counts().await, rows);
    assert_eq!(all_ids(&app, &t, ALICE, "following").await, following);
    assert_eq!(metrics(&app, &t, NIAJ).await, after_niaj);
    // Already following (from the demo data): also `following: true`.
    let r = follow(&app, &t, ALICE, CAROL).await;
    assert_eq!(
        r.json,
        json!({"data": {"following": true, "pending_follow": false}})
    );
    assert_eq!(app.row_counts().await, rows);
}

#[tokio::test]
async fn follow_a_protected_account_is_a_pending_request() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_WRITE).await;
    let before = metrics(&app, &t, ALICE).await;
    let rows = app.row_counts().await;

    let r = follow(&app, &t, ALICE, HEIDI).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"data": {"following": false, "pending_follow": true}})
    );
    assert_eq!(app.row_counts().await["follows"], rows["follows"] + 1);
    // A request is not a follow: not listed, not counted, and heidi's lists stay closed.
    assert!(
        !all_ids(&app, &t, ALICE, "following")
            .await
            .contains(&HEIDI.to_owned())
    );
    assert_eq!(metrics(&app, &t, ALICE).await, before);
    let r = list(&app, &t, HEIDI, "followers", "").await;
    assert_eq!(r.json, json!({"errors": [not_authorized_user(HEIDI)]}));
    let r = get(
        &app,
        &format!("/2/users/{HEIDI}?user.fields=connection_status"),
        &t,
    )
    .await;
    assert_eq!(
        r.json["data"]["connection_status"],
        json!(["follow_request_sent", "followed_by"])
    );

    // Asking again: still pending, nothing new.
    let r = follow(&app, &t, ALICE, HEIDI).await;
    assert_eq!(
        r.json,
        json!({"data": {"following": false, "pending_follow": true}})
    );
    assert_eq!(app.row_counts().await["follows"], rows["follows"] + 1);

    // A protected account alice already follows stays followed.
    let r = follow(&app, &t, ALICE, JUDY).await;
    assert_eq!(
        r.json,
        json!({"data": {"following": true, "pending_follow": false}})
    );
    assert_eq!(app.row_counts().await["follows"], rows["follows"] + 1);

    // Unfollowing withdraws the request.
    let r = delete(&app, &format!("/2/users/{ALICE}/following/{HEIDI}"), &t).await;
    assert_eq!(r.json, json!({"data": {"following": false}}));
    assert_eq!(app.row_counts().await["follows"], rows["follows"]);
    let r = get(
        &app,
        &format!("/2/users/{HEIDI}?user.fields=connection_status"),
        &t,
    )
    .await;
    assert_eq!(r.json["data"]["connection_status"], json!(["followed_by"]));
}

#[tokio::test]
async fn pending_requests_are_not_listed_on_either_side() {
    let app = spawn_demo_app().await;
    let bob = token(&app, "bob", FOLLOWS_WRITE).await;
    let alice = token(&app, "alice", FOLLOWS_READ).await;
    let judy_followers = all_ids(&app, &alice, JUDY, "followers").await;
    let judy_metrics = metrics(&app, &alice, JUDY).await;
    // bob asks to follow judy (protected); alice, an approved follower, sees judy's lists.
    let r = follow(&app, &bob, BOB, JUDY).await;
    assert_eq!(
        r.json,
        json!({"data": {"following": false, "pending_follow": true}})
    );
    assert_eq!(
        all_ids(&app, &alice, JUDY, "followers").await,
        judy_followers
    );
    assert!(!judy_followers.contains(&BOB.to_owned()));
    assert!(
        !all_ids(&app, &alice, BOB, "following")
            .await
            .contains(&JUDY.to_owned())
    );
    assert_eq!(metrics(&app, &alice, JUDY).await, judy_metrics);
    // And the request does not open judy's lists to bob.
    let r = list(&app, &bob, JUDY, "following", "").await;
    assert_eq!(r.json, json!({"errors": [not_authorized_user(JUDY)]}));
}

#[tokio::test]
async fn sec_f05_follow_and_unfollow_as_another_user_are_403_and_change_nothing() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_WRITE).await;
    let rows = app.row_counts().await;
    let bob_following = all_ids(&app, &t, BOB, "following").await;

    let r = follow(&app, &t, BOB, NIAJ).await;
    assert_problem(&r, 403, &forbidden("Forbidden"), "follow as bob");
    // bob follows alice: alice's token cannot end that.
    let r = delete(&app, &format!("/2/users/{BOB}/following/{ALICE}"), &t).await;
    assert_problem(&r, 403, &forbidden("Forbidden"), "unfollow as bob");
    // Even a body that would be refused for itself gets the 403 first.
    let r = send(
        &app,
        Method::POST,
        &format!("/2/users/{BOB}/following"),
        Some(&t),
        Some(("text/plain", "x")),
    )
    .await;
    assert_problem(&r, 403, &forbidden("Forbidden"), "foreign id and bad body");

    assert_eq!(app.row_counts().await, rows);
    assert_eq!(all_ids(&app, &t, BOB, "following").await, bob_following);
    assert!(bob_following.contains(&ALICE.to_owned()));
}

#[tokio::test]
async fn follow_refusals_have_x_bodies_and_change_nothing() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_WRITE).await;
    let rows = app.row_counts().await;
    let path = format!("/2/users/{ALICE}/following");
    let json_ct = "application/json";

    // Following oneself: roost's choice (X documents no body) is X's generic 403 shape.
    let r = follow(&app, &t, ALICE, ALICE).await;
    assert_problem(&r, 403, &forbidden("You cannot follow yourself."), "self");

    let extra = format!(r#"{{"target_user_id":"{NIAJ}","notify":true}}"#);
    let form = format!("target_user_id={NIAJ}");
    let text = format!(r#"{{"target_user_id":"{NIAJ}"}}"#);
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            json_ct,
            r#"{"target_user_id":"1234567"}"#,
            invalid_body("$.target_user_id: no user has the id [1234567]"),
        ),
        (
            json_ct,
            r#"{}"#,
            invalid_body("$.target_user_id: is missing but it is required"),
        ),
        (
            json_ct,
            &extra,
            invalid_body(
                "$.notify: is not defined in the schema and the schema does not allow additional properties",
            ),
        ),
        (
            json_ct,
            r#"{"target_user_id":1612377570541387776}"#,
            invalid_body("$.target_user_id: must be a string"),
        ),
        (
            json_ct,
            r#"{"target_user_id":"@niaj_dev"}"#,
            invalid_body(
                "$.target_user_id: string [@niaj_dev] does not match pattern ^[0-9]{1,19}$",
            ),
        ),
        (
            json_ct,
            r#"["1612377570541387776"]"#,
            invalid_body("$: the request body must be a JSON object"),
        ),
        (
            "application/x-www-form-urlencoded",
            &form,
            invalid_body("Requests with bodies must have content-type of application/json."),
        ),
        (
            "text/plain",
            &text,
            invalid_body("Requests with bodies must have content-type of application/json."),
        ),
    ];
    for (ct, body, expected) in cases {
        let r = send(&app, Method::POST, &path, Some(&t), Some((ct, body))).await;
        assert_400(&r, &expected, &format!("{ct} {body}"));
    }
    // Malformed JSON: a 400 of the same shape (the parser's words follow the `$:` prefix).
    let r = send(
        &app,
        Method::POST,
        &path,
        Some(&t),
        Some((json_ct, "{\"target_user_id\":")),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["title"], "Invalid Request");
    assert_eq!(r.json["errors"][0]["parameters"], json!({}));
    assert!(
        r.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("$: the request body is not valid JSON"),
        "{}",
        r.text
    );
    // No body and no content type.
    let r = send(&app, Method::POST, &path, Some(&t), None).await;
    assert_400(
        &r,
        &invalid_body("Requests with bodies must have content-type of application/json."),
        "no body",
    );
    // A path id that is not an id.
    let r = follow(&app, &t, "me", NIAJ).await;
    assert_400(
        &r,
        &invalid_param(
            "id",
            "me",
            "The `id` query parameter value [me] is not valid",
        ),
        "path id",
    );
    assert_eq!(app.row_counts().await, rows);
}

#[tokio::test]
async fn app_only_tokens_cannot_follow_or_unfollow() {
    let app = spawn_demo_app().await;
    let app_only = app.app_token().await;
    let rows = app.row_counts().await;
    let r = follow(&app, &app_only, ALICE, NIAJ).await;
    assert_problem(&r, 403, &unsupported_authentication(), "follow");
    let r = delete(
        &app,
        &format!("/2/users/{ALICE}/following/{CAROL}"),
        &app_only,
    )
    .await;
    assert_problem(&r, 403, &unsupported_authentication(), "unfollow");
    assert_eq!(app.row_counts().await, rows);
}

// ---- unfollow ----

#[tokio::test]
async fn unfollow_updates_both_lists_and_counts() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_WRITE).await;
    let alice_before = metrics(&app, &t, ALICE).await;
    let carol_before = metrics(&app, &t, CAROL).await;
    assert!(
        all_ids(&app, &t, ALICE, "following")
            .await
            .contains(&CAROL.to_owned())
    );
    assert!(
        all_ids(&app, &t, CAROL, "followers")
            .await
            .contains(&ALICE.to_owned())
    );

    let path = format!("/2/users/{ALICE}/following/{CAROL}");
    let r = delete(&app, &path, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({"data": {"following": false}}));

    assert!(
        !all_ids(&app, &t, ALICE, "following")
            .await
            .contains(&CAROL.to_owned())
    );
    assert!(
        !all_ids(&app, &t, CAROL, "followers")
            .await
            .contains(&ALICE.to_owned())
    );
    assert_eq!(
        count(&metrics(&app, &t, ALICE).await, "following_count"),
        count(&alice_before, "following_count") - 1
    );
    assert_eq!(
        count(&metrics(&app, &t, CAROL).await, "followers_count"),
        count(&carol_before, "followers_count") - 1
    );

    // Not following (any more, or ever, or an account that does not exist): the same answer.
    let rows = app.row_counts().await;
    for target in [CAROL, NIAJ, "1234567"] {
        let r = delete(&app, &format!("/2/users/{ALICE}/following/{target}"), &t).await;
        assert_eq!(r.status, 200, "{target}: {}", r.text);
        assert_eq!(r.json, json!({"data": {"following": false}}), "{target}");
    }
    assert_eq!(app.row_counts().await, rows);

    // X's TypeScript SDK sends a JSON content type with no body on DELETE (quirk 12).
    let r = send(
        &app,
        Method::DELETE,
        &format!("/2/users/{ALICE}/following/{XDEV}"),
        Some(&t),
        Some(("application/json", "")),
    )
    .await;
    assert_eq!(r.json, json!({"data": {"following": false}}), "{}", r.text);
    assert!(
        !all_ids(&app, &t, ALICE, "following")
            .await
            .contains(&XDEV.to_owned())
    );

    // Ids that are not ids.
    let r = delete(&app, &format!("/2/users/{ALICE}/following/carol"), &t).await;
    assert_400(
        &r,
        &invalid_param(
            "target_user_id",
            "carol",
            "The `target_user_id` query parameter value [carol] is not valid",
        ),
        "target",
    );
    let r = delete(&app, &format!("/2/users/alice/following/{CAROL}"), &t).await;
    assert_400(
        &r,
        &invalid_param(
            "source_user_id",
            "alice",
            "The `source_user_id` query parameter value [alice] is not valid",
        ),
        "source",
    );
}

/// x-api-v2.md §0.1: the follow and unfollow endpoints take only their path parameters; any
/// other query parameter, or a path parameter repeated in the query, is X's 400, and nothing
/// changes.
#[tokio::test]
async fn follow_and_unfollow_refuse_query_parameters() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", FOLLOWS_WRITE).await;
    let rows = app.row_counts().await;
    let body = json!({"target_user_id": NIAJ});
    let r = post_json(&app, &format!("/2/users/{ALICE}/following?x=1"), &t, &body).await;
    assert_400(
        &r,
        &invalid_param("x", "1", "The query parameter [x] is not one of [id]"),
        "follow ?x",
    );
    let r = post_json(
        &app,
        &format!("/2/users/{ALICE}/following?id={ALICE}"),
        &t,
        &body,
    )
    .await;
    assert_400(
        &r,
        &invalid_request(json!([{"parameters": {"id": [ALICE, ALICE]},
            "message": "Duplicate parameters are not allowed: the `id` query parameter"}])),
        "follow ?id",
    );
    // alice follows carol: none of these unfollows her.
    let path = format!("/2/users/{ALICE}/following/{CAROL}");
    let r = delete(&app, &format!("{path}?x=1"), &t).await;
    assert_400(
        &r,
        &invalid_param(
            "x",
            "1",
            "The query parameter [x] is not one of [source_user_id,target_user_id]",
        ),
        "unfollow ?x",
    );
    let r = delete(&app, &format!("{path}?target_user_id={NIAJ}"), &t).await;
    assert_400(
        &r,
        &invalid_request(json!([{"parameters": {"target_user_id": [CAROL, NIAJ]},
            "message": "Duplicate parameters are not allowed: the `target_user_id` query parameter"}])),
        "unfollow ?target_user_id",
    );
    assert_eq!(app.row_counts().await, rows);
    assert!(
        all_ids(&app, &t, ALICE, "following")
            .await
            .contains(&CAROL.to_owned())
    );
    // Any id of X's pattern is a target; one beyond every id is followed by nobody.
    let r = delete(
        &app,
        &format!("/2/users/{ALICE}/following/9999999999999999999"),
        &t,
    )
    .await;
    assert_eq!(r.json, json!({"data": {"following": false}}));
    let r = post_json(
        &app,
        &format!("/2/users/{ALICE}/following"),
        &t,
        &json!({"target_user_id": "9999999999999999999"}),
    )
    .await;
    assert_400(
        &r,
        &invalid_body("$.target_user_id: no user has the id [9999999999999999999]"),
        "huge target",
    );
    assert_eq!(app.row_counts().await, rows);
}
