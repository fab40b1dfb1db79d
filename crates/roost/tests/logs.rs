//! No secret ever reaches the log (checklist G6), even at TRACE.
//!
//! This is its own test binary because it installs the process-wide log subscriber; the main
//! suite (`tests/api`) must not have one. It reuses that suite's harness.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use helpers::*;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide log, captured at TRACE (installed once for every test of this binary).
fn captured() -> Sink {
    static SINK: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Sink::default();
        let writer = sink.clone();
        tracing_subscriber::fmt()
            // Everything at TRACE except the test's own HTTP client, whose cookie jar logs
            // cookies.
            .with_env_filter("trace,cookie_store=off,reqwest=off")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        sink
    })
    .clone()
}

/// Panics with the line of `logs` that contains `value`, if any.
fn assert_not_logged(logs: &str, what: &str, value: &str) {
    if let Some(at) = logs.find(value) {
        let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
        panic!(
            "the {what} appears in the log: {}",
            &logs[line_start..line_end]
        );
    }
}

#[tokio::test]
async fn sec_g06_no_secret_in_logs_at_trace_level() {
    let sink = captured();

    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let b = browser();
    let page = app.get_page(&b, &app.authorize_url(&p)).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let request = hidden(&page.body, "request").unwrap();
    let resp = app
        .post_form(
            &b,
            &[
                ("csrf_token", &csrf),
                ("request", &request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let session_cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            v.to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_owned()
        })
        .collect::<Vec<_>>();
    let consent = app.get_page(&b, &location(&resp)).await;
    let resp = app.decide(&b, &consent, "allow").await;
    let code = location_query(&resp)["code"].clone();
    // The code in the query string, as some SDKs send it.
    let secret = app.web.client_secret.clone().unwrap();
    let url = app.url(&format!(
        "/2/oauth2/token?grant_type=authorization_code&code={code}&code_verifier={}&redirect_uri={}",
        p.verifier,
        form(&[("x", CALLBACK)]).trim_start_matches("x=")
    ));
    let tokens: serde_json::Value = app
        .http
        .post(url)
        .basic_auth(&app.web.client_id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.me(&access).await, 200);
    let (_, refreshed) = app.refresh(&refresh).await;
    let access2 = refreshed["access_token"].as_str().unwrap().to_owned();
    let refresh2 = refreshed["refresh_token"].as_str().unwrap().to_owned();
    // A reuse, a revocation and an app-only token, so their paths log too.
    let _ = app.refresh(&refresh).await;
    app.http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, Some(&secret))
        .form(&[("token", access2.as_str())])
        .send()
        .await
        .unwrap();
    let app_token = app.app_token().await;
    let _ = app.me(&app_token).await;
    let _ = app.me("wrong-token-value-that-is-long-enough").await;

    let logs = String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("authorization code redeemed"),
        "the journey was logged"
    );
    let mut secrets = vec![
        ("password", PASSWORD.to_owned()),
        ("code", code),
        ("verifier", p.verifier.clone()),
        ("client secret", secret),
        ("api secret", app.web.api_secret.clone()),
        ("access token", access),
        ("refreshed access token", access2),
        ("refresh token", refresh),
        ("rotated refresh token", refresh2),
        ("app-only token", app_token),
        ("csrf token", csrf),
    ];
    for (i, c) in session_cookie.into_iter().enumerate() {
        secrets.push(if i == 0 {
            ("session cookie", c)
        } else {
            ("browser cookie", c)
        });
    }
    for (what, value) in secrets {
        assert!(value.len() >= 8, "{what} is a real value");
        assert_not_logged(&logs, what, &value);
    }
    assert!(
        !logs.to_lowercase().contains("authorization: basic"),
        "an Authorization header was logged"
    );
}

/// Checklist G7: the server keys never reach the log, in any encoding, from their creation at
/// first start through the flows that use them (CSRF, signed requests, app-only tokens).
#[tokio::test]
async fn sec_g07_server_keys_never_reach_the_log() {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    let sink = captured();
    let app = spawn_app().await;
    // A second server on the same file loads the keys as well.
    let (peer, _peer_state) = spawn_peer(&app).await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (s, _) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200);
    let token = app.app_token().await;
    for base in [&app.base, &peer] {
        let resp = app
            .http
            .get(format!("{base}/2/users/by/username/alice"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    let keys: Vec<(String, Vec<u8>)> = {
        use sqlx::Connection;
        let sql = "SELECT name, value FROM server_keys";
        match app.store_kind {
            StoreKind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&app.database_url)
                    .await
                    .unwrap();
                sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
            }
            StoreKind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&app.database_url)
                    .await
                    .unwrap();
                sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
            }
        }
    };
    assert_eq!(keys.len(), 3);
    let logs = String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned();
    assert!(logs.contains("roost"), "the journey was logged");
    for (name, key) in keys {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        // `{:?}` of the bytes, as a careless debug line would print them: its first half is
        // enough to recognise.
        let debug = format!("{:?}", &key[..16]);
        let debug = debug.trim_end_matches(']');
        for (encoding, value) in [
            ("hex", hex.clone()),
            ("upper-case hex", hex.to_uppercase()),
            ("base64", STANDARD.encode(&key)),
            ("base64 without padding", STANDARD_NO_PAD.encode(&key)),
            ("base64url", URL_SAFE.encode(&key)),
            ("base64url without padding", URL_SAFE_NO_PAD.encode(&key)),
            ("Debug bytes", debug.to_owned()),
        ] {
            assert_not_logged(&logs, &format!("{name} key ({encoding})"), &value);
        }
        let raw = String::from_utf8_lossy(&key).into_owned();
        assert!(
            !logs.contains(&raw),
            "the {name} key's raw bytes are in the log"
        );
    }
}
