//! Checklist G5: every secret is compared in constant time. A test cannot time a comparison
//! reliably, so this checks what it can: that each place where a presented secret meets the
//! expected one goes through `subtle` (`constant_time_eq` or `TokenHash::ct_eq`) and that the
//! secret types' `==` is that comparison, by reading the source; and, over HTTP, that each such
//! check compares the whole value (one changed character anywhere is refused).

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::*;

fn source(path: &str) -> String {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(crates.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The body of the first `fn name` in `text`, braces matched.
fn function_body<'a>(text: &'a str, name: &str) -> &'a str {
    let start = [format!("fn {name}("), format!("fn {name}<")]
        .iter()
        .filter_map(|sig| text.find(sig.as_str()))
        .min()
        .unwrap_or_else(|| panic!("no fn {name}"));
    let open = start + text[start..].find('{').expect("a body");
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open..=open + i];
                }
            }
            _ => {}
        }
    }
    panic!("fn {name} is not closed")
}

#[test]
fn sec_g05_secret_comparisons_go_through_subtle() {
    // (file under crates/, function, what it compares)
    let sites = [
        (
            "roost-domain/src/secret.rs",
            "constant_time_eq",
            "the helper: subtle's ct_eq",
        ),
        ("roost-domain/src/secret.rs", "ct_eq", "SHA-256 digests"),
        (
            "roost-domain/src/pkce.rs",
            "verify",
            "the PKCE S256 (or plain) result",
        ),
        (
            "roost/src/oauth/client_auth.rs",
            "authenticate",
            "client secrets",
        ),
        (
            "roost/src/oauth/client_auth.rs",
            "agree",
            "credentials sent twice",
        ),
        ("roost/src/oauth/app_only.rs", "authenticate", "API secrets"),
        (
            "roost/src/oauth/app_only.rs",
            "verify",
            "app-only Bearer Token MACs",
        ),
        (
            "roost/src/keys.rs",
            "verify_web",
            "signed authorization requests",
        ),
        (
            "roost/src/web/request.rs",
            "open",
            "the request's browser binding",
        ),
        ("roost/src/web/session.rs", "csrf_ok", "CSRF tokens"),
    ];
    for (file, function, what) in sites {
        let text = source(file);
        let body = function_body(&text, function);
        assert!(
            body.contains("constant_time_eq(") || body.contains(".ct_eq("),
            "{file} {function}: {what} must be compared with constant_time_eq or ct_eq"
        );
        for op in [" == ", " != "] {
            assert!(
                !body.contains(op),
                "{file} {function}: `{}` next to the comparison of {what}",
                op.trim()
            );
        }
    }
    let secret_rs = source("roost-domain/src/secret.rs");
    let helper = function_body(&secret_rs, "constant_time_eq");
    assert!(
        helper.contains("a.ct_eq(b)"),
        "the helper is subtle's: {helper}"
    );
    // The CSRF check is the one every form post passes (the authorize page's, the portal's).
    let session = source("roost/src/web/session.rs");
    assert!(
        function_body(&session, "read_form").contains("csrf_ok("),
        "every form post checks CSRF tokens through csrf_ok"
    );
    let authorize = source("roost/src/web/authorize.rs");
    assert!(
        function_body(&authorize, "submit").contains("read_form(&state, &headers, &body)"),
        "the authorize form handler reads its form through read_form"
    );
    // The secret types' `==` is the constant-time comparison, not a derived one.
    for (file, ty) in [
        ("roost-domain/src/secret.rs", "Secret"),
        ("roost-domain/src/secret.rs", "TokenHash"),
        ("roost-domain/src/pkce.rs", "CodeVerifier"),
        ("roost-domain/src/client.rs", "BasicCredentials"),
    ] {
        let text = source(file);
        let def = text
            .find(&format!("pub struct {ty}"))
            .unwrap_or_else(|| panic!("{ty} in {file}"));
        let derive = text[..def].rfind("#[derive(").expect("a derive");
        assert!(
            !text[derive..def].contains("PartialEq"),
            "{ty} derives PartialEq, a byte-by-byte comparison"
        );
        let eq = function_body(
            &text[text
                .find(&format!("impl PartialEq for {ty}"))
                .unwrap_or_else(|| panic!("{ty} has its own PartialEq"))..],
            "eq",
        );
        assert!(
            eq.contains("constant_time_eq(") || eq.contains("ct_eq("),
            "{ty}'s == is not constant-time: {eq}"
        );
    }
}

/// `value` with its character at `i` replaced by another of the same class.
fn changed_at(value: &str, i: usize) -> String {
    let mut b = value.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn sec_g05_client_and_api_secrets_count_every_character() {
    let app = spawn_app().await;
    let secret = app.web.client_secret.clone().unwrap();
    let cc = |s: String| {
        let app = &app;
        async move {
            let (status, body, _) = app
                .token(
                    &app.web.client_id,
                    Some(&s),
                    &[("grant_type", "client_credentials")],
                )
                .await;
            (status, body)
        }
    };
    let (s, body) = cc(secret.clone()).await;
    assert_eq!(s, 200, "{body}");
    let mut refusals = Vec::new();
    for wrong in [
        changed_at(&secret, 0),
        changed_at(&secret, secret.len() / 2),
        changed_at(&secret, secret.len() - 1),
        secret[..secret.len() - 1].to_owned(),
        format!("{secret}x"),
    ] {
        let (s, mut body) = cc(wrong).await;
        assert_eq!(s, 401, "{body}");
        body.as_object_mut().unwrap().remove("roost_detail");
        refusals.push(body);
    }
    refusals.dedup();
    assert_eq!(refusals.len(), 1, "one answer for every wrong secret");

    let api = |s: String| {
        let app = &app;
        async move {
            let resp = app
                .http
                .post(app.url("/oauth2/token"))
                .basic_auth(&app.web.api_key, Some(&s))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let api_secret = app.web.api_secret.clone();
    assert_eq!(api(api_secret.clone()).await.0, 200);
    for i in [0, api_secret.len() / 2, api_secret.len() - 1] {
        let (s, body) = api(changed_at(&api_secret, i)).await;
        assert_eq!(s, 403, "{body}");
        assert_eq!(body["errors"][0]["code"], 99);
    }
}

#[tokio::test]
async fn sec_g05_app_only_tokens_and_csrf_tokens_count_every_character() {
    let app = spawn_app().await;
    let token = app.app_token().await;
    let lookup = |t: String| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/2/users/by/username/alice"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(lookup(token.clone()).await, 200);
    // The MAC is the token's tail.
    for back in [1, 10, 43] {
        assert_eq!(lookup(changed_at(&token, token.len() - back)).await, 401);
    }

    let b = browser();
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&b, &app.authorize_url(&p)).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let request = hidden(&page.body, "request").unwrap();
    let before = app.row_counts().await;
    for i in [0, csrf.len() / 2, csrf.len() - 1] {
        let resp = app
            .post_form(
                &b,
                &[
                    ("csrf_token", &changed_at(&csrf, i)),
                    ("request", &request),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(resp.status(), 403, "CSRF token changed at {i}");
    }
    assert_eq!(
        app.row_counts().await,
        before,
        "no session, no failure counted"
    );
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
    assert_eq!(resp.status(), 303, "the right token signs in");
}
