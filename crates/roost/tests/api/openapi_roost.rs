//! roost's own OpenAPI document (`GET /2/openapi.json`, `crates/roost/openapi/openapi.json`):
//! generated here, and held here to the router, to the handlers and to OpenAPI 3.0.
//!
//! [`generate`] derives the document from X's (`openapi/openapi-x-v2.json`, 2.159, and
//! `openapi/openapi-x-v2-2.167.json`, both unmodified), roost's route table
//! (`roost::api::routes`, from which the router is built) and `openapi/overlay.json` (what X's
//! documents do not describe: the OAuth endpoints, `GET /2/users/{id}/following/spaces`, the
//! document's `info`):
//! - the operations are X's, for exactly the routes roost serves; a route X's document lacks
//!   must come from the overlay, and the generator fails otherwise;
//! - OAuth 1.0a (`UserToken`) is left out of every `security`: roost has none;
//! - the `default` response's `application/json` schema is `Problem`, not X's `Error`
//!   (`{code, message}`, the v1.1 shape): roost's 400s are problem objects sent as
//!   `application/json`, as X's are;
//! - 2.167's names are accepted, so every operation with `tweet.fields` also lists
//!   `post.fields`, and each field or expansion list takes the values of both documents;
//! - the OAuth 2.0 scheme names roost's URLs (relative here, made absolute when served) and
//!   roost's scopes, with the words of its consent page;
//! - `components` holds every component an operation reaches (a discriminator's mapping
//!   included) and nothing else.
//!
//! [`the_committed_document_is_the_generated_one`] fails when the committed file differs from
//! what [`generate`] makes (`ROOST_UPDATE_OPENAPI=1` writes it), so the routes, X's documents
//! and the document cannot drift apart unnoticed; the other tests ask the running server.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use reqwest::Method;
use roost::api::Route;
use roost_domain::Scope;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::follows::{ALICE, BOB, send};
use crate::helpers::*;

const X_2159: &str = include_str!("openapi/openapi-x-v2.json");
const X_2167: &str = include_str!("openapi/openapi-x-v2-2.167.json");
/// shared/spec/x-api-v2.md: the SHA-256 of X's 2.167 document as published.
const X_2167_SHA256: &str = "ddaf2f44b19c63dc5550811bc2df893d6dafb44049c9064c8a4161e0da47c9b6";
const OVERLAY: &str = include_str!("../../openapi/overlay.json");
/// The OpenAPI 3.0 meta-schema as the OpenAPI Initiative publishes it
/// (https://spec.openapis.org/oas/3.0/schema/2021-09-28, Apache-2.0; the copy
/// openapi-spec-validator 0.9.0 ships).
const OAS_30_SCHEMA: &str = include_str!("openapi/oas-3.0-schema-2021-09-28.json");
const OAS_30_SCHEMA_SHA256: &str =
    "43da9f20f670535ee9a214185d066a8796649420ccfd9422978f51b5281a5648";
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

const PARAMS: &str = "#/components/parameters/";

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn x2159() -> &'static Value {
    static D: OnceLock<Value> = OnceLock::new();
    D.get_or_init(|| parse(X_2159))
}

fn x2167() -> &'static Value {
    static D: OnceLock<Value> = OnceLock::new();
    D.get_or_init(|| parse(X_2167))
}

/// `tweet.fields` under 2.167's name: the same parameter, so the same values.
fn post_fields(tweet_fields: &Value) -> Value {
    let mut p = tweet_fields.clone();
    p["name"] = json!("post.fields");
    p["description"] = json!(
        "OpenAPI 2.167's name for `tweet.fields`, taking the same values; send one of the two. \
         Posts are rendered with 2.159's member names (`note_post` selects `note_tweet`)."
    );
    p
}

/// One of X's operations as roost serves it (module docs).
fn adapt_operation(op: &Value) -> Value {
    let mut op = op.clone();
    if let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) {
        security.retain(|s| s.get("UserToken").is_none());
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        let mut out = Vec::new();
        for p in params.drain(..) {
            let tweet_fields = p["$ref"] == format!("{PARAMS}TweetFieldsParameter").as_str();
            out.push(p);
            if tweet_fields {
                out.push(json!({"$ref": format!("{PARAMS}PostFieldsParameter")}));
            }
        }
        *params = out;
    }
    if let Some(c) = op.pointer_mut("/responses/default/content/application~1json") {
        *c = json!({"schema": {"$ref": "#/components/schemas/Problem"}});
    }
    op
}

/// Every `#/components/KIND/NAME` that `v` names, through `$ref` or a discriminator mapping.
fn refs(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            let mapped = m
                .get("discriminator")
                .and_then(|d| d.get("mapping"))
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values());
            for r in m.get("$ref").into_iter().chain(mapped) {
                if let Some((kind, name)) = r
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/"))
                    .and_then(|r| r.split_once('/'))
                {
                    out.push((kind.to_owned(), name.to_owned()));
                }
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// A parameter component of 2.159 with 2.167's values added to its list: roost takes both.
fn parameter_component(name: &str) -> Value {
    if name == "PostFieldsParameter" {
        return post_fields(&parameter_component("TweetFieldsParameter"));
    }
    let mut p = x2159()["components"]["parameters"][name].clone();
    assert!(p.is_object(), "no parameter {name} in X's document");
    let later = x2167()["components"]["parameters"]
        .get(name.replace("Tweet", "Post"))
        .and_then(|q| q.pointer("/schema/items/enum"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(values) = p
        .pointer_mut("/schema/items/enum")
        .and_then(Value::as_array_mut)
    {
        for v in later {
            if !values.contains(&v) {
                values.push(v);
            }
        }
    }
    p
}

/// The OAuth 2.0 user-token scheme: X's, with roost's URLs and scopes.
fn oauth2_scheme() -> Value {
    let scopes: Map<String, Value> = Scope::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), json!(s.description())))
        .collect();
    json!({
        "type": "oauth2",
        "description": "An OAuth 2.0 user access token (Authorization Code with PKCE), sent as `Authorization: Bearer`.",
        "flows": {"authorizationCode": {
            "authorizationUrl": "/i/oauth2/authorize",
            "tokenUrl": "/2/oauth2/token",
            "refreshUrl": "/2/oauth2/token",
            "scopes": scopes
        }}
    })
}

/// roost's document, from X's documents, the overlay and the route table.
fn generate() -> Value {
    let x = x2159();
    let overlay = parse(OVERLAY);
    let mut paths = Map::new();
    let mut api_paths: Vec<&str> = Vec::new();
    for route in roost::api::routes() {
        let method = route.verb.as_str().to_ascii_lowercase();
        let op = match overlay["paths"][route.path].get(&method) {
            Some(op) => op.clone(),
            None => {
                let op = x["paths"][route.path].get(&method).unwrap_or_else(|| {
                    panic!(
                        "{} {} is in neither X's document nor openapi/overlay.json",
                        route.verb.as_str(),
                        route.path
                    )
                });
                adapt_operation(op)
            }
        };
        let item = paths
            .entry(route.path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[method.as_str()] = op;
        api_paths.push(route.path);
    }
    let mut spec = x["paths"][roost::openapi::PATH].clone();
    spec["get"]["security"] = json!([]);
    spec["get"]["description"] = json!(
        "This document: what roost serves, in OpenAPI 3.0. Public, like X's own at this path."
    );
    spec["get"]["responses"]["304"] = json!({
        "description": "Not modified: `If-None-Match` named the current `ETag`."
    });
    paths.insert(roost::openapi::PATH.to_owned(), spec);
    for (path, item) in overlay["paths"].as_object().unwrap() {
        if !api_paths.contains(&path.as_str()) {
            paths.insert(path.clone(), item.clone());
        }
    }

    // Every component the operations reach.
    let mut todo = Vec::new();
    refs(&Value::Object(paths.clone()), &mut todo);
    let mut components: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    while let Some((kind, name)) = todo.pop() {
        if components.get(&kind).is_some_and(|m| m.contains_key(&name)) {
            continue;
        }
        let c = match (kind.as_str(), overlay["components"][&kind].get(&name)) {
            (_, Some(c)) => c.clone(),
            ("parameters", None) => parameter_component(&name),
            (_, None) => {
                let c = x["components"][&kind][&name].clone();
                assert!(c.is_object(), "no {kind} {name} in X's document");
                c
            }
        };
        refs(&c, &mut todo);
        components.entry(kind).or_default().insert(name, c);
    }
    let mut schemes = Map::new();
    schemes.insert(
        "BearerToken".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "description": "The App's app-only Bearer Token (POST /oauth2/token)."
        }),
    );
    schemes.insert("OAuth2UserToken".into(), oauth2_scheme());
    for (k, v) in overlay["components"]["securitySchemes"]
        .as_object()
        .unwrap()
    {
        schemes.insert(k.clone(), v.clone());
    }
    let mut comps = Map::new();
    for kind in ["schemas", "parameters", "responses"] {
        let mut sorted: Vec<(String, Value)> = components
            .remove(kind)
            .unwrap_or_default()
            .into_iter()
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        comps.insert(kind.into(), Value::Object(sorted.into_iter().collect()));
    }
    comps.insert("securitySchemes".into(), Value::Object(schemes));
    assert!(
        components.is_empty(),
        "unexpected components {components:?}"
    );

    let used_tags: BTreeSet<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .flat_map(|op| op["tags"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let tags: Vec<Value> = x["tags"]
        .as_array()
        .unwrap()
        .iter()
        .chain(overlay["tags"].as_array().unwrap())
        .filter(|t| used_tags.contains(t["name"].as_str().unwrap()))
        .cloned()
        .collect();
    let mut info = overlay["info"].clone();
    info["version"] = json!(env!("CARGO_PKG_VERSION"));
    json!({
        "openapi": overlay["openapi"],
        "info": info,
        "servers": overlay["servers"],
        "tags": tags,
        "paths": paths,
        "components": comps,
    })
}

#[test]
fn x_2167_document_is_unmodified() {
    let hex = |s: &str| -> String {
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(hex(X_2167), X_2167_SHA256);
    assert_eq!(x2167()["info"]["version"], "2.167");
    assert_eq!(hex(OAS_30_SCHEMA), OAS_30_SCHEMA_SHA256);
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let want = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    let have = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    if have == want {
        return;
    }
    if std::env::var_os("ROOST_UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &want).unwrap();
        return;
    }
    panic!(
        "{COMMITTED} is not what the generator makes from X's documents, the overlay and the \
         route table; regenerate it with \
         `ROOST_UPDATE_OPENAPI=1 cargo test -p roost --test api openapi_roost`, review the \
         difference and commit it"
    );
}

/// The served document (over HTTP, no token).
async fn served(app: &TestApp) -> Value {
    let r = send(app, Method::GET, roost::openapi::PATH, None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

#[tokio::test]
async fn get_openapi_json_is_public_json_cacheable_and_names_this_server() {
    let app = spawn_app().await;
    let r = send(&app, Method::GET, "/2/openapi.json", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let etag = r.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    // Public: no rate-limit headers, no authentication asked for.
    assert!(r.header("x-rate-limit-limit").is_none());
    assert!(r.header("www-authenticate").is_none());
    assert_eq!(r.json["openapi"], "3.0.3");
    assert_eq!(r.json["servers"][0]["url"], app.base.as_str());
    let flow =
        &r.json["components"]["securitySchemes"]["OAuth2UserToken"]["flows"]["authorizationCode"];
    assert_eq!(
        flow["authorizationUrl"],
        format!("{}/i/oauth2/authorize", app.base)
    );
    assert_eq!(flow["tokenUrl"], format!("{}/2/oauth2/token", app.base));
    // A token, even a bad one, changes nothing: the document is the same for everyone.
    let with_token = send(&app, Method::GET, "/2/openapi.json", Some("nonsense"), None).await;
    assert_eq!(with_token.status, 200);
    assert_eq!(with_token.text, r.text);

    // Revalidation with the entity tag.
    let resp = app
        .http
        .get(app.url("/2/openapi.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()["etag"], etag.as_str());
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    assert!(resp.text().await.unwrap().is_empty());
    let resp = app
        .http
        .get(app.url("/2/openapi.json"))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_3_0() {
    let app = spawn_app().await;
    let doc = served(&app).await;
    let meta = parse(OAS_30_SCHEMA);
    let validator = jsonschema::draft4::new(&meta).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(20)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator is not vacuous: a document without `info`, or with a bad parameter, fails.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("info");
    assert!(!validator.is_valid(&broken));
    let mut broken = doc.clone();
    broken["paths"]["/2/users/me"]["get"]["parameters"][0] = json!({"name": "x", "in": "body"});
    assert!(!validator.is_valid(&broken));

    // What the meta-schema cannot say: every reference resolves, operation ids are unique, and
    // every `{name}` of a path template is a required path parameter of each of its operations.
    let mut names = Vec::new();
    refs(&doc, &mut names);
    for (kind, name) in &names {
        assert!(
            doc["components"][kind].get(name).is_some(),
            "#/components/{kind}/{name} does not resolve"
        );
    }
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            let mut declared = BTreeSet::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = match p["$ref"].as_str() {
                    Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap(),
                    None => p,
                };
                if p["in"] == "path" {
                    assert_eq!(p["required"], true, "{method} {path}: {p}");
                    declared.insert(p["name"].as_str().unwrap());
                }
            }
            assert_eq!(declared, templated, "{method} {path}");
        }
    }
}

/// A path with every `{param}` filled in with an id of the demo data.
fn concrete(template: &str) -> String {
    template
        .replace("{username}", "alice")
        .replace("{source_user_id}", ALICE)
        .replace("{target_user_id}", BOB)
        .replace("{id}", ALICE)
}

#[tokio::test]
async fn the_document_describes_exactly_the_routes_the_server_serves() {
    let app = spawn_demo_app().await;
    let doc = served(&app).await;
    let api: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| {
            p.starts_with("/2/") && !p.starts_with("/2/oauth2/") && *p != roost::openapi::PATH
        })
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|m| (p.clone(), m.to_ascii_uppercase()))
        })
        .collect();
    let routes: BTreeSet<(String, String)> = roost::api::routes()
        .into_iter()
        .map(|Route { path, verb }| (path.to_owned(), verb.as_str().to_owned()))
        .collect();
    assert_eq!(api, routes);

    // And the server agrees: each documented method is served on its path (an answer from the
    // handler, not the router's 404 or 405), every other method is 405.
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let token = app
        .tokens_for("alice", "alice-password", &scopes.join(" "))
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let paths: BTreeSet<&String> = api.iter().map(|(p, _)| p).collect();
    for template in paths {
        let path = concrete(template);
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let documented = api.contains(&(template.clone(), method.as_str().to_owned()));
            let body = (method == Method::POST).then_some(("application/json", "{}"));
            let r = send(&app, method.clone(), &path, Some(&token), body).await;
            if documented {
                assert!(
                    ![404, 405].contains(&r.status),
                    "{method} {path}: {} {}",
                    r.status,
                    r.text
                );
            } else {
                assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
            }
        }
    }
}
