//! Checklist G7: the server's own keys are 256-bit random values created on first start, kept
//! in the store, and shared by every process on one database, so that browser state signed by
//! one server (CSRF tokens, pending authorization requests) and app-only Bearer Tokens it minted
//! are accepted by another. That they never reach the log is checked in tests/logs.rs.

use std::collections::BTreeMap;

use roost::clock::Clock;
use roost::config::Config;

use crate::helpers::*;
use crate::storage::db::{Cell, dump_url, snapshot};

/// name → key bytes, as stored.
fn stored_keys(dump: &crate::storage::db::Dump) -> BTreeMap<String, Vec<u8>> {
    dump.table("server_keys")
        .iter()
        .map(|row| match (&row["name"], &row["value"]) {
            (Cell::Text(n), Cell::Blob(v)) => (n.clone(), v.clone()),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn sec_g07_keys_are_random_256_bit_values_made_on_first_start_and_kept() {
    let db = ScratchDb::new().await;
    let mut config = Config::default();
    config.server.database_url = db.url.clone();
    let store = roost::open_store(&config).await.unwrap();
    assert!(
        stored_keys(&dump_url(&db.url).await).is_empty(),
        "migrations make no keys"
    );

    let first = roost::build_state(config.clone(), store.clone(), Clock::manual(0))
        .await
        .unwrap();
    let keys = stored_keys(&dump_url(&db.url).await);
    assert_eq!(
        keys.keys().map(String::as_str).collect::<Vec<_>>(),
        ["app_bearer", "refresh_rotation", "web"]
    );
    for (name, key) in &keys {
        assert_eq!(key.len(), 32, "{name}: 256 bits");
        assert!(key.iter().any(|b| *b != 0), "{name} is not all zeros");
    }
    let distinct: std::collections::HashSet<_> = keys.values().collect();
    assert_eq!(distinct.len(), keys.len(), "one key per purpose");
    assert!(
        !format!("{:?}", first.keys).contains(&format!("{}", keys["web"][0])),
        "Debug shows no key byte"
    );

    // A restart, and a second process on the same database, keep the keys made first.
    drop(first);
    for _ in 0..2 {
        let store = roost::open_store(&config).await.unwrap();
        roost::build_state(config.clone(), store, Clock::manual(0))
            .await
            .unwrap();
        assert_eq!(stored_keys(&dump_url(&db.url).await), keys);
    }
    // Another database gets keys of its own.
    let other_db = ScratchDb::new().await;
    let mut other = config.clone();
    other.server.database_url = other_db.url.clone();
    let other_store = roost::open_store(&other).await.unwrap();
    roost::build_state(other, other_store, Clock::manual(0))
        .await
        .unwrap();
    let other_keys = stored_keys(&dump_url(&other_db.url).await);
    for (name, key) in &keys {
        assert_ne!(&other_keys[name], key, "{name}");
    }
}

#[tokio::test]
async fn sec_g07_two_servers_on_one_database_accept_each_others_browser_state_and_tokens() {
    let app = spawn_app().await;
    let (peer, _peer_state) = spawn_peer(&app).await;
    assert_ne!(peer, app.base);
    assert_eq!(
        stored_keys(&snapshot(&app).await).len(),
        3,
        "the second server made no keys of its own"
    );
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);

    // The login page from the first server, its CSRF token and signed request posted to the
    // second (the browser cookie is the same: cookies are not per port).
    let page = app.get_page(&b, &app.authorize_url(&p)).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let request = hidden(&page.body, "request").unwrap();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("request", request.as_str()),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    // First, a server on another database: it has keys of its own, and refuses them.
    let elsewhere = spawn_app().await;
    let resp = elsewhere.post_form(&b, &fields).await;
    assert_eq!(resp.status(), 403, "another store's CSRF token");
    let login = b
        .post(format!("{peer}/i/oauth2/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&fields))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "{}", login.text().await.unwrap());
    // The consent page from the second, decided on the first.
    let consent = app.get_page(&b, &location(&login)).await;
    assert!(location(&login).starts_with(&peer));
    assert!(
        consent.body.contains("name=\"decision\""),
        "{}",
        consent.body
    );
    let resp = app.decide(&b, &consent, "allow").await;
    assert_eq!(resp.status(), 303);
    let code = location_query(&resp)["code"].clone();
    let (s, tokens) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{tokens}");

    // An app-only Bearer Token minted by one server works on the other, both ways.
    let minted_here = app.app_token().await;
    let resp = app
        .http
        .post(format!("{peer}/oauth2/token"))
        .basic_auth(&app.web.api_key, Some(&app.web.api_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let minted_there: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        minted_there["access_token"], minted_here,
        "one key, one token"
    );
    for base in [&app.base, &peer] {
        let status = app
            .http
            .get(format!("{base}/2/users/by/username/alice"))
            .bearer_auth(&minted_here)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{base}");
    }
}
