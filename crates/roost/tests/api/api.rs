//! Bearer tokens on the API (checklist F1-F8, I5), X's v2 problem bodies, unknown routes, health
//! checks, and the authorization-server metadata (I6, I9).

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::hardening::raw::{request, send};
use crate::helpers::*;

const ME: &str = "/2/users/me";
const BEARER_REALM: &str = "Bearer realm=\"roost\"";
const INVALID_TOKEN: &str = "Bearer realm=\"roost\", error=\"invalid_token\"";

fn unauthorized_body() -> Value {
    json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

/// GET /2/users/me with these `Authorization` values (none, one, or several headers).
async fn me_with(app: &TestApp, authorization: &[HeaderValue]) -> Answer {
    let mut req = app.http.get(app.url(ME));
    for a in authorization {
        req = req.header("authorization", a.clone());
    }
    answer(req.send().await.expect("GET /2/users/me")).await
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("header value")
}

/// The 401 of x-api-v2.md §E.3 with `WWW-Authenticate` `www`; the token never appears.
fn assert_401(a: &Answer, www: &str, token: Option<&str>, what: &str) {
    assert_eq!(a.status, 401, "{what}: {}", a.body);
    assert_eq!(a.json(), unauthorized_body(), "{what}");
    assert_eq!(
        a.headers["content-type"], "application/problem+json",
        "{what}"
    );
    assert_eq!(a.headers["www-authenticate"], www, "{what}");
    assert_eq!(a.headers["cache-control"], "no-store", "{what}");
    assert!(
        !a.headers
            .keys()
            .any(|k| k.as_str().starts_with("x-rate-limit")),
        "{what}"
    );
    if let Some(t) = token.filter(|t| t.trim().len() >= 4) {
        assert!(!a.body.contains(t), "{what}: token echoed in the body");
        for (k, v) in &a.headers {
            assert!(
                !String::from_utf8_lossy(v.as_bytes()).contains(t),
                "{what}: token echoed in {k}"
            );
        }
    }
}

fn access(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

#[tokio::test]
async fn sec_f01_query_and_body_tokens_never_authenticate() {
    let app = spawn_app().await;
    let token = access(&app.tokens(ALL_SCOPES).await);
    let q = form(&[("access_token", &token)]);
    let a = answer(
        app.http
            .get(app.url(&format!("{ME}?{q}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(&a, BEARER_REALM, Some(&token), "token in the query");
    let a = answer(
        app.http
            .get(app.url(ME))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(q.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(&a, BEARER_REALM, Some(&token), "token in a form body");
    let a = answer(
        app.http
            .get(app.url(ME))
            .header("content-type", "application/json")
            .body(json!({"access_token": token}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(&a, BEARER_REALM, Some(&token), "token in a JSON body");
    // The same token in the header works.
    let a = me_with(&app, &[hv(&format!("Bearer {token}"))]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["data"]["username"], "alice");
    // And a header token is not overridden by a different one in the query: `access_token` is
    // just an unknown query parameter, which X answers with its 400.
    let a = answer(
        app.http
            .get(app.url(&format!("{ME}?access_token=nonsense")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["message"],
        "The query parameter [access_token] is not one of [expansions,tweet.fields,user.fields]"
    );
}

#[tokio::test]
async fn sec_f02_no_credentials_is_401_without_error_attribute() {
    let app = spawn_app().await;
    let a = me_with(&app, &[]).await;
    assert_401(&a, BEARER_REALM, None, "no Authorization header");
}

#[tokio::test]
async fn sec_f03_malformed_unknown_and_wrong_kind_tokens_are_401() {
    let app = spawn_app().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (s, tokens) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{tokens}");
    let good = access(&tokens);
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let unknown = roost_domain::Secret::generate(roost_domain::TokenKind::AccessToken, 0);
    let long = "a".repeat(513);
    let secret = app.web.client_secret.clone().unwrap();
    let mut rows: Vec<(&str, Vec<HeaderValue>, Option<String>)> = vec![
        ("Bearer without a token", vec![hv("Bearer")], None),
        ("Bearer and a space", vec![hv("Bearer ")], None),
        ("Bearer and blanks", vec![hv("Bearer    ")], None),
        (
            "Basic scheme",
            vec![hv(&format!("Basic {good}"))],
            Some(good.clone()),
        ),
        (
            "other scheme",
            vec![hv(&format!("Token {good}"))],
            Some(good.clone()),
        ),
        ("no scheme", vec![hv(&good)], Some(good.clone())),
        (
            "scheme glued on",
            vec![hv(&format!("Bearer{good}"))],
            Some(good.clone()),
        ),
        (
            "two tokens",
            vec![hv(&format!("Bearer {good} {good}"))],
            Some(good.clone()),
        ),
        (
            "513 characters",
            vec![hv(&format!("Bearer {long}"))],
            Some(long.clone()),
        ),
        (
            "not UTF-8",
            vec![HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap()],
            None,
        ),
        (
            "unknown",
            vec![hv(&format!("Bearer {}", unknown.expose()))],
            Some(unknown.expose().to_owned()),
        ),
        (
            "refresh token",
            vec![hv(&format!("Bearer {refresh}"))],
            Some(refresh.clone()),
        ),
        (
            "authorization code",
            vec![hv(&format!("Bearer {code}"))],
            Some(code.clone()),
        ),
        (
            "client secret",
            vec![hv(&format!("Bearer {secret}"))],
            Some(secret.clone()),
        ),
        (
            "API secret",
            vec![hv(&format!("Bearer {}", app.web.api_secret))],
            Some(app.web.api_secret.clone()),
        ),
        (
            "two Authorization headers, one valid",
            vec![hv(&format!("Bearer {good}")), hv("Bearer other")],
            Some(good.clone()),
        ),
        (
            "the same valid header twice",
            vec![hv(&format!("Bearer {good}")), hv(&format!("Bearer {good}"))],
            Some(good.clone()),
        ),
    ];
    rows.push((
        "percent-encoded token",
        vec![hv(&format!(
            "Bearer %{:02X}{}",
            good.as_bytes()[0],
            &good[1..]
        ))],
        None,
    ));
    for (what, headers, token) in rows {
        let a = me_with(&app, &headers).await;
        assert_401(&a, INVALID_TOKEN, token.as_deref(), what);
    }
    // The valid token was never harmed.
    assert_eq!(app.me(&good).await, 200);
}

#[tokio::test]
async fn sec_f03_revoked_token_is_401() {
    let app = spawn_app().await;
    let token = access(&app.tokens(ALL_SCOPES).await);
    let resp = app
        .http
        .post(app.url("/2/oauth2/revoke"))
        .basic_auth(&app.web.client_id, app.web.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", &token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let a = me_with(&app, &[hv(&format!("Bearer {token}"))]).await;
    assert_401(&a, INVALID_TOKEN, Some(&token), "revoked");
}

#[tokio::test]
async fn sec_f03_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let token = access(&app.tokens(ALL_SCOPES).await);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let a = me_with(&app, &[hv(&format!("{scheme} {token}"))]).await;
        assert_eq!(a.status, 200, "{scheme}: {}", a.body);
    }
}

#[tokio::test]
async fn sec_f04_missing_scope_is_403_insufficient_scope() {
    let app = spawn_app().await;
    // /2/users/me needs tweet.read and users.read (x-api-v2.md §1.5).
    for scope in [
        "users.read",
        "tweet.read",
        "users.read offline.access",
        "follows.read",
    ] {
        let token = access(&app.tokens(scope).await);
        let a = me_with(&app, &[hv(&format!("Bearer {token}"))]).await;
        assert_eq!(a.status, 403, "{scope}: {}", a.body);
        assert_eq!(
            a.json(),
            json!({"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}),
            "{scope}"
        );
        assert_eq!(a.headers["content-type"], "application/problem+json");
        assert_eq!(a.headers["cache-control"], "no-store");
        // RFC 6750 §3: `scope` names the scope the resource requires.
        assert_eq!(
            a.headers["www-authenticate"],
            "Bearer realm=\"roost\", error=\"insufficient_scope\", scope=\"tweet.read users.read\"",
            "{scope}"
        );
        assert!(!a.body.contains(&token));
    }
    // Exactly the required set is enough.
    let token = access(&app.tokens("tweet.read users.read").await);
    assert_eq!(app.me(&token).await, 200);
}

#[tokio::test]
async fn sec_f05_app_only_tokens_are_403_unsupported_authentication() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&app.web.api_key, Some(&app.web.api_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let app_only = access(&resp.json().await.unwrap());
    let (s, b, _) = app
        .token(
            &app.web.client_id,
            app.web.client_secret.as_deref(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let app_context = access(&b);
    for token in [app_only, app_context] {
        let a = me_with(&app, &[hv(&format!("Bearer {token}"))]).await;
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(a.headers["content-type"], "application/problem+json");
        assert!(a.body.contains("endpoint.  Supported"), "{}", a.body);
        assert_eq!(
            a.json(),
            json!({
                "title": "Unsupported Authentication",
                "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                "status": 403
            })
        );
    }
}

#[tokio::test]
async fn sec_f06_access_token_expires_after_expires_in() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let token = access(&tokens);
    let ttl = i64::try_from(app.state.config.oauth.access_token_ttl).unwrap();
    assert_eq!(tokens["expires_in"], ttl);
    app.clock.advance_ms((ttl - 1) * 1000);
    assert_eq!(app.me(&token).await, 200);
    app.clock.advance_ms(2000);
    let a = me_with(&app, &[hv(&format!("Bearer {token}"))]).await;
    assert_401(&a, INVALID_TOKEN, Some(&token), "expired");
    // The refresh token (not expired) still gives a working one.
    let (s, b) = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(app.me(&access(&b)).await, 200);
}

fn rewrite_decoded(token: &str, f: impl Fn(&str) -> String) -> String {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).expect("base64url")).unwrap();
    let changed = f(&decoded);
    assert_ne!(changed, decoded);
    URL_SAFE_NO_PAD.encode(changed)
}

#[tokio::test]
async fn sec_f07_decoded_fields_are_never_trusted() {
    let app = spawn_app().await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let at = access(&tokens);
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&at).unwrap()).unwrap();
    assert!(decoded.contains(":at:"), "{decoded}");
    let rows = vec![
        (
            "kind at → rt",
            rewrite_decoded(&at, |d| d.replace(":at:", ":rt:")),
        ),
        (
            "timestamp",
            rewrite_decoded(&at, |d| {
                let mut p: Vec<String> = d.split(':').map(str::to_owned).collect();
                p[1] = "9999999999999".into();
                p.join(":")
            }),
        ),
        ("version suffix", rewrite_decoded(&at, |d| format!("{d}0"))),
        (
            "refresh token as at",
            rewrite_decoded(&rt, |d| d.replace(":rt:", ":at:")),
        ),
    ];
    for (what, forged) in rows {
        let a = me_with(&app, &[hv(&format!("Bearer {forged}"))]).await;
        assert_401(&a, INVALID_TOKEN, Some(&forged), what);
    }
    assert_eq!(app.me(&at).await, 200);
}

#[tokio::test]
async fn sec_f08_api_responses_are_not_cached() {
    let app = spawn_app().await;
    let token = access(&app.tokens(ALL_SCOPES).await);
    let ok = me_with(&app, &[hv(&format!("Bearer {token}"))]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers["content-type"],
        "application/json; charset=utf-8"
    );
    let partial = access(&app.tokens("users.read").await);
    for a in [
        ok,
        me_with(&app, &[]).await,
        me_with(&app, &[hv("Bearer nope")]).await,
        me_with(&app, &[hv(&format!("Bearer {partial}"))]).await,
    ] {
        assert_eq!(a.headers["cache-control"], "no-store", "{}", a.status);
    }
}

#[tokio::test]
async fn sec_i05_session_cookie_never_authenticates_the_api() {
    let app = spawn_app().await;
    let b = browser();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let consent = app.login(&b, &p, "alice").await;
    assert!(consent.body.contains("decision"), "logged in: consent page");
    // The browser's jar holds a live session; it gets nowhere on the API.
    let a = answer(b.get(app.url(ME)).send().await.unwrap()).await;
    assert_401(&a, BEARER_REALM, None, "session cookie only");
    // Nor on the machine endpoints (C11): client_credentials without credentials.
    let resp = b
        .post(app.url("/2/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The same browser with a bearer token is the token's user, cookie or not.
    let token = access(&app.tokens(ALL_SCOPES).await);
    let resp = b.get(app.url(ME)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    for path in ["/2/nope", "/nope", "/2/users/me/extra", "/2/"] {
        let a = answer(app.http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(a.status, 404, "{path}");
        assert_eq!(
            a.headers["content-type"], "application/problem+json",
            "{path}"
        );
        assert_eq!(
            a.json(),
            json!({"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not Found"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn health_checks_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let a = answer(app.http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.json(), json!({"status": "ok"}), "{path}");
    }
}

/// The listener's own address: with an https public URL, `app.url` names a host that does not
/// exist.
fn direct(app: &TestApp, path: &str) -> String {
    format!("http://{}{path}", app.state.config.server.addr)
}

async fn metadata(app: &TestApp, host: Option<&str>) -> Value {
    let mut req = app
        .http
        .get(direct(app, "/.well-known/oauth-authorization-server"));
    if let Some(h) = host {
        req = req.header("host", h);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn sec_i09_metadata_is_honest_in_x_mode() {
    let app = spawn_app().await;
    let m = metadata(&app, None).await;
    let base = &app.base;
    assert_eq!(m["issuer"], base.as_str());
    assert_eq!(
        m["authorization_endpoint"],
        format!("{base}/i/oauth2/authorize")
    );
    assert_eq!(m["token_endpoint"], format!("{base}/2/oauth2/token"));
    assert_eq!(m["revocation_endpoint"], format!("{base}/2/oauth2/revoke"));
    assert_eq!(
        m["code_challenge_methods_supported"],
        json!(["S256", "plain"])
    );
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(
        m["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    let scopes = m["scopes_supported"].as_array().unwrap();
    for s in ["tweet.read", "users.read", "offline.access"] {
        assert!(scopes.contains(&json!(s)), "{s}");
    }
    // Not advertised, so refused: other grant types, other response types.
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let (s, b, _) = app
            .token(
                &app.web.client_id,
                app.web.client_secret.as_deref(),
                &[("grant_type", grant)],
            )
            .await;
        assert_eq!(s, 400, "{grant}: {b}");
        assert_eq!(b["error"], "unsupported_grant_type", "{grant}");
    }
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES).set("response_type", Some("token"));
    let resp = app.http.get(app.authorize_url(&p)).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let q = location_query(&resp);
    assert_eq!(q["error"], "unsupported_response_type");
    assert!(!location(&resp).contains("access_token"));
    // Advertised, so accepted: `plain` PKCE in X mode.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
        .set("code_challenge_method", Some("plain"))
        .set("code_challenge", Some("challenge"));
    let code = app.code_for(&p).await;
    let (s, b) = app.exchange(&code, "challenge").await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn sec_i09_only_the_advertised_response_mode_is_served() {
    let app = spawn_app().await;
    let m = metadata(&app, None).await;
    assert_eq!(m["response_modes_supported"], json!(["query"]));
    // Advertised, so accepted (and so is leaving it out, or empty: empty means absent).
    for mode in [Some("query"), None, Some("")] {
        let p = AuthParams::new(&app.web.client_id, ALL_SCOPES).set("response_mode", mode);
        let resp = app.http.get(app.authorize_url(&p)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{mode:?}");
    }
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES).set("response_mode", Some("query"));
    let code = app.code_for(&p).await;
    let (s, b) = app.exchange(&code, &p.verifier).await;
    assert_eq!(s, 200, "{b}");
    // Anything else is refused, in the query of the validated callback, with the state.
    let before = app.row_counts().await;
    for mode in [
        "fragment",
        "form_post",
        "query.jwt",
        "jwt",
        "QUERY",
        "web_message",
    ] {
        let p = AuthParams::new(&app.web.client_id, ALL_SCOPES).set("response_mode", Some(mode));
        let resp = app.http.get(app.authorize_url(&p)).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{mode}");
        let loc = location(&resp);
        assert!(loc.starts_with(&format!("{CALLBACK}?")), "{mode}: {loc}");
        assert!(!loc.contains('#'), "{mode}: {loc}");
        let q = location_query(&resp);
        assert_eq!(q["error"], "invalid_request", "{mode}");
        assert_eq!(q["state"], "state-123", "{mode}");
        assert!(!q.contains_key("code"), "{mode}");
        assert!(
            q["error_description"].contains(&format!("response_mode `{mode}` is not supported")),
            "{mode}: {q:?}"
        );
    }
    // Repeated with different values: refused the same way.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES).set("response_mode", Some("query"));
    let url = format!("{}&response_mode=fragment", app.authorize_url(&p));
    let resp = app.http.get(url).send().await.unwrap();
    assert_eq!(location_query(&resp)["error"], "invalid_request");
    // The client and callback are checked first: an unregistered callback is never redirected
    // to, whatever the response_mode.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
        .set("response_mode", Some("fragment"))
        .set("redirect_uri", Some("https://evil.test/cb"));
    let resp = app.http.get(app.authorize_url(&p)).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_i09_metadata_is_honest_in_strict_mode() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let m = metadata(&app, None).await;
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    let before = app.row_counts().await;
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
        .set("code_challenge_method", Some("plain"))
        .set("code_challenge", Some(&"c".repeat(43)));
    let resp = app.http.get(app.authorize_url(&p)).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert_eq!(location_query(&resp)["error"], "invalid_request");
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn sec_i06_host_header_does_not_change_urls() {
    let app = spawn_app().await;
    let m = metadata(&app, Some("evil.test")).await;
    assert_eq!(m["issuer"], app.base.as_str());
    assert_eq!(m["token_endpoint"], format!("{}/2/oauth2/token", app.base));
    // Over a raw connection, where the Host line is certainly what the test says it is.
    let r = send(
        &app,
        request(
            "GET",
            b"/.well-known/oauth-authorization-server",
            &[
                ("X-Forwarded-Host", b"evil.test"),
                ("X-Forwarded-Proto", b"https"),
                ("Forwarded", b"host=evil.test;proto=https"),
            ],
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let raw_host = String::from_utf8(r.body.clone()).unwrap();
    assert!(!raw_host.contains("evil.test") && !raw_host.contains("roost.test"));
    let m: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(m["issuer"], app.base.as_str());
    // The login form's action too.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let resp = app
        .http
        .get(app.authorize_url(&p))
        .header("host", "evil.test")
        .header("x-forwarded-host", "evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(!page.contains("evil.test"), "{page}");
    let action = format!("action=\"{}/i/oauth2/authorize\"", app.base);
    let unescaped = page.replace("&#x2f;", "/").replace("&#47;", "/");
    assert!(unescaped.contains(&action), "{page}");
}

#[tokio::test]
async fn sec_i06_issuer_is_the_configured_public_url() {
    let app = spawn_app_with(|c| c.server.public_url = Some("https://roost.test".into())).await;
    for host in [None, Some("evil.test")] {
        let m = metadata(&app, host).await;
        assert_eq!(m["issuer"], "https://roost.test");
        assert_eq!(
            m["authorization_endpoint"],
            "https://roost.test/i/oauth2/authorize"
        );
    }
}

/// X's `Content-Type` on every API answer (x-api-v2.md: bodies are
/// `application/json; charset=utf-8`; whole-request problems `application/problem+json`, 400s
/// `application/json; charset=utf-8`), the full value, not a prefix.
#[tokio::test]
async fn every_api_answer_has_xs_exact_content_type() {
    let app = spawn_app().await;
    let t = access(
        &app.tokens("tweet.read tweet.write users.read follows.read follows.write")
            .await,
    );
    let me = app.state.world.read().user_by_username("alice").unwrap().id;
    let bob = app.state.world.read().user_by_username("bob").unwrap().id;
    let json = "application/json; charset=utf-8";
    let problem = "application/problem+json";
    let send = async |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = app.http.request(method, app.url(path)).bearer_auth(&t);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        answer(req.send().await.unwrap()).await
    };
    let created = send(
        reqwest::Method::POST,
        "/2/tweets",
        Some(json!({"text": "typed"})),
    )
    .await;
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    let cases = [
        (created, 201, json),
        (send(reqwest::Method::GET, ME, None).await, 200, json),
        (
            send(reqwest::Method::GET, &format!("/2/tweets/{id}"), None).await,
            200,
            json,
        ),
        (
            send(
                reqwest::Method::GET,
                &format!("/2/users/{me}/following"),
                None,
            )
            .await,
            200,
            json,
        ),
        (
            send(
                reqwest::Method::POST,
                &format!("/2/users/{me}/following"),
                Some(json!({"target_user_id": bob.to_string()})),
            )
            .await,
            200,
            json,
        ),
        (
            send(reqwest::Method::DELETE, &format!("/2/tweets/{id}"), None).await,
            200,
            json,
        ),
        (
            send(reqwest::Method::GET, "/2/users/abc", None).await,
            400,
            json,
        ),
        (
            send(reqwest::Method::GET, &format!("/2/users/{bob}"), None).await,
            200,
            json,
        ),
        (
            send(reqwest::Method::GET, "/2/spaces/1", None).await,
            403,
            problem,
        ),
        (
            answer(app.http.get(app.url(ME)).send().await.unwrap()).await,
            401,
            problem,
        ),
        (
            send(reqwest::Method::PUT, "/2/tweets", None).await,
            405,
            problem,
        ),
    ];
    for (i, (a, status, ct)) in cases.iter().enumerate() {
        assert_eq!(a.status, *status, "case {i}: {}", a.body);
        assert_eq!(a.headers["content-type"], *ct, "case {i}: {}", a.body);
    }
}

/// A method an API path does not serve is a problem object, as X's other whole-request errors
/// are, with `Allow` naming what the path takes, and counted in no window. Like every request
/// on an API path it authenticates first: without a token it is the 401.
#[tokio::test]
async fn unsupported_methods_on_api_paths_are_405_problems_with_allow() {
    let app = spawn_app().await;
    let t = access(&app.tokens("tweet.read users.read").await);
    for (method, path, allow) in [
        ("PUT", "/2/tweets", "GET,HEAD,POST"),
        ("PATCH", "/2/tweets/1", "GET,HEAD,DELETE"),
        ("DELETE", "/2/users/me", "GET,HEAD"),
        ("POST", "/2/spaces/search", "GET,HEAD"),
        ("GET", "/2/users/1/following/2", "DELETE"),
    ] {
        let anonymous = answer(
            app.http
                .request(method.parse().unwrap(), app.url(path))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_401(&anonymous, BEARER_REALM, None, &format!("{method} {path}"));
        {
            let req = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .bearer_auth(&t);
            let a = answer(req.send().await.unwrap()).await;
            let what = format!("{method} {path}");
            assert_eq!(a.status, 405, "{what}: {}", a.body);
            assert_eq!(
                a.headers["content-type"], "application/problem+json",
                "{what}"
            );
            assert_eq!(
                a.json(),
                json!({"title": "Method Not Allowed", "type": "about:blank", "status": 405, "detail": "Method Not Allowed"}),
                "{what}"
            );
            let mut got: Vec<String> = a.headers["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            got.sort();
            let mut want: Vec<String> = allow.split(',').map(str::to_owned).collect();
            want.sort();
            assert_eq!(got, want, "{what}");
            assert!(
                !a.headers
                    .keys()
                    .any(|k| k.as_str().starts_with("x-rate-limit")),
                "{what}"
            );
        }
    }
}
