//! Shared by the users, tweets and import suites: a demo-data server with tokens for alice, bob
//! and the App, a small HTTP client that keeps status, headers and the JSON body, X's problem
//! bodies written out independently of the server's code, and the demo data set read from the
//! file itself as the oracle for counts and orders.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_demo_app};

pub const ALICE: &str = "1000000000000000001";
pub const BOB: &str = "1000000000000000002";
pub const XDEV: &str = "2244994945";
pub const JUDY: &str = "1288851349177270274";
/// The read scopes every lookup endpoint needs.
pub const READ: &str = "tweet.read users.read";
/// The scopes `POST /2/tweets` and `DELETE /2/tweets/:id` need.
pub const WRITE: &str = "tweet.read tweet.write users.read";

/// One answer: status, headers and the body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A 200 whose body is exactly `expected`.
    pub fn assert_ok(&self, expected: &Value) {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(&self.body, expected);
        assert_ids_are_strings(&self.body);
    }

    /// X's 400 invalid-request problem with exactly these `errors`.
    pub fn assert_invalid(&self, errors: Value) {
        assert_eq!(self.status, 400, "{}", self.body);
        assert_eq!(self.body, invalid_request(errors));
        assert_eq!(self.content_type(), "application/json; charset=utf-8");
    }

    /// X's generic 403 problem with this `detail`.
    pub fn assert_forbidden(&self, detail: &str) {
        assert_eq!(self.status, 403, "{}", self.body);
        assert_eq!(
            self.body,
            json!({"title": "Forbidden", "type": "about:blank", "status": 403, "detail": detail})
        );
        assert_eq!(self.content_type(), "application/problem+json");
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn get(app: &TestApp, token: &str, path: &str) -> Answer {
    let resp = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    answer(resp).await
}

/// A GET with extra headers (e.g. the TypeScript SDK's `Content-Type: application/json`).
pub async fn get_with(app: &TestApp, token: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = app.http.get(app.url(path)).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send().await.expect("GET")).await
}

/// POST with a JSON body and `Content-Type: application/json`.
pub async fn post_json(app: &TestApp, token: &str, path: &str, body: &Value) -> Answer {
    post_raw(app, token, path, "application/json", &body.to_string()).await
}

pub async fn post_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Answer {
    let resp = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("POST");
    answer(resp).await
}

pub async fn delete(app: &TestApp, token: &str, path: &str) -> Answer {
    let resp = app
        .http
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("DELETE");
    answer(resp).await
}

/// The demo server with tokens: alice and bob with `scope`, and the App's app-only token.
pub struct Demo {
    pub app: TestApp,
    pub alice: String,
    pub bob: String,
    pub app_token: String,
}

impl Demo {
    pub async fn start(scope: &str) -> Demo {
        Demo::with_app(spawn_demo_app().await, scope).await
    }

    async fn with_app(app: TestApp, scope: &str) -> Demo {
        let alice = access(&app.tokens_for("alice", "alice-password", scope).await);
        let bob = access(&app.tokens_for("bob", "bob-password", scope).await);
        let app_token = app.app_token().await;
        Demo {
            app,
            alice,
            bob,
            app_token,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        get(&self.app, token, path).await
    }
}

pub fn access(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

// ---- X's bodies, written out from spec/x-api-v2.md §E ----

pub fn invalid_request(errors: Value) -> Value {
    json!({
        "errors": errors,
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"
    })
}

/// One entry of a 400's `errors`.
pub fn problem(parameter: &str, values: &[&str], message: &str) -> Value {
    json!({"parameters": {parameter: values}, "message": message})
}

/// The partial "Not Found Error" (§E.1).
pub fn not_found(resource_type: &str, parameter: &str, value: &str) -> Value {
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

/// The partial "Authorization Error" (OpenAPI `ResourceUnauthorizedProblem`).
pub fn not_authorized(resource_type: &str, parameter: &str, value: &str, section: &str) -> Value {
    let shown = if resource_type == "tweet" {
        "Tweet"
    } else {
        resource_type
    };
    json!({
        "value": value,
        "detail": format!("Sorry, you are not authorized to see the {shown} with {parameter}: [{value}]."),
        "title": "Authorization Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "section": section,
        "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"
    })
}

pub const UNSUPPORTED_AUTH: &str = "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].";

pub fn unsupported_authentication() -> Value {
    json!({
        "title": "Unsupported Authentication",
        "detail": UNSUPPORTED_AUTH,
        "type": "https://api.twitter.com/2/problems/unsupported-authentication",
        "status": 403
    })
}

/// Every member named `id`, `*_id` or `*_ids` anywhere in `v` (outside `errors`, whose
/// `resource_id` may be a username) is a decimal string or an array of them: X's SDKs reject
/// numbers (quirk 15).
pub fn assert_ids_are_strings(v: &Value) {
    fn walk(v: &Value, path: &str) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let here = format!("{path}.{k}");
                    if path == "$" && k == "errors" {
                        continue;
                    }
                    let is_id = k == "id" || k.ends_with("_id");
                    if is_id && !matches!(x, Value::Object(_)) {
                        assert!(
                            x.as_str().is_some_and(is_decimal),
                            "{here} is not a decimal string: {x}"
                        );
                    }
                    if k.ends_with("_ids") {
                        let items = x.as_array().unwrap_or_else(|| panic!("{here}: {x}"));
                        for i in items {
                            assert!(
                                i.as_str().is_some_and(is_decimal),
                                "{here} has a non-string id: {i}"
                            );
                        }
                    }
                    walk(x, &here);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }
    fn is_decimal(s: &str) -> bool {
        !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())
    }
    walk(v, "$");
}

/// An `includes` array sorted by id, after checking it holds no id twice.
pub fn by_id(v: &Value) -> Vec<Value> {
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    let mut map = BTreeMap::new();
    for i in items {
        let id = i["id"].as_str().expect("id").to_owned();
        assert!(
            map.insert(id.clone(), i.clone()).is_none(),
            "{id} twice in {v}"
        );
    }
    map.into_values().collect()
}

// ---- the demo data set as the oracle ----

pub fn demo() -> &'static Value {
    static DATA: OnceLock<Value> = OnceLock::new();
    DATA.get_or_init(|| serde_json::from_str(roost::demo::DATA).expect("demo.json"))
}

fn items(kind: &str) -> &'static [Value] {
    demo()[kind].as_array().expect("array")
}

pub fn demo_user(id: &str) -> &'static Value {
    items("users")
        .iter()
        .find(|u| u["id"] == id)
        .unwrap_or_else(|| panic!("no demo user {id}"))
}

pub fn demo_tweet(id: &str) -> &'static Value {
    items("tweets")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no demo tweet {id}"))
}

fn id_num(v: &Value) -> u64 {
    v["id"].as_str().and_then(|s| s.parse().ok()).expect("id")
}

/// A user's tweets in the demo data, newest first (ids are time-ordered snowflakes).
pub fn demo_timeline(user: &str) -> Vec<&'static Value> {
    let mut v: Vec<&Value> = items("tweets")
        .iter()
        .filter(|t| t["author_id"] == user)
        .collect();
    v.sort_by_key(|t| std::cmp::Reverse(id_num(t)));
    v
}

/// The first reference of `kind` (`replied_to`, `quoted`, `retweeted`) of a demo tweet.
pub fn demo_ref(t: &Value, kind: &str) -> Option<&'static str> {
    let id = t["id"].as_str()?;
    demo_tweet(id)["referenced_tweets"]
        .as_array()?
        .iter()
        .find(|r| r["type"] == kind)
        .and_then(|r| r["id"].as_str())
}

/// How many demo tweets reference `id` with `kind`.
pub fn demo_ref_count(id: &str, kind: &str) -> usize {
    items("tweets")
        .iter()
        .filter(|t| {
            t["referenced_tweets"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["type"] == kind && r["id"] == id))
        })
        .count()
}

/// Accepted followers and followings of a demo user.
pub fn demo_follow_counts(user: &str) -> (usize, usize) {
    let f = items("follows");
    let accepted = |x: &&Value| x["pending"] != true;
    (
        f.iter()
            .filter(|x| x["target_user_id"] == user)
            .filter(accepted)
            .count(),
        f.iter()
            .filter(|x| x["source_user_id"] == user)
            .filter(accepted)
            .count(),
    )
}

/// Moves the manual clock past the newest demo tweet, so tweets made now are the newest.
pub fn clock_after_demo(app: &TestApp) {
    let newest = items("tweets")
        .iter()
        .filter_map(|t| t["created_at"].as_str())
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .expect("created_at")
                .unix_timestamp()
                * 1000
        })
        .max()
        .expect("tweets");
    let now = app.state.now();
    if now <= newest {
        app.clock.advance_ms(newest - now + 60_000);
    }
}
