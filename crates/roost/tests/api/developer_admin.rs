//! The developer portal's operations over the admin API (`/admin/v1`): Projects, App settings,
//! regenerated secrets and keys, the app-only Bearer Token, usage, admin users and a user's
//! connected Apps. Every answer is checked against the schema roost's OpenAPI document gives
//! it, held strictly (a member the schema does not name is a failure), so the document stays
//! complete; and each change is checked where it matters, on the OAuth and API endpoints.

use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::admin::{admin_token, assert_invalid, call};
use crate::helpers::{ALL_SCOPES, AuthParams, CALLBACK, TestApp, spawn_app};

const SCHEMAS: &str = "#/components/schemas/";

// ---------------------------------------------------------------------------------------------
// The document's schemas, strictly

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(roost::openapi::DOCUMENT).expect("document"))
}

/// OpenAPI 3.0's `nullable` as JSON Schema says it, and every object that lists its members
/// closed to others (`additionalProperties: false` unless it says otherwise).
fn strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.remove("nullable") == Some(Value::Bool(true))
                && let Some(Value::String(t)) = m.get("type").cloned()
            {
                m.insert("type".into(), json!([t, "null"]));
            }
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            m.values_mut().for_each(strict);
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

/// The admin API's schemas (they reach no others), made strict.
fn admin_schemas() -> &'static Map<String, Value> {
    static S: OnceLock<Map<String, Value>> = OnceLock::new();
    S.get_or_init(|| {
        let mut m: Map<String, Value> = document()["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .iter()
            .filter(|(k, _)| k.starts_with("Admin"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        m.values_mut().for_each(strict);
        m
    })
}

fn assert_schema(name: &str, body: &Value, what: &str) {
    let root = json!({
        "allOf": [{"$ref": format!("{SCHEMAS}{name}")}],
        "components": {"schemas": admin_schemas()}
    });
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the answer does not conform to {name}:\n  {}\nbody: {body}",
        errors.join("\n  ")
    );
}

/// The answer conforms to what the document says `method template` answers with `status`.
fn assert_documented(method: &Method, template: &str, status: StatusCode, body: &Value) {
    let op = &document()["paths"][format!("/admin/v1{template}")][method.as_str().to_lowercase()];
    assert!(op.is_object(), "{method} {template} is not documented");
    let what = format!("{method} {template} {status}");
    let code = status.as_str();
    let Some(resp) = op["responses"].get(code) else {
        assert!(
            !status.is_success(),
            "{what}: the document has no {code} for it"
        );
        assert_schema("AdminError", body, &what);
        return;
    };
    match resp.pointer("/content/application~1json/schema/$ref") {
        Some(Value::String(r)) => {
            assert_schema(r.strip_prefix(SCHEMAS).expect("a schema"), body, &what);
        }
        _ => assert_eq!(body, &Value::Null, "{what}: documented without a body"),
    }
}

/// An admin call whose answer is checked against the document. `template` names the route
/// (`/apps/{client_id}`), `path` the concrete path.
async fn admin(
    app: &TestApp,
    token: &str,
    method: Method,
    template: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, answer) = call(app, token, method.clone(), path, body).await;
    assert_documented(&method, template, status, &answer);
    (status, answer)
}

fn assert_status(got: (StatusCode, Value), want: StatusCode, error: &str) -> Value {
    assert_eq!(got.0, want, "{}", got.1);
    if !error.is_empty() {
        assert_eq!(got.1["error"], error, "{}", got.1);
    }
    got.1
}

// ---------------------------------------------------------------------------------------------
// Helpers on the OAuth and API endpoints

/// `POST /oauth2/token` with an API key and secret: status and body.
async fn app_only(app: &TestApp, key: &str, secret: &str) -> (u16, Value) {
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(key, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("app-only token request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `GET /2/users/:id` (an endpoint app-only tokens may call) with `token`: the status.
async fn user_lookup(app: &TestApp, token: &str, user_id: &str) -> u16 {
    app.http
        .get(app.url(&format!("/2/users/{user_id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("user lookup")
        .status()
        .as_u16()
}

/// `client_credentials` at `/2/oauth2/token` with the App's Client Secret: status and body.
async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> (u16, Value) {
    let (status, body, _) = app
        .token(
            client_id,
            Some(secret),
            &[("grant_type", "client_credentials")],
        )
        .await;
    (status, body)
}

async fn user_id(app: &TestApp, username: &str) -> String {
    let name = roost_domain::Username::parse(username).expect("username");
    app.state
        .store
        .user_by_username(&name)
        .await
        .expect("store")
        .expect("user")
        .id
        .to_string()
}

/// The App as `GET /admin/v1/apps` lists it.
async fn listed(app: &TestApp, token: &str, client_id: &str) -> Value {
    let list = assert_status(
        admin(app, token, Method::GET, "/apps", "/apps", None).await,
        StatusCode::OK,
        "",
    );
    list["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["client_id"] == client_id)
        .cloned()
        .unwrap_or_else(|| panic!("{client_id} is not listed: {list}"))
}

fn last4(s: &str) -> &str {
    &s[s.len() - 4..]
}

// ---------------------------------------------------------------------------------------------
// Projects

#[tokio::test]
async fn projects_are_created_listed_renamed_handed_over_and_refused_when_wrong() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let t = "/projects";
    let created = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            t,
            Some(json!({"name": "  Portal Project ", "owner": "alice"})),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    assert_eq!(created["name"], "Portal Project", "trimmed: {created}");
    assert_eq!(created["owner"], "alice");
    assert_eq!(created["apps"], json!([]));
    let id = created["id"].as_str().expect("id").to_owned();
    let before = app.row_counts().await;
    // A taken name, a bad name, an unknown owner, no name, an unknown member.
    assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            t,
            Some(json!({"name": "Portal Project"})),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    for (body, field) in [
        (json!({"name": " "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "a\u{7}b"}), "name"),
        (json!({}), "name"),
        (json!({"name": "P", "colour": "red"}), "colour"),
    ] {
        let (status, answer) = admin(&app, &token, Method::POST, t, t, Some(body)).await;
        assert_invalid(status, &answer, field);
    }
    assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            t,
            Some(json!({"name": "Orphan", "owner": "nobody"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.row_counts().await, before, "refusals change nothing");

    // The harness's Project, without an owner, with its two Apps.
    let list = assert_status(
        admin(&app, &token, Method::GET, t, t, None).await,
        StatusCode::OK,
        "",
    );
    let projects = list["projects"].as_array().expect("projects");
    assert_eq!(projects.len(), 2, "{list}");
    let harness = projects
        .iter()
        .find(|p| p["name"] == "Test Project")
        .expect("the harness's Project");
    assert_eq!(harness["id"], app.web.project_id.as_str());
    assert_eq!(harness["owner"], Value::Null);
    assert_eq!(
        harness["apps"],
        json!([app.web.client_id, app.native.client_id])
    );

    // Renamed, handed to bob, then to the admins alone; each answer is the Project.
    let tp = "/projects/{project_id}";
    let p = format!("/projects/{id}");
    let renamed = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            tp,
            &p,
            Some(json!({"name": "Renamed"})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(
        (&renamed["name"], &renamed["owner"]),
        (&json!("Renamed"), &json!("alice"))
    );
    let bobs = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            tp,
            &p,
            Some(json!({"owner": "bob"})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(bobs["owner"], "bob");
    let nobodys = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            tp,
            &p,
            Some(json!({"owner": null})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(nobodys["owner"], Value::Null);
    assert_eq!(nobodys["name"], "Renamed");
    // A taken name; an unknown owner, refused before the name changes; bad ids.
    assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            tp,
            &p,
            Some(json!({"name": "Test Project"})),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            tp,
            &p,
            Some(json!({"name": "Never", "owner": "nobody"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, answer) = admin(
        &app,
        &token,
        Method::PATCH,
        tp,
        &p,
        Some(json!({"name": ""})),
    )
    .await;
    assert_invalid(status, &answer, "name");
    for unknown in ["/projects/1", "/projects/not-an-id"] {
        assert_status(
            admin(
                &app,
                &token,
                Method::PATCH,
                tp,
                unknown,
                Some(json!({"name": "X"})),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_status(
            admin(&app, &token, Method::DELETE, tp, unknown, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let list = assert_status(
        admin(&app, &token, Method::GET, t, t, None).await,
        StatusCode::OK,
        "",
    );
    let mine = list["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["id"] == id.as_str())
        .expect("listed");
    assert_eq!(
        (&mine["name"], &mine["owner"]),
        (&json!("Renamed"), &Value::Null)
    );
}

#[tokio::test]
async fn apps_go_in_a_project_by_id_with_x_app_types_and_old_bodies_still_work() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let project = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            "/projects",
            "/projects",
            Some(json!({"name": "Typed"})),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    let pid = project["id"].as_str().expect("id").to_owned();
    let created = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            "/apps",
            "/apps",
            Some(json!({
                "name": "Bot", "type": "web", "project_id": pid,
                "description": "Posts the weather.\nEvery hour.",
                "website_url": "https://bot.example/about",
                "callbacks": [CALLBACK]
            })),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    assert_eq!(created["project_id"], pid.as_str());
    let secret = created["client_secret"]
        .as_str()
        .expect("a web App is confidential");
    let api_secret = created["api_secret"].as_str().expect("api_secret");
    let bot = listed(&app, &token, created["client_id"].as_str().expect("id")).await;
    assert_eq!(bot["project"], "Typed");
    assert_eq!(
        (&bot["type"], &bot["client_type"]),
        (&json!("web"), &json!("confidential"))
    );
    assert_eq!(bot["description"], "Posts the weather.\nEvery hour.");
    assert_eq!(bot["website_url"], "https://bot.example/about");
    assert_eq!(bot["client_secret_hint"], last4(secret));
    assert_eq!(bot["api_secret_hint"], last4(api_secret));

    // `spa` is a single-page App: public, no Client Secret; by Project name as before.
    let spa = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            "/apps",
            "/apps",
            Some(
                json!({"name": "SPA", "type": "spa", "project": "Typed", "callbacks": [CALLBACK]}),
            ),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    assert!(spa.get("client_secret").is_none(), "{spa}");
    assert_eq!(spa["project_id"], pid.as_str());
    let listed_spa = listed(&app, &token, spa["client_id"].as_str().expect("id")).await;
    assert_eq!(
        (&listed_spa["type"], &listed_spa["client_type"]),
        (&json!("single_page"), &json!("public"))
    );
    assert_eq!(listed_spa["client_secret_hint"], Value::Null);
    assert_eq!(listed_spa["website_url"], Value::Null);

    // An old body: a confidential App is a web App, in the default Project.
    let old = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            "/apps",
            "/apps",
            Some(json!({"name": "Old", "type": "public", "callbacks": [CALLBACK]})),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    let listed_old = listed(&app, &token, old["client_id"].as_str().expect("id")).await;
    assert_eq!(listed_old["project"], "Default Project");
    assert_eq!(listed_old["type"], "native");
    assert_eq!(listed_old["description"], "");

    // Refusals store nothing: an unknown Project, both ways of naming one, a bad type, website
    // or description.
    let before = app.row_counts().await;
    for unknown in ["1", "no-such-project"] {
        assert_status(
            admin(
                &app,
                &token,
                Method::POST,
                "/apps",
                "/apps",
                Some(json!({"name": "X", "type": "web", "project_id": unknown, "callbacks": [CALLBACK]})),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    for (body, field) in [
        (
            json!({"name": "X", "type": "web", "project_id": pid, "project": "Typed", "callbacks": [CALLBACK]}),
            "project_id",
        ),
        (
            json!({"name": "X", "type": "desktop", "callbacks": [CALLBACK]}),
            "type",
        ),
        (
            json!({"name": "X", "type": "web", "website_url": "javascript:alert(1)", "callbacks": [CALLBACK]}),
            "website_url",
        ),
        (
            json!({"name": "X", "type": "web", "website_url": "https://u:p@bot.example", "callbacks": [CALLBACK]}),
            "website_url",
        ),
        (
            json!({"name": "X", "type": "web", "description": "d".repeat(1001), "callbacks": [CALLBACK]}),
            "description",
        ),
        (
            json!({"name": "X", "type": "native", "callbacks": ["http://example.com/cb"]}),
            "callbacks",
        ),
    ] {
        let (status, answer) =
            admin(&app, &token, Method::POST, "/apps", "/apps", Some(body)).await;
        assert_invalid(status, &answer, field);
    }
    assert_eq!(app.row_counts().await, before, "refusals change nothing");
}

/// A user token (minted) and an app-only token of a new App in a new Project, both working.
async fn app_with_tokens(app: &TestApp, token: &str, project_id: &str) -> (Value, String, String) {
    let created = assert_status(
        admin(
            app,
            token,
            Method::POST,
            "/apps",
            "/apps",
            Some(json!({"name": "Doomed", "type": "web", "project_id": project_id, "callbacks": [CALLBACK]})),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    let client_id = created["client_id"].as_str().expect("client_id");
    let (status, minted) = call(
        app,
        token,
        Method::POST,
        "/tokens",
        Some(json!({"app": client_id, "user": "alice", "scope": ALL_SCOPES})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let user = minted["access_token"].as_str().expect("access").to_owned();
    let (status, bearer) = app_only(
        app,
        created["api_key"].as_str().expect("key"),
        created["api_secret"].as_str().expect("secret"),
    )
    .await;
    assert_eq!(status, 200, "{bearer}");
    let bearer = bearer["access_token"].as_str().expect("bearer").to_owned();
    assert_eq!(app.me(&user).await, 200);
    (created, user, bearer)
}

#[tokio::test]
async fn deleting_a_project_deletes_its_apps_and_every_token_they_were_issued() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let project = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            "/projects",
            "/projects",
            Some(json!({"name": "Short-lived", "owner": "bob"})),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    let pid = project["id"].as_str().expect("id");
    let (created, user, bearer) = app_with_tokens(&app, &token, pid).await;
    let alice = user_id(&app, "alice").await;
    assert_eq!(user_lookup(&app, &bearer, &alice).await, 200);

    let tp = "/projects/{project_id}";
    let path = format!("/projects/{pid}");
    let deleted = assert_status(
        admin(&app, &token, Method::DELETE, tp, &path, None).await,
        StatusCode::OK,
        "",
    );
    assert_eq!(deleted["id"], pid);
    assert_eq!(deleted["name"], "Short-lived");
    assert_eq!(deleted["apps"], json!([created["client_id"]]));
    assert_eq!(deleted["removed"]["apps"], 1, "{deleted}");
    assert_eq!(deleted["removed"]["access_tokens"], 1, "{deleted}");
    assert_eq!(deleted["removed"]["grants"], 1, "{deleted}");
    assert_eq!(app.me(&user).await, 401, "the user token died with the App");
    assert_eq!(
        user_lookup(&app, &bearer, &alice).await,
        401,
        "the app-only token too"
    );
    assert_status(
        admin(&app, &token, Method::DELETE, tp, &path, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // The other Projects' Apps are untouched.
    assert_eq!(
        app.me(app.tokens(ALL_SCOPES).await["access_token"]
            .as_str()
            .expect("t"))
            .await,
        200
    );
}

// ---------------------------------------------------------------------------------------------
// App settings

#[tokio::test]
async fn patch_changes_an_apps_settings_and_refuses_bad_ones_changing_nothing() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let t = "/apps/{client_id}";
    let web = format!("/apps/{}", app.web.client_id);
    let second = "https://app.example/cb";
    let changed = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            &web,
            Some(json!({
                "name": "Renamed App", "description": "What it does",
                "website_url": "https://app.example", "callbacks": [CALLBACK, second]
            })),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(changed["name"], "Renamed App");
    assert_eq!(changed["description"], "What it does");
    assert_eq!(changed["website_url"], "https://app.example");
    assert_eq!(changed["callbacks"], json!([CALLBACK, second]));
    assert_eq!(changed["auto_consent_user"], Value::Null);
    assert_eq!(
        listed(&app, &token, &app.web.client_id).await["name"],
        "Renamed App"
    );
    // The consent page shows the new name at once.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let page = app.get_page(&app.http, &app.authorize_url(&p)).await;
    assert!(page.body.contains("Renamed App"), "{}", page.body);

    // "" and null clear the website.
    for clear in [json!(""), Value::Null] {
        assert_status(
            admin(
                &app,
                &token,
                Method::PATCH,
                t,
                &web,
                Some(json!({"website_url": "https://a.example"})),
            )
            .await,
            StatusCode::OK,
            "",
        );
        let cleared = assert_status(
            admin(
                &app,
                &token,
                Method::PATCH,
                t,
                &web,
                Some(json!({"website_url": clear})),
            )
            .await,
            StatusCode::OK,
            "",
        );
        assert_eq!(cleared["website_url"], Value::Null, "{cleared}");
    }

    // The type changes only within the client type.
    let native = format!("/apps/{}", app.native.client_id);
    for (kind, want) in [
        ("single_page", "single_page"),
        ("spa", "single_page"),
        ("native", "native"),
    ] {
        let answer = assert_status(
            admin(
                &app,
                &token,
                Method::PATCH,
                t,
                &native,
                Some(json!({"type": kind})),
            )
            .await,
            StatusCode::OK,
            "",
        );
        assert_eq!(
            (&answer["type"], &answer["client_type"]),
            (&json!(want), &json!("public"))
        );
    }

    // Bad input: nothing changes, not even the fields that were fine, nor auto-consent.
    let before = listed(&app, &token, &app.web.client_id).await;
    for (body, field) in [
        (json!({"type": "native"}), "type"),
        (json!({"type": "bogus"}), "type"),
        (json!({"name": "Fine", "callbacks": []}), "callbacks"),
        (
            json!({"name": "Fine", "callbacks": ["http://example.com/cb"]}),
            "callbacks",
        ),
        (
            json!({"name": "Fine", "callbacks": [CALLBACK, CALLBACK]}),
            "callbacks",
        ),
        (json!({"name": ""}), "name"),
        (json!({"description": "d".repeat(1001)}), "description"),
        (json!({"website_url": "ftp://app.example"}), "website_url"),
        (
            json!({"name": "Fine", "website_url": "app.example", "auto_consent_user": "alice"}),
            "website_url",
        ),
        (json!({"client_type": "public"}), "client_type"),
    ] {
        let (status, answer) = admin(&app, &token, Method::PATCH, t, &web, Some(body)).await;
        assert_invalid(status, &answer, field);
    }
    assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            &web,
            Some(json!({"name": "Fine", "auto_consent_user": "nobody"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(listed(&app, &token, &app.web.client_id).await, before);
    assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            "/apps/no-such-app",
            Some(json!({"name": "X"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // The old body still sets auto-consent, and the callback list is the App's from now on.
    let answer = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            &web,
            Some(json!({"auto_consent_user": "alice"})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(answer["auto_consent_user"], "alice");
    assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            &web,
            Some(json!({"callbacks": [second]})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    let gone = app.get_page(&app.http, &app.authorize_url(&p)).await;
    assert_eq!(
        gone.status, 400,
        "the removed callback is refused: {}",
        gone.body
    );
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens

#[tokio::test]
async fn a_regenerated_client_secret_replaces_the_old_one_at_once() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let old = app.web.client_secret.clone().expect("secret");
    assert_eq!(
        client_credentials(&app, &app.web.client_id, &old).await.0,
        200
    );
    let t = "/apps/{client_id}/client-secret";
    let fresh = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            &format!("/apps/{}/client-secret", app.web.client_id),
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(fresh["client_id"], app.web.client_id.as_str());
    let new = fresh["client_secret"].as_str().expect("client_secret");
    assert_ne!(new, old);
    // The old secret is refused as any wrong one is (X's `unauthorized_client` in X mode).
    let (status, body) = client_credentials(&app, &app.web.client_id, &old).await;
    assert_eq!(status, 401, "the old secret: {body}");
    let wrong = client_credentials(&app, &app.web.client_id, "not-the-secret").await;
    assert_eq!((status, &body), (wrong.0, &wrong.1));
    let (status, body) = client_credentials(&app, &app.web.client_id, new).await;
    assert_eq!(status, 200, "the new secret: {body}");
    // A code exchange with the new secret works too.
    let p = AuthParams::new(&app.web.client_id, ALL_SCOPES);
    let code = app.code_for(&p).await;
    let (status, body, _) = app
        .token(
            &app.web.client_id,
            Some(new),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        listed(&app, &token, &app.web.client_id).await["client_secret_hint"],
        last4(new)
    );

    // A public App has none; an unknown App is a 404.
    assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            &format!("/apps/{}/client-secret", app.native.client_id),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            "/apps/no-such-app/client-secret",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn a_regenerated_api_key_refuses_the_old_key_secret_and_bearer_token() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let alice = user_id(&app, "alice").await;
    let old_bearer = app.app_token().await;
    assert_eq!(user_lookup(&app, &old_bearer, &alice).await, 200);
    let t = "/apps/{client_id}/api-key";
    let fresh = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            &format!("/apps/{}/api-key", app.web.client_id),
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    let (key, secret) = (
        fresh["api_key"].as_str().expect("api_key"),
        fresh["api_secret"].as_str().expect("api_secret"),
    );
    assert_ne!(key, app.web.api_key);
    assert_eq!(
        user_lookup(&app, &old_bearer, &alice).await,
        401,
        "the old Bearer Token"
    );
    let (status, body) = app_only(&app, &app.web.api_key, &app.web.api_secret).await;
    assert_eq!(
        status, 403,
        "the old key and secret get X's code 99: {body}"
    );
    assert_eq!(body["errors"][0]["code"], 99, "{body}");
    let (status, body) = app_only(&app, key, &app.web.api_secret).await;
    assert_eq!(status, 403, "the new key with the old secret: {body}");
    let (status, body) = app_only(&app, key, secret).await;
    assert_eq!(status, 200, "{body}");
    let new_bearer = body["access_token"].as_str().expect("bearer");
    assert_ne!(new_bearer, old_bearer);
    assert_eq!(user_lookup(&app, new_bearer, &alice).await, 200);
    let listed_web = listed(&app, &token, &app.web.client_id).await;
    assert_eq!(listed_web["api_key"], key);
    assert_eq!(listed_web["api_secret_hint"], last4(secret));
    assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            t,
            "/apps/no-such-app/api-key",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn the_bearer_token_is_handed_out_and_revoked() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let alice = user_id(&app, "alice").await;
    let t = "/apps/{client_id}/bearer-token";
    let path = format!("/apps/{}/bearer-token", app.web.client_id);
    let got = assert_status(
        admin(&app, &token, Method::POST, t, &path, None).await,
        StatusCode::OK,
        "",
    );
    assert_eq!(got["token_type"], "bearer");
    let bearer = got["access_token"].as_str().expect("token").to_owned();
    assert_eq!(
        bearer,
        app.app_token().await,
        "the token /oauth2/token hands out"
    );
    assert_eq!(user_lookup(&app, &bearer, &alice).await, 200);

    let (status, body) = admin(&app, &token, Method::DELETE, t, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(user_lookup(&app, &bearer, &alice).await, 401, "revoked");
    let again = assert_status(
        admin(&app, &token, Method::POST, t, &path, None).await,
        StatusCode::OK,
        "",
    );
    let next = again["access_token"].as_str().expect("token");
    assert_ne!(next, bearer);
    assert_eq!(user_lookup(&app, next, &alice).await, 200);
    for method in [Method::POST, Method::DELETE] {
        assert_status(
            admin(
                &app,
                &token,
                method,
                t,
                "/apps/no-such-app/bearer-token",
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
}

#[tokio::test]
async fn usage_counts_the_apps_api_calls_per_endpoint() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let alice = user_id(&app, "alice").await;
    let bearer = app.app_token().await;
    for _ in 0..3 {
        assert_eq!(user_lookup(&app, &bearer, &alice).await, 200);
    }
    let user = app.tokens(ALL_SCOPES).await;
    let access = user["access_token"].as_str().expect("access");
    for _ in 0..2 {
        assert_eq!(app.me(access).await, 200);
    }
    // Another App's calls are its own.
    let other = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&app.native.api_key, Some(&app.native.api_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token")
        .json::<Value>()
        .await
        .expect("json");
    let other = other["access_token"].as_str().expect("bearer");
    assert_eq!(user_lookup(&app, other, &alice).await, 200);

    let t = "/apps/{client_id}/usage";
    let usage = assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            &format!("/apps/{}/usage", app.web.client_id),
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(usage["total"], 5, "{usage}");
    assert_eq!(usage["bucket_ms"], 900_000);
    let endpoint = |name: &str| -> Value {
        usage["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["endpoint"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {usage}"))
    };
    let by_id = endpoint("GET /2/users/:id");
    assert_eq!(by_id["total"], 3);
    assert_eq!(by_id["window"]["requests"], 3);
    assert_eq!(by_id["window"]["app_limit"], 300);
    assert_eq!(by_id["window"]["user_limit"], 900);
    let buckets = by_id["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 96);
    assert_eq!(
        buckets.last(),
        Some(&json!(3)),
        "the current bucket is the last"
    );
    let me = endpoint("GET /2/users/me");
    assert_eq!(me["total"], 2);
    assert_eq!(me["window"]["app_limit"], Value::Null, "no app-only pool");
    assert_eq!(
        usage["endpoints"][0]["endpoint"], "GET /2/users/:id",
        "busiest first"
    );
    assert_eq!(usage["active_users"], 1);
    assert_eq!(usage["active_access_tokens"], 1);
    assert_eq!(usage["active_refresh_tokens"], 1);

    // A 15-minute window later the count is in an older bucket; a day later it is gone.
    app.clock.advance_ms(15 * 60 * 1000);
    let later = assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            &format!("/apps/{}/usage", app.web.client_id),
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(later["total"], 5);
    assert_eq!(later["endpoints"][0]["window"]["requests"], 0);
    app.clock.advance_ms(24 * 3600 * 1000);
    let gone = assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            &format!("/apps/{}/usage", app.web.client_id),
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(gone["total"], 0, "{gone}");
    assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            "/apps/no-such-app/usage",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

// ---------------------------------------------------------------------------------------------
// Users

#[tokio::test]
async fn users_are_made_admins_and_listed_as_such() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let admins = |list: &Value| -> Vec<(String, bool)> {
        list["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| {
                (
                    u["username"].as_str().expect("username").to_owned(),
                    u["admin"].as_bool().expect("admin"),
                )
            })
            .collect()
    };
    let list = assert_status(
        admin(&app, &token, Method::GET, "/users", "/users", None).await,
        StatusCode::OK,
        "",
    );
    assert_eq!(
        admins(&list),
        [("alice".to_owned(), false), ("bob".to_owned(), false)]
    );
    let t = "/users/{username}";
    let promoted = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            "/users/alice",
            Some(json!({"admin": true})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(
        (&promoted["username"], &promoted["admin"]),
        (&json!("alice"), &json!(true))
    );
    let alice = promoted["id"]
        .as_str()
        .expect("id")
        .parse::<i64>()
        .expect("id");
    let alice = roost_domain::Snowflake::from_i64(alice).expect("id");
    assert!(app.state.store.user_is_admin(alice).await.expect("store"));
    let created = assert_status(
        admin(
            &app,
            &token,
            Method::POST,
            "/users",
            "/users",
            Some(json!({"username": "dana", "name": "Dana", "admin": true})),
        )
        .await,
        StatusCode::CREATED,
        "",
    );
    assert_eq!(created["admin"], true);
    let list = assert_status(
        admin(&app, &token, Method::GET, "/users", "/users", None).await,
        StatusCode::OK,
        "",
    );
    assert_eq!(
        admins(&list),
        [
            ("alice".to_owned(), true),
            ("bob".to_owned(), false),
            ("dana".to_owned(), true)
        ]
    );
    let demoted = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            "/users/alice",
            Some(json!({"admin": false})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(demoted["admin"], false);
    // Absent: unchanged.
    let same = assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            "/users/dana",
            Some(json!({})),
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(same["admin"], true);
    assert_status(
        admin(
            &app,
            &token,
            Method::PATCH,
            t,
            "/users/nobody",
            Some(json!({"admin": true})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for body in [json!({"admin": "yes"}), json!({"admin": true, "name": "X"})] {
        let (status, answer) =
            admin(&app, &token, Method::PATCH, t, "/users/bob", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }
}

#[tokio::test]
async fn a_users_connected_apps_are_listed_and_revoked_with_every_token() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let tokens = app.tokens(ALL_SCOPES).await;
    let access = tokens["access_token"].as_str().expect("access");
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    assert_eq!(app.me(access).await, 200);

    let t = "/users/{username}/connected-apps";
    let list = assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            "/users/alice/connected-apps",
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(list["username"], "alice");
    let apps = list["connected_apps"].as_array().expect("connected_apps");
    assert_eq!(apps.len(), 1, "{list}");
    let c = &apps[0];
    assert_eq!(c["client_id"], app.web.client_id.as_str());
    assert_eq!(c["app_name"], "Test Web App");
    assert_eq!(c["project"], "Test Project");
    assert_eq!(
        c["scopes"],
        json!(["tweet.read", "users.read", "follows.read", "offline.access"])
    );
    assert!(c["last_used_at"].is_string(), "the call was recorded: {c}");
    let none = assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            "/users/bob/connected-apps",
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(none["connected_apps"], json!([]));
    assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            "/users/nobody/connected-apps",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let tr = "/users/{username}/connected-apps/{client_id}";
    let path = format!("/users/alice/connected-apps/{}", app.web.client_id);
    let revoked = assert_status(
        admin(&app, &token, Method::DELETE, tr, &path, None).await,
        StatusCode::OK,
        "",
    );
    assert_eq!(revoked["revoked_grants"], 1, "{revoked}");
    assert_eq!(app.me(access).await, 401, "the access token is revoked");
    let (status, body) = app.refresh(refresh).await;
    assert_ne!(status, 200, "the refresh token is revoked: {body}");
    let after = assert_status(
        admin(
            &app,
            &token,
            Method::GET,
            t,
            "/users/alice/connected-apps",
            None,
        )
        .await,
        StatusCode::OK,
        "",
    );
    assert_eq!(after["connected_apps"], json!([]));
    let again = assert_status(
        admin(&app, &token, Method::DELETE, tr, &path, None).await,
        StatusCode::OK,
        "",
    );
    assert_eq!(again["revoked_grants"], 0);
    for unknown in [
        "/users/nobody/connected-apps/x".to_owned(),
        "/users/alice/connected-apps/no-such-app".to_owned(),
    ] {
        assert_status(
            admin(&app, &token, Method::DELETE, tr, &unknown, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    // A new authorization connects the App again.
    let fresh = app.tokens(ALL_SCOPES).await;
    assert_eq!(
        app.me(fresh["access_token"].as_str().expect("t")).await,
        200
    );
}
