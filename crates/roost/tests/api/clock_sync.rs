//! One clock across nodes (checklist J7): system clocks follow the database's, and the
//! sandbox's manual clock moves for every manual-clock node on the store.

use std::time::{Duration, Instant};

use reqwest::Method;
use roost::clock::{Clock, sync_once};
use serde_json::{Value, json};

use crate::helpers::{ALL_SCOPES, AuthParams, spawn_app, spawn_app_with, spawn_peer_with_clock};

/// A node's raw clock error in these tests: four times the 5 s the checklist allows.
const SKEW_MS: i64 = 20_000;

#[tokio::test]
async fn sec_j07_code_lifetime_holds_between_nodes_with_skewed_clocks() {
    // A short lifetime keeps the real-time wait short; skewed system clocks cannot be moved.
    let mut app = spawn_app_with(|c| c.oauth.authorization_code_ttl = 2).await;
    let store = app.state.store.clone();
    let (true_clock, fast, slow) = (
        Clock::system(),
        Clock::skewed_system(SKEW_MS),
        Clock::skewed_system(-SKEW_MS),
    );
    for c in [&true_clock, &fast, &slow] {
        sync_once(c, store.as_ref()).await.unwrap();
    }
    // On PostgreSQL the database's clock is its server's; on SQLite it is the machine's, which
    // every process on the file shares: either way the skewed nodes are corrected to it.
    let db = store.database_time_ms().await.unwrap();
    for (name, c) in [("true", &true_clock), ("fast", &fast), ("slow", &slow)] {
        assert!(
            (c.now_ms() - db).abs() < 1_000,
            "{name}: {} vs the database's {db}",
            c.now_ms()
        );
    }
    assert!(
        (fast.offset_ms() + SKEW_MS).abs() < 1_000,
        "{}",
        fast.offset_ms()
    );
    assert!(
        (slow.offset_ms() - SKEW_MS).abs() < 1_000,
        "{}",
        slow.offset_ms()
    );
    let (issuer, _) = spawn_peer_with_clock(&app, true_clock).await;
    let (fast_node, _) = spawn_peer_with_clock(&app, fast).await;
    let (slow_node, _) = spawn_peer_with_clock(&app, slow).await;

    // Issued on one node, redeemed at once on a node whose own clock is 20 s ahead: uncorrected,
    // it would see the code as expired for 18 s already.
    app.base = issuer.clone();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    app.base = fast_node;
    let (status, body) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 200, "within the lifetime: {body}");

    // Redeemed after the lifetime on a node whose own clock is 20 s behind: uncorrected, it
    // would still have 18 s to go.
    app.base = issuer;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    app.base = slow_node;
    let (status, body) = app.exchange(&code, &p.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "past the lifetime: {body}"
    );
    assert!(
        body["roost_detail"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "{body}"
    );
}

async fn admin_clock(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    let mut req = http
        .request(method, format!("{base}/admin/v1/clock"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sec_j07_manual_clock_moved_on_one_node_moves_every_manual_node_within_1s() {
    let mut app = spawn_app().await;
    let store = app.state.store.clone();
    let admin_token = crate::admin::admin_token(&app).await;
    // Two manual-clock nodes with clocks of their own, kept in step only through the store.
    let start = roost::clock::wall_ms();
    let (ca, cb) = (Clock::manual(start), Clock::manual(start));
    let sync_a = roost::clock::spawn_sync(ca.clone(), store.clone());
    let sync_b = roost::clock::spawn_sync(cb.clone(), store.clone());
    let (a, _) = spawn_peer_with_clock(&app, ca.clone()).await;
    let (b, _) = spawn_peer_with_clock(&app, cb.clone()).await;

    // A token issued on A, valid on B.
    app.base = a.clone();
    let token = app.tokens(ALL_SCOPES).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.base = b.clone();
    assert_eq!(app.me(&token).await, 200);

    // Moved past the token's two hours on A: B refuses it within a second.
    let (s, v) = admin_clock(
        &app.http,
        &a,
        &admin_token,
        Some(json!({"advance_seconds": 7201})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let moved_to = v["now_ms"].as_i64().unwrap();
    assert!(moved_to >= start + 7_201_000, "{v}");
    let asked = Instant::now();
    loop {
        if app.me(&token).await == 401 {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "B still accepts the token 1 s after A's clock passed its expiry"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cb.now_ms() >= moved_to);
    let (s, v) = admin_clock(&app.http, &b, &admin_token, None).await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("manual")), "{v}");
    assert!(v["now_ms"].as_i64().unwrap() >= moved_to, "{v}");

    // Never backwards, from either node: B refuses a time before A's move and changes nothing.
    let (s, v) = admin_clock(
        &app.http,
        &b,
        &admin_token,
        Some(json!({"now": moved_to - 1})),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    assert_eq!(store.manual_clock().await.unwrap(), Some(moved_to));

    // Two nodes advancing at once both count: the move is one statement in the store.
    let (ra, rb) = tokio::join!(
        admin_clock(
            &app.http,
            &a,
            &admin_token,
            Some(json!({"advance_seconds": 10}))
        ),
        admin_clock(
            &app.http,
            &b,
            &admin_token,
            Some(json!({"advance_seconds": 10}))
        ),
    );
    assert_eq!((ra.0, rb.0), (200, 200), "{} {}", ra.1, rb.1);
    assert_eq!(store.manual_clock().await.unwrap(), Some(moved_to + 20_000));
    let asked = Instant::now();
    while ca.now_ms() != moved_to + 20_000 || cb.now_ms() != moved_to + 20_000 {
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "nodes did not level"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sync_a.abort();
    sync_b.abort();
}

#[tokio::test]
async fn sec_j07_a_manual_node_started_later_joins_the_shared_time_and_moves_no_one_back() {
    let app = spawn_app().await;
    let store = app.state.store.clone();
    let early = Clock::manual(roost::clock::wall_ms());
    sync_once(&early, store.as_ref()).await.unwrap();
    let moved = roost::clock::move_shared(
        &early,
        store.as_ref(),
        roost::clock::ClockMove::By(86_400_000),
    )
    .await
    .unwrap();
    // A node whose own manual clock starts at the real time joins a day ahead.
    let late = Clock::manual(roost::clock::wall_ms());
    sync_once(&late, store.as_ref()).await.unwrap();
    assert_eq!(late.now_ms(), moved);
    // A node ahead of the shared time (moved while the store was away) moves the others up.
    let ahead = Clock::manual(moved + 5_000);
    sync_once(&ahead, store.as_ref()).await.unwrap();
    assert_eq!(ahead.now_ms(), moved + 5_000);
    sync_once(&early, store.as_ref()).await.unwrap();
    assert_eq!(early.now_ms(), moved + 5_000);
    // Past the year 9999 is refused and changes nothing.
    let err = roost::clock::move_shared(
        &early,
        store.as_ref(),
        roost::clock::ClockMove::By(i64::MAX / 2),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("9999"), "{err}");
    assert_eq!(store.manual_clock().await.unwrap(), Some(moved + 5_000));
}
