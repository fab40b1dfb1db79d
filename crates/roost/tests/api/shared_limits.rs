//! Rate limits shared by several nodes (issue 7): windows counted through the store
//! (`rate_limits.shared = "store"`, each node flushing what it admitted) or on Redis
//! (`--redis-url`, exact). In-process nodes (`spawn_peer`) flush only when a test says so, which
//! makes the overshoot exact; `roost serve` processes flush on their own timer.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roost::config::{Config, EndpointLimit, SharedLimits};
use roost::ratelimit::{Key, Mode};
use roost::state::AppState;
use roost_store::RateDelta;

use crate::cli::{Server, Workspace, create_json, write};
use crate::helpers::*;

const ME: &str = "GET /2/users/me";
const WINDOW_MS: i64 = 900_000;

/// `x-rate-limit-reset` of a window that ends at `ms`: epoch seconds, rounded up.
fn secs(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
}

fn limit_me(c: &mut Config, user: u64) {
    c.rate_limits
        .endpoints
        .insert(ME.to_owned(), EndpointLimit::new(None, Some(user)));
}

/// One `/2/users/me` answer and its rate-limit headers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    limit: u64,
    remaining: u64,
    reset: i64,
}

impl Answer {
    fn window(&self) -> (u64, u64, i64) {
        (self.limit, self.remaining, self.reset)
    }
}

async fn me_on(http: &reqwest::Client, base: &str, token: &str) -> Answer {
    let resp = http
        .get(format!("{base}/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("users/me");
    let status = resp.status().as_u16();
    let h = |name: &str| -> i64 {
        resp.headers()
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing on a {status}"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    Answer {
        status,
        limit: u64::try_from(h("x-rate-limit-limit")).unwrap(),
        remaining: u64::try_from(h("x-rate-limit-remaining")).unwrap(),
        reset: h("x-rate-limit-reset"),
    }
}

/// `n` requests to each of `bases`, all in flight at once; the answers per base.
async fn burst(http: &reqwest::Client, bases: &[&str], n: usize, token: &str) -> Vec<Vec<Answer>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, base) in bases.iter().enumerate() {
        for _ in 0..n {
            let (http, base, token) = (http.clone(), (*base).to_owned(), token.to_owned());
            set.spawn(async move { (i, me_on(&http, &base, &token).await) });
        }
    }
    let mut out = vec![Vec::new(); bases.len()];
    while let Some(r) = set.join_next().await {
        let (i, a) = r.expect("request task");
        out[i].push(a);
    }
    out
}

fn admitted(answers: &[Answer]) -> usize {
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let refused = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(
        ok + refused,
        answers.len(),
        "only 200s and 429s: {answers:?}"
    );
    ok
}

/// Every node flushes, then the first once more, so each has heard what all admitted.
async fn flush_all(nodes: &[&AppState]) {
    for n in nodes.iter().chain(nodes.first()) {
        n.limits.flush(n.now()).await.expect("flush");
    }
}

/// The window `alice` draws on with the web App on `/2/users/me`, as the API names it.
async fn alice_me_key(app: &TestApp) -> Key {
    let alice = app
        .state
        .store
        .user_by_username(&roost_domain::Username::parse("alice").unwrap())
        .await
        .unwrap()
        .expect("alice");
    Key {
        scope: ME,
        subject: format!("u{}:a{}", alice.id, app.web.app_id),
    }
}

/// The global count of a live window, as the store holds it (a flush of nothing reads it).
async fn stored_count(store: &dyn roost_store::Store, key: &Key, now: i64) -> i64 {
    store
        .add_rate_counts(&[RateDelta {
            key: key.shared_name(),
            window_start: now,
            window_ms: WINDOW_MS,
            admitted: 0,
        }])
        .await
        .expect("read the window")[0]
        .count
}

async fn access_token(app: &TestApp) -> String {
    app.tokens(ALL_SCOPES).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sec_j04_api_window_shared_through_the_store_overshoots_within_the_bound_and_counts_all() {
    let app = spawn_app_with(|c| {
        c.rate_limits.shared = SharedLimits::Store;
        limit_me(c, 20);
    })
    .await;
    let (peer, peer_state) = spawn_peer(&app).await;
    assert_eq!(app.state.limits.mode(), Mode::Store);
    let nodes = [&app.state, &peer_state];
    let token = access_token(&app).await;
    let http = reqwest::Client::new();

    // 8 at once on each node: room for all of them.
    let round = burst(&http, &[&app.base, &peer], 8, &token).await;
    assert_eq!((admitted(&round[0]), admitted(&round[1])), (8, 8));
    flush_all(&nodes).await;
    // After the flush both nodes report the same window: the 16, and each its own request.
    let (a, b) = (
        me_on(&http, &app.base, &token).await,
        me_on(&http, &peer, &token).await,
    );
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.window(), b.window());
    assert_eq!(a.remaining, 20 - 17);
    flush_all(&nodes).await;

    // Each node knows of 18 and admits 2 more before it hears of the other's: 22 for a limit of
    // 20. The overshoot is what the other node admitted since this one last heard the count.
    let round = burst(&http, &[&app.base, &peer], 8, &token).await;
    let (a2, b2) = (admitted(&round[0]), admitted(&round[1]));
    assert_eq!((a2, b2), (2, 2));
    let total = 18 + a2 + b2;
    assert!(total - 20 <= a2.min(b2), "overshoot {}", total - 20);
    flush_all(&nodes).await;

    // Now both refuse, with the same headers, and the store holds every admitted request.
    let (a, b) = (
        me_on(&http, &app.base, &token).await,
        me_on(&http, &peer, &token).await,
    );
    assert_eq!((a.status, b.status), (429, 429));
    assert_eq!(a.window(), b.window());
    assert_eq!(a.remaining, 0);
    let key = alice_me_key(&app).await;
    assert_eq!(
        stored_count(app.state.store.as_ref(), &key, app.state.now()).await,
        i64::try_from(total).unwrap()
    );
}

#[tokio::test]
async fn store_shared_window_ends_for_both_nodes_at_the_first_nodes_reset() {
    let app = spawn_app_with(|c| {
        c.rate_limits.shared = SharedLimits::Store;
        limit_me(c, 3);
    })
    .await;
    let (peer, peer_state) = spawn_peer(&app).await;
    let nodes = [&app.state, &peer_state];
    let token = access_token(&app).await;
    let http = reqwest::Client::new();
    let t0 = app.clock.now_ms();

    let a = me_on(&http, &app.base, &token).await;
    assert_eq!(a.reset, secs(t0 + WINDOW_MS));
    app.clock.advance_ms(10_000);
    // The peer began its own window 10 s later; it has not heard of the first node's.
    let b = me_on(&http, &peer, &token).await;
    assert_eq!((b.remaining, b.reset), (2, secs(t0 + 10_000 + WINDOW_MS)));
    flush_all(&nodes).await;
    let a = me_on(&http, &app.base, &token).await;
    assert_eq!(
        (a.status, a.remaining, a.reset),
        (200, 0, secs(t0 + WINDOW_MS))
    );
    flush_all(&nodes).await;
    // The peer adopted the window that was flushed first: it ends when the first node's does.
    let b = me_on(&http, &peer, &token).await;
    assert_eq!((b.status, b.reset), (429, secs(t0 + WINDOW_MS)));

    app.clock.advance_ms(WINDOW_MS - 10_000 - 1);
    for base in [&app.base, &peer] {
        let r = me_on(&http, base, &token).await;
        assert_eq!((r.status, r.reset), (429, secs(t0 + WINDOW_MS)), "{base}");
    }
    // At the reset both begin again.
    app.clock.advance_ms(1);
    let t1 = app.clock.now_ms();
    for base in [&app.base, &peer] {
        let r = me_on(&http, base, &token).await;
        assert_eq!((r.status, r.remaining), (200, 2), "{base}");
    }
    flush_all(&nodes).await;
    for base in [&peer, &app.base] {
        let r = me_on(&http, base, &token).await;
        assert_eq!((r.status, r.reset), (200, secs(t1 + WINDOW_MS)), "{base}");
    }
    assert!(app.row_counts().await["rate_windows"] >= 1);
    // Ended windows leave the store with the cleanup job.
    app.clock.advance_ms(WINDOW_MS);
    roost::cleanup::run_once(&app.state).await;
    assert_eq!(app.row_counts().await["rate_windows"], 0);
}

#[tokio::test]
async fn memory_mode_counts_per_node_and_writes_nothing_to_the_store() {
    let app = spawn_app_with(|c| {
        c.rate_limits.shared = SharedLimits::Memory;
        limit_me(c, 2);
    })
    .await;
    let (peer, peer_state) = spawn_peer(&app).await;
    assert_eq!(app.state.limits.mode(), Mode::Memory);
    let token = access_token(&app).await;
    let http = reqwest::Client::new();
    let round = burst(&http, &[&app.base, &peer], 3, &token).await;
    assert_eq!((admitted(&round[0]), admitted(&round[1])), (2, 2));
    assert_eq!(app.state.limits.flush(app.state.now()).await.unwrap(), 0);
    assert_eq!(peer_state.limits.flush(app.state.now()).await.unwrap(), 0);
    assert_eq!(app.row_counts().await["rate_windows"], 0);
}

/// One sign-in with a wrong password (or the right one) on the node at `base`: the status.
async fn sign_in(app: &TestApp, base: &str, username: &str, password: &str) -> u16 {
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, "tweet.read");
    let page = b
        .get(format!("{base}/i/oauth2/authorize?{}", p.query()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token").expect("csrf_token");
    let request = hidden(&page, "request").expect("request");
    b.post(format!("{base}/i/oauth2/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf_token", &csrf),
            ("request", &request),
            ("username", username),
            ("password", password),
        ]))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn sec_j04_failed_logins_spread_over_two_nodes_hit_the_one_node_limit() {
    let app = spawn_app().await;
    let (peer, _) = spawn_peer(&app).await;
    let limit = app.state.config.login.max_failures_per_user;
    for i in 0..limit {
        let base = if i % 2 == 0 { &app.base } else { &peer };
        assert_eq!(sign_in(&app, base, "alice", "wrong").await, 401, "{i}");
    }
    // The limit is the total over both nodes: neither checks the right password now.
    for base in [&app.base, &peer] {
        assert_eq!(sign_in(&app, base, "alice", PASSWORD).await, 429, "{base}");
    }
    assert_eq!(sign_in(&app, &peer, "bob", PASSWORD).await, 303);
}

/// Polls `base` until its answer is a 429 (nothing more is counted then), at most 5 s.
async fn wait_refused(http: &reqwest::Client, base: &str, token: &str) -> Answer {
    let started = Instant::now();
    loop {
        let a = me_on(http, base, token).await;
        if a.status == 429 {
            return a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{base} still admits 5 s after the window was spent: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An App, a user and a user token for it, made with the CLI on `ws`'s database.
async fn cli_token(ws: &Workspace, config: &str) -> String {
    let app = create_json(
        ws,
        &[
            "apps",
            "create",
            "--name",
            "Limits",
            "--type",
            "public",
            "--callback",
            CALLBACK,
            "--config",
            config,
            "--json",
        ],
    )
    .await;
    create_json(
        ws,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--name",
            "Alice",
            "--password",
            PASSWORD,
            "--config",
            config,
            "--json",
        ],
    )
    .await;
    let minted = create_json(
        ws,
        &[
            "tokens",
            "mint",
            "--app",
            app["client_id"].as_str().unwrap(),
            "--user",
            "alice",
            "--scope",
            "tweet.read users.read",
            "--config",
            config,
            "--json",
        ],
    )
    .await;
    minted["access_token"].as_str().unwrap().to_owned()
}

/// Two `roost serve` processes with `extra` arguments on one database; every answer of both.
async fn blast_two_servers(
    ws: &Workspace,
    config: &str,
    extra: &[&str],
    per_node: usize,
) -> (Server, Server, String, Vec<Vec<Answer>>) {
    let token = cli_token(ws, config).await;
    let mut args = vec!["--database-url", &ws.db_url, "--config", config];
    args.extend(extra);
    let first = Server::start(ws, &args).await;
    let second = Server::start(ws, &args).await;
    let http = reqwest::Client::new();
    let answers = burst(&http, &[&first.base, &second.base], per_node, &token).await;
    (first, second, token, answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_serve_processes_on_one_database_share_a_window_through_the_store() {
    let ws = Workspace::new();
    let config = write(
        &ws,
        "roost.toml",
        "[rate_limits]\nshared = \"store\"\nflush_interval_ms = 50\n\
         [rate_limits.endpoints]\n\"GET /2/users/me\" = { user = 30 }\n",
    );
    let config = config.to_str().unwrap().to_owned();
    let (first, second, token, answers) = blast_two_servers(&ws, &config, &[], 40).await;
    let admitted_total = admitted(&answers[0]) + admitted(&answers[1]);
    assert!(admitted_total >= 30, "{admitted_total}");
    // Each node alone stops at the limit; together they pass it by at most what one admitted
    // before hearing of the other.
    assert!(admitted(&answers[0]) <= 30 && admitted(&answers[1]) <= 30);
    // Within a few flushes both know the window is spent and report it alike.
    let http = reqwest::Client::new();
    let (a, b) = (
        wait_refused(&http, &first.base, &token).await,
        wait_refused(&http, &second.base, &token).await,
    );
    assert_eq!((a.remaining, b.remaining), (0, 0));
    assert_eq!(a.reset, b.reset, "one window, one end");
    // Every admitted request reached the store: the global count is what the nodes admitted.
    let started = Instant::now();
    let store = roost_store::open(&ws.db_url).await.unwrap();
    let key = {
        let alice = store
            .user_by_username(&roost_domain::Username::parse("alice").unwrap())
            .await
            .unwrap()
            .unwrap();
        let app = store.list_apps().await.unwrap().remove(0);
        Key {
            scope: ME,
            subject: format!("u{}:a{}", alice.id, app.id),
        }
    };
    let now = roost::clock::wall_ms();
    loop {
        let count = stored_count(store.as_ref(), &key, now).await;
        if count == i64::try_from(admitted_total).unwrap() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5) && count < 80,
            "the store counts {count}, the nodes admitted {admitted_total}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.stop();
    second.stop();
}

// ---------------------------------------------------------------------------------------------
// Redis

/// A Redis server for a test: `ROOST_TEST_REDIS_URL` when set (tests keep apart by namespace,
/// one per database), else a `redis-server` child of this test's own on a free port, killed
/// on drop. Fails, never skips, when Redis is not installed.
pub(crate) struct TestRedis {
    pub url: String,
    port: u16,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl TestRedis {
    pub async fn shared_or_own() -> Self {
        match std::env::var("ROOST_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Self {
                url,
                port: 0,
                child: None,
                _dir: None,
            },
            _ => Self::own().await,
        }
    }

    /// Always a server of this test's own (fault tests stop it).
    pub async fn own() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            url: format!("redis://127.0.0.1:{port}"),
            port,
            child: None,
            _dir: Some(tempfile::tempdir().unwrap()),
        };
        redis.launch().await;
        redis
    }

    async fn launch(&mut self) {
        let dir = self._dir.as_ref().expect("an own server has a directory");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): install Debian's redis-server package, or set ROOST_TEST_REDIS_URL"
                )
            });
        self.child = Some(child);
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let started = Instant::now();
        loop {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on port {} did not answer",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the killed server again on its port.
    pub async fn restart(&mut self) {
        self.launch().await;
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn on_redis(url: &str, limit: u64) -> impl FnOnce(&mut Config) {
    let url = url.to_owned();
    move |c| {
        c.rate_limits.redis_url = Some(url);
        c.rate_limits.redis_timeout_ms = 500;
        limit_me(c, limit);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sec_j04_redis_admits_exactly_the_limit_across_two_nodes_under_concurrency() {
    let redis = TestRedis::shared_or_own().await;
    let app = spawn_app_with(on_redis(&redis.url, 25)).await;
    let (peer, _peer_state) = spawn_peer(&app).await;
    assert_eq!(app.state.limits.mode(), Mode::Redis);
    let token = access_token(&app).await;
    let http = reqwest::Client::new();
    let round = burst(&http, &[&app.base, &peer], 30, &token).await;
    assert_eq!(admitted(&round[0]) + admitted(&round[1]), 25);
    // One window: every answer of both nodes reports the same end, and the remaining counts
    // down through 24..0 exactly once each.
    let resets: std::collections::BTreeSet<i64> = round.iter().flatten().map(|a| a.reset).collect();
    assert_eq!(resets.len(), 1, "{resets:?}");
    let mut remaining: Vec<u64> = round
        .iter()
        .flatten()
        .filter(|a| a.status == 200)
        .map(|a| a.remaining)
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..25).collect::<Vec<u64>>());
    // A reset of the store drops this deployment's windows on Redis.
    assert!(app.state.limits.clear_shared().await.unwrap() >= 1);
    let a = me_on(&http, &peer, &token).await;
    assert_eq!((a.status, a.remaining), (200, 24));
}

#[tokio::test]
async fn redis_windows_end_at_the_reset_on_the_manual_clock() {
    let redis = TestRedis::shared_or_own().await;
    let app = spawn_app_with(on_redis(&redis.url, 1)).await;
    let (peer, _) = spawn_peer(&app).await;
    let token = access_token(&app).await;
    let http = reqwest::Client::new();
    let t0 = app.clock.now_ms();
    assert_eq!(me_on(&http, &app.base, &token).await.status, 200);
    app.clock.advance_ms(WINDOW_MS - 1);
    let b = me_on(&http, &peer, &token).await;
    assert_eq!((b.status, b.reset), (429, secs(t0 + WINDOW_MS)));
    app.clock.advance_ms(1);
    assert_eq!(me_on(&http, &peer, &token).await.status, 200);
    assert_eq!(me_on(&http, &app.base, &token).await.status, 429);
}

#[tokio::test]
async fn redis_down_is_a_prompt_503_on_every_limited_endpoint_and_recovers_by_itself() {
    let mut redis = TestRedis::own().await;
    let app = spawn_app_with(on_redis(&redis.url, 100)).await;
    let token = access_token(&app).await;
    let http = reqwest::Client::new();
    assert_eq!(me_on(&http, &app.base, &token).await.status, 200);

    redis.kill();
    let started = Instant::now();
    let resp = http
        .get(app.url("/2/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["title"], "Service Unavailable", "{body}");
    let (status, body, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    let resp = http
        .post(app.url("/oauth2/token"))
        .basic_auth(&app.web.api_key, Some(&app.web.api_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    // Each answer waited at most the configured 500 ms, not a hang.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // Back up: the connection manager reconnects on its own.
    redis.restart().await;
    let started = Instant::now();
    loop {
        let a = me_on_status(&http, &app, &token).await;
        if a == 200 {
            break;
        }
        assert_eq!(a, 503);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no recovery 10 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn me_on_status(http: &reqwest::Client, app: &TestApp, token: &str) -> u16 {
    http.get(app.url("/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_serve_processes_with_redis_url_admit_exactly_the_limit() {
    let redis = TestRedis::shared_or_own().await;
    let ws = Workspace::new();
    let config = write(
        &ws,
        "roost.toml",
        "[rate_limits.endpoints]\n\"GET /2/users/me\" = { user = 30 }\n",
    );
    let config = config.to_str().unwrap().to_owned();
    let (first, second, _token, answers) =
        blast_two_servers(&ws, &config, &["--redis-url", &redis.url], 40).await;
    assert_eq!(admitted(&answers[0]) + admitted(&answers[1]), 30);
    let (_, stderr) = first.stop();
    assert!(
        stderr.contains(&format!("rate_limits=redis {}", redis.url)),
        "{stderr}"
    );
    second.stop();
}

#[tokio::test]
async fn a_client_id_with_nul_counts_in_a_window_of_its_own_through_the_store() {
    let app = spawn_app_with(|c| c.rate_limits.shared = SharedLimits::Store).await;
    // HTTP Basic halves are percent-decoded: `a%00b` names the client `a<NUL>b`.
    for client in ["a%00b", "a\\0b"] {
        let (status, body, _) = app
            .token(
                client,
                Some("secret"),
                &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            )
            .await;
        assert_eq!(status, 401, "{body}");
    }
    // The address and the two clients: every window reaches the store, PostgreSQL included
    // (whose text cannot hold NUL).
    assert_eq!(app.state.limits.flush(app.state.now()).await.unwrap(), 3);
    assert_eq!(app.row_counts().await["rate_windows"], 3);
}
