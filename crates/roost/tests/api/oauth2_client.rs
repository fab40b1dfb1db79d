//! roost against a real, widely used OAuth 2.0 client: the `oauth2` crate (v5). The crate builds
//! the authorize URL, exchanges the code, refreshes and revokes; the person in the middle signs in
//! and consents through roost's HTML forms.

// Test code: a failed `expect` is a failed test (clippy.toml allows it only inside #[test] fns).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, HttpRequest, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};

use crate::cli::browser_authorize;
use crate::helpers::*;

/// A client with the authorize, token and revocation endpoints set.
type XClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet>;

/// The crate's token request error with the reqwest transport.
type TokenError = RequestTokenError<
    oauth2::HttpClientError<reqwest::Error>,
    oauth2::StandardErrorResponse<BasicErrorResponseType>,
>;

/// The HTTP client the crate's docs prescribe: reqwest with redirects disabled.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The crate refuses a revocation URL that is not https (RFC 7009 §2), and the test server
/// speaks plain http on loopback. The revocation URL is therefore configured as
/// `https://127.0.0.1:PORT/...` and this transport sends such loopback requests over http;
/// everything else passes through unchanged.
struct LoopbackHttps(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for LoopbackHttps {
    type Error = <reqwest::Client as AsyncHttpClient<'c>>::Error;
    type Future = <reqwest::Client as AsyncHttpClient<'c>>::Future;

    fn call(&'c self, mut request: HttpRequest) -> Self::Future {
        let uri = request.uri().to_string();
        if let Some(rest) = uri.strip_prefix("https://127.0.0.1:") {
            *request.uri_mut() = format!("http://127.0.0.1:{rest}")
                .parse()
                .expect("loopback uri");
        }
        self.0.call(request)
    }
}

fn client(app: &TestApp, client_id: &str, secret: Option<&str>) -> XClient {
    let revocation = app
        .url("/2/oauth2/revoke")
        .replacen("http://", "https://", 1);
    let c = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::new(app.url("/i/oauth2/authorize")).expect("auth url"))
        .set_token_uri(TokenUrl::new(app.url("/2/oauth2/token")).expect("token url"))
        .set_revocation_url(RevocationUrl::new(revocation).expect("revocation url"))
        .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).expect("redirect url"));
    match secret {
        // Basic auth is the crate's default.
        Some(s) => c.set_client_secret(ClientSecret::new(s.to_owned())),
        // A public client: `client_id` in the body.
        None => c.set_auth_type(AuthType::RequestBody),
    }
}

const SCOPES: [&str; 3] = ["tweet.read", "users.read", "offline.access"];

/// The crate's authorize URL, a person signing in as alice and allowing; returns the code and
/// the PKCE verifier.
async fn authorize(app: &TestApp, client: &XClient) -> (AuthorizationCode, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
        .set_pkce_challenge(challenge)
        .url();
    assert!(
        url.as_str().starts_with(&app.url("/i/oauth2/authorize?")),
        "{url}"
    );
    let resp = browser_authorize(
        &app.base,
        &browser(),
        url.as_str(),
        "alice",
        PASSWORD,
        "allow",
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with(CALLBACK), "{}", location(&resp));
    let q = location_query(&resp);
    assert_eq!(
        q.get("state").map(String::as_str),
        Some(csrf.secret().as_str()),
        "state must come back unchanged"
    );
    let code = q.get("code").expect("code in redirect").clone();
    (AuthorizationCode::new(code), verifier)
}

fn scope_set(token: &impl TokenResponse) -> BTreeSet<String> {
    token
        .scopes()
        .expect("scope in the token response")
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The crate parsed roost's error body as an RFC 6749 error with `code`.
fn assert_server_error(
    result: Result<impl std::fmt::Debug, TokenError>,
    code: BasicErrorResponseType,
    description: Option<&str>,
) {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error(), &code, "{e:?}");
            if let Some(d) = description {
                assert_eq!(e.error_description().map(String::as_str), Some(d));
            }
        }
        other => panic!("expected a {code:?} server response, got {other:?}"),
    }
}

async fn users_me(app: &TestApp, token: &oauth2::AccessToken) -> serde_json::Value {
    let resp = app
        .http
        .get(app.url("/2/users/me"))
        .bearer_auth(token.secret())
        .send()
        .await
        .expect("users/me");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("me json")
}

/// Exchange, API call, refresh (old refresh token refused), then on a second grant: refresh and
/// revoke with the crate, after which the refreshed tokens are refused.
async fn journey(app: &TestApp, client: &XClient) {
    let http = http_client();
    let wanted: BTreeSet<String> = SCOPES.iter().map(|s| (*s).to_owned()).collect();

    // Grant 1: exchange, /2/users/me, refresh, reuse of the old refresh token.
    let (code, verifier) = authorize(app, client).await;
    let token = client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert_eq!(token.token_type(), &BasicTokenType::Bearer);
    assert_eq!(token.expires_in(), Some(Duration::from_secs(7200)));
    assert_eq!(scope_set(&token), wanted);
    let me = users_me(app, token.access_token()).await;
    assert_eq!(me["data"]["username"], "alice");
    let first_refresh = token.refresh_token().expect("refresh token").clone();

    let refreshed = client
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await
        .expect("refresh");
    let second_refresh = refreshed.refresh_token().expect("rotated refresh token");
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    assert_eq!(scope_set(&refreshed), wanted);
    users_me(app, refreshed.access_token()).await;
    assert_server_error(
        client
            .exchange_refresh_token(&first_refresh)
            .request_async(&http)
            .await,
        BasicErrorResponseType::InvalidRequest,
        Some("Value passed for the token was invalid."),
    );

    // Grant 2: refresh, then revoke the refreshed refresh token with the crate.
    let (code, verifier) = authorize(app, client).await;
    let token = client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let refreshed = client
        .exchange_refresh_token(token.refresh_token().expect("refresh token"))
        .request_async(&http)
        .await
        .expect("refresh");
    users_me(app, refreshed.access_token()).await;
    let new_refresh: RefreshToken = refreshed
        .refresh_token()
        .expect("rotated refresh token")
        .clone();
    client
        .revoke_token(StandardRevocableToken::RefreshToken(new_refresh.clone()))
        .expect("revocation request")
        .request_async(&LoopbackHttps(http.clone()))
        .await
        .expect("revocation");
    assert_eq!(
        app.me(refreshed.access_token().secret()).await,
        401,
        "the refreshed access token after revoking its grant"
    );
    assert_server_error(
        client
            .exchange_refresh_token(&new_refresh)
            .request_async(&http)
            .await,
        BasicErrorResponseType::InvalidRequest,
        Some("Value passed for the token was invalid."),
    );
    // Revocation is idempotent: revoking again still succeeds.
    client
        .revoke_token(StandardRevocableToken::RefreshToken(new_refresh))
        .expect("revocation request")
        .request_async(&LoopbackHttps(http))
        .await
        .expect("second revocation");
}

#[tokio::test]
async fn confidential_app_with_basic_auth_through_the_oauth2_crate() {
    let app = spawn_app().await;
    let secret = app.web.client_secret.clone().expect("confidential secret");
    let client = client(&app, &app.web.client_id, Some(&secret));
    journey(&app, &client).await;
}

#[tokio::test]
async fn public_app_with_client_id_in_the_body_through_the_oauth2_crate() {
    let app = spawn_app().await;
    let client = client(&app, &app.native.client_id, None);
    journey(&app, &client).await;
}

#[tokio::test]
async fn roost_token_errors_parse_as_rfc6749_errors_in_the_crate() {
    let app = spawn_app().await;
    let http = http_client();
    let secret = app.web.client_secret.clone().expect("confidential secret");
    let web = client(&app, &app.web.client_id, Some(&secret));

    // A code that roost never issued.
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    assert_server_error(
        web.exchange_code(AuthorizationCode::new("not-a-code".to_owned()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await,
        BasicErrorResponseType::InvalidRequest,
        Some("Value passed for the authorization code was invalid."),
    );

    // A real code with the wrong verifier.
    let (code, _) = authorize(&app, &web).await;
    let (_, wrong) = PkceCodeChallenge::new_random_sha256();
    assert_server_error(
        web.exchange_code(code)
            .set_pkce_verifier(wrong)
            .request_async(&http)
            .await,
        BasicErrorResponseType::InvalidRequest,
        Some("Value passed for the code verifier did not match the code challenge."),
    );

    // A wrong client secret: 401 with X's body, still an RFC 6749 error object.
    let impostor = client(&app, &app.web.client_id, Some("wrong-secret"));
    let (code, verifier) = authorize(&app, &web).await;
    assert_server_error(
        impostor
            .exchange_code(code)
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await,
        BasicErrorResponseType::UnauthorizedClient,
        Some("Missing valid authorization header"),
    );

    // An unknown refresh token.
    assert_server_error(
        web.exchange_refresh_token(&RefreshToken::new("nope".to_owned()))
            .request_async(&http)
            .await,
        BasicErrorResponseType::InvalidRequest,
        Some("Value passed for the token was invalid."),
    );
}

#[tokio::test]
async fn strict_rfc_errors_parse_as_the_rfc_codes_in_the_crate() {
    let app = spawn_app_with(|c| c.oauth.strict_rfc = true).await;
    let http = http_client();
    let secret = app.web.client_secret.clone().expect("confidential secret");
    let web = client(&app, &app.web.client_id, Some(&secret));

    // The whole journey works in strict mode too (S256, 43-character verifier from the crate).
    let (code, verifier) = authorize(&app, &web).await;
    let token = web
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    users_me(&app, token.access_token()).await;

    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    assert_server_error(
        web.exchange_code(AuthorizationCode::new("not-a-code".to_owned()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await,
        BasicErrorResponseType::InvalidGrant,
        None,
    );
    let impostor = client(&app, &app.web.client_id, Some("wrong-secret"));
    assert_server_error(
        impostor
            .exchange_refresh_token(token.refresh_token().expect("refresh token"))
            .request_async(&http)
            .await,
        BasicErrorResponseType::InvalidClient,
        None,
    );
}
