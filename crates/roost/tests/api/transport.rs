//! Transport and resource hardening: slow senders and idle connections (checklist H2, K5),
//! store outages and timeouts (K5), readiness, the argon2 cap under a login flood (K2), the
//! client address behind proxies (I7), CORS (I4) and the headers of every HTML page (I1).

use std::time::{Duration, Instant};

use roost::net::{ApiOrigin, ForwardedHeader, Origin, ProxyNet};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

// ---- H2 / K5: the header-read timeout ----

/// Reads until the server closes the connection (or `limit` passes); returns what was read and
/// whether the server closed.
async fn read_until_closed(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    limit: Duration,
) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 4096];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (buf, closed)
}

#[tokio::test]
async fn sec_h02_slow_header_sender_is_disconnected() {
    let app = spawn_app_with(|c| c.server.header_read_timeout = 1).await;
    let timeout = Duration::from_secs(app.state.config.server.header_read_timeout);
    let head: &[u8] =
        b"GET /healthz HTTP/1.1\r\nHost: roost.test\r\nX-Slow: one-byte-at-a-time\r\n\r\n";
    let interval = Duration::from_millis(100);
    assert!(
        interval * head.len() as u32 > timeout * 3,
        "the trickle outlasts the timeout"
    );
    let stream = TcpStream::connect(&app.state.config.server.addr)
        .await
        .unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let mut sent = 0;
        for byte in head {
            if wr.write_all(&[*byte]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(interval).await;
        }
        sent
    });
    let (answer, closed) = read_until_closed(&mut rd, timeout * 4).await;
    let elapsed = started.elapsed();
    assert!(
        closed,
        "the slow sender was still connected after {:?}",
        timeout * 4
    );
    assert!(
        elapsed >= timeout - Duration::from_millis(100),
        "closed after {elapsed:?}, before the timeout: not the timeout's doing"
    );
    assert!(
        !answer.starts_with(b"HTTP/1.1 2"),
        "an unfinished request was answered: {}",
        String::from_utf8_lossy(&answer)
    );
    let sent = writer.await.unwrap();
    assert!(
        sent < head.len(),
        "the server waited for the whole head ({sent} bytes)"
    );
    // Everyone else is served as usual, a slow but timely sender included.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let stream = TcpStream::connect(&app.state.config.server.addr)
        .await
        .unwrap();
    let (mut rd, mut wr) = stream.into_split();
    for part in head.chunks(head.len() / 3 + 1) {
        wr.write_all(part).await.unwrap();
        tokio::time::sleep(timeout / 5).await;
    }
    let mut status = [0u8; 12];
    rd.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 200");
}

#[tokio::test]
async fn sec_k05_idle_connections_are_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|c| c.server.header_read_timeout = 1).await;
    let timeout = Duration::from_secs(app.state.config.server.header_read_timeout);
    // A connection that never sends a byte.
    let stream = TcpStream::connect(&app.state.config.server.addr)
        .await
        .unwrap();
    let (mut rd, _wr) = stream.into_split();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut rd, timeout * 4).await;
    assert!(closed, "a silent connection stayed open");
    assert!(started.elapsed() >= timeout - Duration::from_millis(100));
    assert!(answer.is_empty() || !answer.starts_with(b"HTTP/1.1 2"));
    // A kept-alive connection after its first answer.
    let stream = TcpStream::connect(&app.state.config.server.addr)
        .await
        .unwrap();
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(b"GET /healthz HTTP/1.1\r\nHost: roost.test\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut rd, timeout * 4).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(closed, "an idle kept-alive connection stayed open");
    assert!(started.elapsed() >= timeout - Duration::from_millis(100));
}

// ---- K5: the whole-request timeout ----

/// Reads until a whole response head has arrived (or `limit` passes); returns what was read.
async fn read_head(rd: &mut tokio::net::tcp::OwnedReadHalf, limit: Duration) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    buf
}

#[tokio::test]
async fn sec_k05_a_body_trickled_past_the_request_timeout_gets_408() {
    let app = spawn_app_with(|c| c.server.request_timeout = 1).await;
    let timeout = Duration::from_secs(app.state.config.server.request_timeout);
    let secret = app.web.client_secret.clone().unwrap();
    let body = b"grant_type=client_credentials&scope=tweet.read%20users.read%20follows.read";
    // A whole head, promising more body than will ever come, then the body a byte at a time:
    // the connection is never idle, so only the request timeout can end it.
    let head = format!(
        "POST /2/oauth2/token HTTP/1.1\r\nHost: roost.test\r\nAuthorization: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        roost_domain::BasicCredentials::header_value(&app.web.client_id, &secret),
        body.len() + 100
    );
    let interval = Duration::from_millis(50);
    assert!(
        interval * body.len() as u32 > timeout * 3,
        "the trickle outlasts the timeout"
    );
    let stream = TcpStream::connect(&app.state.config.server.addr)
        .await
        .unwrap();
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        for byte in body {
            if wr.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(interval).await;
        }
        wr
    });
    // Meanwhile everyone else is served.
    let (status, answer, _) = app
        .token(
            &app.web.client_id,
            Some(&secret),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        started.elapsed() < timeout,
        "answered only after the slow request's timeout"
    );
    let answer = read_head(&mut rd, timeout * 5).await;
    let elapsed = started.elapsed();
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "after {elapsed:?}: {}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        elapsed >= timeout - Duration::from_millis(100),
        "408 after {elapsed:?}, before the timeout"
    );
    assert!(
        elapsed < timeout * 3,
        "408 after {elapsed:?}, long after the timeout"
    );
    assert!(
        !writer.is_finished(),
        "the whole body was sent before the timeout: not the timeout's doing"
    );
    writer.abort();
    // The server still serves.
    let (status, answer, _) = app
        .token(
            &app.web.client_id,
            Some(&secret),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

// ---- K5: store failures answer 503 ----

/// A connection of our own to the server's database, to break or lock it from outside.
async fn outside_connection(app: &TestApp) -> Outside {
    app.outside().await
}

async fn exec(conn: &mut Outside, sql: &str) {
    conn.exec(sql).await;
}

struct Answer {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

async fn post(app: &TestApp, path: &str, basic: (&str, &str), body: &str) -> Answer {
    let resp = app
        .http
        .post(app.url(path))
        .basic_auth(basic.0, Some(basic.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

/// Every OAuth endpoint, with a request that succeeds while the store works.
async fn oauth_requests(
    app: &TestApp,
) -> Vec<(&'static str, &'static str, (String, String), String)> {
    let tokens = app.tokens(ALL_SCOPES).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let web = (
        app.web.client_id.clone(),
        app.web.client_secret.clone().unwrap(),
    );
    let api = (app.web.api_key.clone(), app.web.api_secret.clone());
    let app_token = app.app_token().await;
    vec![
        (
            "client_credentials",
            "/2/oauth2/token",
            web.clone(),
            "grant_type=client_credentials".to_owned(),
        ),
        (
            "refresh",
            "/2/oauth2/token",
            web.clone(),
            form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]),
        ),
        (
            "revoke",
            "/2/oauth2/revoke",
            web,
            form(&[("token", &refresh)]),
        ),
        (
            "app-only",
            "/oauth2/token",
            api.clone(),
            "grant_type=client_credentials".to_owned(),
        ),
        (
            "invalidate",
            "/oauth2/invalidate_token",
            api,
            form(&[("access_token", &app_token)]),
        ),
    ]
}

fn assert_retry_after(name: &str, headers: &reqwest::header::HeaderMap) {
    let retry: u64 = headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("{name}: no Retry-After"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{name}: Retry-After {retry}");
}

async fn store_errors_answer_503(strict: bool) {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = strict).await;
    let requests = oauth_requests(&app).await;
    let mut conn = outside_connection(&app).await;
    // Every request authenticates an App first; without the table, that store call fails.
    exec(&mut conn, "ALTER TABLE apps RENAME TO apps_away").await;
    // Past the short-lived App cache, so the store is asked.
    app.clock.advance_ms(2_000);
    let before = crate::storage::db::snapshot(&app).await;
    for (name, path, (id, secret), body) in &requests {
        let a = post(&app, path, (id, secret), body).await;
        assert_eq!(a.status, 503, "{name}: {}", a.body);
        assert_retry_after(name, &a.headers);
        assert_eq!(a.headers["cache-control"], "no-store", "{name}");
        let app_only = path.starts_with("/oauth2/");
        match (strict, app_only) {
            (false, true) => assert_eq!(
                a.body,
                serde_json::json!({"errors": [{"code": 130, "message": "Over capacity"}]}),
                "{name}"
            ),
            (false, false) => {
                assert_eq!(a.body["error"], "temporarily_unavailable", "{name}");
                assert_eq!(a.body["error_description"], "Service Unavailable", "{name}");
                assert!(a.body["roost_detail"].is_string(), "{name}");
            }
            (true, _) => {
                assert_eq!(a.body["error"], "temporarily_unavailable", "{name}");
                assert!(
                    a.body["error_description"]
                        .as_str()
                        .unwrap()
                        .contains("temporary overloading"),
                    "{name}: {}",
                    a.body
                );
                assert!(a.body.get("roost_detail").is_none(), "{name}");
            }
        }
        assert!(
            !a.body.to_string().contains("apps"),
            "{name}: the store's message leaked: {}",
            a.body
        );
    }
    // The authorize page: 503 too, not the "bad request" page.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&browser(), &app.authorize_url(&p)).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert_retry_after("authorize", &page.headers);
    crate::storage::db::assert_unchanged(&app, &before, "during the outage").await;
    // The API fails closed the same way when it has to ask the store about a token.
    exec(
        &mut conn,
        "ALTER TABLE access_tokens RENAME TO access_tokens_away",
    )
    .await;
    let resp = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth("a-token-this-server-has-not-seen-yet")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_retry_after("api", resp.headers());
    exec(
        &mut conn,
        "ALTER TABLE access_tokens_away RENAME TO access_tokens",
    )
    .await;

    // Back in order, everything works again.
    exec(&mut conn, "ALTER TABLE apps_away RENAME TO apps").await;
    for (name, path, (id, secret), body) in &requests {
        let a = post(&app, path, (id, secret), body).await;
        assert_eq!(a.status, 200, "{name} after the outage: {}", a.body);
    }
}

#[tokio::test]
async fn sec_k05_store_errors_on_the_oauth_endpoints_are_503() {
    store_errors_answer_503(false).await;
}

#[tokio::test]
async fn sec_k05_store_errors_on_the_oauth_endpoints_are_503_in_strict_mode() {
    store_errors_answer_503(true).await;
}

#[tokio::test]
async fn sec_k05_a_locked_store_answers_503_within_the_database_timeout() {
    let app = spawn_app_with(|c| c.server.database_timeout = 1).await;
    let timeout = Duration::from_secs(app.state.config.server.database_timeout);
    let web = (
        app.web.client_id.clone(),
        app.web.client_secret.clone().unwrap(),
    );
    let mut conn = outside_connection(&app).await;
    // Another process holds the write lock (SQLite's, or on PostgreSQL a lock on the table the
    // token goes into); issuing a token needs it.
    let lock = match app.store_kind {
        StoreKind::Sqlite => "BEGIN IMMEDIATE",
        StoreKind::Postgres => "BEGIN; LOCK TABLE access_tokens IN EXCLUSIVE MODE",
    };
    exec(&mut conn, lock).await;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let http = app.http.clone();
        let url = app.url("/2/oauth2/token");
        let web = web.clone();
        set.spawn(async move {
            let resp = http
                .post(url)
                .basic_auth(&web.0, Some(&web.1))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .unwrap();
            (
                resp.status().as_u16(),
                resp.headers().clone(),
                resp.json::<Value>().await.unwrap(),
            )
        });
    }
    while let Some(r) = set.join_next().await {
        let (status, headers, body) = r.unwrap();
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable");
        assert_retry_after("locked token", &headers);
    }
    // Queued requests wait for the connection at most the timeout, then for the lock at most
    // the timeout: bounded, far below the request timeout.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeout - Duration::from_millis(100),
        "{elapsed:?}"
    );
    assert!(elapsed < timeout * 4, "waited {elapsed:?}");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    // SQLite's write lock is the whole database's: no grant can be written, so the node is
    // not ready. On PostgreSQL one locked table is not an outage of the database, which
    // answers: readiness is its `SELECT 1`.
    let expected = match app.store_kind {
        StoreKind::Sqlite => 503,
        StoreKind::Postgres => 200,
    };
    assert_eq!(
        ready.status(),
        expected,
        "readiness while writes are blocked"
    );
    exec(&mut conn, "ROLLBACK").await;
    let a = post(
        &app,
        "/2/oauth2/token",
        (&web.0, &web.1),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn readyz_is_503_when_the_store_cannot_be_read() {
    let app = spawn_app().await;
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ok");
    let mut conn = outside_connection(&app).await;
    exec(
        &mut conn,
        "ALTER TABLE server_keys RENAME TO server_keys_away",
    )
    .await;
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["status"],
        "unavailable"
    );
    // Liveness is not readiness.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    exec(
        &mut conn,
        "ALTER TABLE server_keys_away RENAME TO server_keys",
    )
    .await;
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

// ---- K2: the argon2 cap turns a flood away quickly ----

/// Opens the login page in `n` fresh browsers; returns each with its form keys.
async fn login_forms(app: &TestApp, n: usize) -> Vec<(reqwest::Client, String, String)> {
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let mut out = Vec::new();
    for _ in 0..n {
        let b = browser();
        let page = app.get_page(&b, &app.authorize_url(&p)).await;
        assert_eq!(page.status, 200);
        let csrf = hidden(&page.body, "csrf_token").unwrap();
        let request = hidden(&page.body, "request").unwrap();
        out.push((b, csrf, request));
    }
    out
}

/// Posts every form at once with the right password; returns each answer.
async fn concurrent_logins(
    app: &TestApp,
    forms: Vec<(reqwest::Client, String, String)>,
) -> Vec<Page> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(forms.len()));
    let mut set = tokio::task::JoinSet::new();
    for (b, csrf, request) in forms {
        let url = app.url("/i/oauth2/authorize");
        let barrier = barrier.clone();
        set.spawn(async move {
            let body = form(&[
                ("csrf_token", &csrf),
                ("request", &request),
                ("username", "alice"),
                ("password", PASSWORD),
            ]);
            barrier.wait().await;
            let resp = b
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            Page {
                status: resp.status(),
                headers: resp.headers().clone(),
                body: resp.text().await.unwrap(),
            }
        });
    }
    let mut pages = Vec::new();
    while let Some(p) = set.join_next().await {
        pages.push(p.unwrap());
    }
    pages
}

#[tokio::test]
async fn sec_k02_a_login_flood_gets_503_not_500() {
    let app = spawn_app_with(|c| {
        c.login.max_concurrent_hashes = 1;
        c.login.hash_wait = 0;
    })
    .await;
    let forms = login_forms(&app, 16).await;
    let pages = concurrent_logins(&app, forms).await;
    let ok = pages.iter().filter(|p| p.status == 303).count();
    let busy: Vec<&Page> = pages.iter().filter(|p| p.status == 503).collect();
    for p in &pages {
        assert!(
            p.status == 303 || p.status == 503,
            "{}: {}",
            p.status,
            p.body
        );
    }
    assert!(ok >= 1, "nobody got in");
    assert!(
        !busy.is_empty(),
        "16 logins at once on one hashing slot, none turned away"
    );
    for p in &busy {
        // The login form again, saying why, with a hint when to come back.
        assert!(p.body.contains("name=\"password\""), "{}", p.body);
        assert!(p.body.contains("try again in a moment"), "{}", p.body);
        assert_retry_after("busy login", &p.headers);
        assert_eq!(p.headers["cache-control"], "no-store");
    }
    let dump = crate::storage::db::snapshot(&app).await;
    assert_eq!(
        dump.table("sessions").len(),
        ok,
        "a session per successful login only"
    );
    assert!(
        dump.table("login_failures").is_empty(),
        "overload is not a failed login"
    );
}

#[tokio::test]
async fn sec_k02_logins_wait_briefly_for_a_hashing_slot() {
    let app = spawn_app_with(|c| c.login.max_concurrent_hashes = 1).await;
    assert!(app.state.config.login.hash_wait >= 1);
    let forms = login_forms(&app, 2).await;
    for p in concurrent_logins(&app, forms).await {
        assert_eq!(p.status, 303, "{}", p.body);
    }
}

/// One token-endpoint request (a form) with Basic `id:secret`; returns the status.
async fn token_status(
    app: &TestApp,
    path: &str,
    id: &str,
    secret: &str,
    fields: &[(&str, &str)],
) -> u16 {
    app.http
        .post(app.url(path))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Client secrets, refresh tokens and API secrets are 256-bit random values compared as
/// SHA-256 digests: no token request, right or wrong, pays for argon2, so the token endpoints
/// cannot be used to exhaust the hashing slots logins need. The hasher's counter shows it.
#[tokio::test]
async fn sec_k02_token_endpoint_load_runs_no_argon2() {
    let app = spawn_app().await;
    let runs = || app.state.hasher.argon2_runs();
    let tokens = app.tokens(ALL_SCOPES).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let before = runs();
    assert!(before >= 2, "the two logins above ran argon2 ({before})");

    let id = app.web.client_id.clone();
    let secret = app.web.client_secret.clone().unwrap();
    let native = app.native.client_id.clone();
    let (key, api_secret) = (app.web.api_key.clone(), app.web.api_secret.clone());
    let cc = [("grant_type", "client_credentials")];
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = app.exchange(&code, &p.verifier).await;
    assert_eq!(status, 200, "{body}");
    for round in 0..20 {
        let wrong = format!("wrong-secret-{round}");
        assert_eq!(
            token_status(&app, "/2/oauth2/token", &id, &secret, &cc).await,
            200
        );
        assert_eq!(
            token_status(&app, "/2/oauth2/token", &id, &wrong, &cc).await,
            401
        );
        assert_eq!(
            token_status(
                &app,
                "/2/oauth2/token",
                "bm8tc3VjaC1hcHA6MTpjaQ",
                &secret,
                &cc
            )
            .await,
            401
        );
        // A public App presenting a secret.
        assert_eq!(
            token_status(&app, "/2/oauth2/token", &native, &wrong, &cc).await,
            401
        );
        let (status, body) = app.refresh(&refresh).await;
        assert_eq!(status, 200, "{body}");
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let bogus = [
            ("grant_type", "refresh_token"),
            ("refresh_token", wrong.as_str()),
        ];
        assert_eq!(
            token_status(&app, "/2/oauth2/token", &id, &secret, &bogus).await,
            400
        );
        assert_eq!(
            token_status(&app, "/2/oauth2/token", &id, &wrong, &bogus).await,
            401
        );
        assert_eq!(
            token_status(&app, "/oauth2/token", &key, &api_secret, &cc).await,
            200
        );
        assert_eq!(
            token_status(&app, "/oauth2/token", &key, &wrong, &cc).await,
            403
        );
        let revoke = [("token", wrong.as_str())];
        assert_eq!(
            token_status(&app, "/2/oauth2/revoke", &id, &secret, &revoke).await,
            200
        );
        assert_eq!(
            token_status(&app, "/2/oauth2/revoke", &id, &wrong, &revoke).await,
            401
        );
    }
    // And a burst at once, right and wrong.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (http, url) = (app.http.clone(), app.url("/2/oauth2/token"));
        let (id, pw) = (
            id.clone(),
            if i % 2 == 0 {
                secret.clone()
            } else {
                format!("wrong-{i}")
            },
        );
        set.spawn(async move {
            http.post(url)
                .basic_auth(id, Some(pw))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = set.join_next().await {
        assert!([200, 401].contains(&status.unwrap()));
    }
    assert_eq!(runs(), before, "a token request ran argon2");

    // One login (a wrong password counts too): one computation each.
    let b = browser();
    let consent = app
        .login(&b, &AuthParams::new(&id, ALL_SCOPES), "alice")
        .await;
    assert_eq!(consent.status, 200);
    assert_eq!(runs(), before + 1);
    let (b, csrf, request) = login_forms(&app, 1).await.pop().unwrap();
    let resp = app
        .post_form(
            &b,
            &[
                ("csrf_token", &csrf),
                ("request", &request),
                ("username", "alice"),
                ("password", "not alice's password"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 401, "the login form again");
    assert_eq!(runs(), before + 2);
}

// ---- I7: forwarded headers only from trusted proxies ----

/// A browser on the login page, to post failed logins from.
struct LoginForm {
    b: reqwest::Client,
    csrf: String,
    request: String,
}

impl LoginForm {
    async fn open(app: &TestApp) -> Self {
        let mut forms = login_forms(app, 1).await;
        let (b, csrf, request) = forms.remove(0);
        Self { b, csrf, request }
    }

    async fn fail(&self, app: &TestApp, username: &str, headers: &[(&str, &str)]) -> u16 {
        let mut req = self
            .b
            .post(app.url("/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(form(&[
            ("csrf_token", &self.csrf),
            ("request", &self.request),
            ("username", username),
            ("password", "wrong"),
        ]))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
    }
}

/// The addresses the login throttle counted failures for.
async fn throttled_addresses(app: &TestApp) -> Vec<String> {
    let dump = crate::storage::db::snapshot(app).await;
    let mut out: Vec<String> = dump
        .table("login_failures")
        .iter()
        .filter_map(|r| match r.get("key") {
            Some(crate::storage::db::Cell::Text(k)) => k.strip_prefix("addr:").map(str::to_owned),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

async fn client_credentials(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    let mut req = app
        .http
        .post(app.url("/2/oauth2/token"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn sec_i07_forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_app_with(|c| {
        c.login.max_failures_per_address = 3;
        c.rate_limits.oauth_per_address = 3;
    })
    .await;
    assert!(
        app.state.config.server.trusted_proxies.is_empty(),
        "nothing trusted by default"
    );
    let limit = app.state.config.login.max_failures_per_address as usize;
    let login = LoginForm::open(&app).await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let xff = format!("203.0.113.{i}");
        let fwd = format!("for=198.51.100.{i}");
        let user = format!("user{i}");
        let headers = [
            ("x-forwarded-for", xff.as_str()),
            ("forwarded", fwd.as_str()),
        ];
        statuses.push(login.fail(&app, &user, &headers).await);
    }
    assert_eq!(
        &statuses[..limit],
        vec![401; limit].as_slice(),
        "{statuses:?}"
    );
    assert!(statuses[limit..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        throttled_addresses(&app).await,
        vec!["127.0.0.1".to_owned()]
    );
    // The OAuth endpoints' per-address limit alike.
    let oauth_limit = app.state.config.rate_limits.oauth_per_address as usize;
    let mut statuses = Vec::new();
    for i in 0..oauth_limit + 2 {
        let xff = format!("203.0.113.{i}");
        statuses.push(client_credentials(&app, &[("x-forwarded-for", &xff)]).await);
    }
    assert!(
        statuses[..oauth_limit].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(
        statuses[oauth_limit..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn sec_i07_behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let app = spawn_app_with(|c| {
        c.login.max_failures_per_address = 3;
        c.rate_limits.oauth_per_address = 3;
        c.server.trusted_proxies = vec![ProxyNet::try_from("127.0.0.1/32".to_owned()).unwrap()];
    })
    .await;
    let limit = app.state.config.login.max_failures_per_address as usize;
    let login = LoginForm::open(&app).await;
    // The client forges the left part of the chain; the proxy appends the address it saw.
    let mut statuses = Vec::new();
    for i in 0..limit + 2 {
        let xff = format!("198.51.100.{i}, 203.0.113.5");
        let user = format!("user{i}");
        statuses.push(login.fail(&app, &user, &[("x-forwarded-for", &xff)]).await);
    }
    assert_eq!(
        &statuses[..limit],
        vec![401; limit].as_slice(),
        "{statuses:?}"
    );
    assert!(statuses[limit..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another client behind the same proxy is not throttled with it.
    assert_eq!(
        login
            .fail(&app, "other", &[("x-forwarded-for", "203.0.113.6")])
            .await,
        401
    );
    // Without the header, the proxy itself is the client.
    assert_eq!(login.fail(&app, "direct", &[]).await, 401);
    assert_eq!(
        throttled_addresses(&app).await,
        vec![
            "127.0.0.1".to_owned(),
            "203.0.113.5".to_owned(),
            "203.0.113.6".to_owned()
        ]
    );
    // `Forwarded` is not the configured header: it cannot pick an address.
    assert_eq!(
        login
            .fail(&app, "fwd", &[("forwarded", "for=192.0.2.77")])
            .await,
        401
    );
    assert!(
        !throttled_addresses(&app)
            .await
            .contains(&"192.0.2.77".to_owned())
    );
    // The OAuth endpoints count per forwarded address too.
    let oauth_limit = app.state.config.rate_limits.oauth_per_address as usize;
    for _ in 0..oauth_limit {
        assert_eq!(
            client_credentials(&app, &[("x-forwarded-for", "203.0.113.7")]).await,
            200
        );
    }
    assert_eq!(
        client_credentials(&app, &[("x-forwarded-for", "203.0.113.7")]).await,
        429
    );
    assert_eq!(
        client_credentials(&app, &[("x-forwarded-for", "203.0.113.8")]).await,
        200
    );
}

#[tokio::test]
async fn sec_i07_the_forwarded_header_when_configured() {
    let app = spawn_app_with(|c| {
        c.login.max_failures_per_address = 1;
        c.server.trusted_proxies = vec![ProxyNet::try_from("127.0.0.1".to_owned()).unwrap()];
        c.server.forwarded_header = ForwardedHeader::Forwarded;
    })
    .await;
    let login = LoginForm::open(&app).await;
    let fwd = [
        ("forwarded", "for=\"[2001:db8::1]:4711\";proto=https"),
        ("x-forwarded-for", "192.0.2.1"),
    ];
    assert_eq!(login.fail(&app, "a", &fwd).await, 401);
    assert_eq!(login.fail(&app, "b", &fwd).await, 429);
    assert_eq!(
        login
            .fail(&app, "c", &[("forwarded", "for=203.0.113.1")])
            .await,
        401
    );
    assert_eq!(
        throttled_addresses(&app).await,
        vec!["2001:db8::1".to_owned(), "203.0.113.1".to_owned()]
    );
}

// ---- I4: CORS ----

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

fn no_cors(name: &str, h: &reqwest::header::HeaderMap) {
    for k in h.keys() {
        assert!(
            !k.as_str().starts_with("access-control-"),
            "{name}: {k} = {:?}",
            h[k]
        );
    }
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

async fn token_with_origin(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .post(app.url("/2/oauth2/token"))
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &app.native.client_id),
        ]))
        .send()
        .await
        .unwrap()
}

const LISTED: &str = "https://app.example";

#[tokio::test]
async fn sec_i04_no_cors_anywhere_by_default() {
    let app = spawn_app().await;
    let token = app.app_token().await;
    for path in [
        "/2/oauth2/token",
        "/2/oauth2/revoke",
        "/oauth2/token",
        "/2/users/me",
        "/i/oauth2/authorize",
    ] {
        let r = preflight(&app, path, LISTED, "POST").await;
        no_cors(path, r.headers());
    }
    let r = token_with_origin(&app, LISTED).await;
    no_cors("token", r.headers());
    let r = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(&token)
        .header("origin", LISTED)
        .send()
        .await
        .unwrap();
    no_cors("api", r.headers());
}

#[tokio::test]
async fn sec_i04_token_and_revoke_answer_listed_origins_only() {
    let app = spawn_app_with(|c| {
        c.cors.token_origins = vec![Origin::try_from(LISTED.to_owned()).unwrap()];
    })
    .await;
    for path in ["/2/oauth2/token", "/2/oauth2/revoke"] {
        let r = preflight(&app, path, LISTED, "POST").await;
        let h = r.headers();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(header(h, "access-control-allow-origin"), LISTED, "{path}");
        assert!(
            header(h, "vary").to_ascii_lowercase().contains("origin"),
            "{path}"
        );
        assert!(
            h.get("access-control-allow-credentials").is_none(),
            "{path}"
        );
        assert!(
            header(h, "access-control-allow-methods").contains("POST"),
            "{path}"
        );
        let allowed = header(h, "access-control-allow-headers").to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{path}: {allowed}"
        );
        for origin in [
            "https://evil.test",
            "null",
            "https://app.example.evil.test",
            "http://app.example",
            "https://APP.example",
        ] {
            let r = preflight(&app, path, origin, "POST").await;
            assert!(
                r.headers().get("access-control-allow-origin").is_none(),
                "{path} from {origin}"
            );
            assert!(
                r.headers()
                    .get("access-control-allow-credentials")
                    .is_none()
            );
        }
    }
    // The requests themselves: the answer is readable by the listed origin only.
    let r = token_with_origin(&app, LISTED).await;
    assert_eq!(r.status(), 400);
    assert_eq!(header(r.headers(), "access-control-allow-origin"), LISTED);
    assert!(
        header(r.headers(), "vary")
            .to_ascii_lowercase()
            .contains("origin")
    );
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    for origin in ["https://evil.test", "null"] {
        let r = token_with_origin(&app, origin).await;
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    let r = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .header("origin", LISTED)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", "x"),
            ("client_id", &app.native.client_id),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "access-control-allow-origin"), LISTED);
    // The metadata a browser App discovers the endpoints from.
    let r = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .header("origin", LISTED)
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "access-control-allow-origin"), LISTED);
    // Never the app-only endpoints (API key and secret), the API, or the pages.
    for path in [
        "/oauth2/token",
        "/oauth2/invalidate_token",
        "/2/users/me",
        "/i/oauth2/authorize",
        "/2/oauth2/authorize",
    ] {
        no_cors(path, preflight(&app, path, LISTED, "POST").await.headers());
    }
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let r = app
        .http
        .get(app.authorize_url(&p))
        .header("origin", LISTED)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    no_cors("login page", r.headers());
}

#[tokio::test]
async fn sec_i04_the_api_allows_listed_origins() {
    let app = spawn_app_with(|c| {
        c.cors.api_origins = vec![ApiOrigin::try_from(LISTED.to_owned()).unwrap()];
    })
    .await;
    let token = app.tokens(ALL_SCOPES).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = preflight(&app, "/2/users/me", LISTED, "GET").await;
    assert!(r.status().is_success());
    assert_eq!(header(r.headers(), "access-control-allow-origin"), LISTED);
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let r = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(&token)
        .header("origin", LISTED)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "access-control-allow-origin"), LISTED);
    let exposed = header(r.headers(), "access-control-expose-headers").to_ascii_lowercase();
    assert!(exposed.contains("x-rate-limit-remaining"), "{exposed}");
    for origin in ["https://evil.test", "null"] {
        let r = preflight(&app, "/2/users/me", origin, "GET").await;
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    // The token endpoint has its own list, empty here.
    no_cors("token", token_with_origin(&app, LISTED).await.headers());
}

#[tokio::test]
async fn sec_i04_the_api_may_allow_any_origin_without_credentials() {
    let app = spawn_app_with(|c| {
        c.cors.api_origins = vec![ApiOrigin::Any];
    })
    .await;
    let token = app.app_token().await;
    let r = preflight(&app, "/2/tweets", "https://anyone.example", "POST").await;
    assert!(r.status().is_success());
    assert_eq!(header(r.headers(), "access-control-allow-origin"), "*");
    let methods = header(r.headers(), "access-control-allow-methods");
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let r = app
        .http
        .get(app.url("/2/users/by/username/alice"))
        .bearer_auth(&token)
        .header("origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "access-control-allow-origin"), "*");
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    // Errors are readable too, so a browser App can tell a 401 from a network failure.
    let r = app
        .http
        .get(app.url("/2/users/me"))
        .header("origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(r.headers(), "access-control-allow-origin"), "*");
    // The OAuth endpoints and the pages stay closed.
    no_cors(
        "token",
        token_with_origin(&app, "https://anyone.example")
            .await
            .headers(),
    );
    no_cors(
        "authorize",
        preflight(
            &app,
            "/i/oauth2/authorize",
            "https://anyone.example",
            "POST",
        )
        .await
        .headers(),
    );
}

#[test]
fn sec_i04_wildcards_and_null_cannot_be_configured_for_the_token_endpoint() {
    for bad in [
        "[cors]\ntoken_origins = [\"*\"]\n",
        "[cors]\ntoken_origins = [\"null\"]\n",
        "[cors]\ntoken_origins = [\"https://app.example/path\"]\n",
        "[cors]\napi_origins = [\"null\"]\n",
        "[cors]\napi_origins = [\"*\", \"https://app.example\"]\n",
    ] {
        let err = roost::config::Config::from_toml_str(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cors") || err.contains("origin"),
            "{bad}: {err}"
        );
    }
}

// ---- I1: the headers of every HTML page ----

/// The whole header set of checklist I1 (and A10) on one HTML response.
fn assert_page_headers(name: &str, h: &reqwest::header::HeaderMap) {
    assert_eq!(
        header(h, "content-type"),
        "text/html; charset=utf-8",
        "{name}"
    );
    let csp = header(h, "content-security-policy");
    let directives: std::collections::BTreeMap<&str, &str> = csp
        .split(';')
        .filter_map(|d| {
            let d = d.trim();
            let (k, v) = d.split_once(' ').unwrap_or((d, ""));
            (!k.is_empty()).then_some((k, v.trim()))
        })
        .collect();
    for (directive, want) in [
        ("default-src", "'none'"),
        ("style-src", "'self'"),
        ("img-src", "'self' data:"),
        ("base-uri", "'none'"),
        ("frame-ancestors", "'none'"),
    ] {
        assert_eq!(
            directives.get(directive).copied(),
            Some(want),
            "{name}: {directive} in `{csp}`"
        );
    }
    // No script at all: default-src 'none' covers script-src, and nothing loosens it.
    if let Some(script) = directives.get("script-src") {
        assert_eq!(*script, "'self'", "{name}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{name}: {csp}"
    );
    // Chromium would block the hop from the consent form to the callback.
    assert!(!directives.contains_key("form-action"), "{name}: {csp}");
    assert_eq!(header(h, "x-content-type-options"), "nosniff", "{name}");
    assert_eq!(header(h, "x-frame-options"), "DENY", "{name}");
    assert_eq!(header(h, "referrer-policy"), "no-referrer", "{name}");
    assert_eq!(header(h, "cache-control"), "no-store", "{name}");
    no_cors(name, h);
}

#[tokio::test]
async fn sec_i01_the_login_page_has_the_full_header_set() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&browser(), &app.authorize_url(&p)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\""));
    assert_page_headers("login page", &page.headers);
    // Its refusals are pages too: a wrong password (401) and the throttle (429).
    let login = LoginForm::open(&app).await;
    for _ in 0..app.state.config.login.max_failures_per_user {
        assert_eq!(login.fail(&app, "alice", &[]).await, 401);
    }
    for expected in [401, 429] {
        let resp = login
            .b
            .post(app.url("/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf_token", &login.csrf),
                ("request", &login.request),
                ("username", if expected == 401 { "bob" } else { "alice" }),
                ("password", "wrong"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), expected);
        assert_page_headers(&format!("login page {expected}"), resp.headers());
    }
}

#[tokio::test]
async fn sec_i01_the_consent_page_has_the_full_header_set() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let consent = app.login(&browser(), &p, "alice").await;
    assert_eq!(consent.status, 200);
    assert!(consent.body.contains("name=\"decision\""));
    assert_page_headers("consent page", &consent.headers);
}

#[tokio::test]
async fn sec_i01_error_pages_have_the_full_header_set() {
    let app = spawn_app().await;
    // Not redirectable (400), a refused form post (403), an expired form (400).
    let page = app
        .get_page(
            &browser(),
            &app.url("/i/oauth2/authorize?client_id=nope&redirect_uri=x"),
        )
        .await;
    assert_eq!(page.status, 400);
    assert_page_headers("400 error page", &page.headers);
    let resp = app
        .http
        .post(app.url("/i/oauth2/authorize"))
        .header("origin", "https://evil.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("decision=allow")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_page_headers("403 error page", resp.headers());
    let login = LoginForm::open(&app).await;
    let resp = login
        .b
        .post(app.url("/i/oauth2/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf_token", &login.csrf),
            ("request", "tampered"),
            ("decision", "allow"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_page_headers("expired page", resp.headers());
    // And the 503 page of a store outage.
    let mut conn = outside_connection(&app).await;
    exec(&mut conn, "ALTER TABLE apps RENAME TO apps_away").await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&browser(), &app.authorize_url(&p)).await;
    assert_eq!(page.status, 503);
    assert_page_headers("503 error page", &page.headers);
    exec(&mut conn, "ALTER TABLE apps_away RENAME TO apps").await;
}
