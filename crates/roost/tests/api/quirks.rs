//! What real clients send to the token endpoint (spec/client-quirks.md), one test per rule or
//! per part of a rule: `quirk_NN_...` is rule NN. Each positive row proves a real client's
//! request works; each negative row proves the relaxation cannot be abused.

// Test code: a failed expectation is a failed test (clippy.toml allows this in #[test] fns
// only; the helpers here are test code too).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use roost_domain::TokenHash;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::*;
use crate::token::*;

/// RFC 7636 S256, computed here rather than by roost.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random verifier of exactly `len` characters that uses the whole unreserved alphabet.
fn verifier_of_len(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&roost_domain::secret::random_base64url(32));
        s.push_str(".~");
    }
    s.truncate(len);
    s
}

/// Authorization parameters whose S256 challenge belongs to `verifier`.
fn params_for_verifier(client_id: &str, scope: &str, verifier: &str, method: &str) -> AuthParams {
    let mut p = AuthParams::new(client_id, scope)
        .set("code_challenge", Some(&s256(verifier)))
        .set("code_challenge_method", Some(method));
    p.verifier = verifier.to_owned();
    p
}

/// An authorize request refused back to the client: its redirect's query.
async fn authorize_refusal(app: &TestApp, url: &str) -> BTreeMap<String, String> {
    let resp = app.http.get(url).send().await.expect("authorize");
    assert_eq!(resp.status(), 302, "an error redirect to the client");
    let q = location_query(&resp);
    assert!(location(&resp).starts_with(CALLBACK), "{}", location(&resp));
    assert!(!q.contains_key("code"), "{q:?}");
    q
}

fn web_secret(app: &TestApp) -> String {
    app.web.client_secret.clone().expect("secret")
}

// ---------------------------------------------------------------------------------------------
// Rule 1: form, JSON and query-string parameters, merged.

#[tokio::test]
async fn quirk_01_form_body_with_charset() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let secret = web_secret(&app);
    for ct in [
        "application/x-www-form-urlencoded;charset=UTF-8",
        "application/x-www-form-urlencoded; charset=utf-8",
        "Application/X-WWW-Form-URLEncoded",
    ] {
        let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
        let code = code_in(&app, &b, &p).await;
        let r = send(
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, basic(&app.web.client_id, &secret))
                .header(CONTENT_TYPE, ct)
                .body(form(&code_fields(&code, &p.verifier))),
        )
        .await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
    }
}

#[tokio::test]
async fn quirk_01_json_body_twitter_api_v2_style() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let id = app.web.client_id.clone();
    let secret = web_secret(&app);
    let other = other_web_app(&app).await;
    let other_secret = other.client_secret.clone().expect("secret");
    let json_post = |body: serde_json::Value, basic_secret: &str| {
        app.http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, basic(&id, basic_secret))
            .header(CONTENT_TYPE, "application/json;charset=UTF-8")
            .body(body.to_string())
    };
    let p = AuthParams::new(&id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let exchange = |client_secret: &str| {
        json!({
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": p.verifier,
            "redirect_uri": CALLBACK,
            "client_id": id,
            "client_secret": client_secret,
        })
    };

    // Negative rows first, against the live code.
    let before = app.row_counts().await;
    // JSON secret ≠ Basic secret.
    let r = send(json_post(exchange(&other_secret), &secret)).await;
    assert_x_unauthorized_client(&r);
    let r = send(json_post(exchange(&secret), &other_secret)).await;
    assert_x_unauthorized_client(&r);
    // Values that are not strings, and bodies that are not objects.
    for bad in [
        json!({"grant_type": "authorization_code", "code": {"nested": code}}),
        json!({"grant_type": ["authorization_code"], "code": code}),
        json!([exchange(&secret)]),
    ] {
        let r = send(json_post(bad, &secret)).await;
        assert_error(&r, 400, "invalid_request");
        assert_no_echo(&r, &[&code, &secret]);
    }
    let r = send(
        app.http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, basic(&id, &secret))
            .header(CONTENT_TYPE, "application/json")
            .body(format!(
                "{{\"grant_type\":\"authorization_code\",\"code\":\"{code}\""
            )),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(app.row_counts().await, before);

    // twitter-api-v2: Basic, plus client_id and client_secret in the JSON body.
    let r = send(json_post(exchange(&secret), &secret)).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    // Its refresh, the same way.
    let r = send(json_post(
        json!({
            "grant_type": "refresh_token",
            "refresh_token": r.str("refresh_token"),
            "client_id": id,
            "client_secret": secret,
        }),
        &secret,
    ))
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);
}

#[tokio::test]
async fn quirk_01_all_parameters_in_the_query_string_with_an_empty_body() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let secret = web_secret(&app);

    // A public App: everything, client_id included, in the URL; empty body, form content type.
    let p = AuthParams::new(&app.native.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let query = form(&[
        ("code", code.as_str()),
        ("grant_type", "authorization_code"),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", app.native.client_id.as_str()),
        ("redirect_uri", CALLBACK),
    ]);
    let r = send(
        app.http
            .post(app.url(&format!("{TOKEN_PATH}?{query}")))
            .header(CONTENT_TYPE, FORM)
            .header(CONTENT_LENGTH, "0"),
    )
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert_eq!(app.me(r.str("access_token")).await, 200);

    // A confidential App: the same with Basic.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let query = form(&[
        ("code", code.as_str()),
        ("grant_type", "authorization_code"),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", app.web.client_id.as_str()),
        ("redirect_uri", CALLBACK),
    ]);
    // Negative rows first: the secret in the URL, or query and body disagreeing.
    let before = app.row_counts().await;
    let with_secret = format!("{query}&{}", form(&[("client_secret", &secret)]));
    let r = send(
        app.http
            .post(app.url(&format!("{TOKEN_PATH}?{with_secret}")))
            .header(CONTENT_TYPE, FORM)
            .header(CONTENT_LENGTH, "0"),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    assert_no_echo(&r, &[&secret, &code]);
    for (name, value) in [
        ("code", NEVER_ISSUED),
        ("redirect_uri", "http://127.0.0.1:8976/other"),
        ("grant_type", "refresh_token"),
    ] {
        let r = send(
            app.http
                .post(app.url(&format!("{TOKEN_PATH}?{query}")))
                .header(AUTHORIZATION, basic(&app.web.client_id, &secret))
                .header(CONTENT_TYPE, FORM)
                .body(form(&[(name, value)])),
        )
        .await;
        assert_error(&r, 400, "invalid_request");
        assert_no_echo(&r, &[&code]);
    }
    assert_eq!(app.row_counts().await, before);
    let r = send(
        app.http
            .post(app.url(&format!("{TOKEN_PATH}?{query}")))
            .header(AUTHORIZATION, basic(&app.web.client_id, &secret))
            .header(CONTENT_TYPE, FORM)
            .header(CONTENT_LENGTH, "0"),
    )
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

#[tokio::test]
async fn quirk_01_repeated_parameters_equal_ok_different_refused() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let secret = web_secret(&app);
    let post = |query: Option<String>, body: String| {
        let url = match query {
            Some(q) => app.url(&format!("{TOKEN_PATH}?{q}")),
            None => app.url(TOKEN_PATH),
        };
        app.http
            .post(url)
            .header(AUTHORIZATION, basic(&app.web.client_id, &secret))
            .header(CONTENT_TYPE, FORM)
            .body(body)
    };
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let fields = code_fields(&code, &p.verifier);
    let body = form(&fields);

    // Different values: within the body, or between query and body.
    let before = app.row_counts().await;
    let refused = [
        (None, format!("{body}&code={NEVER_ISSUED}")),
        (
            None,
            format!("{body}&code_verifier={}", p.verifier.to_uppercase()),
        ),
        (None, format!("{body}&grant_type=refresh_token")),
        (Some(form(&[("code", NEVER_ISSUED)])), body.clone()),
        (
            Some(form(&[("redirect_uri", "http://127.0.0.1:8976/x")])),
            body.clone(),
        ),
    ];
    for (query, body) in refused {
        let r = send(post(query, body)).await;
        assert_error(&r, 400, "invalid_request");
        assert_no_echo(&r, &[&code, &p.verifier]);
    }
    assert_eq!(app.row_counts().await, before);

    // The same value twice, in the body and in query + body.
    let r = send(post(
        Some(form(&[
            ("code", &code),
            ("grant_type", "authorization_code"),
        ])),
        format!("{body}&{body}"),
    ))
    .await;
    assert_tokens(&app, &r, ALL_SCOPES, true);

    // On a refresh too: `scope` twice, equal → fine; different → invalid_request.
    let rt = r.str("refresh_token").to_owned();
    let refresh_body = form(&[("grant_type", "refresh_token"), ("refresh_token", &rt)]);
    let before = app.row_counts().await;
    let r = send(post(
        None,
        format!("{refresh_body}&scope=tweet.read&scope=users.read"),
    ))
    .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(app.row_counts().await, before);
    let r = send(post(
        None,
        format!("{refresh_body}&scope=tweet.read+users.read&scope=tweet.read+users.read"),
    ))
    .await;
    assert_tokens(&app, &r, "tweet.read users.read", true);
}

#[tokio::test]
async fn quirk_01_multipart_and_other_bodies_refused() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let secret = web_secret(&app);
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let mut multipart = String::new();
    for (k, v) in code_fields(&code, &p.verifier) {
        multipart.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    multipart.push_str("--XyZ--\r\n");
    let before = app.row_counts().await;
    for (ct, body) in [
        ("multipart/form-data; boundary=XyZ", multipart),
        ("text/plain", form(&code_fields(&code, &p.verifier))),
        (
            "application/xml",
            "<grant_type>authorization_code</grant_type>".to_owned(),
        ),
    ] {
        let r = send(
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, basic(&app.web.client_id, &secret))
                .header(CONTENT_TYPE, ct)
                .body(body),
        )
        .await;
        assert_error(&r, 400, "invalid_request");
        assert_no_echo(&r, &[&code, &p.verifier]);
    }
    // A body without any content type.
    let r = send(
        app.http
            .post(app.url(TOKEN_PATH))
            .header(AUTHORIZATION, basic(&app.web.client_id, &secret))
            .body(form(&code_fields(&code, &p.verifier))),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(app.row_counts().await, before);
    // The code was not consumed by any of it.
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

// ---------------------------------------------------------------------------------------------
// Rule 2: every client-authentication combination.

#[tokio::test]
async fn quirk_02_every_client_authentication_combination() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let web_id = app.web.client_id.clone();
    let native_id = app.native.client_id.clone();
    let secret = web_secret(&app);

    enum Style {
        /// X's SDKs, authlib: Basic only.
        BasicOnly,
        /// tweepy: Basic and `client_id` in the body.
        BasicAndBodyId,
        /// Basic and `client_id` in the query.
        BasicAndQueryId,
        /// twitter-api-v2: Basic and `client_id` + `client_secret` in a JSON body.
        BasicAndJsonIdSecret,
        /// client_secret_post: both in the form body, no Basic.
        BodyIdAndSecret,
        /// client_secret_post in a JSON body.
        JsonIdAndSecret,
        /// Public clients: `client_id` only, in the body.
        PublicBodyId,
        /// Public clients: `client_id` only, in a JSON body.
        PublicJsonId,
    }
    for style in [
        Style::BasicOnly,
        Style::BasicAndBodyId,
        Style::BasicAndQueryId,
        Style::BasicAndJsonIdSecret,
        Style::BodyIdAndSecret,
        Style::JsonIdAndSecret,
        Style::PublicBodyId,
        Style::PublicJsonId,
    ] {
        let public = matches!(style, Style::PublicBodyId | Style::PublicJsonId);
        let client_id = if public { &native_id } else { &web_id };
        let p = AuthParams::new(client_id, ALL_SCOPES);
        let code = code_in(&app, &b, &p).await;
        let fields = code_fields(&code, &p.verifier);
        let mut exchange = json!({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": p.verifier,
        });
        let url = app.url(TOKEN_PATH);
        let rb = match style {
            Style::BasicOnly => app
                .http
                .post(url)
                .header(AUTHORIZATION, basic(&web_id, &secret))
                .header(CONTENT_TYPE, FORM)
                .body(form(&fields)),
            Style::BasicAndBodyId => {
                let mut f = fields.clone();
                f.push(("client_id", &web_id));
                app.http
                    .post(url)
                    .header(AUTHORIZATION, basic(&web_id, &secret))
                    .header(CONTENT_TYPE, FORM)
                    .body(form(&f))
            }
            Style::BasicAndQueryId => app
                .http
                .post(app.url(&format!("{TOKEN_PATH}?client_id={web_id}")))
                .header(AUTHORIZATION, basic(&web_id, &secret))
                .header(CONTENT_TYPE, FORM)
                .body(form(&fields)),
            Style::BasicAndJsonIdSecret => {
                exchange["client_id"] = json!(web_id);
                exchange["client_secret"] = json!(secret);
                app.http
                    .post(url)
                    .header(AUTHORIZATION, basic(&web_id, &secret))
                    .json(&exchange)
            }
            Style::BodyIdAndSecret => {
                let mut f = fields.clone();
                f.push(("client_id", &web_id));
                f.push(("client_secret", &secret));
                app.http.post(url).header(CONTENT_TYPE, FORM).body(form(&f))
            }
            Style::JsonIdAndSecret => {
                exchange["client_id"] = json!(web_id);
                exchange["client_secret"] = json!(secret);
                app.http.post(url).json(&exchange)
            }
            Style::PublicBodyId => {
                let mut f = fields.clone();
                f.push(("client_id", &native_id));
                app.http.post(url).header(CONTENT_TYPE, FORM).body(form(&f))
            }
            Style::PublicJsonId => {
                exchange["client_id"] = json!(native_id);
                app.http.post(url).json(&exchange)
            }
        };
        let r = send(rb).await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
    }

    // Copies that disagree: invalid_client (X: 401 unauthorized_client).
    let other = other_web_app(&app).await;
    let other_secret = other.client_secret.clone().expect("secret");
    let p = AuthParams::new(&web_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    for (basic_id, basic_secret, body_id, body_secret) in [
        (&web_id, &secret, Some(&other.client_id), None),
        (&web_id, &secret, None, Some(&other_secret)),
        (&web_id, &secret, Some(&web_id), Some(&other_secret)),
        (
            &other.client_id,
            &other_secret,
            Some(&web_id),
            Some(&secret),
        ),
    ] {
        let mut f = code_fields(&code, &p.verifier);
        if let Some(id) = body_id {
            f.push(("client_id", id));
        }
        if let Some(s) = body_secret {
            f.push(("client_secret", s));
        }
        let r = send(
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, basic(basic_id, basic_secret))
                .header(CONTENT_TYPE, FORM)
                .body(form(&f)),
        )
        .await;
        assert_x_unauthorized_client(&r);
    }
    assert_eq!(app.row_counts().await, before);
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

// ---------------------------------------------------------------------------------------------
// Rule 3: percent-decoded Basic halves.

#[tokio::test]
async fn quirk_03_percent_decoded_basic_credentials() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let id = app.web.client_id.clone();
    let secret = web_secret(&app);
    let encode_all = |s: &str| -> String { s.bytes().map(|b| format!("%{b:02X}")).collect() };
    for (eid, esecret) in [
        (encode_all(&id), encode_all(&secret)),
        (id.clone(), encode_all(&secret)),
        (encode_all(&id), secret.clone()),
        (id.clone(), secret.clone()),
    ] {
        let p = AuthParams::new(&id, ALL_SCOPES);
        let code = code_in(&app, &b, &p).await;
        let header = format!("Basic {}", STANDARD.encode(format!("{eid}:{esecret}")));
        let r = send(
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, header)
                .header(CONTENT_TYPE, FORM)
                .body(form(&code_fields(&code, &p.verifier))),
        )
        .await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
    }
    // Decoding does not make a wrong secret right, and a broken escape is a 401, not a 500.
    let before = app.row_counts().await;
    for (eid, esecret) in [
        (encode_all(&id), encode_all("wrong")),
        (id.clone(), format!("{secret}%")),
        (id.clone(), format!("{}%G1", &secret[..10])),
    ] {
        let header = format!("Basic {}", STANDARD.encode(format!("{eid}:{esecret}")));
        let r = send(
            app.http
                .post(app.url(TOKEN_PATH))
                .header(AUTHORIZATION, header)
                .header(CONTENT_TYPE, FORM)
                .body("grant_type=client_credentials"),
        )
        .await;
        assert_x_unauthorized_client(&r);
    }
    assert_eq!(app.row_counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// Rule 4: the response.

#[tokio::test]
async fn quirk_04_response_shape_expires_in_number_and_no_store() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    // With offline.access: all five members, in X's order.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "token_type",
            "expires_in",
            "access_token",
            "scope",
            "refresh_token"
        ]
    );
    assert!(r.text.contains("\"expires_in\":7200"), "{}", r.text);
    assert!(r.text.contains("\"token_type\":\"bearer\""), "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    // The refresh response has the same shape.
    let r = refresh_as(&app, &app.web, r.str("refresh_token"), &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
    assert!(r.text.contains("\"expires_in\":7200"), "{}", r.text);
    // Without offline.access: no refresh_token member at all (not null, not empty).
    let p = AuthParams::new(&app.web.client_id, "tweet.read users.read");
    let code = code_in(&app, &b, &p).await;
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, "tweet.read users.read", false);
    assert!(!r.text.contains("refresh_token"), "{}", r.text);
    // client_credentials: the same members minus refresh_token; scope is still a string.
    let r = post_token(
        &app,
        creds(&app.web),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_tokens(&app, &r, "", false);
    assert!(r.body["scope"].is_string());
    assert!(r.text.contains("\"expires_in\":7200"), "{}", r.text);
}

#[tokio::test]
async fn quirk_04_expires_in_follows_configuration() {
    let app = spawn_app_with(|c| c.oauth.access_token_ttl = 600).await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.native, ALL_SCOPES).await;
    assert_eq!(t["expires_in"].as_u64(), Some(600));
    let access = token_of(&t, "access_token");
    app.clock.advance_ms(599_000);
    assert_eq!(app.me(access).await, 200);
    app.clock.advance_ms(1_000);
    assert_eq!(app.me(access).await, 401);
}

// ---------------------------------------------------------------------------------------------
// Rule 5: the scope that was requested and granted comes back.

#[tokio::test]
async fn quirk_05_scope_returned_as_requested_and_granted() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    for requested in [
        "users.read tweet.read",
        "offline.access follows.read tweet.read users.read",
        "tweet.read",
        "tweet.read  users.read",
        "tweet.read users.read tweet.read like.read list.read",
    ] {
        let p = AuthParams::new(&app.web.client_id, requested);
        let code = code_in(&app, &b, &p).await;
        let r = redeem(&app, &app.web, &code, &p.verifier).await;
        let wanted: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
        assert_tokens(
            &app,
            &r,
            &wanted.join(" "),
            requested.contains("offline.access"),
        );
    }
    // Scopes joined with %20 instead of + in the authorize URL (client-quirks rule 10).
    let p = AuthParams::new(&app.web.client_id, "tweet.read users.read offline.access");
    let url = app.authorize_url(&p).replace('+', "%20");
    assert!(url.contains("tweet.read%20users.read"));
    let consent = app.get_page(&b, &url).await;
    let resp = app.decide(&b, &consent, "allow").await;
    let code = location_query(&resp).get("code").cloned().expect("code");
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, "tweet.read users.read offline.access", true);
}

/// X's historic names (2021 beta) come back as the client spelled them: oauthlib compares
/// the returned set with the requested one. What is stored and enforced is today's scope.
#[tokio::test]
async fn quirk_05_historic_scope_names_are_echoed_as_requested() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let requested = "tweet.read users.read account.follows.read spaces.read offline.access";
    let p = AuthParams::new(&app.web.client_id, requested);
    let code = code_in(&app, &b, &p).await;
    let r = redeem(&app, &app.web, &code, &p.verifier).await;
    assert_tokens(&app, &r, requested, true);
    assert_eq!(
        r.str("scope"),
        "tweet.read users.read account.follows.read offline.access spaces.read"
    );
    // Stored and enforced under today's names: the follow list needs `follows.read`.
    let access = r.str("access_token").to_owned();
    let stored = app
        .state
        .store
        .access_token(TokenHash::of(&access))
        .await
        .expect("store")
        .expect("access token row");
    assert_eq!(
        stored.scopes.to_string(),
        "tweet.read users.read follows.read offline.access space.read"
    );
    let me: serde_json::Value = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let id = me["data"]["id"].as_str().expect("id").to_owned();
    let following = app
        .http
        .get(app.url(&format!("/2/users/{id}/following")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("following");
    assert_eq!(following.status(), 200);

    // Refresh: without `scope`, the names of the authorization; with `scope`, the names sent.
    let mut rt = r.str("refresh_token").to_owned();
    for (scope, echoed) in [
        (None, requested),
        (
            Some("tweet.read users.read follows.read space.read offline.access"),
            "tweet.read users.read follows.read space.read offline.access",
        ),
        (
            Some("account.follows.read tweet.read offline.access"),
            "account.follows.read tweet.read offline.access",
        ),
        (None, requested),
    ] {
        let extra: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
        let r = refresh_as(&app, &app.web, &rt, &extra).await;
        assert_tokens(&app, &r, echoed, true);
        rt = r.str("refresh_token").to_owned();
        if scope == Some("account.follows.read tweet.read offline.access") {
            // Narrowed under a historic name: enforced as today's scope.
            let stored = app
                .state
                .store
                .access_token(TokenHash::of(r.str("access_token")))
                .await
                .expect("store")
                .expect("row");
            assert_eq!(
                stored.scopes.to_string(),
                "tweet.read follows.read offline.access"
            );
            assert_eq!(app.me(r.str("access_token")).await, 403, "no users.read");
        }
    }
    // A historic name does not widen anything.
    let r = refresh_as(
        &app,
        &app.web,
        &rt,
        &[("scope", "tweet.read account.follows.write")],
    )
    .await;
    assert_error(&r, 400, "invalid_scope");
}

// ---------------------------------------------------------------------------------------------
// Rule 6: refresh requests may carry `scope`.

#[tokio::test]
async fn quirk_06_refresh_with_original_narrower_or_no_scope() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let t = tokens_in(&app, &b, &app.web, ALL_SCOPES).await;
    let mut rt = token_of(&t, "refresh_token").to_owned();
    // tweepy / authlib / X's Python SDK send the original scope (form-encoded, so `+`-joined).
    for (scope, expected) in [
        (Some(ALL_SCOPES), ALL_SCOPES),
        (None, ALL_SCOPES),
        (
            Some("tweet.read offline.access"),
            "tweet.read offline.access",
        ),
        (Some(ALL_SCOPES), ALL_SCOPES),
    ] {
        let extra: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
        let r = refresh_as(&app, &app.web, &rt, &extra).await;
        assert_tokens(&app, &r, expected, true);
        rt = r.str("refresh_token").to_owned();
    }
    let before = app.row_counts().await;
    let r = refresh_as(
        &app,
        &app.web,
        &rt,
        &[(
            "scope",
            "tweet.read users.read follows.read offline.access follows.write",
        )],
    )
    .await;
    assert_error(&r, 400, "invalid_scope");
    assert_eq!(app.row_counts().await, before);
    // The refused request did not rotate the token.
    let r = refresh_as(&app, &app.web, &rt, &[]).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

// ---------------------------------------------------------------------------------------------
// Rule 7: redirect_uri compared exactly.

#[tokio::test]
async fn quirk_07_redirect_uri_compared_exactly() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    let p = AuthParams::new(&app.native.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    for uri in [
        "http://127.0.0.1:8976/callback/",
        "http://127.0.0.1:8976/callback#",
        "HTTP://127.0.0.1:8976/callback",
        " http://127.0.0.1:8976/callback",
    ] {
        let r = post_token(
            &app,
            creds(&app.native),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", uri),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
        assert_x_error(&r, 400, "invalid_request", X_REDIRECT_MISMATCH);
    }
    assert_eq!(app.row_counts().await, before);
    let r = redeem(&app, &app.native, &code, &p.verifier).await;
    assert_tokens(&app, &r, ALL_SCOPES, true);
}

// ---------------------------------------------------------------------------------------------
// Rule 8: lower-case `s256` at authorize.

#[tokio::test]
async fn quirk_08_lowercase_s256_accepted_and_stored_normalised() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    for method in ["s256", "S256"] {
        let p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
            .set("code_challenge_method", Some(method));
        let code = code_in(&app, &b, &p).await;
        let stored = app
            .state
            .store
            .code_by_hash(TokenHash::of(&code))
            .await
            .expect("store")
            .expect("code row");
        assert_eq!(stored.code_challenge_method, "S256");
        // The recorded method is S256: the challenge itself is not a valid verifier.
        let challenge = s256(&p.verifier);
        let r = redeem(&app, &app.web, &code, &challenge).await;
        assert_x_error(&r, 400, "invalid_request", X_VERIFIER_MISMATCH);
        let r = redeem(&app, &app.web, &code, &p.verifier).await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
    }
    // Other spellings are refused at authorize, back to the client.
    let before = app.row_counts().await;
    for method in ["sha256", "S-256", "SHA256", "s256 ", ""] {
        let p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
            .set("code_challenge_method", Some(method));
        let url = app.authorize_url(&p);
        // An empty method is refused too (checklist A8 names the empty string explicitly).
        let q = authorize_refusal(&app, &url).await;
        assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
        assert_eq!(q.get("state").map(String::as_str), Some("state-123"));
    }
    // A method without a challenge.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES).set("code_challenge", None);
    let q = authorize_refusal(&app, &app.authorize_url(&p)).await;
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(app.row_counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// Rule 9: verifier lengths and short `plain` verifiers.

#[tokio::test]
async fn quirk_09_verifier_lengths_up_to_256_accepted_257_refused() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    for len in [43, 48, 128, 171, 256] {
        let v = verifier_of_len(len);
        assert_eq!(v.len(), len);
        let p = params_for_verifier(&app.web.client_id, ALL_SCOPES, &v, "S256");
        let code = code_in(&app, &b, &p).await;
        let r = redeem(&app, &app.web, &code, &v).await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
    }
    // 257 characters: the challenge is well-formed, so the code is issued, but the verifier is
    // refused at the token endpoint.
    let v = verifier_of_len(257);
    let p = params_for_verifier(&app.web.client_id, ALL_SCOPES, &v, "S256");
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let r = redeem(&app, &app.web, &code, &v).await;
    assert_error(&r, 400, "invalid_request");
    assert_no_echo(&r, &[&v, &code]);
    assert_eq!(app.row_counts().await, before);
    // A 171-character verifier with one character outside the alphabet.
    let mut bad = verifier_of_len(170);
    bad.push('+');
    let p = params_for_verifier(&app.web.client_id, ALL_SCOPES, &bad, "S256");
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let r = redeem(&app, &app.web, &code, &bad).await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn quirk_09_verifier_lengths_strict_mode() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let b = signed_in(&app).await;
    for len in [43, 128] {
        let v = verifier_of_len(len);
        let p = params_for_verifier(&app.web.client_id, ALL_SCOPES, &v, "S256");
        let code = code_in(&app, &b, &p).await;
        let r = redeem(&app, &app.web, &code, &v).await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
    }
    for len in [42, 129, 171] {
        let v = verifier_of_len(len);
        let p = params_for_verifier(&app.web.client_id, ALL_SCOPES, &v, "S256");
        let code = code_in(&app, &b, &p).await;
        let before = app.row_counts().await;
        let r = redeem(&app, &app.web, &code, &v).await;
        assert_error(&r, 400, "invalid_request");
        assert_eq!(app.row_counts().await, before, "{len}");
    }
}

#[tokio::test]
async fn quirk_09_short_plain_verifier_accepted_in_x_mode() {
    let app = spawn_app().await;
    let b = signed_in(&app).await;
    // X's docs: code_challenge=challenge, code_challenge_method=plain.
    for method in ["plain", "PLAIN"] {
        let mut p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
            .set("code_challenge", Some("challenge"))
            .set("code_challenge_method", Some(method));
        p.verifier = "challenge".to_owned();
        let code = code_in(&app, &b, &p).await;
        let before = app.row_counts().await;
        let r = redeem(&app, &app.web, &code, "challengf").await;
        assert_x_error(&r, 400, "invalid_request", X_VERIFIER_MISMATCH);
        assert_eq!(app.row_counts().await, before);
        let r = redeem(&app, &app.web, &code, "challenge").await;
        assert_tokens(&app, &r, ALL_SCOPES, true);
        assert_eq!(app.me(r.str("access_token")).await, 200);
    }
}

#[tokio::test]
async fn quirk_09_plain_and_short_verifiers_refused_in_strict_mode() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let b = signed_in(&app).await;
    let before = app.row_counts().await;
    // `plain` is refused at authorize, back to the client, with no code.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES)
        .set("code_challenge", Some("challenge"))
        .set("code_challenge_method", Some("plain"));
    let q = authorize_refusal(&app, &app.authorize_url(&p)).await;
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(app.row_counts().await, before);
    // A short verifier behind a well-formed S256 challenge is refused at the token endpoint.
    let p = params_for_verifier(&app.web.client_id, ALL_SCOPES, "challenge", "S256");
    let code = code_in(&app, &b, &p).await;
    let before = app.row_counts().await;
    let r = redeem(&app, &app.web, &code, "challenge").await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(app.row_counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// Rule 13: twitter-api-v2's header set.

/// Sends exactly the headers twitter-api-v2 sends (no `User-Agent`, only `x-user-agent`;
/// `Accept-Encoding: br, gzip, deflate`; `Connection: close`), plus the request's own
/// `Authorization` and body headers, over a bare connection; returns the answer, its JSON body,
/// and how long the server took to answer and close the connection.
async fn twitter_api_v2_request(
    app: &TestApp,
    method: &str,
    path: &str,
    authorization: &str,
    json_body: Option<&serde_json::Value>,
) -> (
    crate::hardening::raw::RawResponse,
    serde_json::Value,
    std::time::Duration,
) {
    use crate::hardening::raw::{request, send};
    let body = json_body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("x-user-agent", b"Node.twitter-api-v2".as_slice()),
        ("Accept-Encoding", b"br, gzip, deflate".as_slice()),
        ("Authorization", authorization.as_bytes()),
    ];
    if json_body.is_some() {
        headers.push(("Content-Type", b"application/json;charset=UTF-8".as_slice()));
    }
    // `request` writes the request line, `Host`, `Connection: close`, these headers and, for a
    // body, its `Content-Length`: nothing else, and no `User-Agent`.
    let bytes = request(method, path.as_bytes(), &headers, body.as_bytes());
    assert!(
        !String::from_utf8_lossy(&bytes)
            .to_ascii_lowercase()
            .contains("\r\nuser-agent:"),
        "the request carries no User-Agent"
    );
    let started = std::time::Instant::now();
    // `send` reads until the server closes the connection.
    let r = send(app, bytes).await;
    let took = started.elapsed();
    let what = format!("{method} {path}: {} {}", r.status, r.body_text());
    // Nothing is compressed unasked, and what is asked for is optional: an identity body.
    assert!(r.header("content-encoding").is_none(), "{what}");
    assert_eq!(
        r.header("connection").map(<[u8]>::to_ascii_lowercase),
        Some(b"close".to_vec()),
        "{what}"
    );
    let json = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{what}: {e}"));
    (r, json, took)
}

#[tokio::test]
async fn quirk_13_no_user_agent_compression_asked_and_connection_close() {
    // A kept-alive connection would stay open for the header-read timeout; a closed one is
    // closed as soon as it is answered.
    let app = spawn_app_with(|c| c.server.header_read_timeout = 30).await;
    let kept_alive = std::time::Duration::from_secs(app.state.config.server.header_read_timeout);
    let b = signed_in(&app).await;
    let secret = web_secret(&app);
    let client_basic = basic(&app.web.client_id, &secret);
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = code_in(&app, &b, &p).await;

    // The code exchange, as twitter-api-v2 makes it (Basic and the JSON body).
    let (r, tokens, took) = twitter_api_v2_request(
        &app,
        "POST",
        TOKEN_PATH,
        &client_basic,
        Some(&json!({
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": p.verifier,
            "redirect_uri": CALLBACK,
            "client_id": app.web.client_id,
        })),
    )
    .await;
    assert_eq!(r.status, 200, "{tokens}");
    assert!(took < kept_alive, "closed after {took:?}");
    let access = tokens["access_token"].as_str().expect("access_token");
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");

    // An API GET.
    let (r, me, took) = twitter_api_v2_request(
        &app,
        "GET",
        "/2/users/me",
        &format!("Bearer {access}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{me}");
    assert_eq!(me["data"]["username"], "alice", "{me}");
    assert!(took < kept_alive, "closed after {took:?}");

    // A refresh.
    let (r, refreshed, took) = twitter_api_v2_request(
        &app,
        "POST",
        TOKEN_PATH,
        &client_basic,
        Some(&json!({
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": app.web.client_id,
        })),
    )
    .await;
    assert_eq!(r.status, 200, "{refreshed}");
    assert!(took < kept_alive, "closed after {took:?}");
    let access = refreshed["access_token"].as_str().expect("access_token");
    assert_eq!(app.me(access).await, 200);

    // A revocation.
    let (r, revoked, took) = twitter_api_v2_request(
        &app,
        "POST",
        "/2/oauth2/revoke",
        &client_basic,
        Some(&json!({"token": access, "client_id": app.web.client_id})),
    )
    .await;
    assert_eq!(r.status, 200, "{revoked}");
    assert_eq!(revoked, json!({"revoked": true}));
    assert!(took < kept_alive, "closed after {took:?}");
    assert_eq!(app.me(access).await, 401);
}
