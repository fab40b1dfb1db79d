//! The database dies under load (checklist J6, K5): two `roost serve` nodes on a PostgreSQL of
//! this test's own, which it kills (`SIGKILL`) while the nodes serve traffic and later starts
//! again on the same port. Every node turns unready, everything that needs the database gets a
//! clean 503 within the store timeout (never a 500, never a hang), nothing is half-written, and
//! the nodes recover by themselves: ready again, a new flow works, and a revocation on one
//! reaches the other within 1 s.
//!
//! The server comes from `scripts/pg-throwaway` (Debian's `postgresql`; as root it installs it),
//! whatever store the rest of the run uses: the test never depends on `ROOST_TEST_POSTGRES_URL`
//! and is never skipped.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roost::accounts::CreatedApp;
use roost::clock::Clock;
use roost::config::Config;
use roost_domain::ClientType;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::helpers::*;
use crate::invalidation::{BOUND, all_answer_within, client, me_at};

/// Scopes that may post.
const SCOPES: &str = "tweet.read tweet.write users.read offline.access";

/// The store timeout the nodes run with: how long a request may wait for the database.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// A PostgreSQL of this test's own, stopped (and its directory removed) on drop.
struct Postgres {
    dir: PathBuf,
    url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-throwaway")
}

fn run_script(verb: &str, dir: &Path) -> String {
    let out = std::process::Command::new(script())
        .arg(verb)
        .arg(dir)
        .output()
        .expect("run scripts/pg-throwaway");
    assert!(
        out.status.success(),
        "scripts/pg-throwaway {verb}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Postgres {
    async fn start() -> Postgres {
        let dir = std::env::temp_dir().join(format!("roost-fault-{:016x}", rand::random::<u64>()));
        let d = dir.clone();
        let url = tokio::task::spawn_blocking(move || run_script("start", &d))
            .await
            .expect("start task");
        assert!(url.starts_with("postgres://"), "{url}");
        Postgres { dir, url }
    }

    /// `SIGKILL`: no shutdown, connections cut.
    async fn kill(&self) {
        let d = self.dir.clone();
        tokio::task::spawn_blocking(move || run_script("kill", &d))
            .await
            .expect("kill task");
    }

    async fn restart(&self) {
        let d = self.dir.clone();
        tokio::task::spawn_blocking(move || run_script("restart", &d))
            .await
            .expect("restart task");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script())
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

struct Fixture {
    web: CreatedApp,
}

impl Fixture {
    fn creds(&self) -> (&str, &str) {
        (
            self.web.client_id.as_str(),
            self.web.client_secret.as_deref().expect("confidential"),
        )
    }
}

/// An App and alice on the database, written by a process of the test's own.
async fn seed(url: &str) -> Fixture {
    // The throwaway cluster runs with `synchronous_commit = off` (fast, and fine for tests that
    // never crash it): a commit is answered before its WAL record leaves PostgreSQL's memory,
    // so a kill loses the last ones. This test kills it and checks that what was answered as
    // stored is, so its database commits as production PostgreSQL does by default.
    {
        use sqlx::Connection;
        let name = url.rsplit('/').next().expect("a database name");
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query(&format!(
            "ALTER DATABASE {name} SET synchronous_commit = on"
        ))
        .execute(&mut conn)
        .await
        .expect("durable commits");
    }
    let mut config = Config::default();
    config.server.database_url = url.to_owned();
    let store = roost::open_store(&config).await.expect("store");
    let state = roost::build_state(config, store.clone(), Clock::system())
        .await
        .expect("state");
    let web = create_app(&state, "Fault App", ClientType::Confidential, &[CALLBACK]).await;
    create_user(&state, "alice", "Alice").await;
    store.close().await;
    Fixture { web }
}

struct Answer {
    status: u16,
    took: Duration,
    body: String,
}

async fn timed(req: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let resp = req
        .send()
        .await
        .expect("an answer, not a dropped connection");
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    Answer {
        status,
        took: started.elapsed(),
        body,
    }
}

fn form_req(url: String, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
}

/// A code for alice through the login and consent pages of `base`, and its verifier.
async fn code_at(base: &str, f: &Fixture) -> (String, String) {
    let p = AuthParams::new(&f.web.client_id, SCOPES);
    let b = browser();
    let resp = crate::cli::browser_authorize(
        base,
        &b,
        &format!("{base}/i/oauth2/authorize?{}", p.query()),
        "alice",
        PASSWORD,
        "allow",
    )
    .await;
    assert_eq!(resp.status(), 303);
    let code = location_query(&resp).get("code").cloned().expect("code");
    (code, p.verifier)
}

fn exchange_fields<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]
}

async fn exchange_at(base: &str, f: &Fixture, code: &str, verifier: &str) -> Answer {
    let (id, secret) = f.creds();
    timed(
        form_req(
            format!("{base}/2/oauth2/token"),
            &exchange_fields(code, verifier),
        )
        .basic_auth(id, Some(secret)),
    )
    .await
}

async fn tokens_at(base: &str, f: &Fixture) -> Value {
    let (code, verifier) = code_at(base, f).await;
    let a = exchange_at(base, f, &code, &verifier).await;
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str(&a.body).expect("token json")
}

async fn readyz(base: &str) -> u16 {
    client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Waits (at most `deadline`) until every node's `/readyz` answers `want`.
async fn all_ready(cluster: &Cluster, want: u16, deadline: Duration) {
    let started = Instant::now();
    for node in &cluster.nodes {
        loop {
            let got = readyz(&node.base).await;
            if got == want {
                break;
            }
            assert!(
                started.elapsed() < deadline,
                "{} /readyz is {got}, not {want}, {:?} on: {}",
                node.base,
                started.elapsed(),
                node.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Posts tweets with numbered texts to the nodes in turn until told to stop, recording what
/// each got.
fn post_tweets(
    bases: Vec<String>,
    token: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(String, u16, Duration)>> {
    tokio::spawn(async move {
        let mut sent = Vec::new();
        let mut n = 0usize;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let text = format!("fault test post {n}");
            let base = &bases[n % bases.len()];
            let a = timed(
                client()
                    .post(format!("{base}/2/tweets"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "text": text })),
            )
            .await;
            sent.push((text, a.status, a.took));
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sent
    })
}

#[tokio::test]
async fn sec_j06_postgres_killed_under_traffic_gives_clean_503s_and_the_nodes_recover() {
    let pg = Postgres::start().await;
    let f = seed(&pg.url).await;
    let config = format!(
        "[server]\ndatabase_timeout = {}\n",
        DATABASE_TIMEOUT.as_secs()
    );
    let cluster = Cluster::start_with(&pg.url, 2, &config).await;
    let (n1, n2) = (cluster.base(0).to_owned(), cluster.base(1).to_owned());

    // Serving: a flow, a token in use on both nodes, posts going to both.
    let tokens = tokens_at(&n1, &f).await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me_at(&n2, &access).await, 200);
    let (pending_code, pending_verifier) = code_at(&n2, &f).await;
    let login_page = {
        let b = browser();
        let p = AuthParams::new(&f.web.client_id, SCOPES);
        let resp = b
            .get(format!("{n1}/i/oauth2/authorize?{}", p.query()))
            .send()
            .await
            .expect("login page");
        (b, resp.text().await.expect("page"))
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let posts = post_tweets(vec![n1.clone(), n2.clone()], access.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    pg.kill().await;
    let killed = Instant::now();
    all_ready(&cluster, 503, Duration::from_secs(5)).await;

    // What needs the database: 503 within the store timeout, never a 500.
    let slow = DATABASE_TIMEOUT + Duration::from_secs(1);
    let exchange = exchange_at(&n1, &f, &pending_code, &pending_verifier).await;
    assert_eq!(exchange.status, 503, "token exchange: {}", exchange.body);
    assert!(
        exchange.took < slow,
        "token exchange took {:?}",
        exchange.took
    );
    let body: Value = serde_json::from_str(&exchange.body).expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");
    // An App cached before the outage may still authenticate for up to 1 s; then the store is
    // asked, and it is gone.
    let app_only = Arc::new(Mutex::new(None));
    let api = (f.web.api_key.clone(), f.web.api_secret.clone());
    let last = app_only.clone();
    all_answer_within(&[&n2], killed + Duration::from_secs(1), 503, move |b| {
        let (api, last) = (api.clone(), last.clone());
        async move {
            let a = timed(
                form_req(
                    format!("{b}/oauth2/token"),
                    &[("grant_type", "client_credentials")],
                )
                .basic_auth(&api.0, Some(&api.1)),
            )
            .await;
            assert!(
                a.status == 200 || a.status == 503,
                "{}: {}",
                a.status,
                a.body
            );
            assert!(
                a.took < DATABASE_TIMEOUT + Duration::from_secs(1),
                "{:?}",
                a.took
            );
            *last.lock().expect("lock") = Some(a.body);
            a.status
        }
    })
    .await;
    let over_capacity: Value =
        serde_json::from_str(app_only.lock().expect("lock").as_deref().unwrap_or(""))
            .expect("json");
    assert_eq!(over_capacity["errors"][0]["code"], 130);
    let tweet = timed(
        client()
            .post(format!("{n2}/2/tweets"))
            .bearer_auth(&access)
            .json(&serde_json::json!({"text": "posted while the database is down"})),
    )
    .await;
    assert_eq!(tweet.status, 503, "POST /2/tweets: {}", tweet.body);
    assert!(tweet.took < slow, "{:?}", tweet.took);
    let (b, page) = &login_page;
    let login = timed(
        b.post(format!("{n1}/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf_token", &hidden(page, "csrf_token").expect("csrf")),
                ("request", &hidden(page, "request").expect("request")),
                ("username", "alice"),
                ("password", PASSWORD),
            ])),
    )
    .await;
    assert_eq!(login.status, 503, "login: {}", login.body);
    assert!(login.took < slow, "{:?}", login.took);
    // Reads of a cached token are served from memory for at most 1 s after the node last read
    // the invalidation feed (before the kill); then the token is looked up, and that is a 503.
    for base in [&n1, &n2] {
        loop {
            let status = me_at(base, &access).await;
            if status == 503 {
                break;
            }
            assert_eq!(status, 200, "{base}: from the cache or not at all");
            // The bound, and a margin for this test's own requests on a busy machine.
            assert!(
                killed.elapsed() < BOUND + Duration::from_millis(250),
                "{base} still serves a cached token {:?} after the kill",
                killed.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = posts.await.expect("posts");
    for (text, status, took) in &sent {
        assert!(
            *status == 201 || *status == 503,
            "`{text}`: {status}: every post is stored or refused cleanly"
        );
        assert!(
            *took < slow,
            "`{text}` took {took:?} ({status}); all: {sent:?}"
        );
    }
    assert!(
        sent.iter().any(|s| s.1 == 201),
        "some posts before the kill"
    );
    assert!(
        sent.iter().any(|s| s.1 == 503),
        "some posts during the outage"
    );

    pg.restart().await;
    all_ready(&cluster, 200, Duration::from_secs(20)).await;
    let logs = cluster.logs();
    for marker in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!logs.contains(marker), "`{marker}` in the logs: {logs}");
    }
    assert!(
        logs.contains("503"),
        "the outage is in the request log: {logs}"
    );

    // Nothing half-written: what was answered 201 is stored, what was answered 503 is not, and
    // the code whose exchange failed was not used up.
    {
        use sqlx::Connection;
        let mut db = sqlx::PgConnection::connect(&pg.url).await.expect("connect");
        let stored: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT text FROM tweets")
                .fetch_all(&mut db)
                .await
                .expect("tweets")
                .into_iter()
                .collect();
        for (text, status, _) in &sent {
            assert_eq!(
                stored.contains(text),
                *status == 201,
                "`{text}` answered {status}"
            );
        }
        assert!(!stored.contains("posted while the database is down"));
        let used: Option<i64> =
            sqlx::query_scalar("SELECT used_at FROM authorization_codes WHERE code_hash = $1")
                .bind(roost_domain::TokenHash::of(&pending_code).as_bytes())
                .fetch_one(&mut db)
                .await
                .expect("the code is stored");
        assert_eq!(used, None, "the failed exchange did not use the code");
    }

    // Recovered without a restart: a new flow, and the invalidation feed reaches across again.
    let fresh = tokens_at(&n2, &f).await;
    let fresh = fresh["access_token"].as_str().expect("access");
    assert_eq!(me_at(&n1, fresh).await, 200);
    assert_eq!(me_at(&n2, fresh).await, 200);
    let (id, secret) = f.creds();
    let revoke = timed(
        form_req(format!("{n2}/2/oauth2/revoke"), &[("token", fresh)]).basic_auth(id, Some(secret)),
    )
    .await;
    let revoked = Instant::now();
    assert_eq!(revoke.status, 200, "{}", revoke.body);
    all_answer_within(
        &[&n1],
        revoked,
        401,
        |b| async move { me_at(&b, fresh).await },
    )
    .await;
}
