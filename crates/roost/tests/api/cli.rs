//! The `roost` binary as an operator uses it (CONTRACT.md "One binary"): admin commands against a
//! SQLite file, `serve` as a child process, error reporting, environment fallbacks and `--demo`.
//!
//! Every child process is owned by a guard that kills it on drop, so a failing assertion never
//! leaves a server behind. Servers listen on 127.0.0.1 only.

// Test code: a failed `expect` is a failed test (clippy.toml allows it only inside #[test] fns).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::helpers::{AuthParams, browser, form, hidden, location, location_query};

const BIN: &str = env!("CARGO_BIN_EXE_roost");
/// How long a one-shot command or a server start may take before the test gives up.
const DEADLINE: Duration = Duration::from_secs(20);
pub(crate) const LOOPBACK_CALLBACK: &str = "http://127.0.0.1:8976/callback";
pub(crate) const SCOPES: &str = "tweet.read users.read offline.access";

// ---------------------------------------------------------------------------------------------
// Running the binary

/// A fresh directory and a fresh database of the run's store (on SQLite a file in that
/// directory); commands run with the directory as working directory, so nothing lands in the
/// repository even if a default path were used.
pub(crate) struct Workspace {
    db: crate::helpers::ScratchDb,
    pub(crate) db_url: String,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        let db = crate::helpers::ScratchDb::new_blocking();
        let db_url = db.url.clone();
        Self { db, db_url }
    }

    pub(crate) fn path(&self) -> &Path {
        self.db.dir()
    }

    /// `roost ARGS` with a clean environment (no inherited `ROOST_*`).
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.path())
            .env_remove("ROOST_DATABASE_URL")
            .env_remove("ROOST_CONFIG")
            .env_remove("ROOST_ADDR")
            .env_remove("ROOST_PUBLIC_URL")
            .env_remove("ROOST_CLOCK")
            .env_remove("ROOST_SEED")
            .env_remove("ROOST_SANDBOX")
            .env_remove("ROOST_ADMIN_ADDR")
            .env_remove("ROOST_SERVER_URL")
            .env_remove("ROOST_ADMIN_TOKEN")
            .env_remove("ROOST_REDIS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `roost ARGS --database-url <this workspace's database>`.
    pub(crate) async fn run_db(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database-url", &self.db_url]);
        run(self.command(&all)).await
    }

    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        run(self.command(args)).await
    }

    async fn apps_list(&self) -> Value {
        let out = self.run_db(&["apps", "list", "--json"]).await;
        out.assert_success();
        Value::Object(out.json_object())
    }
}

#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    pub(crate) fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "expected success: {self:?}");
    }

    /// stdout is exactly one line holding one JSON object, and nothing else.
    pub(crate) fn json_object(&self) -> Map<String, Value> {
        let body = self
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("stdout does not end with a newline: {self:?}"));
        assert!(
            !body.contains('\n'),
            "more than one line on stdout: {self:?}"
        );
        match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(m)) => m,
            other => panic!("stdout is not one JSON object ({other:?}): {self:?}"),
        }
    }

    /// A roost error: non-zero exit, exactly one line on stderr, starting with `roost:`, no panic.
    pub(crate) fn assert_roost_error(&self) {
        assert_eq!(
            self.code,
            Some(1),
            "expected roost's error exit (1): {self:?}"
        );
        let line = self
            .stderr
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("stderr does not end with a newline: {self:?}"));
        assert!(
            !line.contains('\n'),
            "more than one line on stderr: {self:?}"
        );
        assert!(line.starts_with("roost: "), "stderr: {self:?}");
        assert!(
            line.len() > "roost: ".len() + 5,
            "no reason given: {self:?}"
        );
        assert_no_panic(&self.stderr);
    }

    /// A usage error: exit code 2 and exactly one line on stderr (CONTRACT.md), `roost: `
    /// and clap's message, pointing at the help; no panic.
    pub(crate) fn assert_usage_error(&self) {
        assert_eq!(self.code, Some(2), "expected a usage error: {self:?}");
        let line = self
            .stderr
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("stderr does not end with a newline: {self:?}"));
        assert!(
            !line.contains('\n'),
            "more than one line on stderr: {self:?}"
        );
        assert!(line.starts_with("roost: "), "stderr: {self:?}");
        assert!(!line.contains("error:"), "stderr: {self:?}");
        assert!(line.ends_with(" --help)"), "stderr: {self:?}");
        assert_no_panic(&self.stderr);
    }
}

fn assert_no_panic(stderr: &str) {
    for marker in ["panicked", "backtrace", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!stderr.contains(marker), "`{marker}` on stderr: {stderr}");
    }
}

/// Runs a one-shot command to completion (at most `DEADLINE`), off the async threads.
pub(crate) async fn run(cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || run_blocking(cmd))
        .await
        .expect("run task")
}

fn run_blocking(mut cmd: Command) -> Output {
    let child = cmd.spawn().expect("spawn roost");
    let mut guard = ChildGuard::new(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = guard.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "roost {:?} did not finish within {DEADLINE:?}",
            cmd.get_args().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = guard.take_output();
    Output {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// Owns a child process and drains its stdout and stderr; kills the child on drop.
struct ChildGuard {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ChildGuard {
    fn new(mut child: Child) -> Self {
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(drain(out, stdout.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(drain(err, stderr.clone()));
        }
        Self {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout lock").clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// After the child exited: everything it wrote.
    fn take_output(&mut self) -> (String, String) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        (self.stdout(), self.stderr())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drain(
    stream: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let reader = BufReader::new(stream);
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let mut buf = into.lock().expect("output lock");
            buf.push_str(&line);
            buf.push('\n');
        }
    })
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `roost serve` child process that answers `/healthz`.
pub(crate) struct Server {
    pub(crate) base: String,
    process: ChildGuard,
}

impl Server {
    /// Starts `roost serve --addr 127.0.0.1:<free port> EXTRA` and waits until it is healthy.
    pub(crate) async fn start(ws: &Workspace, extra: &[&str]) -> Server {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut args = vec!["serve", "--addr", &addr];
        args.extend(extra);
        Server::start_command(ws.command(&args), &addr).await
    }

    /// [`Server::start`] on a given address (a node restarted where it was).
    pub(crate) async fn start_at(ws: &Workspace, addr: &str, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--addr", addr];
        args.extend(extra);
        Server::start_command(ws.command(&args), addr).await
    }

    pub(crate) async fn start_command(mut cmd: Command, addr: &str) -> Server {
        let child = cmd.spawn().expect("spawn roost serve");
        let mut server = Server {
            base: format!("http://{addr}"),
            process: ChildGuard::new(child),
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.child.try_wait().expect("try_wait") {
                panic!(
                    "roost serve exited with {status} before answering: {}",
                    self.process.stderr()
                );
            }
            if let Ok(resp) = http.get(format!("{}/healthz", self.base)).send().await
                && resp.status() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "roost serve did not answer /healthz within {DEADLINE:?}: {}",
                self.process.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) until stdout contains `needle`; returns stdout.
    async fn wait_stdout(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let out = self.process.stdout();
            if out.contains(needle) {
                return out;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "`{needle}` not on stdout within {DEADLINE:?}: {out}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Kills the server and returns everything it wrote to stdout and stderr.
    pub(crate) fn stop(mut self) -> (String, String) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        self.process.take_output()
    }
}

// ---------------------------------------------------------------------------------------------
// A browser and a client against a server reached over HTTP only

/// Opens `authorize_url` in the browser `b`, signs in through the login form, answers the consent
/// page with `decision`, and returns the final redirect (to the App's callback).
pub(crate) async fn browser_authorize(
    base: &str,
    b: &reqwest::Client,
    authorize_url: &str,
    username: &str,
    password: &str,
    decision: &str,
) -> reqwest::Response {
    let form_url = format!("{base}/i/oauth2/authorize");
    let resp = b.get(authorize_url).send().await.expect("GET authorize");
    assert_eq!(resp.status(), 200, "authorize page for {authorize_url}");
    let login = resp.text().await.expect("login page");
    assert!(
        login.contains("name=\"username\""),
        "no login form: {login}"
    );
    let csrf = hidden(&login, "csrf_token").expect("csrf_token on login page");
    let request = hidden(&login, "request").expect("request on login page");
    let resp = post_form(
        b,
        &form_url,
        &[
            ("csrf_token", &csrf),
            ("request", &request),
            ("username", username),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303, "login as {username}");
    let resp = b.get(location(&resp)).send().await.expect("GET consent");
    assert_eq!(resp.status(), 200, "consent page");
    let consent = resp.text().await.expect("consent page");
    let csrf = hidden(&consent, "csrf_token").expect("csrf_token on consent page");
    let request = hidden(&consent, "request").expect("request on consent page");
    post_form(
        b,
        &form_url,
        &[
            ("csrf_token", &csrf),
            ("request", &request),
            ("decision", decision),
        ],
    )
    .await
}

async fn post_form(b: &reqwest::Client, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    b.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .expect("POST form")
}

/// The whole user journey against `server` for `client_id` (secret: confidential, Basic);
/// returns `/2/users/me`'s `data`.
async fn user_flow(
    server: &Server,
    client_id: &str,
    client_secret: Option<&str>,
    username: &str,
    password: &str,
) -> Value {
    let tokens = user_tokens(server, client_id, client_secret, username, password).await;
    let access = tokens["access_token"].as_str().expect("access_token");
    let resp = reqwest::Client::new()
        .get(server.url("/2/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .expect("users/me");
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.expect("me json");
    me["data"].clone()
}

/// The authorization journey against `server` up to the token response.
pub(crate) async fn user_tokens(
    server: &Server,
    client_id: &str,
    client_secret: Option<&str>,
    username: &str,
    password: &str,
) -> Value {
    let p = AuthParams::new(client_id, SCOPES);
    let authorize = server.url(&format!("/i/oauth2/authorize?{}", p.query()));
    let resp = browser_authorize(
        &server.base,
        &browser(),
        &authorize,
        username,
        password,
        "allow",
    )
    .await;
    assert_eq!(resp.status(), 303, "consent");
    assert!(
        location(&resp).starts_with(LOOPBACK_CALLBACK),
        "{}",
        location(&resp)
    );
    let q = location_query(&resp);
    assert_eq!(q.get("state").map(String::as_str), Some("state-123"));
    let code = q.get("code").expect("code in redirect");

    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", LOOPBACK_CALLBACK),
        ("code_verifier", p.verifier.as_str()),
    ];
    let http = reqwest::Client::new();
    let mut req = http.post(server.url("/2/oauth2/token"));
    match client_secret {
        Some(s) => req = req.basic_auth(client_id, Some(s)),
        None => fields.push(("client_id", client_id)),
    }
    let resp = req
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&fields))
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200, "token exchange");
    let tokens: Value = resp.json().await.expect("token json");
    assert_eq!(tokens["token_type"], "bearer");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    tokens
}

// ---------------------------------------------------------------------------------------------
// Assertions on the JSON the commands print

fn assert_decimal_id(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u64>().is_ok(),
        "{what} is not a decimal id: {s}"
    );
}

fn keys(m: &Map<String, Value>) -> BTreeSet<&str> {
    m.keys().map(String::as_str).collect()
}

fn text<'a>(m: &'a Map<String, Value>, key: &str) -> &'a str {
    m.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("`{key}` missing or empty in {m:?}"))
}

/// Every key anywhere in `v`.
fn all_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                all_keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| all_keys(v, out)),
        _ => {}
    }
}

/// The listed App whose `client_id` is `client_id`.
fn listed_app<'a>(list: &'a Value, client_id: &str) -> &'a Value {
    list["apps"]
        .as_array()
        .unwrap_or_else(|| panic!("no `apps` array: {list}"))
        .iter()
        .find(|a| a["client_id"] == client_id)
        .unwrap_or_else(|| panic!("App {client_id} not listed: {list}"))
}

fn callbacks_of(app: &Value) -> BTreeSet<String> {
    app["callbacks"]
        .as_array()
        .unwrap_or_else(|| panic!("no callbacks: {app}"))
        .iter()
        .map(|c| c.as_str().expect("callback string").to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn admin_commands_create_apps_and_users_that_a_served_flow_accepts() {
    let ws = Workspace::new();
    let migrate = ws.run_db(&["migrate"]).await;
    migrate.assert_success();

    // A confidential App: every credential, ids as decimal strings, nothing else on stdout.
    let out = ws
        .run_db(&[
            "apps",
            "create",
            "--name",
            "CLI Web",
            "--project",
            "CLI Project",
            "--type",
            "confidential",
            "--callback",
            LOOPBACK_CALLBACK,
            "--callback",
            "https://example.com/cb",
            "--json",
        ])
        .await;
    out.assert_success();
    let web = out.json_object();
    assert_eq!(
        keys(&web),
        BTreeSet::from([
            "project_id",
            "app_id",
            "client_id",
            "client_secret",
            "api_key",
            "api_secret"
        ]),
        "{web:?}"
    );
    assert_decimal_id(&web["project_id"], "project_id");
    assert_decimal_id(&web["app_id"], "app_id");
    for k in ["client_id", "client_secret", "api_key", "api_secret"] {
        text(&web, k);
    }

    // A public App in the same project: no client secret.
    let out = ws
        .run_db(&[
            "apps",
            "create",
            "--name",
            "CLI Native",
            "--project",
            "CLI Project",
            "--type",
            "public",
            "--callback",
            LOOPBACK_CALLBACK,
            "--json",
        ])
        .await;
    out.assert_success();
    let native = out.json_object();
    assert_eq!(
        keys(&native),
        BTreeSet::from(["project_id", "app_id", "client_id", "api_key", "api_secret"]),
        "{native:?}"
    );
    assert_decimal_id(&native["project_id"], "project_id");
    assert_decimal_id(&native["app_id"], "app_id");
    assert_eq!(
        native["project_id"], web["project_id"],
        "same project name, same project"
    );
    assert_ne!(native["app_id"], web["app_id"]);
    assert_ne!(native["client_id"], web["client_id"]);

    // The listing: both Apps with their callbacks, and no secret anywhere (G3).
    let secrets = [
        text(&web, "client_secret"),
        text(&web, "api_secret"),
        text(&native, "api_secret"),
    ];
    let list_out = ws.run_db(&["apps", "list", "--json"]).await;
    list_out.assert_success();
    let list = Value::Object(list_out.json_object());
    assert_eq!(list["apps"].as_array().map(Vec::len), Some(2), "{list}");
    let listed_web = listed_app(&list, text(&web, "client_id"));
    assert_eq!(
        callbacks_of(listed_web),
        set(&[LOOPBACK_CALLBACK, "https://example.com/cb"])
    );
    assert_eq!(listed_web["app_id"], web["app_id"]);
    let listed_native = listed_app(&list, text(&native, "client_id"));
    assert_eq!(callbacks_of(listed_native), set(&[LOOPBACK_CALLBACK]));
    let human = ws.run_db(&["apps", "list"]).await;
    human.assert_success();
    for secret in secrets {
        assert!(
            !list_out.stdout.contains(secret),
            "a secret in apps list --json"
        );
        assert!(!human.stdout.contains(secret), "a secret in apps list");
    }
    let mut names = Vec::new();
    all_keys(&list, &mut names);
    // A hint is a secret's last 4 characters, so that people can tell which one they hold.
    assert!(
        names
            .iter()
            .all(|k| !k.contains("secret") || k.ends_with("_secret_hint")),
        "a secret field in the listing: {names:?}"
    );
    assert_eq!(
        listed_web["client_secret_hint"].as_str().map(str::len),
        Some(4),
        "{listed_web}"
    );
    assert!(
        listed_native["client_secret_hint"].is_null(),
        "{listed_native}"
    );

    // A user.
    let out = ws
        .run_db(&[
            "users",
            "create",
            "--username",
            "carol",
            "--name",
            "Carol Cli",
            "--password",
            "carol-pass-1",
            "--json",
        ])
        .await;
    out.assert_success();
    let carol = out.json_object();
    assert_eq!(keys(&carol), BTreeSet::from(["id", "username", "name"]));
    assert_decimal_id(&carol["id"], "id");
    assert_eq!(carol["username"], "carol");
    assert_eq!(carol["name"], "Carol Cli");

    // The server started on that file knows them: the full flow for both Apps, app-only too.
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let me = user_flow(
        &server,
        text(&web, "client_id"),
        Some(text(&web, "client_secret")),
        "carol",
        "carol-pass-1",
    )
    .await;
    assert_eq!(me["id"], carol["id"]);
    assert_eq!(me["username"], "carol");
    assert_eq!(me["name"], "Carol Cli");
    let me = user_flow(
        &server,
        text(&native, "client_id"),
        None,
        "carol",
        "carol-pass-1",
    )
    .await;
    assert_eq!(me["id"], carol["id"]);

    let resp = reqwest::Client::new()
        .post(server.url("/oauth2/token"))
        .basic_auth(text(&web, "api_key"), Some(text(&web, "api_secret")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("app-only token");
    assert_eq!(
        resp.status(),
        200,
        "app-only bearer with the printed API key"
    );
    let bearer: Value = resp.json().await.expect("bearer json");
    assert_eq!(bearer["token_type"], "bearer");

    // Admin commands while the server runs on the same file: seen at once.
    let out = ws
        .run_db(&[
            "users",
            "create",
            "--username",
            "dave",
            "--name",
            "Dave Live",
            "--password",
            "dave-pass-1",
            "--json",
        ])
        .await;
    out.assert_success();
    let dave = out.json_object();
    let out = ws
        .run_db(&[
            "apps",
            "create",
            "--name",
            "Live App",
            "--project",
            "Live Project",
            "--type",
            "confidential",
            "--callback",
            LOOPBACK_CALLBACK,
            "--json",
        ])
        .await;
    out.assert_success();
    let live = out.json_object();
    let p = AuthParams::new(text(&live, "client_id"), SCOPES);
    let resp = reqwest::get(server.url(&format!("/i/oauth2/authorize?{}", p.query())))
        .await
        .expect("authorize page of the new App");
    assert_eq!(resp.status(), 200, "the running server sees the new App");
    let me = user_flow(
        &server,
        text(&live, "client_id"),
        Some(text(&live, "client_secret")),
        "dave",
        "dave-pass-1",
    )
    .await;
    assert_eq!(me["id"], dave["id"]);
    assert_eq!(
        ws.apps_list().await["apps"].as_array().map(Vec::len),
        Some(3)
    );
    drop(server);
}

#[tokio::test]
async fn bad_input_exits_non_zero_with_one_line_and_stores_nothing() {
    let ws = Workspace::new();
    ws.run_db(&["migrate"]).await.assert_success();
    let user = [
        "users",
        "create",
        "--username",
        "erin",
        "--name",
        "Erin",
        "--password",
        "erin-pass",
    ];
    ws.run_db(&user).await.assert_success();
    let dup = ws.run_db(&user).await;
    dup.assert_roost_error();
    assert!(dup.stderr.contains("erin"), "names the username: {dup:?}");
    // Usernames are case-insensitive, as on X.
    let mut upper = user;
    upper[3] = "ERIN";
    ws.run_db(&upper).await.assert_roost_error();
    for (username, name, password) in [
        ("bad name", "N", "p"),
        ("", "N", "p"),
        ("sixteen_chars_xx", "N", "p"),
        ("frank", "", "p"),
        ("frank", "   ", "p"),
        ("frank", "F", ""),
    ] {
        let out = ws
            .run_db(&[
                "users",
                "create",
                "--username",
                username,
                "--name",
                name,
                "--password",
                password,
                "--json",
            ])
            .await;
        out.assert_roost_error();
        assert!(out.stdout.is_empty(), "{out:?}");
    }

    // A3: malformed callbacks are refused and nothing is stored.
    let before = ws.apps_list().await;
    assert_eq!(before["apps"].as_array().map(Vec::len), Some(0));
    for bad in [
        "cb",
        "http://example.com/cb",
        "https://*.example.com/cb",
        "https://example.com/cb#x",
        "https://user:pw@example.com/cb",
        "http://127.0.0.1.evil.example/cb",
        "http://localhost.evil.example/cb",
        " https://example.com/cb",
        "javascript:alert(1)",
        // Registered twice in one command.
        LOOPBACK_CALLBACK,
    ] {
        for callbacks in [vec![bad], vec![LOOPBACK_CALLBACK, bad]] {
            if callbacks == [LOOPBACK_CALLBACK] {
                continue;
            }
            let mut args = vec![
                "apps",
                "create",
                "--name",
                "Bad",
                "--project",
                "Bad Project",
                "--type",
                "confidential",
                "--json",
            ];
            for c in &callbacks {
                args.extend(["--callback", c]);
            }
            let out = ws.run_db(&args).await;
            out.assert_roost_error();
            assert!(out.stdout.is_empty(), "stdout on failure: {out:?}");
        }
    }
    assert_eq!(ws.apps_list().await, before, "a refused App left traces");
    let ok = ws
        .run_db(&[
            "apps",
            "create",
            "--name",
            "Good",
            "--type",
            "public",
            "--callback",
            LOOPBACK_CALLBACK,
            "--json",
        ])
        .await;
    ok.assert_success();
    let good = ok.json_object();
    let list = ws.apps_list().await;
    assert_eq!(
        callbacks_of(listed_app(&list, text(&good, "client_id"))),
        set(&[LOOPBACK_CALLBACK])
    );

    // clap's usage errors.
    for args in [
        vec!["apps", "list", "--bogus"],
        vec!["apps", "create", "--name", "X", "--type", "public"],
        vec![
            "apps",
            "create",
            "--type",
            "public",
            "--callback",
            LOOPBACK_CALLBACK,
        ],
        vec!["users", "create", "--username", "x", "--password", "p"],
        vec![
            "apps",
            "create",
            "--name",
            "X",
            "--type",
            "hybrid",
            "--callback",
            LOOPBACK_CALLBACK,
        ],
        vec!["frobnicate"],
        vec!["apps"],
    ] {
        let out = ws.run_db(&args).await;
        out.assert_usage_error();
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    assert_eq!(ws.apps_list().await, list);
}

#[tokio::test]
async fn sec_a03_non_ascii_callbacks_are_refused_with_their_ascii_spelling_named() {
    let ws = Workspace::new();
    let before = ws.apps_list().await;
    for bad in [
        "https://app.example/café",
        "https://bücher.example/cb",
        "http://127.0.0.1:8976/callback?lang=ü",
    ] {
        let out = ws
            .run_db(&[
                "apps",
                "create",
                "--name",
                "Intl",
                "--type",
                "public",
                "--callback",
                bad,
            ])
            .await;
        out.assert_roost_error();
        assert!(
            out.stderr.contains("outside ASCII") && out.stderr.contains("percent-encoded"),
            "{out:?}"
        );
        assert!(out.stdout.is_empty(), "{out:?}");
    }
    assert_eq!(ws.apps_list().await, before, "a refused App left traces");
    // The percent-encoded spelling is registered exactly as given.
    let encoded = "https://app.example/caf%C3%A9?lang=%C3%BC";
    let out = ws
        .run_db(&[
            "apps",
            "create",
            "--name",
            "Intl",
            "--type",
            "public",
            "--callback",
            encoded,
            "--json",
        ])
        .await;
    out.assert_success();
    let created = out.json_object();
    let list = ws.apps_list().await;
    assert_eq!(
        callbacks_of(listed_app(&list, text(&created, "client_id"))),
        [encoded.to_owned()].into_iter().collect()
    );
}

#[tokio::test]
async fn usage_errors_are_one_line_and_help_is_not_an_error() {
    let ws = Workspace::new();
    // clap's message is kept, on one line, with where to look for help.
    let out = ws.run(&["apps", "list", "--bogus"]).await;
    out.assert_usage_error();
    assert_eq!(
        out.stderr,
        "roost: unexpected argument '--bogus' found (see roost apps list --help)\n"
    );
    // clap's tip survives, on the same line.
    let out = ws.run(&["apps", "list", "--jsn"]).await;
    out.assert_usage_error();
    assert!(
        out.stderr
            .contains("unexpected argument '--jsn' found; tip: "),
        "{out:?}"
    );
    let out = ws
        .run(&[
            "apps",
            "create",
            "--name",
            "X",
            "--type",
            "hybrid",
            "--callback",
            LOOPBACK_CALLBACK,
        ])
        .await;
    out.assert_usage_error();
    assert!(
        out.stderr.contains("'hybrid'") && out.stderr.contains("confidential"),
        "{out:?}"
    );
    // Missing arguments are named on the same line.
    let out = ws.run(&["users", "create", "--name", "N"]).await;
    out.assert_usage_error();
    assert!(
        out.stderr.contains("not provided: --username <USERNAME>, --password <PASSWORD> (see roost users create --help)"),
        "{out:?}"
    );
    // A command without its subcommand, and no command at all.
    let out = ws.run(&["apps"]).await;
    out.assert_usage_error();
    assert!(out.stderr.ends_with("(see roost apps --help)\n"), "{out:?}");
    let out = ws.run(&[]).await;
    out.assert_usage_error();
    // --help and --version are not errors: clap's normal output on stdout, exit 0.
    for args in [vec!["--help"], vec!["apps", "create", "--help"], vec!["-h"]] {
        let out = ws.run(&args).await;
        out.assert_success();
        assert!(out.stdout.contains("Usage: roost"), "{args:?}: {out:?}");
        assert!(out.stdout.lines().count() > 3, "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
    let out = ws.run(&["--version"]).await;
    out.assert_success();
    assert_eq!(out.stdout, format!("roost {}\n", env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn unusable_databases_and_configs_are_one_line_errors() {
    let ws = Workspace::new();
    let missing_dir = ws
        .path()
        .join("no")
        .join("such")
        .join("dir")
        .join("roost.db");
    let missing_dir_url = format!("sqlite://{}", missing_dir.display());
    for url in [
        "postgres://roost:pg-hunter2@127.0.0.1:1/roost",
        "mysql://x",
        missing_dir_url.as_str(),
    ] {
        for args in [
            vec!["migrate", "--database-url", url],
            vec!["apps", "list", "--json", "--database-url", url],
            vec![
                "users",
                "create",
                "--username",
                "x",
                "--name",
                "X",
                "--password",
                "p",
                "--database-url",
                url,
            ],
        ] {
            let out = ws.run(&args).await;
            out.assert_roost_error();
            assert!(
                !out.stderr.contains("pg-hunter2"),
                "a database password in an error: {out:?}"
            );
        }
    }
    assert!(!missing_dir.exists());

    // Not a database, a directory, no path at all.
    let garbage = write(&ws, "garbage.db", "this is not SQLite\n");
    for url in [
        format!("sqlite://{}", garbage.display()),
        format!("sqlite://{}", ws.path().display()),
        "sqlite://".to_owned(),
        String::new(),
    ] {
        ws.run(&["migrate", "--database-url", &url])
            .await
            .assert_roost_error();
    }
    assert_eq!(
        std::fs::read_to_string(&garbage).expect("garbage file"),
        "this is not SQLite\n",
        "an unusable file was changed"
    );

    let unknown_key = write(&ws, "unknown.toml", "[oauth]\nstrict = true\n");
    let invalid = write(&ws, "invalid.toml", "[oauth\nstrict_rfc = = true\n");
    let out_of_range = write(&ws, "range.toml", "[oauth]\nauthorization_code_ttl = 601\n");
    let absent = ws.path().join("absent.toml");
    for config in [&unknown_key, &invalid, &out_of_range, &absent] {
        let config = config.to_str().expect("utf-8 path");
        for args in [
            vec!["migrate", "--config", config],
            vec!["apps", "list", "--config", config],
            vec!["serve", "--addr", "127.0.0.1:1", "--config", config],
        ] {
            let out = ws.run_db(&args).await;
            out.assert_roost_error();
        }
    }
    // A valid config file is accepted.
    let good = write(&ws, "good.toml", "[oauth]\nstrict_rfc = true\n");
    ws.run_db(&["migrate", "--config", good.to_str().expect("utf-8 path")])
        .await
        .assert_success();

    // serve: bad addresses and URLs are refused before anything listens.
    for args in [
        vec!["serve", "--addr", "nonsense"],
        vec!["serve", "--addr", "127.0.0.1"],
        vec![
            "serve",
            "--addr",
            "127.0.0.1:1",
            "--public-url",
            "ftp://example.com",
        ],
    ] {
        let out = ws.run_db(&args).await;
        out.assert_roost_error();
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let out = ws
        .run(&["serve", "--addr", &addr, "--database-url", &missing_dir_url])
        .await;
    out.assert_roost_error();
}

#[tokio::test]
async fn serve_on_a_port_already_taken_fails_with_a_reason() {
    let ws = Workspace::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = ws.run_db(&["serve", "--addr", &addr]).await;
    out.assert_roost_error();
    assert!(out.stderr.contains(&addr), "names the address: {out:?}");
    drop(taken);
}

pub(crate) fn write(ws: &Workspace, name: &str, contents: &str) -> PathBuf {
    let path = ws.path().join(name);
    std::fs::write(&path, contents).expect("write config");
    path
}

#[tokio::test]
async fn environment_variables_stand_in_for_flags() {
    let ws = Workspace::new();
    let with_env = |args: &[&str], key: &str, value: &str| {
        let mut cmd = ws.command(args);
        cmd.env(key, value);
        run(cmd)
    };
    with_env(&["migrate"], "ROOST_DATABASE_URL", &ws.db_url)
        .await
        .assert_success();
    let out = with_env(
        &[
            "apps",
            "create",
            "--name",
            "Env App",
            "--type",
            "public",
            "--callback",
            LOOPBACK_CALLBACK,
            "--json",
        ],
        "ROOST_DATABASE_URL",
        &ws.db_url,
    )
    .await;
    out.assert_success();
    let created = out.json_object();
    // The flag reads the same file, and wins over the variable.
    let mut cmd = ws.command(&["apps", "list", "--json", "--database-url", &ws.db_url]);
    cmd.env("ROOST_DATABASE_URL", "mysql://x");
    let out = run(cmd).await;
    out.assert_success();
    let list = Value::Object(out.json_object());
    listed_app(&list, text(&created, "client_id"));
    // Without flag or variable the default `sqlite://roost.db` (in the working directory) is used:
    // another file, so the App is not there.
    assert!(!ws.path().join("roost.db").exists());
    let out = ws.run(&["apps", "list", "--json"]).await;
    out.assert_success();
    assert_eq!(out.json_object()["apps"], Value::Array(vec![]));
    assert!(ws.path().join("roost.db").exists());

    let bad = write(&ws, "bad.toml", "[nope]\n");
    let mut cmd = ws.command(&["apps", "list", "--database-url", &ws.db_url]);
    cmd.env("ROOST_CONFIG", &bad);
    run(cmd).await.assert_roost_error();

    // serve: address, database and public URL from the environment.
    let addr = format!("127.0.0.1:{}", free_port());
    let public = format!(
        "http://localhost:{}",
        addr.rsplit(':').next().expect("port")
    );
    let mut cmd = ws.command(&["serve"]);
    cmd.env("ROOST_ADDR", &addr)
        .env("ROOST_DATABASE_URL", &ws.db_url)
        .env("ROOST_PUBLIC_URL", &public);
    let server = Server::start_command(cmd, &addr).await;
    let meta: Value = reqwest::get(server.url("/.well-known/oauth-authorization-server"))
        .await
        .expect("metadata")
        .json()
        .await
        .expect("metadata json");
    assert_eq!(
        meta["issuer"],
        public.as_str(),
        "ROOST_PUBLIC_URL is the issuer"
    );
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{public}/i/oauth2/authorize")
    );
    let p = AuthParams::new(text(&created, "client_id"), SCOPES);
    let resp = reqwest::get(server.url(&format!("/i/oauth2/authorize?{}", p.query())))
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 200, "the server reads ROOST_DATABASE_URL");
}

#[tokio::test]
async fn serve_demo_prints_working_credentials_and_loads_once() {
    use roost::demo;

    let ws = Workspace::new();
    let server = Server::start(&ws, &["--demo", "--database-url", &ws.db_url]).await;
    let banner = server.wait_stdout("grant_type=client_credentials").await;
    for needle in [
        demo::WEB_CLIENT_ID,
        demo::WEB_CLIENT_SECRET,
        demo::NATIVE_CLIENT_ID,
        demo::WEB_API_KEY,
        demo::WEB_API_SECRET,
        demo::NATIVE_API_KEY,
        demo::NATIVE_API_SECRET,
        demo::CALLBACK,
    ] {
        assert!(
            banner.contains(needle),
            "`{needle}` not in the banner: {banner}"
        );
    }
    for (user, _, password) in demo::USERS {
        assert!(
            banner.contains(user) && banner.contains(password),
            "{banner}"
        );
    }

    // The printed authorize URL opens the login page, and the printed steps work as written.
    let authorize = banner
        .split_whitespace()
        .find(|w| w.starts_with(&server.url("/i/oauth2/authorize?")))
        .unwrap_or_else(|| panic!("no authorize URL in the banner: {banner}"))
        .to_owned();
    let resp = reqwest::get(&authorize).await.expect("authorize");
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.expect("login page");
    assert!(page.contains("name=\"username\"") && page.contains("name=\"password\""));
    let verifier = banner
        .split_whitespace()
        .find_map(|w| w.strip_prefix("code_verifier="))
        .unwrap_or_else(|| panic!("no code_verifier in the banner: {banner}"))
        .to_owned();
    let query: BTreeMap<String, String> = form_urlencoded::parse(
        authorize
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .as_bytes(),
    )
    .into_owned()
    .collect();
    let (user, _, password) = demo::USERS[0];
    let resp = browser_authorize(
        &server.base,
        &browser(),
        &authorize,
        user,
        password,
        "allow",
    )
    .await;
    assert_eq!(resp.status(), 303);
    let q = location_query(&resp);
    assert_eq!(q.get("state"), query.get("state"));
    let code = q.get("code").expect("code");
    let resp = reqwest::Client::new()
        .post(server.url("/2/oauth2/token"))
        .basic_auth(demo::WEB_CLIENT_ID, Some(demo::WEB_CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("redirect_uri", demo::CALLBACK),
            ("code_verifier", &verifier),
            ("code", code),
        ]))
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200, "the banner's curl exchange works");
    // The public App's printed API key and secret are its real ones.
    let resp = reqwest::Client::new()
        .post(server.url("/oauth2/token"))
        .basic_auth(demo::NATIVE_API_KEY, Some(demo::NATIVE_API_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("app-only token");
    assert_eq!(
        resp.status(),
        200,
        "the public demo App's API key and secret work"
    );
    drop(server);

    let list = ws.apps_list().await;
    assert_eq!(list["apps"].as_array().map(Vec::len), Some(2), "{list}");
    listed_app(&list, demo::WEB_CLIENT_ID);
    listed_app(&list, demo::NATIVE_CLIENT_ID);

    // A second start on the same file: nothing duplicated, the demo users still sign in.
    let server = Server::start(&ws, &["--demo", "--database-url", &ws.db_url]).await;
    let banner = server.wait_stdout("grant_type=client_credentials").await;
    let authorize = banner
        .split_whitespace()
        .find(|w| w.starts_with(&server.url("/i/oauth2/authorize?")))
        .expect("authorize URL")
        .to_owned();
    let resp = browser_authorize(
        &server.base,
        &browser(),
        &authorize,
        user,
        password,
        "allow",
    )
    .await;
    assert_eq!(resp.status(), 303);
    drop(server);
    assert_eq!(
        ws.apps_list().await,
        list,
        "a second --demo start changed the Apps"
    );

    // Without --demo the store starts empty.
    let fresh = Workspace::new();
    let server = Server::start(&fresh, &["--database-url", &fresh.db_url]).await;
    drop(server);
    assert_eq!(fresh.apps_list().await["apps"], Value::Array(vec![]));
}

#[tokio::test]
async fn serve_demo_on_a_store_without_the_demo_data_prints_no_dead_credentials() {
    use roost::demo;

    let ws = Workspace::new();
    ws.run_db(&[
        "apps",
        "create",
        "--name",
        "Mine",
        "--type",
        "public",
        "--callback",
        LOOPBACK_CALLBACK,
    ])
    .await
    .assert_success();
    let before = ws.apps_list().await;
    let server = Server::start(&ws, &["--demo", "--database-url", &ws.db_url]).await;
    let resp = reqwest::get(server.url(&format!(
        "/i/oauth2/authorize?{}",
        AuthParams::new(demo::WEB_CLIENT_ID, SCOPES).query()
    )))
    .await
    .expect("authorize");
    assert_eq!(resp.status(), 400, "the demo App was not loaded");
    // The banner would be written before /healthz answers; stopping the server and reading its
    // stdout to the end sees all of it.
    let (stdout, _) = server.stop();
    assert!(
        !stdout.contains(demo::WEB_CLIENT_SECRET) && !stdout.contains("/i/oauth2/authorize?"),
        "demo credentials printed although the store has no demo data: {stdout}"
    );
    assert_eq!(ws.apps_list().await, before);
}

#[tokio::test]
async fn concurrent_first_use_of_a_fresh_database_succeeds() {
    // Several commands started at once on a file that does not exist yet (a provisioning script,
    // or `serve` and an admin command launched together) all migrate it and succeed.
    for round in 0..5 {
        let ws = Workspace::new();
        let mut runs = Vec::new();
        for i in 0..8 {
            let name = format!("App {i}");
            let mut args = vec!["migrate", "--database-url", &ws.db_url];
            if i % 4 != 0 {
                args = vec![
                    "apps",
                    "create",
                    "--name",
                    &name,
                    "--type",
                    "public",
                    "--callback",
                    LOOPBACK_CALLBACK,
                    "--json",
                    "--database-url",
                    &ws.db_url,
                ];
            }
            let cmd = ws.command(&args);
            runs.push(tokio::task::spawn_blocking(move || run_blocking(cmd)));
        }
        for r in runs {
            let out = r.await.expect("run task");
            assert_eq!(out.code, Some(0), "round {round}: {out:?}");
        }
        let list = ws.apps_list().await;
        assert_eq!(list["apps"].as_array().map(Vec::len), Some(6), "{list}");
    }
}

/// `roost migrate` several times and `roost serve`, all started at once on a fresh database:
/// every one succeeds and the schema is applied once. On PostgreSQL sqlx's migrator holds an
/// advisory lock (`pg_advisory_lock`) while it migrates, so the processes take turns and the
/// later ones find nothing to do. SQLite has no such lock in sqlx: each migration runs in one
/// transaction with its bookkeeping row, SQLite's write lock lets one process commit it, and a
/// process whose attempt failed because another got there first retries (SqliteStore::migrate).
/// Applied once: one bookkeeping row per migration, all successful, and the migration that
/// inserts `content_version`'s single row (a primary key) did not run twice.
#[tokio::test]
async fn concurrent_migrate_and_serve_on_a_fresh_database_apply_the_schema_once() {
    let migrations: Vec<i64> = {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../roost-store/migrations/sqlite"
        );
        let mut v: Vec<i64> = std::fs::read_dir(dir)
            .expect("migrations")
            .map(|e| {
                let name = e.expect("entry").file_name().to_string_lossy().into_owned();
                name.split('_')
                    .next()
                    .expect("version")
                    .parse()
                    .expect("number")
            })
            .collect();
        v.sort_unstable();
        v
    };
    for round in 0..3 {
        let ws = Workspace::new();
        let runs: Vec<_> = (0..5)
            .map(|_| {
                let cmd = ws.command(&["migrate", "--database-url", &ws.db_url]);
                tokio::task::spawn_blocking(move || run_blocking(cmd))
            })
            .collect();
        let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
        for r in runs {
            let out = r.await.expect("run task");
            out.assert_success();
            assert!(
                out.stdout.starts_with("Migrations applied"),
                "round {round}: {out:?}"
            );
        }
        let ready = reqwest::get(server.url("/readyz")).await.expect("readyz");
        assert_eq!(ready.status(), 200, "round {round}");

        let dump = crate::storage::db::dump_url(&ws.db_url).await;
        let applied: Vec<(i64, i64)> = dump
            .table("_sqlx_migrations")
            .iter()
            .map(|row| match (&row["version"], &row["success"]) {
                (crate::storage::db::Cell::Int(v), crate::storage::db::Cell::Int(ok)) => (*v, *ok),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected: Vec<(i64, i64)> = migrations.iter().map(|v| (*v, 1)).collect();
        assert_eq!(applied, expected, "round {round}");
        assert_eq!(dump.table("content_version").len(), 1, "round {round}");
        drop(server);
    }
}

// ---------------------------------------------------------------------------------------------
// Transport expectations at startup (checklist I8) and the log as an operator reads it

const CLEARTEXT_WARNING: &str = "the public URL is plain http on a non-loopback host";

#[tokio::test]
async fn sec_i08_plain_http_public_url_warns_in_x_mode() {
    let ws = Workspace::new();
    let server = Server::start(&ws, &["--public-url", "http://id.example"]).await;
    let (_, stderr) = server.stop();
    let line = stderr
        .lines()
        .find(|l| l.contains(CLEARTEXT_WARNING))
        .unwrap_or_else(|| panic!("no warning on stderr: {stderr}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("TLS"), "{line}");
    // Loopback and https need no warning.
    for public in [
        "http://127.0.0.1:8976",
        "http://localhost:8976",
        "https://id.example",
    ] {
        let server = Server::start(&ws, &["--public-url", public]).await;
        let (_, stderr) = server.stop();
        assert!(!stderr.contains(CLEARTEXT_WARNING), "{public}: {stderr}");
    }
}

#[tokio::test]
async fn sec_i08_strict_mode_refuses_a_plain_http_public_url() {
    let ws = Workspace::new();
    let strict = write(&ws, "strict.toml", "[oauth]\nstrict_rfc = true\n");
    let strict = strict.to_str().expect("path");
    let addr = format!("127.0.0.1:{}", free_port());
    for public in ["http://id.example", "http://10.0.0.5:8080"] {
        let out = ws
            .run(&[
                "serve",
                "--addr",
                &addr,
                "--config",
                strict,
                "--public-url",
                public,
            ])
            .await;
        out.assert_roost_error();
        assert!(out.stderr.contains("https"), "names the fix: {out:?}");
        assert!(
            out.stderr.contains("strict_rfc"),
            "names the setting: {out:?}"
        );
    }
    assert!(
        std::net::TcpListener::bind(&addr).is_ok(),
        "nothing was left listening"
    );
    // https, or loopback http for local use, start as usual.
    for public in ["https://id.example", "http://127.0.0.1:8976"] {
        let server = Server::start(&ws, &["--config", strict, "--public-url", public]).await;
        let (_, stderr) = server.stop();
        assert!(!stderr.contains(CLEARTEXT_WARNING), "{public}: {stderr}");
    }
}

/// Requests with a known request id, then every line the server wrote to stderr.
async fn logged_requests(config: &str, request_id: &str, headers: &[(&str, &str)]) -> String {
    let ws = Workspace::new();
    let config = write(&ws, "log.toml", config);
    let server = Server::start(&ws, &["--config", config.to_str().expect("path")]).await;
    let http = reqwest::Client::new();
    for path in [
        "/healthz",
        "/2/users/me",
        "/i/oauth2/authorize?client_id=nope",
    ] {
        let mut req = http
            .get(server.url(path))
            .header("x-request-id", request_id);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.headers()["x-request-id"], request_id);
    }
    let (_, stderr) = server.stop();
    stderr
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_per_line_with_the_request_id() {
    let stderr = logged_requests(
        "[log]\nformat = \"json\"\n[server]\ntrusted_proxies = [\"127.0.0.1\"]\n",
        "json-log-request-0001",
        &[("x-forwarded-for", "203.0.113.50")],
    )
    .await;
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "roost is listening"
                || l["message"] == "roost is listening"),
        "{stderr}"
    );
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
    }
    // Every line logged while serving those requests names the request and the client, the
    // client being the address the trusted proxy forwarded (checklist I7).
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "json-log-request-0001")
        .collect();
    assert!(ours.len() >= 3, "{stderr}");
    for l in &ours {
        assert_eq!(l["span"]["client_addr"], "203.0.113.50", "{l}");
        assert!(l["span"]["path"].is_string(), "{l}");
    }
    assert!(
        ours.iter()
            .any(|l| l.to_string().contains("authorization request refused")),
        "a handler's own line carries the request id: {stderr}"
    );
}

#[tokio::test]
async fn log_format_human_lines_carry_the_request_id() {
    let stderr =
        logged_requests("[log]\nformat = \"human\"\n", "human-log-request-0001", &[]).await;
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("request_id=human-log-request-0001"))
        .collect();
    assert!(ours.len() >= 3, "{stderr}");
    assert!(
        ours.iter()
            .any(|l| l.contains("authorization request refused")),
        "{stderr}"
    );
    for l in &ours {
        assert!(l.contains("client_addr=127.0.0.1"), "{l}");
        assert!(serde_json::from_str::<Value>(l).is_err(), "{l}");
    }
}

// Issue 3: the authorize endpoint says why it refuses, in the log too

/// The lines of `stderr` that mention `needle`.
fn lines_with<'a>(stderr: &'a str, needle: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(needle)).collect()
}

#[tokio::test]
async fn authorize_refusals_say_why_in_the_log_and_log_no_secret() {
    let ws = Workspace::new();
    let out = ws
        .run_db(&[
            "apps",
            "create",
            "--name",
            "Log App",
            "--type",
            "confidential",
            "--callback",
            LOOPBACK_CALLBACK,
            "--callback",
            "https://app.example/cb",
            "--json",
        ])
        .await;
    out.assert_success();
    let app = out.json_object();
    let (client_id, client_secret) = (text(&app, "client_id"), text(&app, "client_secret"));
    let password = "erin-password-not-for-logs";
    ws.run_db(&[
        "users",
        "create",
        "--username",
        "erin",
        "--name",
        "Erin",
        "--password",
        password,
    ])
    .await
    .assert_success();
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let state = "state-value-c0ffee-not-for-logs";
    let p = AuthParams::new(client_id, SCOPES).set("state", Some(state));
    let challenge = p
        .pairs
        .iter()
        .find(|(k, _)| k == "code_challenge")
        .map(|(_, v)| v.clone())
        .expect("code_challenge");
    let refused = |p: &AuthParams| {
        let url = server.url(&format!("/i/oauth2/authorize?{}", p.query()));
        let http = http.clone();
        async move { http.get(url).send().await.expect("authorize") }
    };

    // An unregistered callback: a page, and the log names it with the registered ones.
    let evil = "https://evil.example/steal-the-code";
    let r = refused(&p.clone().set("redirect_uri", Some(evil))).await;
    assert_eq!(r.status(), 400);
    // An unknown scope, and no PKCE: back to the App, and the log says which and what.
    let r = refused(&p.clone().set("scope", Some("tweet.read tweet.reed"))).await;
    assert_eq!(
        location_query(&r).get("error").map(String::as_str),
        Some("invalid_scope")
    );
    let r = refused(
        &p.clone()
            .set("code_challenge", None)
            .set("code_challenge_method", None),
    )
    .await;
    assert_eq!(
        location_query(&r).get("error").map(String::as_str),
        Some("invalid_request")
    );

    // A whole flow, so that a code, a verifier and tokens pass through the server too.
    let authorize = server.url(&format!("/i/oauth2/authorize?{}", p.query()));
    let resp = browser_authorize(
        &server.base,
        &browser(),
        &authorize,
        "erin",
        password,
        "allow",
    )
    .await;
    assert_eq!(resp.status(), 303);
    let q = location_query(&resp);
    assert_eq!(q.get("state").map(String::as_str), Some(state));
    let code = q.get("code").expect("code").clone();
    let exchange = |verifier: &str| {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", LOOPBACK_CALLBACK),
            ("code_verifier", verifier),
        ];
        http.post(server.url("/2/oauth2/token"))
            .basic_auth(client_id, Some(client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&fields))
            .send()
    };
    let resp = exchange(&p.verifier).await.expect("token request");
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.expect("tokens");
    // The code again, with another verifier: refused (and logged).
    let wrong_verifier = "wrong-verifier-not-for-logs-0123456789abcdefghijkl";
    let resp = exchange(wrong_verifier).await.expect("token request");
    assert_eq!(resp.status(), 400);
    let (_, stderr) = server.stop();

    let lines = lines_with(&stderr, "redirect_uri not registered");
    assert_eq!(lines.len(), 1, "{stderr}");
    for part in [evil, LOOPBACK_CALLBACK, "https://app.example/cb", client_id] {
        assert!(lines[0].contains(part), "{part} not in {}", lines[0]);
    }
    let lines = lines_with(&stderr, "authorization request refused (not redirected)");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(evil) && l.contains("not among the callback URLs")),
        "{stderr}"
    );
    let lines = lines_with(&stderr, "authorization request refused (redirected)");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("invalid_scope") && l.contains("unknown scope `tweet.reed`")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("PKCE is required: code_challenge is missing")),
        "{stderr}"
    );
    let mut secrets = vec![
        ("state", state.to_owned()),
        ("code", code.clone()),
        ("verifier", p.verifier.clone()),
        ("wrong verifier", wrong_verifier.to_owned()),
        ("code challenge", challenge),
        ("client secret", client_secret.to_owned()),
        ("password", password.to_owned()),
    ];
    for k in ["access_token", "refresh_token"] {
        secrets.push((k, text(tokens.as_object().expect("object"), k).to_owned()));
    }
    for (what, secret) in secrets {
        assert!(
            !stderr.contains(&secret),
            "the {what} is in the log: {stderr}"
        );
    }
}

// A3: callback registration rules

#[tokio::test]
async fn sec_a03_callback_registration_rules() {
    let ws = Workspace::new();
    // The first command that opens the store also creates the server keys.
    assert_eq!(ws.apps_list().await["apps"], Value::Array(vec![]));
    let db = ws.db_url.clone();
    let create = |callback: &str| {
        vec![
            "apps".to_owned(),
            "create".to_owned(),
            "--name".to_owned(),
            "A3".to_owned(),
            "--project".to_owned(),
            "A3 Project".to_owned(),
            "--type".to_owned(),
            "public".to_owned(),
            "--callback".to_owned(),
            callback.to_owned(),
            "--json".to_owned(),
        ]
    };
    // The checklist's rows, then neighbours of each; every refusal names its reason.
    let refused: &[(&str, &str)] = &[
        ("https://*.example.com/cb", "wildcard"),
        ("https://example.com/cb#x", "fragment"),
        ("cb", "not an absolute URL"),
        ("http://example.com/cb", "not loopback"),
        ("https://example.com/*", "wildcard"),
        ("https://example.com/cb#", "fragment"),
        ("/cb", "not an absolute URL"),
        ("//example.com/cb", "not an absolute URL"),
        ("https://", "not an absolute URL"),
        ("HTTP://example.com/cb", "not loopback"),
        ("http://127.0.0.1.example.com/cb", "not loopback"),
        ("http://localhost.example.com/cb", "not loopback"),
        ("http://10.0.0.1/cb", "not loopback"),
        ("javascript:alert(1)", "scheme"),
        ("myapp:/cb", "scheme"),
    ];
    for (callback, reason) in refused {
        let before = crate::storage::db::dump_url(&db).await;
        let args = create(callback);
        let out = ws
            .run_db(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        out.assert_roost_error();
        assert!(out.stdout.is_empty(), "{callback}: {out:?}");
        assert!(
            out.stderr.contains(reason),
            "{callback}: wants `{reason}`: {out:?}"
        );
        assert_eq!(
            crate::storage::db::dump_url(&db).await,
            before,
            "{callback}: refused, yet the store changed"
        );
    }
    assert_eq!(ws.apps_list().await["apps"], Value::Array(vec![]));
    // Accepted: the checklist's loopback callback, the other loopback hosts, https, and a
    // native App's reverse-domain scheme; each stored exactly as given.
    let accepted = [
        "http://127.0.0.1:8976/callback",
        "http://[::1]:8976/callback",
        "http://localhost:8976/callback",
        "https://app.example/cb?tenant=1",
        "com.example.app:/oauth2redirect",
    ];
    for callback in accepted {
        let args = create(callback);
        let out = ws
            .run_db(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        out.assert_success();
        let created = out.json_object();
        let list = ws.apps_list().await;
        assert_eq!(
            callbacks_of(listed_app(&list, text(&created, "client_id"))),
            set(&[callback])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// G10: deleting Apps and users from the command line, while a server runs

/// Polls (bounded) until `token` gets `status` from `GET /2/users/me`.
pub(crate) async fn wait_me_status(server: &Server, token: &str, status: u16) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let got = http
            .get(server.url("/2/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("users/me")
            .status()
            .as_u16();
        if got == status {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "/2/users/me still answers {got}, not {status}, 5 s after the change"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn create_json(ws: &Workspace, args: &[&str]) -> Map<String, Value> {
    let out = ws.run_db(args).await;
    out.assert_success();
    out.json_object()
}

#[tokio::test]
async fn sec_g10_apps_delete_and_users_delete_reach_a_running_server() {
    let ws = Workspace::new();
    let app_args = |name: &'static str| {
        [
            "apps",
            "create",
            "--name",
            name,
            "--type",
            "confidential",
            "--callback",
            LOOPBACK_CALLBACK,
            "--json",
        ]
    };
    let doomed = create_json(&ws, &app_args("Doomed")).await;
    let kept = create_json(&ws, &app_args("Kept")).await;
    for user in ["erin", "frank"] {
        let pw = format!("{user}-password");
        create_json(
            &ws,
            &[
                "users",
                "create",
                "--username",
                user,
                "--name",
                user,
                "--password",
                &pw,
                "--json",
            ],
        )
        .await;
    }
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let creds = |app: &Map<String, Value>| {
        (
            text(app, "client_id").to_owned(),
            text(app, "client_secret").to_owned(),
        )
    };
    let (doomed_id, doomed_secret) = creds(&doomed);
    let (kept_id, kept_secret) = creds(&kept);
    let access = |t: &Value| t["access_token"].as_str().expect("access_token").to_owned();
    let erin_doomed = access(
        &user_tokens(
            &server,
            &doomed_id,
            Some(&doomed_secret),
            "erin",
            "erin-password",
        )
        .await,
    );
    let erin_kept = access(
        &user_tokens(
            &server,
            &kept_id,
            Some(&kept_secret),
            "erin",
            "erin-password",
        )
        .await,
    );
    let frank_kept = access(
        &user_tokens(
            &server,
            &kept_id,
            Some(&kept_secret),
            "frank",
            "frank-password",
        )
        .await,
    );
    for t in [&erin_doomed, &erin_kept, &frank_kept] {
        wait_me_status(&server, t, 200).await;
    }

    // apps delete --json: one object naming the App and what went with it.
    let out = ws.run_db(&["apps", "delete", &doomed_id, "--json"]).await;
    out.assert_success();
    let deleted = out.json_object();
    assert_eq!(
        keys(&deleted),
        BTreeSet::from(["app_id", "client_id", "name", "removed"])
    );
    assert_eq!(deleted["app_id"], doomed["app_id"]);
    assert_eq!(text(&deleted, "client_id"), doomed_id);
    assert_eq!(deleted["name"], "Doomed");
    assert_eq!(deleted["removed"]["grants"], 1, "{deleted:?}");
    assert_eq!(deleted["removed"]["access_tokens"], 1, "{deleted:?}");
    assert_eq!(deleted["removed"]["refresh_tokens"], 1, "{deleted:?}");
    // The running server (another process) stops honouring the App's tokens at its next poll.
    wait_me_status(&server, &erin_doomed, 401).await;
    wait_me_status(&server, &erin_kept, 200).await;
    assert!(
        !ws.apps_list().await.to_string().contains(&doomed_id),
        "the App is gone from the listing"
    );

    // users delete --json.
    let out = ws.run_db(&["users", "delete", "erin", "--json"]).await;
    out.assert_success();
    let deleted = out.json_object();
    assert_eq!(
        keys(&deleted),
        BTreeSet::from(["id", "username", "removed"])
    );
    assert_decimal_id(&deleted["id"], "id");
    assert_eq!(deleted["username"], "erin");
    assert_eq!(
        deleted["removed"]["grants"], 1,
        "only the kept App's grant was left"
    );
    wait_me_status(&server, &erin_kept, 401).await;
    wait_me_status(&server, &frank_kept, 200).await;
    // Her tokens go through the invalidation feed (within 1 s), her content with the server's
    // next content poll (1 s).
    let started = Instant::now();
    loop {
        let resp = reqwest::Client::new()
            .get(server.url("/2/users/by/username/erin"))
            .bearer_auth(&frank_kept)
            .send()
            .await
            .expect("lookup");
        let body: Value = resp.json().await.expect("json");
        if body.get("data").is_none() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "erin is still in lookups 5 s after her deletion: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Unknown or malformed names: one-line errors, exit 1, nothing changed.
    let list = ws.apps_list().await;
    for args in [
        vec!["apps", "delete", doomed_id.as_str()],
        vec!["apps", "delete", "no-such-client", "--json"],
        vec!["users", "delete", "erin"],
        vec!["users", "delete", "nobody_here", "--json"],
        vec!["users", "delete", "not a username"],
    ] {
        let out = ws.run_db(&args).await;
        out.assert_roost_error();
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(args[2]),
            "names what was not found: {out:?}"
        );
    }
    for args in [vec!["apps", "delete"], vec!["users", "delete", "--json"]] {
        let out = ws.run_db(&args).await;
        out.assert_usage_error();
    }
    assert_eq!(ws.apps_list().await, list);

    // Without --json: a sentence for people.
    let out = ws.run_db(&["users", "delete", "frank"]).await;
    out.assert_success();
    assert!(out.stdout.starts_with("Deleted user @frank"), "{out:?}");
    let out = ws.run_db(&["apps", "delete", &kept_id]).await;
    out.assert_success();
    assert!(out.stdout.starts_with("Deleted App `Kept`"), "{out:?}");
    wait_me_status(&server, &frank_kept, 401).await;
}

// ---------------------------------------------------------------------------------------------
// J5: a killed server restarts with everything security-relevant intact (one node, SQLite)

pub(crate) async fn post_token(
    server: &Server,
    client: (&str, &str),
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(server.url("/2/oauth2/token"))
        .basic_auth(client.0, Some(client.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .expect("token endpoint");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn me_status(server: &Server, token: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url("/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("users/me")
        .status()
        .as_u16()
}

/// A failed (or throttled) login through the form: the status.
async fn login_attempt(server: &Server, client_id: &str, username: &str, password: &str) -> u16 {
    let b = browser();
    let p = AuthParams::new(client_id, SCOPES);
    let page = b
        .get(server.url(&format!("/i/oauth2/authorize?{}", p.query())))
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("page");
    let csrf = hidden(&page, "csrf_token").expect("csrf_token");
    let request = hidden(&page, "request").expect("request");
    post_form(
        &b,
        &server.url("/i/oauth2/authorize"),
        &[
            ("csrf_token", &csrf),
            ("request", &request),
            ("username", username),
            ("password", password),
        ],
    )
    .await
    .status()
    .as_u16()
}

/// The J5 tests' store: a confidential App with the loopback callback and the users `gina`
/// and `hank` (password `<name>-password`). Returns the App as `apps create --json` prints it.
async fn j5_setup(ws: &Workspace) -> Map<String, Value> {
    let web = create_json(
        ws,
        &[
            "apps",
            "create",
            "--name",
            "J5",
            "--type",
            "confidential",
            "--callback",
            LOOPBACK_CALLBACK,
            "--json",
        ],
    )
    .await;
    for user in ["gina", "hank"] {
        let pw = format!("{user}-password");
        create_json(
            ws,
            &[
                "users",
                "create",
                "--username",
                user,
                "--name",
                user,
                "--password",
                &pw,
                "--json",
            ],
        )
        .await;
    }
    web
}

#[tokio::test]
async fn sec_j05_a_killed_server_restarts_with_sessions_revocations_codes_and_throttling_intact() {
    let ws = Workspace::new();
    let web = j5_setup(&ws).await;
    let client = (text(&web, "client_id"), text(&web, "client_secret"));
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;

    // A browser with a session, and the code it got (redeemed: a used code).
    let b = browser();
    let p = AuthParams::new(client.0, SCOPES);
    let resp = browser_authorize(
        &server.base,
        &b,
        &server.url(&format!("/i/oauth2/authorize?{}", p.query())),
        "gina",
        "gina-password",
        "allow",
    )
    .await;
    let code = location_query(&resp)["code"].clone();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", LOOPBACK_CALLBACK),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (s, first) = post_token(&server, client, &exchange).await;
    assert_eq!(s, 200, "{first}");
    let first_refresh = first["refresh_token"].as_str().expect("refresh").to_owned();
    // A revoked access token.
    let revoked = user_tokens(&server, client.0, Some(client.1), "gina", "gina-password").await;
    let revoked = revoked["access_token"].as_str().expect("access").to_owned();
    let resp = reqwest::Client::new()
        .post(server.url("/2/oauth2/revoke"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), 200);
    // A rotated refresh token (used) and its successor.
    let rotated = user_tokens(&server, client.0, Some(client.1), "gina", "gina-password").await;
    let used_refresh = rotated["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (s, successor) = post_token(
        &server,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &used_refresh),
        ],
    )
    .await;
    assert_eq!(s, 200, "{successor}");
    let successor_access = successor["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    // A live grant that nothing touches.
    let live = user_tokens(&server, client.0, Some(client.1), "hank", "hank-password").await;
    let live_access = live["access_token"].as_str().expect("access").to_owned();
    // hank's logins from this address are throttled.
    for _ in 0..5 {
        assert_eq!(login_attempt(&server, client.0, "hank", "wrong").await, 401);
    }
    assert_eq!(
        login_attempt(&server, client.0, "hank", "hank-password").await,
        429
    );

    // Load while the process is killed (SIGKILL: no shutdown, no flush).
    let load = {
        let base = server.base.clone();
        let token = live_access.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client");
            for _ in 0..2_000 {
                if http
                    .get(format!("{base}/2/users/me"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, stderr) = server.stop();
    assert_no_panic(&stderr);
    load.await.expect("load task");

    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    // The session still holds: the authorize page goes straight to consent.
    let page = b
        .get(server.url(&format!(
            "/i/oauth2/authorize?{}",
            AuthParams::new(client.0, SCOPES).query()
        )))
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("name=\"decision\""),
        "consent, not login: {page}"
    );
    // The revoked token stays revoked; the live ones still work.
    assert_eq!(me_status(&server, &revoked).await, 401);
    assert_eq!(me_status(&server, &live_access).await, 200);
    assert_eq!(me_status(&server, &successor_access).await, 200);
    // Throttling continues, even with the right password.
    assert_eq!(
        login_attempt(&server, client.0, "hank", "hank-password").await,
        429
    );
    // The used code stays used: a replay is refused and revokes what it produced.
    let (s, body) = post_token(&server, client, &exchange).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = post_token(
        &server,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(s, 400, "the replay revoked the code's family: {body}");
    // The used refresh token stays used: presenting it is reuse, which ends its family.
    let (s, body) = post_token(
        &server,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &used_refresh),
        ],
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(me_status(&server, &successor_access).await, 401);
    assert_eq!(me_status(&server, &live_access).await, 200);
}

/// `GET /2/users/me` on `server`: the status and the rate-limit headers (remaining, reset).
async fn me_window(server: &Server, token: &str) -> (u16, i64, i64) {
    let resp = reqwest::Client::new()
        .get(server.url("/2/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("users/me");
    let h = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    (
        resp.status().as_u16(),
        h("x-rate-limit-remaining"),
        h("x-rate-limit-reset"),
    )
}

/// The limit of `GET /2/users/me` per user in the two-node J5 test: above the load, so the load
/// is counted, not refused.
const J5_ME_LIMIT: i64 = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sec_j05_a_node_killed_under_load_restarts_with_every_property_intact_on_both_nodes() {
    let ws = Workspace::new();
    let config = write(
        &ws,
        "roost.toml",
        &format!(
            "[rate_limits]\nshared = \"store\"\nflush_interval_ms = 50\n\
             [rate_limits.endpoints]\n\"GET /2/users/me\" = {{ user = {J5_ME_LIMIT} }}\n"
        ),
    );
    let config = config.to_str().unwrap().to_owned();
    let web = j5_setup(&ws).await;
    let client = (text(&web, "client_id"), text(&web, "client_secret"));
    let args = [
        "--database-url",
        ws.db_url.as_str(),
        "--config",
        config.as_str(),
    ];
    let a_addr = format!("127.0.0.1:{}", free_port());
    let a = Server::start_at(&ws, &a_addr, &args).await;
    let b = Server::start(&ws, &args).await;

    // A session made on A; a code issued on A and redeemed on B (a used code).
    let browser_a = browser();
    let p = AuthParams::new(client.0, SCOPES);
    let resp = browser_authorize(
        &a.base,
        &browser_a,
        &a.url(&format!("/i/oauth2/authorize?{}", p.query())),
        "gina",
        "gina-password",
        "allow",
    )
    .await;
    let code = location_query(&resp)["code"].clone();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", LOOPBACK_CALLBACK),
        ("code_verifier", p.verifier.as_str()),
    ];
    let (s, first) = post_token(&b, client, &exchange).await;
    assert_eq!(s, 200, "{first}");
    let first_access = first["access_token"].as_str().expect("access").to_owned();
    // A token revoked on A, never used on B (so no cache of B's holds it).
    let revoked = user_tokens(&a, client.0, Some(client.1), "gina", "gina-password").await;
    let revoked = revoked["access_token"].as_str().expect("access").to_owned();
    let resp = reqwest::Client::new()
        .post(a.url("/2/oauth2/revoke"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), 200);
    // hank's logins throttled by failures spread over both nodes.
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(login_attempt(node, client.0, "hank", "wrong").await, 401);
    }
    for node in [&a, &b] {
        assert_eq!(
            login_attempt(node, client.0, "hank", "hank-password").await,
            429
        );
    }
    // gina's token, and its rate-limit window in progress on both nodes.
    let live = user_tokens(&b, client.0, Some(client.1), "gina", "gina-password").await;
    let live = live["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me_window(&b, &live).await.0, 200);
    // Once B's first flush has stored the window, B reports its stored start (the global one).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, _, window_reset) = me_window(&b, &live).await;
    assert_eq!(s, 200);
    assert_eq!(s, 200);

    // A bounded load at both nodes; A is killed (SIGKILL: no shutdown, no last flush) during it.
    let load = |base: String, token: String, n: usize| {
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client");
            let mut admitted = 0_i64;
            for _ in 0..n {
                match http
                    .get(format!("{base}/2/users/me"))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => admitted += 1,
                    Ok(r) => panic!("{base}: {} under load", r.status()),
                    Err(_) => break,
                }
            }
            admitted
        })
    };
    // A's share is more than it can serve before the kill, so the kill lands inside it.
    let on_a = load(a.base.clone(), live.clone(), 1_000);
    let on_b = load(b.base.clone(), live.clone(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, stderr) = a.stop();
    assert_no_panic(&stderr);
    let admitted_a = on_a.await.expect("load on A");
    let admitted_b = on_b.await.expect("load on B");
    assert!(
        (1..1_000).contains(&admitted_a) && admitted_b == 200,
        "A {admitted_a}, B {admitted_b}"
    );

    let a = Server::start_at(&ws, &a_addr, &args).await;
    for node in [&a, &b] {
        // The session holds on both: the authorize page goes straight to consent.
        let page = browser_a
            .get(node.url(&format!(
                "/i/oauth2/authorize?{}",
                AuthParams::new(client.0, SCOPES).query()
            )))
            .send()
            .await
            .expect("authorize")
            .text()
            .await
            .expect("page");
        assert!(
            page.contains("name=\"decision\""),
            "{}: consent, not login: {page}",
            node.base
        );
        // The revoked token stays revoked; the live one works.
        assert_eq!(me_status(node, &revoked).await, 401, "{}", node.base);
        assert_eq!(me_status(node, &live).await, 200, "{}", node.base);
        // The throttling window continues, even with the right password.
        assert_eq!(
            login_attempt(node, client.0, "hank", "hank-password").await,
            429,
            "{}",
            node.base
        );
    }
    // The rate-limit window continues: same window, and B's load at least is counted on the
    // restarted A (what A admitted in its last flush interval before the kill may be lost).
    // A restarted node reports its own window until its first flush brings the stored one.
    let started = Instant::now();
    loop {
        let (s, remaining, reset) = me_window(&a, &live).await;
        assert_eq!(s, 200);
        if reset == window_reset && remaining <= J5_ME_LIMIT - 1 - admitted_b {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "A reports {remaining} remaining until {reset}; B alone admitted {admitted_b} in the window until {window_reset}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The used code stays used, on either node: a replay is refused and revokes what it made.
    let (s, body) = post_token(&a, client, &exchange).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = post_token(&b, client, &exchange).await;
    assert_eq!(s, 400, "{body}");
    let started = Instant::now();
    while me_status(&b, &first_access).await != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the replay did not revoke the code's token on B"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(me_status(&a, &first_access).await, 401);
    a.stop();
    b.stop();
}

// ---------------------------------------------------------------------------------------------
// Admin tokens

#[tokio::test]
async fn admin_token_create_prints_the_token_once_and_stores_only_its_digest() {
    let ws = Workspace::new();
    let out = ws
        .run_db(&["admin-token", "create", "--label", "CI", "--json"])
        .await;
    out.assert_success();
    let created = out.json_object();
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("roost_admin_"), "{token}");
    // 256 random bits, base64url: 43 characters after the prefix.
    assert_eq!(token.len(), "roost_admin_".len() + 43, "{token}");
    assert_eq!(created["label"], "CI");

    let text = ws.run_db(&["admin-token", "create"]).await;
    text.assert_success();
    let shown: Vec<&str> = text
        .stdout
        .split_whitespace()
        .filter(|w| w.starts_with("roost_admin_"))
        .collect();
    assert_eq!(
        shown.len(),
        1,
        "the token is printed exactly once: {text:?}"
    );
    assert_ne!(shown[0], token);

    let store = roost_store::open(&ws.db_url).await.expect("store");
    let found = store
        .admin_token_by_hash(roost_domain::TokenHash::of(&token))
        .await
        .expect("lookup")
        .expect("stored under its SHA-256 digest");
    assert_eq!(found.label, "CI");
    assert!(found.revoked_at.is_none());
    drop(store);
    // Neither token is in any cell of the store in clear...
    let dump = crate::storage::db::dump_url(&ws.db_url).await;
    for t in [token.as_str(), shown[0]] {
        let found = dump.find_bytes(t.as_bytes());
        assert!(found.is_empty(), "a token is stored in clear: {found:?}");
    }
    // ... nor in the files of the workspace (SQLite's database files).
    for entry in std::fs::read_dir(ws.path()).expect("dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        for t in [token.as_str(), shown[0]] {
            assert!(
                !bytes.windows(t.len()).any(|w| w == t.as_bytes()),
                "a token is stored in clear"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Test-only controls: tokens without a browser, auto-consent

#[tokio::test]
async fn tokens_mint_and_auto_consent_from_the_command_line_reach_a_running_server() {
    let ws = Workspace::new();
    create_json(
        &ws,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--name",
            "Alice",
            "--password",
            "pw",
            "--json",
        ],
    )
    .await;
    let app = create_json(
        &ws,
        &[
            "apps",
            "create",
            "--name",
            "Headless",
            "--type",
            "public",
            "--callback",
            LOOPBACK_CALLBACK,
            "--auto-consent-user",
            "alice",
            "--json",
        ],
    )
    .await;
    assert_eq!(app["auto_consent_user"], "alice");
    let client_id = app["client_id"].as_str().expect("client_id").to_owned();
    let users = create_json(&ws, &["users", "list", "--json"]).await;
    assert_eq!(users["users"][0]["username"], "alice");

    // Auto-consent takes effect only where the sandbox controls are on (checklist L2).
    let server = Server::start(&ws, &["--sandbox", "--database-url", &ws.db_url]).await;
    let minted = create_json(
        &ws,
        &[
            "tokens",
            "mint",
            "--app",
            &client_id,
            "--user",
            "alice",
            "--scope",
            SCOPES,
            "--expires-in",
            "600",
            "--json",
        ],
    )
    .await;
    assert_eq!(minted["token_type"], "bearer");
    assert_eq!(minted["expires_in"], 600);
    assert_eq!(minted["scope"], SCOPES);
    assert!(
        minted["refresh_token"].is_string(),
        "offline.access: {minted:?}"
    );
    let access = minted["access_token"].as_str().expect("access");
    wait_me_status(&server, access, 200).await;

    // Auto-consent: a plain client gets a code from the authorize URL alone.
    let url = authorize_url(&server, &client_id, "s1");
    let plain = no_redirects();
    let resp = plain.get(&url).send().await.expect("authorize");
    assert_eq!(resp.status(), 302);
    let q = location_query(&resp);
    assert_eq!(q["state"], "s1");
    assert!(q.contains_key("code"));

    let off = create_json(
        &ws,
        &["apps", "set-auto-consent", &client_id, "--off", "--json"],
    )
    .await;
    assert_eq!(off["auto_consent_user"], Value::Null);
    let resp = plain.get(&url).send().await.expect("authorize");
    assert_eq!(resp.status(), 200, "the login page again");
    let (_, stderr) = server.stop();
    let line = stderr
        .lines()
        .find(|l| l.contains("TEST-ONLY auto_consent"))
        .unwrap_or_else(|| panic!("no start-up warning: {stderr}"));
    assert!(line.contains("WARN") && line.contains(&client_id), "{line}");

    // Errors are one line, exit 1, and change nothing.
    for (args, reason) in [
        (
            vec![
                "tokens", "mint", "--app", "nope", "--user", "alice", "--scope", SCOPES,
            ],
            "nope",
        ),
        (
            vec![
                "tokens", "mint", "--app", &client_id, "--user", "zed", "--scope", SCOPES,
            ],
            "zed",
        ),
        (
            vec![
                "tokens",
                "mint",
                "--app",
                &client_id,
                "--user",
                "alice",
                "--scope",
                "bad.scope",
            ],
            "bad.scope",
        ),
        (
            vec!["apps", "set-auto-consent", &client_id, "--user", "zed"],
            "zed",
        ),
    ] {
        let out = ws.run_db(&args).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(
            out.stderr.starts_with("roost: ") && out.stderr.contains(reason),
            "{out:?}"
        );
    }
    let out = ws.run_db(&["apps", "set-auto-consent", &client_id]).await;
    assert_eq!(out.code, Some(2), "--user or --off is required: {out:?}");
}

#[tokio::test]
async fn a_revoked_admin_token_is_refused_by_a_running_server() {
    let ws = Workspace::new();
    let created = create_json(&ws, &["admin-token", "create", "--label", "ci", "--json"]).await;
    let token = created["token"].as_str().expect("token").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let http = reqwest::Client::new();
    let status = |t: String| {
        let http = http.clone();
        let url = server.url("/admin/v1/apps");
        async move {
            http.get(url)
                .bearer_auth(t)
                .send()
                .await
                .expect("admin call")
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(token.clone()).await, 200);
    let listed = create_json(&ws, &["admin-token", "list", "--json"]).await;
    assert_eq!(listed["admin_tokens"][0]["id"], id.as_str());
    assert_eq!(listed["admin_tokens"][0]["revoked_at"], Value::Null);
    assert!(
        !listed.values().any(|v| v.to_string().contains(&token)),
        "the token is never listed"
    );
    let revoked = create_json(&ws, &["admin-token", "revoke", &id, "--json"]).await;
    assert_eq!(revoked["revoked"], true);
    assert_eq!(status(token.clone()).await, 401);
    let listed = create_json(&ws, &["admin-token", "list", "--json"]).await;
    assert!(listed["admin_tokens"][0]["revoked_at"].is_i64());
    let again = ws.run_db(&["admin-token", "revoke", &id]).await;
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("no live admin token"), "{again:?}");
    drop(server);
}

#[tokio::test]
async fn test_only_clock_and_seed_are_announced_and_off_by_default() {
    let ws = Workspace::new();
    let server = Server::start(&ws, &["--database-url", &ws.db_url]).await;
    let (_, stderr) = server.stop();
    assert!(!stderr.contains("test-only"), "{stderr}");
    let mut cmd = ws.command(&["serve", "--database-url", &ws.db_url, "--seed", "7"]);
    let addr = format!("127.0.0.1:{}", free_port());
    cmd.args(["--addr", &addr])
        .env("ROOST_CLOCK", "manual")
        .env("ROOST_SANDBOX", "1");
    let server = Server::start_command(cmd, &addr).await;
    let (_, stderr) = server.stop();
    for needle in [
        "test-only setting on: clock = manual",
        "test-only setting on: seed = 7",
    ] {
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }
    let out = ws.run(&["serve", "--clock", "fast"]).await;
    out.assert_usage_error();
}

#[tokio::test]
async fn clock_and_logs_commands_drive_a_running_server() {
    use roost::demo;
    let ws = Workspace::new();
    let created = ws.run_db(&["admin-token", "create", "--json"]).await;
    created.assert_success();
    let admin = created.json_object()["token"].as_str().unwrap().to_owned();
    let server = Server::start(
        &ws,
        &["--demo", "--clock", "manual", "--database-url", &ws.db_url],
    )
    .await;
    let at = |args: &[&str]| {
        let mut cmd = ws.command(args);
        cmd.env("ROOST_SERVER_URL", &server.base)
            .env("ROOST_ADMIN_TOKEN", &admin);
        cmd
    };
    let shown = run(at(&["clock", "show", "--json"])).await;
    shown.assert_success();
    let before = shown.json_object()["now_ms"].as_i64().unwrap();
    let moved = run(at(&["clock", "advance", "90", "--json"])).await;
    moved.assert_success();
    assert_eq!(
        moved.json_object()["now_ms"].as_i64(),
        Some(before + 90_000)
    );
    let set = run(at(&["clock", "set", "2099-01-01T00:00:00Z"])).await;
    set.assert_success();
    assert!(
        set.stdout.contains("2099-01-01T00:00:00Z"),
        "{}",
        set.stdout
    );
    assert!(set.stdout.contains("manual clock"), "{}", set.stdout);
    run(at(&["clock", "set", "0"])).await.assert_roost_error();

    let me = user_flow(
        &server,
        demo::WEB_CLIENT_ID,
        Some(demo::WEB_CLIENT_SECRET),
        "alice",
        "alice-password",
    )
    .await;
    assert_eq!(me["username"], "alice");
    let logs = run(at(&["logs", "--app", demo::WEB_CLIENT_ID])).await;
    logs.assert_success();
    assert!(
        logs.stdout.contains("POST /2/oauth2/token 200")
            && logs.stdout.contains("GET /2/users/me 200"),
        "{}",
        logs.stdout
    );
    let logs = run(at(&["logs", "--app", demo::WEB_CLIENT_ID, "--json"])).await;
    logs.assert_success();
    assert!(logs.json_object()["requests"].as_array().unwrap().len() >= 2);
    run(at(&["logs", "--app", "nope"]))
        .await
        .assert_roost_error();
    drop(server);
}

#[tokio::test]
async fn faults_commands_add_list_and_clear_rules_on_a_running_server() {
    let ws = Workspace::new();
    let created = ws.run_db(&["admin-token", "create", "--json"]).await;
    created.assert_success();
    let admin = created.json_object()["token"].as_str().unwrap().to_owned();
    let server = Server::start(&ws, &["--sandbox", "--database-url", &ws.db_url]).await;
    let at = |args: &[&str]| {
        let mut cmd = ws.command(args);
        cmd.env("ROOST_SERVER_URL", &server.base)
            .env("ROOST_ADMIN_TOKEN", &admin);
        cmd
    };
    let http = reqwest::Client::new();
    let readyz = || async {
        http.get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("readyz")
            .status()
            .as_u16()
    };
    assert_eq!(readyz().await, 200);

    let added = run(at(&[
        "faults",
        "add",
        "--path",
        "/readyz",
        "--fault",
        "unavailable",
        "--count",
        "1",
        "--json",
    ]))
    .await;
    added.assert_success();
    let id = added.json_object()["id"].as_u64().expect("rule id");
    assert_eq!(readyz().await, 503, "the rule fires once");
    assert_eq!(readyz().await, 200, "and is spent");

    let listed = run(at(&["faults", "list"])).await;
    listed.assert_success();
    assert!(
        listed
            .stdout
            .contains(&format!("#{id} /readyz unavailable"))
            && listed.stdout.contains("injected=1"),
        "{}",
        listed.stdout
    );
    // A bad rule is refused before any request, with the reason.
    let bad = run(at(&["faults", "add", "--path", "/x", "--fault", "delay"])).await;
    bad.assert_roost_error();
    assert!(bad.stderr.contains("delay_ms"), "{}", bad.stderr);

    let cleared = run(at(&["faults", "clear", &id.to_string()])).await;
    cleared.assert_success();
    assert!(cleared.stdout.contains("removed"), "{}", cleared.stdout);
    let none = run(at(&["faults", "list", "--json"])).await;
    none.assert_success();
    assert_eq!(none.json_object()["faults"], serde_json::json!([]));
    drop(server);
}

#[tokio::test]
async fn auto_consent_from_the_config_file_is_set_at_start_up() {
    let ws = Workspace::new();
    create_json(
        &ws,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--name",
            "Alice",
            "--password",
            "pw",
            "--json",
        ],
    )
    .await;
    let app = create_json(
        &ws,
        &[
            "apps",
            "create",
            "--name",
            "Headless",
            "--type",
            "public",
            "--callback",
            LOOPBACK_CALLBACK,
            "--json",
        ],
    )
    .await;
    let client_id = app["client_id"].as_str().expect("client_id").to_owned();
    // An entry naming an App that does not exist stops the start, with the reason.
    let wrong = write(
        &ws,
        "wrong.toml",
        "[sandbox]\nenabled = true\n[[sandbox.auto_consent]]\nclient_id = \"nope\"\nuser = \"alice\"\n",
    );
    let out = ws
        .run(&[
            "serve",
            "--addr",
            &format!("127.0.0.1:{}", free_port()),
            "--database-url",
            &ws.db_url,
            "--config",
            wrong.to_str().expect("path"),
        ])
        .await;
    out.assert_roost_error();
    assert!(out.stderr.contains("sandbox.auto_consent"), "{out:?}");

    let config = write(
        &ws,
        "auto.toml",
        &format!(
            "[sandbox]\nenabled = true\n[[sandbox.auto_consent]]\nclient_id = \"{client_id}\"\nuser = \"alice\"\n"
        ),
    );
    let server = Server::start(
        &ws,
        &[
            "--database-url",
            &ws.db_url,
            "--config",
            config.to_str().expect("path"),
        ],
    )
    .await;
    let url = authorize_url(&server, &client_id, "cfg");
    let plain = no_redirects();
    let resp = plain.get(&url).send().await.expect("authorize");
    assert_eq!(resp.status(), 302, "no login page, no consent page");
    let q = location_query(&resp);
    assert_eq!(q["state"], "cfg");
    assert!(q.contains_key("code"));
    let (_, stderr) = server.stop();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("TEST-ONLY auto_consent") && l.contains(&client_id)),
        "{stderr}"
    );
}

/// A valid S256 authorize URL for `client_id` on the loopback callback.
fn authorize_url(server: &Server, client_id: &str, state: &str) -> String {
    let verifier = roost_domain::CodeVerifier::random();
    let challenge = roost_domain::CodeChallenge::s256_of(&verifier);
    format!(
        "{}?{}",
        server.url("/i/oauth2/authorize"),
        form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", LOOPBACK_CALLBACK),
            ("scope", SCOPES),
            ("state", state),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
    )
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}
