//! Revocations reach every node within 1 s (checklist J3) through the store's invalidation
//! feed, shown here with a second in-process node on the same database (`spawn_peer`): its own
//! token cache, its own follower of the feed. `cluster.rs` shows the same with `roost serve`
//! processes.
//!
//! Every test first makes the peer cache the token (a 200 there), then revokes elsewhere: the
//! peer's cache would serve the token for `token_cache_ttl` (60 s) if nothing told it.

use std::time::{Duration, Instant};

use roost::cluster::Follower;
use serde_json::Value;

use crate::helpers::*;

/// The bound of checklist J3.
pub(crate) const BOUND: Duration = Duration::from_secs(1);

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// `GET BASE/2/users/me` with `token`: the status.
pub(crate) async fn me_at(base: &str, token: &str) -> u16 {
    client()
        .get(format!("{base}/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("users/me")
        .status()
        .as_u16()
}

/// `GET BASE/2/users/by/username/alice` with an app-only token: the status.
pub(crate) async fn lookup_at(base: &str, token: &str) -> u16 {
    client()
        .get(format!("{base}/2/users/by/username/alice"))
        .bearer_auth(token)
        .send()
        .await
        .expect("users/by/username")
        .status()
        .as_u16()
}

/// POSTs a form with HTTP Basic to `BASE PATH`: status and JSON body.
pub(crate) async fn post_basic(
    base: &str,
    path: &str,
    (id, secret): (&str, &str),
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let resp = client()
        .post(format!("{base}{path}"))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .expect("POST");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) fn web_creds(app: &TestApp) -> (&str, &str) {
    (
        app.web.client_id.as_str(),
        app.web.client_secret.as_deref().expect("confidential"),
    )
}

pub(crate) fn api_creds(app: &TestApp) -> (&str, &str) {
    (app.web.api_key.as_str(), app.web.api_secret.as_str())
}

/// Polls `status_of` on every base until each answers `want`, failing if one still does not
/// once `BOUND` has passed since `since` (the moment the revocation was answered).
pub(crate) async fn all_answer_within<F, Fut>(
    bases: &[&str],
    since: Instant,
    want: u16,
    status_of: F,
) where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    for base in bases {
        loop {
            let status = status_of((*base).to_owned()).await;
            if status == want {
                break;
            }
            assert!(
                since.elapsed() < BOUND,
                "{base} still answers {status}, not {want}, {:?} after the revocation",
                since.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key}: {v}"))
}

#[tokio::test]
async fn sec_j03_an_access_token_revoked_on_one_node_is_refused_by_the_other_within_1s() {
    let app = spawn_app().await;
    let (peer, _) = spawn_peer(&app).await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let access = str_of(&tokens, "access_token");
    assert_eq!(me_at(&peer, access).await, 200, "cached on the peer");
    let (status, _) = post_basic(
        &app.base,
        "/2/oauth2/revoke",
        web_creds(&app),
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;
    let revoked = Instant::now();
    assert_eq!(status, 200);
    all_answer_within(&[&peer, &app.base], revoked, 401, |b| async move {
        me_at(&b, access).await
    })
    .await;
}

#[tokio::test]
async fn sec_j03_a_revoked_refresh_token_takes_its_family_off_every_node_within_1s() {
    let app = spawn_app().await;
    let (peer, _) = spawn_peer(&app).await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let access = str_of(&tokens, "access_token");
    assert_eq!(me_at(&peer, access).await, 200);
    // Revoked on the peer this time: the first node hears of it through the feed.
    assert_eq!(me_at(&app.base, access).await, 200);
    let (status, _) = post_basic(
        &peer,
        "/2/oauth2/revoke",
        web_creds(&app),
        &[("token", str_of(&tokens, "refresh_token"))],
    )
    .await;
    let revoked = Instant::now();
    assert_eq!(status, 200);
    all_answer_within(&[&app.base, &peer], revoked, 401, |b| async move {
        me_at(&b, access).await
    })
    .await;
}

#[tokio::test]
async fn sec_j03_refresh_reuse_on_one_node_revokes_the_family_on_every_node_within_1s() {
    let app = spawn_app().await;
    let (peer, _) = spawn_peer(&app).await;
    let first = app.tokens(ALL_SCOPES).await;
    let (status, second) = app.refresh(str_of(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{second}");
    let family = [
        str_of(&first, "access_token"),
        str_of(&second, "access_token"),
    ];
    for a in family {
        assert_eq!(me_at(&app.base, a).await, 200);
        assert_eq!(me_at(&peer, a).await, 200);
    }
    // The first refresh token again, on the peer: reuse.
    let (status, body) = post_basic(
        &peer,
        "/2/oauth2/token",
        web_creds(&app),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&first, "refresh_token")),
        ],
    )
    .await;
    let revoked = Instant::now();
    assert_eq!(status, 400, "{body}");
    for a in family {
        all_answer_within(&[&app.base, &peer], revoked, 401, |b| async move {
            me_at(&b, a).await
        })
        .await;
    }
}

#[tokio::test]
async fn sec_j03_a_replayed_code_revokes_its_tokens_on_every_node_within_1s() {
    let app = spawn_app().await;
    let (peer, _) = spawn_peer(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (status, tokens) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 200);
    let access = str_of(&tokens, "access_token");
    assert_eq!(me_at(&peer, access).await, 200);
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (status, _) = post_basic(&app.base, "/2/oauth2/token", web_creds(&app), &fields).await;
    let replayed = Instant::now();
    assert_eq!(status, 400);
    all_answer_within(&[&peer], replayed, 401, |b| async move {
        me_at(&b, access).await
    })
    .await;
}

#[tokio::test]
async fn sec_j03_an_invalidated_app_only_token_is_refused_by_every_node_within_1s() {
    let app = spawn_app().await;
    let (peer, _) = spawn_peer(&app).await;
    let token = app.app_token().await;
    assert_eq!(lookup_at(&peer, &token).await, 200);
    assert_eq!(lookup_at(&app.base, &token).await, 200);
    let (status, body) = post_basic(
        &peer,
        "/oauth2/invalidate_token",
        api_creds(&app),
        &[("access_token", &token)],
    )
    .await;
    let invalidated = Instant::now();
    assert_eq!(status, 200, "{body}");
    all_answer_within(&[&app.base, &peer], invalidated, 401, |b| {
        let token = token.clone();
        async move { lookup_at(&b, &token).await }
    })
    .await;
    // And a node that cached the App hands out the new token, not the invalidated one.
    let (status, fresh) = post_basic(
        &app.base,
        "/oauth2/token",
        api_creds(&app),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(str_of(&fresh, "access_token"), token);
}

/// The CLI and the admin API write through the same store methods, so a deletion by another
/// process reaches the nodes through the feed, without waiting for their content poll (which
/// these test nodes do not even run).
#[tokio::test]
async fn sec_j03_a_user_deleted_by_another_process_is_refused_within_1s() {
    let app = spawn_app().await;
    let (peer, _) = spawn_peer(&app).await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let access = str_of(&tokens, "access_token");
    assert_eq!(me_at(&peer, access).await, 200);
    // What `roost users delete alice` runs, from a process of its own.
    let admin = roost_store::open(&app.database_url).await.expect("store");
    admin
        .delete_user(&roost_domain::Username::parse("alice").expect("username"))
        .await
        .expect("delete")
        .expect("alice existed");
    let deleted = Instant::now();
    all_answer_within(&[&peer, &app.base], deleted, 401, |b| async move {
        me_at(&b, access).await
    })
    .await;
}

/// A node cut off from the feed for longer than cleanup keeps its entries cannot tell what it
/// missed: it drops every cached token, not only the revoked ones it can still read about.
#[tokio::test]
async fn a_node_whose_cursor_was_pruned_drops_every_cached_token() {
    let app = spawn_app().await;
    // A node with a follower of the test's own, read by hand.
    let store = roost::open_store(&app.state.config).await.expect("store");
    let node = roost::build_state(app.state.config.clone(), store, app.clock.clone())
        .await
        .expect("state");
    let mut follower = Follower::new();
    assert!(follower.catch_up(&node).await.expect("feed"));
    let kept = app.tokens(ALL_SCOPES).await;
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {}", str_of(&kept, "access_token"));
    headers.insert("authorization", bearer.parse().expect("header"));
    roost::api::principal::resolve(&node, &headers)
        .await
        .expect("a valid token");
    assert_eq!(node.tokens.len(), 1);

    // Another grant revoked: read entry by entry, the cached token is not concerned.
    let other = app.tokens(ALL_SCOPES).await;
    let revoke = |t: String| {
        let app = &app;
        async move {
            let (status, _) = post_basic(
                &app.base,
                "/2/oauth2/revoke",
                web_creds(app),
                &[("token", &t)],
            )
            .await;
            assert_eq!(status, 200);
        }
    };
    revoke(str_of(&other, "refresh_token").to_owned()).await;
    assert!(follower.catch_up(&node).await.expect("feed"));
    assert_eq!(node.tokens.len(), 1, "only what was revoked is dropped");

    // A third one, and cleanup prunes the feed before the node reads it.
    let third = app.tokens(ALL_SCOPES).await;
    revoke(str_of(&third, "refresh_token").to_owned()).await;
    let head = follower.cursor().expect("read") + 1;
    app.state
        .store
        .cleanup(app.state.now(), 0)
        .await
        .expect("cleanup");
    assert!(follower.catch_up(&node).await.expect("feed"));
    assert!(
        node.tokens.is_empty(),
        "the missed entry could have been any token"
    );
    assert_eq!(follower.cursor(), Some(head));
    // The token itself is still good; it is merely looked up again.
    roost::api::principal::resolve(&node, &headers)
        .await
        .expect("still valid");
}
