//! Spaces (x-api-v2.md §4): lookup by id and ids, by creators, search by title and state, and
//! the Spaces of the accounts a user follows; fields, expansions, partial errors.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::follows::{
    ALICE, BOB, Reply, assert_400, demo, get, ids, invalid_param, not_found, post_json, token,
};
use crate::helpers::*;

pub(crate) const SPACE_READ: &str = "space.read tweet.read users.read";

/// Live, created by carol_codes, hosted by carol and victor_rs.
const RUST_LIVE: &str = "1BaH3OP1jPDs2";
/// Scheduled, created by trent_oauth.
const OAUTH_SCHEDULED: &str = "19FNqbDyPMv0U";
/// Ended, created by XDevelopers.
const LAUNCH_ENDED: &str = "1bz32lfnSjm4L";

const ALL_SPACE_FIELDS: &str = "created_at,creator_id,ended_at,host_ids,id,invited_user_ids,is_ticketed,lang,participant_count,scheduled_start,speaker_ids,started_at,state,subscriber_count,title,topic_ids,updated_at";
const ALL_SPACE_EXPANSIONS: &str = "creator_id,host_ids,invited_user_ids,speaker_ids";

async fn space_get(app: &TestApp, t: &str, path: &str) -> Reply {
    let r = get(app, path, t).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r
}

fn demo_spaces() -> HashMap<String, Value> {
    demo()["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

/// A demo Space as the API renders it with every field: the import's members with the times
/// moved by the demo loader's `shift_ms`, `updated_at` falling back to `created_at` (roost's
/// choice: the demo records no updates).
fn rendered(s: &Value, shift_ms: i64) -> Value {
    let mut m = s.as_object().unwrap().clone();
    m.entry("updated_at")
        .or_insert_with(|| s["created_at"].clone());
    for k in [
        "created_at",
        "updated_at",
        "started_at",
        "ended_at",
        "scheduled_start",
    ] {
        if let Some(v) = m.get_mut(k) {
            *v = json!(shifted(v.as_str().unwrap(), shift_ms));
        }
    }
    Value::Object(m)
}

/// An RFC 3339 time of the demo file as X prints it after moving it by `shift_ms`.
fn shifted(t: &str, shift_ms: i64) -> String {
    let ms = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
        * 1000
        + shift_ms;
    roost::api::render::timestamp(ms)
}

#[tokio::test]
async fn by_id_default_fields_are_id_and_state() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    for (id, state) in [
        (RUST_LIVE, "live"),
        (OAUTH_SCHEDULED, "scheduled"),
        (LAUNCH_ENDED, "ended"),
    ] {
        let r = space_get(&app, &t, &format!("/2/spaces/{id}")).await;
        assert_eq!(r.json, json!({"data": {"id": id, "state": state}}));
    }
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces?ids={RUST_LIVE},{LAUNCH_ENDED}"),
    )
    .await;
    assert_eq!(
        r.json,
        json!({"data": [{"id": RUST_LIVE, "state": "live"}, {"id": LAUNCH_ENDED, "state": "ended"}]})
    );
    // X's TypeScript SDK sends a JSON content type on body-less GETs (quirk 12).
    let r = crate::follows::send(
        &app,
        reqwest::Method::GET,
        &format!("/2/spaces/{RUST_LIVE}"),
        Some(&t),
        Some(("application/json", "")),
    )
    .await;
    assert_eq!(r.json, json!({"data": {"id": RUST_LIVE, "state": "live"}}));
    // Percent-encoded commas (quirk 14).
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces?ids={RUST_LIVE}%2C{LAUNCH_ENDED}"),
    )
    .await;
    assert_eq!(ids(&r.json), vec![RUST_LIVE, LAUNCH_ENDED]);
}

#[tokio::test]
async fn every_space_field() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let spaces = demo_spaces();
    for id in [RUST_LIVE, OAUTH_SCHEDULED, LAUNCH_ENDED] {
        let r = space_get(
            &app,
            &t,
            &format!("/2/spaces/{id}?space.fields={ALL_SPACE_FIELDS}"),
        )
        .await;
        assert_eq!(
            r.json,
            json!({"data": rendered(&spaces[id], app.demo_shift_ms)}),
            "{id}"
        );
    }
    // Every Space, through the ids form: the same objects, in the order asked.
    let mut all: Vec<&String> = spaces.keys().collect();
    all.sort();
    let list = all.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces?ids={list}&space.fields={ALL_SPACE_FIELDS}"),
    )
    .await;
    let expected: Vec<Value> = all
        .iter()
        .map(|id| rendered(&spaces[*id], app.demo_shift_ms))
        .collect();
    assert_eq!(r.json, json!({"data": expected}));
    // One field alone.
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces/{RUST_LIVE}?space.fields=title"),
    )
    .await;
    assert_eq!(
        r.json,
        json!({"data": {"id": RUST_LIVE, "state": "live", "title": "Rust API office hours 🦀"}})
    );
}

#[tokio::test]
async fn expansions_fill_includes_users_once_each() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let spaces = demo_spaces();
    let people = |s: &Value| -> Vec<String> {
        let mut v = vec![s["creator_id"].as_str().unwrap().to_owned()];
        for k in ["host_ids", "speaker_ids", "invited_user_ids"] {
            v.extend(
                s[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_owned()),
            );
        }
        v
    };
    let r = space_get(
        &app,
        &t,
        &format!(
            "/2/spaces/{RUST_LIVE}?expansions={ALL_SPACE_EXPANSIONS}&user.fields=created_at,protected"
        ),
    )
    .await;
    // The Space itself keeps its default fields; the people go to includes.users.
    assert_eq!(r.json["data"], json!({"id": RUST_LIVE, "state": "live"}));
    let users = r.json["includes"]["users"].as_array().unwrap();
    let got: Vec<String> = users
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = people(&spaces[RUST_LIVE]).into_iter().collect();
    assert_eq!(got.len(), want.len(), "deduplicated: {got:?}");
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(want.len(), 6, "carol is creator and host");
    for u in users {
        let keys: BTreeSet<&str> = u.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "name", "username", "created_at", "protected"]),
            "{u}"
        );
    }

    // Each expansion alone brings exactly its users.
    for (exp, field) in [
        ("creator_id", "creator_id"),
        ("host_ids", "host_ids"),
        ("speaker_ids", "speaker_ids"),
        ("invited_user_ids", "invited_user_ids"),
    ] {
        let r = space_get(
            &app,
            &t,
            &format!("/2/spaces/{OAUTH_SCHEDULED}?expansions={exp}"),
        )
        .await;
        let s = &spaces[OAUTH_SCHEDULED];
        let want: Vec<String> = match &s[field] {
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect(),
            _ => unreachable!(),
        };
        let got: Vec<String> = r.json["includes"]["users"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|u| u["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, want, "{exp}");
    }

    // Across several Spaces, a user appears once.
    let r = space_get(
        &app,
        &t,
        "/2/spaces?ids=1BaH3OP1jPDs2,1Sofujwhmd3tu,19FNqbDyPMv0U&expansions=speaker_ids",
    )
    .await;
    let got: Vec<String> = r.json["includes"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), unique.len(), "{got:?}");
    assert!(unique.contains(ALICE), "alice speaks in all three");
    let want: BTreeSet<String> = ["1BaH3OP1jPDs2", "1Sofujwhmd3tu", "19FNqbDyPMv0U"]
        .iter()
        .flat_map(|id| {
            spaces[*id]["speaker_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(unique, want);
}

#[tokio::test]
async fn unknown_spaces_are_partial_not_found_errors() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let r = space_get(&app, &t, "/2/spaces/1zzzzzzzzzzzz").await;
    assert_eq!(
        r.json,
        json!({"errors": [not_found("space", "id", "1zzzzzzzzzzzz")]})
    );
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces?ids=1zzzzzzzzzzzz,{RUST_LIVE},1yyy"),
    )
    .await;
    assert_eq!(
        r.json,
        json!({
            "data": [{"id": RUST_LIVE, "state": "live"}],
            "errors": [not_found("space", "ids", "1zzzzzzzzzzzz"), not_found("space", "ids", "1yyy")]
        })
    );
    let r = space_get(&app, &t, "/2/spaces?ids=1yyy").await;
    assert_eq!(
        r.json,
        json!({"errors": [not_found("space", "ids", "1yyy")]})
    );
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    for bad in ["1BaH3OP1jPDs2x", "1BaH3-P1jPDs2", "%E2%9C%93"] {
        let r = get(&app, &format!("/2/spaces/{bad}"), &t).await;
        let shown = bad.replace("%E2%9C%93", "✓");
        assert_400(
            &r,
            &invalid_param(
                "id",
                &shown,
                &format!("The `id` query parameter value [{shown}] is not valid"),
            ),
            bad,
        );
    }
    let r = get(&app, "/2/spaces?ids=1BaH3OP1jPDs2,no_pe", &t).await;
    assert_400(
        &r,
        &invalid_param(
            "ids",
            "no_pe",
            "The `ids` query parameter value [no_pe] is not valid",
        ),
        "ids",
    );
    let r = get(&app, "/2/spaces", &t).await;
    assert_400(
        &r,
        &json!({
            "errors": [{"parameters": {"ids": []}, "message": "The ids query parameter can not be empty"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"
        }),
        "no ids",
    );
    let many = vec!["1BaH3OP1jPDs2"; 101].join(",");
    let r = get(&app, &format!("/2/spaces?ids={many}"), &t).await;
    assert_400(
        &r,
        &invalid_param(
            "ids",
            &many,
            "The number of values in the `ids` query parameter list [101] is not between 1 and 100",
        ),
        "101 ids",
    );
    let r = get(
        &app,
        &format!("/2/spaces/{RUST_LIVE}?space.fields=title,colour"),
        &t,
    )
    .await;
    assert_400(
        &r,
        // X puts the parameter's whole value in `parameters` (helper e's finding).
        &invalid_param(
            "space.fields",
            "title,colour",
            &format!(
                "The `space.fields` query parameter value [colour] is not one of [{ALL_SPACE_FIELDS}]"
            ),
        ),
        "space.fields",
    );
    let r = get(
        &app,
        &format!("/2/spaces/{RUST_LIVE}?expansions=author_id"),
        &t,
    )
    .await;
    assert_400(
        &r,
        &invalid_param(
            "expansions",
            "author_id",
            "The `expansions` query parameter value [author_id] is not one of [creator_id,host_ids,invited_user_ids,speaker_ids,topic_ids]",
        ),
        "expansions",
    );
    let r = get(
        &app,
        &format!("/2/spaces/{RUST_LIVE}?tweet.fields=lang"),
        &t,
    )
    .await;
    assert_400(
        &r,
        &invalid_param(
            "tweet.fields",
            "lang",
            "The query parameter [tweet.fields] is not one of [id,expansions,space.fields,topic.fields,user.fields]",
        ),
        "foreign parameter",
    );
    // topic.fields without the topic_ids expansion selects nothing to show.
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces/{RUST_LIVE}?topic.fields=name,description"),
    )
    .await;
    assert_eq!(r.json, json!({"data": {"id": RUST_LIVE, "state": "live"}}));
    // The path id is checked like every path parameter: repeated in the query, it is X's
    // duplicate-parameter 400 (not silently ignored).
    let r = get(&app, &format!("/2/spaces/{RUST_LIVE}?id=zzz"), &t).await;
    assert_400(
        &r,
        &json!({
            "errors": [{"parameters": {"id": [RUST_LIVE, "zzz"]},
                        "message": "Duplicate parameters are not allowed: the `id` query parameter"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"
        }),
        "duplicate id",
    );
    let r = get(&app, "/2/spaces/not-an-id?id=zzz", &t).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["errors"].as_array().unwrap().len(), 2, "{}", r.text);
}

/// `post.fields` (OpenAPI 2.167's name for `tweet.fields`) on an endpoint that takes no
/// `tweet.fields` is an unknown parameter under the name the client sent, not under the name
/// roost reads it as elsewhere.
#[tokio::test]
async fn an_alias_the_endpoint_does_not_take_is_unknown_under_the_name_sent() {
    use crate::users::support::{invalid_request, problem};
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let takes = "[id,expansions,space.fields,topic.fields,user.fields]";
    let r = get(&app, &format!("/2/spaces/{RUST_LIVE}?post.fields=id"), &t).await;
    assert_400(
        &r,
        &invalid_param(
            "post.fields",
            "id",
            &format!("The query parameter [post.fields] is not one of {takes}"),
        ),
        "post.fields on a Space",
    );
    // Twice: one unknown parameter with both values.
    let r = get(
        &app,
        &format!("/2/spaces/{RUST_LIVE}?post.fields=id&post.fields=text"),
        &t,
    )
    .await;
    assert_400(
        &r,
        &invalid_request(json!([problem(
            "post.fields",
            &["id", "text"],
            &format!("The query parameter [post.fields] is not one of {takes}"),
        )])),
        "post.fields twice on a Space",
    );
    // With `tweet.fields`: each is unknown here, each under its own name.
    let r = get(
        &app,
        &format!("/2/spaces/{RUST_LIVE}?tweet.fields=lang&post.fields=id"),
        &t,
    )
    .await;
    assert_400(
        &r,
        &invalid_request(json!([
            problem(
                "post.fields",
                &["id"],
                &format!("The query parameter [post.fields] is not one of {takes}"),
            ),
            problem(
                "tweet.fields",
                &["lang"],
                &format!("The query parameter [tweet.fields] is not one of {takes}"),
            ),
        ])),
        "post.fields and tweet.fields on a Space",
    );
    // Where the endpoint takes `tweet.fields`, the alias is that parameter: both names at once
    // are one parameter given twice, reported under the endpoint's name; the alias alone twice
    // is reported under the alias.
    let r = get(
        &app,
        &format!("/2/users/{ALICE}?tweet.fields=lang&post.fields=id"),
        &t,
    )
    .await;
    assert_400(
        &r,
        &invalid_request(json!([problem(
            "tweet.fields",
            &["lang", "id"],
            "Duplicate parameters are not allowed: the `tweet.fields` query parameter",
        )])),
        "tweet.fields and post.fields on a user",
    );
    let r = get(
        &app,
        &format!("/2/users/{ALICE}?post.fields=lang&post.fields=id"),
        &t,
    )
    .await;
    assert_400(
        &r,
        &invalid_request(json!([problem(
            "post.fields",
            &["lang", "id"],
            "Duplicate parameters are not allowed: the `post.fields` query parameter",
        )])),
        "post.fields twice on a user",
    );
}

/// `expansions=topic_ids` fills `includes.topics` (OpenAPI `Topic`: `id` and `name` by default,
/// `description` with `topic.fields`), once per topic, from roost's catalogue.
#[tokio::test]
async fn topic_ids_expand_into_includes_topics() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let spaces = demo_spaces();
    let topic_ids = |id: &str| -> Vec<String> {
        spaces[id]["topic_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    };
    let catalogue = |id: &str| {
        roost::content::topics::CATALOGUE
            .iter()
            .find(|t| t.0 == id)
            .copied()
            .unwrap()
    };
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces/{RUST_LIVE}?space.fields=topic_ids&expansions=topic_ids"),
    )
    .await;
    let ids = topic_ids(RUST_LIVE);
    assert!(!ids.is_empty());
    let topics: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "name": catalogue(id).1}))
        .collect();
    assert_eq!(
        r.json,
        json!({
            "data": {"id": RUST_LIVE, "state": "live", "topic_ids": ids},
            "includes": {"topics": topics}
        })
    );
    // Every Space with descriptions: a topic several Spaces share is listed once, in the
    // order first met.
    let mut all: Vec<&String> = spaces.keys().collect();
    all.sort();
    let list = all.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let r = space_get(
        &app,
        &t,
        &format!(
            "/2/spaces?ids={list}&expansions=topic_ids,creator_id&topic.fields=description,id,name"
        ),
    )
    .await;
    let mut want: Vec<String> = Vec::new();
    let mut total = 0;
    for id in &all {
        for topic in topic_ids(id) {
            total += 1;
            if !want.contains(&topic) {
                want.push(topic);
            }
        }
    }
    assert!(want.len() < total, "the demo's Spaces share topics");
    let topics: Vec<Value> = want
        .iter()
        .map(|id| {
            let (_, name, description) = catalogue(id);
            json!({"id": id, "name": name, "description": description})
        })
        .collect();
    assert_eq!(r.json["includes"]["topics"], json!(topics));
    assert!(!r.json["includes"]["users"].as_array().unwrap().is_empty());
    // An import may add topics (e.g. X's own) and Spaces may name them; unknown ones are refused.
    app.import_json(
        &json!({
            "topics": [{"id": "848920371311001600", "name": "Technology (X)"}],
            "spaces": [{"id": "1TopicTest001", "state": "live", "creator_id": ALICE,
                        "topic_ids": ["848920371311001600", "1600000000000000009"]}]
        })
        .to_string(),
    )
    .await;
    let r = space_get(
        &app,
        &t,
        "/2/spaces/1TopicTest001?expansions=topic_ids&topic.fields=description",
    )
    .await;
    assert_eq!(
        r.json["includes"]["topics"],
        json!([
            {"id": "848920371311001600", "name": "Technology (X)"},
            {"id": "1600000000000000009", "name": "Coffee", "description": catalogue("1600000000000000009").2}
        ])
    );
}

/// The demo's Spaces live in the present: the loader moves their times so that a live Space
/// started in the last hours and a scheduled one starts later, whenever the demo is loaded.
#[tokio::test]
async fn demo_spaces_are_live_now_and_scheduled_ahead() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let now = app.clock.now_ms();
    let r = space_get(
        &app,
        &t,
        "/2/spaces/search?query=a&space.fields=started_at,scheduled_start,ended_at",
    )
    .await;
    let ms = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp()
            * 1000
    };
    let mut states = BTreeSet::new();
    for s in r.json["data"].as_array().unwrap() {
        states.insert(s["state"].as_str().unwrap().to_owned());
        match s["state"].as_str().unwrap() {
            "live" => {
                let started = ms(&s["started_at"]);
                // The demo's live Spaces start up to 3 hours before its anchor.
                assert!(started <= now && now - started < 4 * 3_600_000, "{s}");
            }
            "scheduled" => assert!(ms(&s["scheduled_start"]) > now, "{s}"),
            other => panic!("search lists live and scheduled Spaces only: {other}"),
        }
    }
    assert_eq!(
        states,
        BTreeSet::from(["live".to_owned(), "scheduled".to_owned()])
    );
    assert_eq!(app.demo_shift_ms, roost::demo::space_shift_ms(now));
    let r = space_get(
        &app,
        &t,
        &format!("/2/spaces/{LAUNCH_ENDED}?space.fields=ended_at"),
    )
    .await;
    assert!(ms(&r.json["data"]["ended_at"]) < now);
}

#[tokio::test]
async fn by_creator_ids_lists_live_and_scheduled_only() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let path = |ids: &str| format!("/2/spaces/by/creator_ids?user_ids={ids}");
    // X allows one request a second here (x-api-v2.md §R): each call waits for the next.
    let tick = || app.clock.advance_ms(1000);
    // XDevelopers has a live Space and an ended one.
    tick();
    let r = space_get(&app, &t, &path(crate::follows::XDEV)).await;
    assert_eq!(
        r.json,
        json!({"data": [{"id": "1yQyV6OMjVU8b", "state": "live"}], "meta": {"result_count": 1}})
    );
    // rupert_brews (scheduled) and CoffeeLabDemo (live).
    tick();
    let r = space_get(
        &app,
        &t,
        &format!(
            "{}&space.fields=creator_id",
            path("219834771,1173491706888880131")
        ),
    )
    .await;
    assert_eq!(
        r.json,
        json!({
            "data": [
                {"id": "1P6gybKMCmnsZ", "state": "scheduled", "creator_id": "219834771"},
                {"id": "1Sofujwhmd3tu", "state": "live", "creator_id": "1173491706888880131"}
            ],
            "meta": {"result_count": 2}
        })
    );
    // erin_bakes only has an ended Space; an unknown user has none.
    for who in ["1303667635778846721", "1234567"] {
        tick();
        let r = space_get(&app, &t, &path(who)).await;
        assert_eq!(r.json, json!({"meta": {"result_count": 0}}), "{who}");
    }
    // With expansions.
    tick();
    let r = space_get(
        &app,
        &t,
        &format!("{}&expansions=creator_id", path("2244994945")),
    )
    .await;
    assert_eq!(
        r.json["includes"]["users"],
        json!([{"id": "2244994945", "name": demo_name("2244994945"), "username": "XDevelopers"}])
    );
    tick();
    let r = get(&app, &path("carol"), &t).await;
    assert_400(
        &r,
        &invalid_param(
            "user_ids",
            "carol",
            "The `user_ids` query parameter value [carol] is not valid",
        ),
        "user_ids",
    );
}

async fn search(app: &TestApp, t: &str, query: &str) -> Vec<String> {
    let r = space_get(app, t, &format!("/2/spaces/search?{query}")).await;
    let got = ids(&r.json);
    assert_eq!(
        r.json["meta"],
        json!({"result_count": got.len()}),
        "{query}"
    );
    got
}

#[tokio::test]
async fn search_matches_titles_case_insensitively_and_honours_state() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    let rust = vec!["1BaH3OP1jPDs2", "12qzwuyD0MPrV"];
    for q in ["rust", "RUST", "RuSt", "Rust%20API"] {
        let got = search(&app, &t, &format!("query={q}")).await;
        if q.contains("API") {
            assert_eq!(got, vec!["1BaH3OP1jPDs2"], "{q}");
        } else {
            assert_eq!(got, rust, "{q}");
        }
    }
    assert_eq!(search(&app, &t, "query=rust&state=all").await, rust);
    assert_eq!(
        search(&app, &t, "query=rust&state=live").await,
        vec!["1BaH3OP1jPDs2"]
    );
    assert_eq!(
        search(&app, &t, "query=rust&state=scheduled").await,
        vec!["12qzwuyD0MPrV"]
    );
    // Newest first; the ended "Launching the X API v2 demo" is never a search result (roost's
    // reading of X's `all`: live and scheduled).
    assert_eq!(
        search(&app, &t, "query=api").await,
        vec!["1yQyV6OMjVU8b", "1BaH3OP1jPDs2", "19FNqbDyPMv0U"]
    );
    assert_eq!(
        search(&app, &t, "query=Coffee&state=live").await,
        vec!["1Sofujwhmd3tu"]
    );
    assert_eq!(
        search(&app, &t, "query=coffee&state=scheduled").await,
        vec!["1P6gybKMCmnsZ"]
    );
    assert_eq!(
        search(&app, &t, "query=coffee&max_results=1").await.len(),
        1
    );
    let r = space_get(&app, &t, "/2/spaces/search?query=sourdough").await;
    assert_eq!(r.json, json!({"meta": {"result_count": 0}}));
    // Fields and expansions work here too.
    let r = space_get(
        &app,
        &t,
        "/2/spaces/search?query=hiking&space.fields=title&expansions=host_ids&user.fields=username",
    )
    .await;
    assert_eq!(
        r.json,
        json!({
            "data": [{"id": "1KKvZLfNoqzzF", "state": "live", "title": "Weekend hiking photo share 🥾📷"}],
            "includes": {"users": [{"id": "14563987", "name": demo_name("14563987"), "username": "dave_hikes"}]},
            "meta": {"result_count": 1}
        })
    );
}

fn demo_name(id: &str) -> String {
    demo()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn search_refuses_bad_state_query_and_max_results() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", SPACE_READ).await;
    for state in ["ended", "LIVE", "any", ""] {
        let r = get(
            &app,
            &format!("/2/spaces/search?query=rust&state={state}"),
            &t,
        )
        .await;
        assert_400(
            &r,
            &invalid_param(
                "state",
                state,
                &format!(
                    "The `state` query parameter value [{state}] is not one of [live,scheduled,all]"
                ),
            ),
            state,
        );
    }
    let r = get(&app, "/2/spaces/search", &t).await;
    assert_400(
        &r,
        &invalid_param("query", "", "The query query parameter can not be empty"),
        "no query",
    );
    let r = get(&app, "/2/spaces/search?query=", &t).await;
    assert_400(
        &r,
        &invalid_param(
            "query",
            "",
            "The `query` query parameter must be 1 to 2048 characters",
        ),
        "empty query",
    );
    for v in ["0", "101"] {
        let r = get(
            &app,
            &format!("/2/spaces/search?query=rust&max_results={v}"),
            &t,
        )
        .await;
        assert_400(
            &r,
            &invalid_param(
                "max_results",
                v,
                &format!("The `max_results` query parameter value [{v}] is not between 1 and 100"),
            ),
            v,
        );
    }
}

#[tokio::test]
async fn following_spaces_are_those_created_or_hosted_by_followed_accounts() {
    let app = spawn_demo_app().await;
    let t = token(&app, "alice", &format!("{SPACE_READ} follows.write")).await;
    let path = |id: &str| format!("/2/users/{id}/following/spaces");
    // bob follows carol (creator of the Rust hours, host of "Testing async Rust"), XDevelopers
    // (live Q&A; their ended launch is not listed), dave_hikes, and erin_bakes (ended only).
    // bob follows alice, a speaker in the coffee co-working Space: speakers do not count.
    let r = space_get(&app, &t, &path(BOB)).await;
    assert_eq!(
        ids(&r.json),
        vec![
            "1KKvZLfNoqzzF",
            "1yQyV6OMjVU8b",
            "1BaH3OP1jPDs2",
            "12qzwuyD0MPrV"
        ]
    );
    assert_eq!(r.json["meta"], json!({"result_count": 4}));

    let alice_spaces = ids(&space_get(&app, &t, &path(ALICE)).await.json);
    assert_eq!(alice_spaces.len(), 7);
    assert!(!alice_spaces.contains(&"1B7X0TBONbYLo".to_owned()));
    // Following olivia_maps brings her scheduled Space in.
    let r = post_json(
        &app,
        &format!("/2/users/{ALICE}/following"),
        &t,
        &json!({"target_user_id": "1252652676940754956"}),
    )
    .await;
    assert_eq!(r.json["data"]["following"], true, "{}", r.text);
    let after = ids(&space_get(&app, &t, &path(ALICE)).await.json);
    assert_eq!(after.len(), 8);
    assert!(after.contains(&"1B7X0TBONbYLo".to_owned()));

    // Fields and expansions.
    let r = space_get(
        &app,
        &t,
        &format!(
            "{}?space.fields=creator_id,host_ids&expansions=creator_id",
            path(BOB)
        ),
    )
    .await;
    let creators: BTreeSet<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["creator_id"].as_str().unwrap())
        .collect();
    let included: BTreeSet<&str> = r.json["includes"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(creators, included);

    // CityTransitDemo follows five accounts; of them only XDevelopers hosts anything.
    let r = space_get(&app, &t, &path("1132979763413000196")).await;
    assert_eq!(
        r.json,
        json!({"data": [{"id": "1yQyV6OMjVU8b", "state": "live"}], "meta": {"result_count": 1}})
    );
    // An unknown user; a bad id.
    let r = space_get(&app, &t, &path("1234567")).await;
    assert_eq!(
        r.json,
        json!({"errors": [not_found("user", "id", "1234567")]})
    );
    let r = get(&app, &path("bob"), &t).await;
    assert_400(
        &r,
        &invalid_param(
            "id",
            "bob",
            "The `id` query parameter value [bob] is not valid",
        ),
        "bad id",
    );
}

#[tokio::test]
async fn a_protected_accounts_following_spaces_are_for_its_followers() {
    let app = spawn_demo_app().await;
    let alice = token(&app, "alice", SPACE_READ).await;
    let bob = token(&app, "bob", SPACE_READ).await;
    let app_only = app.app_token().await;
    // heidi_k (protected) follows XDevelopers and olivia_maps, who host Spaces; alice is not
    // among her followers, so the list would tell alice whom heidi follows.
    let heidi = "1353056366493310980";
    for t in [&alice, &app_only] {
        let r = space_get(&app, t, &format!("/2/users/{heidi}/following/spaces")).await;
        assert_eq!(
            r.json,
            json!({"errors": [{
                "value": heidi,
                "detail": format!("Sorry, you are not authorized to see the user with id: [{heidi}]."),
                "title": "Authorization Error",
                "resource_type": "user",
                "parameter": "id",
                "resource_id": heidi,
                "section": "data",
                "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"
            }]})
        );
    }
    // judy_reads (protected) is followed by alice: alice sees, bob does not.
    let judy = "1288851349177270274";
    let r = space_get(&app, &alice, &format!("/2/users/{judy}/following/spaces")).await;
    assert!(!ids(&r.json).is_empty(), "{}", r.text);
    let r = space_get(&app, &bob, &format!("/2/users/{judy}/following/spaces")).await;
    assert_eq!(r.json["errors"][0]["title"], "Authorization Error");
    assert!(r.json.get("data").is_none());
}
