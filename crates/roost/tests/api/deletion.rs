//! Deleting an App or a user (checklist G10): everything they were issued stops working at once
//! on this server, within a poll (and at worst the token cache's lifetime) on another server of
//! the same database, and nothing of theirs is left in the store.

use std::collections::BTreeMap;

use roost::accounts;
use roost::state::AppState;
use roost_domain::Username;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::storage::db::{Cell, snapshot};

const SCOPES: &str = "tweet.read tweet.write users.read follows.read follows.write offline.access";

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// GET `path` with a bearer token: status and body.
async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let resp = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A lookup any token may make (user and app-only alike): its status.
async fn lookup(app: &TestApp, token: &str) -> u16 {
    get(app, token, "/2/users/by/username/bob").await.0
}

async fn post_json(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Tokens of the public (native) App for alice.
async fn native_tokens(app: &TestApp) -> Value {
    let p = AuthParams::new(&app.native.client_id, SCOPES);
    let code = app.code_for(&p).await;
    let (s, body, _) = app
        .token(
            &app.native.client_id,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(s, 200, "{body}");
    body
}

/// An app-context token of the web App from `client_credentials`.
async fn client_credentials(app: &TestApp) -> (u16, Value) {
    let (s, body, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    (s, body)
}

async fn app_only_status(app: &TestApp) -> (u16, Value) {
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&app.web.api_key, Some(&app.web.api_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn user_id(state: &AppState, username: &str) -> String {
    state
        .store
        .user_by_username(&Username::parse(username).unwrap())
        .await
        .unwrap()
        .expect("user exists")
        .id
        .to_string()
}

/// Rows of every table (in the dump) with a cell in one of `columns` equal to `id`.
fn rows_naming(dump: &crate::storage::db::Dump, columns: &[&str], id: &str) -> Vec<String> {
    let id: i64 = id.parse().unwrap();
    let mut out = Vec::new();
    for (table, rows) in &dump.0 {
        for row in rows {
            for c in columns {
                if row.get(*c) == Some(&Cell::Int(id)) {
                    out.push(format!("{table}.{c}"));
                }
            }
        }
    }
    out
}

/// What the deletion report says went, checked against the row counts before and after.
fn assert_report_matches(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
    removed: &BTreeMap<&'static str, u64>,
    parent: &str,
) {
    for (table, n) in removed {
        assert_eq!(
            before[*table] - after[*table],
            i64::try_from(*n).unwrap(),
            "{table}: {before:?} -> {after:?}, report {removed:?}"
        );
    }
    assert_eq!(before[parent] - after[parent], 1, "one {parent} row");
}

#[tokio::test]
async fn sec_g10_deleting_an_app_revokes_everything_it_was_issued() {
    let app = spawn_app().await;
    let user = app.tokens(SCOPES).await;
    let access = text(&user["access_token"]);
    let refresh = text(&user["refresh_token"]);
    let app_only = app.app_token().await;
    let (s, cc) = client_credentials(&app).await;
    assert_eq!(s, 200, "{cc}");
    let cc = text(&cc["access_token"]);
    let unredeemed = AuthParams::new(&app.web.client_id, SCOPES);
    let code = app.code_for(&unredeemed).await;
    // Another App's tokens for the same user must survive.
    let native = native_tokens(&app).await;
    // Every token works, and is now in this server's token cache.
    for t in [&access, &app_only, &cc, &text(&native["access_token"])] {
        assert_eq!(lookup(&app, t).await, 200);
    }
    let before = app.row_counts().await;

    let (record, deleted) = accounts::delete_app(&app.state, &app.web.client_id)
        .await
        .unwrap();
    assert_eq!(record.client_id.as_str(), app.web.client_id);
    assert_eq!(deleted.id.to_string(), app.web.app_id);
    let after = app.row_counts().await;
    assert_report_matches(&before, &after, &deleted.removed, "apps");
    assert_eq!(deleted.removed["grants"], 1);
    assert_eq!(
        deleted.removed["access_tokens"], 2,
        "the user's and the app-context token"
    );
    assert_eq!(deleted.removed["refresh_tokens"], 1);
    assert_eq!(
        deleted.removed["authorization_codes"], 2,
        "the used and the unredeemed code"
    );

    // At once, with no clock moved: every former token is refused on the API...
    for t in [&access, &app_only, &cc] {
        let (s, body) = get(&app, t, "/2/users/by/username/bob").await;
        assert_eq!(s, 401, "{body}");
    }
    assert_eq!(app.me(&access).await, 401);
    // ...the refresh token is refused, with the App's credentials and with another App's...
    let (s, body) = app.refresh(&refresh).await;
    assert_eq!(s, 401, "the App's credentials are gone: {body}");
    assert_eq!(body["error"], "unauthorized_client");
    let (s, body, _) = app
        .token(
            &app.native.client_id,
            None,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(s, 400, "{body}");
    // ...and so are the unredeemed code and every credential of the App.
    let (s, body) = app.exchange(&code, &unredeemed.verifier).await;
    assert_eq!(s, 401, "{body}");
    let (s, body) = client_credentials(&app).await;
    assert_eq!(s, 401, "{body}");
    let (s, body) = app_only_status(&app).await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body["errors"][0]["code"], 99);
    let page = app
        .get_page(
            &app.http,
            &app.authorize_url(&AuthParams::new(&app.web.client_id, SCOPES)),
        )
        .await;
    assert_eq!(page.status, 400, "an unknown client_id: {}", page.body);
    assert!(page.headers.get("location").is_none());

    // Nothing in the store names the App any more.
    let dump = snapshot(&app).await;
    assert_eq!(
        rows_naming(&dump, &["app_id", "id"], &app.web.app_id),
        Vec::<String>::new()
    );
    // The other App is untouched: its tokens work and its refresh token rotates.
    assert_eq!(app.me(&text(&native["access_token"])).await, 200);
    let (s, body, _) = app
        .token(
            &app.native.client_id,
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &text(&native["refresh_token"])),
            ],
        )
        .await;
    assert_eq!(s, 200, "{body}");

    // A second deletion, or of a client_id that never was, is an error and changes nothing.
    let counts = app.row_counts().await;
    for client_id in [app.web.client_id.as_str(), "no-such-client", ""] {
        let err = accounts::delete_app(&app.state, client_id)
            .await
            .unwrap_err();
        assert!(
            matches!(err, accounts::AccountError::UnknownApp(_)),
            "{client_id}: {err}"
        );
    }
    assert_eq!(app.row_counts().await, counts);
}

#[tokio::test]
async fn sec_g10_deleting_a_user_ends_their_tokens_session_and_content() {
    let app = spawn_app().await;
    let alice_id = user_id(&app.state, "alice").await;
    let bob_id = user_id(&app.state, "bob").await;
    // alice signs in with a browser that keeps its session, and authorizes the web App.
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, SCOPES);
    let consent = app.login(&b, &p, "alice").await;
    let resp = app.decide(&b, &consent, "allow").await;
    let code = location_query(&resp)["code"].clone();
    let (s, alice) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{alice}");
    let alice_access = text(&alice["access_token"]);
    let native = native_tokens(&app).await;
    let bob = app.tokens_for("bob", PASSWORD, SCOPES).await;
    let bob_access = text(&bob["access_token"]);

    // Content: a tweet of alice's, and follows both ways.
    let (s, posted) = post_json(
        &app,
        &alice_access,
        "/2/tweets",
        &json!({"text": "hello from alice"}),
    )
    .await;
    assert_eq!(s, 201, "{posted}");
    let tweet_id = text(&posted["data"]["id"]);
    let (s, body) = post_json(
        &app,
        &alice_access,
        &format!("/2/users/{alice_id}/following"),
        &json!({"target_user_id": bob_id}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post_json(
        &app,
        &bob_access,
        &format!("/2/users/{bob_id}/following"),
        &json!({"target_user_id": alice_id}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = get(&app, &bob_access, &format!("/2/tweets/{tweet_id}")).await;
    assert_eq!((s, &body["data"]["id"]), (200, &json!(tweet_id)), "{body}");
    for t in [&alice_access, &text(&native["access_token"])] {
        assert_eq!(app.me(t).await, 200);
    }
    let before = app.row_counts().await;

    let (record, deleted) = accounts::delete_user(&app.state, "ALICE").await.unwrap();
    assert_eq!(
        record.username.as_str(),
        "alice",
        "usernames are case-insensitive"
    );
    assert_eq!(deleted.id.to_string(), alice_id);
    let after = app.row_counts().await;
    assert_report_matches(&before, &after, &deleted.removed, "users");
    for (table, n) in [
        ("sessions", 2),
        ("authorization_codes", 2),
        ("grants", 2),
        ("access_tokens", 2),
        ("refresh_tokens", 2),
        ("tweets", 1),
        ("follows", 2),
    ] {
        assert_eq!(deleted.removed[table], n, "{table}: {:?}", deleted.removed);
    }

    // At once: her tokens, of both Apps, are refused on the API and cannot be refreshed.
    for t in [&alice_access, &text(&native["access_token"])] {
        assert_eq!(app.me(t).await, 401);
        assert_eq!(lookup(&app, t).await, 401);
    }
    let (s, body) = app.refresh(&text(&alice["refresh_token"])).await;
    assert_eq!(s, 400, "{body}");
    // Her browser session is gone: the authorize page asks to sign in again.
    let page = app
        .get_page(
            &b,
            &app.authorize_url(&AuthParams::new(&app.web.client_id, SCOPES)),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("name=\"password\""),
        "login, not consent: {}",
        page.body
    );
    assert!(!page.body.contains("name=\"decision\""));
    // Her tweet, her profile and her follows are gone from every lookup.
    let (s, body) = get(&app, &bob_access, &format!("/2/tweets/{tweet_id}")).await;
    assert_eq!(s, 200);
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(body["errors"][0]["title"], "Not Found Error", "{body}");
    let (s, body) = get(&app, &bob_access, "/2/users/by/username/alice").await;
    assert_eq!(s, 200);
    assert!(body.get("data").is_none(), "{body}");
    let (_, body) = get(&app, &bob_access, &format!("/2/users/{alice_id}/tweets")).await;
    assert!(body.get("data").is_none(), "{body}");
    for which in ["following", "followers"] {
        let (s, body) = get(&app, &bob_access, &format!("/2/users/{bob_id}/{which}")).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["meta"]["result_count"], 0, "{which}: {body}");
    }
    let (_, body) = get(
        &app,
        &bob_access,
        &format!("/2/users/{bob_id}?user.fields=public_metrics"),
    )
    .await;
    assert_eq!(
        body["data"]["public_metrics"]["followers_count"], 0,
        "{body}"
    );
    assert_eq!(
        body["data"]["public_metrics"]["following_count"], 0,
        "{body}"
    );
    // Nothing in the store names her; bob is untouched.
    let dump = snapshot(&app).await;
    let columns = [
        "id",
        "user_id",
        "author_id",
        "source_user_id",
        "target_user_id",
        "creator_id",
    ];
    assert_eq!(
        rows_naming(&dump, &columns, &alice_id),
        Vec::<String>::new()
    );
    assert_eq!(app.me(&bob_access).await, 200);
    // She can no longer sign in; a new user may take the name.
    let err = accounts::delete_user(&app.state, "alice")
        .await
        .unwrap_err();
    assert!(
        matches!(err, accounts::AccountError::UnknownUser(_)),
        "{err}"
    );
    create_user(&app.state, "alice", "Another Alice").await;
    assert_ne!(user_id(&app.state, "alice").await, alice_id);
}

#[tokio::test]
async fn sec_g10_deleted_user_leaves_no_trace_in_other_users_spaces() {
    let app = spawn_app().await;
    let alice = user_id(&app.state, "alice").await;
    let bob = user_id(&app.state, "bob").await;
    app.import_json(
        &json!({
            "spaces": [{"id": "1OwxWwzzzzzzz", "state": "live", "creator_id": bob,
                        "host_ids": [bob, alice], "speaker_ids": [alice], "invited_user_ids": [alice, bob],
                        "title": "bob's", "created_at": "2026-01-01T00:00:00.000Z",
                        "started_at": "2026-01-01T00:00:00.000Z"},
                       {"id": "1AliceSpace00", "state": "scheduled", "creator_id": alice,
                        "host_ids": [alice], "title": "alice's", "created_at": "2026-01-01T00:00:00.000Z",
                        "scheduled_start": "2030-01-01T00:00:00.000Z"}]
        })
        .to_string(),
    )
    .await;
    let bob_tokens = app
        .tokens_for("bob", PASSWORD, "tweet.read users.read space.read")
        .await;
    let bob_access = text(&bob_tokens["access_token"]);

    accounts::delete_user(&app.state, "alice").await.unwrap();

    let (s, body) = get(
        &app,
        &bob_access,
        "/2/spaces?ids=1OwxWwzzzzzzz,1AliceSpace00&space.fields=host_ids,speaker_ids,invited_user_ids,creator_id",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let data = body["data"].as_array().expect("bob's Space is still there");
    assert_eq!(data.len(), 1, "alice's own Space went with her: {body}");
    assert_eq!(data[0]["host_ids"], json!([bob]), "{body}");
    assert!(
        data[0].get("speaker_ids").is_none_or(|v| v == &json!([])),
        "{body}"
    );
    assert_eq!(data[0]["invited_user_ids"], json!([bob]), "{body}");
    let dump = snapshot(&app).await;
    for row in dump.table("spaces") {
        for col in ["host_ids", "speaker_ids", "invited_user_ids"] {
            let Cell::Text(ids) = &row[col] else {
                panic!("{col}: {:?}", row[col])
            };
            assert!(!ids.split(',').any(|id| id == alice), "{col} = {ids}");
        }
    }
}

#[tokio::test]
async fn sec_g10_deletion_by_another_process_reaches_a_running_server() {
    let app = spawn_app().await;
    let alice = app.tokens(SCOPES).await;
    let alice_access = text(&alice["access_token"]);
    let (s, posted) = post_json(
        &app,
        &alice_access,
        "/2/tweets",
        &json!({"text": "soon gone"}),
    )
    .await;
    assert_eq!(s, 201, "{posted}");
    let tweet_id = text(&posted["data"]["id"]);
    let bob = app.tokens_for("bob", PASSWORD, SCOPES).await;
    let bob_web = text(&bob["access_token"]);
    let app_only = app.app_token().await;
    // bob with the native App too.
    let p = AuthParams::new(&app.native.client_id, SCOPES);
    let b = browser();
    let consent = app.login(&b, &p, "bob").await;
    let resp = app.decide(&b, &consent, "allow").await;
    let code = location_query(&resp)["code"].clone();
    let (s, bob_native, _) = app
        .token(
            &app.native.client_id,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(s, 200, "{bob_native}");
    let bob_native = text(&bob_native["access_token"]);
    for t in [&alice_access, &bob_web, &app_only, &bob_native] {
        assert_eq!(lookup(&app, t).await, 200, "cached now");
    }
    let (_, other) = spawn_peer(&app).await;

    // A user deleted elsewhere: the next content poll drops her tokens and her content.
    accounts::delete_user(&other, "alice").await.unwrap();
    assert!(roost::content::world::sync(&app.state).await.unwrap());
    assert_eq!(app.me(&alice_access).await, 401);
    let (_, body) = get(&app, &bob_web, &format!("/2/tweets/{tweet_id}")).await;
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(app.me(&bob_web).await, 200, "other users' tokens stay");

    // An App deleted elsewhere, with no poll: its tokens are refused once a cached answer has
    // outlived token_cache_ttl.
    accounts::delete_app(&other, &app.native.client_id)
        .await
        .unwrap();
    app.clock
        .advance_ms(i64::try_from(app.state.config.oauth.token_cache_ttl).unwrap() * 1000);
    assert_eq!(app.me(&bob_native).await, 401);
    assert_eq!(app.me(&bob_web).await, 200);

    // And with the poll, at once: the web App's app-only token and bob's token go.
    accounts::delete_app(&other, &app.web.client_id)
        .await
        .unwrap();
    assert!(roost::content::world::sync(&app.state).await.unwrap());
    assert_eq!(lookup(&app, &app_only).await, 401);
    assert_eq!(app.me(&bob_web).await, 401);
    // Nothing changed since: the next poll reloads nothing.
    assert!(!roost::content::world::sync(&app.state).await.unwrap());
}
