//! The test harness: the real application on a random loopback port, over a fresh SQLite file
//! (or, with `ROOST_TEST_STORE=postgres`, a fresh database on the PostgreSQL server that
//! `ROOST_TEST_POSTGRES_URL` names), with a manual clock and the sandbox controls on, and a
//! browser-like HTTP client.
//! Tests of SQLite itself ask for it (`spawn_sqlite_app`, `start_sqlite`), so they run in the
//! PostgreSQL run too; a test that needs another database of its own gets a `ScratchDb` of the
//! run's store.

use std::collections::BTreeMap;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use roost::accounts::{self, AppSpec, CreatedApp};
use roost::clock::Clock;
use roost::config::Config;
use roost::state::AppState;
use roost_domain::{ClientType, CodeChallenge, CodeVerifier};
use serde_json::Value;

pub const CALLBACK: &str = "http://127.0.0.1:8976/callback";
pub const PASSWORD: &str = "correct horse battery staple";
pub const ALL_SCOPES: &str = "tweet.read users.read follows.read offline.access";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub state: AppState,
    pub clock: Clock,
    /// A confidential App with `CALLBACK` registered.
    pub web: CreatedApp,
    /// A public App with `CALLBACK` registered.
    pub native: CreatedApp,
    /// A client with no cookies and no redirects, for machine endpoints.
    pub http: reqwest::Client,
    /// The SQLite file (on PostgreSQL: a path in the test's directory that nothing uses).
    pub db_path: std::path::PathBuf,
    /// The store's URL: `sqlite://...` or `postgres://...` (a database of this test's own).
    pub database_url: String,
    /// Which store the server runs on.
    pub store_kind: StoreKind,
    /// How far the demo loader moved the demo's Space times (0 without the demo).
    pub demo_shift_ms: i64,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

/// Which store the integration tests run on: `ROOST_TEST_STORE=postgres` for PostgreSQL (then
/// `ROOST_TEST_POSTGRES_URL` must name a server the tests may create databases on), else SQLite.
pub fn on_postgres() -> bool {
    std::env::var("ROOST_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The two stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl StoreKind {
    /// The store this run's tests use unless a test asks for one (`ROOST_TEST_STORE`).
    pub fn of_run() -> Self {
        if on_postgres() {
            StoreKind::Postgres
        } else {
            StoreKind::Sqlite
        }
    }
}

/// A fresh, empty database for a test of its own (another process's, another store's), dropped
/// with the value: on SQLite a file in a directory of its own, on PostgreSQL a database of its
/// own on the test server.
pub struct ScratchDb {
    pub url: String,
    dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

impl ScratchDb {
    /// A database of this run's store.
    pub async fn new() -> Self {
        let kind = StoreKind::of_run();
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = match kind {
            StoreKind::Sqlite => None,
            StoreKind::Postgres => Some(PgDatabase::create().await),
        };
        Self {
            url: match &pg {
                Some(db) => db.url.clone(),
                None => format!("sqlite://{}", dir.path().join("store.db").display()),
            },
            dir,
            _pg: pg,
        }
    }

    /// [`ScratchDb::new`] for code that cannot await (it blocks the calling thread meanwhile).
    pub fn new_blocking() -> Self {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(Self::new())
        })
        .join()
        .expect("scratch database")
    }

    /// The directory the SQLite file is in (on PostgreSQL too: an empty one of the test's own).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A connection to a test server's database from outside the server, to break or lock the
/// store under it the way another process or an operator could.
pub enum Outside {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Outside {
    pub async fn exec(&mut self, sql: &str) {
        match self {
            Outside::Sqlite(c) => sqlx::raw_sql(sql).execute(&mut *c).await.map(drop),
            Outside::Postgres(c) => sqlx::raw_sql(sql).execute(&mut *c).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// A database of one test's own on the test PostgreSQL server, dropped with the test.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let admin_url = std::env::var("ROOST_TEST_POSTGRES_URL").expect(
            "ROOST_TEST_STORE=postgres needs ROOST_TEST_POSTGRES_URL (scripts/test starts a throwaway server)",
        );
        let name = format!("roost_test_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to ROOST_TEST_POSTGRES_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // The test's runtime is going away; drop the database from a runtime of our own.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The application with default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The application with configuration changed by `tweak` (e.g. `c.oauth.strict_rfc = true`).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(StoreKind::of_run(), tweak).await
}

/// [`spawn_app_with`] on SQLite whatever the run's store: for tests of SQLite itself (its
/// files, their modes, its locks), which run in the PostgreSQL run too.
pub async fn spawn_sqlite_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(StoreKind::Sqlite, tweak).await
}

async fn spawn_app_on(kind: StoreKind, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let app = start_on(kind, tweak).await;
    create_user(&app.state, "alice", "Alice Example").await;
    create_user(&app.state, "bob", "Bob Example").await;
    app.state
        .world
        .refresh(app.state.store.as_ref())
        .await
        .expect("refresh");
    app
}

/// The server with its two Apps and no users (e.g. for a file that brings its own).
pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestApp {
    start_on(StoreKind::of_run(), tweak).await
}

async fn start_on(kind: StoreKind, tweak: impl FnOnce(&mut Config)) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("roost.db");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config::default();
    config.server.addr = addr.to_string();
    let pg = match kind {
        StoreKind::Postgres => Some(PgDatabase::create().await),
        StoreKind::Sqlite => None,
    };
    config.server.database_url = match &pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", db_path.display()),
    };
    // The suite drives the sandbox controls (minting, the clock, faults, reset) everywhere; a
    // test of the controls being off turns them off in `tweak`.
    config.sandbox.enabled = true;
    tweak(&mut config);
    let database_url = config.server.database_url.clone();
    let clock = Clock::manual(wall_clock_ms());
    let store = roost::open_store(&config).await.expect("store");
    let state = roost::build_state(config, store, clock.clone())
        .await
        .expect("state");
    // As `serve` does: without a follower of the invalidation feed, no cached token is trusted.
    roost::cluster::spawn(state.clone()).await;
    let router = roost::http::router(state.clone());
    tokio::spawn(roost::http::serve(
        router,
        listener,
        std::time::Duration::from_secs(state.config.server.header_read_timeout),
        std::future::pending(),
    ));
    let web = create_app(
        &state,
        "Test Web App",
        ClientType::Confidential,
        &[CALLBACK],
    )
    .await;
    let native = create_app(&state, "Test Native App", ClientType::Public, &[CALLBACK]).await;
    TestApp {
        base: state.public_url.clone(),
        state,
        clock,
        web,
        native,
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client"),
        db_path,
        database_url,
        store_kind: kind,
        demo_shift_ms: 0,
        _dir: dir,
        _pg: pg,
    }
}

fn wall_clock_ms() -> i64 {
    roost::clock::wall_ms()
}

fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let cfg = roost::config::LogConfig {
                filter: "debug".into(),
                ..Default::default()
            };
            roost::telemetry::init(&cfg, std::io::stderr);
        }
    });
}

pub async fn create_app(
    state: &AppState,
    name: &str,
    ty: ClientType,
    callbacks: &[&str],
) -> CreatedApp {
    let callbacks: Vec<String> = callbacks.iter().map(|s| (*s).to_owned()).collect();
    let spec = AppSpec {
        name,
        project: "Test Project",
        client_type: ty,
        callbacks: &callbacks,
        fixed: None,
    };
    accounts::create_app(state.store.as_ref(), &state.ids, state.now(), spec)
        .await
        .expect("create app")
}

pub async fn create_user(state: &AppState, username: &str, name: &str) {
    accounts::create_user(
        state.store.as_ref(),
        &state.ids,
        &state.hasher,
        state.now(),
        username,
        name,
        Some(PASSWORD),
    )
    .await
    .expect("create user");
}

/// Parameters of an authorization request; `Default` is a valid S256 request for the web App.
#[derive(Clone, Debug)]
pub struct AuthParams {
    pub pairs: Vec<(String, String)>,
    pub verifier: String,
}

impl AuthParams {
    pub fn new(client_id: &str, scope: &str) -> Self {
        let verifier = CodeVerifier::random();
        let challenge = CodeChallenge::s256_of(&verifier);
        let pairs = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
            ("scope", scope),
            ("state", "state-123"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        Self {
            pairs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            verifier: verifier.secret_str().to_owned(),
        }
    }

    /// Replaces (or with `None` removes) one parameter.
    pub fn set(mut self, key: &str, value: Option<&str>) -> Self {
        self.pairs.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.pairs.push((key.to_owned(), v.to_owned()));
        }
        self
    }

    pub fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// A browser: a cookie jar, no automatic redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("browser")
}

/// The `value` of the hidden input called `name` in an HTML page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#x2f;", "/")
            .replace("&#43;", "+")
            .replace("&amp;", "&"),
    )
}

/// The query of a `Location` header as a map.
pub fn location_query(resp: &reqwest::Response) -> BTreeMap<String, String> {
    let loc = location(resp);
    let query = loc.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

pub struct Page {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn authorize_url(&self, p: &AuthParams) -> String {
        self.url(&format!("/i/oauth2/authorize?{}", p.query()))
    }

    pub async fn get_page(&self, client: &reqwest::Client, url: &str) -> Page {
        let resp = client.get(url).send().await.expect("GET");
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    /// Posts a form to the authorize endpoint the way a browser does.
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url("/i/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .expect("POST")
    }

    /// Opens the authorize URL, signs in through the login form, and returns the consent page.
    pub async fn login(&self, client: &reqwest::Client, p: &AuthParams, username: &str) -> Page {
        let page = self.get_page(client, &self.authorize_url(p)).await;
        assert_eq!(page.status, 200, "authorize page: {}", page.body);
        let csrf = hidden(&page.body, "csrf_token").expect("csrf_token on login page");
        let request = hidden(&page.body, "request").expect("request on login page");
        let resp = self
            .post_form(
                client,
                &[
                    ("csrf_token", &csrf),
                    ("request", &request),
                    ("username", username),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            resp.status(),
            303,
            "login: {}",
            resp.text().await.unwrap_or_default()
        );
        let next = location(&resp);
        self.get_page(client, &next).await
    }

    /// Answers the consent page with `decision` (`allow` or `deny`); returns the redirect.
    pub async fn decide(
        &self,
        client: &reqwest::Client,
        consent: &Page,
        decision: &str,
    ) -> reqwest::Response {
        assert_eq!(consent.status, 200, "consent page: {}", consent.body);
        let csrf = hidden(&consent.body, "csrf_token").expect("csrf_token on consent page");
        let request = hidden(&consent.body, "request").expect("request on consent page");
        self.post_form(
            client,
            &[
                ("csrf_token", &csrf),
                ("request", &request),
                ("decision", decision),
            ],
        )
        .await
    }

    /// The whole browser journey for `p`, as alice; returns the code.
    pub async fn code_for(&self, p: &AuthParams) -> String {
        let b = browser();
        let consent = self.login(&b, p, "alice").await;
        let resp = self.decide(&b, &consent, "allow").await;
        assert_eq!(resp.status(), 303);
        let q = location_query(&resp);
        assert_eq!(q.get("state").map(String::as_str), Some("state-123"));
        q.get("code").cloned().expect("code in redirect")
    }

    /// POST /2/oauth2/token as a form, with Basic when `secret` is given.
    pub async fn token(
        &self,
        client_id: &str,
        secret: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let mut req = self.http.post(self.url("/2/oauth2/token"));
        match secret {
            Some(s) => req = req.basic_auth(client_id, Some(s)),
            None => fields.push(("client_id", client_id)),
        }
        let resp = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&fields))
            .send()
            .await
            .expect("token request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body, headers)
    }

    /// Exchanges a code for the web App (confidential, Basic).
    pub async fn exchange(&self, code: &str, verifier: &str) -> (u16, Value) {
        let secret = self.web.client_secret.clone();
        let (s, b, _) = self
            .token(
                &self.web.client_id,
                secret.as_deref(),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        (s, b)
    }

    /// A fresh token set for the web App and alice with `scope`.
    pub async fn tokens(&self, scope: &str) -> Value {
        let p = AuthParams::new(&self.web.client_id, scope);
        let code = self.code_for(&p).await;
        let (status, body) = self.exchange(&code, &p.verifier).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let secret = self.web.client_secret.clone();
        let (s, b, _) = self
            .token(
                &self.web.client_id,
                secret.as_deref(),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
            )
            .await;
        (s, b)
    }

    /// GET /2/users/me with a bearer token; returns the status.
    pub async fn me(&self, token: &str) -> u16 {
        self.http
            .get(self.url("/2/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("me")
            .status()
            .as_u16()
    }

    /// Rows of every table but the invalidation feed: a refused replay or reuse issues nothing
    /// yet tells the other nodes what it revoked. Tests of the feed read it themselves.
    pub async fn row_counts(&self) -> BTreeMap<String, i64> {
        let mut counts = self.state.store.row_counts().await.expect("row counts");
        counts.remove("invalidations");
        counts
    }

    /// A connection of the test's own to the server's database (see [`Outside`]).
    pub async fn outside(&self) -> Outside {
        use sqlx::Connection;
        match self.store_kind {
            StoreKind::Sqlite => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&self.db_path)
                    .busy_timeout(std::time::Duration::from_secs(5));
                Outside::Sqlite(
                    sqlx::SqliteConnection::connect_with(&opts)
                        .await
                        .expect("open the database"),
                )
            }
            StoreKind::Postgres => Outside::Postgres(
                sqlx::PgConnection::connect(&self.database_url)
                    .await
                    .expect("connect to the database"),
            ),
        }
    }
}

pub fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

impl TestApp {
    /// Imports an import file (CONTRACT.md format) and makes the server see it at once.
    pub async fn import_json(&self, json: &str) -> roost_store::ImportReport {
        let existing = self.state.store.load_content().await.expect("content");
        let auth = self.state.store.load_auth().await.expect("auth");
        let batch = roost::content::import::parse(
            json,
            &existing,
            &auth,
            &self.state.hasher,
            self.state.now(),
        )
        .await
        .expect("valid import file");
        let report = self.state.store.import(batch).await.expect("import");
        self.state
            .world
            .refresh(self.state.store.as_ref())
            .await
            .expect("refresh");
        report
    }

    /// Loads the demo data set the way `serve --demo` does (Space times moved to the present;
    /// `alice`, `bob` and `judy_reads` with the demo passwords). Use it through
    /// `spawn_demo_app()`: the harness's own alice and bob would clash with the demo's usernames.
    pub async fn load_demo(&mut self) -> roost_store::ImportReport {
        let (report, shift) = roost::demo::load_content(&self.state)
            .await
            .expect("demo data");
        self.demo_shift_ms = shift;
        report
    }

    /// A fresh token set for `username` (password `PASSWORD` or the demo password) and the web
    /// App with `scope`, through the real browser flow.
    pub async fn tokens_for(&self, username: &str, password: &str, scope: &str) -> Value {
        let p = AuthParams::new(&self.web.client_id, scope);
        let b = browser();
        let page = self.get_page(&b, &self.authorize_url(&p)).await;
        let csrf = hidden(&page.body, "csrf_token").expect("csrf_token");
        let request = hidden(&page.body, "request").expect("request");
        let resp = self
            .post_form(
                &b,
                &[
                    ("csrf_token", &csrf),
                    ("request", &request),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(resp.status(), 303, "login as {username}");
        let consent = self.get_page(&b, &location(&resp)).await;
        let resp = self.decide(&b, &consent, "allow").await;
        let code = location_query(&resp).get("code").cloned().expect("code");
        let (status, body) = self.exchange(&code, &p.verifier).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// An app-only Bearer Token of the web App.
    pub async fn app_token(&self) -> String {
        let resp = self
            .http
            .post(self.url("/oauth2/token"))
            .basic_auth(&self.web.api_key, Some(&self.web.api_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .expect("app-only token");
        let body: Value = resp.json().await.expect("json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

/// A second server on the same database (as a second node, or the admin CLI, would be): its
/// own process state (keys as loaded, caches, world) over the same file, with the same clock.
/// Returns its base URL and state.
pub async fn spawn_peer(app: &TestApp) -> (String, AppState) {
    spawn_peer_with_clock(app, app.clock.clone()).await
}

/// [`spawn_peer`] with a clock of its own: a node whose clock is not the first node's (a
/// skewed system clock, a manual clock that only the store keeps in step).
pub async fn spawn_peer_with_clock(app: &TestApp, clock: Clock) -> (String, AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut config = app.state.config.clone();
    config.server.addr = listener.local_addr().expect("addr").to_string();
    let store = roost::open_store(&config).await.expect("store");
    let state = roost::build_state(config, store, clock)
        .await
        .expect("state");
    // As `serve` does: without a follower of the invalidation feed, no cached token is trusted.
    roost::cluster::spawn(state.clone()).await;
    let router = roost::http::router(state.clone());
    tokio::spawn(roost::http::serve(
        router,
        listener,
        std::time::Duration::from_secs(state.config.server.header_read_timeout),
        std::future::pending(),
    ));
    (state.public_url.clone(), state)
}

/// [`spawn_app`] on SQLite whatever the run's store (see [`spawn_sqlite_app_with`]).
pub async fn spawn_sqlite_app() -> TestApp {
    spawn_sqlite_app_with(|_| {}).await
}

/// The application with the demo data set loaded instead of the harness's users: log in as
/// `alice` / `alice-password` or `bob` / `bob-password`; `app.web`/`app.native` exist as usual.
pub async fn spawn_demo_app() -> TestApp {
    spawn_demo_app_with(|_| {}).await
}

pub async fn spawn_demo_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut app = start(tweak).await;
    app.load_demo().await;
    app
}
