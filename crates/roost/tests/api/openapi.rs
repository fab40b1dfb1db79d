//! roost's answers validated against X's own OpenAPI document (version 2.159, the one X serves
//! at /2/openapi.json and its SDK generator uses; shared/spec/openapi-x-v2.json, copied
//! unmodified to `openapi/openapi-x-v2.json` beside this file so the suite needs nothing from
//! outside the repository; its SHA-256 is checked below).
//!
//! Each request asks for every field and expansion the operation's parameters list, so every
//! member roost can render is rendered, and the 200 body is validated with a JSON Schema
//! validator against the schema of the operation's 200 response. Error bodies are validated
//! against `Problem` (with X's discriminator resolved to the specific problem type).
//!
//! OpenAPI 3.0 schema objects are close to JSON Schema draft 7 but not equal; the adaptations
//! (all in [`adapt`]) are:
//! - `discriminator` is an OpenAPI keyword a JSON Schema validator ignores. X's `Problem` uses it
//!   to say "a problem whose `type` is `.../resource-not-found` must also satisfy
//!   `ResourceNotFoundProblem`" (required `resource_id`, `parameter`, ...). Without it every
//!   partial error would only be checked for `type` and `title`. Each discriminated schema `S`
//!   becomes `S__base` (its own text minus `discriminator`), the mapped schemas' `allOf` refer
//!   to `S__base`, and `S` becomes `S__base` plus one `if {type: const} then {$ref mapped}` per
//!   mapping entry, which is the discriminator's meaning, without a reference cycle.
//! - `nullable: true` (absent from 2.159, present in other OpenAPI 3.0 documents) becomes a
//!   `"null"` alternative in `type`.
//! - A `pattern` beside an `enum` is dropped: the enum says exactly which strings are allowed,
//!   and 2.159's `ReplySettings*` pattern `^[A-Za-z]{1,12}$` contradicts its own enum, whose
//!   `mentionedUsers` has 14 letters (X sends it; 2.167 has no such pattern).
//! - `example`, `description`, `style`, ... are unknown keywords: ignored, as draft 7 wants.
//! - `format`: the validator checks the JSON Schema formats (`date-time`, `uri`); OpenAPI's own
//!   (`int32`, `int64`, `double`, `long`, `binary`, `byte`, and the document's typo `data-time`)
//!   are not JSON Schema formats and are ignored.
//! - Every schema is validated with only the `components.schemas` it reaches through `$ref`,
//!   so a validator compiles in milliseconds.
//!
//! The document's schemas allow members they do not declare (no `additionalProperties: false`),
//! so a misspelt member would pass; [`assert_known_members`] closes that gap for users, tweets
//! and Spaces: every member must be declared by the schema or named by the document's own
//! `*.fields` parameter.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use reqwest::Method;
use roost::config::EndpointLimit;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::follows::{ALICE, BOB, Reply, XDEV, demo, send, token};
use crate::helpers::*;

const DOCUMENT: &str = include_str!("openapi/openapi-x-v2.json");
/// shared/spec/x-api-v2.md: the SHA-256 of X's document as published.
const DOCUMENT_SHA256: &str = "71944b1b618fff12d8dc1554f6f3276d3725e256e3aff6a22678a9d1f7e60162";
const SCHEMAS: &str = "#/components/schemas/";

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(DOCUMENT).expect("the OpenAPI document is JSON"))
}

/// `components.schemas`, adapted for a JSON Schema validator (module docs).
fn schemas() -> &'static Map<String, Value> {
    static S: OnceLock<Map<String, Value>> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = document()["components"]["schemas"]
            .as_object()
            .unwrap()
            .clone();
        adapt(&mut s);
        s
    })
}

fn adapt(schemas: &mut Map<String, Value>) {
    for v in schemas.values_mut() {
        nullable_to_type(v);
        enum_over_pattern(v);
    }
    let discriminated: Vec<String> = schemas
        .iter()
        .filter(|(_, v)| v.get("discriminator").is_some())
        .map(|(k, _)| k.clone())
        .collect();
    for name in discriminated {
        let mut base = schemas[&name].clone();
        let disc = base
            .as_object_mut()
            .unwrap()
            .remove("discriminator")
            .unwrap();
        let prop = disc["propertyName"].as_str().unwrap();
        if prop.contains('/') {
            // `../event_type` (a streaming payload roost does not serve): not expressible.
            schemas.insert(name, base);
            continue;
        }
        let base_name = format!("{name}__base");
        let own_ref = format!("{SCHEMAS}{name}");
        let base_ref = format!("{SCHEMAS}{base_name}");
        let mut all_of = vec![json!({"$ref": base_ref})];
        for (value, target) in disc["mapping"].as_object().unwrap() {
            let target = target.as_str().unwrap();
            let target_name = target.strip_prefix(SCHEMAS).unwrap();
            if let Some(parts) = schemas
                .get_mut(target_name)
                .and_then(|t| t.get_mut("allOf"))
                .and_then(Value::as_array_mut)
            {
                for part in parts {
                    if part["$ref"] == own_ref.as_str() {
                        *part = json!({"$ref": base_ref});
                    }
                }
            }
            all_of.push(json!({
                "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                "then": {"$ref": target}
            }));
        }
        schemas.insert(base_name, base);
        schemas.insert(name, json!({"allOf": all_of}));
    }
}

fn nullable_to_type(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.remove("nullable") == Some(Value::Bool(true))
                && let Some(Value::String(t)) = m.get("type").cloned()
            {
                m.insert("type".into(), json!([t, "null"]));
            }
            m.values_mut().for_each(nullable_to_type);
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_type),
        _ => {}
    }
}

fn enum_over_pattern(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("enum") {
                m.remove("pattern");
            }
            m.values_mut().for_each(enum_over_pattern);
        }
        Value::Array(a) => a.iter_mut().for_each(enum_over_pattern),
        _ => {}
    }
}

/// The schemas `name` reaches through `$ref`, itself included.
fn reachable(name: &str) -> Map<String, Value> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref")
                    && let Some(n) = r.strip_prefix(SCHEMAS)
                {
                    out.push(n.to_owned());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let all = schemas();
    let mut found = Map::new();
    let mut todo = vec![name.to_owned()];
    while let Some(n) = todo.pop() {
        if found.contains_key(&n) {
            continue;
        }
        let s = all
            .get(&n)
            .unwrap_or_else(|| panic!("no schema {n}"))
            .clone();
        refs(&s, &mut todo);
        found.insert(n, s);
    }
    found
}

/// Every way `instance` breaks the component schema `name` (empty: it conforms).
fn violations(name: &str, instance: &Value) -> Vec<String> {
    let root = json!({
        "allOf": [{"$ref": format!("{SCHEMAS}{name}")}],
        "components": {"schemas": reachable(name)}
    });
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn assert_conforms(name: &str, instance: &Value, what: &str) {
    let v = violations(name, instance);
    assert!(
        v.is_empty(),
        "{what}: does not conform to {name}:\n  {}\nbody: {instance}",
        v.join("\n  ")
    );
}

/// The enum of a `*.fields` / `expansions` parameter component.
fn parameter_values(component: &str) -> Vec<String> {
    document()["components"]["parameters"][component]["schema"]["items"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum in {component}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Every member of an object rendered from `schema` is declared by it or is a value of the
/// document's `fields_parameter`.
fn assert_known_members(obj: &Value, schema: &str, fields_parameter: &str, what: &str) {
    let declared: BTreeSet<String> = document()["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .chain(parameter_values(fields_parameter))
        .collect();
    for k in obj.as_object().unwrap().keys() {
        assert!(
            declared.contains(k),
            "{what}: `{k}` is neither in {schema} nor in {fields_parameter}"
        );
    }
}

fn check_members(body: &Value, data_schema: &str, what: &str) {
    let (param, schema) = match data_schema {
        "User" => ("UserFieldsParameter", "User"),
        "Tweet" => ("TweetFieldsParameter", "Tweet"),
        "Space" => ("SpaceFieldsParameter", "Space"),
        // `{"deleted": true}`, `{"following": ...}`: the response schema alone says it all.
        _ => return,
    };
    let items: Vec<&Value> = match &body["data"] {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&body["data"]],
        _ => vec![],
    };
    for o in items {
        assert_known_members(o, schema, param, what);
    }
    for u in body["includes"]["users"].as_array().into_iter().flatten() {
        assert_known_members(u, "User", "UserFieldsParameter", what);
    }
    for t in body["includes"]["tweets"].as_array().into_iter().flatten() {
        assert_known_members(t, "Tweet", "TweetFieldsParameter", what);
    }
    for t in body["includes"]["topics"].as_array().into_iter().flatten() {
        assert_known_members(t, "Topic", "TopicFieldsParameter", what);
    }
}

/// The `$ref` name of an operation's response schema for `status` and `content_type`.
fn response_schema(method: &str, template: &str, status: &str, content_type: &str) -> String {
    let r = &document()["paths"][template][method]["responses"][status]["content"][content_type]["schema"]
        ["$ref"];
    r.as_str()
        .and_then(|r| r.strip_prefix(SCHEMAS))
        .unwrap_or_else(|| panic!("{method} {template}: no {status} {content_type} schema"))
        .to_owned()
}

/// The parameters of an operation that select fields or expansions, each with every value the
/// document allows: `user.fields=affiliation,confirmed_email,...&expansions=...`.
fn everything(method: &str, template: &str) -> String {
    let op = &document()["paths"][template][method];
    let mut out = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let Some(component) = p["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/parameters/"))
        else {
            continue;
        };
        let name = document()["components"]["parameters"][component]["name"]
            .as_str()
            .unwrap();
        out.push(format!("{name}={}", parameter_values(component).join(",")));
    }
    assert!(!out.is_empty(), "{method} {template} selects nothing");
    out.join("&")
}

struct Case {
    method: Method,
    /// The OpenAPI path template (`/2/users/{id}`).
    template: &'static str,
    /// The concrete path and query roost is asked.
    path: String,
    body: Option<Value>,
    /// The schema of `data` (items), for the member check; `-` when `data` is no object of
    /// X's (the answers of deletes, follows and unfollows).
    data: &'static str,
}

fn case(template: &'static str, path: impl Into<String>, data: &'static str) -> Case {
    Case {
        method: Method::GET,
        template,
        path: path.into(),
        body: None,
        data,
    }
}

/// Sends `c` and validates the answer against the document; returns it.
async fn check(app: &TestApp, token: Option<&str>, c: &Case) -> Reply {
    let body = c.body.as_ref().map(Value::to_string);
    let r = send(
        app,
        c.method.clone(),
        &c.path,
        token,
        body.as_deref().map(|b| ("application/json", b)),
    )
    .await;
    let method = c.method.as_str().to_ascii_lowercase();
    let what = format!("{} {} -> {}", c.method, c.path, r.status);
    if (200..300).contains(&r.status) {
        let schema = response_schema(
            &method,
            c.template,
            &r.status.to_string(),
            "application/json",
        );
        assert_conforms(&schema, &r.json, &what);
        check_members(&r.json, c.data, &what);
    } else {
        assert_error_conforms(&r, &method, c.template, &what);
    }
    r
}

/// Error answers: the document gives every operation a `default` response of `Error` for
/// `application/json` and `Problem` for `application/problem+json`. X's 400s are problem
/// objects too but come as `application/json` (captured traffic, x-api-v2.md §E.2); the
/// document's `Error` (`{code, message}`) is the v1.1 shape no v2 answer has, so every error
/// body is validated against `Problem`, the schema of the shape it has.
fn assert_error_conforms(r: &Reply, method: &str, template: &str, what: &str) {
    let ct = r.header("content-type").unwrap_or_default();
    let expected_ct = if r.status == 400 {
        "application/json; charset=utf-8"
    } else {
        "application/problem+json"
    };
    assert_eq!(ct, expected_ct, "{what}");
    assert_eq!(
        response_schema(method, template, "default", "application/problem+json"),
        "Problem"
    );
    assert_conforms("Problem", &r.json, what);
}

fn demo_tweets() -> Vec<Value> {
    demo()["tweets"].as_array().unwrap().clone()
}

#[test]
fn the_document_is_xs_version_2_159_unmodified() {
    let digest = Sha256::digest(DOCUMENT.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, DOCUMENT_SHA256);
    assert_eq!(document()["openapi"], "3.0.0");
    assert_eq!(document()["info"]["version"], "2.159");
}

#[test]
fn the_validator_catches_wrong_types_missing_members_and_bad_problems() {
    let good = json!({
        "data": {"id": "2244994945", "name": "X Developers", "username": "XDevelopers",
                 "created_at": "2013-12-14T04:35:55.000Z",
                 "public_metrics": {"followers_count": 1, "following_count": 2, "tweet_count": 3, "listed_count": 4}},
        "errors": [{"value": "1", "detail": "Could not find user with ids: [1].", "title": "Not Found Error",
                    "resource_type": "user", "parameter": "ids", "resource_id": "1",
                    "type": "https://api.twitter.com/2/problems/resource-not-found"}]
    });
    assert_conforms("Get2UsersIdResponse", &good, "a good body");
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<(&str, Value)> = vec![
        (
            "id as a number",
            broken(&|b| b["data"]["id"] = json!(2244994945u64)),
        ),
        (
            "id not digits",
            broken(&|b| b["data"]["id"] = json!("xdev")),
        ),
        (
            "username missing",
            broken(&|b| {
                b["data"].as_object_mut().unwrap().remove("username");
            }),
        ),
        (
            "a count as a string",
            broken(&|b| b["data"]["public_metrics"]["followers_count"] = json!("1")),
        ),
        (
            "a required count missing",
            broken(&|b| {
                b["data"]["public_metrics"]
                    .as_object_mut()
                    .unwrap()
                    .remove("listed_count");
            }),
        ),
        (
            "created_at not a date-time",
            broken(&|b| b["data"]["created_at"] = json!("yesterday")),
        ),
        (
            "data as an array",
            broken(&|b| b["data"] = json!([b["data"].clone()])),
        ),
        ("empty errors", broken(&|b| b["errors"] = json!([]))),
        (
            "a problem without title",
            broken(&|b| {
                b["errors"][0].as_object_mut().unwrap().remove("title");
            }),
        ),
        // Only caught through the discriminator adaptation: `ResourceNotFoundProblem`
        // requires `resource_id`, `Problem` alone does not.
        (
            "a not-found problem without resource_id",
            broken(&|b| {
                b["errors"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("resource_id");
            }),
        ),
        (
            "an unknown resource_type",
            broken(&|b| b["errors"][0]["resource_type"] = json!("planet")),
        ),
    ];
    for (what, body) in &cases {
        assert!(
            !violations("Get2UsersIdResponse", body).is_empty(),
            "{what} was not caught"
        );
    }
    // Spaces: the state enum and the id pattern.
    let space = json!({"data": {"id": "1BaH3OP1jPDs2", "state": "live"}});
    assert_conforms("Get2SpacesIdResponse", &space, "a space");
    for bad in [
        json!({"data": {"id": "1BaH3OP1jPDs2", "state": "over"}}),
        json!({"data": {"id": "1BaH3-P1jPDs2", "state": "live"}}),
        json!({"data": {"id": "1BaH3OP1jPDs2"}}),
        json!({"data": {"id": "1BaH3OP1jPDs2", "state": "live", "participant_count": "42"}}),
    ] {
        assert!(
            !violations("Get2SpacesIdResponse", &bad).is_empty(),
            "{bad}"
        );
    }
    // Every reply setting of the enum, `mentionedUsers` included (module docs); nothing else.
    let tweet = |rs: &str| json!({"data": {"id": "1", "text": "t", "edit_history_tweet_ids": ["1"], "reply_settings": rs}});
    for rs in [
        "everyone",
        "following",
        "mentionedUsers",
        "subscribers",
        "verified",
    ] {
        assert_conforms("Get2TweetsIdResponse", &tweet(rs), rs);
    }
    assert!(!violations("Get2TweetsIdResponse", &tweet("nobody")).is_empty());
    // An authorization problem needs `section`.
    let mut p = json!({"value": "1", "detail": "d", "title": "Authorization Error", "resource_type": "user",
                       "parameter": "id", "resource_id": "1", "section": "data",
                       "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"});
    assert_conforms("Problem", &p, "authorization problem");
    p.as_object_mut().unwrap().remove("section");
    assert!(!violations("Problem", &p).is_empty());
    // The member check catches what the open schemas let through.
    let result = std::panic::catch_unwind(|| {
        assert_known_members(
            &json!({"id": "1", "name": "n", "username": "u", "followers": 3}),
            "User",
            "UserFieldsParameter",
            "misspelt member",
        )
    });
    assert!(result.is_err(), "an undeclared member must fail");
}

/// Every `(path into the body)` in `members` is present in at least one of `bodies`.
fn assert_shown(bodies: &[Value], members: &[(&str, &str)]) {
    for (what, pointer) in members {
        let found = bodies.iter().any(|b| {
            let mut stack = vec![b];
            while let Some(v) = stack.pop() {
                if v.pointer(pointer).is_some() {
                    return true;
                }
                match v {
                    Value::Array(a) => stack.extend(a),
                    Value::Object(m) => stack.extend(m.values()),
                    _ => {}
                }
            }
            false
        });
        assert!(found, "no answer showed {what} ({pointer})");
    }
}

#[tokio::test]
async fn every_get_endpoint_conforms_with_every_field_and_expansion() {
    let app = spawn_demo_app().await;
    let t = token(
        &app,
        "alice",
        "tweet.read users.read users.email follows.read space.read",
    )
    .await;
    let app_only = app.app_token().await;
    let tweets = demo_tweets();
    let users_where = |f: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        demo()["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| f(u))
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let protected = users_where(&|u| u["protected"] == true);
    let withheld_users = users_where(&|u| u.get("withheld").is_some());
    let withheld_user = withheld_users
        .first()
        .expect("a withheld demo user")
        .clone();
    let id_of = |t: &Value| t["id"].as_str().unwrap().to_owned();
    // The demo's unusual shapes first (long posts, withheld posts and posts of withheld
    // accounts, a quote without words, possibly sensitive posts, every reply setting), then
    // replies, quotes and retweets, then protected authors' tweets and an unknown id.
    let author = |t: &Value| t["author_id"].as_str().unwrap().to_owned();
    let mut sample: Vec<String> = tweets
        .iter()
        .filter(|t| {
            t["text"].as_str().unwrap().chars().count() > 280
                || t.get("withheld").is_some()
                || withheld_users.contains(&author(t))
                || t["text"] == ""
                || t["possibly_sensitive"] == true
                || t["reply_settings"] != "everyone"
        })
        .map(id_of)
        .collect();
    assert!(sample.len() < 40, "{}", sample.len());
    for t in tweets
        .iter()
        .filter(|t| t.get("referenced_tweets").is_some())
    {
        if sample.len() == 97 {
            break;
        }
        if !sample.contains(&id_of(t)) {
            sample.push(id_of(t));
        }
    }
    sample.extend(
        tweets
            .iter()
            .filter(|t| protected.contains(&author(t)))
            .take(2)
            .map(id_of),
    );
    sample.push("1000000000000000000".into());
    let one_tweet = sample[0].clone();
    let heidi = "1353056366493310980";
    let all_spaces: Vec<String> = demo()["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();

    let q = |m: &str, tpl: &str| everything(m, tpl);
    let cases = vec![
        case(
            "/2/users/me",
            format!("/2/users/me?{}", q("get", "/2/users/me")),
            "User",
        ),
        case(
            "/2/users",
            format!(
                "/2/users?ids={ALICE},{BOB},{XDEV},{heidi},42,{withheld_user}&{}",
                q("get", "/2/users")
            ),
            "User",
        ),
        case(
            "/2/users/{id}",
            format!("/2/users/{XDEV}?{}", q("get", "/2/users/{id}")),
            "User",
        ),
        case(
            "/2/users/{id}",
            format!("/2/users/42?{}", q("get", "/2/users/{id}")),
            "User",
        ),
        case(
            "/2/users/by",
            format!(
                "/2/users/by?usernames=alice,CoffeeLabDemo,nobody_here&{}",
                q("get", "/2/users/by")
            ),
            "User",
        ),
        case(
            "/2/users/by/username/{username}",
            format!(
                "/2/users/by/username/XDevelopers?{}",
                q("get", "/2/users/by/username/{username}")
            ),
            "User",
        ),
        case(
            "/2/tweets",
            format!(
                "/2/tweets?ids={}&{}",
                sample.join(","),
                q("get", "/2/tweets")
            ),
            "Tweet",
        ),
        case(
            "/2/tweets/{id}",
            format!("/2/tweets/{one_tweet}?{}", q("get", "/2/tweets/{id}")),
            "Tweet",
        ),
        case(
            "/2/users/{id}/tweets",
            format!(
                "/2/users/{ALICE}/tweets?max_results=5&{}",
                q("get", "/2/users/{id}/tweets")
            ),
            "Tweet",
        ),
        case(
            "/2/users/{id}/tweets",
            format!(
                "/2/users/{XDEV}/tweets?max_results=100&exclude=replies&{}",
                q("get", "/2/users/{id}/tweets")
            ),
            "Tweet",
        ),
        case(
            "/2/users/{id}/following",
            format!(
                "/2/users/{ALICE}/following?max_results=5&{}",
                q("get", "/2/users/{id}/following")
            ),
            "User",
        ),
        case(
            "/2/users/{id}/followers",
            format!(
                "/2/users/{ALICE}/followers?max_results=1000&{}",
                q("get", "/2/users/{id}/followers")
            ),
            "User",
        ),
        case(
            "/2/users/{id}/followers",
            format!("/2/users/{heidi}/followers"),
            "User",
        ),
        case(
            "/2/spaces/{id}",
            format!("/2/spaces/1BaH3OP1jPDs2?{}", q("get", "/2/spaces/{id}")),
            "Space",
        ),
        case(
            "/2/spaces",
            format!(
                "/2/spaces?ids={},1zzzzzzzzzzzz&{}",
                all_spaces.join(","),
                q("get", "/2/spaces")
            ),
            "Space",
        ),
        case(
            "/2/spaces/by/creator_ids",
            format!(
                "/2/spaces/by/creator_ids?user_ids={XDEV},219834771,1173491706888880131&{}",
                q("get", "/2/spaces/by/creator_ids")
            ),
            "Space",
        ),
        case(
            "/2/spaces/search",
            format!(
                "/2/spaces/search?query=a&state=all&{}",
                q("get", "/2/spaces/search")
            ),
            "Space",
        ),
        case(
            "/2/spaces/search",
            "/2/spaces/search?query=nothing%20like%20this",
            "Space",
        ),
    ];
    let mut bodies = Vec::new();
    for c in &cases {
        let r = check(&app, Some(&t), c).await;
        assert_eq!(r.status, 200, "{}: {}", c.path, r.text);
        assert!(
            r.json.get("data").is_some()
                || r.json.get("errors").is_some()
                || c.path.contains("nothing"),
            "{}: an empty answer proves little: {}",
            c.path,
            r.text
        );
        bodies.push(r.json);
    }
    // The same with an app-only token where X allows it (no connection_status, protected
    // accounts closed).
    for c in cases.iter().filter(|c| c.template != "/2/users/me") {
        app.clock.advance_ms(1000); // creator_ids: one a second
        let r = check(&app, Some(&app_only), c).await;
        assert_eq!(r.status, 200, "app-only {}: {}", c.path, r.text);
        bodies.push(r.json);
    }
    // The shapes of this document roost renders were all validated above.
    assert_shown(
        &bodies,
        &[
            ("includes.topics", "/includes/topics/0/name"),
            ("Topic.description", "/includes/topics/0/description"),
            ("confirmed_email", "/confirmed_email"),
            ("verified_followers_count", "/verified_followers_count"),
            ("subscription", "/subscription/subscribes_to_you"),
            ("User.withheld", "/withheld/scope"),
            ("Tweet.withheld", "/withheld/copyright"),
            ("Tweet.scopes", "/scopes/followers"),
            ("note_tweet", "/note_tweet/text"),
            ("note_tweet.entities", "/note_tweet/entities/mentions"),
            ("non_public_metrics", "/non_public_metrics/impression_count"),
            ("organic_metrics", "/organic_metrics/retweet_count"),
            ("a Field Authorization Error", "/field"),
        ],
    );

    // `GET /2/users/:id/following/spaces` is in no OpenAPI document (scopes.md §2); roost gives
    // it the shape of the other Spaces lists, so it is held to that schema.
    let r = check(
        &app,
        Some(&t),
        &case(
            "/2/spaces/by/creator_ids",
            format!(
                "/2/users/{BOB}/following/spaces?{}",
                q("get", "/2/spaces/by/creator_ids")
            ),
            "Space",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["includes"]["users"].is_array());
}

#[tokio::test]
async fn writes_conform() {
    let app = spawn_demo_app().await;
    let t = token(
        &app,
        "alice",
        "tweet.read tweet.write users.read follows.read follows.write",
    )
    .await;
    let mut create = case("/2/tweets", "/2/tweets", "Tweet");
    create.method = Method::POST;
    create.body = Some(json!({"text": "conformance 🦀 @bob #rust https://example.com"}));
    let r = check(&app, Some(&t), &create).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["data"]["id"].as_str().unwrap().to_owned();

    let mut reply = case("/2/tweets", "/2/tweets", "Tweet");
    reply.method = Method::POST;
    reply.body = Some(json!({"text": "a reply", "reply": {"in_reply_to_tweet_id": id}}));
    let r = check(&app, Some(&t), &reply).await;
    assert_eq!(r.status, 201, "{}", r.text);

    let mut del = case("/2/tweets/{id}", format!("/2/tweets/{id}"), "-");
    del.method = Method::DELETE;
    let r = check(&app, Some(&t), &del).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A quote without text (TweetCreateRequest requires none).
    let mut quote = case("/2/tweets", "/2/tweets", "Tweet");
    quote.method = Method::POST;
    quote.body = Some(json!({"quote_tweet_id": demo_tweets()[0]["id"]}));
    let r = check(&app, Some(&t), &quote).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["data"]["text"], "");

    for target in ["1612377570541387776", "1353056366493310980"] {
        let mut follow = case(
            "/2/users/{id}/following",
            format!("/2/users/{ALICE}/following"),
            "-",
        );
        follow.method = Method::POST;
        follow.body = Some(json!({"target_user_id": target}));
        let r = check(&app, Some(&t), &follow).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let mut unfollow = case(
        "/2/users/{source_user_id}/following/{target_user_id}",
        format!("/2/users/{ALICE}/following/1612377570541387776"),
        "-",
    );
    unfollow.method = Method::DELETE;
    let r = check(&app, Some(&t), &unfollow).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Sends `c`, checks its status and validates its body; returns the status.
async fn expect(app: &TestApp, token: Option<&str>, c: Case, status: u16) -> u16 {
    let r = check(app, token, &c).await;
    assert_eq!(r.status, status, "{}: {}", c.path, r.text);
    status
}

#[tokio::test]
async fn error_bodies_conform() {
    let app = spawn_demo_app_with(|c| {
        c.rate_limits.endpoints.insert(
            "GET /2/spaces/by/creator_ids".into(),
            EndpointLimit::new(Some(1), Some(1)),
        );
    })
    .await;
    let t = token(&app, "alice", "tweet.read users.read follows.read").await;
    let app_only = app.app_token().await;
    let mut seen = Vec::new();
    // 400: a bad id, several problems at once, a range, a word outside its set, a bad body.
    for (tpl, path) in [
        ("/2/users/{id}", "/2/users/abc".to_owned()),
        (
            "/2/users",
            "/2/users?ids=1,x&user.fields=colour&foo=1".to_owned(),
        ),
        (
            "/2/users/{id}/following",
            format!("/2/users/{ALICE}/following?max_results=1001"),
        ),
        (
            "/2/spaces/search",
            "/2/spaces/search?query=a&state=ended".to_owned(),
        ),
    ] {
        seen.push(expect(&app, Some(&app_only), case(tpl, path, "User"), 400).await);
    }
    let mut bad_body = case(
        "/2/users/{id}/following",
        format!("/2/users/{ALICE}/following"),
        "User",
    );
    bad_body.method = Method::POST;
    bad_body.body = Some(json!({"target": XDEV}));
    let w = token(&app, "alice", "tweet.read users.read follows.write").await;
    seen.push(expect(&app, Some(&w), bad_body, 400).await);
    // 401: none, a made-up token.
    seen.push(expect(&app, None, case("/2/users/me", "/2/users/me", "User"), 401).await);
    seen.push(
        expect(
            &app,
            Some("AAAAAAAAAAAAAAAAAAAAAnotreal"),
            case("/2/tweets/{id}", "/2/tweets/1", "Tweet"),
            401,
        )
        .await,
    );
    // 403: a missing scope, app-only on a user-context endpoint, another user's follows.
    seen.push(
        expect(
            &app,
            Some(&t),
            case("/2/spaces/{id}", "/2/spaces/1BaH3OP1jPDs2", "Space"),
            403,
        )
        .await,
    );
    seen.push(
        expect(
            &app,
            Some(&app_only),
            case("/2/users/me", "/2/users/me", "User"),
            403,
        )
        .await,
    );
    let mut foreign = case(
        "/2/users/{id}/following",
        format!("/2/users/{BOB}/following"),
        "User",
    );
    foreign.method = Method::POST;
    foreign.body = Some(json!({"target_user_id": XDEV}));
    seen.push(expect(&app, Some(&w), foreign, 403).await);
    // 429.
    let by_creator = || {
        case(
            "/2/spaces/by/creator_ids",
            format!("/2/spaces/by/creator_ids?user_ids={XDEV}"),
            "Space",
        )
    };
    seen.push(expect(&app, Some(&app_only), by_creator(), 200).await);
    seen.push(expect(&app, Some(&app_only), by_creator(), 429).await);
    for s in [400, 401, 403, 429] {
        assert!(seen.contains(&s), "{s} was exercised");
    }
}
