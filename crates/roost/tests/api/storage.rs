//! Storage and secrets (checklist G1-G4, G8, G9), refresh-token storage (D8) and bounded growth
//! (K3, K4).

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod db;

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{COOKIE, SET_COOKIE};
use roost_domain::{ClientType, Secret, TokenHash, TokenKind};
use serde_json::Value;

use crate::helpers::*;
use db::{Cell, Dump, assert_unchanged, contains, snapshot};

// ---- G1 ----

/// The 32 random bytes at the front of an X-shaped token (`base64url(<random>:<ms>:1:1:<kind>:1)`).
fn random_part(token: &str) -> Vec<u8> {
    let decoded = URL_SAFE_NO_PAD.decode(token).expect("token is base64url");
    let random = decoded.split(|b| *b == b':').next().expect("random part");
    URL_SAFE_NO_PAD
        .decode(random)
        .expect("random part is base64url")
}

#[test]
fn sec_g01_generated_secrets_are_unique_and_long() {
    let mut seen = HashSet::new();
    let mut randoms = HashSet::new();
    // One fixed timestamp: uniqueness cannot come from the clock.
    for kind in [
        TokenKind::AuthorizationCode,
        TokenKind::AccessToken,
        TokenKind::RefreshToken,
    ] {
        for _ in 0..10_000 {
            let t = Secret::generate(kind, 1_700_000_000_000);
            let random = random_part(t.expose());
            assert!(random.len() >= 32, "{} random bytes", random.len());
            assert!(seen.insert(t.expose().to_owned()), "duplicate token");
            assert!(randoms.insert(random), "duplicate random part");
        }
    }
    for _ in 0..10_000 {
        let s = Secret::random();
        assert!(URL_SAFE_NO_PAD.decode(s.expose()).unwrap().len() >= 32);
        assert!(seen.insert(s.expose().to_owned()));
        // 50 characters of 62: about 297 bits.
        let c = Secret::client_secret();
        assert_eq!(c.expose().len(), 50);
        assert!(c.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(seen.insert(c.expose().to_owned()));
    }
}

#[tokio::test]
async fn sec_g01_issued_tokens_carry_32_random_bytes() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (s, tokens) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{tokens}");
    for t in [
        code.as_str(),
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    ] {
        assert_eq!(random_part(t).len(), 32, "{t}");
    }
    let secret = app.web.client_secret.as_deref().unwrap();
    assert!(secret.len() >= 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(app.web.api_secret.len() >= 43);
    assert_ne!(app.web.api_secret, app.native.api_secret);
}

// ---- G2, G3: nothing readable in the store ----

/// `Set-Cookie` values of a response, by cookie name.
fn set_cookies(resp: &reqwest::Response) -> BTreeMap<String, String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .collect()
}

fn cookie_header(jar: &BTreeMap<String, String>) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The browser journey with cookies handled by hand, so their values are known: returns the
/// code and every cookie value and CSRF token the browser was given.
async fn journey(app: &TestApp, p: &AuthParams, username: &str) -> (String, Vec<String>) {
    let http = &app.http;
    let mut jar = BTreeMap::new();
    let mut seen = Vec::new();
    let resp = http.get(app.authorize_url(p)).send().await.unwrap();
    seen.extend(set_cookies(&resp).into_values());
    jar.extend(set_cookies(&resp));
    let page = resp.text().await.unwrap();
    let csrf = hidden(&page, "csrf_token").expect("csrf");
    let request = hidden(&page, "request").expect("request");
    seen.push(csrf.clone());
    let resp = http
        .post(app.url("/i/oauth2/authorize"))
        .header(COOKIE, cookie_header(&jar))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf_token", &csrf),
            ("request", &request),
            ("username", username),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    seen.extend(set_cookies(&resp).into_values());
    jar.extend(set_cookies(&resp));
    let resp = http
        .get(location(&resp))
        .header(COOKIE, cookie_header(&jar))
        .send()
        .await
        .unwrap();
    let page = resp.text().await.unwrap();
    let csrf = hidden(&page, "csrf_token").expect("csrf on consent");
    let request = hidden(&page, "request").expect("request on consent");
    seen.push(csrf.clone());
    let resp = http
        .post(app.url("/i/oauth2/authorize"))
        .header(COOKIE, cookie_header(&jar))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf_token", &csrf),
            ("request", &request),
            ("decision", "allow"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let code = location_query(&resp)["code"].clone();
    assert!(jar.keys().any(|k| k.contains("session")), "{jar:?}");
    (code, seen)
}

/// Every form a secret could take in storage: its text, its base64url-decoded bytes, and for
/// X-shaped tokens the 32 random bytes inside.
fn forms_of(secret: &str) -> Vec<Vec<u8>> {
    let mut out = vec![secret.as_bytes().to_vec()];
    if let Ok(d) = URL_SAFE_NO_PAD.decode(secret)
        && d.len() >= 16
    {
        out.push(d.clone());
        if let Some(random) = d.split(|b| *b == b':').next()
            && let Ok(r) = URL_SAFE_NO_PAD.decode(random)
            && r.len() >= 16
        {
            out.push(r);
        }
    }
    out
}

#[tokio::test]
async fn sec_g02_no_secret_appears_anywhere_in_the_store() {
    no_secret_anywhere(spawn_app().await).await;
}

/// The same on SQLite whatever the run's store, for its files: they keep old page versions
/// (WAL, shared memory) that no table shows.
#[tokio::test]
async fn sec_g02_no_secret_appears_in_the_sqlite_files() {
    no_secret_anywhere(spawn_sqlite_app().await).await;
}

/// Every secret a journey makes (browser values, code, verifier, tokens, client and API
/// secrets, password): in no cell of any table, and on SQLite in none of its files.
async fn no_secret_anywhere(app: TestApp) {
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, v: &str| secrets.push((name.to_owned(), v.to_owned()));

    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let (code, browser_secrets) = journey(&app, &p, "alice").await;
    // Two browser cookies (before and after login), the session cookie, two CSRF tokens.
    assert_eq!(browser_secrets.len(), 5, "{browser_secrets:?}");
    for (i, s) in browser_secrets.iter().enumerate() {
        add(&format!("browser value {i}"), s);
    }
    add("code", &code);
    add("code_verifier", &p.verifier);
    let (s, tokens) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{tokens}");
    add("access token", tokens["access_token"].as_str().unwrap());
    add("refresh token", tokens["refresh_token"].as_str().unwrap());
    let (s, refreshed) = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{refreshed}");
    add(
        "refreshed access token",
        refreshed["access_token"].as_str().unwrap(),
    );
    add(
        "rotated refresh token",
        refreshed["refresh_token"].as_str().unwrap(),
    );
    let (s, cc, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, 200, "{cc}");
    add("app-context token", cc["access_token"].as_str().unwrap());
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&app.web.api_key, Some(&app.web.api_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let bearer: Value = resp.json().await.unwrap();
    add("app-only token", bearer["access_token"].as_str().unwrap());
    add(
        "web client secret",
        app.web.client_secret.as_deref().unwrap(),
    );
    add("web API secret", &app.web.api_secret);
    add("native API secret", &app.native.api_secret);
    add("password", PASSWORD);
    // A public client's flow too.
    let np = AuthParams::new(&app.native.client_id, ALL_SCOPES);
    let ncode = app.code_for(&np).await;
    let (s, ntokens, _) = app
        .token(
            &app.native.client_id,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &ncode),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &np.verifier),
            ],
        )
        .await;
    assert_eq!(s, 200, "{ntokens}");
    add("public code", &ncode);
    add(
        "public access token",
        ntokens["access_token"].as_str().unwrap(),
    );
    add(
        "public refresh token",
        ntokens["refresh_token"].as_str().unwrap(),
    );

    let dump = snapshot(&app).await;
    for (name, secret) in &secrets {
        for f in forms_of(secret) {
            let found = dump.find_bytes(&f);
            assert!(found.is_empty(), "{name} is stored in {found:?}");
        }
    }
    // SQLite's raw files too (database, WAL, shared memory), which also hold old page
    // versions. (PostgreSQL's files are the server's, not roost's.)
    if app.store_kind == StoreKind::Sqlite {
        let mut raw = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let mut path = app.db_path.clone().into_os_string();
            path.push(suffix);
            if let Ok(bytes) = std::fs::read(&path) {
                raw.extend(bytes);
            }
        }
        assert!(raw.len() > 4096);
        for (name, secret) in &secrets {
            for f in forms_of(secret) {
                assert!(!contains(&raw, &f), "{name} is in the database files");
            }
        }
    }
    // Positive control: what is stored is the SHA-256 digest, and the dump sees it.
    let named = |n: &str| {
        secrets
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    for (name, table) in [
        ("access token", "access_tokens"),
        ("rotated refresh token", "refresh_tokens"),
        ("code", "authorization_codes"),
        ("web client secret", "apps"),
        ("web API secret", "apps"),
    ] {
        let digest = TokenHash::of(&named(name));
        let found = dump.find_bytes(digest.as_bytes());
        assert!(
            found.iter().any(|w| w.starts_with(table)),
            "{name}: digest not in {table}: {found:?}"
        );
    }
    let session = browser_secrets
        .iter()
        .find(|s| {
            dump.find_bytes(TokenHash::of(s).as_bytes())
                .iter()
                .any(|w| w == "sessions.token_hash")
        })
        .is_some();
    assert!(session, "the session cookie's digest is in sessions");
}

#[tokio::test]
async fn sec_g03_store_holds_only_digests_of_client_and_api_secrets() {
    let app = spawn_app().await;
    let dump = snapshot(&app).await;
    let apps = dump.table("apps");
    assert_eq!(apps.len(), 2);
    let row = |client_id: &str| {
        apps.iter()
            .find(|r| r["client_id"] == Cell::Text(client_id.to_owned()))
            .expect("app row")
            .clone()
    };
    let web = row(&app.web.client_id);
    let secret = app.web.client_secret.clone().unwrap();
    assert_eq!(
        web["client_secret_hash"],
        Cell::Blob(TokenHash::of(&secret).as_bytes().to_vec())
    );
    assert_eq!(
        web["api_secret_hash"],
        Cell::Blob(TokenHash::of(&app.web.api_secret).as_bytes().to_vec())
    );
    let native = row(&app.native.client_id);
    assert_eq!(native["client_secret_hash"], Cell::Null);
    assert_eq!(
        native["api_secret_hash"],
        Cell::Blob(TokenHash::of(&app.native.api_secret).as_bytes().to_vec())
    );
    // Nothing else in the row could hold a secret: every blob is a 32-byte digest, and no text
    // column contains either secret.
    for r in [&web, &native] {
        for (col, cell) in r.iter() {
            match cell {
                Cell::Blob(b) => assert_eq!(b.len(), 32, "{col}"),
                Cell::Text(t) => {
                    assert!(!t.contains(&secret), "{col}");
                    assert!(!t.contains(&app.web.api_secret), "{col}");
                }
                _ => {}
            }
        }
    }
    // What the store hands back is the digest too.
    let rec = app
        .state
        .store
        .app_by_client_id(&app.web.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        rec.client_secret_hash
            .unwrap()
            .ct_eq(&TokenHash::of(&secret))
    );
    assert!(!format!("{rec:?}").contains(&secret));
}

// ---- G4 ----

const OWASP_ARGON2ID: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

fn password_hash(dump: &Dump, username: &str) -> String {
    let row = dump
        .table("users")
        .iter()
        .find(|r| r["username"] == Cell::Text(username.into()))
        .expect("user row");
    match &row["password_hash"] {
        Cell::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sec_g04_passwords_are_argon2id_with_owasp_parameters() {
    let app = spawn_app().await;
    let dump = snapshot(&app).await;
    let alice = password_hash(&dump, "alice");
    let bob = password_hash(&dump, "bob");
    for h in [&alice, &bob] {
        assert!(h.starts_with(OWASP_ARGON2ID), "{h}");
        let parts: Vec<&str> = h.split('$').collect();
        // ["", "argon2id", "v=19", params, salt, hash]
        assert_eq!(parts.len(), 6, "{h}");
        let salt = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[4])
            .unwrap();
        assert!(salt.len() >= 16, "salt of {} bytes", salt.len());
    }
    // Same password, different salts, different hashes.
    assert_ne!(alice, bob);
    assert!(!alice.contains(PASSWORD));
}

#[tokio::test]
async fn sec_g04_weak_hashes_are_upgraded_at_login() {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let app = spawn_app().await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    let bob = app
        .state
        .store
        .user_by_username(&roost_domain::Username::parse("bob").unwrap())
        .await
        .unwrap()
        .unwrap();
    app.state
        .store
        .set_password_hash(bob.id, &weak)
        .await
        .unwrap();
    assert!(!password_hash(&snapshot(&app).await, "bob").starts_with(OWASP_ARGON2ID));
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let consent = app.login(&b, &p, "bob").await;
    assert_eq!(consent.status, 200);
    let upgraded = password_hash(&snapshot(&app).await, "bob");
    assert!(upgraded.starts_with(OWASP_ARGON2ID), "{upgraded}");
    // And the upgraded hash still lets bob in.
    let consent = app.login(&browser(), &p, "bob").await;
    assert_eq!(consent.status, 200);
}

// ---- G8 ----

#[cfg(unix)]
#[tokio::test]
async fn sec_g08_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    // SQLite's files; PostgreSQL's are the server's, kept private by its own rules.
    let app = spawn_sqlite_app().await;
    // Some writes, so the WAL and shared-memory files exist.
    app.tokens(ALL_SCOPES).await;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = app.db_path.clone().into_os_string();
        path.push(suffix);
        let meta =
            std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.to_string_lossy()));
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{}",
            path.to_string_lossy()
        );
    }
}

// ---- G9 ----

const TRICKY: &str = "O'Brien \"quoted\"; DROP TABLE apps;-- 100% _x_ \\ é";

#[tokio::test]
async fn sec_g09_tricky_app_and_display_names_are_stored_verbatim() {
    let app = spawn_app().await;
    let tricky_app = create_app(&app.state, TRICKY, ClientType::Confidential, &[CALLBACK]).await;
    let rec = app
        .state
        .store
        .app_by_client_id(&tricky_app.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.name, TRICKY);
    let project = "Proj' OR '1'='1 --%";
    let other = roost::accounts::create_app(
        app.state.store.as_ref(),
        &app.state.ids,
        app.state.now(),
        roost::accounts::AppSpec {
            name: "x\"; --",
            project,
            client_type: ClientType::Public,
            callbacks: &[CALLBACK.to_owned()],
            fixed: None,
        },
    )
    .await
    .unwrap();
    let rec = app
        .state
        .store
        .app_by_client_id(&other.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.project_name, project);
    assert_eq!(rec.name, "x\"; --");
    // A display name (1-50 characters) round-trips through the API.
    let name = "Bobby'); DROP TABLE users;-- 50%";
    create_user(&app.state, "bobby", name).await;
    let p = AuthParams::new(&tricky_app.client_id, ALL_SCOPES);
    let b = browser();
    let consent = app.login(&b, &p, "bobby").await;
    assert_eq!(consent.status, 200);
    let resp = app.decide(&b, &consent, "allow").await;
    let code = location_query(&resp)["code"].clone();
    let (s, tokens, _) = app
        .token(
            &tricky_app.client_id,
            tricky_app.client_secret.as_deref(),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(s, 200, "{tokens}");
    let me: Value = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["name"], name);
    assert_eq!(me["data"]["username"], "bobby");
    // The tables are all still there, with their rows.
    let counts = app.row_counts().await;
    assert_eq!(counts["apps"], 4);
    assert_eq!(counts["users"], 3);
}

#[tokio::test]
async fn sec_g09_tricky_usernames_are_refused_cleanly() {
    let app = spawn_app().await;
    let before = snapshot(&app).await;
    for username in ["a'b", "x\";--", "100%", "alice' OR '1'='1", "é"] {
        let r = roost::accounts::create_user(
            app.state.store.as_ref(),
            &app.state.ids,
            &app.state.hasher,
            app.state.now(),
            username,
            "Name",
            Some(PASSWORD),
        )
        .await;
        assert!(
            matches!(r, Err(roost::accounts::AccountError::BadUsername(_))),
            "{username}"
        );
    }
    assert_unchanged(&app, &before, "refused usernames").await;
    // At the login form: no 500, not signed in, the attempt recorded under the text as typed.
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&b, &app.authorize_url(&p)).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let request = hidden(&page.body, "request").unwrap();
    for username in [
        "alice' OR '1'='1",
        "alice'--",
        "\"; DROP TABLE users;--",
        "100%",
    ] {
        let resp = app
            .post_form(
                &b,
                &[
                    ("csrf_token", &csrf),
                    ("request", &request),
                    ("username", username),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(resp.status(), 401, "{username}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Wrong username or password."), "{username}");
    }
    let dump = snapshot(&app).await;
    assert!(dump.table("sessions").is_empty());
    let keys: Vec<String> = dump
        .table("login_failures")
        .iter()
        .filter_map(|r| match &r["key"] {
            Cell::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    for username in [
        "alice' or '1'='1",
        "alice'--",
        "\"; drop table users;--",
        "100%",
    ] {
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&format!("user:{username}|"))),
            "{username}: {keys:?}"
        );
    }
    assert_eq!(app.row_counts().await["users"], 2);
}

#[tokio::test]
async fn sec_g09_tricky_state_and_parameters() {
    let app = spawn_app().await;
    // The state comes back exactly as sent.
    let state = "'\"; DROP TABLE authorization_codes;-- 100% %00 _ \\ é ' OR 1=1";
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES).set("state", Some(state));
    let b = browser();
    let consent = app.login(&b, &p, "alice").await;
    let resp = app.decide(&b, &consent, "allow").await;
    assert_eq!(resp.status(), 303);
    let q = location_query(&resp);
    assert_eq!(q["state"], state);
    let (s, tokens) = app.exchange(&q["code"], &p.verifier).await;
    assert_eq!(s, 200, "{tokens}");
    // Tricky values everywhere else: refused the normal way, nothing changed.
    let before = snapshot(&app).await;
    let scope = AuthParams::new(&app.web.client_id, "tweet.read' OR 1=1--");
    let resp = app
        .http
        .get(app.authorize_url(&scope))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(location_query(&resp)["error"], "invalid_scope");
    let (s, b, _) = app
        .token(
            "' OR '1'='1",
            Some("x'--"),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, 401, "{b}");
    let (s, b, _) = app
        .token(
            "' OR '1'='1",
            None,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(s, 401, "{b}");
    let (s, b) = app
        .exchange("'; DROP TABLE authorization_codes;--", &p.verifier)
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = app.refresh("' OR 1=1--").await;
    assert_eq!(s, 400, "{b}");
    let resp = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", "' OR '1'='1"),
            ("token_type_hint", "'; --"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth("' OR 1=1--", Some("%"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_unchanged(&app, &before, "tricky parameters").await;
    assert_eq!(app.me(tokens["access_token"].as_str().unwrap()).await, 200);
}

// ---- K3, K4 ----

fn counts_of(dump: &Dump) -> BTreeMap<String, usize> {
    dump.0.iter().map(|(t, r)| (t.clone(), r.len())).collect()
}

fn expect_counts(actual: &BTreeMap<String, i64>, expected: &[(&str, i64)], what: &str) {
    for (t, n) in expected {
        assert_eq!(actual[*t], *n, "{what}: {t} in {actual:?}");
    }
}

async fn revoke(app: &TestApp, token: &str) {
    let resp = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn failed_login(app: &TestApp) {
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&b, &app.authorize_url(&p)).await;
    let resp = app
        .post_form(
            &b,
            &[
                ("csrf_token", &hidden(&page.body, "csrf_token").unwrap()),
                ("request", &hidden(&page.body, "request").unwrap()),
                ("username", "alice"),
                ("password", "wrong"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 401);
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap() * 1000
}

#[tokio::test]
async fn sec_k03_cleanup_removes_what_has_ended_and_keeps_what_lives() {
    let app = spawn_app().await;
    let cfg = app.state.config.clone();
    let grace = roost::cleanup::grace_ms(&app.state);
    // t0: a grant with a refresh token, one without, an unused code, a failed login.
    let g1 = app.tokens(ALL_SCOPES).await;
    let g2 = app.tokens("tweet.read users.read").await;
    let unused = app
        .code_for(&AuthParams::new(&app.web.client_id, ALL_SCOPES))
        .await;
    failed_login(&app).await;
    // Nothing has ended yet: a pass removes nothing.
    let before = snapshot(&app).await;
    roost::cleanup::run_once(&app.state).await;
    assert_unchanged(&app, &before, "cleanup before anything expired").await;
    // A revoked grant ends at once.
    let g3 = app.tokens(ALL_SCOPES).await;
    revoke(&app, g3["refresh_token"].as_str().unwrap()).await;
    let c = app.row_counts().await;
    expect_counts(
        &c,
        &[
            ("grants", 3),
            ("access_tokens", 3),
            ("refresh_tokens", 2),
            ("authorization_codes", 4),
            ("sessions", 4),
            ("consumed_requests", 4),
            ("login_failures", 2),
        ],
        "t0",
    );

    // Past the access-token lifetime and the grace: only g1 (its live refresh token, and the
    // used code kept for replay detection) and the sessions remain.
    app.clock
        .advance_ms(secs(cfg.oauth.access_token_ttl) + grace + 1000);
    roost::cleanup::run_once(&app.state).await;
    let c = app.row_counts().await;
    expect_counts(
        &c,
        &[
            ("grants", 1),
            ("access_tokens", 0),
            ("refresh_tokens", 1),
            ("authorization_codes", 1),
            ("sessions", 4),
            ("consumed_requests", 0),
            ("login_failures", 0),
        ],
        "after the access-token lifetime",
    );
    // Deleted, not merely expired: the store no longer knows these.
    for rt in [&g3["refresh_token"]] {
        let (s, b) = app.refresh(rt.as_str().unwrap()).await;
        assert_eq!(s, 400);
        assert_eq!(b["roost_detail"], "the refresh token is unknown", "{b}");
    }
    let (s, b) = app
        .exchange(&unused, "irrelevant-verifier-irrelevant-verifier-xx")
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["roost_detail"], "the code is unknown", "{b}");
    assert_eq!(app.me(g2["access_token"].as_str().unwrap()).await, 401);
    // The live family still works.
    let (s, g1b) = app.refresh(g1["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{g1b}");
    assert_eq!(app.me(g1b["access_token"].as_str().unwrap()).await, 200);

    // Past the refresh-token and session lifetimes: all of it goes, except a set made now.
    let longest = cfg.oauth.refresh_token_ttl.max(cfg.session.ttl);
    app.clock.advance_ms(secs(longest) + grace + 1000);
    let live = app.tokens(ALL_SCOPES).await;
    roost::cleanup::run_once(&app.state).await;
    let c = app.row_counts().await;
    expect_counts(
        &c,
        &[
            ("grants", 1),
            ("access_tokens", 1),
            ("refresh_tokens", 1),
            ("authorization_codes", 1),
            ("sessions", 1),
            ("consumed_requests", 1),
            ("login_failures", 0),
        ],
        "after every lifetime",
    );
    let (s, b) = app.refresh(g1b["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 400);
    assert_eq!(b["roost_detail"], "the refresh token is unknown", "{b}");
    assert_eq!(app.me(live["access_token"].as_str().unwrap()).await, 200);
    let (s, b) = app.refresh(live["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{b}");
    // Apps, users and keys are never cleaned up.
    let dump = snapshot(&app).await;
    let n = counts_of(&dump);
    assert_eq!(n["apps"], 2);
    assert_eq!(n["users"], 2);
    assert_eq!(n["server_keys"], 3, "web, app_bearer, refresh_rotation");
}

#[tokio::test]
async fn sec_k04_anonymous_authorize_requests_create_no_rows() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let url = app.authorize_url(&p);
    let before = snapshot(&app).await;
    for _ in 0..20 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..50 {
            // A fresh client each time: no cookie is ever sent back.
            let http = app.http.clone();
            let url = url.clone();
            set.spawn(async move { http.get(&url).send().await.unwrap().status().as_u16() });
        }
        while let Some(status) = set.join_next().await {
            assert_eq!(status.unwrap(), 200);
        }
    }
    assert_unchanged(&app, &before, "1,000 anonymous authorize requests").await;
}

#[tokio::test]
async fn sec_k04_failed_logins_are_bounded_per_address() {
    let app = spawn_app_with(|c| {
        c.login.max_failures_per_address = 5;
    })
    .await;
    let per_address = usize::try_from(app.state.config.login.max_failures_per_address).unwrap();
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&b, &app.authorize_url(&p)).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let request = hidden(&page.body, "request").unwrap();
    let mut statuses = Vec::new();
    for i in 0..(per_address * 3) {
        let username = format!("nobody{i}");
        let resp = app
            .post_form(
                &b,
                &[
                    ("csrf_token", &csrf),
                    ("request", &request),
                    ("username", &username),
                    ("password", "wrong"),
                ],
            )
            .await;
        statuses.push(resp.status().as_u16());
    }
    assert!(
        statuses[..per_address].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    assert!(
        statuses[per_address..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    // One row per username tried before the throttle, plus the address's own.
    let rows = snapshot(&app).await.table("login_failures").len();
    assert_eq!(rows, per_address + 1);
}

// ---- D8 ----

/// The digests in `refresh_tokens` (column `token_hash`) and, per digest, whether it is used.
fn stored_refresh_tokens(dump: &Dump) -> BTreeMap<Vec<u8>, bool> {
    dump.table("refresh_tokens")
        .iter()
        .map(|row| match (&row["token_hash"], &row["used_at"]) {
            (Cell::Blob(h), used) => (h.clone(), *used != Cell::Null),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn digest(token: &Value) -> Vec<u8> {
    TokenHash::of(token.as_str().unwrap()).as_bytes().to_vec()
}

#[tokio::test]
async fn sec_d08_refresh_tokens_are_digests_kept_until_their_family_ends() {
    let app = spawn_app().await;
    let cfg = app.state.config.clone();
    let grace = roost::cleanup::grace_ms(&app.state);
    // Family A: R1 -> R2 -> R3 (R1 and R2 used). Family B: S1 -> S2, later revoked. Family C:
    // T1 -> T2, left to expire.
    let r1 = app.tokens(ALL_SCOPES).await["refresh_token"].clone();
    let (_, a2) = app.refresh(r1.as_str().unwrap()).await;
    let r2 = a2["refresh_token"].clone();
    let (_, a3) = app.refresh(r2.as_str().unwrap()).await;
    let r3 = a3["refresh_token"].clone();
    let s1 = app.tokens(ALL_SCOPES).await["refresh_token"].clone();
    let (_, b2) = app.refresh(s1.as_str().unwrap()).await;
    let s2 = b2["refresh_token"].clone();
    let t1 = app.tokens(ALL_SCOPES).await["refresh_token"].clone();
    let (_, c2) = app.refresh(t1.as_str().unwrap()).await;
    let t2 = c2["refresh_token"].clone();

    // Stored as SHA-256 digests only: every token's digest is there, the token itself nowhere.
    let dump = snapshot(&app).await;
    let stored = stored_refresh_tokens(&dump);
    let all = [&r1, &r2, &r3, &s1, &s2, &t1, &t2];
    assert_eq!(stored.len(), all.len());
    for t in all {
        assert!(
            stored.contains_key(&digest(t)),
            "{t} is stored by its digest"
        );
        assert_eq!(
            dump.find_bytes(t.as_str().unwrap().as_bytes()),
            Vec::<String>::new(),
            "a refresh token in the clear"
        );
    }
    assert!(stored[&digest(&r1)] && stored[&digest(&r2)] && !stored[&digest(&r3)]);

    // Family A lives on through R3 for refresh_token_ttl; family C's last rotation, made at
    // the same time, too. Long after the access tokens are gone, cleanup keeps the used
    // digests of live families, because they are what reuse detection looks for.
    revoke(&app, s2.as_str().unwrap()).await;
    app.clock
        .advance_ms(secs(cfg.oauth.access_token_ttl) + grace + 1000);
    roost::cleanup::run_once(&app.state).await;
    let stored = stored_refresh_tokens(&snapshot(&app).await);
    let a_and_c = [&r1, &r2, &r3, &t1, &t2];
    assert_eq!(
        stored.len(),
        a_and_c.len(),
        "the revoked family B is gone: {stored:?}"
    );
    for t in a_and_c {
        assert!(
            stored.contains_key(&digest(t)),
            "{t} kept while its family lives"
        );
    }
    // ...and they still do their job: a late reuse of R1 is caught and ends family A.
    let (s, body) = app.refresh(r1.as_str().unwrap()).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = app.refresh(r3.as_str().unwrap()).await;
    assert_eq!(s, 400, "reuse revoked the family: {body}");

    // Once a family has ended (revoked, or expired unused), cleanup after the grace period
    // removes its tokens, used and unused.
    app.clock.advance_ms(grace + 1000);
    roost::cleanup::run_once(&app.state).await;
    let stored = stored_refresh_tokens(&snapshot(&app).await);
    assert_eq!(
        stored.keys().cloned().collect::<HashSet<_>>(),
        HashSet::from([digest(&t1), digest(&t2)]),
        "family A went after its revocation; C still lives"
    );
    app.clock
        .advance_ms(secs(cfg.oauth.refresh_token_ttl) + grace + 1000);
    roost::cleanup::run_once(&app.state).await;
    assert!(
        stored_refresh_tokens(&snapshot(&app).await).is_empty(),
        "family C expired and went"
    );
    let (s, body) = app.refresh(t2.as_str().unwrap()).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(app.row_counts().await["grants"], 0);
}
