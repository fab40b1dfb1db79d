//! The developer portal's commands, as an operator or a CI pipeline runs them: `roost projects
//! ...`, `roost apps update|regenerate|bearer-token|usage`, `roost users
//! promote|connected-apps|revoke-app`, and what `apps create` and `users create` gained. Each
//! `--json` prints one object (the admin API's answer); what a command changes reaches a server
//! running on the same database.

// Test code: a failed `expect` is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::cli::{
    LOOPBACK_CALLBACK, SCOPES, Server, Workspace, create_json, me_status, post_token, user_tokens,
    wait_me_status,
};
use crate::helpers::AuthParams;

fn keys(m: &Map<String, Value>) -> BTreeSet<&str> {
    m.keys().map(String::as_str).collect()
}

fn s<'a>(m: &'a Map<String, Value>, key: &str) -> &'a str {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("`{key}` is not a string in {m:?}"))
}

/// `roost ARGS --json` run to success: its one object.
async fn json(ws: &Workspace, args: &[&str]) -> Map<String, Value> {
    let mut all = args.to_vec();
    all.push("--json");
    create_json(ws, &all).await
}

/// `roost ARGS` refused with a one-line reason containing `needle`; nothing on stdout.
async fn refused(ws: &Workspace, args: &[&str], needle: &str) {
    let out = ws.run_db(args).await;
    out.assert_roost_error();
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.to_lowercase().contains(&needle.to_lowercase()),
        "`{needle}` in {out:?}"
    );
}

async fn usage_error(ws: &Workspace, args: &[&str]) {
    let out = ws.run_db(args).await;
    out.assert_usage_error();
    assert!(out.stdout.is_empty(), "{out:?}");
}

async fn user(ws: &Workspace, name: &str, extra: &[&str]) -> Map<String, Value> {
    let pw = format!("{name}-password");
    let mut args = vec![
        "users",
        "create",
        "--username",
        name,
        "--name",
        name,
        "--password",
        &pw,
    ];
    args.extend(extra);
    json(ws, &args).await
}

async fn web_app(ws: &Workspace, name: &str, extra: &[&str]) -> Map<String, Value> {
    let mut args = vec![
        "apps",
        "create",
        "--name",
        name,
        "--type",
        "web",
        "--callback",
        LOOPBACK_CALLBACK,
    ];
    args.extend(extra);
    json(ws, &args).await
}

fn listed<'a>(list: &'a Map<String, Value>, client_id: &str) -> &'a Value {
    list["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["client_id"] == client_id)
        .unwrap_or_else(|| panic!("{client_id} in {list:?}"))
}

/// Polls (bounded) until `probe` answers `want`.
async fn eventually<F, Fut>(what: &str, want: u16, probe: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let started = Instant::now();
    loop {
        let got = probe().await;
        if got == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: still {got}, not {want}, 5 s after the change"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn app_only_status(server: &Server, key: &str, secret: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(server.url("/oauth2/token"))
        .basic_auth(key, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("app-only token");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn lookup_status(server: &Server, token: &str, user_id: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url(&format!("/2/users/{user_id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("lookup")
        .status()
        .as_u16()
}

#[tokio::test]
async fn projects_commands_create_list_rename_hand_over_and_delete_with_their_apps() {
    let ws = Workspace::new();
    user(&ws, "alice", &[]).await;
    user(&ws, "bob", &[]).await;
    let project = json(
        &ws,
        &[
            "projects",
            "create",
            "--name",
            "CLI Project",
            "--owner",
            "alice",
        ],
    )
    .await;
    assert_eq!(
        keys(&project),
        BTreeSet::from(["id", "name", "owner", "created_at", "apps"])
    );
    assert_eq!(project["owner"], "alice");
    assert_eq!(project["apps"], json!([]));
    let id = s(&project, "id").to_owned();
    refused(
        &ws,
        &["projects", "create", "--name", "CLI Project"],
        "CLI Project",
    )
    .await;
    refused(
        &ws,
        &["projects", "create", "--name", "P2", "--owner", "nobody"],
        "nobody",
    )
    .await;
    refused(&ws, &["projects", "create", "--name", " "], "project name").await;

    // Apps in it by id, with X's App types; the contract's keys stay as they are.
    let bot = web_app(
        &ws,
        "Bot",
        &[
            "--project-id",
            &id,
            "--description",
            "Posts the weather",
            "--website",
            "https://bot.example",
        ],
    )
    .await;
    assert_eq!(
        keys(&bot),
        BTreeSet::from([
            "project_id",
            "app_id",
            "client_id",
            "client_secret",
            "api_key",
            "api_secret"
        ])
    );
    assert_eq!(bot["project_id"], id.as_str());
    let mut clients = vec![s(&bot, "client_id").to_owned()];
    for (ty, kind) in [
        ("spa", "single_page"),
        ("single-page", "single_page"),
        ("native", "native"),
    ] {
        let created = json(
            &ws,
            &[
                "apps",
                "create",
                "--name",
                ty,
                "--project-id",
                &id,
                "--type",
                ty,
                "--callback",
                LOOPBACK_CALLBACK,
            ],
        )
        .await;
        assert!(!created.contains_key("client_secret"), "{created:?}");
        let list = json(&ws, &["apps", "list"]).await;
        let a = listed(&list, s(&created, "client_id"));
        assert_eq!(
            (&a["type"], &a["client_type"]),
            (&json!(kind), &json!("public"))
        );
        clients.push(s(&created, "client_id").to_owned());
    }
    let list = json(&ws, &["apps", "list"]).await;
    let listed_bot = listed(&list, s(&bot, "client_id"));
    assert_eq!(listed_bot["project"], "CLI Project");
    assert_eq!(listed_bot["description"], "Posts the weather");
    assert_eq!(listed_bot["website_url"], "https://bot.example");
    // Refused before anything is stored.
    let before = json(&ws, &["apps", "list"]).await;
    refused(
        &ws,
        &[
            "apps",
            "create",
            "--name",
            "X",
            "--project-id",
            "1",
            "--type",
            "web",
            "--callback",
            LOOPBACK_CALLBACK,
        ],
        "no Project",
    )
    .await;
    refused(
        &ws,
        &[
            "apps",
            "create",
            "--name",
            "X",
            "--type",
            "web",
            "--website",
            "javascript:alert(1)",
            "--callback",
            LOOPBACK_CALLBACK,
        ],
        "website",
    )
    .await;
    usage_error(
        &ws,
        &[
            "apps",
            "create",
            "--name",
            "X",
            "--project-id",
            &id,
            "--project",
            "P",
            "--type",
            "web",
            "--callback",
            LOOPBACK_CALLBACK,
        ],
    )
    .await;
    assert_eq!(json(&ws, &["apps", "list"]).await, before);

    let list = json(&ws, &["projects", "list"]).await;
    let mine = list["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["id"] == id.as_str())
        .expect("listed");
    assert_eq!(mine["apps"], json!(clients));
    let human = ws.run_db(&["projects", "list"]).await;
    human.assert_success();
    assert!(
        human.stdout.contains("CLI Project") && human.stdout.contains("@alice"),
        "{human:?}"
    );

    let renamed = json(&ws, &["projects", "rename", &id, "--name", "Renamed"]).await;
    assert_eq!(renamed["name"], "Renamed");
    let bobs = json(&ws, &["projects", "set-owner", "Renamed", "--owner", "bob"]).await;
    assert_eq!((&bobs["id"], &bobs["owner"]), (&json!(id), &json!("bob")));
    let nobodys = json(&ws, &["projects", "set-owner", &id, "--none"]).await;
    assert_eq!(nobodys["owner"], Value::Null);
    usage_error(&ws, &["projects", "set-owner", &id]).await;
    usage_error(
        &ws,
        &["projects", "set-owner", &id, "--owner", "bob", "--none"],
    )
    .await;
    refused(
        &ws,
        &["projects", "rename", "no-such-project", "--name", "X"],
        "no Project",
    )
    .await;

    // Deleting it, while a server runs: its Apps' tokens are refused there within 1 s.
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let tokens = user_tokens(
        &server,
        s(&bot, "client_id"),
        Some(s(&bot, "client_secret")),
        "alice",
        "alice-password",
    )
    .await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me_status(&server, &access).await, 200);
    let deleted = json(&ws, &["projects", "delete", &id]).await;
    assert_eq!(
        keys(&deleted),
        BTreeSet::from(["id", "name", "apps", "removed"])
    );
    assert_eq!(deleted["apps"], json!(clients));
    assert_eq!(deleted["removed"]["apps"], 4, "{deleted:?}");
    wait_me_status(&server, &access, 401).await;
    refused(&ws, &["projects", "delete", &id], "no Project").await;
    let list = json(&ws, &["projects", "list"]).await;
    assert_eq!(list["projects"], json!([]), "{list:?}");
    assert_eq!(json(&ws, &["apps", "list"]).await["apps"], json!([]));
    drop(server);
}

#[tokio::test]
async fn apps_update_regenerate_and_bearer_token_reach_a_running_server() {
    let ws = Workspace::new();
    let carol = user(&ws, "carol", &[]).await;
    let web = web_app(&ws, "Web", &[]).await;
    let client_id = s(&web, "client_id").to_owned();
    let public = json(
        &ws,
        &[
            "apps",
            "create",
            "--name",
            "Native",
            "--type",
            "public",
            "--callback",
            LOOPBACK_CALLBACK,
        ],
    )
    .await;
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let other = "https://app.example/cb";

    // Settings.
    let updated = json(
        &ws,
        &[
            "apps",
            "update",
            &client_id,
            "--name",
            "Renamed",
            "--description",
            "What it does",
            "--website",
            "https://web.example",
            "--add-callback",
            other,
        ],
    )
    .await;
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["description"], "What it does");
    assert_eq!(updated["website_url"], "https://web.example");
    assert_eq!(updated["callbacks"], json!([LOOPBACK_CALLBACK, other]));
    assert_eq!(updated["auto_consent_user"], Value::Null);
    let cleared = json(&ws, &["apps", "update", &client_id, "--website", ""]).await;
    assert_eq!(cleared["website_url"], Value::Null);
    let native = json(
        &ws,
        &["apps", "update", s(&public, "client_id"), "--type", "spa"],
    )
    .await;
    assert_eq!(native["type"], "single_page");
    let before = json(&ws, &["apps", "list"]).await;
    refused(
        &ws,
        &["apps", "update", &client_id, "--type", "native"],
        "client type",
    )
    .await;
    refused(
        &ws,
        &[
            "apps",
            "update",
            &client_id,
            "--remove-callback",
            "https://nowhere.example/cb",
        ],
        "not a callback",
    )
    .await;
    refused(
        &ws,
        &[
            "apps",
            "update",
            &client_id,
            "--add-callback",
            "http://example.com/cb",
        ],
        "http",
    )
    .await;
    refused(
        &ws,
        &["apps", "update", &client_id, "--add-callback", other],
        "twice",
    )
    .await;
    refused(
        &ws,
        &[
            "apps",
            "update",
            &client_id,
            "--remove-callback",
            LOOPBACK_CALLBACK,
            "--remove-callback",
            other,
        ],
        "callback",
    )
    .await;
    refused(
        &ws,
        &["apps", "update", "no-such-app", "--name", "X"],
        "no-such-app",
    )
    .await;
    usage_error(&ws, &["apps", "update", &client_id]).await;
    usage_error(&ws, &["apps", "update", &client_id, "--type", "hybrid"]).await;
    assert_eq!(
        json(&ws, &["apps", "list"]).await,
        before,
        "refusals change nothing"
    );
    // A callback taken away is refused by the running server within 1 s.
    let p = AuthParams::new(&client_id, SCOPES);
    let authorize = server.url(&format!("/i/oauth2/authorize?{}", p.query()));
    let only_other = json(
        &ws,
        &[
            "apps",
            "update",
            &client_id,
            "--remove-callback",
            LOOPBACK_CALLBACK,
        ],
    )
    .await;
    assert_eq!(only_other["callbacks"], json!([other]));
    eventually("the removed callback", 400, || async {
        reqwest::get(&authorize)
            .await
            .expect("authorize")
            .status()
            .as_u16()
    })
    .await;
    json(
        &ws,
        &[
            "apps",
            "update",
            &client_id,
            "--add-callback",
            LOOPBACK_CALLBACK,
        ],
    )
    .await;
    eventually("the callback registered again", 200, || async {
        reqwest::get(&authorize)
            .await
            .expect("authorize")
            .status()
            .as_u16()
    })
    .await;

    // A new Client Secret: the old one is refused, the new one works.
    let old_secret = s(&web, "client_secret").to_owned();
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(
        post_token(&server, (&client_id, &old_secret), &cc).await.0,
        200
    );
    let fresh = json(&ws, &["apps", "regenerate", &client_id, "--client-secret"]).await;
    assert_eq!(keys(&fresh), BTreeSet::from(["client_id", "client_secret"]));
    let new_secret = s(&fresh, "client_secret").to_owned();
    eventually("the old Client Secret", 401, || async {
        post_token(&server, (&client_id, &old_secret), &cc).await.0
    })
    .await;
    assert_eq!(
        post_token(&server, (&client_id, &new_secret), &cc).await.0,
        200
    );
    let tokens = user_tokens(
        &server,
        &client_id,
        Some(&new_secret),
        "carol",
        "carol-password",
    )
    .await;
    assert_eq!(
        me_status(&server, tokens["access_token"].as_str().expect("t")).await,
        200
    );
    refused(
        &ws,
        &[
            "apps",
            "regenerate",
            s(&public, "client_id"),
            "--client-secret",
        ],
        "public client",
    )
    .await;
    usage_error(&ws, &["apps", "regenerate", &client_id]).await;
    usage_error(
        &ws,
        &[
            "apps",
            "regenerate",
            &client_id,
            "--client-secret",
            "--api-key",
        ],
    )
    .await;
    let human = ws
        .run_db(&["apps", "regenerate", &client_id, "--client-secret"])
        .await;
    human.assert_success();
    assert!(human.stdout.contains("client_secret:"), "{human:?}");

    // The Bearer Token, revoked, and a new API key.
    let carol_id = s(&carol, "id").to_owned();
    let bearer = json(&ws, &["apps", "bearer-token", &client_id]).await;
    assert_eq!(
        keys(&bearer),
        BTreeSet::from(["token_type", "access_token"])
    );
    let old_bearer = s(&bearer, "access_token").to_owned();
    assert_eq!(lookup_status(&server, &old_bearer, &carol_id).await, 200);
    let revoked = json(&ws, &["apps", "bearer-token", &client_id, "--revoke"]).await;
    assert_eq!(revoked["revoked"], true);
    eventually("the revoked Bearer Token", 401, || async {
        lookup_status(&server, &old_bearer, &carol_id).await
    })
    .await;
    let bearer = s(
        &json(&ws, &["apps", "bearer-token", &client_id]).await,
        "access_token",
    )
    .to_owned();
    assert_ne!(bearer, old_bearer);
    assert_eq!(lookup_status(&server, &bearer, &carol_id).await, 200);
    let keyed = json(&ws, &["apps", "regenerate", &client_id, "--api-key"]).await;
    assert_eq!(
        keys(&keyed),
        BTreeSet::from(["client_id", "api_key", "api_secret"])
    );
    eventually("the Bearer Token of the old key", 401, || async {
        lookup_status(&server, &bearer, &carol_id).await
    })
    .await;
    eventually("the old API key", 403, || async {
        app_only_status(&server, s(&web, "api_key"), s(&web, "api_secret"))
            .await
            .0
    })
    .await;
    let (status, body) =
        app_only_status(&server, s(&keyed, "api_key"), s(&keyed, "api_secret")).await;
    assert_eq!(status, 200, "{body}");
    let bearer = body["access_token"].as_str().expect("bearer").to_owned();

    // Usage: the server's counts reach the store within its flush interval (5 s).
    for _ in 0..3 {
        assert_eq!(lookup_status(&server, &bearer, &carol_id).await, 200);
    }
    let started = Instant::now();
    let usage = loop {
        let usage = json(&ws, &["apps", "usage", &client_id]).await;
        let by_id = usage["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["endpoint"] == "GET /2/users/:id")
            .and_then(|e| e["total"].as_i64())
            .unwrap_or(0);
        if by_id >= 3 {
            break usage;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the server's counts did not reach the store: {usage:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(usage["bucket_ms"], 900_000);
    assert_eq!(usage["active_users"], 1, "{usage:?}");
    let human = ws.run_db(&["apps", "usage", &client_id]).await;
    human.assert_success();
    assert!(human.stdout.contains("GET /2/users/:id"), "{human:?}");
    drop(server);
}

#[tokio::test]
async fn users_promote_connected_apps_and_revoke_app_reach_a_running_server() {
    let ws = Workspace::new();
    // `users create --json` keeps CONTRACT.md's keys; `users list` tells admins apart.
    let dave = user(&ws, "dave", &["--admin"]).await;
    assert_eq!(keys(&dave), BTreeSet::from(["id", "username", "name"]));
    let erin = user(&ws, "erin", &[]).await;
    let list = json(&ws, &["users", "list"]).await;
    let flags: Vec<(&str, bool)> = list["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap(),
                u["admin"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(flags, [("dave", true), ("erin", false)]);
    let promoted = json(&ws, &["users", "promote", "erin"]).await;
    assert_eq!(
        keys(&promoted),
        BTreeSet::from(["id", "username", "name", "admin"])
    );
    assert_eq!(
        (&promoted["id"], &promoted["admin"]),
        (&erin["id"], &json!(true))
    );
    let human = ws.run_db(&["users", "list"]).await;
    human.assert_success();
    assert_eq!(human.stdout.matches("[admin]").count(), 2, "{human:?}");
    let demoted = json(&ws, &["users", "promote", "erin", "--demote"]).await;
    assert_eq!(demoted["admin"], false);
    refused(&ws, &["users", "promote", "nobody"], "nobody").await;

    // Erin authorizes an App in the browser; the App is listed, then revoked from here.
    let web = web_app(&ws, "Connected", &[]).await;
    let client_id = s(&web, "client_id").to_owned();
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let none = json(&ws, &["users", "connected-apps", "erin"]).await;
    assert_eq!(none["connected_apps"], json!([]));
    let tokens = user_tokens(
        &server,
        &client_id,
        Some(s(&web, "client_secret")),
        "erin",
        "erin-password",
    )
    .await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(me_status(&server, &access).await, 200);
    let connected = json(&ws, &["users", "connected-apps", "erin"]).await;
    let apps = connected["connected_apps"].as_array().expect("list");
    assert_eq!(apps.len(), 1, "{connected:?}");
    assert_eq!(apps[0]["client_id"], client_id.as_str());
    assert_eq!(apps[0]["app_name"], "Connected");
    assert_eq!(apps[0]["project"], "Default Project");
    assert_eq!(
        apps[0]["scopes"],
        json!(["tweet.read", "users.read", "offline.access"])
    );
    let human = ws.run_db(&["users", "connected-apps", "erin"]).await;
    human.assert_success();
    assert!(human.stdout.contains("`Connected`"), "{human:?}");

    let revoked = json(&ws, &["users", "revoke-app", "erin", &client_id]).await;
    assert_eq!(
        keys(&revoked),
        BTreeSet::from(["username", "client_id", "revoked_grants"])
    );
    assert_eq!(revoked["revoked_grants"], 1);
    wait_me_status(&server, &access, 401).await;
    let (status, body) = post_token(
        &server,
        (&client_id, s(&web, "client_secret")),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_ne!(status, 200, "the refresh token is revoked: {body}");
    assert_eq!(
        json(&ws, &["users", "connected-apps", "erin"]).await["connected_apps"],
        json!([])
    );
    let again = json(&ws, &["users", "revoke-app", "erin", &client_id]).await;
    assert_eq!(again["revoked_grants"], 0);
    refused(
        &ws,
        &["users", "revoke-app", "erin", "no-such-app"],
        "no-such-app",
    )
    .await;
    refused(
        &ws,
        &["users", "revoke-app", "nobody", &client_id],
        "nobody",
    )
    .await;
    drop(server);
}
