//! Tweets over HTTP (spec/x-api-v2.md §2): lookup, create, delete and the user timeline, against
//! the demo data set. Expected values come from the demo file (`support::demo()`).

use serde_json::{Map, Value, json};

use crate::users::support::*;

/// alice's reply to judy_reads' (protected) tweet below.
const ALICE_TO_JUDY: &str = "2069298761037893635";
const JUDY_TWEET: &str = "2069187054141317121";
/// grace_ops retweeting alice: a mention, a URL and two hashtags.
const GRACE_RT: &str = "1893076336770420738";
const ALICE_ORIGINAL: &str = "1892950855775621122";
/// niaj_dev replying to XDevsDemo and mentioning alice.
const NIAJ_REPLY: &str = "2092417433335504898";
const XDEVSDEMO_TWEET: &str = "2092300890407362562";
const XDEVSDEMO: &str = "1229802884691632131";
const NIAJ: &str = "1612377570541387776";
const GRACE: &str = "1191543982914273288";
/// bob's reply in a conversation with alice.
const BOB_REPLY: &str = "2101237131900112898";

const ALL_FILLED: &str = "author_id,conversation_id,created_at,edit_controls,entities,in_reply_to_user_id,lang,possibly_sensitive,public_metrics,referenced_tweets,reply_settings,source";

/// A demo tweet with the default fields and `fields` copied from the demo file (fields the file
/// leaves out are left out, as X does).
fn tweet_obj(id: &str, fields: &[&str]) -> Value {
    let t = demo_tweet(id);
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("text".into(), t["text"].clone());
    m.insert("edit_history_tweet_ids".into(), json!([id]));
    for f in fields {
        if let Some(v) = t.get(*f) {
            m.insert((*f).to_owned(), v.clone());
        }
    }
    Value::Object(m)
}

/// A demo user with the default fields and `fields` copied from the demo file.
fn user_obj(id: &str, fields: &[&str]) -> Value {
    let u = demo_user(id);
    let mut m = Map::new();
    for f in ["id", "name", "username"].iter().chain(fields) {
        if let Some(v) = u.get(*f) {
            m.insert((*f).to_owned(), v.clone());
        }
    }
    Value::Object(m)
}

fn metrics(id: &str) -> Value {
    let t = &demo_tweet(id)["public_metrics"];
    json!({
        "retweet_count": demo_ref_count(id, "retweeted"),
        "reply_count": demo_ref_count(id, "replied_to"),
        "like_count": t["like_count"],
        "quote_count": demo_ref_count(id, "quoted"),
        "bookmark_count": t["bookmark_count"],
        "impression_count": t["impression_count"]
    })
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|t| t["id"].as_str().expect("id").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn timeline_ids(user: &str) -> Vec<String> {
    demo_timeline(user)
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Lookup

#[tokio::test]
async fn lookup_default_fields_are_id_text_edit_history() {
    let d = Demo::start(READ).await;
    d.get(&d.bob, &format!("/2/tweets/{ALICE_ORIGINAL}"))
        .await
        .assert_ok(&json!({"data": tweet_obj(ALICE_ORIGINAL, &[])}));
    // In the order asked for.
    d.get(
        &d.app_token,
        &format!("/2/tweets?ids={NIAJ_REPLY},{ALICE_ORIGINAL}"),
    )
    .await
    .assert_ok(&json!({"data": [tweet_obj(NIAJ_REPLY, &[]), tweet_obj(ALICE_ORIGINAL, &[])]}));
    // Percent-encoded list (quirk 14) and the TypeScript SDK's content type on a GET (quirk 12).
    let a = get_with(
        &d.app,
        &d.alice,
        &format!("/2/tweets?ids={NIAJ_REPLY}%2C{ALICE_ORIGINAL}"),
        &[("content-type", "application/json")],
    )
    .await;
    a.assert_ok(&json!({"data": [tweet_obj(NIAJ_REPLY, &[]), tweet_obj(ALICE_ORIGINAL, &[])]}));
}

#[tokio::test]
async fn every_tweet_field_roost_fills_matches_the_data() {
    let d = Demo::start(READ).await;
    let simple = [
        "author_id",
        "conversation_id",
        "created_at",
        "in_reply_to_user_id",
        "lang",
        "referenced_tweets",
        "reply_settings",
        "source",
    ];
    // A reply to someone else: not edit eligible; editable 30 minutes after creation.
    let niaj = with(
        tweet_obj(NIAJ_REPLY, &simple),
        json!({
            "edit_controls": {"edits_remaining": 5, "is_edit_eligible": false, "editable_until": "2026-08-26T01:32:46.000Z"},
            "entities": {"mentions": [
                {"start": 0, "end": 10, "username": "XDevsDemo", "id": XDEVSDEMO},
                {"start": 20, "end": 26, "username": "alice", "id": ALICE}
            ]},
            "possibly_sensitive": false,
            "public_metrics": metrics(NIAJ_REPLY)
        }),
    );
    assert_eq!(niaj["in_reply_to_user_id"], XDEVSDEMO);
    assert_eq!(niaj["conversation_id"], XDEVSDEMO_TWEET);
    let path = format!("/2/tweets/{NIAJ_REPLY}?tweet.fields={ALL_FILLED}");
    d.get(&d.alice, &path)
        .await
        .assert_ok(&json!({"data": niaj}));

    // A retweet (never edit eligible) with every kind of entity, and an original with counts.
    let grace = with(
        tweet_obj(GRACE_RT, &simple),
        json!({
            "edit_controls": {"edits_remaining": 5, "is_edit_eligible": false, "editable_until": "2025-02-21T23:42:25.000Z"},
            "entities": {
                "mentions": [{"start": 3, "end": 9, "username": "alice", "id": ALICE}],
                "urls": [{
                    "start": 94, "end": 140,
                    "url": "https://alice.example.com/notes/refresh-tokens",
                    "expanded_url": "https://alice.example.com/notes/refresh-tokens",
                    "display_url": "alice.example.com/notes/re\u{2026}"
                }],
                "hashtags": [{"start": 141, "end": 147, "tag": "OAuth"}, {"start": 148, "end": 156, "tag": "testing"}]
            },
            "possibly_sensitive": false,
            "public_metrics": metrics(GRACE_RT)
        }),
    );
    let original = metrics(XDEVSDEMO_TWEET);
    assert_eq!(original["like_count"], 152);
    assert_eq!(original["reply_count"], 1);
    let xdevs = with(
        tweet_obj(XDEVSDEMO_TWEET, &simple),
        json!({
            "edit_controls": {"edits_remaining": 5, "is_edit_eligible": true, "editable_until": "2026-08-25T17:49:40.000Z"},
            "entities": {"mentions": [{"start": 22, "end": 28, "username": "alice", "id": ALICE}]},
            "possibly_sensitive": false,
            "public_metrics": original
        }),
    );
    let path = format!("/2/tweets?ids={GRACE_RT},{XDEVSDEMO_TWEET}&tweet.fields={ALL_FILLED}");
    d.get(&d.app_token, &path)
        .await
        .assert_ok(&json!({"data": [grace, xdevs]}));

    // A reply in one's own thread stays edit eligible; `post.fields` is `tweet.fields`.
    let path = "/2/tweets/2004101841156706306?post.fields=edit_controls,in_reply_to_user_id";
    d.get(&d.bob, path).await.assert_ok(&json!({"data": with(
        tweet_obj("2004101841156706306", &["in_reply_to_user_id"]),
        json!({"edit_controls": {"edits_remaining": 5, "is_edit_eligible": true, "editable_until": "2025-12-25T08:38:08.000Z"}})
    )}));
}

#[tokio::test]
async fn expansions_fill_includes_once_each_with_their_fields() {
    let d = Demo::start(READ).await;
    let path = format!(
        "/2/tweets?ids={GRACE_RT},{NIAJ_REPLY}&tweet.fields=author_id&user.fields=created_at,verified\
         &expansions=author_id,referenced_tweets.id,referenced_tweets.id.author_id,in_reply_to_user_id,entities.mentions.username"
    );
    let a = d.get(&d.bob, &path).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_ids_are_strings(&a.body);
    assert_eq!(
        a.body["data"],
        json!([
            tweet_obj(GRACE_RT, &["author_id"]),
            tweet_obj(NIAJ_REPLY, &["author_id"])
        ])
    );
    // alice is a mention in both and the retweeted author: once. XDevsDemo is the replied-to
    // user, a mention and the referenced author: once.
    let fields = ["created_at", "verified"];
    assert_eq!(
        by_id(&a.body["includes"]["users"]),
        vec![
            user_obj(ALICE, &fields),
            user_obj(GRACE, &fields),
            user_obj(XDEVSDEMO, &fields),
            user_obj(NIAJ, &fields),
        ]
    );
    assert_eq!(
        by_id(&a.body["includes"]["tweets"]),
        vec![
            tweet_obj(ALICE_ORIGINAL, &["author_id"]),
            tweet_obj(XDEVSDEMO_TWEET, &["author_id"]),
        ]
    );
    assert!(a.body.get("errors").is_none(), "{}", a.body);

    // One expansion at a time adds only its own objects.
    let a = d
        .get(
            &d.bob,
            &format!("/2/tweets/{NIAJ_REPLY}?expansions=in_reply_to_user_id"),
        )
        .await;
    a.assert_ok(&json!({
        "data": tweet_obj(NIAJ_REPLY, &[]),
        "includes": {"users": [user_obj(XDEVSDEMO, &[])]}
    }));
    let a = d
        .get(
            &d.bob,
            &format!("/2/tweets/{GRACE_RT}?expansions=referenced_posts"),
        )
        .await;
    a.assert_ok(&json!({
        "data": tweet_obj(GRACE_RT, &[]),
        "includes": {"tweets": [tweet_obj(ALICE_ORIGINAL, &[])]}
    }));
}

#[tokio::test]
async fn protected_tweets_are_for_followers_only() {
    let d = Demo::start(READ).await;
    let path = format!("/2/tweets/{JUDY_TWEET}");
    // alice follows judy_reads; bob does not; an App is nobody's follower.
    d.get(&d.alice, &path)
        .await
        .assert_ok(&json!({"data": tweet_obj(JUDY_TWEET, &[])}));
    for token in [&d.bob, &d.app_token] {
        d.get(token, &path)
            .await
            .assert_ok(&json!({"errors": [not_authorized("tweet", "id", JUDY_TWEET, "data")]}));
        d.get(
            token,
            &format!("/2/tweets?ids={JUDY_TWEET},{ALICE_ORIGINAL}"),
        )
        .await
        .assert_ok(&json!({
            "data": [tweet_obj(ALICE_ORIGINAL, &[])],
            "errors": [not_authorized("tweet", "ids", JUDY_TWEET, "data")]
        }));
    }
    // alice's reply to judy's tweet is public; the tweet it replies to is not. X reports the
    // expansion it could not fill in the `includes` section (docs: GET /2/users/:id/tweets).
    let path = format!("/2/tweets/{ALICE_TO_JUDY}?expansions=referenced_tweets.id");
    d.get(&d.bob, &path).await.assert_ok(&json!({
        "data": tweet_obj(ALICE_TO_JUDY, &[]),
        "errors": [not_authorized("tweet", "referenced_tweets.id", JUDY_TWEET, "includes")]
    }));
    d.get(&d.alice, &path).await.assert_ok(&json!({
        "data": tweet_obj(ALICE_TO_JUDY, &[]),
        "includes": {"tweets": [tweet_obj(JUDY_TWEET, &[])]}
    }));
}

#[tokio::test]
async fn lookup_errors() {
    let d = Demo::start(READ).await;
    let t = &d.alice;
    d.get(t, "/2/tweets/1276230436478386177")
        .await
        .assert_ok(&json!({"errors": [not_found("tweet", "id", "1276230436478386177")]}));
    d.get(
        t,
        &format!("/2/tweets?ids={ALICE_ORIGINAL},1276230436478386177"),
    )
    .await
    .assert_ok(&json!({
        "data": [tweet_obj(ALICE_ORIGINAL, &[])],
        "errors": [not_found("tweet", "ids", "1276230436478386177")]
    }));
    // X's own capture (abraham/twitteroauth#1028): the placeholder left in the path.
    d.get(t, "/2/tweets/:id")
        .await
        .assert_invalid(json!([problem(
            "id",
            &[":id"],
            "The `id` query parameter value [:id] is not valid"
        )]));
    // ...and the id given again as a query parameter: both problems, every value in each.
    let both = [":id", "1247616214769086465"];
    d.get(t, "/2/tweets/:id?id=1247616214769086465")
        .await
        .assert_invalid(json!([
            problem(
                "id",
                &both,
                "The `id` query parameter value [:id] is not valid"
            ),
            problem(
                "id",
                &both,
                "Duplicate parameters are not allowed: the `id` query parameter"
            )
        ]));
    d.get(t, "/2/tweets").await.assert_invalid(json!([problem(
        "ids",
        &[],
        "The ids query parameter can not be empty"
    )]));
    d.get(
        t,
        &format!("/2/tweets/{ALICE_ORIGINAL}?tweet.fields=lang&tweet.fields=lang"),
    )
    .await
    .assert_invalid(json!([problem(
        "tweet.fields",
        &["lang", "lang"],
        "Duplicate parameters are not allowed: the `tweet.fields` query parameter"
    )]));
    d.get(t, &format!("/2/tweets/{ALICE_ORIGINAL}?exclude=replies"))
        .await
        .assert_invalid(json!([problem(
            "exclude",
            &["replies"],
            "The query parameter [exclude] is not one of [id,expansions,media.fields,place.fields,poll.fields,tweet.fields,user.fields]"
        )]));
    d.get(t, &format!("/2/tweets/{ALICE_ORIGINAL}?expansions=pinned_tweet_id"))
        .await
        .assert_invalid(json!([problem(
            "expansions",
            &["pinned_tweet_id"],
            "The `expansions` query parameter value [pinned_tweet_id] is not one of [article.cover_media,article.media_entities,attachments.media_keys,attachments.media_source_tweet,attachments.poll_ids,author_id,edit_history_tweet_ids,entities.mentions.username,geo.place_id,in_reply_to_user_id,entities.note.mentions.username,referenced_tweets.id,referenced_tweets.id.attachments.media_keys,referenced_tweets.id.author_id]"
        )]));
    // Media, poll and place fields are checked even though roost has no media, polls or places.
    d.get(t, &format!("/2/tweets/{ALICE_ORIGINAL}?media.fields=url&poll.fields=colour"))
        .await
        .assert_invalid(json!([problem(
            "poll.fields",
            &["colour"],
            "The `poll.fields` query parameter value [colour] is not one of [duration_minutes,end_datetime,id,options,voting_status]"
        )]));
}

// ---------------------------------------------------------------------------------------------
// Create

fn created_id(a: &Answer, text: &str) -> String {
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.content_type(), "application/json; charset=utf-8");
    let id = a.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        a.body,
        json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}})
    );
    assert_ids_are_strings(&a.body);
    id
}

#[tokio::test]
async fn a_new_tweet_is_201_then_visible_in_lookup_and_first_in_the_timeline() {
    let d = Demo::start(WRITE).await;
    clock_after_demo(&d.app);
    let now = d.app.state.now();
    let text = "Shipping the roost test suite today \u{1f680} #rust";
    let a = post_json(&d.app, &d.alice, "/2/tweets", &json!({"text": text})).await;
    let id = created_id(&a, text);

    let a = d
        .get(
            &d.bob,
            &format!(
                "/2/tweets/{id}?tweet.fields=author_id,conversation_id,created_at,reply_settings,referenced_tweets,in_reply_to_user_id"
            ),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let created = a.body["data"]["created_at"].as_str().expect("created_at");
    let created_ms =
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339")
            .unix_timestamp_nanos()
            / 1_000_000;
    assert_eq!(created_ms, i128::from(now));
    assert_eq!(
        a.body,
        json!({"data": {
            "id": id, "text": text, "edit_history_tweet_ids": [id], "author_id": ALICE,
            "conversation_id": id, "created_at": created, "reply_settings": "everyone"
        }})
    );

    let a = d
        .get(&d.app_token, &format!("/2/users/{ALICE}/tweets"))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut expected = vec![id.clone()];
    expected.extend(timeline_ids(ALICE).into_iter().take(9));
    assert_eq!(ids_of(&a.body["data"]), expected);
    assert_eq!(a.body["meta"]["newest_id"], json!(id));
    let a = d
        .get(
            &d.app_token,
            &format!("/2/users/{ALICE}?user.fields=public_metrics,most_recent_tweet_id"),
        )
        .await;
    assert_eq!(
        a.body["data"]["public_metrics"]["tweet_count"],
        timeline_ids(ALICE).len() + 1
    );
    assert_eq!(a.body["data"]["most_recent_tweet_id"], json!(id));

    // X's content type with a charset is JSON too; 280 characters are allowed.
    let long = "x".repeat(279) + "\u{e9}";
    let a = post_raw(
        &d.app,
        &d.bob,
        "/2/tweets",
        "application/json; charset=utf-8",
        &json!({"text": long}).to_string(),
    )
    .await;
    created_id(&a, &long);
}

#[tokio::test]
async fn replies_and_quotes_carry_their_references() {
    let d = Demo::start(WRITE).await;
    clock_after_demo(&d.app);
    let fields = "tweet.fields=author_id,conversation_id,in_reply_to_user_id,referenced_tweets,public_metrics";
    let before = d
        .get(&d.alice, &format!("/2/tweets/{BOB_REPLY}?{fields}"))
        .await;
    let replies_before = before.body["data"]["public_metrics"]["reply_count"]
        .as_i64()
        .expect("reply_count");

    let text = "@bob Thursday, 10:00 at the usual place.";
    let a = post_json(
        &d.app,
        &d.alice,
        "/2/tweets",
        &json!({"text": text, "reply": {"in_reply_to_tweet_id": BOB_REPLY}}),
    )
    .await;
    let reply = created_id(&a, text);
    let conversation = demo_tweet(BOB_REPLY)["conversation_id"].clone();
    let a = d
        .get(
            &d.bob,
            &format!("/2/tweets/{reply}?{fields}&expansions=referenced_tweets.id"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["conversation_id"], conversation);
    assert_eq!(a.body["data"]["in_reply_to_user_id"], BOB);
    assert_eq!(a.body["data"]["author_id"], ALICE);
    assert_eq!(
        a.body["data"]["referenced_tweets"],
        json!([{"type": "replied_to", "id": BOB_REPLY}])
    );
    assert_eq!(ids_of(&a.body["includes"]["tweets"]), vec![BOB_REPLY]);
    let after = d
        .get(&d.alice, &format!("/2/tweets/{BOB_REPLY}?{fields}"))
        .await;
    assert_eq!(
        after.body["data"]["public_metrics"]["reply_count"],
        replies_before + 1
    );

    let text = "This is how you write a spotlight.";
    let a = post_json(
        &d.app,
        &d.bob,
        "/2/tweets",
        &json!({"text": text, "quote_tweet_id": XDEVSDEMO_TWEET}),
    )
    .await;
    let quote = created_id(&a, text);
    let a = d
        .get(&d.alice, &format!("/2/tweets/{quote}?{fields}"))
        .await;
    assert_eq!(
        a.body["data"],
        json!({
            "id": quote, "text": text, "edit_history_tweet_ids": [quote], "author_id": BOB,
            "conversation_id": quote,
            "referenced_tweets": [{"type": "quoted", "id": XDEVSDEMO_TWEET}],
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0, "bookmark_count": 0, "impression_count": 0}
        })
    );
    let a = d
        .get(&d.alice, &format!("/2/tweets/{XDEVSDEMO_TWEET}?{fields}"))
        .await;
    assert_eq!(
        a.body["data"]["public_metrics"]["quote_count"],
        demo_ref_count(XDEVSDEMO_TWEET, "quoted") + 1
    );
}

#[tokio::test]
async fn refused_creates_say_why_and_create_nothing() {
    let d = Demo::start(WRITE).await;
    clock_after_demo(&d.app);
    let app = &d.app;
    let counts = app.row_counts().await;
    let bad_body = |message: &str| json!([{"parameters": {}, "message": message}]);

    // The body must be JSON, declared as such (abraham/twitteroauth#1082).
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        post_raw(app, &d.alice, "/2/tweets", ct, r#"{"text":"hello"}"#)
            .await
            .assert_invalid(bad_body(
                "Requests with bodies must have content-type of application/json.",
            ));
    }
    // The OpenAPI schema allows no other members.
    post_json(app, &d.alice, "/2/tweets", &json!({"text": "hi", "colour": "red"}))
        .await
        .assert_invalid(bad_body(
            "$.colour: is not defined in the schema and the schema does not allow additional properties",
        ));
    post_json(
        app,
        &d.alice,
        "/2/tweets",
        &json!({"text": "hi", "reply": {"in_reply_to_tweet_id": BOB_REPLY, "mood": 1}}),
    )
    .await
    .assert_invalid(bad_body(
        "$.reply.mood: is not defined in the schema and the schema does not allow additional properties",
    ));
    // roost's wording for requests X's capture does not cover.
    post_json(app, &d.alice, "/2/tweets", &json!({"text": ""}))
        .await
        .assert_invalid(bad_body(
            "$.text: the text of the Tweet is required and must not be empty (unless the Tweet quotes one)",
        ));
    post_json(
        app,
        &d.alice,
        "/2/tweets",
        &json!({"text": "hi", "quote_tweet_id": "abc"}),
    )
    .await
    .assert_invalid(bad_body(
        "$.quote_tweet_id: string [abc] does not match pattern ^[0-9]{1,19}$",
    ));
    let a = post_raw(app, &d.alice, "/2/tweets", "application/json", "{\"text\":").await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.body["title"], "Invalid Request");
    assert!(
        a.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("$: the request body is not valid JSON")),
        "{}",
        a.body
    );

    // U+0000 is valid JSON but no text of a post (and PostgreSQL cannot store it): the same
    // 400 on both stores, not a store failure.
    post_json(
        app,
        &d.alice,
        "/2/tweets",
        &json!({"text": "nul \u{0} inside"}),
    )
    .await
    .assert_invalid(bad_body("$.text: must not contain U+0000"));

    // Too long: X's 400 as clients report it ("400 Bad Request\nYour Tweet text is too long.
    // ..."). roost counts characters against 280 (no weighting of URLs or emoji).
    post_json(app, &d.alice, "/2/tweets", &json!({"text": "y".repeat(281)}))
        .await
        .assert_invalid(bad_body(
            "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.",
        ));
    // Duplicate of one of alice's own tweets.
    let own = demo_tweet("2107610603324186624")["text"].clone();
    post_json(app, &d.alice, "/2/tweets", &json!({"text": own}))
        .await
        .assert_forbidden("You are not allowed to create a Tweet with duplicate content.");
    // Replies and quotes of tweets that do not exist or that the author may not see.
    for target in ["1276230436478386177", JUDY_TWEET] {
        post_json(
            app,
            &d.bob,
            "/2/tweets",
            &json!({"text": "Reply?", "reply": {"in_reply_to_tweet_id": target}}),
        )
        .await
        .assert_forbidden(
            "You attempted to reply to a Tweet that is deleted or not visible to you.",
        );
        post_json(
            app,
            &d.bob,
            "/2/tweets",
            &json!({"text": "Quote?", "quote_tweet_id": target}),
        )
        .await
        .assert_forbidden("You attempted to quote a Tweet that is deleted or not visible to you.");
    }
    // An App is not a user; a user token needs tweet.write.
    let a = post_json(
        app,
        &d.app_token,
        "/2/tweets",
        &json!({"text": "from the app"}),
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.body, unsupported_authentication());
    let read_only = access(&app.tokens_for("alice", "alice-password", READ).await);
    post_json(app, &read_only, "/2/tweets", &json!({"text": "no scope"}))
        .await
        .assert_forbidden("Forbidden");

    assert_eq!(app.row_counts().await["tweets"], counts["tweets"]);

    // The first of two identical new tweets is fine, the second is a duplicate.
    let a = post_json(app, &d.alice, "/2/tweets", &json!({"text": "Only once."})).await;
    created_id(&a, "Only once.");
    post_json(app, &d.alice, "/2/tweets", &json!({"text": "Only once."}))
        .await
        .assert_forbidden("You are not allowed to create a Tweet with duplicate content.");
    assert_eq!(app.row_counts().await["tweets"], counts["tweets"] + 1);
}

// ---------------------------------------------------------------------------------------------
// Delete

#[tokio::test]
async fn the_author_deletes_and_the_tweet_is_gone_everywhere() {
    let d = Demo::start(WRITE).await;
    clock_after_demo(&d.app);
    let app = &d.app;
    let text = "A tweet with a short life.";
    let id = created_id(
        &post_json(app, &d.alice, "/2/tweets", &json!({"text": text})).await,
        text,
    );
    let reply_text = "@alice Saw it before it went!";
    let reply = created_id(
        &post_json(
            app,
            &d.bob,
            "/2/tweets",
            &json!({"text": reply_text, "reply": {"in_reply_to_tweet_id": id}}),
        )
        .await,
        reply_text,
    );
    let counts = app.row_counts().await;

    // Someone else's tweet: refused, nothing deleted.
    let a = delete(app, &d.bob, &format!("/2/tweets/{id}")).await;
    a.assert_forbidden("You are not allowed to delete a Tweet that is not yours.");
    let a = delete(app, &d.app_token, &format!("/2/tweets/{id}")).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.body, unsupported_authentication());
    assert_eq!(app.row_counts().await, counts);
    assert_eq!(d.get(&d.bob, &format!("/2/tweets/{id}")).await.status, 200);

    // The author, with the TypeScript SDK's content type on a body-less DELETE (quirk 12).
    let resp = app
        .http
        .delete(app.url(&format!("/2/tweets/{id}")))
        .bearer_auth(&d.alice)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"data": {"deleted": true}}));
    assert_eq!(app.row_counts().await["tweets"], counts["tweets"] - 1);

    d.get(&d.alice, &format!("/2/tweets/{id}"))
        .await
        .assert_ok(&json!({"errors": [not_found("tweet", "id", &id)]}));
    d.get(&d.alice, &format!("/2/tweets?ids={id},{reply}"))
        .await
        .assert_ok(&json!({
            "data": [{"id": reply, "text": reply_text, "edit_history_tweet_ids": [reply]}],
            "errors": [not_found("tweet", "ids", &id)]
        }));
    let a = d
        .get(
            &d.app_token,
            &format!("/2/users/{ALICE}/tweets?max_results=100"),
        )
        .await;
    assert_eq!(ids_of(&a.body["data"]), timeline_ids(ALICE));
    // The reply keeps its reference; the expansion reports the tweet as not found, like X does
    // for a deleted referenced tweet.
    d.get(
        &d.alice,
        &format!(
            "/2/tweets/{reply}?expansions=referenced_tweets.id&tweet.fields=referenced_tweets"
        ),
    )
    .await
    .assert_ok(&json!({
        "data": {
            "id": reply, "text": reply_text, "edit_history_tweet_ids": [reply],
            "referenced_tweets": [{"type": "replied_to", "id": id}]
        },
        "errors": [not_found("tweet", "referenced_tweets.id", &id)]
    }));
    // Deleting again: nothing left to delete (roost's answer; X documents none).
    let a = delete(app, &d.alice, &format!("/2/tweets/{id}")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, json!({"data": {"deleted": false}}));
}

#[tokio::test]
async fn deleting_the_pinned_tweet_unpins_it() {
    let d = Demo::start(WRITE).await;
    let pinned = "2062647119183060992";
    let a = delete(&d.app, &d.alice, &format!("/2/tweets/{pinned}")).await;
    assert_eq!(a.body, json!({"data": {"deleted": true}}));
    d.get(
        &d.bob,
        "/2/users/by/username/alice?user.fields=pinned_tweet_id,public_metrics&expansions=pinned_tweet_id",
    )
    .await
    .assert_ok(&json!({"data": {
        "id": ALICE, "name": "Alice Example", "username": "alice",
        "public_metrics": {
            "followers_count": demo_follow_counts(ALICE).0,
            "following_count": demo_follow_counts(ALICE).1,
            "tweet_count": timeline_ids(ALICE).len() - 1,
            "post_count": timeline_ids(ALICE).len() - 1,
            "listed_count": demo_user(ALICE)["public_metrics"]["listed_count"],
            "like_count": demo_user(ALICE)["public_metrics"]["like_count"]
        }
    }}));
    delete(&d.app, &d.alice, "/2/tweets/abc")
        .await
        .assert_invalid(json!([problem(
            "id",
            &["abc"],
            "The `id` query parameter value [abc] is not valid"
        )]));
}

// ---------------------------------------------------------------------------------------------
// Timeline

fn timeline(user: &str, query: &str) -> String {
    format!("/2/users/{user}/tweets?{query}")
}

#[tokio::test]
async fn timeline_first_page_is_the_ten_newest() {
    let d = Demo::start(READ).await;
    let all = timeline_ids(ALICE);
    let a = d
        .get(&d.app_token, &format!("/2/users/{ALICE}/tweets"))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(ids_of(&a.body["data"]), all[..10].to_vec());
    let meta = a.body["meta"].as_object().expect("meta");
    let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4, "{meta:?}");
    assert_eq!(meta["result_count"], 10);
    assert_eq!(meta["newest_id"], json!(all[0]));
    assert_eq!(meta["oldest_id"], json!(all[9]));
    let token = meta["next_token"].as_str().expect("next_token");
    assert!(token.len() >= 16, "{token}");
    assert!(a.body.get("includes").is_none());
    // Fields and expansions apply to timeline tweets as to lookups.
    let a = d
        .get(
            &d.bob,
            &timeline(
                ALICE,
                "max_results=5&tweet.fields=author_id,created_at&expansions=author_id&user.fields=verified",
            ),
        )
        .await;
    let data: Vec<Value> = all[..5]
        .iter()
        .map(|id| tweet_obj(id, &["author_id", "created_at"]))
        .collect();
    assert_eq!(a.body["data"], json!(data));
    assert_eq!(
        a.body["includes"],
        json!({"users": [user_obj(ALICE, &["verified"])]})
    );
}

#[tokio::test]
async fn timeline_pages_walk_every_tweet_once_in_order_and_back() {
    let d = Demo::start(READ).await;
    let all = timeline_ids(ALICE);
    // Pages of 5: several full ones and a last, shorter one.
    assert!(
        all.len() > 10 && !all.len().is_multiple_of(5),
        "{}",
        all.len()
    );
    let page_count = all.len().div_ceil(5);
    let mut pages: Vec<Value> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = "max_results=5".to_owned();
        if let Some(t) = &token {
            q.push_str(&format!("&pagination_token={t}"));
        }
        let a = d.get(&d.alice, &timeline(ALICE, &q)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_ids_are_strings(&a.body);
        let ids = ids_of(&a.body["data"]);
        let meta = &a.body["meta"];
        let n = pages.len();
        let expected = &all[n * 5..(n * 5 + 5).min(all.len())];
        assert_eq!(ids, expected.to_vec(), "page {n}");
        assert_eq!(meta["result_count"], ids.len());
        assert_eq!(meta["newest_id"], json!(ids[0]));
        assert_eq!(meta["oldest_id"], json!(ids[ids.len() - 1]));
        assert_eq!(
            meta.get("previous_token").is_some(),
            n > 0,
            "page {n}: {meta}"
        );
        seen.extend(ids);
        token = meta
            .get("next_token")
            .and_then(Value::as_str)
            .map(str::to_owned);
        pages.push(a.body);
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages.len(), page_count);
    assert_eq!(seen, all);
    // The last page has no next_token at all, not a null one (quirk 16).
    let last = pages[page_count - 1]["meta"].as_object().expect("meta");
    assert!(!last.contains_key("next_token"), "{last:?}");
    assert_eq!(last["result_count"], all.len() % 5);

    // Every previous_token leads back to the page before, exactly as it was served.
    for n in (1..pages.len()).rev() {
        let prev = pages[n]["meta"]["previous_token"]
            .as_str()
            .expect("previous_token");
        let a = d
            .get(
                &d.alice,
                &timeline(ALICE, &format!("max_results=5&pagination_token={prev}")),
            )
            .await;
        assert_eq!(a.body, pages[n - 1], "back from page {n}");
    }
}

#[tokio::test]
async fn timeline_max_results_is_5_to_100() {
    let d = Demo::start(READ).await;
    let all = timeline_ids(ALICE);
    let n_all = all.len();
    assert!(n_all > 5 && n_all <= 100, "{n_all}");
    for (q, n) in [("max_results=5", 5), ("max_results=100", n_all)] {
        let a = d.get(&d.app_token, &timeline(ALICE, q)).await;
        assert_eq!(ids_of(&a.body["data"]), all[..n].to_vec(), "{q}");
    }
    let a = d
        .get(&d.app_token, &timeline(ALICE, "max_results=100"))
        .await;
    assert_eq!(
        a.body["meta"],
        json!({"result_count": n_all, "newest_id": all[0], "oldest_id": all[n_all - 1]})
    );
    for v in ["4", "101", "0", "ten"] {
        d.get(&d.app_token, &timeline(ALICE, &format!("max_results={v}")))
            .await
            .assert_invalid(json!([problem(
                "max_results",
                &[v],
                &format!("The `max_results` query parameter value [{v}] is not between 5 and 100")
            )]));
    }
}

#[tokio::test]
async fn timeline_exclude_replies_and_retweets() {
    let d = Demo::start(READ).await;
    let tl = demo_timeline(ALICE);
    let keep = |no_replies: bool, no_retweets: bool| -> Vec<String> {
        tl.iter()
            .filter(|t| !(no_replies && demo_ref(t, "replied_to").is_some()))
            .filter(|t| !(no_retweets && demo_ref(t, "retweeted").is_some()))
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect()
    };
    for (q, expected) in [
        ("exclude=replies", keep(true, false)),
        ("exclude=retweets", keep(false, true)),
        ("exclude=replies,retweets", keep(true, true)),
        ("exclude=retweets%2Creplies", keep(true, true)),
    ] {
        let a = d
            .get(&d.bob, &timeline(ALICE, &format!("max_results=100&{q}")))
            .await;
        assert_eq!(ids_of(&a.body["data"]), expected, "{q}");
        assert_eq!(a.body["meta"]["result_count"], expected.len());
    }
    // alice has replies and retweets, so each exclusion takes something out.
    assert!(keep(true, false).len() < tl.len(), "no replies to exclude");
    assert!(keep(false, true).len() < tl.len(), "no retweets to exclude");
    d.get(&d.bob, &timeline(ALICE, "exclude=quotes"))
        .await
        .assert_invalid(json!([problem(
            "exclude",
            &["quotes"],
            "The `exclude` query parameter value [quotes] is not one of [replies,retweets]"
        )]));
}

#[tokio::test]
async fn timeline_since_id_and_until_id_are_exclusive_bounds() {
    let d = Demo::start(READ).await;
    let all = timeline_ids(ALICE);
    let (d, t) = (&d, &d.app_token);
    let run = |q: String| async move {
        d.get(t, &timeline(ALICE, &format!("max_results=100&{q}")))
            .await
    };
    let a = run(format!("since_id={}", all[10])).await;
    assert_eq!(ids_of(&a.body["data"]), all[..10].to_vec());
    let a = run(format!("until_id={}", all[20])).await;
    assert_eq!(ids_of(&a.body["data"]), all[21..].to_vec());
    let a = run(format!("since_id={}&until_id={}", all[25], all[5])).await;
    assert_eq!(ids_of(&a.body["data"]), all[6..25].to_vec());
    // Nothing newer than the newest: X's empty page, exactly.
    run(format!("since_id={}", all[0]))
        .await
        .assert_ok(&json!({"meta": {"result_count": 0}}));
    run("since_id=abc".to_owned())
        .await
        .assert_invalid(json!([problem(
            "since_id",
            &["abc"],
            "The `since_id` query parameter value [abc] is not valid"
        )]));
}

#[tokio::test]
async fn timeline_start_and_end_time_are_inclusive_and_ids_take_precedence() {
    let d = Demo::start(READ).await;
    let tl = demo_timeline(ALICE);
    let all = timeline_ids(ALICE);
    let at = |i: usize| tl[i]["created_at"].as_str().expect("created_at").to_owned();
    let (d, t) = (&d, &d.alice);
    let run = |q: String| async move {
        d.get(t, &timeline(ALICE, &format!("max_results=100&{q}")))
            .await
    };
    let a = run(format!("start_time={}", at(10))).await;
    assert_eq!(ids_of(&a.body["data"]), all[..=10].to_vec());
    let a = run(format!("end_time={}", at(20))).await;
    assert_eq!(ids_of(&a.body["data"]), all[20..].to_vec());
    let a = run(format!("start_time={}&end_time={}", at(12), at(3))).await;
    assert_eq!(ids_of(&a.body["data"]), all[3..=12].to_vec());
    // Second precision without milliseconds, as X's docs write them.
    let plain = at(10).replace(".000Z", "Z");
    let a = run(format!("start_time={plain}")).await;
    assert_eq!(ids_of(&a.body["data"]), all[..=10].to_vec());
    // since_id wins over start_time, until_id over end_time (spec §2.5).
    let a = run(format!("since_id={}&start_time={}", all[5], at(10))).await;
    assert_eq!(ids_of(&a.body["data"]), all[..5].to_vec());
    let a = run(format!("until_id={}&end_time={}", all[25], at(10))).await;
    assert_eq!(ids_of(&a.body["data"]), all[26..].to_vec());
    run("start_time=yesterday".to_owned())
        .await
        .assert_invalid(json!([problem(
            "start_time",
            &["yesterday"],
            "The `start_time` query parameter value [yesterday] is not a valid RFC 3339 timestamp"
        )]));
}

#[tokio::test]
async fn timeline_bad_token_protected_user_unknown_user() {
    let d = Demo::start(READ).await;
    for bad in ["abc", "n00000000000000!", "x000000000000000"] {
        d.get(
            &d.alice,
            &timeline(ALICE, &format!("pagination_token={bad}")),
        )
        .await
        .assert_invalid(json!([problem(
            "pagination_token",
            &[bad],
            &format!("The `pagination_token` query parameter value [{bad}] is not valid")
        )]));
    }
    // judy_reads is protected: her followers (alice) read her tweets, others get X's partial
    // Authorization Error.
    let judy = timeline_ids(JUDY);
    let a = d.get(&d.alice, &timeline(JUDY, "")).await;
    assert_eq!(ids_of(&a.body["data"]), judy);
    assert_eq!(a.body["meta"]["result_count"], judy.len());
    for token in [&d.bob, &d.app_token] {
        d.get(token, &timeline(JUDY, ""))
            .await
            .assert_ok(&json!({"errors": [not_authorized("user", "id", JUDY, "data")]}));
    }
    d.get(&d.bob, &timeline("42", ""))
        .await
        .assert_ok(&json!({"errors": [not_found("user", "id", "42")]}));
    d.get(&d.bob, "/2/users/abc/tweets")
        .await
        .assert_invalid(json!([problem(
            "id",
            &["abc"],
            "The `id` query parameter value [abc] is not valid"
        )]));
    d.get(&d.bob, &timeline(ALICE, "previous_token=x"))
        .await
        .assert_invalid(json!([problem(
            "previous_token",
            &["x"],
            "The query parameter [previous_token] is not one of [id,end_time,exclude,expansions,max_results,media.fields,pagination_token,place.fields,poll.fields,since_id,start_time,tweet.fields,until_id,user.fields]"
        )]));
}

// ---------------------------------------------------------------------------------------------
// What X's later documents and data dictionary add

/// OpenAPI `TweetCreateRequest` requires no `text`, and x-api-v2.md §2.3 says a quote supplies
/// the content: a quote-only post is created with the empty text X gives it.
#[tokio::test]
async fn a_quote_needs_no_text() {
    let d = Demo::start(WRITE).await;
    clock_after_demo(&d.app);
    let rows = d.app.row_counts().await["tweets"];
    let a = post_json(
        &d.app,
        &d.bob,
        "/2/tweets",
        &json!({"quote_tweet_id": XDEVSDEMO_TWEET}),
    )
    .await;
    let id = created_id(&a, "");
    let a = d
        .get(
            &d.alice,
            &format!(
                "/2/tweets/{id}?tweet.fields=referenced_tweets,lang,entities,display_text_range"
            ),
        )
        .await;
    a.assert_ok(&json!({"data": {
        "id": id, "text": "", "edit_history_tweet_ids": [id],
        "referenced_tweets": [{"type": "quoted", "id": XDEVSDEMO_TWEET}],
        "lang": "zxx", "display_text_range": [0, 0]
    }}));
    // An empty or null text with a quote is the same; a different quote is other content.
    let a = post_json(
        &d.app,
        &d.bob,
        "/2/tweets",
        &json!({"text": "", "quote_tweet_id": ALICE_ORIGINAL}),
    )
    .await;
    created_id(&a, "");
    post_json(
        &d.app,
        &d.bob,
        "/2/tweets",
        &json!({"text": null, "quote_tweet_id": XDEVSDEMO_TWEET}),
    )
    .await
    .assert_forbidden("You are not allowed to create a Tweet with duplicate content.");
    // A reply alone supplies no content.
    post_json(
        &d.app,
        &d.bob,
        "/2/tweets",
        &json!({"reply": {"in_reply_to_tweet_id": BOB_REPLY}}),
    )
    .await
    .assert_invalid(json!([{"parameters": {}, "message":
        "$.text: the text of the Tweet is required and must not be empty (unless the Tweet quotes one)"}]));
    assert_eq!(d.app.row_counts().await["tweets"], rows + 2);
}

/// x-api-v2.md §0.1: unknown query parameters are a 400, on writes too.
#[tokio::test]
async fn writes_refuse_query_parameters_and_change_nothing() {
    let d = Demo::start(WRITE).await;
    clock_after_demo(&d.app);
    let rows = d.app.row_counts().await;
    post_json(
        &d.app,
        &d.alice,
        "/2/tweets?x=1",
        &json!({"text": "with a query"}),
    )
    .await
    .assert_invalid(json!([problem(
        "x",
        &["1"],
        "The query parameter [x] is not one of []"
    )]));
    let a = post_json(&d.app, &d.alice, "/2/tweets", &json!({"text": "doomed"})).await;
    let id = created_id(&a, "doomed");
    delete(&d.app, &d.alice, &format!("/2/tweets/{id}?id={id}"))
        .await
        .assert_invalid(json!([problem(
            "id",
            &[&id, &id],
            "Duplicate parameters are not allowed: the `id` query parameter"
        )]));
    assert_eq!(d.app.row_counts().await["tweets"], rows["tweets"] + 1);
    // An id above any id there can be is of X's pattern: nothing to delete.
    let a = delete(&d.app, &d.alice, "/2/tweets/9999999999999999999").await;
    a.assert_ok(&json!({"data": {"deleted": false}}));
    post_json(
        &d.app,
        &d.alice,
        "/2/tweets",
        &json!({"text": "a quote", "quote_tweet_id": "9999999999999999999"}),
    )
    .await
    .assert_forbidden("You attempted to quote a Tweet that is deleted or not visible to you.");
}

/// X's posts over 280 characters (imports take up to 25,000) show a cut `text` and the whole
/// in `note_tweet.text`, with its own entities; `entities.note.mentions.username` expands the
/// users the whole text mentions.
#[tokio::test]
async fn long_posts_carry_the_whole_text_in_note_tweet() {
    let d = Demo::start(READ).await;
    let head = "Long post: ".to_owned() + &"word ".repeat(60);
    let tail = "and at the very end a mention of @bob and #rustlang.";
    let text = format!("{head}{tail}");
    assert!(text.chars().count() > 280);
    d.app
        .import_json(
            &json!({"tweets": [{"id": "1900000000000000001", "text": text, "author_id": ALICE}]})
                .to_string(),
        )
        .await;
    // Cut before character 270, at a word boundary.
    let shown = head[..head[..270].rfind(' ').unwrap()].to_owned();
    let a = d
        .get(
            &d.bob,
            "/2/tweets/1900000000000000001?tweet.fields=note_tweet,display_text_range,entities&expansions=entities.note.mentions.username",
        )
        .await;
    a.assert_ok(&json!({
        "data": {
            "id": "1900000000000000001", "text": shown,
            "edit_history_tweet_ids": ["1900000000000000001"],
            "note_tweet": {"text": text, "entities": {
                "hashtags": [{"start": 353, "end": 362, "tag": "rustlang"}],
                "mentions": [{"start": 344, "end": 348, "username": "bob", "id": BOB}]
            }},
            "display_text_range": [0, shown.chars().count()]
        },
        "includes": {"users": [user_obj(BOB, &[])]}
    }));
    assert!(shown.chars().count() <= 270);
    // Short posts have no note_tweet.
    d.get(
        &d.bob,
        &format!("/2/tweets/{ALICE_ORIGINAL}?tweet.fields=note_tweet"),
    )
    .await
    .assert_ok(&json!({"data": tweet_obj(ALICE_ORIGINAL, &[])}));
}

/// A Field Authorization Error as X sends it for a private metric of someone else's tweet.
fn field_error(field: &str, parameter: &str, id: &str, section: &str) -> Value {
    json!({
        "resource_type": "tweet",
        "field": field,
        "parameter": parameter,
        "resource_id": id,
        "title": "Field Authorization Error",
        "section": section,
        "detail": format!("Sorry, you are not authorized to access '{field}' on the Tweet with {parameter} : [{id}]."),
        "value": id,
        "type": "https://api.twitter.com/2/problems/not-authorized-for-field"
    })
}

/// `non_public_metrics` and `organic_metrics` are the author's, with a user token; anyone else
/// gets X's Field Authorization Errors. `scopes` says every roost tweet is public.
#[tokio::test]
async fn private_metrics_are_for_the_author_and_scopes_are_public() {
    let d = Demo::start(READ).await;
    let own = demo_tweet(ALICE_ORIGINAL);
    let m = &own["public_metrics"];
    let fields = "tweet.fields=non_public_metrics,organic_metrics,scopes";
    d.get(&d.alice, &format!("/2/tweets/{ALICE_ORIGINAL}?{fields}"))
        .await
        .assert_ok(&json!({"data": with(tweet_obj(ALICE_ORIGINAL, &[]), json!({
            "non_public_metrics": {"impression_count": m["impression_count"]},
            "organic_metrics": {
                "impression_count": m["impression_count"], "like_count": m["like_count"],
                "reply_count": demo_ref_count(ALICE_ORIGINAL, "replied_to"),
                "retweet_count": demo_ref_count(ALICE_ORIGINAL, "retweeted")
            },
            "scopes": {"followers": false}
        }))}));
    let errors = |param: &str, section: &str, id: &str| -> Vec<Value> {
        [
            "non_public_metrics.impression_count",
            "organic_metrics.impression_count",
            "organic_metrics.like_count",
            "organic_metrics.reply_count",
            "organic_metrics.retweet_count",
        ]
        .iter()
        .map(|f| field_error(f, param, id, section))
        .collect()
    };
    for token in [&d.bob, &d.app_token] {
        d.get(token, &format!("/2/tweets/{ALICE_ORIGINAL}?{fields}"))
            .await
            .assert_ok(&json!({
                "data": with(tweet_obj(ALICE_ORIGINAL, &[]), json!({"scopes": {"followers": false}})),
                "errors": errors("id", "data", ALICE_ORIGINAL)
            }));
    }
    // In a list and in includes: grace's retweet of alice's tweet is refused to alice in
    // `data` (parameter `ids`), alice's own original in `includes` shows its metrics.
    let a = d
        .get(
            &d.alice,
            &format!(
                "/2/tweets?ids={GRACE_RT}&tweet.fields=non_public_metrics&expansions=referenced_tweets.id"
            ),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["errors"],
        json!([field_error(
            "non_public_metrics.impression_count",
            "ids",
            GRACE_RT,
            "data"
        )])
    );
    assert_eq!(
        a.body["includes"]["tweets"][0]["non_public_metrics"],
        json!({"impression_count": demo_tweet(ALICE_ORIGINAL)["public_metrics"]["impression_count"]})
    );
}

/// `withheld` where an import set it, on the tweet or through its author (X's `scope: user`).
#[tokio::test]
async fn withheld_tweets_say_where_and_why() {
    let d = Demo::start(READ).await;
    d.app
        .import_json(
            &json!({
                "users": [{"id": "78", "username": "withheld_two", "name": "W",
                           "withheld": {"country_codes": ["TR"], "scope": "user"}}],
                "tweets": [
                    {"id": "1900000000000000002", "text": "a claimed song", "author_id": ALICE,
                     "withheld": {"copyright": true, "country_codes": ["DE", "US"]}},
                    {"id": "1900000000000000003", "text": "by a withheld account", "author_id": "78"}
                ]
            })
            .to_string(),
        )
        .await;
    let a = d
        .get(
            &d.bob,
            &format!("/2/tweets?ids=1900000000000000002,1900000000000000003,{ALICE_ORIGINAL}&tweet.fields=withheld"),
        )
        .await;
    a.assert_ok(&json!({"data": [
        {"id": "1900000000000000002", "text": "a claimed song", "edit_history_tweet_ids": ["1900000000000000002"],
         "withheld": {"copyright": true, "country_codes": ["DE", "US"], "scope": "tweet"}},
        {"id": "1900000000000000003", "text": "by a withheld account", "edit_history_tweet_ids": ["1900000000000000003"],
         "withheld": {"copyright": false, "country_codes": ["TR"], "scope": "user"}},
        tweet_obj(ALICE_ORIGINAL, &[])
    ]}));
}

/// OpenAPI 2.167's `post.fields` names (article_title, matched_media_notes,
/// note_request_suggestions, paid_partnership) and its `username` expansion are accepted; a
/// bad `post.fields` value is reported under the name the client sent, with 2.167's list.
#[tokio::test]
async fn post_fields_and_expansions_of_2_167_are_accepted() {
    let d = Demo::start(READ).await;
    let a = d
        .get(
            &d.bob,
            &format!(
                "/2/tweets/{ALICE_ORIGINAL}?post.fields=article_title,matched_media_notes,note_request_suggestions,paid_partnership,note_post&expansions=username"
            ),
        )
        .await;
    // No articles, Community Notes or long text to show; no post of roost is a paid partnership.
    a.assert_ok(&json!({
        "data": with(tweet_obj(ALICE_ORIGINAL, &[]), json!({"paid_partnership": false})),
        "includes": {"users": [user_obj(ALICE, &[])]}
    }));
    d.get(
        &d.bob,
        &format!("/2/tweets/{ALICE_ORIGINAL}?post.fields=lang,colour"),
    )
    .await
    .assert_invalid(json!([problem(
        "post.fields",
        &["lang,colour"],
        &format!(
            "The `post.fields` query parameter value [colour] is not one of [{}]",
            roost_domain::fields::POST_FIELDS_2167
        )
    )]));
}
