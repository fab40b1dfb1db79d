//! A node whose database is gone (checklist J6, K5): every surface answers a clean 503 with
//! `Retry-After` (no 500, no hang, no detail of the store), writes nothing, and cached tokens
//! stop being trusted within 1 s. The database is taken away from a peer node by closing its
//! store (`Store::close`: every call then fails as an unreachable database does), while the
//! first node goes on working on the same database. `cluster.rs` stops a real PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;
use crate::invalidation::{BOUND, api_creds, client, lookup_at, me_at, post_basic, web_creds};

/// What an HTTP answer is checked on.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("request");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// 503, `Retry-After`, and nothing of the store's own message.
    fn assert_unavailable(&self, what: &str) {
        assert_eq!(self.status, 503, "{what}: {}", self.body);
        let retry: u64 = self
            .headers
            .get("retry-after")
            .unwrap_or_else(|| panic!("{what}: no Retry-After"))
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&retry), "{what}: Retry-After {retry}");
        let lower = self.body.to_ascii_lowercase();
        for leak in [
            "pool",
            "sqlx",
            "sqlite",
            "postgres",
            "closed",
            "connection",
            "panick",
        ] {
            assert!(!lower.contains(leak), "{what}: `{leak}` in {}", self.body);
        }
    }
}

fn form_post(b: &reqwest::Client, url: String, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    b.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
}

/// A cached token keeps working only until the node's last good read of the invalidation feed
/// is 1 s old; then the node asks the store, and the store's absence is a 503. It never
/// becomes a 401 (the token is fine) or a 500.
#[tokio::test]
async fn sec_j06_cached_tokens_are_not_trusted_once_the_feed_cannot_be_read() {
    let app = spawn_app().await;
    let (peer, peer_state) = spawn_peer(&app).await;
    let user = app.tokens(ALL_SCOPES).await;
    let user = user["access_token"].as_str().expect("access").to_owned();
    let app_only = app.app_token().await;
    assert_eq!(me_at(&peer, &user).await, 200);
    assert_eq!(lookup_at(&peer, &app_only).await, 200);

    peer_state.store.close().await;
    let gone = Instant::now();
    for (what, token, path) in [
        ("user token", &user, "/2/users/me"),
        ("app-only token", &app_only, "/2/users/by/username/alice"),
    ] {
        loop {
            let a = answer(client().get(format!("{peer}{path}")).bearer_auth(token)).await;
            if a.status == 503 {
                a.assert_unavailable(what);
                assert_eq!(a.json()["title"], "Service Unavailable", "{what}");
                assert_eq!(a.json()["status"], 503, "{what}");
                break;
            }
            assert_eq!(
                a.status, 200,
                "{what}: a cached token is served or refused with 503"
            );
            // The bound counts from the node's last good read, which came before the close;
            // the margin is for this test's own requests on a busy machine.
            assert!(
                gone.elapsed() < BOUND + Duration::from_millis(250),
                "{what}: still served from the cache {:?} after the store went away",
                gone.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A token revoked on one node just before another loses its database is not served by the
/// other past the 1 s bound: it cannot hear of the revocation, so it stops trusting its cache.
#[tokio::test]
async fn sec_j06_a_token_revoked_just_before_the_outage_is_not_served_after_the_bound() {
    let app = spawn_app().await;
    let (peer, peer_state) = spawn_peer(&app).await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(me_at(&peer, access).await, 200);
    let (status, _) = post_basic(
        &app.base,
        "/2/oauth2/revoke",
        web_creds(&app),
        &[("token", access)],
    )
    .await;
    assert_eq!(status, 200);
    let revoked = Instant::now();
    peer_state.store.close().await;
    loop {
        let status = me_at(&peer, access).await;
        if status == 401 || status == 503 {
            break;
        }
        assert_eq!(status, 200);
        // As above: the bound, and a margin for this test's own requests.
        assert!(
            revoked.elapsed() < BOUND + Duration::from_millis(250),
            "{:?}",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let later = me_at(&peer, access).await;
    assert!(later == 401 || later == 503, "and stays refused: {later}");
}

async fn every_surface_answers_503(strict: bool) {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = strict).await;
    let (peer, peer_state) = spawn_peer(&app).await;
    // Requests that would succeed: prepared on the first node, sent to the peer.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let access = tokens["access_token"].as_str().expect("access");
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let app_only = app.app_token().await;
    let admin = roost::admin::create_token(&app.state, "outage")
        .await
        .expect("admin token");
    let b = browser();
    let login = app
        .get_page(
            &b,
            &app.authorize_url(&AuthParams::new(&app.web.client_id, ALL_SCOPES)),
        )
        .await;
    let csrf = hidden(&login.body, "csrf_token").expect("csrf");
    let sealed = hidden(&login.body, "request").expect("request");

    peer_state.store.close().await;
    let before = app.row_counts().await;

    let ready = answer(client().get(format!("{peer}/readyz"))).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["status"], "unavailable");
    let live = answer(client().get(format!("{peer}/healthz"))).await;
    assert_eq!(live.status, 200, "alive, just not ready");

    // The X API v2: the token cannot be checked, so nothing is served.
    let me = answer(
        client()
            .get(format!("{peer}/2/users/me"))
            .bearer_auth(access),
    )
    .await;
    me.assert_unavailable("GET /2/users/me");
    assert_eq!(
        me.json(),
        serde_json::json!({"title": "Service Unavailable", "type": "about:blank", "status": 503, "detail": "Service Unavailable"})
    );
    let post = answer(
        client()
            .post(format!("{peer}/2/tweets"))
            .bearer_auth(access)
            .json(&serde_json::json!({"text": "written during an outage"})),
    )
    .await;
    post.assert_unavailable("POST /2/tweets");

    // The OAuth endpoints.
    let (id, secret) = web_creds(&app);
    let (key, api_secret) = api_creds(&app);
    let oauth = [
        (
            "code exchange",
            "/2/oauth2/token",
            (id, secret),
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", p.verifier.as_str()),
            ],
        ),
        (
            "refresh",
            "/2/oauth2/token",
            (id, secret),
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh)],
        ),
        (
            "client_credentials",
            "/2/oauth2/token",
            (id, secret),
            vec![("grant_type", "client_credentials")],
        ),
        (
            "revoke",
            "/2/oauth2/revoke",
            (id, secret),
            vec![("token", access)],
        ),
        (
            "app-only token",
            "/oauth2/token",
            (key, api_secret),
            vec![("grant_type", "client_credentials")],
        ),
        (
            "invalidate_token",
            "/oauth2/invalidate_token",
            (key, api_secret),
            vec![("access_token", app_only.as_str())],
        ),
    ];
    for (what, path, (user, pass), fields) in &oauth {
        let a = answer(
            client()
                .post(format!("{peer}{path}"))
                .basic_auth(user, Some(pass))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(fields)),
        )
        .await;
        a.assert_unavailable(what);
        assert_eq!(a.headers["cache-control"], "no-store", "{what}");
        let body = a.json();
        match (strict, path.starts_with("/oauth2/")) {
            (false, true) => assert_eq!(
                body,
                serde_json::json!({"errors": [{"code": 130, "message": "Over capacity"}]}),
                "{what}"
            ),
            (false, false) => {
                assert_eq!(body["error"], "temporarily_unavailable", "{what}");
                assert_eq!(body["error_description"], "Service Unavailable", "{what}");
            }
            (true, _) => {
                assert_eq!(body["error"], "temporarily_unavailable", "{what}");
                assert!(body.get("roost_detail").is_none(), "{what}: {body}");
            }
        }
    }

    // The pages.
    let page = answer(b.get(format!(
        "{peer}/i/oauth2/authorize?{}",
        AuthParams::new(&app.web.client_id, ALL_SCOPES).query()
    )))
    .await;
    page.assert_unavailable("GET authorize");
    assert!(
        page.body.contains("could not reach its database"),
        "{}",
        page.body
    );
    let login_post = answer(
        b.post(format!("{peer}/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf_token", &csrf),
                ("request", &sealed),
                ("username", "alice"),
                ("password", PASSWORD),
            ])),
    )
    .await;
    login_post.assert_unavailable("POST authorize (login)");

    // The admin API.
    let admin_answer = answer(
        client()
            .get(format!("{peer}/admin/v1/apps"))
            .bearer_auth(admin.token.expose()),
    )
    .await;
    admin_answer.assert_unavailable("GET /admin/v1/apps");
    assert_eq!(admin_answer.json()["error"], "unavailable");

    // None of it reached the database, and the first node still serves what was prepared.
    assert_eq!(
        app.row_counts().await,
        before,
        "nothing written during the outage"
    );
    let (status, body) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 200, "the code was not burnt by the peer: {body}");
}

#[tokio::test]
async fn sec_k05_a_node_without_its_database_answers_503_on_every_surface() {
    every_surface_answers_503(false).await;
}

#[tokio::test]
async fn sec_k05_a_node_without_its_database_answers_503_on_every_surface_in_strict_mode() {
    every_surface_answers_503(true).await;
}

/// Runs statements on the test's database from outside the server, in its dialect.
async fn outside(app: &TestApp, statements: &[&str]) {
    use sqlx::Connection;
    if app.database_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&app.database_url)
            .await
            .expect("connect");
        for s in statements {
            sqlx::raw_sql(s).execute(&mut conn).await.expect(s);
        }
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&app.database_url)
            .await
            .expect("connect");
        for s in statements {
            sqlx::raw_sql(s).execute(&mut conn).await.expect(s);
        }
    }
}

/// Sessions the store cannot read are not "signed out": the authorize page, a consent answer
/// and a logout answer 503 instead of a login form or a logout that the store never recorded
/// (the session would outlive the cookie the answer clears).
#[tokio::test]
async fn sec_k05_unreadable_sessions_get_503_pages_not_a_login_form() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let b = browser();
    let consent = app.login(&b, &p, "alice").await;
    assert_eq!(consent.status, 200);
    assert!(
        consent.body.contains("name=\"decision\""),
        "the consent page"
    );
    let csrf = hidden(&consent.body, "csrf_token").expect("csrf");
    let sealed = hidden(&consent.body, "request").expect("request");

    outside(&app, &["ALTER TABLE sessions RENAME TO sessions_away"]).await;
    let page = answer(b.get(app.authorize_url(&p))).await;
    page.assert_unavailable("GET authorize with a session");
    let decide = answer(
        b.post(app.url("/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf_token", &csrf),
                ("request", &sealed),
                ("decision", "allow"),
            ])),
    )
    .await;
    decide.assert_unavailable("consent answer");
    let logout = answer(
        b.post(app.url("/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf_token", &csrf),
                ("request", &sealed),
                ("logout", "1"),
            ])),
    )
    .await;
    logout.assert_unavailable("logout");
    assert!(
        logout.headers.get("set-cookie").is_none(),
        "the cookie stays"
    );

    outside(&app, &["ALTER TABLE sessions_away RENAME TO sessions"]).await;
    let page = app.get_page(&b, &app.authorize_url(&p)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"decision\""), "still signed in");
}

/// A failed login the store cannot count is not answered "wrong password" (that would let
/// guesses past the throttle while counting is broken): 503, and nothing is said about the
/// password.
#[tokio::test]
async fn sec_a19_a_failed_login_that_cannot_be_counted_is_a_503() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let b = browser();
    let wrong = |b: reqwest::Client| {
        let app = &app;
        let p = &p;
        async move {
            let page = app.get_page(&b, &app.authorize_url(p)).await;
            let csrf = hidden(&page.body, "csrf_token").expect("csrf");
            let sealed = hidden(&page.body, "request").expect("request");
            answer(form_post(
                &b,
                app.url("/i/oauth2/authorize"),
                &[
                    ("csrf_token", &csrf),
                    ("request", &sealed),
                    ("username", "alice"),
                    ("password", "not her password"),
                ],
            ))
            .await
        }
    };
    let refuse_writes: &[&str] = if app.database_url.starts_with("postgres") {
        &[
            "CREATE FUNCTION refuse_write() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_write BEFORE INSERT OR UPDATE ON login_failures FOR EACH ROW EXECUTE FUNCTION refuse_write()",
        ]
    } else {
        &[
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON login_failures BEGIN SELECT RAISE(ABORT, 'refused'); END",
            "CREATE TRIGGER refuse_update BEFORE UPDATE ON login_failures BEGIN SELECT RAISE(ABORT, 'refused'); END",
        ]
    };
    outside(&app, refuse_writes).await;
    let a = wrong(b.clone()).await;
    a.assert_unavailable("an uncountable failed login");
    assert!(!a.body.contains("Wrong username or password"), "{}", a.body);
    let allow_writes: &[&str] = if app.database_url.starts_with("postgres") {
        &["DROP TRIGGER refuse_write ON login_failures"]
    } else {
        &["DROP TRIGGER refuse_insert", "DROP TRIGGER refuse_update"]
    };
    outside(&app, allow_writes).await;
    let a = wrong(b).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("Wrong username or password"));
}
