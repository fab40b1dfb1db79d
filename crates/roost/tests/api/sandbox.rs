//! Sandbox controls (issue 6): the manual clock moved through the state's API, seeded ids,
//! fault injection and the request inspector.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use roost::clock::ClockError;
use roost::config::{Config, EndpointLimit};
use roost::sandbox::faults::FaultRule;
use serde_json::{Value, json};

use crate::follows::{Reply, assert_problem, get, post_json, send, token};
use crate::helpers::*;

const READ: &str = "tweet.read users.read";
const WRITE: &str = "tweet.read tweet.write users.read";
const ME: &str = "/2/users/me";

fn rule(toml_text: &str) -> FaultRule {
    toml::from_str(toml_text).unwrap()
}

fn with_faults(rules: &'static [&'static str]) -> impl FnOnce(&mut Config) {
    move |c| c.sandbox.faults = rules.iter().map(|r| rule(r)).collect()
}

fn reset_of(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

fn rate_limit_headers(r: &Reply) -> (String, String, String) {
    let h = |n: &str| {
        r.header(n)
            .unwrap_or_else(|| panic!("{n} missing"))
            .to_owned()
    };
    (
        h("x-rate-limit-limit"),
        h("x-rate-limit-remaining"),
        h("x-rate-limit-reset"),
    )
}

// --- the clock -------------------------------------------------------------------------------

#[tokio::test]
async fn advancing_the_clock_past_the_access_token_lifetime_gives_401() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", READ).await;
    assert_eq!(get(&app, ME, &t).await.status, 200);
    app.state.advance_clock_ms(7199 * 1000).unwrap();
    assert_eq!(get(&app, ME, &t).await.status, 200, "not yet expired");
    app.state.advance_clock_ms(1000).unwrap();
    let r = get(&app, ME, &t).await;
    assert_eq!(r.status, 401, "{}", r.text);
}

#[tokio::test]
async fn setting_the_clock_past_the_window_restores_the_rate_limit_with_a_new_reset() {
    let app = spawn_demo_app_with(|c| {
        c.rate_limits
            .endpoints
            .insert("GET /2/users/me".into(), EndpointLimit::new(None, Some(2)));
    })
    .await;
    let t = token(&app, "alice", READ).await;
    let started = app.clock.now_ms();
    for _ in 0..2 {
        assert_eq!(get(&app, ME, &t).await.status, 200);
    }
    let r = get(&app, ME, &t).await;
    assert_eq!(r.status, 429);
    let window = 900 * 1000;
    assert_eq!(
        rate_limit_headers(&r),
        (
            "2".into(),
            "0".into(),
            reset_of(started + window).to_string()
        )
    );
    app.state.set_clock_ms(started + window).unwrap();
    let r = get(&app, ME, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        rate_limit_headers(&r),
        (
            "2".into(),
            "1".into(),
            reset_of(started + 2 * window).to_string()
        )
    );
}

#[tokio::test]
async fn codes_expire_once_the_clock_passes_30_seconds() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    app.state.advance_clock_ms(30_001).unwrap();
    let (status, body) = app.exchange(&code, &p.verifier).await;
    // X answers an expired code with `invalid_request` (strict mode: `invalid_grant`).
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(
        body["roost_detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    // The same flow within 30 s works: the clock, not something else, expired it.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    app.state.advance_clock_ms(29_000).unwrap();
    assert_eq!(app.exchange(&code, &p.verifier).await.0, 200);
}

#[tokio::test]
async fn the_clock_never_moves_back() {
    let app = spawn_app().await;
    let now = app.clock.now_ms();
    assert_eq!(
        app.state.set_clock_ms(now - 1),
        Err(ClockError::Backwards {
            now_ms: now,
            requested_ms: now - 1
        })
    );
    assert!(app.state.advance_clock_ms(-1).is_err());
    assert_eq!(app.clock.now_ms(), now);
    assert_eq!(app.state.set_clock_ms(now + 5000), Ok(now + 5000));
    assert_eq!(app.state.advance_clock_ms(1000), Ok(now + 6000));
}

// --- deterministic data ------------------------------------------------------------------------

/// Bodies of a fixed sequence of requests against a server seeded with `seed`, at a fixed time.
async fn seeded_run(seed: u64) -> Vec<String> {
    let app = spawn_demo_app_with(|c| c.sandbox.seed = Some(seed)).await;
    // Both runs start from the same instant (a day boundary ahead of the real clock).
    let day = 86_400_000;
    let t0 = (app.clock.now_ms() / day + 2) * day;
    app.state.set_clock_ms(t0).unwrap();
    let t = token(&app, "alice", WRITE).await;
    let mut bodies = Vec::new();
    for text in ["first", "second", "third"] {
        let r = post_json(&app, "/2/tweets", &t, &json!({"text": text})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        bodies.push(r.text);
        app.state.advance_clock_ms(1500).unwrap();
    }
    let alice = get(&app, ME, &t).await.json["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get(
        &app,
        &format!("/2/users/{alice}/tweets?tweet.fields=created_at,author_id"),
        &t,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    bodies.push(r.text);
    bodies
}

#[tokio::test]
async fn the_same_seed_and_clock_give_byte_identical_answers() {
    let a = seeded_run(42).await;
    let b = seeded_run(42).await;
    assert_eq!(a, b);
    let c = seeded_run(43).await;
    let id = |bodies: &[String]| {
        serde_json::from_str::<Value>(&bodies[0]).unwrap()["data"]["id"].clone()
    };
    assert_ne!(id(&a), id(&c), "another seed, other ids");
}

#[test]
fn seed_and_clock_settings_parse() {
    let c =
        Config::from_toml_str("[sandbox]\nclock = \"manual\"\nseed = 7\ninspector_requests = 5\n")
            .unwrap();
    assert_eq!(c.sandbox.clock, roost::sandbox::ClockMode::Manual);
    assert_eq!(c.sandbox.seed, Some(7));
    assert_eq!(c.sandbox.inspector_requests, 5);
    let d = Config::default().sandbox;
    assert_eq!(
        (d.clock, d.seed, d.faults.len()),
        (roost::sandbox::ClockMode::System, None, 0)
    );
    assert!(Config::from_toml_str("[sandbox]\nclock = \"fast\"\n").is_err());
}

// --- fault injection ---------------------------------------------------------------------------

#[tokio::test]
async fn a_rate_limit_fault_is_xs_429_with_a_spent_window() {
    let app = spawn_demo_app_with(with_faults(&[
        "path = \"/2/tweets*\"\nmethod = \"POST\"\nfault = \"rate_limit\"",
    ]))
    .await;
    let t = token(&app, "alice", WRITE).await;
    let r = post_json(&app, "/2/tweets", &t, &json!({"text": "hi"})).await;
    assert_problem(
        &r,
        429,
        &json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
        "fault",
    );
    assert_eq!(
        rate_limit_headers(&r),
        (
            "100".into(),
            "0".into(),
            reset_of(app.clock.now_ms() + 900_000).to_string()
        )
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Other methods and paths are untouched.
    assert_eq!(get(&app, ME, &t).await.status, 200);
}

#[tokio::test]
async fn unavailable_and_internal_error_faults_give_their_bodies() {
    let app = spawn_demo_app_with(with_faults(&[
        "path = \"/2/users/me\"\nfault = \"unavailable\"",
        "path = \"/2/users/*\"\nfault = \"internal_error\"",
    ]))
    .await;
    let t = token(&app, "alice", READ).await;
    let r = get(&app, ME, &t).await;
    assert_problem(
        &r,
        503,
        &json!({"title": "Service Unavailable", "type": "about:blank", "status": 503, "detail": "Service Unavailable"}),
        "503",
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = get(&app, "/2/users/by/username/bob", &t).await;
    assert_problem(
        &r,
        500,
        &json!({"title": "Internal Server Error", "type": "about:blank", "status": 500, "detail": "Internal Server Error"}),
        "500",
    );
}

#[tokio::test]
async fn a_delay_fault_holds_the_request_then_answers_normally() {
    let app = spawn_demo_app_with(with_faults(&[
        "path = \"/2/users/me\"\nfault = \"delay\"\ndelay_ms = 300",
    ]))
    .await;
    let t = token(&app, "alice", READ).await;
    let started = std::time::Instant::now();
    let r = get(&app, ME, &t).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("x-rate-limit-limit").is_some());
}

#[tokio::test]
async fn count_rules_are_spent_after_n_faults() {
    let app = spawn_demo_app_with(with_faults(&[
        "path = \"/2/users/me\"\nfault = \"unavailable\"\ncount = 2",
    ]))
    .await;
    let t = token(&app, "alice", READ).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(get(&app, ME, &t).await.status);
    }
    assert_eq!(got, [503, 503, 200, 200]);
    let listed = app.state.sandbox.faults.list();
    assert_eq!((listed[0].injected, listed[0].remaining), (2, Some(0)));
}

async fn seeded_faults(seed: u64) -> Vec<u16> {
    let app = spawn_demo_app().await;
    app.state.sandbox.faults.add(rule(&format!(
        "path = \"/2/users/me\"\nfault = \"unavailable\"\nprobability = 0.5\nseed = {seed}"
    )));
    let t = token(&app, "alice", READ).await;
    let mut got = Vec::new();
    for _ in 0..24 {
        got.push(get(&app, ME, &t).await.status);
    }
    got
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults_and_another_seed_others() {
    let a = seeded_faults(1).await;
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
    assert_eq!(a, seeded_faults(1).await);
    assert_ne!(a, seeded_faults(2).await);
}

#[tokio::test]
async fn rules_can_name_a_user_or_an_app() {
    let app = spawn_demo_app().await;
    app.state.sandbox.faults.add(rule(
        "path = \"/2/*\"\nusername = \"bob\"\nfault = \"internal_error\"",
    ));
    let alice = token(&app, "alice", READ).await;
    let bob = token(&app, "bob", READ).await;
    assert_eq!(get(&app, ME, &alice).await.status, 200);
    assert_eq!(get(&app, ME, &bob).await.status, 500);
    app.state.sandbox.faults.clear();
    app.state.sandbox.faults.add(rule(&format!(
        "path = \"/2/oauth2/token\"\nclient_id = \"{}\"\nfault = \"rate_limit\"",
        app.web.client_id
    )));
    // The web App authenticates with Basic: its refresh is refused the OAuth way.
    let (status, body, headers) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_requests"))
    );
    assert_eq!(headers.get("retry-after").unwrap(), "60");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(
        get(&app, ME, &bob).await.status,
        200,
        "other paths are untouched"
    );
}

#[tokio::test]
async fn rules_are_listed_and_cleared() {
    let app = spawn_demo_app_with(with_faults(&[
        "path = \"/2/users/me\"\nfault = \"unavailable\"",
    ]))
    .await;
    let added = app.state.sandbox.faults.add(rule(
        "path = \"/2/tweets*\"\nfault = \"delay\"\ndelay_ms = 5",
    ));
    let listed = serde_json::to_value(app.state.sandbox.faults.list()).unwrap();
    assert_eq!(
        listed,
        json!([
            {"id": 1, "path": "/2/users/me", "fault": "unavailable", "injected": 0},
            {"id": added.id, "path": "/2/tweets*", "fault": "delay", "delay_ms": 5, "injected": 0},
        ])
    );
    let t = token(&app, "alice", READ).await;
    assert_eq!(get(&app, ME, &t).await.status, 503);
    assert!(app.state.sandbox.faults.remove(1));
    assert_eq!(get(&app, ME, &t).await.status, 200);
    assert_eq!(app.state.sandbox.faults.clear(), 1);
    assert!(app.state.sandbox.faults.list().is_empty());
}

// --- the request inspector ---------------------------------------------------------------------

#[tokio::test]
async fn the_inspector_lists_an_apps_requests_without_secrets() {
    let app = spawn_demo_app_with(|c| c.sandbox.inspector_requests = 3).await;
    let t = token(&app, "alice", READ).await;
    assert_eq!(get(&app, ME, &t).await.status, 200);
    let r = send(
        &app,
        Method::POST,
        "/2/tweets",
        Some(&t),
        Some(("application/json", "{\"text\":\"x\"}")),
    )
    .await;
    assert_eq!(r.status, 403);
    let secret_query = format!("/2/users/me?user.fields=id&access_token={t}");
    // X refuses the unknown parameter; the inspector still must not keep its value.
    assert_eq!(get(&app, &secret_query, &t).await.status, 400);
    let app_id = roost_domain::Snowflake::parse(&app.web.app_id).unwrap();
    let records = app.state.sandbox.inspector.requests(app_id);
    let v = serde_json::to_value(&records).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v[0]["method"], "GET");
    assert_eq!(v[0]["path"], "/2/users/me");
    assert_eq!(v[0]["status"], 200);
    assert_eq!(v[0]["scopes"], READ);
    assert_eq!(v[0]["rate_limit_bucket"], "GET /2/users/me");
    assert!(v[0]["at_ms"].as_i64().unwrap() > 0);
    assert_eq!(v[1]["status"], 403);
    assert_eq!(v[1]["required_scopes"], "tweet.read tweet.write users.read");
    assert_eq!(
        v[2]["path"],
        "/2/users/me?user.fields=id&access_token=[redacted]"
    );
    assert!(!v.to_string().contains(&t), "no token recorded");
    // The ring keeps the last three.
    assert_eq!(get(&app, ME, &t).await.status, 200);
    let records = app.state.sandbox.inspector.requests(app_id);
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].status, 403);
    // Other Apps see none of these.
    let native = roost_domain::Snowflake::parse(&app.native.app_id).unwrap();
    assert!(app.state.sandbox.inspector.requests(native).is_empty());
}

#[tokio::test]
async fn injected_faults_show_in_the_inspector() {
    let app = spawn_demo_app_with(with_faults(&[
        "path = \"/2/users/me\"\nfault = \"unavailable\"",
    ]))
    .await;
    let t = token(&app, "alice", READ).await;
    assert_eq!(get(&app, ME, &t).await.status, 503);
    let app_id = roost_domain::Snowflake::parse(&app.web.app_id).unwrap();
    let records = app.state.sandbox.inspector.requests(app_id);
    let v = serde_json::to_value(records.last().unwrap()).unwrap();
    assert_eq!(v["path"], "/2/users/me");
    assert_eq!(v["status"], 503);
    assert_eq!(v["injected_fault"], true);
}

#[tokio::test]
async fn the_inspector_lists_token_requests_of_authenticated_clients() {
    let app = spawn_demo_app().await;
    let _ = token(&app, "alice", READ).await;
    let bearer = app.app_token().await;
    // A client that fails to authenticate is no App's.
    let (status, _, _) = app
        .token(
            &app.web.client_id,
            Some("wrong"),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 401);
    let app_id = roost_domain::Snowflake::parse(&app.web.app_id).unwrap();
    let v = serde_json::to_value(app.state.sandbox.inspector.requests(app_id)).unwrap();
    let seen: Vec<(String, String, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), "/2/oauth2/token".to_owned(), 200),
            ("POST".to_owned(), "/oauth2/token".to_owned(), 200),
        ]
    );
    assert_eq!(v[0]["rate_limit_bucket"], "oauth:client");
    assert!(!v.to_string().contains(&bearer));
}

// --- over the admin API --------------------------------------------------------------------------

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_clock_is_shown_and_moved_through_the_admin_api() {
    let app = spawn_demo_app().await;
    let admin_token = crate::admin::admin_token(&app).await;
    let t = token(&app, "alice", READ).await;
    let now = app.clock.now_ms();
    let (s, v) = admin(&app, Method::GET, "/admin/v1/clock", &admin_token, None).await;
    assert_eq!(
        (s, &v["mode"], v["now_ms"].as_i64()),
        (200, &json!("manual"), Some(now))
    );
    let (s, v) = admin(
        &app,
        Method::POST,
        "/admin/v1/clock",
        &admin_token,
        Some(json!({"advance_seconds": 7200})),
    )
    .await;
    assert_eq!(
        (s, v["now_ms"].as_i64()),
        (200, Some(now + 7_200_000)),
        "{v}"
    );
    assert_eq!(get(&app, ME, &t).await.status, 401, "the token has expired");
    let (s, v) = admin(
        &app,
        Method::POST,
        "/admin/v1/clock",
        &admin_token,
        Some(json!({"now": "2099-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(
        (s, v["now_ms"].as_i64()),
        (200, Some(4_070_908_800_000)),
        "{v}"
    );
    assert_eq!(v["now"], "2099-01-01T00:00:00Z");
    for (body, why) in [
        (json!({"now": now}), "backwards"),
        (json!({"now": "yesterday"}), "not a time"),
        (
            json!({"now": 4_070_908_900_000_i64, "advance_seconds": 1}),
            "both",
        ),
        (json!({}), "neither"),
        (json!({"advance_seconds": -5}), "negative"),
        (json!({"speed": 2}), "unknown field"),
    ] {
        let (s, v) = admin(
            &app,
            Method::POST,
            "/admin/v1/clock",
            &admin_token,
            Some(body),
        )
        .await;
        assert_eq!(
            (s, &v["error"]),
            (400, &json!("invalid_request")),
            "{why}: {v}"
        );
    }
    assert_eq!(
        app.clock.now_ms(),
        4_070_908_800_000,
        "refusals change nothing"
    );
    let (s, _) = admin(&app, Method::GET, "/admin/v1/clock", "nope", None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn a_system_clock_is_not_moved() {
    let app = spawn_app().await;
    // The harness's manual clock stands in; a server built on the system clock refuses.
    let state = roost::build_state(
        app.state.config.clone(),
        app.state.store.clone(),
        roost::clock::Clock::system(),
    )
    .await
    .unwrap();
    assert_eq!(state.advance_clock_ms(1000), Err(ClockError::NotManual));
    let body = roost::admin::sandbox::clock_body(&state);
    assert_eq!(body["mode"], "system");
}

#[tokio::test]
async fn fault_rules_are_added_listed_and_cleared_through_the_admin_api() {
    let app = spawn_demo_app().await;
    let admin_token = crate::admin::admin_token(&app).await;
    let t = token(&app, "alice", READ).await;
    let (s, v) = admin(
        &app,
        Method::POST,
        "/admin/v1/faults",
        &admin_token,
        Some(json!({"path": "/2/users/*", "fault": "unavailable", "count": 1})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v,
        json!({"id": 1, "path": "/2/users/*", "fault": "unavailable", "count": 1, "injected": 0, "remaining": 1})
    );
    let (s, v) = admin(
        &app,
        Method::POST,
        "/admin/v1/faults",
        &admin_token,
        Some(json!({"path": "*", "fault": "internal_error", "probability": 2})),
    )
    .await;
    assert_eq!((s, &v["error"]), (400, &json!("invalid_request")), "{v}");
    assert_eq!(get(&app, ME, &t).await.status, 503);
    assert_eq!(get(&app, ME, &t).await.status, 200);
    let (_, v) = admin(&app, Method::GET, "/admin/v1/faults", &admin_token, None).await;
    assert_eq!(v["faults"][0]["injected"], 1);
    assert_eq!(v["faults"][0]["remaining"], 0);
    // A rule over every path leaves the admin API alone, so that it can be cleared.
    let (s, _) = admin(
        &app,
        Method::POST,
        "/admin/v1/faults",
        &admin_token,
        Some(json!({"path": "*", "fault": "internal_error"})),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(get(&app, ME, &t).await.status, 500);
    let (s, v) = admin(
        &app,
        Method::DELETE,
        "/admin/v1/faults/2",
        &admin_token,
        None,
    )
    .await;
    assert_eq!((s, v), (200, json!({"removed": 1})));
    let (s, _) = admin(
        &app,
        Method::DELETE,
        "/admin/v1/faults/2",
        &admin_token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = admin(&app, Method::DELETE, "/admin/v1/faults", &admin_token, None).await;
    assert_eq!((s, v), (200, json!({"removed": 1})), "the spent count rule");
    assert_eq!(get(&app, ME, &t).await.status, 200);
    let (_, v) = admin(&app, Method::GET, "/admin/v1/faults", &admin_token, None).await;
    assert_eq!(v, json!({"faults": []}));
}

#[tokio::test]
async fn an_apps_requests_are_listed_through_the_admin_api() {
    let app = spawn_demo_app().await;
    let admin_token = crate::admin::admin_token(&app).await;
    let t = token(&app, "alice", READ).await;
    assert_eq!(get(&app, ME, &t).await.status, 200);
    let path = format!("/admin/v1/apps/{}/requests", app.web.client_id);
    let (s, v) = admin(&app, Method::GET, &path, &admin_token, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["client_id"], app.web.client_id.as_str());
    let last = v["requests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&last["path"], &last["status"]), (&json!(ME), &json!(200)));
    assert!(!v.to_string().contains(&t));
    assert!(
        !v.to_string()
            .contains(app.web.client_secret.as_deref().unwrap())
    );
    let (s, v) = admin(
        &app,
        Method::GET,
        "/admin/v1/apps/nope/requests",
        &admin_token,
        None,
    )
    .await;
    assert_eq!((s, &v["error"]), (404, &json!("not_found")));
}

#[tokio::test]
async fn a_rate_limit_fault_reports_the_app_only_pool_for_app_only_tokens() {
    let app = spawn_demo_app_with(|c| {
        c.sandbox.inspector_requests = 0;
        c.sandbox.faults = vec![rule("path = \"/2/users/*\"\nfault = \"rate_limit\"")];
    })
    .await;
    let bearer = app.app_token().await;
    let r = get(&app, "/2/users/by/username/alice", &bearer).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        rate_limit_headers(&r).0,
        "300",
        "the app-only number, not the user one (900)"
    );
    let t = token(&app, "alice", READ).await;
    let r = get(&app, "/2/users/by/username/alice", &t).await;
    assert_eq!(rate_limit_headers(&r).0, "900");
    let app_id = roost_domain::Snowflake::parse(&app.web.app_id).unwrap();
    assert!(
        app.state.sandbox.inspector.requests(app_id).is_empty(),
        "inspector off"
    );
}
