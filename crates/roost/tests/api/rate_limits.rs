//! The API gate: which tokens and scopes each endpoint takes (checklist F4, scopes.md §2), and
//! X's per-endpoint 15-minute rate-limit windows with their `x-rate-limit-*` headers
//! (x-api-v2.md §R, §E.6; client quirk 17).

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use roost::config::EndpointLimit;
use serde_json::{Value, json};

use crate::follows::{
    ALICE, BOB, Reply, XDEV, assert_problem, forbidden, get, send, token,
    unsupported_authentication,
};
use crate::helpers::*;

const READ: &str = "tweet.read users.read";
const ME: &str = "/2/users/me";

fn too_many_requests() -> Value {
    json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
}

/// The three headers of a rate-limited answer, as numbers.
fn limits(r: &Reply) -> (u64, u64, i64) {
    let n = |name: &str| {
        r.header(name)
            .unwrap_or_else(|| panic!("{name} missing ({}): {:?}", r.status, r.headers))
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("{name} is not an integer"))
    };
    (
        u64::try_from(n("x-rate-limit-limit")).unwrap(),
        u64::try_from(n("x-rate-limit-remaining")).unwrap(),
        n("x-rate-limit-reset"),
    )
}

fn no_limit_headers(r: &Reply) -> bool {
    !r.headers
        .keys()
        .any(|k| k.as_str().starts_with("x-rate-limit"))
}

fn now_secs(app: &TestApp) -> i64 {
    app.clock.now_ms() / 1000
}

fn window_ms(app: &TestApp) -> i64 {
    i64::try_from(app.state.config.rate_limits.window).unwrap() * 1000
}

fn small_limit(
    endpoint: &str,
    app: Option<u64>,
    user: Option<u64>,
) -> impl FnOnce(&mut roost::config::Config) {
    let endpoint = endpoint.to_owned();
    move |c| {
        c.rate_limits
            .endpoints
            .insert(endpoint, EndpointLimit::new(app, user));
    }
}

#[tokio::test]
async fn every_answer_carries_the_headers_except_401() {
    let app = spawn_demo_app_with(small_limit("GET /2/users/me", None, Some(4))).await;
    let full = token(&app, "alice", READ).await;
    // Another token of the same user and App draws on the same pool.
    let narrow = token(&app, "alice", "users.read").await;
    let t0 = now_secs(&app);

    let ok = get(&app, ME, &full).await;
    assert_eq!(ok.status, 200);
    let (limit, remaining, reset) = limits(&ok);
    assert_eq!((limit, remaining), (4, 3));
    // Epoch seconds, in the future, within one window.
    assert!(reset > t0 && reset <= t0 + 900 + 1, "{reset} vs {t0}");

    let bad = get(&app, &format!("{ME}?user.fields=colour"), &full).await;
    assert_eq!(bad.status, 400);
    assert_eq!(limits(&bad), (4, 2, reset));

    let scope = get(&app, ME, &narrow).await;
    assert_problem(&scope, 403, &forbidden("Forbidden"), "missing scope");
    assert_eq!(limits(&scope), (4, 1, reset));

    let last = get(&app, ME, &full).await;
    assert_eq!(limits(&last), (4, 0, reset));

    let over = get(&app, ME, &full).await;
    assert_problem(&over, 429, &too_many_requests(), "429");
    assert_eq!(limits(&over), (4, 0, reset));

    // 401s carry none (x-api-v2.md §E.3): no token, an unknown token.
    for t in [None, Some("not-a-token")] {
        let r = send(&app, Method::GET, ME, t, None).await;
        assert_eq!(r.status, 401);
        assert!(no_limit_headers(&r), "{:?}", r.headers);
    }

    // Other endpoints too: a 200, a 400 and a 403 on a list endpoint.
    let f = token(&app, "alice", "follows.read tweet.read users.read").await;
    let path = format!("/2/users/{ALICE}/followers");
    let a = get(&app, &path, &f).await;
    assert_eq!(limits(&a).0, 300);
    let b = get(&app, &format!("{path}?max_results=0"), &f).await;
    assert_eq!(b.status, 400);
    assert_eq!(limits(&b).1, limits(&a).1 - 1);
    let c = get(&app, &path, &full).await;
    assert_eq!(c.status, 403);
    assert_eq!(limits(&c).1, limits(&a).1 - 2);
}

#[tokio::test]
async fn remaining_counts_down_by_one_per_endpoint() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", READ).await;
    let path = format!("/2/users/{XDEV}");
    let first = limits(&get(&app, &path, &t).await);
    assert_eq!((first.0, first.1), (900, 899));
    for i in 2..=6u64 {
        let r = get(&app, &path, &t).await;
        assert_eq!(limits(&r), (900, 900 - i, first.2));
    }
    // Each endpoint has its own window.
    let r = get(&app, "/2/users/by/username/XDevelopers", &t).await;
    assert_eq!(limits(&r), (900, 899, first.2));
    let r = get(&app, ME, &t).await;
    assert_eq!((limits(&r).0, limits(&r).1), (75, 74));
}

#[tokio::test]
async fn the_request_over_the_limit_is_429_until_the_window_ends() {
    let app = spawn_demo_app_with(small_limit("GET /2/users/me", None, Some(3))).await;
    let t = token(&app, "alice", READ).await;
    let started = app.clock.now_ms();
    let mut reset = 0;
    for left in [2, 1, 0] {
        let r = get(&app, ME, &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (limit, remaining, rs) = limits(&r);
        assert_eq!((limit, remaining), (3, left));
        reset = rs;
    }
    assert_eq!(reset, reset_of(started + window_ms(&app)));
    for _ in 0..2 {
        let r = get(&app, ME, &t).await;
        assert_problem(&r, 429, &too_many_requests(), "4th");
        assert_eq!(limits(&r), (3, 0, reset));
        // tweepy sleeps until this moment: it must be ahead of the clock.
        assert!(reset > now_secs(&app));
    }
    // One millisecond before the window ends: still refused.
    app.clock
        .advance_ms(started + window_ms(&app) - 1 - app.clock.now_ms());
    assert_eq!(get(&app, ME, &t).await.status, 429);
    // At its end: a new window, with a new reset.
    app.clock.advance_ms(1);
    let r = get(&app, ME, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (limit, remaining, new_reset) = limits(&r);
    assert_eq!((limit, remaining), (3, 2));
    assert!(new_reset > reset, "{new_reset} > {reset}");
    assert!(new_reset > now_secs(&app));
}

#[tokio::test]
async fn pools_are_per_user_and_app_and_app_only_is_separate() {
    let app = spawn_demo_app_with(small_limit("GET /2/users/:id", Some(2), Some(2))).await;
    let alice = token(&app, "alice", READ).await;
    let bob = token(&app, "bob", READ).await;
    let web_app_only = app.app_token().await;
    let path = format!("/2/users/{XDEV}");
    for _ in 0..2 {
        assert_eq!(get(&app, &path, &alice).await.status, 200);
    }
    assert_eq!(get(&app, &path, &alice).await.status, 429);
    // bob's pool is his own.
    for left in [1, 0] {
        let r = get(&app, &path, &bob).await;
        assert_eq!(r.status, 200);
        assert_eq!(limits(&r).1, left);
    }
    assert_eq!(get(&app, &path, &bob).await.status, 429);
    // The App's app-only pool is separate from its users' pools (x-api-v2.md §0.5).
    for left in [1, 0] {
        let r = get(&app, &path, &web_app_only).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(limits(&r), (2, left, limits(&r).2));
    }
    assert_eq!(get(&app, &path, &web_app_only).await.status, 429);
    // Another App's app-only pool is its own too.
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&app.native.api_key, Some(&app.native.api_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let native_app_only = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get(&app, &path, &native_app_only).await.status, 200);
    // And other endpoints are untouched.
    assert_eq!(
        get(&app, "/2/users/by/username/bob", &alice).await.status,
        200
    );
}

#[tokio::test]
async fn app_only_and_user_limits_are_configured_apart() {
    let app = spawn_demo_app_with(small_limit("GET /2/tweets/:id", Some(1), Some(5))).await;
    let alice = token(&app, "alice", READ).await;
    let app_only = app.app_token().await;
    let path = "/2/tweets/1876941298072096770";
    let r = get(&app, path, &app_only).await;
    assert_eq!(limits(&r).0, 1);
    assert_eq!(get(&app, path, &app_only).await.status, 429);
    let r = get(&app, path, &alice).await;
    assert_eq!(r.status, 200);
    assert_eq!((limits(&r).0, limits(&r).1), (5, 4));
}

// Two worker threads: the server's connections are handled in parallel, not just interleaved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_is_exact_under_concurrency() {
    let app = spawn_demo_app_with(small_limit("GET /2/users/me", None, Some(20))).await;
    let t = token(&app, "alice", READ).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (http, url, t) = (app.http.clone(), app.url(ME), t.clone());
        set.spawn(async move {
            let r = http.get(url).bearer_auth(t).send().await.unwrap();
            let remaining: u64 = r.headers()["x-rate-limit-remaining"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            (r.status().as_u16(), remaining)
        });
    }
    let mut ok_remaining = Vec::new();
    let mut refused = 0;
    while let Some(res) = set.join_next().await {
        match res.unwrap() {
            (200, rem) => ok_remaining.push(rem),
            (429, 0) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    ok_remaining.sort_unstable();
    assert_eq!(
        ok_remaining,
        (0..20).collect::<Vec<u64>>(),
        "each count once"
    );
    assert_eq!(refused, 30);
}

#[tokio::test]
async fn disabled_limits_mean_no_limits_and_no_headers() {
    let app = spawn_demo_app_with(|c| {
        c.rate_limits.enabled = false;
        c.rate_limits
            .endpoints
            .insert("GET /2/users/me".into(), EndpointLimit::new(None, Some(1)));
    })
    .await;
    let t = token(&app, "alice", READ).await;
    for _ in 0..5 {
        let r = get(&app, ME, &t).await;
        assert_eq!(r.status, 200);
        assert!(no_limit_headers(&r), "{:?}", r.headers);
    }
    let r = get(&app, &format!("{ME}?user.fields=colour"), &t).await;
    assert_eq!(r.status, 400);
    assert!(no_limit_headers(&r));
}

#[tokio::test]
async fn window_length_is_configurable() {
    let app = spawn_demo_app_with(|c| {
        c.rate_limits.window = 60;
        c.rate_limits
            .endpoints
            .insert("GET /2/users/me".into(), EndpointLimit::new(None, Some(1)));
    })
    .await;
    let t = token(&app, "alice", READ).await;
    let start = app.clock.now_ms();
    let r = get(&app, ME, &t).await;
    assert_eq!(limits(&r).2, reset_of(start + 60_000));
    assert_eq!(get(&app, ME, &t).await.status, 429);
    app.clock.advance_ms(60_000);
    assert_eq!(get(&app, ME, &t).await.status, 200);
}

/// X's documented limits (x-api-v2.md §R, docs of 2026): (endpoint, per App, per user).
const XS_TABLE: &[(&str, Option<u64>, Option<u64>)] = &[
    ("GET /2/users/me", None, Some(75)),
    ("GET /2/users", Some(300), Some(900)),
    ("GET /2/users/:id", Some(300), Some(900)),
    ("GET /2/users/by", Some(300), Some(900)),
    ("GET /2/users/by/username/:username", Some(300), Some(900)),
    ("GET /2/tweets", Some(3500), Some(5000)),
    ("GET /2/tweets/:id", Some(450), Some(900)),
    // X's per-App figure for POST /2/tweets is 10,000 per 24 h for user-context posts; an
    // app-only token cannot post at all, so roost has no app pool there.
    ("POST /2/tweets", None, Some(100)),
    ("DELETE /2/tweets/:id", None, Some(50)),
    ("GET /2/users/:id/tweets", Some(10_000), Some(900)),
    ("GET /2/users/:id/following", Some(300), Some(300)),
    ("GET /2/users/:id/followers", Some(300), Some(300)),
    ("POST /2/users/:id/following", None, Some(50)),
    (
        "DELETE /2/users/:source_user_id/following/:target_user_id",
        None,
        Some(50),
    ),
    ("GET /2/spaces/:id", Some(300), Some(300)),
    ("GET /2/spaces", Some(300), Some(300)),
    ("GET /2/spaces/by/creator_ids", Some(300), Some(300)),
    ("GET /2/spaces/search", Some(300), Some(300)),
    ("GET /2/users/:id/following/spaces", Some(300), Some(300)),
];

#[tokio::test]
async fn default_limits_are_xs() {
    let table: BTreeSet<(&str, Option<u64>, Option<u64>)> = roost::config::DEFAULT_LIMITS
        .iter()
        .map(|(k, l)| (*k, l.app, l.user))
        .collect();
    assert_eq!(table, XS_TABLE.iter().copied().collect());
    // The secondary windows of x-api-v2.md §R: 10,000 posts per App per 24 hours, and 1/s on
    // the Spaces of creators; no other endpoint has one.
    let secondary: BTreeSet<(&str, Option<u64>, Option<u64>)> = roost::config::DEFAULT_LIMITS
        .iter()
        .filter(|(_, l)| l.app_24h.is_some() || l.per_second.is_some())
        .map(|(k, l)| (*k, l.app_24h, l.per_second))
        .collect();
    assert_eq!(
        secondary,
        BTreeSet::from([
            ("POST /2/tweets", Some(10_000), None),
            ("GET /2/spaces/by/creator_ids", None, Some(1)),
        ])
    );
    assert_eq!(roost::config::RateLimitConfig::default().window, 900);

    // And what a client sees, for every GET endpoint, user and app-only.
    let app = spawn_demo_app().await;
    let user = token(
        &app,
        "alice",
        "tweet.read users.read follows.read space.read",
    )
    .await;
    let app_only = app.app_token().await;
    let gets = [
        ("GET /2/users/me", ME.to_owned()),
        ("GET /2/users", format!("/2/users?ids={BOB}")),
        ("GET /2/users/:id", format!("/2/users/{BOB}")),
        ("GET /2/users/by", "/2/users/by?usernames=bob".to_owned()),
        (
            "GET /2/users/by/username/:username",
            "/2/users/by/username/bob".to_owned(),
        ),
        (
            "GET /2/tweets",
            "/2/tweets?ids=1876941298072096770".to_owned(),
        ),
        (
            "GET /2/tweets/:id",
            "/2/tweets/1876941298072096770".to_owned(),
        ),
        ("GET /2/users/:id/tweets", format!("/2/users/{BOB}/tweets")),
        (
            "GET /2/users/:id/following",
            format!("/2/users/{BOB}/following"),
        ),
        (
            "GET /2/users/:id/followers",
            format!("/2/users/{BOB}/followers"),
        ),
        ("GET /2/spaces/:id", "/2/spaces/1BaH3OP1jPDs2".to_owned()),
        ("GET /2/spaces", "/2/spaces?ids=1BaH3OP1jPDs2".to_owned()),
        (
            "GET /2/spaces/by/creator_ids",
            format!("/2/spaces/by/creator_ids?user_ids={XDEV}"),
        ),
        (
            "GET /2/spaces/search",
            "/2/spaces/search?query=rust".to_owned(),
        ),
        (
            "GET /2/users/:id/following/spaces",
            format!("/2/users/{BOB}/following/spaces"),
        ),
    ];
    let by_key: HashMap<&str, (Option<u64>, Option<u64>)> =
        XS_TABLE.iter().map(|(k, a, u)| (*k, (*a, *u))).collect();
    for (key, path) in gets {
        let (app_n, user_n) = by_key[key];
        let r = get(&app, &path, &user).await;
        assert_eq!(r.status, 200, "{key}: {}", r.text);
        assert_eq!(limits(&r).0, user_n.unwrap(), "{key} user");
        assert_eq!(limits(&r).1, user_n.unwrap() - 1, "{key} user");
        let r = get(&app, &path, &app_only).await;
        match app_n {
            Some(n) => {
                assert_eq!(r.status, 200, "{key}: {}", r.text);
                assert_eq!(limits(&r).0, n, "{key} app");
            }
            None => {
                // Every answer after authentication carries the headers (quirk 17): an App on a
                // user-context endpoint is counted per App against the endpoint's one number.
                assert_problem(&r, 403, &unsupported_authentication(), key);
                assert_eq!(limits(&r).0, user_n.unwrap(), "{key} app-only 403");
                assert_eq!(limits(&r).1, user_n.unwrap() - 1, "{key} app-only 403");
            }
        }
    }

    // The writes, with a user token (app-only tokens cannot call them).
    let w = token(
        &app,
        "alice",
        "tweet.read tweet.write users.read follows.write",
    )
    .await;
    let posted = send(
        &app,
        Method::POST,
        "/2/tweets",
        Some(&w),
        Some(("application/json", r#"{"text":"counted"}"#)),
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.text);
    assert_eq!((limits(&posted).0, limits(&posted).1), (100, 99));
    let id = posted.json["data"]["id"].as_str().unwrap();
    let r = send(
        &app,
        Method::DELETE,
        &format!("/2/tweets/{id}"),
        Some(&w),
        None,
    )
    .await;
    assert_eq!((limits(&r).0, limits(&r).1), (50, 49));
    let r = send(
        &app,
        Method::POST,
        &format!("/2/users/{ALICE}/following"),
        Some(&w),
        Some((
            "application/json",
            r#"{"target_user_id":"1612377570541387776"}"#,
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((limits(&r).0, limits(&r).1), (50, 49));
    let r = send(
        &app,
        Method::DELETE,
        &format!("/2/users/{ALICE}/following/1612377570541387776"),
        Some(&w),
        None,
    )
    .await;
    assert_eq!((limits(&r).0, limits(&r).1), (50, 49));
}

// ---- scopes and token kinds, endpoint by endpoint ----

struct Endpoint {
    method: Method,
    path: String,
    body: Option<Value>,
    /// scopes.md §2: every one is required.
    scopes: &'static [&'static str],
    /// scopes.md §2 "App-only Bearer".
    app_only: bool,
    /// The status the request gets with exactly `scopes`.
    ok: u16,
}

fn ep(
    method: Method,
    path: impl Into<String>,
    scopes: &'static [&'static str],
    app_only: bool,
) -> Endpoint {
    Endpoint {
        method,
        path: path.into(),
        body: None,
        scopes,
        app_only,
        ok: 200,
    }
}

async fn call(app: &TestApp, e: &Endpoint, token: Option<&str>) -> Reply {
    // One call a second: `GET /2/spaces/by/creator_ids` allows no more (x-api-v2.md §R).
    app.clock.advance_ms(1000);
    let body = e.body.as_ref().map(Value::to_string);
    let body = body.as_deref().map(|b| ("application/json", b));
    send(app, e.method.clone(), &e.path, token, body).await
}

/// alice's token for exactly `scopes`, made once per set.
async fn cached_token(
    app: &TestApp,
    tokens: &mut HashMap<String, String>,
    scopes: &[&str],
) -> String {
    let key = scopes.join(" ");
    if let Some(t) = tokens.get(&key) {
        return t.clone();
    }
    let t = token(app, "alice", &key).await;
    tokens.insert(key, t.clone());
    t
}

/// `x-rate-limit-reset` for a window ending at `ms`: epoch seconds, rounded up.
fn reset_of(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// The `scope` attribute of a `WWW-Authenticate` value, as a set.
fn challenge_scopes(www: &str) -> BTreeSet<String> {
    let start = www.find("scope=\"").expect("scope attribute") + "scope=\"".len();
    let end = www[start..].find('"').expect("closing quote") + start;
    www[start..end].split(' ').map(str::to_owned).collect()
}

#[tokio::test]
async fn sec_f04_every_endpoint_requires_exactly_its_scopes() {
    let app = spawn_demo_app().await;
    const R: &[&str] = &["tweet.read", "users.read"];
    const TW: &[&str] = &["tweet.read", "tweet.write", "users.read"];
    const FR: &[&str] = &["follows.read", "tweet.read", "users.read"];
    const FW: &[&str] = &["follows.write", "tweet.read", "users.read"];
    const SR: &[&str] = &["space.read", "tweet.read", "users.read"];
    // A tweet of alice's to delete in the success pass.
    let writer = token(&app, "alice", &TW.join(" ")).await;
    let created = send(
        &app,
        Method::POST,
        "/2/tweets",
        Some(&writer),
        Some(("application/json", r#"{"text":"to be deleted"}"#)),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let doomed = created.json["data"]["id"].as_str().unwrap().to_owned();

    let tweet = "1876941298072096770";
    let mut post_tweet = ep(Method::POST, "/2/tweets", TW, false);
    post_tweet.body = Some(json!({"text": "hello from the scope table"}));
    post_tweet.ok = 201;
    let mut follow = ep(
        Method::POST,
        format!("/2/users/{ALICE}/following"),
        FW,
        false,
    );
    follow.body = Some(json!({"target_user_id": "1612377570541387776"}));
    let table = vec![
        ep(Method::GET, "/2/users/me", R, false),
        ep(Method::GET, format!("/2/users?ids={ALICE},{BOB}"), R, true),
        ep(Method::GET, format!("/2/users/{BOB}"), R, true),
        ep(Method::GET, "/2/users/by?usernames=alice,bob", R, true),
        ep(Method::GET, "/2/users/by/username/XDevelopers", R, true),
        ep(Method::GET, format!("/2/tweets?ids={tweet}"), R, true),
        ep(Method::GET, format!("/2/tweets/{tweet}"), R, true),
        post_tweet,
        ep(Method::DELETE, format!("/2/tweets/{doomed}"), TW, false),
        ep(Method::GET, format!("/2/users/{ALICE}/tweets"), R, true),
        ep(Method::GET, format!("/2/users/{ALICE}/following"), FR, true),
        ep(Method::GET, format!("/2/users/{ALICE}/followers"), FR, true),
        follow,
        ep(
            Method::DELETE,
            format!("/2/users/{ALICE}/following/{XDEV}"),
            FW,
            false,
        ),
        ep(Method::GET, "/2/spaces/1BaH3OP1jPDs2", SR, true),
        ep(Method::GET, "/2/spaces?ids=1BaH3OP1jPDs2", SR, true),
        ep(
            Method::GET,
            format!("/2/spaces/by/creator_ids?user_ids={XDEV}"),
            SR,
            true,
        ),
        ep(Method::GET, "/2/spaces/search?query=rust", SR, true),
        // Undocumented for app-only (scopes.md §2); roost serves it like the other Spaces lists.
        ep(
            Method::GET,
            format!("/2/users/{ALICE}/following/spaces"),
            SR,
            true,
        ),
    ];

    // One token per scope set, through the real browser flow.
    let mut tokens: HashMap<String, String> = HashMap::new();
    let app_only = app.app_token().await;

    // Refusals first: none of them may change any content (tokens are made along the way).
    let content = async || {
        let mut rows = app.row_counts().await;
        rows.retain(|k, _| ["follows", "tweets", "users", "spaces"].contains(&k.as_str()));
        rows
    };
    let rows = content().await;
    for e in &table {
        let what = format!("{} {}", e.method, e.path);
        for missing in e.scopes {
            let fewer: Vec<&str> = e.scopes.iter().copied().filter(|s| s != missing).collect();
            let t = cached_token(&app, &mut tokens, &fewer).await;
            let r = call(&app, e, Some(&t)).await;
            assert_problem(
                &r,
                403,
                &forbidden("Forbidden"),
                &format!("{what} without {missing}"),
            );
            let www = r.header("www-authenticate").unwrap_or_default();
            assert!(
                www.starts_with("Bearer realm=\"roost\", error=\"insufficient_scope\", scope=\""),
                "{what}: {www}"
            );
            assert_eq!(
                challenge_scopes(www),
                e.scopes.iter().map(|s| (*s).to_owned()).collect(),
                "{what}: {www}"
            );
        }
        if !e.app_only {
            let r = call(&app, e, Some(&app_only)).await;
            assert_problem(&r, 403, &unsupported_authentication(), &what);
        }
        let r = call(&app, e, None).await;
        assert_problem(
            &r,
            401,
            &json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
            &what,
        );
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"roost\""));
    }
    assert_eq!(content().await, rows, "refusals changed nothing");

    // Then the successes: exactly the required scopes, and app-only where X allows it.
    for e in &table {
        let what = format!("{} {}", e.method, e.path);
        let t = cached_token(&app, &mut tokens, e.scopes).await;
        let r = call(&app, e, Some(&t)).await;
        assert_eq!(r.status, e.ok, "{what}: {}", r.text);
        assert!(r.json.get("data").is_some(), "{what}: {}", r.text);
        if e.app_only {
            let r = call(&app, e, Some(&app_only)).await;
            assert_eq!(r.status, 200, "{what} app-only: {}", r.text);
        }
    }
}

// ---- secondary windows and token kinds without a pool ----

/// The three `x-app-limit-24hour-*` headers X sends with its per-App post cap, as numbers.
fn day_limits(r: &Reply) -> (u64, u64, i64) {
    let n = |name: &str| {
        r.header(name)
            .unwrap_or_else(|| panic!("{name} missing ({}): {:?}", r.status, r.headers))
            .parse::<i64>()
            .unwrap()
    };
    (
        u64::try_from(n("x-app-limit-24hour-limit")).unwrap(),
        u64::try_from(n("x-app-limit-24hour-remaining")).unwrap(),
        n("x-app-limit-24hour-reset"),
    )
}

async fn post(app: &TestApp, t: &str, text: &str) -> Reply {
    send(
        app,
        Method::POST,
        "/2/tweets",
        Some(t),
        Some(("application/json", &json!({ "text": text }).to_string())),
    )
    .await
}

/// x-api-v2.md §R: `POST /2/tweets` is 100 per 15 minutes per user and 10,000 per 24 hours per
/// App, all its users together. X reports the App's day in `x-app-limit-24hour-*` (the headers
/// client code reads for the post cap); a spent day is a 429 whose `x-rate-limit-*` still show
/// the user's quarter hour, untouched by the refused post.
#[tokio::test]
async fn posts_are_capped_per_app_per_day_across_its_users() {
    let app = spawn_demo_app_with(|c| {
        c.rate_limits.endpoints.insert(
            "POST /2/tweets".into(),
            EndpointLimit {
                app_24h: Some(3),
                ..EndpointLimit::new(None, Some(100))
            },
        );
    })
    .await;
    let scopes = "tweet.read tweet.write users.read";
    let alice = token(&app, "alice", scopes).await;
    let bob = token(&app, "bob", scopes).await;
    let start = app.clock.now_ms();
    let r = post(&app, &alice, "one").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(day_limits(&r), (3, 2, reset_of(start + 86_400_000)));
    assert_eq!((limits(&r).0, limits(&r).1), (100, 99));
    app.clock.advance_ms(60_000);
    let r = post(&app, &bob, "two").await;
    assert_eq!(day_limits(&r).1, 1, "bob draws on the same App day");
    assert_eq!(
        (limits(&r).0, limits(&r).1),
        (100, 99),
        "his own quarter hour"
    );
    // A refused post counts too (as every answer after authentication does).
    let r = post(&app, &alice, "one").await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(day_limits(&r).1, 0);
    let r = post(&app, &bob, "three").await;
    assert_problem(&r, 429, &too_many_requests(), "spent day");
    assert_eq!(day_limits(&r), (3, 0, reset_of(start + 86_400_000)));
    assert_eq!(
        (limits(&r).0, limits(&r).1),
        (100, 99),
        "the refused post used none of bob's quarter hour"
    );
    // The day is counted from its first post: 24 hours later it starts over.
    app.clock.advance_ms(86_400_000 - 60_000);
    let bob = token(&app, "bob", scopes).await;
    let r = post(&app, &bob, "three").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(day_limits(&r).1, 2);
    // Other endpoints have no day window.
    let r = get(&app, ME, &bob).await;
    assert!(r.header("x-app-limit-24hour-limit").is_none());
}

/// x-api-v2.md §R: `GET /2/spaces/by/creator_ids` allows 300 per 15 minutes and 1 per second
/// in each pool. The second request within a second is a 429 whose `x-rate-limit-*` describe
/// the second (so a client sleeping until the reset waits a second, not a quarter hour).
#[tokio::test]
async fn spaces_by_creator_allow_one_request_a_second_per_pool() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", "space.read tweet.read users.read").await;
    let app_only = app.app_token().await;
    let path = format!("/2/spaces/by/creator_ids?user_ids={XDEV}");
    let start = app.clock.now_ms();
    let r = get(&app, &path, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(limits(&r), (300, 299, reset_of(start + 900_000)));
    let r = get(&app, &path, &t).await;
    assert_problem(&r, 429, &too_many_requests(), "second request in a second");
    assert_eq!(limits(&r), (1, 0, reset_of(start + 1000)));
    // The App's pool is its own.
    let r = get(&app, &path, &app_only).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.clock.advance_ms(999);
    assert_eq!(get(&app, &path, &t).await.status, 429);
    app.clock.advance_ms(1);
    let r = get(&app, &path, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        limits(&r).1,
        298,
        "the refused requests used none of the quarter hour"
    );
}

/// Every answer after authentication carries the headers (quirk 17), refusals of the kind of
/// token included: an app-only token on a user-context endpoint is counted per App against the
/// endpoint's one number, and it does not draw on the App's day of posts.
#[tokio::test]
async fn app_only_refusals_on_user_context_endpoints_carry_the_headers() {
    let app = spawn_demo_app().await;
    let app_only = app.app_token().await;
    let start = app.clock.now_ms();
    for (i, e) in [
        (Method::GET, ME.to_owned(), 75),
        (Method::POST, "/2/tweets".to_owned(), 100),
        (
            Method::DELETE,
            "/2/tweets/1876941298072096770".to_owned(),
            50,
        ),
        (Method::POST, format!("/2/users/{ALICE}/following"), 50),
        (
            Method::DELETE,
            format!("/2/users/{ALICE}/following/{BOB}"),
            50,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (method, path, n) = e;
        let body = (method == Method::POST).then_some(("application/json", r#"{"text":"x"}"#));
        let r = send(&app, method.clone(), &path, Some(&app_only), body).await;
        assert_problem(&r, 403, &unsupported_authentication(), &path);
        assert_eq!(
            limits(&r),
            (n, n - 1, reset_of(start + 900_000)),
            "{i}: {path}"
        );
        assert!(r.header("x-app-limit-24hour-limit").is_none(), "{path}");
    }
}

/// "Leaving `app` out refuses app-only tokens" (README, configuration): a kind of token an
/// endpoint's entry leaves out is refused with X's unsupported-authentication 403, for user
/// tokens with the User Context wording.
#[tokio::test]
async fn a_kind_of_token_left_out_of_an_endpoint_is_refused() {
    let app = spawn_demo_app_with(|c| {
        c.rate_limits
            .endpoints
            .insert("GET /2/users/:id".into(), EndpointLimit::new(None, Some(9)));
        c.rate_limits.endpoints.insert(
            "GET /2/tweets/:id".into(),
            EndpointLimit::new(Some(7), None),
        );
    })
    .await;
    let alice = token(&app, "alice", READ).await;
    let app_only = app.app_token().await;
    let r = get(&app, &format!("/2/users/{BOB}"), &app_only).await;
    assert_problem(&r, 403, &unsupported_authentication(), "app-only left out");
    assert_eq!((limits(&r).0, limits(&r).1), (9, 8));
    assert_eq!(
        get(&app, &format!("/2/users/{BOB}"), &alice).await.status,
        200
    );
    let tweet = "/2/tweets/1876941298072096770";
    let r = get(&app, tweet, &alice).await;
    assert_problem(
        &r,
        403,
        &json!({
            "title": "Unsupported Authentication",
            "detail": "Authenticating with OAuth 2.0 User Context is forbidden for this endpoint.  Supported authentication types are [OAuth 2.0 Application-Only].",
            "type": "https://api.twitter.com/2/problems/unsupported-authentication",
            "status": 403
        }),
        "user tokens left out",
    );
    assert_eq!((limits(&r).0, limits(&r).1), (7, 6));
    assert_eq!(get(&app, tweet, &app_only).await.status, 200);
}
