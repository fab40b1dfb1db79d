//! Users lookup over HTTP (spec/x-api-v2.md §1): `/2/users/me`, `/2/users/:id`, `/2/users?ids=`,
//! `/2/users/by/username/:username`, `/2/users/by?usernames=`, against the demo data set.
//! Expected values come from the demo file itself (`support::demo()`), not from the server.

pub mod support;

use serde_json::{Value, json};

use support::*;

const ALL_USER_FIELDS: &str = "affiliation,confirmed_email,connection_status,created_at,description,entities,id,is_identity_verified,location,most_recent_tweet_id,name,parody,pinned_tweet_id,profile_banner_url,profile_image_url,protected,public_metrics,receives_your_dm,subscription,subscription_type,url,username,verified,verified_followers_count,verified_type,withheld";
const USER_EXPANSIONS: &str = "affiliation.user_id,most_recent_tweet_id,pinned_tweet_id";
/// Every `user.fields` value roost fills from its data.
const FILLED: &str = "created_at,description,entities,location,most_recent_tweet_id,pinned_tweet_id,profile_image_url,protected,public_metrics,url,verified,verified_type,connection_status";

fn defaults(id: &str) -> Value {
    let u = demo_user(id);
    json!({"id": u["id"], "name": u["name"], "username": u["username"]})
}

/// A demo user's newest tweet.
fn most_recent(id: &str) -> &'static str {
    demo_timeline(id)[0]["id"].as_str().expect("id")
}

fn public_metrics(id: &str) -> Value {
    let (followers, following) = demo_follow_counts(id);
    let m = &demo_user(id)["public_metrics"];
    json!({
        "followers_count": followers,
        "following_count": following,
        "tweet_count": demo_timeline(id).len(),
        "post_count": demo_timeline(id).len(),
        "listed_count": m["listed_count"],
        "like_count": m["like_count"]
    })
}

#[tokio::test]
async fn default_fields_are_exactly_id_name_username_on_every_lookup() {
    let d = Demo::start(READ).await;
    d.get(&d.alice, "/2/users/me")
        .await
        .assert_ok(&json!({"data": defaults(ALICE)}));
    d.get(&d.app_token, &format!("/2/users/{XDEV}"))
        .await
        .assert_ok(
            &json!({"data": {"id": "2244994945", "name": "Developers", "username": "XDevelopers"}}),
        );
    d.get(&d.bob, &format!("/2/users?ids={XDEV},{ALICE}"))
        .await
        .assert_ok(&json!({"data": [defaults(XDEV), defaults(ALICE)]}));
    d.get(&d.app_token, "/2/users/by/username/bob")
        .await
        .assert_ok(&json!({"data": defaults(BOB)}));
    d.get(&d.alice, "/2/users/by?usernames=bob,judy_reads")
        .await
        .assert_ok(&json!({"data": [defaults(BOB), defaults(JUDY)]}));
    let a = d.get(&d.alice, "/2/users/me").await;
    assert!(
        a.content_type().starts_with("application/json"),
        "{:?}",
        a.headers
    );
}

#[tokio::test]
async fn every_field_roost_fills_matches_the_data() {
    let d = Demo::start(READ).await;
    let u = demo_user(ALICE);
    // bob follows alice and alice follows bob.
    let expected = json!({
        "id": ALICE,
        "name": "Alice Example",
        "username": "alice",
        "created_at": "2019-04-12T09:31:07.000Z",
        "description": u["description"],
        "entities": {"url": {"urls": [{
            "start": 0, "end": 25, "url": "https://alice.example.com",
            "expanded_url": "https://alice.example.com", "display_url": "alice.example.com"
        }]}},
        "location": "Portland, OR",
        "most_recent_tweet_id": most_recent(ALICE),
        "pinned_tweet_id": "2062647119183060992",
        "profile_image_url": u["profile_image_url"],
        "protected": false,
        "public_metrics": public_metrics(ALICE),
        "url": "https://alice.example.com",
        "verified": false,
        "verified_type": "none",
        "connection_status": ["following", "followed_by"]
    });
    // Her tweets of every kind count: posts, replies, quotes and retweets.
    assert!(
        demo_timeline(ALICE).len() > 25,
        "{}",
        demo_timeline(ALICE).len()
    );
    let path = format!("/2/users/{ALICE}?user.fields={FILLED}");
    d.get(&d.bob, &path)
        .await
        .assert_ok(&json!({"data": expected}));

    // A verified business account through the App: no connection_status without a user.
    let x = demo_user(XDEV);
    let path = format!("/2/users/by/username/XDevelopers?user.fields={FILLED}");
    d.get(&d.app_token, &path).await.assert_ok(&json!({"data": {
        "id": XDEV,
        "name": "Developers",
        "username": "XDevelopers",
        "created_at": "2013-12-14T04:35:55.000Z",
        "description": x["description"],
        "entities": {"url": {"urls": [{
            "start": 0, "end": 29, "url": "https://developer.example.com",
            "expanded_url": "https://developer.example.com", "display_url": "developer.example.com"
        }]}},
        "most_recent_tweet_id": most_recent(XDEV),
        "pinned_tweet_id": "1959214945009483776",
        "profile_image_url": x["profile_image_url"],
        "protected": false,
        "public_metrics": public_metrics(XDEV),
        "url": "https://developer.example.com",
        "verified": true,
        "verified_type": "business"
    }}));
}

#[tokio::test]
async fn absent_values_are_omitted_and_url_is_an_empty_string() {
    let d = Demo::start(READ).await;
    // bob: no url, no pinned tweet, no entities in his description; X prints `url` as "".
    let path = format!(
        "/2/users/{BOB}?user.fields=entities,location,pinned_tweet_id,url,protected,verified_type"
    );
    d.get(&d.app_token, &path).await.assert_ok(&json!({"data": {
        "id": BOB, "name": "Bob Example", "username": "bob",
        "location": "Lisbon", "url": "", "protected": false, "verified_type": "none"
    }}));
    // A protected account is still a visible profile.
    let path = format!("/2/users/{JUDY}?user.fields=protected,location");
    d.get(&d.bob, &path).await.assert_ok(
        &json!({"data": {"id": JUDY, "name": "Judy Mensah", "username": "judy_reads", "protected": true}}),
    );
}

#[tokio::test]
async fn description_entities_name_mentioned_users_and_hashtags() {
    let d = Demo::start(READ).await;
    let a = d
        .get(
            &d.app_token,
            "/2/users/by?usernames=rupert_brews,XDevsDemo&user.fields=entities",
        )
        .await;
    a.assert_ok(&json!({"data": [
        {
            "id": "219834771", "name": "Rupert Hale", "username": "rupert_brews",
            "entities": {"description": {"mentions": [
                {"start": 16, "end": 30, "username": "CoffeeLabDemo", "id": "1173491706888880131"}
            ]}}
        },
        {
            "id": "1229802884691632131", "name": "X Devs (demo)", "username": "XDevsDemo",
            "entities": {
                "url": {"urls": [{
                    "start": 0, "end": 39, "url": "https://developer.example.com/community",
                    "expanded_url": "https://developer.example.com/community",
                    // X shortens long display URLs and marks the cut with an ellipsis.
                    "display_url": "developer.example.com/comm\u{2026}"
                }]},
                "description": {"hashtags": [{"start": 99, "end": 104, "tag": "XAPI"}]}
            }
        }
    ]}));
}

/// What `connection_status` should say for `viewer` looking at `target`, from the demo follows
/// (pending requests included).
fn connection(viewer: &str, target: &str) -> Value {
    let follows = demo()["follows"].as_array().expect("follows");
    // None: no edge; Some(pending).
    let edge = |s: &str, t: &str| {
        follows
            .iter()
            .find(|f| f["source_user_id"] == s && f["target_user_id"] == t)
            .map(|f| f["pending"] == true)
    };
    let mut v = Vec::new();
    match edge(viewer, target) {
        Some(true) => v.push("follow_request_sent"),
        Some(false) => v.push("following"),
        None => {}
    }
    match edge(target, viewer) {
        Some(true) => v.push("follow_request_received"),
        Some(false) => v.push("followed_by"),
        None => {}
    }
    json!(v)
}

#[tokio::test]
async fn connection_status_needs_a_user_token_and_describes_both_directions() {
    let d = Demo::start(READ).await;
    let path = format!("/2/users?ids={JUDY},{BOB},{XDEV},{ALICE}&user.fields=connection_status");
    let a = d.get(&d.alice, &path).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let got: Vec<Value> = a.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|u| u.get("connection_status").cloned().unwrap_or(Value::Null))
        .collect();
    // alice follows judy_reads, who follows her back; alice and bob follow each other.
    assert_eq!(connection(ALICE, JUDY), json!(["following", "followed_by"]));
    assert_eq!(
        got,
        vec![
            connection(ALICE, JUDY),
            connection(ALICE, BOB),
            connection(ALICE, XDEV),
            // Roost's choice where X documents nothing: no status for yourself.
            Value::Null,
        ]
    );
    // bob and judy_reads: no edge either way, an empty list.
    let a = d.get(&d.bob, &path).await;
    assert_eq!(a.body["data"][0]["connection_status"], json!([]));
    // An app-only token has no "you": the field is left out.
    let a = d.get(&d.app_token, &path).await;
    for u in a.body["data"].as_array().expect("data") {
        assert!(u.get("connection_status").is_none(), "{u}");
    }
}

#[tokio::test]
async fn pinned_and_most_recent_tweet_expansions_fill_includes_with_tweet_fields() {
    let d = Demo::start(READ).await;
    let pinned = "2062647119183060992";
    let recent = most_recent(ALICE);
    let tweet = |id: &str| {
        let t = demo_tweet(id);
        json!({
            "id": id, "text": t["text"], "edit_history_tweet_ids": [id],
            "author_id": ALICE, "created_at": t["created_at"]
        })
    };
    let expected = json!({
        "data": {
            "id": ALICE, "name": "Alice Example", "username": "alice",
            "most_recent_tweet_id": recent, "pinned_tweet_id": pinned
        },
        "includes": {"tweets": [tweet(pinned), tweet(recent)]}
    });
    let path = "/2/users/me?expansions=pinned_tweet_id,most_recent_tweet_id&tweet.fields=created_at,author_id&user.fields=pinned_tweet_id,most_recent_tweet_id";
    d.get(&d.alice, path).await.assert_ok(&expected);
    // X's 2.167 names mean the same.
    let path = "/2/users/me?expansions=pinned_post_id,most_recent_post_id&post.fields=created_at,author_id&user.fields=pinned_tweet_id,most_recent_tweet_id";
    d.get(&d.alice, path).await.assert_ok(&expected);

    // Several users: each pinned tweet once; a user without one adds nothing.
    let path = format!(
        "/2/users?ids={ALICE},{BOB},{XDEV}&expansions=pinned_tweet_id&tweet.fields=author_id"
    );
    let a = d.get(&d.app_token, &path).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let ids: Vec<&str> = a.body["includes"]["tweets"]
        .as_array()
        .expect("tweets")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![pinned, "1959214945009483776"]);
    assert_eq!(a.body["includes"]["tweets"][1]["author_id"], XDEV);
    assert_eq!(a.body["data"][1], defaults(BOB));
    assert!(a.body.get("errors").is_none());

    // Nothing to expand: no `includes` at all.
    let path = format!("/2/users/{BOB}?expansions=pinned_tweet_id");
    d.get(&d.alice, &path)
        .await
        .assert_ok(&json!({"data": defaults(BOB)}));
}

#[tokio::test]
async fn a_protected_users_newest_tweet_is_expanded_for_followers_only() {
    let d = Demo::start(READ).await;
    let newest = most_recent(JUDY);
    let path = format!("/2/users/{JUDY}?expansions=most_recent_tweet_id");
    // alice follows judy_reads.
    d.get(&d.alice, &path).await.assert_ok(&json!({
        "data": defaults(JUDY),
        "includes": {"tweets": [{
            "id": newest, "text": demo_tweet(newest)["text"], "edit_history_tweet_ids": [newest]
        }]}
    }));
    // Others get the user and X's partial error for the `includes` section.
    for token in [&d.bob, &d.app_token] {
        d.get(token, &path).await.assert_ok(&json!({
            "data": defaults(JUDY),
            "errors": [not_authorized("tweet", "most_recent_tweet_id", newest, "includes")]
        }));
    }
}

#[tokio::test]
async fn unknown_ids_and_usernames_are_partial_not_found_errors() {
    let d = Demo::start(READ).await;
    let t = &d.app_token;
    d.get(t, &format!("/2/users?ids={ALICE},42"))
        .await
        .assert_ok(&json!({"data": [defaults(ALICE)], "errors": [not_found("user", "ids", "42")]}));
    d.get(t, "/2/users?ids=42,43").await.assert_ok(
        &json!({"errors": [not_found("user", "ids", "42"), not_found("user", "ids", "43")]}),
    );
    d.get(t, "/2/users/42")
        .await
        .assert_ok(&json!({"errors": [not_found("user", "id", "42")]}));
    d.get(t, "/2/users/by/username/nobody_here")
        .await
        .assert_ok(&json!({"errors": [not_found("user", "username", "nobody_here")]}));
    d.get(t, "/2/users/by?usernames=Nobody_Here,bob")
        .await
        .assert_ok(&json!({
            "data": [defaults(BOB)],
            "errors": [not_found("user", "usernames", "Nobody_Here")]
        }));
    d.get(t, "/2/users/by?usernames=nobody_here")
        .await
        .assert_ok(&json!({"errors": [not_found("user", "usernames", "nobody_here")]}));
    // Exactly X's sample (§E.1), key for key.
    let a = d.get(t, "/2/users?ids=1276230436478386177").await;
    assert_eq!(
        a.body,
        json!({"errors": [{
            "value": "1276230436478386177",
            "detail": "Could not find user with ids: [1276230436478386177].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "ids",
            "resource_id": "1276230436478386177",
            "type": "https://api.twitter.com/2/problems/resource-not-found"
        }]})
    );
}

#[tokio::test]
async fn usernames_match_case_insensitively_and_answer_in_canonical_casing() {
    let d = Demo::start(READ).await;
    let t = &d.bob;
    for name in ["xdevelopers", "XDEVELOPERS", "xDevelopers"] {
        d.get(t, &format!("/2/users/by/username/{name}"))
            .await
            .assert_ok(&json!({"data": defaults(XDEV)}));
    }
    d.get(t, "/2/users/by?usernames=ALICE,xdevelopers,Judy_Reads")
        .await
        .assert_ok(&json!({"data": [defaults(ALICE), defaults(XDEV), defaults(JUDY)]}));
}

#[tokio::test]
async fn percent_encoded_lists_are_decoded_then_split() {
    let d = Demo::start(READ).await;
    let t = &d.alice;
    d.get(t, &format!("/2/users?ids={ALICE}%2C{BOB}"))
        .await
        .assert_ok(&json!({"data": [defaults(ALICE), defaults(BOB)]}));
    d.get(t, "/2/users/by?usernames=bob%2Calice&user.fields=protected%2Cverified")
        .await
        .assert_ok(&json!({"data": [
            {"id": BOB, "name": "Bob Example", "username": "bob", "protected": false, "verified": false},
            {"id": ALICE, "name": "Alice Example", "username": "alice", "protected": false, "verified": false}
        ]}));
}

#[tokio::test]
async fn content_type_json_on_a_get_without_body_is_ignored() {
    let d = Demo::start(READ).await;
    // X's TypeScript SDK sends it on every request (quirk 12).
    for path in [
        "/2/users/me".to_owned(),
        format!("/2/users?ids={BOB}"),
        "/2/users/by/username/bob".to_owned(),
    ] {
        let plain = d.get(&d.alice, &path).await;
        let with = get_with(
            &d.app,
            &d.alice,
            &path,
            &[("content-type", "application/json")],
        )
        .await;
        assert_eq!(with.status, 200, "{path}: {}", with.body);
        assert_eq!(with.body, plain.body, "{path}");
    }
}

#[tokio::test]
async fn unknown_and_duplicate_parameters_are_x_400s() {
    let d = Demo::start(READ).await;
    let t = &d.alice;
    d.get(t, &format!("/2/users/{BOB}?foo=bar"))
        .await
        .assert_invalid(json!([problem(
            "foo",
            &["bar"],
            "The query parameter [foo] is not one of [id,expansions,tweet.fields,user.fields]"
        )]));
    d.get(t, "/2/users/me?max_results=5")
        .await
        .assert_invalid(json!([problem(
            "max_results",
            &["5"],
            "The query parameter [max_results] is not one of [expansions,tweet.fields,user.fields]"
        )]));
    d.get(t, &format!("/2/users?ids={BOB}&usernames=bob"))
        .await
        .assert_invalid(json!([problem(
            "usernames",
            &["bob"],
            "The query parameter [usernames] is not one of [ids,expansions,tweet.fields,user.fields]"
        )]));
    d.get(t, "/2/users/by?usernames=bob&ids=1")
        .await
        .assert_invalid(json!([problem(
            "ids",
            &["1"],
            "The query parameter [ids] is not one of [usernames,expansions,tweet.fields,user.fields]"
        )]));
    d.get(t, "/2/users/by/username/bob?access_token=x")
        .await
        .assert_invalid(json!([problem(
            "access_token",
            &["x"],
            "The query parameter [access_token] is not one of [username,expansions,tweet.fields,user.fields]"
        )]));
    d.get(t, &format!("/2/users?ids={BOB}&ids={ALICE}"))
        .await
        .assert_invalid(json!([problem(
            "ids",
            &[BOB, ALICE],
            "Duplicate parameters are not allowed: the `ids` query parameter"
        )]));
    d.get(t, "/2/users/me?user.fields=url&user.fields=url")
        .await
        .assert_invalid(json!([problem(
            "user.fields",
            &["url", "url"],
            "Duplicate parameters are not allowed: the `user.fields` query parameter"
        )]));
    // A path parameter counts as given: the same name in the query is a duplicate (X treats
    // `/2/tweets/:id?id=...` so, abraham/twitteroauth#1028).
    d.get(t, &format!("/2/users/{BOB}?id={ALICE}"))
        .await
        .assert_invalid(json!([problem(
            "id",
            &[BOB, ALICE],
            "Duplicate parameters are not allowed: the `id` query parameter"
        )]));
    d.get(t, "/2/users/by/username/bob?username=alice")
        .await
        .assert_invalid(json!([problem(
            "username",
            &["bob", "alice"],
            "Duplicate parameters are not allowed: the `username` query parameter"
        )]));
    // `post.fields` is `tweet.fields`: both at once is the same parameter twice.
    d.get(t, "/2/users/me?tweet.fields=lang&post.fields=lang")
        .await
        .assert_invalid(json!([problem(
            "tweet.fields",
            &["lang", "lang"],
            "Duplicate parameters are not allowed: the `tweet.fields` query parameter"
        )]));
}

#[tokio::test]
async fn bad_ids_and_usernames_are_x_400s() {
    let d = Demo::start(READ).await;
    let t = &d.app_token;
    d.get(t, "/2/users/abc")
        .await
        .assert_invalid(json!([problem(
            "id",
            &["abc"],
            "The `id` query parameter value [abc] is not valid"
        )]));
    d.get(t, "/2/users/12345678901234567890")
        .await
        .assert_invalid(json!([problem(
            "id",
            &["12345678901234567890"],
            "The `id` query parameter value [12345678901234567890] is not valid"
        )]));
    // X's own sample (§E.2).
    d.get(t, &format!("/2/users?ids={ALICE},abc"))
        .await
        .assert_invalid(json!([problem(
            "ids",
            &["abc"],
            "The `ids` query parameter value [abc] is not valid"
        )]));
    // Roost's wording for a path username X does not document.
    d.get(t, "/2/users/by/username/not-a-name")
        .await
        .assert_invalid(json!([problem(
            "username",
            &["not-a-name"],
            "The `username` query parameter value [not-a-name] does not match ^[A-Za-z0-9_]{1,15}$"
        )]));
    d.get(t, "/2/users/by/username/sixteen_chars_xx")
        .await
        .assert_invalid(json!([problem(
            "username",
            &["sixteen_chars_xx"],
            "The `username` query parameter value [sixteen_chars_xx] does not match ^[A-Za-z0-9_]{1,15}$"
        )]));
    d.get(t, "/2/users/by?usernames=bob,@alice")
        .await
        .assert_invalid(json!([problem(
            "usernames",
            &["@alice"],
            "The `usernames` query parameter value [@alice] is not valid"
        )]));
}

#[tokio::test]
async fn empty_missing_and_oversized_lists_are_x_400s() {
    let d = Demo::start(READ).await;
    let t = &d.bob;
    // Verbatim from X (PipedreamHQ/pipedream#10108): no backticks in this one.
    let empty_ids = json!([problem(
        "ids",
        &[],
        "The ids query parameter can not be empty"
    )]);
    d.get(t, "/2/users").await.assert_invalid(empty_ids.clone());
    d.get(t, "/2/users?ids=")
        .await
        .assert_invalid(empty_ids.clone());
    d.get(t, "/2/users?ids=,").await.assert_invalid(empty_ids);
    d.get(t, "/2/users/by?usernames=")
        .await
        .assert_invalid(json!([problem(
            "usernames",
            &[],
            "The usernames query parameter can not be empty"
        )]));
    let hundred: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    let a = d
        .get(t, &format!("/2/users?ids={}", hundred.join(",")))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["errors"].as_array().map(Vec::len), Some(100));
    let many = format!("{},101", hundred.join(","));
    d.get(t, &format!("/2/users?ids={many}"))
        .await
        .assert_invalid(json!([problem(
            "ids",
            &[&many],
            "The number of values in the `ids` query parameter list [101] is not between 1 and 100"
        )]));
}

#[tokio::test]
async fn unknown_field_and_expansion_values_are_x_400s() {
    let d = Demo::start(READ).await;
    let t = &d.alice;
    // X puts the whole parameter value in `parameters` and names the bad item in the message
    // (captured in redouane59/twittered#118).
    d.get(t, "/2/users/me?user.fields=created_at,followers")
        .await
        .assert_invalid(json!([problem(
            "user.fields",
            &["created_at,followers"],
            &format!(
                "The `user.fields` query parameter value [followers] is not one of [{ALL_USER_FIELDS}]"
            )
        )]));
    d.get(t, "/2/users/by/username/bob?expansions=author_id")
        .await
        .assert_invalid(json!([problem(
            "expansions",
            &["author_id"],
            &format!(
                "The `expansions` query parameter value [author_id] is not one of [{USER_EXPANSIONS}]"
            )
        )]));
    // Every problem of one request in one 400: unknown parameter, bad path id, bad field.
    d.get(t, "/2/users/abc?foo=1&user.fields=bogus")
        .await
        .assert_invalid(json!([
            problem(
                "foo",
                &["1"],
                "The query parameter [foo] is not one of [id,expansions,tweet.fields,user.fields]"
            ),
            problem("id", &["abc"], "The `id` query parameter value [abc] is not valid"),
            problem(
                "user.fields",
                &["bogus"],
                &format!(
                    "The `user.fields` query parameter value [bogus] is not one of [{ALL_USER_FIELDS}]"
                )
            )
        ]));
}

#[tokio::test]
async fn ids_are_strings_in_every_answer() {
    let d = Demo::start(READ).await;
    let path = format!(
        "/2/users?ids={ALICE},{XDEV},{JUDY},7&user.fields={FILLED}&expansions=pinned_tweet_id,most_recent_tweet_id&tweet.fields=author_id,conversation_id,in_reply_to_user_id,referenced_tweets,entities"
    );
    // The App also gets the Authorization Error for judy_reads' newest tweet.
    for (token, errors) in [(&d.alice, 1), (&d.app_token, 2)] {
        let a = d.get(token, &path).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["data"].as_array().map(Vec::len), Some(3));
        assert_eq!(a.body["errors"].as_array().map(Vec::len), Some(errors));
        assert!(
            !a.body["includes"]["tweets"]
                .as_array()
                .expect("tweets")
                .is_empty()
        );
        assert_ids_are_strings(&a.body);
    }
}

/// The demo's pending requests show without any write: alice asked to follow mallory_sec;
/// judy_reads (protected, can sign in) has requests from sybil_tests and ivan_builds.
#[tokio::test]
async fn demo_follow_requests_show_in_connection_status() {
    let d = Demo::start(READ).await;
    let mallory = user_id("mallory_sec");
    let (sybil, ivan) = (user_id("sybil_tests"), user_id("ivan_builds"));
    let a = d
        .get(
            &d.alice,
            &format!("/2/users/{mallory}?user.fields=connection_status"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        connection(ALICE, &mallory),
        json!(["follow_request_sent", "followed_by"])
    );
    assert_eq!(
        a.body["data"]["connection_status"],
        connection(ALICE, &mallory)
    );
    let judy = access(&d.app.tokens_for("judy_reads", "judy-password", READ).await);
    let a = d
        .get(
            &judy,
            &format!("/2/users?ids={sybil},{ivan}&user.fields=connection_status"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    for (i, who) in [&sybil, &ivan].into_iter().enumerate() {
        let c = &a.body["data"][i]["connection_status"];
        assert!(
            c.as_array()
                .unwrap()
                .contains(&json!("follow_request_received")),
            "{who}: {c}"
        );
        assert_eq!(*c, connection(JUDY, who));
    }
}

fn user_id(username: &str) -> String {
    demo()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .and_then(|u| u["id"].as_str())
        .unwrap()
        .to_owned()
}

/// x-api-v2.md §E.1: `value` is the value as supplied; every id of X's pattern
/// `^[0-9]{1,19}$` is a valid request, so one beyond any id that can exist is not found.
#[tokio::test]
async fn partial_errors_echo_ids_as_sent_and_every_19_digit_id_is_looked_up() {
    let d = Demo::start(READ).await;
    let t = &d.app_token;
    let huge = "9999999999999999999";
    d.get(t, "/2/users/007")
        .await
        .assert_ok(&json!({"errors": [not_found("user", "id", "007")]}));
    d.get(t, &format!("/2/users/{huge}"))
        .await
        .assert_ok(&json!({"errors": [not_found("user", "id", huge)]}));
    d.get(t, &format!("/2/users?ids=0042,{huge},{XDEV}"))
        .await
        .assert_ok(&json!({
            "data": [defaults(XDEV)],
            "errors": [not_found("user", "ids", "0042"), not_found("user", "ids", huge)]
        }));
    // A leading zero still names the user the number names.
    d.get(t, &format!("/2/users/0{XDEV}"))
        .await
        .assert_ok(&json!({"data": defaults(XDEV)}));
    for path in [
        format!("/2/users/{huge}/tweets"),
        format!("/2/users/{huge}/followers"),
        format!("/2/users/{huge}/following"),
    ] {
        let a = d.get(t, &path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        assert_eq!(a.body["errors"][0], not_found("user", "id", huge), "{path}");
    }
    // Twenty digits are outside the pattern.
    let twenty = format!("0{huge}");
    d.get(t, &format!("/2/tweets/{twenty}"))
        .await
        .assert_invalid(json!([problem(
            "id",
            &[&twenty],
            &format!("The `id` query parameter value [{twenty}] is not valid")
        )]));
    d.get(t, "/2/tweets/0001")
        .await
        .assert_ok(&json!({"errors": [not_found("tweet", "id", "0001")]}));
    d.get(t, &format!("/2/tweets?ids=07,{huge}"))
        .await
        .assert_ok(
            &json!({"errors": [not_found("tweet", "ids", "07"), not_found("tweet", "ids", huge)]}),
        );
    // As a bound, the largest id there is: nothing is newer, everything older.
    let a = d
        .get(t, &format!("/2/users/{ALICE}/tweets?since_id={huge}"))
        .await;
    assert_eq!(a.body, json!({"meta": {"result_count": 0}}));
    let a = d
        .get(
            t,
            &format!("/2/users/{ALICE}/tweets?until_id={huge}&max_results=5"),
        )
        .await;
    assert_eq!(a.body["meta"]["result_count"], 5, "{}", a.body);
}

/// `confirmed_email` needs `users.email` (scopes.md §2) and is the token's own user's only;
/// without either it is left out, as a field without a value is.
#[tokio::test]
async fn confirmed_email_is_for_the_users_own_token_with_users_email() {
    let d = Demo::start(READ).await;
    let email = access(
        &d.app
            .tokens_for(
                "alice",
                "alice-password",
                "tweet.read users.read users.email",
            )
            .await,
    );
    let path = "/2/users/me?user.fields=confirmed_email";
    d.get(&email, path).await.assert_ok(&json!({"data": {
        "id": ALICE, "name": "Alice Example", "username": "alice", "confirmed_email": "alice@example.com"
    }}));
    assert_eq!(demo_user(ALICE)["confirmed_email"], "alice@example.com");
    // By id too, and in includes... but never someone else's.
    d.get(&email, &format!("/2/users?ids={ALICE},{BOB}&user.fields=confirmed_email"))
        .await
        .assert_ok(&json!({"data": [
            {"id": ALICE, "name": "Alice Example", "username": "alice", "confirmed_email": "alice@example.com"},
            defaults(BOB)
        ]}));
    // Without the scope, or as the App: nothing.
    d.get(&d.alice, path)
        .await
        .assert_ok(&json!({"data": defaults(ALICE)}));
    d.get(
        &d.app_token,
        &format!("/2/users/{ALICE}?user.fields=confirmed_email"),
    )
    .await
    .assert_ok(&json!({"data": defaults(ALICE)}));
}

/// The user fields X documents that roost had accepted but never returned.
#[tokio::test]
async fn verified_followers_subscription_and_withheld_are_returned() {
    let d = Demo::start(READ).await;
    let verified: std::collections::HashSet<&str> = demo()["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["verified"] == true)
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    let expected = demo()["follows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["target_user_id"] == ALICE
                && f["pending"] != true
                && verified.contains(f["source_user_id"].as_str().unwrap())
        })
        .count();
    assert!(expected > 0);
    let path = format!("/2/users/{ALICE}?user.fields=verified_followers_count,subscription");
    d.get(&d.bob, &path).await.assert_ok(&json!({"data": {
        "id": ALICE, "name": "Alice Example", "username": "alice",
        "verified_followers_count": expected,
        // Nobody subscribes to anybody in roost.
        "subscription": {"subscribes_to_you": false}
    }}));
    // 2.167's name of the same answer; an App is no "you".
    d.get(
        &d.bob,
        &format!("/2/users/{ALICE}?user.fields=subscribes_to_you"),
    )
    .await
    .assert_ok(&json!({"data": {
        "id": ALICE, "name": "Alice Example", "username": "alice", "subscribes_to_you": false
    }}));
    d.get(&d.app_token, &path).await.assert_ok(&json!({"data": {
        "id": ALICE, "name": "Alice Example", "username": "alice",
        "verified_followers_count": expected
    }}));
    // `withheld` only where an import set it.
    d.get(&d.bob, &format!("/2/users/{ALICE}?user.fields=withheld"))
        .await
        .assert_ok(&json!({"data": defaults(ALICE)}));
    d.app
        .import_json(
            &json!({"users": [{"id": "77", "username": "withheld_one", "name": "W",
                               "withheld": {"country_codes": ["DE", "FR"]}}]})
            .to_string(),
        )
        .await;
    d.get(&d.bob, "/2/users/77?user.fields=withheld")
        .await
        .assert_ok(&json!({"data": {
            "id": "77", "name": "W", "username": "withheld_one",
            "withheld": {"country_codes": ["DE", "FR"], "scope": "user"}
        }}));
}

/// OpenAPI 2.167's user names: `subscribes_to_you` is accepted, and the 2.159 list X's
/// messages print stays 2.159's.
#[tokio::test]
async fn user_fields_of_2_167_are_accepted() {
    let d = Demo::start(READ).await;
    let a = d
        .get(
            &d.alice,
            "/2/users/me?user.fields=subscribes_to_you,most_recent_tweet_id",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    d.get(&d.alice, "/2/users/me?user.fields=bogus")
        .await
        .assert_invalid(json!([problem(
            "user.fields",
            &["bogus"],
            &format!(
                "The `user.fields` query parameter value [bogus] is not one of [{ALL_USER_FIELDS}]"
            )
        )]));
}

/// OpenAPI 2.167 renamed the user's `tweet_count` to `post_count` and requires it; X's Python
/// SDK (xdk, generated from 2.167) refuses a user without it, while 2.159 clients (tweepy,
/// twitter-api-v2) read `tweet_count`: both are sent, with the same value.
#[tokio::test]
async fn public_metrics_carry_2_167s_post_count_beside_tweet_count() {
    let d = Demo::start(READ).await;
    let a = d
        .get(&d.alice, "/2/users/me?user.fields=public_metrics")
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let m = &a.body["data"]["public_metrics"];
    // The demo file is the oracle: alice's posts in it, not a number copied from it.
    assert_eq!(m["post_count"], demo_timeline(ALICE).len(), "{m}");
    assert_eq!(m["post_count"], m["tweet_count"], "{m}");
}
