//! The developer portal (`/portal`) and the connected-apps page over HTTP, on the run's store:
//! sign-in and sign-out, every action and what it does to the Apps' credentials and tokens, who
//! may see and change what, the anti-forgery checks (checklist A11, A12), and where secrets may
//! appear (G3).

use std::sync::Mutex;

use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ORIGIN, SET_COOKIE, X_FRAME_OPTIONS,
};
use roost_domain::{Scope, Username};
use serde_json::Value;

use crate::helpers::*;

const FORM: &str = "application/x-www-form-urlencoded";
/// An app-only endpoint (a user token works there too, but these tests use the App's).
const APP_ONLY_PATH: &str = "/2/users/by/username/alice";

/// An answer to a portal request, read whole.
struct Answer {
    status: u16,
    location: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    async fn read(resp: reqwest::Response) -> Self {
        let location = location(&resp);
        Self {
            status: resp.status().as_u16(),
            location,
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    /// The body with askama's escapes undone, for looking up text in it.
    fn text(&self) -> String {
        unescape(&self.body)
    }

    fn header(&self, name: reqwest::header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#43;", "+")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the cookie `name` that a response sets.
fn set_cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = pair.split_once('=')?;
        (k.trim() == name && !val.is_empty()).then(|| val.to_owned())
    })
}

/// A secret shown once on a keys page, by its label (`Client Secret`, `Bearer Token`, ...).
fn shown(html: &str, label: &str) -> Option<String> {
    html.split("<input id=\"shown-").skip(1).find_map(|tag| {
        let tag = &tag[..tag.find('>')?];
        if !tag.contains(&format!("aria-label=\"{label}\"")) {
            return None;
        }
        let start = tag.find("value=\"")? + "value=\"".len();
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    })
}

/// Posts the sign-in form (fetched first, for its token) from browser `b`.
async fn submit_login(
    app: &TestApp,
    b: &reqwest::Client,
    username: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let page = app.get_page(b, &app.url("/login?next=%2Fportal")).await;
    assert_eq!(page.status, 200, "login page: {}", page.body);
    let csrf = hidden(&page.body, "csrf_token").expect("csrf_token on the login page");
    b.post(app.url("/login"))
        .header(CONTENT_TYPE, FORM)
        .body(form(&[
            ("csrf_token", &csrf),
            ("next", next),
            ("username", username),
            ("password", password),
        ]))
        .send()
        .await
        .expect("POST /login")
}

/// A signed-in browser on the portal. It remembers every `Location` it was sent, so a test can
/// check that no secret ever was in one.
struct Portal<'a> {
    app: &'a TestApp,
    b: reqwest::Client,
    csrf: String,
    session: String,
    locations: Mutex<Vec<String>>,
}

impl<'a> Portal<'a> {
    async fn sign_in(app: &'a TestApp, username: &str) -> Self {
        let b = browser();
        let resp = submit_login(app, &b, username, PASSWORD, "/portal").await;
        assert_eq!(resp.status(), 303, "sign-in as {username}");
        assert_eq!(location(&resp), "/portal");
        let session = set_cookie_value(&resp, "roost_session").expect("a session cookie");
        // The token is bound to the browser cookie, which sign-in replaced.
        let home = app.get_page(&b, &app.url("/portal")).await;
        assert_eq!(home.status, 200, "{}", home.body);
        let csrf = hidden(&home.body, "csrf_token").expect("csrf_token on /portal");
        Self {
            app,
            b,
            csrf,
            session,
            locations: Mutex::new(vec!["/portal".to_owned()]),
        }
    }

    fn remember(&self, a: &Answer) {
        if !a.location.is_empty() {
            self.locations.lock().unwrap().push(a.location.clone());
        }
    }

    async fn get(&self, path: &str) -> Answer {
        let a = Answer::read(self.b.get(self.app.url(path)).send().await.expect("GET")).await;
        self.remember(&a);
        a
    }

    /// Posts `fields` with this browser's anti-forgery token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &form(&all), &[]).await
    }

    /// Posts a body as it is, with extra headers.
    async fn post_raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = self
            .b
            .post(self.app.url(path))
            .header(CONTENT_TYPE, FORM)
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let a = Answer::read(req.send().await.expect("POST")).await;
        self.remember(&a);
        a
    }

    /// Creates a Project; its id.
    async fn create_project(&self, name: &str) -> String {
        let a = self.post("/portal/projects", &[("name", name)]).await;
        assert_eq!(a.status, 303, "create project: {}", a.body);
        a.location
            .strip_prefix("/portal/projects/")
            .and_then(|rest| rest.strip_suffix("?done=project-created"))
            .unwrap_or_else(|| panic!("unexpected redirect {}", a.location))
            .to_owned()
    }

    /// Creates an App of `kind` (`native`, `single_page` or `web`) with `CALLBACK`.
    async fn create_app(&self, project: &str, name: &str, kind: &str) -> NewApp {
        let page = self
            .post(
                &format!("/portal/projects/{project}/apps"),
                &[
                    ("name", name),
                    ("description", "An App made in a test"),
                    ("website_url", "https://app.example.com/"),
                    ("type", kind),
                    ("callback", CALLBACK),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "create app: {}", page.body);
        let client_id = shown(&page.body, "Client ID").expect("Client ID shown");
        let record = self
            .app
            .state
            .store
            .app_by_client_id(&client_id)
            .await
            .unwrap()
            .expect("the App is stored");
        NewApp {
            id: record.id.to_string(),
            client_id,
            client_secret: shown(&page.body, "Client Secret"),
            api_key: shown(&page.body, "API Key").expect("API Key shown"),
            api_secret: shown(&page.body, "API Key Secret").expect("API Key Secret shown"),
            page,
        }
    }

    /// The page at `path` answers 200 and `text` is on it.
    async fn shows(&self, path: &str, text: &str) -> bool {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.text().contains(text)
    }
}

struct NewApp {
    id: String,
    client_id: String,
    client_secret: Option<String>,
    api_key: String,
    api_secret: String,
    /// The answer to the creating post (the keys page).
    page: Answer,
}

/// Every Project and App as stored, with the row counts: "nothing changed" compares these.
async fn snapshot(app: &TestApp) -> String {
    let mut projects = app.state.store.list_projects().await.unwrap();
    projects.sort_by_key(|p| p.id.to_string());
    let mut apps = app.state.store.list_apps().await.unwrap();
    apps.sort_by_key(|a| a.id.to_string());
    format!("{:?}\n{projects:?}\n{apps:?}", app.row_counts().await)
}

/// User tokens of alice for a portal App (the whole authorize journey), all the scopes.
async fn user_tokens(app: &TestApp, client_id: &str, secret: Option<&str>) -> Value {
    let p = AuthParams::new(client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (status, body, _) = app
        .token(
            client_id,
            secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh_with(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    refresh: &str,
) -> (u16, Value) {
    let (s, b, _) = app
        .token(
            client_id,
            secret,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    (s, b)
}

/// `POST /oauth2/token` with an API Key pair: the status and the token, if any.
async fn app_only_token(app: &TestApp, key: &str, secret: &str) -> (u16, Option<String>) {
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(key, Some(secret))
        .header(CONTENT_TYPE, FORM)
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("app-only token");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body["access_token"].as_str().map(str::to_owned))
}

/// The status of an app-only read with `token`.
async fn app_only_call(app: &TestApp, token: &str) -> u16 {
    app.http
        .get(app.url(APP_ONLY_PATH))
        .bearer_auth(token)
        .send()
        .await
        .expect("app-only call")
        .status()
        .as_u16()
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

// ----- sign-in and sign-out -----

#[tokio::test]
async fn portal_sign_in_refuses_a_wrong_password_and_goes_on_to_a_local_next_only() {
    let app = spawn_app().await;
    let b = browser();
    let page = app
        .get_page(&b, &app.url("/login?next=%2Fsettings%2Fconnected_apps"))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        hidden(&page.body, "next").as_deref(),
        Some("/settings/connected_apps")
    );

    let resp = submit_login(&app, &b, "alice", "not the password", "/portal/projects").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(set_cookie_value(&resp, "roost_session"), None);
    let a = Answer::read(resp).await;
    assert!(
        a.text().contains("Wrong username or password."),
        "{}",
        a.body
    );
    assert!(a.body.contains("name=\"password\""), "the form again");
    let home = app.get_page(&b, &app.url("/portal")).await;
    assert_eq!(home.status, 303, "still signed out");

    let resp = submit_login(&app, &b, "alice", PASSWORD, "/settings/connected_apps").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/settings/connected_apps");
    assert!(set_cookie_value(&resp, "roost_session").is_some());
    assert_eq!(
        app.get_page(&b, &app.url("/settings/connected_apps"))
            .await
            .status,
        200
    );

    // Signed in already: the login page sends the browser straight on, to a local page only.
    let resp = b
        .get(app.url("/login?next=https%3A%2F%2Fevil.example%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/portal");

    for evil in [
        "https://evil.example/",
        "//evil.example/portal",
        "/portal/../i",
    ] {
        let resp = submit_login(&app, &browser(), "bob", PASSWORD, evil).await;
        assert_eq!(resp.status(), 303, "{evil}");
        assert_eq!(location(&resp), "/portal", "{evil}");
    }
}

#[tokio::test]
async fn sec_a22_portal_sign_out_ends_the_session_and_everywhere_ends_them_all() {
    let app = spawn_app().await;
    let one = Portal::sign_in(&app, "alice").await;
    let a = one.post("/logout", &[]).await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, "/login");
    // A copy of the old cookie no longer signs anyone in.
    let replay = app
        .http
        .get(app.url("/portal"))
        .header("cookie", format!("roost_session={}", one.session))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    assert_eq!(location(&replay), "/login?next=%2Fportal");
    assert_eq!(one.get("/portal").await.status, 303);

    let here = Portal::sign_in(&app, "alice").await;
    let there = Portal::sign_in(&app, "alice").await;
    let bob = Portal::sign_in(&app, "bob").await;
    let a = here.post("/logout", &[("everywhere", "1")]).await;
    assert_eq!(a.status, 303);
    for p in [&here, &there] {
        let a = p.get("/portal/").await;
        assert_eq!(a.status, 303);
        assert!(a.location.starts_with("/login?next="), "{}", a.location);
    }
    assert_eq!(
        bob.get("/portal").await.status,
        200,
        "another person's session stays"
    );
}

// ----- actions -----

#[tokio::test]
async fn portal_projects_are_created_renamed_and_deleted_after_confirmation() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let id = alice.create_project("Weather bots").await;
    let page = alice
        .get(&format!("/portal/projects/{id}?done=project-created"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Project created."));
    assert!(page.text().contains("Weather bots"));
    assert!(alice.shows("/portal", "Weather bots").await);

    let a = alice.post("/portal/projects", &[("name", "")]).await;
    assert_eq!(a.status, 400, "an empty name");
    assert!(
        a.text()
            .contains("the project name must be 1 to 100 characters")
    );

    let a = alice
        .post(
            &format!("/portal/projects/{id}/rename"),
            &[("name", "Storm bots")],
        )
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, format!("/portal/projects/{id}?done=renamed"));
    let a = alice
        .post(&format!("/portal/projects/{id}/rename"), &[("name", "")])
        .await;
    assert_eq!(a.status, 400);
    let projects = app.state.store.list_projects().await.unwrap();
    let p = projects.iter().find(|p| p.id.to_string() == id).unwrap();
    assert_eq!(p.name, "Storm bots");

    let confirm = alice.get(&format!("/portal/projects/{id}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.text().contains("Delete the Project Storm bots?"));
    assert!(confirm.body.contains("name=\"confirm\" value=\"yes\""));
    // Without the confirmation: back to the question, nothing deleted.
    let before = snapshot(&app).await;
    let a = alice
        .post(&format!("/portal/projects/{id}/delete"), &[])
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, format!("/portal/projects/{id}/delete"));
    assert_eq!(snapshot(&app).await, before);

    let a = alice
        .post(
            &format!("/portal/projects/{id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, "/portal?done=project-deleted");
    let projects = app.state.store.list_projects().await.unwrap();
    assert!(!projects.iter().any(|p| p.id.to_string() == id));
    assert_eq!(
        alice.get(&format!("/portal/projects/{id}")).await.status,
        404
    );
}

#[tokio::test]
async fn portal_creates_apps_of_each_type_and_shows_their_secrets_once() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Clients").await;
    for (kind, confidential) in [("native", false), ("single_page", false), ("web", true)] {
        let made = alice
            .create_app(&project, &format!("The {kind} App"), kind)
            .await;
        assert_eq!(made.page.header(CACHE_CONTROL), "no-store");
        assert_eq!(made.client_secret.is_some(), confidential, "{kind}");
        let record = app
            .state
            .store
            .app_by_client_id(&made.client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.profile.kind.as_str(), kind);
        assert_eq!(record.project_id.to_string(), project);
        assert_eq!(record.api_key, made.api_key);
        assert_eq!(record.callbacks[0].as_str(), CALLBACK);

        // Later, only the last characters are shown.
        let keys = alice.get(&format!("/portal/apps/{}/keys", made.id)).await;
        assert_eq!(keys.status, 200);
        assert_eq!(keys.header(CACHE_CONTROL), "no-store");
        assert!(!keys.body.contains(&made.api_secret), "{kind}");
        let tail = &made.api_secret[made.api_secret.len() - 4..];
        assert!(
            keys.body.contains(&format!("&hellip;{tail}")),
            "{}",
            keys.body
        );
        if let Some(secret) = &made.client_secret {
            assert!(!keys.body.contains(secret.as_str()));
        } else {
            assert!(
                !keys.body.contains("/keys/client-secret"),
                "a public client has no secret"
            );
        }
        // The App works: a code flow with its own credentials.
        let tokens = user_tokens(&app, &made.client_id, made.client_secret.as_deref()).await;
        assert_eq!(app.me(&s(&tokens, "access_token")).await, 200);
        assert!(alice.shows("/portal", &format!("The {kind} App")).await);
    }

    let before = snapshot(&app).await;
    let a = alice
        .post(
            &format!("/portal/projects/{project}/apps"),
            &[("name", "Odd"), ("type", "desktop"), ("callback", CALLBACK)],
        )
        .await;
    assert_eq!(a.status, 400);
    let a = alice
        .post(
            &format!("/portal/projects/{project}/apps"),
            &[
                ("name", "Odd"),
                ("type", "web"),
                ("callback", "http://example.com/cb"),
            ],
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.text()
            .contains("uses http on a host that is not loopback"),
        "{}",
        a.body
    );
    assert_eq!(snapshot(&app).await, before, "nothing stored");
}

#[tokio::test]
async fn sec_a3_portal_saves_settings_and_checks_callbacks() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Settings").await;
    let made = alice.create_app(&project, "Before", "native").await;
    let path = format!("/portal/apps/{}", made.id);
    let stored = || async {
        app.state
            .store
            .app_by_client_id(&made.client_id)
            .await
            .unwrap()
            .unwrap()
    };

    let a = alice
        .post(
            &format!("{path}/settings"),
            &[
                ("name", "After"),
                ("description", "Now described"),
                ("website_url", "https://after.example.com/"),
                ("type", "single_page"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location, format!("{path}?done=saved"));
    let r = stored().await;
    assert_eq!(r.name, "After");
    assert_eq!(r.profile.description, "Now described");
    assert_eq!(r.profile.kind.as_str(), "single_page");
    assert!(alice.shows(&a.location, "Settings saved.").await);
    // A public client cannot become confidential.
    let a = alice
        .post(&format!("{path}/settings"), &[("type", "web")])
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(stored().await.profile.kind.as_str(), "single_page");

    let a = alice
        .post(
            &format!("{path}/callbacks"),
            &[("callback", "https://after.example.com/cb")],
        )
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, format!("{path}?done=callback-added"));
    let before = snapshot(&app).await;
    for (bad, reason) in [
        (
            "http://example.com/cb",
            "uses http on a host that is not loopback",
        ),
        ("https://*.example.com/cb", "has a wildcard"),
        ("https://example.com/cb#x", "has a fragment"),
        ("cb", "is not an absolute URL"),
    ] {
        let a = alice
            .post(&format!("{path}/callbacks"), &[("callback", bad)])
            .await;
        assert_eq!(a.status, 400, "{bad}");
        assert!(a.header(CONTENT_TYPE).starts_with("text/html"));
        assert!(a.text().contains(reason), "{bad}: {}", a.body);
    }
    let a = alice
        .post(&format!("{path}/callbacks"), &[("callback", CALLBACK)])
        .await;
    assert_eq!(a.status, 400, "twice the same callback");
    assert_eq!(snapshot(&app).await, before);

    let a = alice
        .post(
            &format!("{path}/callbacks/remove"),
            &[("callback", CALLBACK)],
        )
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, format!("{path}?done=callback-removed"));
    let r = stored().await;
    assert_eq!(
        r.callbacks.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        ["https://after.example.com/cb"]
    );
    let before = snapshot(&app).await;
    let a = alice
        .post(
            &format!("{path}/callbacks/remove"),
            &[("callback", "https://after.example.com/cb")],
        )
        .await;
    assert_eq!(a.status, 400, "the last callback stays");
    assert!(a.text().contains("at least one"), "{}", a.body);
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn sec_g3_portal_regenerated_client_secret_replaces_the_old_one() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Rotation").await;
    let made = alice.create_app(&project, "Rotating", "web").await;
    let old = made.client_secret.clone().expect("a confidential App");
    let tokens = user_tokens(&app, &made.client_id, Some(&old)).await;

    let a = alice
        .post(&format!("/portal/apps/{}/keys/client-secret", made.id), &[])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header(CACHE_CONTROL), "no-store");
    let new = shown(&a.body, "Client Secret").expect("the new secret, shown once");
    assert_ne!(new, old);

    let (status, body) = refresh_with(
        &app,
        &made.client_id,
        Some(&old),
        &s(&tokens, "refresh_token"),
    )
    .await;
    assert_eq!(status, 401, "the old secret: {body}");
    let (status, body) = refresh_with(
        &app,
        &made.client_id,
        Some(&new),
        &s(&tokens, "refresh_token"),
    )
    .await;
    assert_eq!(status, 200, "the new secret: {body}");
    let keys = alice.get(&format!("/portal/apps/{}/keys", made.id)).await;
    assert!(!keys.body.contains(&new));

    // A public client has none to regenerate.
    let native = alice.create_app(&project, "Public", "native").await;
    let before = snapshot(&app).await;
    let a = alice
        .post(
            &format!("/portal/apps/{}/keys/client-secret", native.id),
            &[],
        )
        .await;
    assert_eq!(a.status, 409);
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn sec_g3_portal_regenerated_api_key_replaces_the_old_pair_and_its_bearer_token() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Keys").await;
    let made = alice.create_app(&project, "Keyed", "web").await;
    let (status, old_bearer) = app_only_token(&app, &made.api_key, &made.api_secret).await;
    assert_eq!(status, 200);
    let old_bearer = old_bearer.unwrap();
    assert_eq!(app_only_call(&app, &old_bearer).await, 200);

    let a = alice
        .post(&format!("/portal/apps/{}/keys/api-key", made.id), &[])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let key = shown(&a.body, "API Key").expect("new API Key");
    let secret = shown(&a.body, "API Key Secret").expect("new API Key Secret");
    assert_ne!(key, made.api_key);

    // X refuses a bad API Key pair with 403 and its code 99.
    let (status, token) = app_only_token(&app, &made.api_key, &made.api_secret).await;
    assert_eq!((status, token), (403, None), "the old pair");
    let (status, token) = app_only_token(&app, &key, &made.api_secret).await;
    assert_eq!(
        (status, token),
        (403, None),
        "the new key with the old secret"
    );
    assert_eq!(
        app_only_call(&app, &old_bearer).await,
        401,
        "the old Bearer Token"
    );
    let (status, token) = app_only_token(&app, &key, &secret).await;
    assert_eq!(status, 200, "the new pair");
    assert_eq!(app_only_call(&app, &token.unwrap()).await, 200);
}

#[tokio::test]
async fn portal_bearer_token_is_generated_and_revoked() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Bearers").await;
    let made = alice.create_app(&project, "Reader", "native").await;
    let keys = format!("/portal/apps/{}/keys", made.id);

    let a = alice.post(&format!("{keys}/bearer-token"), &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header(CACHE_CONTROL), "no-store");
    let token = shown(&a.body, "Bearer Token").expect("Bearer Token shown");
    assert_eq!(app_only_call(&app, &token).await, 200);
    // The same token as POST /oauth2/token hands out.
    let (_, same) = app_only_token(&app, &made.api_key, &made.api_secret).await;
    assert_eq!(same.as_deref(), Some(token.as_str()));

    let a = alice
        .post(&format!("{keys}/bearer-token/revoke"), &[])
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, format!("{keys}?done=bearer-revoked"));
    assert_eq!(app_only_call(&app, &token).await, 401);
    assert!(alice.shows(&a.location, "was revoked").await);

    let a = alice.post(&format!("{keys}/bearer-token"), &[]).await;
    let next = shown(&a.body, "Bearer Token").unwrap();
    assert_ne!(next, token);
    assert_eq!(app_only_call(&app, &next).await, 200);
}

#[tokio::test]
async fn portal_usage_page_counts_the_apps_requests() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Busy").await;
    let made = alice.create_app(&project, "Busy App", "web").await;
    let usage = format!("/portal/apps/{}/usage", made.id);
    assert!(
        alice
            .shows(&usage, "No API requests in the last 24 hours.")
            .await
    );

    let tokens = user_tokens(&app, &made.client_id, made.client_secret.as_deref()).await;
    for _ in 0..3 {
        assert_eq!(app.me(&s(&tokens, "access_token")).await, 200);
    }
    let (_, bearer) = app_only_token(&app, &made.api_key, &made.api_secret).await;
    for _ in 0..2 {
        assert_eq!(app_only_call(&app, bearer.as_deref().unwrap()).await, 200);
    }
    // Another App's requests are not this one's.
    let other = app.app_token().await;
    assert_eq!(app_only_call(&app, &other).await, 200);

    let page = alice.get(&usage).await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(
        text.contains(
            "<code>GET /2/users/me</code></h2>\n<p class=\"meta\">3 requests in 24 hours"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "<code>GET /2/users/by/username/:username</code></h2>\n<p class=\"meta\">2 requests in 24 hours"
        ),
        "{text}"
    );
    assert!(
        text.contains("<dt>Requests, last 24 hours</dt><dd>5</dd>"),
        "{text}"
    );
    assert!(text.contains("<dt>Active users</dt><dd>1</dd>"), "{text}");
    assert!(text.contains("the busiest, @alice): 3 of 75"), "{text}");
}

#[tokio::test]
async fn portal_deleting_an_app_or_a_project_revokes_their_tokens() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Doomed").await;
    let one = alice.create_app(&project, "First", "web").await;
    let two = alice.create_app(&project, "Second", "native").await;
    let t1 = user_tokens(&app, &one.client_id, one.client_secret.as_deref()).await;
    let t2 = user_tokens(&app, &two.client_id, None).await;
    let (_, b1) = app_only_token(&app, &one.api_key, &one.api_secret).await;
    let (_, b2) = app_only_token(&app, &two.api_key, &two.api_secret).await;
    let (b1, b2) = (b1.unwrap(), b2.unwrap());
    for t in [&t1, &t2] {
        assert_eq!(app.me(&s(t, "access_token")).await, 200);
    }

    let confirm = alice.get(&format!("/portal/apps/{}/delete", one.id)).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.text().contains("Delete the App First?"));
    let a = alice
        .post(&format!("/portal/apps/{}/delete", one.id), &[])
        .await;
    assert_eq!(a.status, 303, "no confirmation: back to the question");
    assert_eq!(app.me(&s(&t1, "access_token")).await, 200);
    let a = alice
        .post(
            &format!("/portal/apps/{}/delete", one.id),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(
        a.location,
        format!("/portal/projects/{project}?done=app-deleted")
    );
    assert_eq!(app.me(&s(&t1, "access_token")).await, 401);
    assert_eq!(app_only_call(&app, &b1).await, 401);
    assert_eq!(
        app.me(&s(&t2, "access_token")).await,
        200,
        "the other App's token"
    );
    assert_eq!(
        alice.get(&format!("/portal/apps/{}", one.id)).await.status,
        404
    );

    let a = alice
        .post(
            &format!("/portal/projects/{project}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(app.me(&s(&t2, "access_token")).await, 401);
    assert_eq!(app_only_call(&app, &b2).await, 401);
    let (status, _) = refresh_with(&app, &two.client_id, None, &s(&t2, "refresh_token")).await;
    assert_ne!(status, 200);
    assert_eq!(
        alice.get(&format!("/portal/apps/{}", two.id)).await.status,
        404
    );
    // The harness's Apps in another Project are untouched.
    assert_eq!(app_only_call(&app, &app.app_token().await).await, 200);
}

// ----- who may see and change what -----

/// Every page of a Project and its App.
fn get_paths(project: &str, app_id: &str) -> Vec<String> {
    vec![
        format!("/portal/projects/{project}"),
        format!("/portal/projects/{project}/delete"),
        format!("/portal/projects/{project}/apps/new"),
        format!("/portal/apps/{app_id}"),
        format!("/portal/apps/{app_id}/delete"),
        format!("/portal/apps/{app_id}/keys"),
        format!("/portal/apps/{app_id}/usage"),
    ]
}

/// Every action on a Project and its App, with fields that would make it succeed.
fn post_actions(project: &str, app_id: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            format!("/portal/projects/{project}/rename"),
            vec![("name", "Taken over")],
        ),
        (
            format!("/portal/projects/{project}/apps"),
            vec![
                ("name", "Intruder"),
                ("type", "web"),
                ("callback", CALLBACK),
            ],
        ),
        (
            format!("/portal/apps/{app_id}/settings"),
            vec![("name", "Taken over")],
        ),
        (
            format!("/portal/apps/{app_id}/callbacks"),
            vec![("callback", "https://evil.example/cb")],
        ),
        (
            format!("/portal/apps/{app_id}/callbacks/remove"),
            vec![("callback", "https://second.example/cb")],
        ),
        (format!("/portal/apps/{app_id}/keys/client-secret"), vec![]),
        (format!("/portal/apps/{app_id}/keys/api-key"), vec![]),
        (format!("/portal/apps/{app_id}/keys/bearer-token"), vec![]),
        (
            format!("/portal/apps/{app_id}/keys/bearer-token/revoke"),
            vec![],
        ),
        (
            format!("/portal/apps/{app_id}/delete"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/portal/projects/{project}/delete"),
            vec![("confirm", "yes")],
        ),
    ]
}

/// Alice's Project with a web App that has two callbacks.
async fn alices_project(alice: &Portal<'_>) -> (String, NewApp) {
    let project = alice.create_project("Alice's").await;
    let made = alice.create_app(&project, "Alice's App", "web").await;
    let a = alice
        .post(
            &format!("/portal/apps/{}/callbacks", made.id),
            &[("callback", "https://second.example/cb")],
        )
        .await;
    assert_eq!(a.status, 303);
    (project, made)
}

#[tokio::test]
async fn portal_another_users_projects_and_apps_are_404_and_stay_unchanged() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let (project, made) = alices_project(&alice).await;
    let bob = Portal::sign_in(&app, "bob").await;
    let before = snapshot(&app).await;

    let home = bob.get("/portal").await;
    assert_eq!(home.status, 200);
    assert!(!home.text().contains("Alice's"), "{}", home.body);
    for path in get_paths(&project, &made.id) {
        let a = bob.get(&path).await;
        assert_eq!(a.status, 404, "GET {path}");
        assert!(!a.text().contains("Alice's"), "GET {path} reveals the name");
    }
    for (path, fields) in post_actions(&project, &made.id) {
        let a = bob.post(&path, &fields).await;
        assert_eq!(a.status, 404, "POST {path}: {}", a.body);
        assert!(!a.body.contains("class=\"secret\""), "POST {path}");
    }
    // Ids that do not parse or do not exist look the same.
    for path in [
        "/portal/projects/nope",
        "/portal/apps/123",
        "/portal/apps/123/keys",
    ] {
        assert_eq!(bob.get(path).await.status, 404, "{path}");
    }
    assert_eq!(snapshot(&app).await, before);
    // The harness's Project has no owner: only admins see it.
    let harness = app
        .state
        .store
        .app_by_client_id(&app.web.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alice
            .get(&format!("/portal/apps/{}", harness.id))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn portal_admin_sees_and_changes_another_users_project() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let (project, made) = alices_project(&alice).await;
    let bob_id = app
        .state
        .store
        .user_by_username(&Username::parse("bob").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(app.state.store.set_user_admin(bob_id, true).await.unwrap());
    let bob = Portal::sign_in(&app, "bob").await;

    let home = bob.get("/portal").await;
    assert!(home.text().contains("Alice's"), "{}", home.body);
    assert!(home.text().contains("owner @alice"));
    assert!(
        home.text().contains("Test Project"),
        "Projects without an owner too"
    );
    for path in get_paths(&project, &made.id) {
        assert_eq!(bob.get(&path).await.status, 200, "GET {path}");
    }
    let a = bob
        .post(
            &format!("/portal/projects/{project}/rename"),
            &[("name", "Renamed by the admin")],
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(alice.shows("/portal", "Renamed by the admin").await);
    let a = bob
        .post(&format!("/portal/apps/{}/keys/bearer-token", made.id), &[])
        .await;
    assert_eq!(a.status, 200);
    // The Project stays alice's.
    let projects = app.state.store.list_projects().await.unwrap();
    let p = projects
        .iter()
        .find(|p| p.id.to_string() == project)
        .unwrap();
    assert_ne!(p.owner_id, Some(bob_id));
    assert!(p.owner_id.is_some());
}

#[tokio::test]
async fn portal_without_a_session_sends_gets_to_login_and_posts_do_nothing() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let (project, made) = alices_project(&alice).await;
    let before = snapshot(&app).await;

    let stranger = browser();
    let mut paths = get_paths(&project, &made.id);
    paths.extend(["/portal".to_owned(), "/settings/connected_apps".to_owned()]);
    for path in &paths {
        let resp = stranger.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 303, "GET {path}");
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("next", path);
        assert_eq!(
            location(&resp),
            format!("/login?{}", ser.finish()),
            "GET {path}"
        );
    }
    // The login page gives a browser cookie and its token; with them, but no session, every
    // post still does nothing.
    let page = app.get_page(&stranger, &app.url("/login")).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let mut posts = post_actions(&project, &made.id);
    posts.push(("/portal/projects".to_owned(), vec![("name", "Anonymous")]));
    posts.push((
        format!("/settings/connected_apps/{}/revoke", made.id),
        vec![],
    ));
    for (path, fields) in posts {
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend(fields);
        let resp = stranger
            .post(app.url(&path))
            .header(CONTENT_TYPE, FORM)
            .body(form(&all))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "POST {path}");
        assert!(location(&resp).starts_with("/login?next="), "POST {path}");
    }
    assert_eq!(snapshot(&app).await, before);
}

// ----- forgery -----

/// Every form post of the pages, for a signed-in alice with her Project and App.
fn every_post(project: &str, app_id: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let mut posts = post_actions(project, app_id);
    posts.push(("/portal/projects".to_owned(), vec![("name", "Forged")]));
    posts.push((format!("/settings/connected_apps/{app_id}/revoke"), vec![]));
    posts.push(("/logout".to_owned(), vec![("everywhere", "1")]));
    posts
}

#[tokio::test]
async fn sec_a11_portal_forms_need_the_csrf_token() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let (project, made) = alices_project(&alice).await;
    let tokens = user_tokens(&app, &made.client_id, made.client_secret.as_deref()).await;
    let access = s(&tokens, "access_token");
    let bob = Portal::sign_in(&app, "bob").await;
    let before = snapshot(&app).await;

    for (path, fields) in every_post(&project, &made.id) {
        let missing = form(&fields);
        let wrong = {
            let mut all = vec![("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
            all.extend(fields.iter().copied());
            form(&all)
        };
        // A token of another browser (bob's, signed in, valid for his own pages).
        let others = {
            let mut all = vec![("csrf_token", bob.csrf.as_str())];
            all.extend(fields.iter().copied());
            form(&all)
        };
        for (what, body) in [
            ("no token", missing),
            ("a wrong token", wrong),
            ("another browser's token", others),
        ] {
            let a = alice.post_raw(&path, &body, &[]).await;
            assert_eq!(a.status, 403, "POST {path} with {what}: {}", a.body);
            assert!(a.text().contains("anti-forgery token"), "POST {path}");
            assert_eq!(a.header(X_FRAME_OPTIONS), "DENY");
        }
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(alice.get("/portal").await.status, 200, "still signed in");
    assert_eq!(app.me(&access).await, 200, "still connected");

    // The sign-in form too: no session comes of it.
    let b = browser();
    app.get_page(&b, &app.url("/login")).await;
    let resp = b
        .post(app.url("/login"))
        .header(CONTENT_TYPE, FORM)
        .body(form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", "/portal"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(set_cookie_value(&resp, "roost_session"), None);
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn sec_a12_portal_refuses_cross_site_posts() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let (project, made) = alices_project(&alice).await;
    let before = snapshot(&app).await;
    for (path, fields) in every_post(&project, &made.id) {
        let mut all = vec![("csrf_token", alice.csrf.as_str())];
        all.extend(fields);
        let body = form(&all);
        for headers in [
            [("origin", "https://evil.test")],
            [("sec-fetch-site", "cross-site")],
            [("origin", "null")],
        ] {
            let a = alice.post_raw(&path, &body, &headers).await;
            assert_eq!(a.status, 403, "POST {path} with {headers:?}: {}", a.body);
            assert!(a.text().contains("posted from another site"), "{}", a.body);
        }
        // The right token, but not a form.
        let resp = alice
            .b
            .post(app.url(&path))
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "POST {path} as JSON");
    }
    assert_eq!(snapshot(&app).await, before);

    // roost's own origin is fine.
    let a = alice
        .post_raw(
            "/portal/projects",
            &form(&[("csrf_token", &alice.csrf), ("name", "Same origin")]),
            &[(ORIGIN.as_str(), app.state.public_origin.as_str())],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
}

// ----- connected apps -----

#[tokio::test]
async fn portal_connected_apps_lists_the_grant_in_plain_words_and_revokes_it() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    assert!(
        alice
            .shows(
                "/settings/connected_apps",
                "No App has access to your account."
            )
            .await
    );

    let tokens = app.tokens(ALL_SCOPES).await;
    let access = s(&tokens, "access_token");
    let refresh = s(&tokens, "refresh_token");
    assert_eq!(app.me(&access).await, 200);
    // Bob's grant to the same App is bob's.
    let bobs = app
        .tokens_for("bob", PASSWORD, "tweet.read users.read")
        .await;

    let page = alice.get("/settings/connected_apps").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("<h2>Test Web App</h2>"), "{text}");
    assert!(text.contains("Project Test Project"));
    for scope in [
        Scope::TweetRead,
        Scope::UsersRead,
        Scope::FollowsRead,
        Scope::OfflineAccess,
    ] {
        assert!(text.contains(scope.description()), "{scope:?}: {text}");
    }
    assert!(!text.contains("Test Native App"));
    let web_id = app
        .state
        .store
        .app_by_client_id(&app.web.client_id)
        .await
        .unwrap()
        .unwrap()
        .id;
    let action = format!("/settings/connected_apps/{web_id}/revoke");
    assert!(page.text().contains(&format!("action=\"{action}\"")));

    let a = alice.post(&action, &[]).await;
    assert_eq!(a.status, 303);
    assert_eq!(a.location, "/settings/connected_apps?done=revoked");
    assert_eq!(app.me(&access).await, 401);
    let (status, body) = app.refresh(&refresh).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    let page = alice.get(&a.location).await;
    assert!(page.text().contains("Access revoked."));
    assert!(!page.text().contains("<h2>Test Web App</h2>"));
    assert_eq!(
        app.me(&s(&bobs, "access_token")).await,
        200,
        "bob's grant stays"
    );
}

// ----- secrets and headers -----

#[tokio::test]
async fn sec_g3_portal_secrets_are_never_in_a_url_and_keys_pages_are_not_stored() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let project = alice.create_project("Secrets").await;
    let made = alice.create_app(&project, "Secretive", "web").await;
    let keys = format!("/portal/apps/{}/keys", made.id);
    let mut secrets = vec![made.client_secret.clone().unwrap(), made.api_secret.clone()];
    let mut pages = vec![made.page];

    for action in ["client-secret", "api-key", "bearer-token"] {
        let a = alice.post(&format!("{keys}/{action}"), &[]).await;
        assert_eq!(a.status, 200, "{action}");
        for label in ["Client Secret", "API Key Secret", "Bearer Token"] {
            secrets.extend(shown(&a.body, label));
        }
        pages.push(a);
    }
    assert_eq!(secrets.len(), 5);
    let session = alice.session.clone();
    pages.push(alice.get(&keys).await);
    pages.push(alice.get(&format!("/portal/apps/{}", made.id)).await);
    pages.push(alice.get("/portal").await);

    for page in &pages {
        if page.status == 200 && page.body.contains("Keys and tokens</h1>") {
            assert_eq!(page.header(CACHE_CONTROL), "no-store");
        }
        for secret in &secrets {
            // A secret appears only as the value of its read-only field, never in a link or
            // a form's action.
            let everywhere = page.body.matches(secret.as_str()).count();
            let as_value = page.body.matches(&format!("value=\"{secret}\"")).count();
            assert_eq!(everywhere, as_value, "{secret} outside a field");
        }
        assert!(!page.body.contains(&session), "the session id on a page");
    }
    for loc in alice.locations.lock().unwrap().iter() {
        for secret in &secrets {
            assert!(!loc.contains(secret.as_str()), "{secret} in Location {loc}");
        }
    }
}

#[tokio::test]
async fn sec_a10_portal_pages_have_a_csp_and_cannot_be_framed() {
    let app = spawn_app().await;
    let alice = Portal::sign_in(&app, "alice").await;
    let (project, made) = alices_project(&alice).await;
    let mut answers = Vec::new();
    let mut paths = get_paths(&project, &made.id);
    paths.extend(["/portal", "/settings/connected_apps", "/portal/apps/1/keys"].map(str::to_owned));
    for path in &paths {
        answers.push((path.clone(), alice.get(path).await));
    }
    answers.push((
        "a 400".into(),
        alice.post("/portal/projects", &[("name", "")]).await,
    ));
    answers.push((
        "a 403".into(),
        alice.post_raw("/portal/projects", "name=x", &[]).await,
    ));
    answers.push((
        "the keys shown once".into(),
        alice
            .post(&format!("/portal/apps/{}/keys/bearer-token", made.id), &[])
            .await,
    ));
    let stranger = browser();
    answers.push((
        "/login".into(),
        Answer::read(stranger.get(app.url("/login")).send().await.unwrap()).await,
    ));
    answers.push((
        "a sign-in redirect".into(),
        Answer::read(stranger.get(app.url("/portal")).send().await.unwrap()).await,
    ));
    for (what, a) in answers {
        let csp = a.header(CONTENT_SECURITY_POLICY);
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        assert_eq!(a.header(X_FRAME_OPTIONS), "DENY", "{what}");
        assert_eq!(a.header(CACHE_CONTROL), "no-store", "{what}");
        assert_eq!(a.headers.get("access-control-allow-origin"), None, "{what}");
        if a.status != 303 {
            assert!(a.header(CONTENT_TYPE).starts_with("text/html"), "{what}");
        }
    }
    let js = app
        .http
        .get(app.url("/static/portal.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
}
