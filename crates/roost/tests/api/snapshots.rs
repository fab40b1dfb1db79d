//! Export, snapshots and reset (issue 6, "state you can reset and snapshot"): the export is an
//! import file that round-trips byte for byte, and a reset puts back exactly the world and the
//! authorization state a snapshot saw, on this server at once and on another process's server
//! within its content poll.

use std::time::{Duration, Instant};

use roost::accounts::Hasher;
use roost::snapshots::{self, SnapshotError};
use roost_domain::{ClientType, SnapshotName};
use serde_json::{Value, json};

use crate::helpers::{
    ALL_SCOPES, CALLBACK, TestApp, create_app, form, spawn_app, spawn_app_with, spawn_demo_app,
};

const WRITE_SCOPES: &str =
    "tweet.read tweet.write users.read follows.read follows.write offline.access";

fn name(s: &str) -> SnapshotName {
    SnapshotName::parse(s).expect("snapshot name")
}

async fn export(app: &TestApp) -> String {
    roost::content::export::export(app.state.store.as_ref())
        .await
        .expect("export")
        .0
}

fn user_id(app: &TestApp, username: &str) -> String {
    app.state
        .world
        .read()
        .user_by_username(username)
        .expect("user")
        .id
        .to_string()
}

async fn post_tweet(app: &TestApp, token: &str, text: &str) -> u16 {
    app.http
        .post(app.url("/2/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("post")
        .status()
        .as_u16()
}

async fn revoke(app: &TestApp, token: &str) {
    let resp = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), 200);
}

fn access(t: &Value) -> String {
    t["access_token"].as_str().expect("access_token").to_owned()
}

/// A fresh, empty, migrated store of its own (of the run's kind), with nothing in it.
async fn empty_store() -> (
    crate::helpers::ScratchDb,
    std::sync::Arc<dyn roost_store::Store>,
) {
    let db = crate::helpers::ScratchDb::new().await;
    let store = roost_store::open(&db.url).await.expect("open");
    store.migrate().await.expect("migrate");
    (db, store)
}

#[tokio::test]
async fn export_imported_into_an_empty_store_exports_the_same_bytes() {
    let app = spawn_demo_app().await;
    // Every kind of authorization state: a user grant with refresh, a revoked one, an
    // app-context token.
    let live = app.tokens_for("alice", "alice-password", ALL_SCOPES).await;
    let gone = app
        .tokens_for("bob", "bob-password", "tweet.read users.read")
        .await;
    revoke(&app, &access(&gone)).await;
    let (status, app_ctx, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{app_ctx}");
    // The developer portal's fields: an owned Project, an App with X's type, a description, a
    // website and secret hints.
    let bob = roost::accounts::find_user(&app.state, "bob")
        .await
        .expect("bob");
    let project = roost::developer::create_project(&app.state, "Bob's", Some(&bob))
        .await
        .expect("project");
    roost::developer::create_app_in(
        &app.state,
        &project,
        roost::developer::NewAppInput {
            name: "Bob's SPA",
            description: "A single page\nApp",
            website_url: "https://bob.example/app",
            kind: roost_domain::AppKind::SinglePage,
            callbacks: &[CALLBACK.to_owned()],
        },
    )
    .await
    .expect("app");
    roost::developer::set_admin(&app.state, "bob", true)
        .await
        .expect("admin");
    let first = export(&app).await;
    for field in [
        "\"admin\": true",
        "\"owner_id\"",
        "\"single_page\"",
        "\"https://bob.example/app\"",
        "\"api_secret_hint\"",
    ] {
        assert!(first.contains(field), "the export has {field}");
    }

    // Deterministic: the same store exports the same bytes twice.
    assert_eq!(export(&app).await, first);
    let doc: Value = serde_json::from_str(&first).expect("json");
    let keys: Vec<&str> = doc
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, roost::content::import::KEYS);
    assert_eq!(doc["users"].as_array().map(Vec::len), Some(36));
    assert_eq!(doc["apps"].as_array().map(Vec::len), Some(3));
    assert_eq!(doc["grants"].as_array().map(Vec::len), Some(2));
    let alice = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .expect("alice");
    assert!(
        alice["password_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("$argon2id$"))
    );
    // Digests only: no token, secret or password in the clear.
    for secret in [
        access(&live),
        live["refresh_token"].as_str().expect("refresh").to_owned(),
        access(&app_ctx),
        app.web.client_secret.clone().expect("secret"),
        app.web.api_secret.clone(),
        "alice-password".to_owned(),
    ] {
        assert!(
            !first.contains(&secret),
            "the export holds a secret in the clear"
        );
    }

    let (_dir, other) = empty_store().await;
    let hasher = Hasher::new(1, Duration::from_secs(5));
    let batch = roost::content::import::parse(
        &first,
        &other.load_content().await.expect("content"),
        &other.load_auth().await.expect("auth"),
        &hasher,
        0,
    )
    .await
    .expect("an export is a valid import file");
    let report = other.import(batch).await.expect("import");
    assert_eq!((report.users, report.apps, report.grants), (36, 3, 2));
    let second = roost::content::export::export(other.as_ref())
        .await
        .expect("export")
        .0;
    assert!(first == second, "the round trip changed the export");
}

#[tokio::test]
async fn reset_to_a_snapshot_restores_the_export_and_exactly_its_tokens() {
    let app = spawn_app().await;
    let before_revoked = app.tokens(WRITE_SCOPES).await;
    let kept = app.tokens(WRITE_SCOPES).await;
    let saved = snapshots::save(&app.state, &name("baseline"))
        .await
        .expect("save");
    assert!(!saved.replaced);
    let at_snapshot = export(&app).await;

    // Changes: a tweet, a follow, a revoked token, a new App, a token minted after.
    assert_eq!(
        post_tweet(&app, &access(&kept), "after the snapshot").await,
        201
    );
    let alice = user_id(&app, "alice");
    let bob = user_id(&app, "bob");
    let follow = app
        .http
        .post(app.url(&format!("/2/users/{alice}/following")))
        .bearer_auth(access(&kept))
        .json(&json!({ "target_user_id": bob }))
        .send()
        .await
        .expect("follow");
    assert_eq!(follow.status(), 200);
    revoke(&app, &access(&before_revoked)).await;
    assert_eq!(app.me(&access(&before_revoked)).await, 401);
    let late_app = create_app(&app.state, "Late", ClientType::Public, &[CALLBACK]).await;
    let minted_after = app.tokens(WRITE_SCOPES).await;
    assert_eq!(app.me(&access(&minted_after)).await, 200);
    // Spend some of the rate-limit window of /2/users/me (75 per user per 15 minutes).
    let remaining = |r: &reqwest::Response| -> i64 {
        r.headers()["x-rate-limit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let me = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(access(&kept))
        .send()
        .await
        .unwrap();
    assert!(remaining(&me) < 74);
    assert_ne!(export(&app).await, at_snapshot);

    let done = snapshots::reset(&app.state, Some(&name("baseline")))
        .await
        .expect("reset");
    assert_eq!(done.to.as_deref(), Some("baseline"));
    assert_eq!(export(&app).await, at_snapshot);
    // Tokens valid at the snapshot work again, the revoked one included, with the rate-limit
    // window started afresh; later ones do not.
    let me = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(access(&before_revoked))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(remaining(&me), 74);
    assert_eq!(app.me(&access(&kept)).await, 200);
    assert_eq!(app.me(&access(&minted_after)).await, 401);
    let (status, _) = app
        .refresh(minted_after["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 400);
    let (status, body) = app.refresh(kept["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    // The App created after is gone.
    assert!(
        app.state
            .store
            .app_by_client_id(&late_app.client_id)
            .await
            .unwrap()
            .is_none()
    );
    // The world in memory is the snapshot's: the tweet posted after it is gone.
    assert_eq!(app.state.world.read().tweets.len(), 0);
    // Passwords came back with the users: alice signs in again.
    let again = app.tokens("tweet.read users.read").await;
    assert_eq!(app.me(&access(&again)).await, 200);
}

#[tokio::test]
async fn reset_to_empty_keeps_server_keys_admin_tokens_and_snapshots() {
    let app = spawn_app().await;
    let token = app.tokens(ALL_SCOPES).await;
    snapshots::save(&app.state, &name("kept"))
        .await
        .expect("save");
    let admin = roost::admin::create_token(&app.state, "ci")
        .await
        .expect("admin token");
    let keys_before = app.row_counts().await["server_keys"];
    let done = snapshots::reset(&app.state, None).await.expect("reset");
    assert_eq!(done.to, None);
    let counts = app.row_counts().await;
    for (table, n) in &counts {
        match table.as_str() {
            "server_keys" => assert_eq!(*n, keys_before),
            "snapshots" | "admin_tokens" => assert_eq!(*n, 1, "{table}"),
            _ => assert_eq!(*n, 0, "{table} after a reset to empty"),
        }
    }
    assert_eq!(app.me(&access(&token)).await, 401);
    assert!(app.state.world.read().users.is_empty());
    // The admin stays able to act.
    let resp = app
        .http
        .get(app.url("/admin/v1/apps"))
        .bearer_auth(admin.token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // And back.
    snapshots::reset(&app.state, Some(&name("kept")))
        .await
        .expect("reset");
    assert_eq!(app.me(&access(&token)).await, 200);
}

#[tokio::test]
async fn unknown_snapshot_is_a_clear_error_and_changes_nothing() {
    let app = spawn_app().await;
    let before = export(&app).await;
    let err = snapshots::reset(&app.state, Some(&name("nope")))
        .await
        .unwrap_err();
    assert!(matches!(err, SnapshotError::Unknown(_)));
    assert_eq!(err.to_string(), "no snapshot is called `nope`");
    let err = snapshots::delete(&app.state, &name("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "no snapshot is called `nope`");
    assert_eq!(export(&app).await, before);
}

#[tokio::test]
async fn saving_under_a_taken_name_replaces_and_list_shows_each_once() {
    let app = spawn_app().await;
    snapshots::save(&app.state, &name("b")).await.unwrap();
    snapshots::save(&app.state, &name("a")).await.unwrap();
    let again = snapshots::save(&app.state, &name("b")).await.unwrap();
    assert!(again.replaced);
    let list = snapshots::list(&app.state).await.unwrap();
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(list.iter().all(|s| s.bytes > 100));
    snapshots::delete(&app.state, &name("a")).await.unwrap();
    assert_eq!(snapshots::list(&app.state).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_demo_sized_reset_takes_well_under_a_second() {
    let app = spawn_demo_app().await;
    app.tokens_for("alice", "alice-password", ALL_SCOPES).await;
    snapshots::save(&app.state, &name("demo")).await.unwrap();
    let started = Instant::now();
    let done = snapshots::reset(&app.state, Some(&name("demo")))
        .await
        .unwrap();
    let total = started.elapsed();
    println!(
        "reset of the demo store ({} users, {} tweets): {} ms in the store, {} ms with the reload",
        done.restored.users,
        done.restored.tweets,
        done.took_ms,
        total.as_millis()
    );
    assert_eq!(done.restored.tweets, 409);
    // Generous: a shared CI machine in a debug build.
    assert!(total < Duration::from_secs(2), "{total:?}");
}

/// A reset made by another process on the same database (the CLI, another node): this server
/// reloads within its content poll and drops its cached tokens, although the token's App and
/// user still exist. Without the reset count, the cached token would be honoured until
/// `token_cache_ttl` passed on the (here manual, never moving) clock.
#[tokio::test]
async fn a_reset_elsewhere_is_seen_within_the_poll_interval() {
    let app = spawn_app_with(|c| c.content.poll_interval_ms = 50).await;
    let poller = roost::content::world::spawn_poller(app.state.clone());
    snapshots::save(&app.state, &name("base")).await.unwrap();
    let late = app.tokens(ALL_SCOPES).await;
    assert_eq!(app.me(&access(&late)).await, 200);

    let (_url, peer) = crate::helpers::spawn_peer(&app).await;
    snapshots::reset(&peer, Some(&name("base"))).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while app.me(&access(&late)).await != 401 {
        assert!(Instant::now() < deadline, "the server never saw the reset");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    poller.abort();
}

// ---------------------------------------------------------------------------------------------
// The command line, against a running server on the same file.

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn roost(database_url: &str, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roost"));
    cmd.args(args)
        .arg("--database-url")
        .arg(database_url)
        .env_remove("ROOST_DATABASE_URL")
        .env_remove("ROOST_CONFIG")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("roost finished in time")
        .expect("roost ran");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_line(run: &Run) -> Value {
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let line = run.stdout.strip_suffix('\n').expect("one line");
    assert!(!line.contains('\n'), "{}", run.stdout);
    serde_json::from_str(line).expect("json")
}

async fn until_refused(app: &TestApp, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.me(token).await != 401 {
        assert!(Instant::now() < deadline, "the server never saw the reset");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cli_snapshot_export_and_reset_against_a_running_server() {
    let app = spawn_app_with(|c| c.content.poll_interval_ms = 50).await;
    let poller = roost::content::world::spawn_poller(app.state.clone());
    let db = app.database_url.clone();
    let early = app.tokens(ALL_SCOPES).await;

    let saved = json_line(&roost(&db, &["snapshot", "save", "base", "--json"]).await);
    assert_eq!(saved["name"], "base");
    assert_eq!(saved["replaced"], false);
    assert_eq!(saved["counts"]["users"], 2);
    assert_eq!(saved["counts"]["grants"], 1);
    let listed = json_line(&roost(&db, &["snapshot", "list", "--json"]).await);
    assert_eq!(listed["snapshots"][0]["name"], "base");
    assert_eq!(listed["snapshots"].as_array().map(Vec::len), Some(1));

    // `export` writes the document to stdout, or to a private file.
    let at_snapshot = export(&app).await;
    let out = roost(&db, &["export"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout == at_snapshot);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("world.json");
    let counts = json_line(&roost(&db, &["export", file.to_str().unwrap(), "--json"]).await);
    assert_eq!(counts["apps"], 2);
    assert!(std::fs::read_to_string(&file).unwrap() == at_snapshot);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Changes, then the reset through another process: the server sees it within its poll.
    let late = app.tokens(ALL_SCOPES).await;
    assert_eq!(app.me(&access(&late)).await, 200);
    let reset = json_line(&roost(&db, &["reset", "--to", "base", "--json"]).await);
    assert_eq!(reset["to"], "base");
    until_refused(&app, &access(&late)).await;
    assert_eq!(app.me(&access(&early)).await, 200);
    assert!(export(&app).await == at_snapshot);

    // Errors: one line, exit 1 (unknown) or 2 (usage), nothing changed.
    let unknown = roost(&db, &["reset", "--to", "nope"]).await;
    assert_eq!(unknown.code, Some(1));
    assert_eq!(unknown.stderr, "roost: no snapshot is called `nope`\n");
    let bad = roost(&db, &["snapshot", "save", "a/b"]).await;
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.starts_with("roost: "), "{}", bad.stderr);
    assert!(export(&app).await == at_snapshot);

    // `import` of the export into an empty store gives the same export.
    let other_db = crate::helpers::ScratchDb::new().await;
    let other = other_db.url.as_str();
    let imported = json_line(&roost(other, &["import", file.to_str().unwrap(), "--json"]).await);
    assert_eq!(imported["apps"], 2);
    assert!(roost(other, &["export"]).await.stdout == at_snapshot);

    // Reset to empty, and delete the snapshot.
    let out = roost(&db, &["reset"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    until_refused(&app, &access(&early)).await;
    let deleted = json_line(&roost(&db, &["snapshot", "delete", "base", "--json"]).await);
    assert_eq!(deleted["deleted"], true);
    let again = roost(&db, &["snapshot", "delete", "base"]).await;
    assert_eq!(again.code, Some(1));
    assert_eq!(again.stderr, "roost: no snapshot is called `base`\n");
    poller.abort();
}

// ---------------------------------------------------------------------------------------------
// The admin API.

async fn admin(
    app: &TestApp,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, app.url(&format!("/admin/v1{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("admin request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn admin_api_snapshots_and_reset_take_effect_at_once() {
    use reqwest::Method;
    let app = spawn_app().await;
    let created = roost::admin::create_token(&app.state, "test")
        .await
        .unwrap();
    let t = Some(created.token.expose());
    let early = app.tokens(ALL_SCOPES).await;

    // Without an admin token (or with a user's token), nothing.
    for (m, p) in [
        (Method::GET, "/snapshots"),
        (Method::POST, "/snapshots"),
        (Method::DELETE, "/snapshots/base"),
        (Method::POST, "/reset"),
        (Method::GET, "/export"),
    ] {
        let (s, b) = admin(&app, None, m.clone(), p, None).await;
        assert_eq!(s, 401, "{m} {p}: {b}");
        let (s, _) = admin(&app, Some(&access(&early)), m.clone(), p, None).await;
        assert_eq!(s, 401, "{m} {p} with a user token");
    }

    let (s, b) = admin(
        &app,
        t,
        Method::POST,
        "/snapshots",
        Some(json!({"name": "base"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["replaced"], false);
    assert_eq!(b["counts"]["grants"], 1);
    let (s, b) = admin(
        &app,
        t,
        Method::POST,
        "/snapshots",
        Some(json!({"name": "base"})),
    )
    .await;
    assert_eq!((s, &b["replaced"]), (200, &json!(true)), "{b}");
    let (s, b) = admin(
        &app,
        t,
        Method::POST,
        "/snapshots",
        Some(json!({"name": "a/b"})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "invalid_request");
    let (s, b) = admin(&app, t, Method::POST, "/snapshots", Some(json!({}))).await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = admin(&app, t, Method::GET, "/snapshots", None).await;
    assert_eq!(s, 200);
    assert_eq!(b["snapshots"][0]["name"], "base");
    let at_snapshot = export(&app).await;
    let resp = app
        .http
        .get(app.url("/admin/v1/export"))
        .bearer_auth(created.token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.text().await.unwrap() == at_snapshot);

    // Changes, then a reset through this server: seen at once, no poll needed.
    let late = app.tokens(ALL_SCOPES).await;
    assert_eq!(app.me(&access(&late)).await, 200);
    let (s, b) = admin(&app, t, Method::POST, "/reset", Some(json!({"to": "base"}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["to"], "base");
    assert_eq!(b["restored"]["users"], 2);
    assert_eq!(app.me(&access(&late)).await, 401);
    assert_eq!(app.me(&access(&early)).await, 200);
    assert!(export(&app).await == at_snapshot);

    let (s, b) = admin(&app, t, Method::POST, "/reset", Some(json!({"to": "nope"}))).await;
    assert_eq!(s, 404);
    assert_eq!(b["error_description"], "no snapshot is called `nope`");
    let (s, _) = admin(
        &app,
        t,
        Method::POST,
        "/reset",
        Some(json!({"to": "base", "x": 1})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(export(&app).await == at_snapshot);

    let (s, _) = admin(&app, t, Method::DELETE, "/snapshots/base", None).await;
    assert_eq!(s, 200);
    let (s, _) = admin(&app, t, Method::DELETE, "/snapshots/base", None).await;
    assert_eq!(s, 404);

    // `{"to": null}` empties the store; the admin token still works.
    let (s, b) = admin(&app, t, Method::POST, "/reset", Some(json!({"to": null}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["to"], Value::Null);
    assert_eq!(app.me(&access(&early)).await, 401);
    let (s, b) = admin(&app, t, Method::GET, "/snapshots", None).await;
    assert_eq!((s, b), (200, json!({"snapshots": []})));
}
