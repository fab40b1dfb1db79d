//! `grant_type=refresh_token`: checklist D2-D7 (D1 is in `token.rs`).

// Test code: a failed expectation is a failed test (clippy.toml allows this in #[test] fns
// only; the helpers here are test code too).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use roost_domain::{ScopeSet, TokenHash, TokenKind};
use roost_store::Rotation;

use crate::helpers::*;
use crate::token::*;

fn ttl_ms(secs: u64) -> i64 {
    i64::try_from(secs).expect("ttl") * 1000
}

#[tokio::test]
async fn sec_d02_rotation_on_every_use() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    for client in [&app.web, &app.native] {
        let t = tokens_in(&app, &b, client, ALL_SCOPES).await;
        let r1 = token_of(&t, "refresh_token");
        let a1 = token_of(&t, "access_token");

        let second = refresh_as(&app, client, r1, &[]).await;
        assert_tokens(&app, &second, ALL_SCOPES, true);
        let r2 = second.str("refresh_token");
        assert_ne!(r2, r1, "a new refresh token");
        assert_ne!(second.str("access_token"), a1, "a new access token");
        assert_eq!(app.me(second.str("access_token")).await, 200);

        // The chain goes on with the newest token...
        let third = refresh_as(&app, client, r2, &[]).await;
        assert_tokens(&app, &third, ALL_SCOPES, true);
        assert_ne!(third.str("refresh_token"), r2);
        // ... and the used ones are dead.
        let before = app.row_counts().await;
        for used in [r1, r2] {
            let r = refresh_as(&app, client, used, &[]).await;
            assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
            assert_no_echo(&r, &[used]);
        }
        assert_eq!(
            app.row_counts().await,
            before,
            "a refused refresh issues nothing"
        );
    }
}

#[tokio::test]
async fn sec_d02_rotation_strict_mode_error() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let r1 = token_of(&t, "refresh_token");
    let r = refresh_as(&app, &app.web, r1, &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let before = app.row_counts().await;
    let r = refresh_as(&app, &app.web, r1, &[]).await;
    assert_error(&r, 400, "invalid_grant");
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_d02_earlier_access_token_keeps_working_after_refresh() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let a1 = token_of(&t, "access_token");
    app.clock.advance_ms(60_000);
    let r = refresh_as(&app, &app.web, token_of(&t, "refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    // Both the old and the new access token work (see the checklist's Decisions table)...
    assert_eq!(app.me(a1).await, 200);
    assert_eq!(app.me(r.str("access_token")).await, 200);
    // ... each until its own expiry.
    let access_ttl = ttl_ms(app.state.config.oauth.access_token_ttl);
    app.clock.advance_ms(access_ttl - 60_000);
    assert_eq!(app.me(a1).await, 401, "the first token has expired");
    assert_eq!(app.me(r.str("access_token")).await, 200);
    app.clock.advance_ms(60_000);
    assert_eq!(app.me(r.str("access_token")).await, 401);
}

#[tokio::test]
async fn sec_d02_public_app_refreshes_with_client_id_only() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.native, ALL_SCOPES).await;
    let rt = token_of(&t, "refresh_token");
    let id = app.native.client_id.as_str();
    let fields = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    // Refusals first: a secret in the body or in Basic, no client_id at all.
    let before = app.row_counts().await;
    for cred in [
        Cred::Body(id, Some("a-secret")),
        Cred::Basic(id, "a-secret"),
        Cred::Nothing,
    ] {
        let r = post_token(&app, cred, &fields).await;
        assert_x_unauthorized_client(&r);
        assert_no_echo(&r, &[rt]);
    }
    assert_eq!(app.row_counts().await, before);
    // client_id only, in the body or in the query.
    let r = post_token(&app, Cred::Body(id, None), &fields).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let rt2 = r.str("refresh_token");
    let r = send(
        app.http
            .post(app.url(&format!("{TOKEN_PATH}?client_id={id}")))
            .header(CONTENT_TYPE, FORM)
            .body(form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt2),
            ])),
    )
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
}

#[tokio::test]
async fn sec_d03_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let bystander = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let t1 = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let r1 = token_of(&t1, "refresh_token");
    let t2 = refresh_as(&app, &app.web, r1, &[]).await;
    assert_tokens(&app, &t2, ALL_SCOPES, true);
    let t3 = refresh_as(&app, &app.web, t2.str("refresh_token"), &[]).await;
    assert_tokens(&app, &t3, ALL_SCOPES, true);
    let family_access = [
        token_of(&t1, "access_token"),
        t2.str("access_token"),
        t3.str("access_token"),
    ];
    for a in family_access {
        assert_eq!(app.me(a).await, 200);
    }

    // The oldest token comes back: refused, and the family is revoked.
    let before = app.row_counts().await;
    let r = refresh_as(&app, &app.web, r1, &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    assert_eq!(app.row_counts().await, before, "nothing issued");
    for a in family_access {
        assert_eq!(app.me(a).await, 401, "every access token of the family");
    }
    for rt in [t2.str("refresh_token"), t3.str("refresh_token")] {
        let r = refresh_as(&app, &app.web, rt, &[]).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    }
    let stored = app
        .state
        .store
        .refresh_by_hash(TokenHash::of(t3.str("refresh_token")))
        .await
        .expect("store")
        .expect("the tombstone is kept");
    assert!(stored.grant_revoked);

    // Another grant of the same user and App is not touched.
    assert_eq!(app.me(token_of(&bystander, "access_token")).await, 200);
    let r = refresh_as(&app, &app.web, token_of(&bystander, "refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_d03_reuse_revokes_the_whole_family_strict() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let b = signed_in(&app).await;
    let t1 = tokens_in(&app, &b, &app.native, ALL_SCOPES).await;
    let r1 = token_of(&t1, "refresh_token");
    let t2 = refresh_as(&app, &app.native, r1, &[]).await;
    assert_tokens(&app, &t2, ALL_SCOPES, true);
    let r = refresh_as(&app, &app.native, r1, &[]).await;
    assert_error(&r, 400, "invalid_grant");
    assert_eq!(app.me(t2.str("access_token")).await, 401);
    let r = refresh_as(&app, &app.native, t2.str("refresh_token"), &[]).await;
    assert_error(&r, 400, "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec_d04_concurrent_refresh_has_one_winner() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let r1 = token_of(&t, "refresh_token");
    let before = app.row_counts().await;
    let secret = app.web.client_secret.clone().expect("secret");
    let auth = basic(&app.web.client_id, &secret);
    let body = form(&[("grant_type", "refresh_token"), ("refresh_token", r1)]);
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let rb = app
            .http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, auth.clone())
            .header(CONTENT_TYPE, FORM)
            .body(body.clone());
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            send(rb).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let r = task.await.expect("task");
        if r.status == 200 {
            assert_tokens(&app, &r, ALL_SCOPES, true);
            winners.push(r);
        } else {
            assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
        }
    }
    assert_eq!(winners.len(), 1, "one winner");
    // At most one new token pair was stored.
    let after = app.row_counts().await;
    assert_eq!(after["refresh_tokens"], before["refresh_tokens"] + 1);
    assert_eq!(after["access_tokens"], before["access_tokens"] + 1);
    assert_eq!(after["grants"], before["grants"]);

    // The losers count as reuse (no grace window by default): the whole family is revoked,
    // the winner's new pair included.
    let winner = &winners[0];
    assert_eq!(app.me(winner.str("access_token")).await, 401);
    assert_eq!(app.me(token_of(&t, "access_token")).await, 401);
    let r = refresh_as(&app, &app.web, winner.str("refresh_token"), &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    for rt in [r1, winner.str("refresh_token")] {
        let stored = app
            .state
            .store
            .refresh_by_hash(TokenHash::of(rt))
            .await
            .expect("store")
            .expect("refresh row");
        assert!(stored.grant_revoked, "the family is revoked");
        assert!(stored.used_at.is_some(), "no usable refresh token is left");
    }
}

#[tokio::test]
async fn sec_d05_refresh_token_bound_to_its_client() {
    let app = spawn_app().await;
    let other = other_web_app(&app).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let rt = token_of(&t, "refresh_token");
    let native = tokens_in(&app, &b, &app.native, ALL_SCOPES).await;
    let native_rt = token_of(&native, "refresh_token");

    let before = app.row_counts().await;
    for (thief, victim_rt) in [(&other, rt), (&app.native, rt), (&app.web, native_rt)] {
        let r = refresh_as(&app, thief, victim_rt, &[]).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
        assert_no_echo(&r, &[victim_rt]);
        // Twice: a second attempt must not look like reuse either.
        let r = refresh_as(&app, thief, victim_rt, &[]).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
        // The answer does not tell that the token exists for another client.
        assert_same_answer(&r, &refresh_as(&app, thief, NEVER_ISSUED, &[]).await);
    }
    assert_eq!(app.row_counts().await, before);
    // The owners' families are untouched.
    assert_eq!(app.me(token_of(&t, "access_token")).await, 200);
    assert_eq!(app.me(token_of(&native, "access_token")).await, 200);
    let r = refresh_as(&app, &app.web, rt, &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let r = refresh_as(&app, &app.native, native_rt, &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_d05_refresh_token_bound_to_its_client_strict() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let other = other_web_app(&app).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let rt = token_of(&t, "refresh_token");
    let before = app.row_counts().await;
    let r = refresh_as(&app, &other, rt, &[]).await;
    assert_error(&r, 400, "invalid_grant");
    // The RFC's description is roost's precise reason; it must not be "another client".
    assert_same_answer(&r, &refresh_as(&app, &other, NEVER_ISSUED, &[]).await);
    assert_eq!(app.row_counts().await, before);
    let r = refresh_as(&app, &app.web, rt, &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn sec_d06_scope_on_refresh_may_only_narrow() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let mut rt = token_of(&t, "refresh_token").to_owned();

    // Refusals first; none of them rotates the token.
    let before = app.row_counts().await;
    for wider in [
        "tweet.read users.read follows.read offline.access tweet.write",
        "tweet.write",
        "tweet.read no.such.scope",
        "TWEET.READ",
        "tweet.read,users.read",
    ] {
        let r = refresh_as(&app, &app.web, &rt, &[("scope", wider)]).await;
        assert_error(&r, 400, "invalid_scope");
        assert_no_echo(&r, &[&rt]);
    }
    assert_eq!(app.row_counts().await, before);

    // Omitted (and empty, which counts as omitted): the grant's scope.
    for extra in [&[][..], &[("scope", "")][..]] {
        let r = refresh_as(&app, &app.web, &rt, extra).await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
        rt = r.str("refresh_token").to_owned();
    }
    // Equal, in another order.
    let r = refresh_as(
        &app,
        &app.web,
        &rt,
        &[("scope", "offline.access follows.read users.read tweet.read")],
    )
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    rt = r.str("refresh_token").to_owned();
    // Narrower: echoed as requested; the access token is narrowed, the family is not.
    let r = refresh_as(&app, &app.web, &rt, &[("scope", "tweet.read users.read")]).await;
    assert_tokens(&app, &r, "tweet.read users.read", true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
    rt = r.str("refresh_token").to_owned();
    let r = refresh_as(
        &app,
        &app.web,
        &rt,
        &[("scope", "tweet.read offline.access")],
    )
    .await;
    assert_tokens(&app, &r, "tweet.read offline.access", true);
    let resp = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(r.str("access_token"))
        .send()
        .await
        .expect("me");
    assert_eq!(resp.status(), 403, "the narrowed token lacks users.read");
    rt = r.str("refresh_token").to_owned();
    // A later refresh may ask for the whole original grant again.
    let r = refresh_as(&app, &app.web, &rt, &[("scope", ALL_SCOPES)]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
    rt = r.str("refresh_token").to_owned();
    // ... but never more than it.
    let r = refresh_as(
        &app,
        &app.web,
        &rt,
        &[(
            "scope",
            "tweet.read users.read follows.read offline.access like.read",
        )],
    )
    .await;
    assert_error(&r, 400, "invalid_scope");
}

#[tokio::test]
async fn sec_d07_family_expires_after_refresh_token_ttl() {
    let app = spawn_app().await;
    let idle = ttl_ms(app.state.config.oauth.refresh_token_ttl);
    assert_eq!(idle, 180 * 24 * 3600 * 1000, "180 days by default");
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;

    // Just inside the idle lifetime, twice: each refresh starts a new period.
    app.clock.advance_ms(idle - 1000);
    let r = refresh_as(&app, &app.web, token_of(&t, "refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    app.clock.advance_ms(idle - 1000);
    let r = refresh_as(&app, &app.web, r.str("refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let rt = r.str("refresh_token");

    // Past it: refused, nothing issued, and it stays refused.
    app.clock.advance_ms(idle + 1000);
    let before = app.row_counts().await;
    for _ in 0..2 {
        let r = refresh_as(&app, &app.web, rt, &[]).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    }
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_d07_configured_refresh_token_ttl_is_used() {
    let app = spawn_app_with(|c| c.oauth.refresh_token_ttl = 3600).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.native, ALL_SCOPES).await;
    app.clock.advance_ms(3_600_000 + 1000);
    let before = app.row_counts().await;
    let r = refresh_as(&app, &app.native, token_of(&t, "refresh_token"), &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_d07_family_has_an_absolute_lifetime() {
    let default = roost::config::Config::default();
    assert_eq!(
        default.oauth.refresh_family_max_age,
        365 * 24 * 3600,
        "365 days by default"
    );
    for strict in [false, true] {
        let app = spawn_app_with(|c| {
            c.oauth.strict_rfc = strict;
            c.oauth.refresh_family_max_age = 1000;
        })
        .await;
        let max_age = ttl_ms(app.state.config.oauth.refresh_family_max_age);
        let b = signed_in(&app).await;
        let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
        let started = app.state.now();
        // Used often, well inside the idle lifetime: fine until the family's age is reached.
        let mut rt = token_of(&t, "refresh_token").to_owned();
        for _ in 0..2 {
            app.clock.advance_ms(max_age * 2 / 5);
            let r = refresh_as(&app, &app.web, &rt, &[]).await;
            assert_tokens(&app, &r, ALL_SCOPES, true);
            rt = r.str("refresh_token").to_owned();
            // A new refresh token never outlives its family, so cleanup can remove it.
            let stored = app
                .state
                .store
                .refresh_by_hash(TokenHash::of(&rt))
                .await
                .expect("store")
                .expect("refresh row");
            assert_eq!(stored.expires_at, started + max_age);
        }
        app.clock.advance_ms(started + max_age - app.state.now());
        let before = app.row_counts().await;
        for _ in 0..2 {
            let r = refresh_as(&app, &app.web, &rt, &[]).await;
            if strict {
                assert_error(&r, 400, "invalid_grant");
            } else {
                assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
            }
        }
        assert_eq!(app.row_counts().await, before);
    }
}

#[tokio::test]
async fn sec_d07_family_max_age_zero_means_unlimited() {
    let day = 24 * 3600 * 1000;
    let app = spawn_app_with(|c| c.oauth.refresh_family_max_age = 0).await;
    let idle = ttl_ms(app.state.config.oauth.refresh_token_ttl);
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let mut rt = token_of(&t, "refresh_token").to_owned();
    // 600 days, far past the default limit of 365, in steps inside the idle lifetime.
    for _ in 0..4 {
        app.clock.advance_ms(150 * day);
        let r = refresh_as(&app, &app.web, &rt, &[]).await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
        rt = r.str("refresh_token").to_owned();
        let stored = app
            .state
            .store
            .refresh_by_hash(TokenHash::of(&rt))
            .await
            .expect("store")
            .expect("refresh row");
        assert_eq!(stored.expires_at, app.state.now() + idle);
    }
}

#[tokio::test]
async fn sec_d07_revoked_grant_cannot_refresh() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let rt = token_of(&t, "refresh_token");
    let secret = app.web.client_secret.clone().expect("secret");
    let resp = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, Some(&secret))
        .header(CONTENT_TYPE, FORM)
        .body(form(&[("token", rt)]))
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), 200);
    let before = app.row_counts().await;
    let r = refresh_as(&app, &app.web, rt, &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.me(token_of(&t, "access_token")).await, 401);
}

/// D4 one level down: whatever the handler's earlier read saw, the store's conditional claim
/// lets exactly one of many simultaneous rotations of one token through, and the losers write
/// nothing (the handler then decides between a grace retry and revoking the family).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec_d04_store_rotation_is_one_conditional_update() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let hash = TokenHash::of(token_of(&t, "refresh_token"));
    let app_id = app
        .state
        .store
        .refresh_by_hash(hash)
        .await
        .expect("store")
        .expect("refresh row")
        .app_id;
    let before = app.row_counts().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = app.state.store.clone();
        let now = app.state.now();
        let access = roost_domain::Secret::generate(TokenKind::AccessToken, now);
        let rotation = Rotation {
            presented: hash,
            app_id,
            now,
            access_hash: access.hash(),
            access_expires_at: now + 7_200_000,
            access_scopes: None,
            successor_hash: TokenHash::of(&roost_domain::secret::random_base64url(32)),
            successor_expires_at: now + 3_600_000,
            family_max_age_ms: 0,
        };
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let done = store.rotate_refresh(rotation).await.expect("store");
            done.map(|d| (d, access))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(w) = task.await.expect("task") {
            winners.push(w);
        }
    }
    assert_eq!(winners.len(), 1, "one claim");
    let (done, access) = &winners[0];
    assert_eq!(
        done.grant_scope_names.set(),
        ScopeSet::parse(ALL_SCOPES).expect("scopes"),
        "the grant's scopes"
    );
    let after = app.row_counts().await;
    assert_eq!(after["refresh_tokens"], before["refresh_tokens"] + 1);
    assert_eq!(after["access_tokens"], before["access_tokens"] + 1);
    // The store revoked nothing: the winner's access token works.
    assert_eq!(app.me(access.expose()).await, 200);
    let stored = app
        .state
        .store
        .refresh_by_hash(hash)
        .await
        .expect("store")
        .expect("refresh row");
    assert!(!stored.grant_revoked);
    assert!(stored.used_at.is_some());
}

/// The claim checks the presenting App itself: another App's token is not claimed even if the
/// caller skipped the read before it.
#[tokio::test]
async fn sec_d05_store_claim_is_bound_to_the_app() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let hash = TokenHash::of(token_of(&t, "refresh_token"));
    let record = app
        .state
        .store
        .refresh_by_hash(hash)
        .await
        .expect("store")
        .expect("refresh row");
    let other = app
        .state
        .store
        .app_by_client_id(&app.native.client_id)
        .await
        .expect("store")
        .expect("native app");
    assert_ne!(other.id, record.app_id);
    let before = app.row_counts().await;
    let now = app.state.now();
    let rotation = Rotation {
        presented: hash,
        app_id: other.id,
        now,
        access_hash: TokenHash::of("a"),
        access_expires_at: now + 1000,
        access_scopes: None,
        successor_hash: TokenHash::of("r"),
        successor_expires_at: now + 1000,
        family_max_age_ms: 0,
    };
    assert!(
        app.state
            .store
            .rotate_refresh(rotation)
            .await
            .expect("store")
            .is_none()
    );
    assert_eq!(app.row_counts().await, before);
    let r = refresh_as(&app, &app.web, token_of(&t, "refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

fn with_grace(c: &mut roost::config::Config) {
    c.oauth.refresh_grace_period = 5;
}

/// D4 with a grace window: simultaneous refreshes with one token all get the same new pair,
/// one pair is stored, and the family lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec_d04_grace_window_hands_racing_refreshes_the_same_pair() {
    let app = spawn_app_with(with_grace).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let r1 = token_of(&t, "refresh_token").to_owned();
    let before = app.row_counts().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let rb = app
            .http
            .post(app.url(TOKEN_PATH))
            .header(
                AUTHORIZATION,
                basic(
                    &app.web.client_id,
                    app.web.client_secret.as_deref().expect("secret"),
                ),
            )
            .header(CONTENT_TYPE, FORM)
            .body(form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
            ]));
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            send(rb).await
        }));
    }
    let mut pairs = std::collections::BTreeSet::new();
    for task in tasks {
        let r = task.await.expect("task");
        assert_tokens(&app, &r, ALL_SCOPES, true);
        pairs.insert((
            r.str("access_token").to_owned(),
            r.str("refresh_token").to_owned(),
        ));
    }
    assert_eq!(pairs.len(), 1, "every racer got the same pair");
    let after = app.row_counts().await;
    assert_eq!(after["refresh_tokens"], before["refresh_tokens"] + 1);
    assert_eq!(after["access_tokens"], before["access_tokens"] + 1);
    let (a2, r2) = pairs.into_iter().next().expect("pair");
    assert_ne!(r2, r1);
    assert_eq!(app.me(&a2).await, 200);
    assert_eq!(
        app.me(token_of(&t, "access_token")).await,
        200,
        "nothing was revoked"
    );
    let r3 = refresh_as(&app, &app.web, &r2, &[]).await;
    assert_tokens(&app, &r3, ALL_SCOPES, true);
}

/// A retry inside the window (the first response was lost) gets the same pair; after the
/// window the same presentation is reuse and revokes the family.
#[tokio::test]
async fn sec_d04_grace_window_retry_then_reuse_after_it() {
    let app = spawn_app_with(with_grace).await;
    let b = signed_in(&app).await;
    for client in [&app.web, &app.native] {
        let t = tokens_in(&app, &b, client, ALL_SCOPES).await;
        let r1 = token_of(&t, "refresh_token");
        let first = refresh_as(&app, client, r1, &[]).await;
        assert_tokens(&app, &first, ALL_SCOPES, true);
        app.clock.advance_ms(4_000);
        let before = app.row_counts().await;
        let again = refresh_as(&app, client, r1, &[]).await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.str("access_token"), first.str("access_token"));
        assert_eq!(again.str("refresh_token"), first.str("refresh_token"));
        assert_eq!(
            again.body["expires_in"], 7196,
            "what is left of the same access token"
        );
        assert_eq!(app.row_counts().await, before, "a retry stores nothing");

        // Past the window the same token is a reuse.
        app.clock.advance_ms(2_000);
        let late = refresh_as(&app, client, r1, &[]).await;
        assert_x_error(&late, 400, "invalid_request", X_INVALID_TOKEN);
        assert_eq!(app.me(first.str("access_token")).await, 401);
        let r = refresh_as(&app, client, first.str("refresh_token"), &[]).await;
        assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    }
}

/// The window never lets an older generation through: once the successor has itself been
/// used, the token before it is a reuse even inside the window.
#[tokio::test]
async fn sec_d04_grace_window_never_brings_back_an_older_generation() {
    let app = spawn_app_with(with_grace).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let r1 = token_of(&t, "refresh_token");
    let second = refresh_as(&app, &app.web, r1, &[]).await;
    let third = refresh_as(&app, &app.web, second.str("refresh_token"), &[]).await;
    assert_tokens(&app, &third, ALL_SCOPES, true);
    let r = refresh_as(&app, &app.web, r1, &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    assert_eq!(
        app.me(third.str("access_token")).await,
        401,
        "the family is revoked"
    );
    let r = refresh_as(&app, &app.web, third.str("refresh_token"), &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
}

/// A revoked family is not revived by a retry inside the window.
#[tokio::test]
async fn sec_d04_grace_window_does_not_outlive_revocation() {
    let app = spawn_app_with(with_grace).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let r1 = token_of(&t, "refresh_token");
    let second = refresh_as(&app, &app.web, r1, &[]).await;
    let secret = app.web.client_secret.clone().expect("secret");
    let revoked = send(
        app.http
            .post(app.url("/2/oauth2/revoke"))
            .header(AUTHORIZATION, basic(&app.web.client_id, &secret))
            .header(CONTENT_TYPE, FORM)
            .body(form(&[("token", second.str("refresh_token"))])),
    )
    .await;
    assert_eq!(revoked.status, 200);
    let r = refresh_as(&app, &app.web, r1, &[]).await;
    assert_x_error(&r, 400, "invalid_request", X_INVALID_TOKEN);
    assert_eq!(app.me(second.str("access_token")).await, 401);
}

/// A rotation that fails part-way (here: an access digest that already exists) is rolled back
/// whole: the claim is undone, nothing is inserted, and the write connection is usable again.
#[tokio::test]
async fn store_rotation_failing_part_way_changes_nothing() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let hash = TokenHash::of(token_of(&t, "refresh_token"));
    let record = app
        .state
        .store
        .refresh_by_hash(hash)
        .await
        .expect("store")
        .expect("refresh row");
    let before = app.row_counts().await;
    let now = app.state.now();
    let clash = Rotation {
        presented: hash,
        app_id: record.app_id,
        now,
        access_hash: TokenHash::of(token_of(&t, "access_token")),
        access_expires_at: now + 1000,
        access_scopes: None,
        successor_hash: TokenHash::of("successor"),
        successor_expires_at: now + 1000,
        family_max_age_ms: 0,
    };
    assert!(app.state.store.rotate_refresh(clash).await.is_err());
    assert_eq!(app.row_counts().await, before);
    let stored = app
        .state
        .store
        .refresh_by_hash(hash)
        .await
        .expect("store")
        .expect("refresh row");
    assert!(stored.used_at.is_none(), "the claim was rolled back");
    // The connection is not left inside the failed transaction.
    let r = refresh_as(&app, &app.web, token_of(&t, "refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
}

/// Rotations arriving together are committed together (the store's group commit); one that
/// fails takes none of the others down with it, and each gets its own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_rotations_committed_together_answer_each_on_its_own() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let mut families = Vec::new();
    for _ in 0..12 {
        families.push(tokens_in(&app, &b, &app.web, ALL_SCOPES).await);
    }
    let app_id = app
        .state
        .store
        .refresh_by_hash(TokenHash::of(token_of(&families[0], "refresh_token")))
        .await
        .expect("store")
        .expect("refresh row")
        .app_id;
    let before = app.row_counts().await;
    let now = app.state.now();
    let barrier = Arc::new(tokio::sync::Barrier::new(families.len() + 2));
    let mut tasks = Vec::new();
    // Every family rotates once; family 0 is also presented a second time (one claim only),
    // and family 1 by a rotation whose access digest clashes with an existing token (an error).
    let mut jobs: Vec<(usize, TokenHash)> = (0..families.len())
        .map(|i| {
            (
                i,
                TokenHash::of(&roost_domain::secret::random_base64url(32)),
            )
        })
        .collect();
    jobs.push((
        0,
        TokenHash::of(&roost_domain::secret::random_base64url(32)),
    ));
    jobs.push((1, TokenHash::of(token_of(&families[2], "access_token"))));
    for (i, access) in jobs {
        let store = app.state.store.clone();
        let presented = TokenHash::of(token_of(&families[i], "refresh_token"));
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let rotation = Rotation {
                presented,
                app_id,
                now,
                access_hash: access,
                access_expires_at: now + 7_200_000,
                access_scopes: None,
                successor_hash: TokenHash::of(&roost_domain::secret::random_base64url(32)),
                successor_expires_at: now + 3_600_000,
                family_max_age_ms: 0,
            };
            barrier.wait().await;
            (i, store.rotate_refresh(rotation).await)
        }));
    }
    let mut claimed = vec![0; families.len()];
    let mut errors = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (i, Ok(Some(_))) => claimed[i] += 1,
            (_, Ok(None)) => {}
            (i, Err(_)) => errors.push(i),
        }
    }
    assert_eq!(
        claimed,
        vec![1; families.len()],
        "each family rotated exactly once"
    );
    // Family 1's clashing rotation either lost to the good one or failed on its own.
    assert!(errors.iter().all(|i| *i == 1), "{errors:?}");
    let after = app.row_counts().await;
    let n = i64::try_from(families.len()).expect("count");
    assert_eq!(after["access_tokens"], before["access_tokens"] + n);
    assert_eq!(after["refresh_tokens"], before["refresh_tokens"] + n);
}
