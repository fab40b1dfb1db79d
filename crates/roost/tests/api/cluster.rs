//! Several `roost serve` processes on one database, as behind a load balancer (checklist J2,
//! J3): a flow on one node, its tokens used on the others, a revocation on a third, refused
//! everywhere within 1 s; two nodes racing to redeem one code.
//!
//! [`Cluster`] is the harness: N real processes (the built binary) on free loopback ports over
//! one database URL, each ready (`/readyz`) before a test goes on, all killed on drop. On SQLite
//! the processes share one file; with `ROOST_TEST_STORE=postgres`, one database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;
use crate::invalidation::{
    all_answer_within, api_creds, client, lookup_at, me_at, post_basic, web_creds,
};

const BIN: &str = env!("CARGO_BIN_EXE_roost");
/// How long a node may take to start and answer `/readyz`.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// One `roost serve` process; killed on drop.
pub(crate) struct Node {
    pub base: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    /// What the node wrote to stderr so far (its log), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// N nodes on one database.
pub(crate) struct Cluster {
    pub nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Cluster {
    /// Starts `n` nodes on `database_url` with the default configuration.
    pub async fn start(database_url: &str, n: usize) -> Cluster {
        Cluster::start_with(database_url, n, "").await
    }

    /// Starts `n` nodes on `database_url` with `config` (TOML) as their config file, and
    /// waits until every one answers `/readyz` with 200.
    pub async fn start_with(database_url: &str, n: usize, config: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("roost.toml");
        std::fs::write(&config_path, config).expect("config file");
        let nodes: Vec<Node> = (0..n)
            .map(|i| spawn_node(dir.path(), &config_path, database_url, i))
            .collect();
        let cluster = Cluster { nodes, _dir: dir };
        for node in &cluster.nodes {
            cluster.wait_ready(node).await;
        }
        cluster
    }

    async fn wait_ready(&self, node: &Node) {
        let http = client();
        let started = Instant::now();
        loop {
            if let Ok(resp) = http.get(node.url("/readyz")).send().await
                && resp.status() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "{} not ready within {START_DEADLINE:?}: {}",
                node.base,
                node.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn base(&self, i: usize) -> &str {
        &self.nodes[i].base
    }

    /// Every node's log, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- {}\n{}", n.base, n.log()))
            .collect()
    }
}

fn spawn_node(dir: &Path, config: &Path, database_url: &str, i: usize) -> Node {
    let addr = format!("127.0.0.1:{}", free_port());
    let log = dir.join(format!("node{i}.log"));
    let stderr = std::fs::File::create(&log).expect("log file");
    let child = Command::new(BIN)
        .args(["serve", "--addr", &addr, "--database-url", database_url])
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .env_remove("ROOST_DATABASE_URL")
        .env_remove("ROOST_CONFIG")
        .env_remove("ROOST_ADDR")
        .env_remove("ROOST_PUBLIC_URL")
        .env_remove("ROOST_CLOCK")
        .env_remove("ROOST_SEED")
        .env_remove("ROOST_SANDBOX")
        .env_remove("ROOST_ADMIN_ADDR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn roost serve");
    Node {
        base: format!("http://{addr}"),
        child,
        log,
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key}: {v}"))
}

/// `name=value` of every cookie a response sets, as one `Cookie` header.
fn cookies_set(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The authorize page of node `base` for `p`, sent with `cookie`: status and body.
async fn authorize_page(base: &str, p: &AuthParams, cookie: &str) -> (u16, String) {
    let resp = client()
        .get(format!("{base}/i/oauth2/authorize?{}", p.query()))
        .header("cookie", cookie)
        .send()
        .await
        .expect("authorize page");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("page"))
}

async fn post_page(base: &str, cookie: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    client()
        .post(format!("{base}/i/oauth2/authorize"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .expect("form post")
}

/// Signs alice in on node `base`: the cookies of her new session.
async fn sign_in(base: &str, p: &AuthParams) -> String {
    let resp = client()
        .get(format!("{base}/i/oauth2/authorize?{}", p.query()))
        .send()
        .await
        .expect("login page");
    let browser_cookie = cookies_set(&resp);
    let page = resp.text().await.expect("login page");
    let csrf = hidden(&page, "csrf_token").expect("csrf");
    let sealed = hidden(&page, "request").expect("request");
    let resp = post_page(
        base,
        &browser_cookie,
        &[
            ("csrf_token", &csrf),
            ("request", &sealed),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303, "login");
    cookies_set(&resp)
}

/// Login and consent on `login_node`, consent answered on `consent_node`, the code exchanged
/// on `exchange_node`: the token response.
async fn browser_flow(
    login_node: &str,
    consent_node: &str,
    exchange_node: &str,
    app: &TestApp,
) -> Value {
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let cookie = sign_in(login_node, &p).await;
    let (status, consent) = authorize_page(consent_node, &p, &cookie).await;
    assert_eq!(status, 200);
    let csrf = hidden(&consent, "csrf_token").expect("csrf on the consent page");
    let sealed = hidden(&consent, "request").expect("request");
    let resp = post_page(
        consent_node,
        &cookie,
        &[
            ("csrf_token", &csrf),
            ("request", &sealed),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303, "consent");
    let code = location_query(&resp).get("code").cloned().expect("code");
    let (status, tokens) = post_basic(
        exchange_node,
        "/2/oauth2/token",
        web_creds(app),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// Every node answers `want` for a user token.
async fn me_everywhere(cluster: &Cluster, token: &str, want: u16) {
    for node in &cluster.nodes {
        assert_eq!(me_at(&node.base, token).await, want, "{}", node.base);
    }
}

#[tokio::test]
async fn sec_j03_three_nodes_refuse_what_one_of_them_revoked_within_1s() {
    let app = spawn_app().await;
    let cluster = Cluster::start(&app.database_url, 3).await;
    let (n1, n2, n3) = (cluster.base(0), cluster.base(1), cluster.base(2));

    // A revoked access token: issued on node 1, cached on all three, revoked on node 3.
    let tokens = browser_flow(n1, n1, n1, &app).await;
    let access = str_of(&tokens, "access_token");
    me_everywhere(&cluster, access, 200).await;
    let (status, _) = post_basic(
        n3,
        "/2/oauth2/revoke",
        web_creds(&app),
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;
    let revoked = Instant::now();
    assert_eq!(status, 200);
    all_answer_within(&[n1, n2], revoked, 401, |b| async move {
        me_at(&b, access).await
    })
    .await;

    // A rotated family whose old refresh token comes back on another node: every access
    // token of the family is refused everywhere.
    let first = browser_flow(n2, n1, n2, &app).await;
    let (status, second) = post_basic(
        n1,
        "/2/oauth2/token",
        web_creds(&app),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&first, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let family = [
        str_of(&first, "access_token"),
        str_of(&second, "access_token"),
    ];
    for a in family {
        me_everywhere(&cluster, a, 200).await;
    }
    let (status, _) = post_basic(
        n3,
        "/2/oauth2/token",
        web_creds(&app),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&first, "refresh_token")),
        ],
    )
    .await;
    let reused = Instant::now();
    assert_eq!(status, 400, "reuse");
    for a in family {
        all_answer_within(
            &[n1, n2],
            reused,
            401,
            |b| async move { me_at(&b, a).await },
        )
        .await;
    }

    // An invalidated app-only token.
    let (status, body) = post_basic(
        n1,
        "/oauth2/token",
        api_creds(&app),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200);
    let bearer = str_of(&body, "access_token").to_owned();
    for node in &cluster.nodes {
        assert_eq!(lookup_at(&node.base, &bearer).await, 200);
    }
    let (status, _) = post_basic(
        n3,
        "/oauth2/invalidate_token",
        api_creds(&app),
        &[("access_token", &bearer)],
    )
    .await;
    let invalidated = Instant::now();
    assert_eq!(status, 200);
    all_answer_within(&[n1, n2], invalidated, 401, |b| {
        let bearer = bearer.clone();
        async move { lookup_at(&b, &bearer).await }
    })
    .await;

    // A browser session: signed in on node 1, recognised on node 2, logged out on node 3; the
    // same cookie then signs in nowhere.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let cookie = sign_in(n1, &p).await;
    let (status, consent) = authorize_page(n2, &p, &cookie).await;
    assert_eq!(status, 200);
    assert!(consent.contains("name=\"decision\""), "signed in on node 2");
    let csrf = hidden(&consent, "csrf_token").expect("csrf");
    let sealed = hidden(&consent, "request").expect("request");
    let resp = post_page(
        n3,
        &cookie,
        &[("csrf_token", &csrf), ("request", &sealed), ("logout", "1")],
    )
    .await;
    let logged_out = Instant::now();
    assert_eq!(resp.status(), 303, "logout");
    // Signed out shows as 401 here, still signed in as 200 (both pages are 200 on the wire).
    all_answer_within(&[n1, n2], logged_out, 401, |b| {
        let (cookie, p) = (cookie.clone(), p.clone());
        async move {
            let (status, page) = authorize_page(&b, &p, &cookie).await;
            assert_eq!(status, 200);
            let login_form =
                page.contains("name=\"username\"") && !page.contains("name=\"decision\"");
            if login_form { 401 } else { 200 }
        }
    })
    .await;
    assert!(!cluster.logs().contains("panicked"), "{}", cluster.logs());
}

/// J1's journey: no step needs the node that served the one before.
#[tokio::test]
async fn sec_j01_no_sticky_sessions_login_consent_redeem_refresh_replay_on_alternate_nodes() {
    let app = spawn_app().await;
    let cluster = Cluster::start(&app.database_url, 2).await;
    let (a, b) = (cluster.base(0), cluster.base(1));
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let cookie = sign_in(a, &p).await;
    let (status, consent) = authorize_page(b, &p, &cookie).await;
    assert_eq!(status, 200);
    let csrf = hidden(&consent, "csrf_token").expect("the consent page on B");
    let sealed = hidden(&consent, "request").expect("request");
    let resp = post_page(
        b,
        &cookie,
        &[
            ("csrf_token", &csrf),
            ("request", &sealed),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let code = location_query(&resp).get("code").cloned().expect("code");
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (status, tokens) = post_basic(a, "/2/oauth2/token", web_creds(&app), &fields).await;
    assert_eq!(status, 200, "redeemed on A: {tokens}");
    let (status, refreshed) = post_basic(
        b,
        "/2/oauth2/token",
        web_creds(&app),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&tokens, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200, "refreshed on B: {refreshed}");
    let access = str_of(&refreshed, "access_token");
    assert_eq!(me_at(b, access).await, 200);
    let (status, _) = post_basic(a, "/2/oauth2/token", web_creds(&app), &fields).await;
    let replayed = Instant::now();
    assert_eq!(status, 400, "the replay on A is detected");
    all_answer_within(&[a, b], replayed, 401, |n| async move {
        me_at(&n, access).await
    })
    .await;
}

#[tokio::test]
async fn sec_j02_two_nodes_racing_to_refresh_one_token_one_wins() {
    let app = spawn_app().await;
    let cluster = Cluster::start(&app.database_url, 2).await;
    for round in 0..6 {
        let tokens = app.tokens(ALL_SCOPES).await;
        let fields = [
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&tokens, "refresh_token")),
        ];
        let creds = web_creds(&app);
        let ((sa, ba), (sb, bb)) = tokio::join!(
            post_basic(cluster.base(0), "/2/oauth2/token", creds, &fields),
            post_basic(cluster.base(1), "/2/oauth2/token", creds, &fields),
        );
        let mut statuses = [sa, sb];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400], "round {round}: {ba} {bb}");
    }
}

#[tokio::test]
async fn sec_j02_two_nodes_racing_to_redeem_one_code_one_wins() {
    let app = spawn_app().await;
    roost::accounts::set_auto_consent(&app.state, &app.web.client_id, Some("alice"))
        .await
        .expect("auto-consent");
    // Auto-consent is a sandbox control: honoured only where they are on.
    let cluster = Cluster::start_with(&app.database_url, 3, "[sandbox]\nenabled = true\n").await;
    for round in 0..6 {
        let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
        let resp = client()
            .get(format!(
                "{}/i/oauth2/authorize?{}",
                cluster.base(0),
                p.query()
            ))
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), 302, "auto-consent");
        let code = location_query(&resp).get("code").cloned().expect("code");
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", p.verifier.as_str()),
        ];
        let (a, b) = (cluster.base(1 + round % 2), cluster.base(2 - round % 2));
        let creds = web_creds(&app);
        let ((sa, ba), (sb, bb)) = tokio::join!(
            post_basic(a, "/2/oauth2/token", creds, &fields),
            post_basic(b, "/2/oauth2/token", creds, &fields),
        );
        let mut statuses = [sa, sb];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400], "round {round}: {ba} {bb}");
        let loser = if sa == 400 { &ba } else { &bb };
        assert_eq!(
            loser["error"], "invalid_request",
            "X's code for a used code"
        );
    }
    assert!(!cluster.logs().contains("panicked"), "{}", cluster.logs());
}
