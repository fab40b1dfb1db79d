//! `roost import` (CONTRACT.md "Import file"): through the library and through the binary, into
//! a store a server is using. All or nothing, the bad record named, idempotent re-imports, and
//! imported content served by the API (at once after a refresh, or through the poller).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, start};
use crate::users::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_roost");

const NEWBIE: &str = "3000000000000000001";
const WRITER: &str = "3000000000000000002";
const T1: &str = "1500000000000000001";
const T2: &str = "1500000000000000002";
const T3: &str = "1500000000000000003";
const T4: &str = "1500000000000000004";
const SPACE: &str = "1ImportSpace1";

/// A file with every kind of record: two users (one can log in), an original, a reply, a quote
/// and a retweet, follows both ways, a live Space.
fn good_file() -> Value {
    json!({
        "users": [
            {
                "id": NEWBIE, "username": "newbie", "name": "New Bie",
                "created_at": "2021-03-04T05:06:07.000Z",
                "description": "Fresh from the import. Hi @Writer_W #hello",
                "password": "newbie-password", "location": "Oslo",
                "url": "https://newbie.example.net", "verified": false, "protected": false
            },
            {
                "id": WRITER, "username": "Writer_W", "name": "Writer",
                "created_at": "2020-01-01T00:00:00.000Z", "verified": true, "verified_type": "blue",
                "pinned_tweet_id": T1, "public_metrics": {"listed_count": 7, "like_count": 9}
            }
        ],
        "tweets": [
            {
                "id": T3, "text": "Quoting the newbie.", "author_id": WRITER,
                "created_at": "2022-03-05T12:30:00.000Z",
                "referenced_tweets": [{"type": "quoted", "id": T2}]
            },
            {
                "id": T1, "text": "First post from the import file.", "author_id": WRITER,
                "created_at": "2022-03-05T12:00:00.000Z", "lang": "en", "source": "import",
                "public_metrics": {"like_count": 3, "bookmark_count": 1, "impression_count": 40}
            },
            {
                "id": T2, "text": "@Writer_W welcome!", "author_id": NEWBIE,
                "created_at": "2022-03-05T12:10:00.000Z",
                "referenced_tweets": [{"type": "replied_to", "id": T1}]
            },
            {
                "id": T4, "text": "RT @Writer_W: First post from the import file.", "author_id": NEWBIE,
                "created_at": "2022-03-05T12:40:00.000Z",
                "referenced_tweets": [{"type": "retweeted", "id": T1}]
            }
        ],
        "follows": [
            {"source_user_id": NEWBIE, "target_user_id": WRITER, "created_at": "2022-01-01T00:00:00.000Z"},
            {"source_user_id": WRITER, "target_user_id": NEWBIE}
        ],
        "spaces": [{
            "id": SPACE, "state": "live", "title": "Import party", "creator_id": WRITER,
            "host_ids": [WRITER], "speaker_ids": [NEWBIE],
            "created_at": "2022-03-05T11:00:00.000Z", "started_at": "2022-03-05T11:05:00.000Z",
            "participant_count": 3
        }]
    })
}

fn counts_of(report: &roost_store::ImportReport) -> Value {
    json!({"users": report.users, "tweets": report.tweets, "follows": report.follows, "spaces": report.spaces})
}

/// The content tables' growth between two row counts.
fn growth(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> Value {
    let d = |t: &str| after[t] - before[t];
    json!({"users": d("users"), "tweets": d("tweets"), "follows": d("follows"), "spaces": d("spaces")})
}

/// What the API says about the imported content, as the App sees it.
async fn served(app: &TestApp, token: &str) -> Value {
    let user = get(
        app,
        token,
        "/2/users/by/username/writer_w?user.fields=created_at,description,location,pinned_tweet_id,protected,public_metrics,url,verified,verified_type,most_recent_tweet_id",
    )
    .await;
    let newbie = get(
        app,
        token,
        &format!(
            "/2/users/{NEWBIE}?user.fields=entities,public_metrics,location,url,profile_image_url"
        ),
    )
    .await;
    let tweets = get(
        app,
        token,
        &format!(
            "/2/tweets?ids={T1},{T2},{T3},{T4}&tweet.fields=author_id,conversation_id,created_at,in_reply_to_user_id,lang,public_metrics,referenced_tweets,source"
        ),
    )
    .await;
    let timeline = get(app, token, &format!("/2/users/{NEWBIE}/tweets")).await;
    let space = get(
        app,
        token,
        &format!("/2/spaces/{SPACE}?space.fields=title,creator_id,host_ids,speaker_ids,participant_count,started_at"),
    )
    .await;
    for a in [&user, &newbie, &tweets, &timeline] {
        assert_eq!(a.status, 200, "{}", a.body);
        assert_ids_are_strings(&a.body);
    }
    // Space ids are letters and digits.
    assert_eq!(space.status, 200, "{}", space.body);
    json!({
        "user": user.body, "newbie": newbie.body, "tweets": tweets.body,
        "timeline": timeline.body, "space": space.body
    })
}

/// The API's view of `good_file()`, written out by hand.
fn expected_served() -> Value {
    let none = json!({"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0, "bookmark_count": 0, "impression_count": 0});
    json!({
        "user": {"data": {
            "id": WRITER, "name": "Writer", "username": "Writer_W",
            "created_at": "2020-01-01T00:00:00.000Z", "description": "", "pinned_tweet_id": T1,
            "most_recent_tweet_id": T3, "protected": false, "url": "",
            "public_metrics": {"followers_count": 1, "following_count": 1, "tweet_count": 2, "post_count": 2, "listed_count": 7, "like_count": 9},
            "verified": true, "verified_type": "blue"
        }},
        "newbie": {"data": {
            "id": NEWBIE, "name": "New Bie", "username": "newbie", "location": "Oslo",
            "url": "https://newbie.example.net",
            "entities": {
                "url": {"urls": [{"start": 0, "end": 26, "url": "https://newbie.example.net", "expanded_url": "https://newbie.example.net", "display_url": "newbie.example.net"}]},
                "description": {
                    "mentions": [{"start": 26, "end": 35, "username": "Writer_W", "id": WRITER}],
                    "hashtags": [{"start": 36, "end": 42, "tag": "hello"}]
                }
            },
            "public_metrics": {"followers_count": 1, "following_count": 1, "tweet_count": 2, "post_count": 2, "listed_count": 0, "like_count": 0},
            // No picture in the file: X's default one.
            "profile_image_url": "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
        }},
        "tweets": {"data": [
            {
                "id": T1, "text": "First post from the import file.", "edit_history_tweet_ids": [T1],
                "author_id": WRITER, "conversation_id": T1, "created_at": "2022-03-05T12:00:00.000Z",
                "lang": "en", "source": "import",
                "public_metrics": {"retweet_count": 1, "reply_count": 1, "like_count": 3, "quote_count": 0, "bookmark_count": 1, "impression_count": 40}
            },
            {
                // conversation_id and in_reply_to_user_id follow from the replied-to tweet.
                "id": T2, "text": "@Writer_W welcome!", "edit_history_tweet_ids": [T2],
                "author_id": NEWBIE, "conversation_id": T1, "created_at": "2022-03-05T12:10:00.000Z",
                "in_reply_to_user_id": WRITER,
                "referenced_tweets": [{"type": "replied_to", "id": T1}],
                "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 1, "bookmark_count": 0, "impression_count": 0}
            },
            {
                "id": T3, "text": "Quoting the newbie.", "edit_history_tweet_ids": [T3],
                "author_id": WRITER, "conversation_id": T3, "created_at": "2022-03-05T12:30:00.000Z",
                "referenced_tweets": [{"type": "quoted", "id": T2}], "public_metrics": none
            },
            {
                "id": T4, "text": "RT @Writer_W: First post from the import file.", "edit_history_tweet_ids": [T4],
                "author_id": NEWBIE, "conversation_id": T4, "created_at": "2022-03-05T12:40:00.000Z",
                "referenced_tweets": [{"type": "retweeted", "id": T1}], "public_metrics": none
            }
        ]},
        "timeline": {
            "data": [
                {"id": T4, "text": "RT @Writer_W: First post from the import file.", "edit_history_tweet_ids": [T4]},
                {"id": T2, "text": "@Writer_W welcome!", "edit_history_tweet_ids": [T2]}
            ],
            "meta": {"result_count": 2, "newest_id": T4, "oldest_id": T2}
        },
        "space": {"data": {
            "id": SPACE, "state": "live", "title": "Import party", "creator_id": WRITER,
            "host_ids": [WRITER], "speaker_ids": [NEWBIE], "participant_count": 3,
            "started_at": "2022-03-05T11:05:00.000Z"
        }}
    })
}

// ---- the binary ----

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `roost import [--json] FILE --database-url sqlite://DB`, with no `ROOST_*` from the outside.
async fn roost_import(database_url: &str, file: &Path, json_out: bool) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("import");
    if json_out {
        cmd.arg("--json");
    }
    cmd.arg(file)
        .arg("--database-url")
        .arg(database_url)
        .env_remove("ROOST_DATABASE_URL")
        .env_remove("ROOST_CONFIG")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("roost import finished in time")
        .expect("roost import ran");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write_file(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write import file");
    p
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn library_import_is_served_at_once_and_reimport_is_idempotent() {
    let app = spawn_app().await;
    let token = app.app_token().await;
    let before = app.row_counts().await;
    let text = good_file().to_string();
    let report = app.import_json(&text).await;
    let expected_counts = json!({"users": 2, "tweets": 4, "follows": 2, "spaces": 1});
    assert_eq!(counts_of(&report), expected_counts);
    let after = app.row_counts().await;
    assert_eq!(growth(&before, &after), expected_counts);
    assert_eq!(served(&app, &token).await, expected_served());

    // The same file again: same report, no new rows, the same answers.
    let report = app.import_json(&text).await;
    assert_eq!(counts_of(&report), expected_counts);
    assert_eq!(app.row_counts().await, after);
    assert_eq!(served(&app, &token).await, expected_served());

    // A changed file updates in place.
    let mut changed = good_file();
    changed["users"][1]["name"] = json!("Writer Renamed");
    changed["users"][1]["verified_type"] = json!("business");
    changed["tweets"][1]["text"] = json!("First post, edited by a re-import.");
    changed["spaces"][0]["state"] = json!("ended");
    changed["spaces"][0]["ended_at"] = json!("2022-03-05T13:00:00.000Z");
    app.import_json(&changed.to_string()).await;
    assert_eq!(app.row_counts().await, after);
    let a = get(
        &app,
        &token,
        "/2/users/by/username/Writer_W?user.fields=verified_type",
    )
    .await;
    assert_eq!(
        a.body,
        json!({"data": {"id": WRITER, "name": "Writer Renamed", "username": "Writer_W", "verified_type": "business"}})
    );
    let a = get(&app, &token, &format!("/2/tweets/{T1}")).await;
    assert_eq!(a.body["data"]["text"], "First post, edited by a re-import.");
    let a = get(
        &app,
        &token,
        &format!("/2/spaces/{SPACE}?space.fields=ended_at"),
    )
    .await;
    assert_eq!(
        a.body,
        json!({"data": {"id": SPACE, "state": "ended", "ended_at": "2022-03-05T13:00:00.000Z"}})
    );
}

#[tokio::test]
async fn binary_import_prints_counts_and_is_idempotent() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "good.json", &good_file().to_string());
    let before = app.row_counts().await;

    let run = roost_import(&app.database_url, &file, true).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    let printed: Value = serde_json::from_str(run.stdout.trim_end()).expect("one JSON object");
    assert!(run.stdout.ends_with('\n') && run.stdout.trim_end().lines().count() == 1);
    let expected_counts = json!({"users": 2, "tweets": 4, "follows": 2, "spaces": 1});
    assert_eq!(printed, expected_counts);
    let after = app.row_counts().await;
    assert_eq!(growth(&before, &after), expected_counts);

    let run = roost_import(&app.database_url, &file, true).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        serde_json::from_str::<Value>(run.stdout.trim_end()).ok(),
        Some(expected_counts)
    );
    assert_eq!(app.row_counts().await, after);

    // The server sees what another process wrote once it refreshes.
    app.state
        .world
        .refresh(app.state.store.as_ref())
        .await
        .expect("refresh");
    let token = app.app_token().await;
    assert_eq!(served(&app, &token).await, expected_served());

    // Without --json: one human line.
    let run = roost_import(&app.database_url, &file, false).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "Imported 2 users, 4 tweets, 2 follows and 1 spaces from {}.\n",
            file.display()
        )
    );
}

/// `good_file()` with one record spoiled, and the error that must name it.
fn bad_files(existing_alice: &str) -> Vec<(&'static str, Value, String)> {
    let mut out = Vec::new();
    let mut case = |name: &'static str, edit: &dyn Fn(&mut Value), error: String| {
        let mut f = good_file();
        edit(&mut f);
        out.push((name, f, error));
    };
    case(
        "bad user id",
        &|f| f["users"][1]["id"] = json!("30000x"),
        "users[1] (id 30000x): `id` [30000x] is not an id (1 to 19 digits)".into(),
    );
    case(
        "unknown author",
        &|f| f["tweets"][2]["author_id"] = json!("999"),
        format!("tweets[2] (id {T2}): `author_id` 999 is not a user in the file or the store"),
    );
    case(
        "dangling reference",
        &|f| f["tweets"][0]["referenced_tweets"][0]["id"] = json!("424242"),
        format!(
            "tweets[0] (id {T3}): referenced tweet 424242 is not a tweet in the file or the store"
        ),
    );
    case(
        "duplicate username in the file",
        &|f| f["users"][1]["username"] = json!("NEWBIE"),
        format!("users[1] (id {WRITER}): username `NEWBIE` belongs to another user ({NEWBIE})"),
    );
    case(
        "username of a user already in the store",
        &|f| f["users"][0]["username"] = json!("alice"),
        format!(
            "users[0] (id {NEWBIE}): username `alice` belongs to another user ({existing_alice})"
        ),
    );
    case(
        "self-follow",
        &|f| f["follows"][1]["target_user_id"] = json!(WRITER),
        "follows[1]: a user cannot follow themselves".into(),
    );
    case(
        "bad space id",
        &|f| f["spaces"][0]["id"] = json!("not-a-space"),
        "spaces[0] (id not-a-space): `id` [not-a-space] must be 1 to 13 characters of A-Z a-z 0-9"
            .into(),
    );
    case(
        "bad space state",
        &|f| f["spaces"][0]["state"] = json!("paused"),
        format!("spaces[0] (id {SPACE}): `state` [paused] is not one of live, scheduled, ended"),
    );
    case(
        "unknown top-level key",
        &|f| f["likes"] = json!([]),
        "the file must be one JSON object with optional keys users, tweets, follows, spaces, topics (and, in an export, projects, apps, grants); found key `likes`".into(),
    );
    case(
        "bad time",
        &|f| f["tweets"][1]["created_at"] = json!("yesterday"),
        format!(
            "tweets[1] (id {T1}): `created_at` [yesterday] is not an RFC 3339 time such as 2020-05-15T16:03:42.000Z"
        ),
    );
    case(
        "the same tweet twice",
        &|f| f["tweets"][3]["id"] = json!(T1),
        format!("tweets[3] (id {T1}): this id appears twice in the file"),
    );
    case(
        "the same follow twice",
        &|f| f["follows"][1] = json!({"source_user_id": NEWBIE, "target_user_id": WRITER}),
        "follows[1]: this follow appears twice in the file".into(),
    );
    case(
        "empty text that quotes nothing",
        &|f| f["tweets"][1]["text"] = json!(""),
        format!("tweets[1] (id {T1}): `text` must be 1 to 25000 characters (or empty in a quote)"),
    );
    case(
        "a topic no catalogue has",
        &|f| f["spaces"][0]["topic_ids"] = json!(["42"]),
        format!(
            "spaces[0] (id {SPACE}): topic 42 is not a topic of roost's catalogue, the file or the store"
        ),
    );
    case(
        "an email that is none",
        &|f| f["users"][0]["confirmed_email"] = json!("newbie at home"),
        format!(
            "users[0] (id {NEWBIE}): `confirmed_email` [newbie at home] is not an email address such as alice@example.com"
        ),
    );
    case(
        "a country code in lower case",
        &|f| f["users"][1]["withheld"] = json!({"country_codes": ["de"]}),
        format!(
            "users[1] (id {WRITER}): `withheld.country_codes` [de] is not an ISO 3166-1 alpha-2 code such as DE"
        ),
    );
    case(
        "copyright on a user",
        &|f| f["users"][1]["withheld"] = json!({"country_codes": ["DE"], "copyright": true}),
        format!("users[1] (id {WRITER}): `withheld.copyright` is for tweets only"),
    );
    case(
        "a tweet withheld nowhere",
        &|f| f["tweets"][1]["withheld"] = json!({"copyright": true, "country_codes": []}),
        format!("tweets[1] (id {T1}): `withheld.country_codes` must list at least one country"),
    );
    case(
        "a topic without a name",
        &|f| f["topics"] = json!([{"id": "7", "name": " "}]),
        "topics[0] (id 7): `name` must be 1 to 100 characters".into(),
    );
    case(
        "pinned tweet of someone else",
        &|f| f["users"][1]["pinned_tweet_id"] = json!(T2),
        format!("users[1] (id {WRITER}): `pinned_tweet_id` {T2} is not a tweet by this user"),
    );
    out
}

#[tokio::test]
async fn a_file_with_one_bad_record_changes_nothing_and_names_the_record() {
    let app = spawn_app().await;
    let token = app.app_token().await;
    let alice = get(&app, &token, "/2/users/by/username/alice").await.body["data"]["id"]
        .as_str()
        .expect("alice")
        .to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let before = app.row_counts().await;
    let existing = app.state.store.load_content().await.expect("content");

    let mut cases = bad_files(&alice);
    // An unknown member of a record: serde names it, roost names the record.
    let mut f = good_file();
    f["users"][0]["followers_count"] = json!(5);
    cases.push((
        "unknown field in a record",
        f,
        format!("users[0] (id {NEWBIE}): unknown field `followers_count`"),
    ));
    for (name, file, error) in cases {
        // The library says exactly this...
        let parsed = roost::content::import::parse(
            &file.to_string(),
            &existing,
            &roost_store::AuthState::default(),
            &app.state.hasher,
            app.state.now(),
        )
        .await;
        let message = parsed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with(&error), "{name}: {message}");
        // ...and the binary exits non-zero with it as its one line, and stores nothing.
        let path = write_file(dir.path(), "bad.json", &file.to_string());
        let run = roost_import(&app.database_url, &path, true).await;
        assert_eq!(run.code, Some(1), "{name}: {run:?}");
        assert_eq!(run.stdout, "", "{name}: {run:?}");
        assert_eq!(run.stderr, format!("roost: {message}\n"), "{name}");
        assert_eq!(app.row_counts().await, before, "{name}");
    }

    // Not JSON at all.
    let path = write_file(dir.path(), "bad.json", "{\"users\": [");
    let run = roost_import(&app.database_url, &path, false).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .starts_with("roost: the file is not valid JSON: ")
            && run.stderr.lines().count() == 1,
        "{run:?}"
    );
    assert_eq!(app.row_counts().await, before);
    // Nothing reached the server either.
    app.state
        .world
        .refresh(app.state.store.as_ref())
        .await
        .expect("refresh");
    get(&app, &token, "/2/users/by/username/newbie")
        .await
        .assert_ok(&json!({"errors": [not_found("user", "username", "newbie")]}));
}

#[tokio::test]
async fn an_import_into_a_running_server_is_served_within_the_poll_interval() {
    let app = spawn_app_with(|c| c.content.poll_interval_ms = 100).await;
    roost::content::world::spawn_poller(app.state.clone());
    let token = app.app_token().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "good.json", &good_file().to_string());
    get(&app, &token, "/2/users/by/username/newbie")
        .await
        .assert_ok(&json!({"errors": [not_found("user", "username", "newbie")]}));

    let run = roost_import(&app.database_url, &file, true).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    // The poller notices the store's new content version; give it at most 5 s.
    let started = Instant::now();
    loop {
        let a = get(&app, &token, "/2/users/by/username/newbie").await;
        if a.body.get("data").is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not served after 5 s: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(served(&app, &token).await, expected_served());

    // The imported password works in the real browser flow, and the token acts as newbie.
    let tokens = app
        .tokens_for("newbie", "newbie-password", "tweet.read users.read")
        .await;
    get(&app, &access(&tokens), "/2/users/me")
        .await
        .assert_ok(&json!({"data": {"id": NEWBIE, "name": "New Bie", "username": "newbie"}}));
}

/// The fields X documents that the import carries too: a user's `confirmed_email` and
/// `withheld`, a tweet's `withheld`, quotes without text, and `topics` (X's `Topic` objects)
/// that Spaces may name. The report counts topics only when the file has some.
#[tokio::test]
async fn emails_withholding_quotes_without_text_and_topics_are_imported() {
    let app = spawn_app().await;
    let mut file = good_file();
    file["users"][0]["confirmed_email"] = json!("newbie@example.net");
    file["users"][1]["withheld"] = json!({"country_codes": ["DE"], "scope": "user"});
    file["tweets"][0]["text"] = json!("");
    file["tweets"][1]["withheld"] = json!({"copyright": true, "country_codes": ["FR"]});
    file["topics"] = json!([{"id": "848920371311001600", "name": "Technology", "description": "All about tech"}]);
    file["spaces"][0]["topic_ids"] = json!(["848920371311001600", "1600000000000000012"]);
    let report = app.import_json(&file.to_string()).await;
    assert_eq!(report.topics, 1);
    assert_eq!(
        serde_json::to_value(report).unwrap(),
        json!({"users": 2, "tweets": 4, "follows": 2, "spaces": 1, "topics": 1})
    );
    let content = app.state.store.load_content().await.expect("content");
    let newbie = content
        .users
        .iter()
        .find(|u| u.id.to_string() == NEWBIE)
        .unwrap();
    assert_eq!(newbie.email.as_deref(), Some("newbie@example.net"));
    let writer = content
        .users
        .iter()
        .find(|u| u.id.to_string() == WRITER)
        .unwrap();
    assert_eq!(writer.withheld_in, vec!["DE".to_owned()]);
    let t1 = content
        .tweets
        .iter()
        .find(|t| t.id.to_string() == T1)
        .unwrap();
    assert_eq!(
        (t1.withheld_copyright, t1.withheld_in.clone()),
        (true, vec!["FR".to_owned()])
    );
    let t3 = content
        .tweets
        .iter()
        .find(|t| t.id.to_string() == T3)
        .unwrap();
    assert_eq!(t3.text, "");
    assert_eq!(content.topics.len(), 1);
    // Without topics, the report has its four counts, as before.
    let again = app.import_json(&good_file().to_string()).await;
    assert_eq!(
        serde_json::to_value(again).unwrap(),
        json!({"users": 2, "tweets": 4, "follows": 2, "spaces": 1})
    );
    // A later file may name the stored topic.
    let mut later = good_file();
    later["spaces"][0]["topic_ids"] = json!(["848920371311001600"]);
    app.import_json(&later.to_string()).await;
}

/// The demo file is a whole import file of its own (issue 4): `roost import
/// crates/roost/data/demo.json` into an empty store, then again (the same report, no new rows),
/// served as the file says, its long posts and withheld records included.
#[tokio::test]
async fn the_demo_file_imports_into_an_empty_store_and_again() {
    let app = start(|_| {}).await;
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo.json");
    let len = |k: &str| demo()[k].as_array().map_or(0, Vec::len);
    let expected = json!({"users": len("users"), "tweets": len("tweets"),
                          "follows": len("follows"), "spaces": len("spaces")});
    let before = app.row_counts().await;
    let run = roost_import(&app.database_url, &file, true).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        serde_json::from_str::<Value>(run.stdout.trim_end()).ok(),
        Some(expected.clone())
    );
    let after = app.row_counts().await;
    assert_eq!(growth(&before, &after), expected);

    let run = roost_import(&app.database_url, &file, true).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        serde_json::from_str::<Value>(run.stdout.trim_end()).ok(),
        Some(expected)
    );
    assert_eq!(app.row_counts().await, after);

    app.state
        .world
        .refresh(app.state.store.as_ref())
        .await
        .expect("refresh");
    let token = app.app_token().await;
    let tweets = demo()["tweets"].as_array().unwrap();
    let long = tweets
        .iter()
        .find(|t| t["text"].as_str().unwrap().chars().count() > 280)
        .expect("a long demo post");
    let withheld = tweets
        .iter()
        .find(|t| t.get("withheld").is_some())
        .expect("a withheld demo post");
    let ids = format!(
        "{},{}",
        long["id"].as_str().unwrap(),
        withheld["id"].as_str().unwrap()
    );
    let a = get(
        &app,
        &token,
        &format!("/2/tweets?ids={ids}&tweet.fields=note_tweet,withheld"),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["data"][0]["note_tweet"]["text"], long["text"]);
    assert_eq!(a.body["data"][1]["withheld"], withheld["withheld"]);
}
