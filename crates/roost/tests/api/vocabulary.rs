//! The demo data set has something to show for every field and expansion roost fills (issue 4):
//! for each value of X's vocabularies (`roost_domain::fields`, later names included), a request
//! against the demo answers with it, and the values roost documents as never filled (README,
//! "Left out for lack of data": media, polls, places, cards, articles, communities, context
//! annotations, affiliations) show up in no answer. The walk goes over the vocabularies
//! themselves, so a value added to them later fails here until the demo (or the lists below)
//! says what it shows.

use std::collections::BTreeSet;

use roost_domain::fields::{
    SpaceExpansion, SpaceField, TopicField, TweetExpansion, TweetField, UserExpansion, UserField,
    Vocabulary,
};
use serde_json::Value;

use crate::users::support::*;

/// Every read scope, `users.email` included (for `confirmed_email`).
const SCOPES: &str = "tweet.read users.read users.email follows.read space.read";

const NEVER_USER_FIELDS: &[&str] = &["affiliation"];
const NEVER_TWEET_FIELDS: &[&str] = &[
    "article",
    "article_title",
    "attachments",
    "card_uri",
    "community_id",
    "context_annotations",
    "geo",
    "matched_media_notes",
    "media_metadata",
    "note_request_suggestions",
    "promoted_metrics",
    "suggested_source_links",
    "suggested_source_links_with_counts",
];
const NEVER_USER_EXPANSIONS: &[&str] = &["affiliation.user_id"];
const NEVER_TWEET_EXPANSIONS: &[&str] = &[
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "geo.place_id",
    "referenced_tweets.id.attachments.media_keys",
];

fn names<V: Vocabulary>() -> Vec<&'static str> {
    V::ALL.iter().map(|v| v.name()).collect()
}

fn ids_of(kind: &str) -> Vec<String> {
    demo()[kind]
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_owned())
        .collect()
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn strs(vs: impl IntoIterator<Item = Value>) -> BTreeSet<String> {
    vs.into_iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// `GET path` for every chunk of `ids` (X takes up to 100 ids), the answers' `data` and
/// `includes` merged.
async fn lookup(
    d: &Demo,
    path: &str,
    param: &str,
    ids: &[String],
    query: &str,
) -> (Vec<Value>, Value) {
    let mut data = Vec::new();
    let mut includes = serde_json::Map::new();
    for chunk in ids.chunks(100) {
        let url = format!("{path}?{param}={}&{query}", chunk.join(","));
        let a = d.get(&d.alice, &url).await;
        assert_eq!(a.status, 200, "{url}: {}", a.body);
        data.extend(items(&a.body["data"]).iter().cloned());
        if let Some(inc) = a.body["includes"].as_object() {
            for (k, v) in inc {
                let all = includes
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(all) = all {
                    all.extend(items(v).iter().cloned());
                }
            }
        }
    }
    assert!(!data.is_empty(), "{path}: no data");
    (data, Value::Object(includes))
}

/// Every field `all` names is shown by some object of `data`, except the `never` ones, which
/// no object shows.
fn assert_fields_shown(what: &str, all: &[&str], never: &[&str], data: &[Value]) {
    for f in all {
        let shown = data.iter().filter(|o| o.get(*f).is_some()).count();
        if never.contains(f) {
            assert_eq!(shown, 0, "{what}={f} is documented as never filled");
        } else {
            assert!(shown > 0, "no demo object shows {what}={f}");
        }
    }
}

/// The distinct values `pointer` takes in `data` (an array's elements, for an array).
fn values_at(data: &[Value], pointer: &str) -> BTreeSet<String> {
    data.iter()
        .filter_map(|o| o.pointer(pointer))
        .flat_map(|v| match v {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        })
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

fn set(vs: &[&str]) -> BTreeSet<String> {
    vs.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn every_user_field_and_expansion_has_something_to_show() {
    let d = Demo::start(SCOPES).await;
    let users = ids_of("users");
    let all = names::<UserField>();
    let (data, _) = lookup(
        &d,
        "/2/users",
        "ids",
        &users,
        &format!("user.fields={}", all.join(",")),
    )
    .await;
    assert_eq!(data.len(), users.len());
    assert_fields_shown("user.fields", &all, NEVER_USER_FIELDS, &data);
    // The values that tell accounts apart, each of them shown.
    for (pointer, expected) in [
        ("/protected", set(&["false", "true"])),
        ("/verified", set(&["false", "true"])),
        ("/withheld/scope", set(&["user"])),
        (
            "/connection_status",
            set(&["followed_by", "following", "follow_request_sent"]),
        ),
    ] {
        assert!(
            values_at(&data, pointer).is_superset(&expected),
            "{pointer}: {:?}",
            values_at(&data, pointer)
        );
    }
    assert!(values_at(&data, "/verified_type").len() >= 3);
    for part in [
        "description/urls",
        "description/hashtags",
        "description/mentions",
        "url/urls",
    ] {
        let p = format!("/entities/{part}/0/start");
        assert!(!values_at(&data, &p).is_empty(), "no user shows {p}");
    }

    for e in names::<UserExpansion>() {
        let (data, includes) = lookup(
            &d,
            "/2/users",
            "ids",
            &users,
            &format!("expansions={e}&user.fields=pinned_tweet_id,most_recent_tweet_id,affiliation"),
        )
        .await;
        let included = strs(items(&includes["tweets"]).iter().map(|t| t["id"].clone()));
        if NEVER_USER_EXPANSIONS.contains(&e) {
            assert_eq!(includes, serde_json::json!({}), "{e} is never expanded");
            continue;
        }
        let named = strs(data.iter().map(|u| u[e].clone()));
        assert!(!named.is_empty(), "no demo user has {e}");
        assert!(
            named.iter().any(|id| included.contains(id)),
            "expansions={e} includes none of {named:?}"
        );
    }
}

#[tokio::test]
async fn every_tweet_field_and_expansion_has_something_to_show() {
    let d = Demo::start(SCOPES).await;
    let tweets = ids_of("tweets");
    let all = names::<TweetField>();
    let (data, _) = lookup(
        &d,
        "/2/tweets",
        "ids",
        &tweets,
        &format!("tweet.fields={}", all.join(",")),
    )
    .await;
    assert_fields_shown("tweet.fields", &all, NEVER_TWEET_FIELDS, &data);
    // The values that tell posts apart, each of them shown.
    for (pointer, expected) in [
        (
            "/reply_settings",
            set(&[
                "everyone",
                "following",
                "mentionedUsers",
                "subscribers",
                "verified",
            ]),
        ),
        ("/possibly_sensitive", set(&["false", "true"])),
        ("/withheld/scope", set(&["tweet", "user"])),
        ("/withheld/copyright", set(&["false", "true"])),
        ("/edit_controls/is_edit_eligible", set(&["false", "true"])),
        (
            "/referenced_tweets/0/type",
            set(&["quoted", "replied_to", "retweeted"]),
        ),
        ("/text", set(&[""])),
        // (German is heidi_k's, whose posts are protected from alice.)
        ("/lang", set(&["en", "es", "fr", "ja", "zxx"])),
    ] {
        assert!(
            values_at(&data, pointer).is_superset(&expected),
            "{pointer}: {:?}",
            values_at(&data, pointer)
        );
    }
    for part in ["mentions", "hashtags", "urls"] {
        for (what, p) in [
            ("entities", format!("/entities/{part}/0/start")),
            ("note_tweet", format!("/note_tweet/entities/{part}/0/start")),
        ] {
            assert!(!values_at(&data, &p).is_empty(), "no post shows {what} {p}");
        }
    }
    // A long post: its text is the cut, `display_text_range` ends there, and its note carries
    // entities beyond it.
    let long: Vec<&Value> = data
        .iter()
        .filter(|t| t.get("note_tweet").is_some())
        .collect();
    assert!(long.len() >= 2, "{}", long.len());
    for t in &long {
        let text = t["text"].as_str().unwrap();
        let note = t["note_tweet"]["text"].as_str().unwrap();
        let cut = text.chars().count();
        assert!(note.starts_with(text) && cut <= 270, "{t}");
        assert_eq!(t["display_text_range"], serde_json::json!([0, cut]));
        for part in ["mentions", "hashtags", "urls"] {
            assert!(
                items(&t["note_tweet"]["entities"][part])
                    .iter()
                    .any(|e| e["start"].as_u64().unwrap() as usize > cut),
                "{}: no {part} after the cut",
                t["id"]
            );
        }
    }

    // Expansions: what each brings is named by the answer's own data.
    let fields = "tweet.fields=author_id,in_reply_to_user_id,referenced_tweets,entities,note_tweet";
    for e in names::<TweetExpansion>() {
        let (data, includes) = lookup(
            &d,
            "/2/tweets",
            "ids",
            &tweets,
            &format!("expansions={e}&{fields}"),
        )
        .await;
        let users = strs(items(&includes["users"]).iter().map(|u| u["id"].clone()));
        let usernames = strs(
            items(&includes["users"])
                .iter()
                .map(|u| u["username"].clone()),
        );
        let included = strs(items(&includes["tweets"]).iter().map(|t| t["id"].clone()));
        let mentioned = |t: &Value, pointer: &str| -> BTreeSet<String> {
            strs(
                items(t.pointer(pointer).unwrap_or(&Value::Null))
                    .iter()
                    .map(|m| m["username"].clone()),
            )
        };
        let referenced = |t: &Value| -> Vec<String> {
            items(&t["referenced_tweets"])
                .iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        };
        let shown = match e {
            _ if NEVER_TWEET_EXPANSIONS.contains(&e) => {
                assert_eq!(includes, serde_json::json!({}), "{e} is never expanded");
                continue;
            }
            "author_id" => data
                .iter()
                .all(|t| users.contains(t["author_id"].as_str().unwrap())),
            "in_reply_to_user_id" => data
                .iter()
                .filter_map(|t| t["in_reply_to_user_id"].as_str())
                .any(|u| users.contains(u)),
            "entities.mentions.username" => data
                .iter()
                .any(|t| !mentioned(t, "/entities/mentions").is_disjoint(&usernames)),
            // A user only the long post's whole text mentions, after the cut.
            "entities.note.mentions.username" => data.iter().any(|t| {
                mentioned(t, "/note_tweet/entities/mentions")
                    .difference(&mentioned(t, "/entities/mentions"))
                    .any(|u| usernames.contains(u))
            }),
            "edit_history_tweet_ids" => data
                .iter()
                .any(|t| included.contains(t["id"].as_str().unwrap())),
            "referenced_tweets.id" => data
                .iter()
                .flat_map(referenced)
                .any(|id| included.contains(&id)),
            "referenced_tweets.id.author_id" => data.iter().flat_map(referenced).any(|id| {
                let author = demo_tweet(&id)["author_id"].as_str().unwrap().to_owned();
                users.contains(&author)
            }),
            other => panic!("say what expansions={other} shows in the demo"),
        };
        assert!(shown, "expansions={e} shows nothing: {includes}");
    }
}

#[tokio::test]
async fn every_space_and_topic_field_and_expansion_has_something_to_show() {
    let d = Demo::start(SCOPES).await;
    let spaces = ids_of("spaces");
    let all = names::<SpaceField>();
    let topic_fields = names::<TopicField>();
    let (data, includes) = lookup(
        &d,
        "/2/spaces",
        "ids",
        &spaces,
        &format!(
            "space.fields={}&expansions=topic_ids&topic.fields={}",
            all.join(","),
            topic_fields.join(",")
        ),
    )
    .await;
    assert_eq!(data.len(), spaces.len());
    assert_fields_shown("space.fields", &all, &[], &data);
    assert_fields_shown(
        "topic.fields",
        &topic_fields,
        &[],
        items(&includes["topics"]),
    );
    for (pointer, expected) in [
        ("/state", set(&["ended", "live", "scheduled"])),
        ("/is_ticketed", set(&["false", "true"])),
    ] {
        assert!(
            values_at(&data, pointer).is_superset(&expected),
            "{pointer}: {:?}",
            values_at(&data, pointer)
        );
    }

    for e in names::<SpaceExpansion>() {
        let (data, includes) = lookup(
            &d,
            "/2/spaces",
            "ids",
            &spaces,
            &format!("expansions={e}&space.fields={e}"),
        )
        .await;
        let (kind, named): (&str, BTreeSet<String>) = match e {
            "creator_id" => ("users", strs(data.iter().map(|s| s[e].clone()))),
            "topic_ids" => (
                "topics",
                strs(data.iter().flat_map(|s| items(&s[e]).to_vec())),
            ),
            _ => (
                "users",
                strs(data.iter().flat_map(|s| items(&s[e]).to_vec())),
            ),
        };
        let included = strs(items(&includes[kind]).iter().map(|x| x["id"].clone()));
        assert!(!named.is_empty(), "no demo Space has {e}");
        assert!(
            named.iter().any(|id| included.contains(id)),
            "expansions={e} includes none of {named:?}"
        );
    }
}
