//! The PostgreSQL store's content side: users, tweets, follows, Spaces, topics, import, export
//! of the auth state, reset and snapshots. `mod.rs` calls these from its `Store` impl.
//!
//! Semantics are SQLite's (`sqlite.rs`), which the integration tests pin; what differs is how
//! PostgreSQL gets there:
//!
//! - **One writer of content at a time, across nodes.** SQLite has a single writer; here every
//!   content write begins by bumping the content version, which takes that row's lock, so
//!   content writes from all nodes run one after another, always taking their locks in the same
//!   order (the version row first), and cannot deadlock each other. A write that turns out to
//!   change nothing rolls back, so the version only moves when content did.
//! - **Reads in one snapshot.** `load_content` and `load_auth` run in a REPEATABLE READ
//!   transaction, so the parts (and the version) agree, as SQLite's read transaction does.
//! - **Bulk writes.** An import writes each table with one `INSERT ... SELECT FROM UNNEST($1,
//!   $2, ...)` (one array per column): the demo set (36 users, 409 tweets, 376 follows, 11
//!   Spaces) is about ten statements instead of 830; a reset to that set took 35-65 ms so
//!   against 190-260 ms with one prepared statement per row in the same transaction (debug
//!   build, local server, a busy 2-core machine). When a bulk statement breaks a uniqueness
//!   rule, PostgreSQL does not say which row did; the import then starts again row by row, in
//!   SQLite's order, so the error names the record exactly as SQLite's does.
//! - **Foreign keys checked at once.** PostgreSQL checks them per statement (SQLite defers them
//!   to the commit), so tables are written parents first: users, their content, then Projects,
//!   Apps, callbacks, grants and tokens. A record that refers to nothing gets SQLite's words.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

use anyhow::anyhow;
use roost_domain::{SnapshotName, Snowflake, Username};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{
    self, APP_COLUMNS, hash, id, is_unique_violation, names_column, opt_id, scope_names, scopes,
};
use crate::content::{join_ids, split_ids, split_list};
use crate::{
    AppRecord, AppTokenRecord, AuthState, Content, Deletion, FollowRecord, GrantRecord,
    ImportBatch, ImportReport, NewUser, ProjectRecord, Result, SnapshotInfo, SpaceRecord,
    StoreError, StoredAccessToken, StoredRefreshToken, TopicRecord, TweetRecord, UserRecord,
};

const USER_COLUMNS: &str = "id, username, name, password_hash, description, location, url, profile_image_url, \
    verified, verified_type, protected, pinned_tweet_id, profile_banner_url, listed_count, like_count, created_at, \
    email, withheld_country_codes";

const TWEET_COLUMNS: &str = "id, author_id, text, created_at, conversation_id, in_reply_to_user_id, replied_to_id, \
    quoted_id, retweeted_id, lang, reply_settings, source, possibly_sensitive, like_count, bookmark_count, impression_count, \
    withheld_copyright, withheld_country_codes";

const SPACE_COLUMNS: &str = "id, state, title, creator_id, host_ids, speaker_ids, invited_user_ids, topic_ids, lang, \
    is_ticketed, participant_count, subscriber_count, created_at, updated_at, started_at, ended_at, scheduled_start";

/// What a reset empties: SQLite's list, in SQLite's order (children before parents, so no
/// cascade has work left to do). Server keys, snapshots, the content version and any table not
/// named here (admin tokens) stay.
const RESET_TABLES: &[&str] = &[
    "refresh_tokens",
    "access_tokens",
    "authorization_codes",
    "grants",
    "sessions",
    "consumed_requests",
    "login_failures",
    "rate_windows",
    "app_usage",
    "app_callbacks",
    "apps",
    "projects",
    "follows",
    "spaces",
    "tweets",
    "topics",
    "users",
];

/// The words SQLite's import uses when its deferred foreign keys fail at commit.
const DANGLING: &str =
    "a record refers to a user, App or grant that is neither in the file nor in the store";

/// A read transaction that sees one snapshot throughout.
const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// `UPDATE content_version SET version = version + 1`, inside the caller's transaction. Call it
/// first, before the transaction locks any other row: every content write does, so the version
/// row's lock orders them all (see the module docs). A transaction that takes it after locking
/// rows (deleting an App) can deadlock with a user's deletion or a reset, which lock those
/// rows after it.
pub(super) async fn bump_version(tx: &mut PgConnection) -> Result<()> {
    sqlx::query("UPDATE content_version SET version = version + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub(super) async fn create_user(pool: &PgPool, user: NewUser) -> Result<UserRecord> {
    let mut tx = pool.begin().await?;
    bump_version(&mut tx).await?;
    let r = sqlx::query(
        "INSERT INTO users (id, username, username_key, name, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id.get())
    .bind(user.username.as_str())
    .bind(user.username.canonical())
    .bind(&user.name)
    .bind(&user.password_hash)
    .bind(user.now)
    .execute(&mut *tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("username")),
        other => other.map_err(text_error)?,
    };
    tx.commit().await?;
    Ok(UserRecord {
        id: user.id,
        username: user.username,
        name: user.name,
        password_hash: user.password_hash,
        description: String::new(),
        location: None,
        url: None,
        profile_image_url: None,
        verified: false,
        verified_type: None,
        protected: false,
        pinned_tweet_id: None,
        profile_banner_url: None,
        listed_count: 0,
        like_count: 0,
        created_at: user.now,
        email: None,
        withheld_in: Vec::new(),
    })
}

pub(super) async fn user_by_id(pool: &PgPool, id: Snowflake) -> Result<Option<UserRecord>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id.get())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) async fn user_by_username(
    pool: &PgPool,
    username: &Username,
) -> Result<Option<UserRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"
    ))
    .bind(username.canonical())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) async fn list_users(pool: &PgPool) -> Result<Vec<UserRecord>> {
    let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(user_from_row).collect()
}

pub(super) async fn set_password_hash(pool: &PgPool, user_id: Snowflake, hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id.get())
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn delete_user(pool: &PgPool, username: &Username) -> Result<Option<Deletion>> {
    let mut tx = pool.begin().await?;
    bump_version(&mut tx).await?;
    // FOR UPDATE: a row that refers to the user (a session, a code, a grant) takes a key-share
    // lock on the user's row first, so none can be added between the counts and the delete.
    let user: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE username_key = $1 FOR UPDATE")
            .bind(username.canonical())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(user) = user else {
        tx.rollback().await?;
        return Ok(None);
    };
    let counts = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM sessions WHERE user_id = $1) AS sessions, \
                (SELECT COUNT(*) FROM authorization_codes WHERE user_id = $1) AS authorization_codes, \
                (SELECT COUNT(*) FROM grants WHERE user_id = $1) AS grants, \
                (SELECT COUNT(*) FROM access_tokens WHERE user_id = $1) AS access_tokens, \
                (SELECT COUNT(*) FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = $1)) AS refresh_tokens, \
                (SELECT COUNT(*) FROM tweets WHERE author_id = $1) AS tweets, \
                (SELECT COUNT(*) FROM follows WHERE source_user_id = $1 OR target_user_id = $1) AS follows, \
                (SELECT COUNT(*) FROM spaces WHERE creator_id = $1) AS spaces",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    let mut removed = BTreeMap::new();
    for table in [
        "sessions",
        "authorization_codes",
        "grants",
        "access_tokens",
        "refresh_tokens",
        "tweets",
        "follows",
        "spaces",
    ] {
        let n: i64 = counts.try_get(table)?;
        removed.insert(table, u64::try_from(n).unwrap_or(0));
    }
    // What the foreign keys cannot reach: this user in other Spaces' id lists (kept in
    // join_ids' encoding, empty items dropped as SQLite's edit drops them). A pinned tweet is
    // always the user's own, checked at import.
    sqlx::query(
        "UPDATE spaces SET \
           host_ids = array_to_string(array_remove(array_remove(string_to_array(host_ids, ','), $1), ''), ','), \
           speaker_ids = array_to_string(array_remove(array_remove(string_to_array(speaker_ids, ','), $1), ''), ','), \
           invited_user_ids = array_to_string(array_remove(array_remove(string_to_array(invited_user_ids, ','), $1), ''), ',') \
         WHERE creator_id <> $2 \
           AND $1 = ANY (string_to_array(host_ids || ',' || speaker_ids || ',' || invited_user_ids, ','))",
    )
    .bind(user.to_string())
    .bind(user)
    .execute(&mut *tx)
    .await?;
    // The foreign keys cascade from here: sessions, codes, grants, tokens, tweets, follows
    // and Spaces the user created.
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let user = Snowflake::from_i64(user).map_err(|e| StoreError::Other(e.into()))?;
    super::record_invalidation(&mut tx, crate::Invalidated::User(user)).await?;
    tx.commit().await?;
    Ok(Some(Deletion { id: user, removed }))
}

pub(super) async fn load_content(pool: &PgPool) -> Result<Content> {
    let mut tx = pool.begin_with(BEGIN_SNAPSHOT).await?;
    let (version, resets): (i64, i64) =
        sqlx::query_as("SELECT version, resets FROM content_version WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
    let users = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users"))
        .fetch_all(&mut *tx)
        .await?;
    let tweets = sqlx::query(&format!("SELECT {TWEET_COLUMNS} FROM tweets"))
        .fetch_all(&mut *tx)
        .await?;
    // No ORDER BY, as in SQLite: a table scan gives the rows about as they were inserted, and
    // the world keeps that order among follows made in the same millisecond.
    let follows =
        sqlx::query("SELECT source_user_id, target_user_id, created_at, pending FROM follows")
            .fetch_all(&mut *tx)
            .await?;
    let spaces = sqlx::query(&format!("SELECT {SPACE_COLUMNS} FROM spaces"))
        .fetch_all(&mut *tx)
        .await?;
    let topics = sqlx::query("SELECT id, name, description FROM topics")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Content {
        version,
        resets,
        users: users.iter().map(user_from_row).collect::<Result<_>>()?,
        tweets: tweets.iter().map(tweet_from_row).collect::<Result<_>>()?,
        follows: follows.iter().map(follow_from_row).collect::<Result<_>>()?,
        spaces: spaces.iter().map(space_from_row).collect::<Result<_>>()?,
        topics: topics.iter().map(topic_from_row).collect::<Result<_>>()?,
    })
}

pub(super) async fn content_version(pool: &PgPool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT version FROM content_version WHERE id = 1")
            .fetch_one(pool)
            .await?,
    )
}

pub(super) async fn create_tweet(pool: &PgPool, tweet: TweetRecord) -> Result<()> {
    let mut tx = pool.begin().await?;
    bump_version(&mut tx).await?;
    upsert_tweets(&mut tx, std::slice::from_ref(&tweet))
        .await
        .map_err(text_error)?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_tweet(pool: &PgPool, tweet_id: Snowflake) -> Result<bool> {
    let mut tx = pool.begin().await?;
    bump_version(&mut tx).await?;
    let n = sqlx::query("DELETE FROM tweets WHERE id = $1")
        .bind(tweet_id.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("UPDATE users SET pinned_tweet_id = NULL WHERE pinned_tweet_id = $1")
        .bind(tweet_id.get())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn follow(pool: &PgPool, follow: FollowRecord) -> Result<FollowRecord> {
    let mut tx = pool.begin().await?;
    bump_version(&mut tx).await?;
    let inserted = sqlx::query(
        "INSERT INTO follows (source_user_id, target_user_id, created_at, pending) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source_user_id, target_user_id) DO NOTHING \
         RETURNING source_user_id, target_user_id, created_at, pending",
    )
    .bind(follow.source_user_id.get())
    .bind(follow.target_user_id.get())
    .bind(follow.created_at)
    .bind(follow.pending)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        tx.commit().await?;
        return follow_from_row(&row);
    }
    // Already there: returned unchanged, and the version stays where it was.
    let row = sqlx::query(
        "SELECT source_user_id, target_user_id, created_at, pending FROM follows \
         WHERE source_user_id = $1 AND target_user_id = $2",
    )
    .bind(follow.source_user_id.get())
    .bind(follow.target_user_id.get())
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    follow_from_row(&row)
}

pub(super) async fn unfollow(pool: &PgPool, source: Snowflake, target: Snowflake) -> Result<bool> {
    let mut tx = pool.begin().await?;
    bump_version(&mut tx).await?;
    let n = sqlx::query("DELETE FROM follows WHERE source_user_id = $1 AND target_user_id = $2")
        .bind(source.get())
        .bind(target.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn import(pool: &PgPool, batch: ImportBatch) -> Result<ImportReport> {
    match import_once(pool, &batch, Pace::Bulk).await {
        Err(WriteError::Ambiguous) => import_once(pool, &batch, Pace::RowByRow)
            .await
            .map_err(StoreError::from),
        other => other.map_err(StoreError::from),
    }
}

async fn import_once(
    pool: &PgPool,
    batch: &ImportBatch,
    pace: Pace,
) -> Result<ImportReport, WriteError> {
    let mut tx = pool.begin().await?;
    let written = import_in(&mut tx, batch, pace).await;
    finish(tx, written).await?;
    Ok(report(batch))
}

async fn import_in(
    tx: &mut PgConnection,
    batch: &ImportBatch,
    pace: Pace,
) -> Result<(), WriteError> {
    bump_version(tx).await?;
    write_batch(tx, batch, pace).await?;
    // Imported tokens and grants may be revoked versions of cached ones.
    let auth = &batch.auth;
    if !(auth.apps.is_empty() && auth.app_tokens.is_empty() && auth.grants.is_empty()) {
        super::record_invalidation(tx, crate::Invalidated::Everything).await?;
    }
    Ok(())
}

/// Commits what was written, or rolls it back at once rather than when the connection is next
/// used: a failed bulk attempt holds the content version's lock, which the row-by-row attempt
/// that follows it waits for.
async fn finish(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    written: Result<(), WriteError>,
) -> Result<(), WriteError> {
    match written {
        Ok(()) => Ok(tx.commit().await?),
        Err(e) => {
            // If the rollback fails, the connection is gone and the database ends the
            // transaction itself; the error worth reporting is the first one.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

pub(super) async fn load_auth(pool: &PgPool) -> Result<AuthState> {
    let mut tx = pool.begin_with(BEGIN_SNAPSHOT).await?;
    let projects = sqlx::query(&format!(
        "SELECT {} FROM projects ORDER BY id",
        super::rows::PROJECT_COLUMNS
    ))
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(super::rows::project)
    .collect::<Result<Vec<_>>>()?;
    // The rows module's App columns bring each App's callbacks along, in their order.
    let apps = sqlx::query(&format!(
        "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id ORDER BY a.id"
    ))
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(rows::app)
    .collect::<Result<Vec<_>>>()?;
    let mut grants = sqlx::query(
        "SELECT id, app_id, user_id, scopes, scope_names, created_at, revoked_at FROM grants ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(GrantRecord {
            id: id(r, "id")?,
            app_id: id(r, "app_id")?,
            user_id: id(r, "user_id")?,
            scopes: scope_names(r, "scopes", "scope_names")?,
            created_at: r.try_get("created_at")?,
            revoked_at: r.try_get("revoked_at")?,
            access_tokens: Vec::new(),
            refresh_tokens: Vec::new(),
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let index: HashMap<Snowflake, usize> =
        grants.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
    // bytea sorts bytewise, as SQLite's BLOB does, so the order is the same in both stores.
    let access = sqlx::query(
        "SELECT token_hash, app_id, grant_id, scopes, created_at, expires_at, revoked_at \
         FROM access_tokens ORDER BY created_at, token_hash",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut app_tokens = Vec::new();
    for r in &access {
        let token = StoredAccessToken {
            hash: hash(r, "token_hash")?,
            scopes: scopes(r, "scopes")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            revoked_at: r.try_get("revoked_at")?,
        };
        match opt_id(r, "grant_id")? {
            Some(g) => {
                if let Some(&i) = index.get(&g) {
                    grants[i].access_tokens.push(token);
                }
            }
            None => app_tokens.push(AppTokenRecord {
                app_id: id(r, "app_id")?,
                token,
            }),
        }
    }
    let refresh = sqlx::query(
        "SELECT token_hash, grant_id, created_at, expires_at, used_at, successor_hash \
         FROM refresh_tokens ORDER BY created_at, token_hash",
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in &refresh {
        let successor: Option<Vec<u8>> = r.try_get("successor_hash")?;
        let token = StoredRefreshToken {
            hash: hash(r, "token_hash")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
            successor: successor
                .map(|s| {
                    roost_domain::TokenHash::from_slice(&s)
                        .ok_or_else(|| StoreError::Other(anyhow!("successor_hash")))
                })
                .transpose()?,
        };
        if let Some(&i) = index.get(&id(r, "grant_id")?) {
            grants[i].refresh_tokens.push(token);
        }
    }
    let admins: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE is_admin ORDER BY id")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(AuthState {
        admins: admins
            .into_iter()
            .map(|i| Snowflake::from_i64(i).map_err(|e| StoreError::Other(e.into())))
            .collect::<Result<_>>()?,
        projects,
        apps,
        app_tokens,
        grants,
    })
}

pub(super) async fn reset(pool: &PgPool, batch: ImportBatch) -> Result<ImportReport> {
    match reset_once(pool, &batch, Pace::Bulk).await {
        Err(WriteError::Ambiguous) => reset_once(pool, &batch, Pace::RowByRow)
            .await
            .map_err(StoreError::from),
        other => other.map_err(StoreError::from),
    }
}

async fn reset_once(
    pool: &PgPool,
    batch: &ImportBatch,
    pace: Pace,
) -> Result<ImportReport, WriteError> {
    let mut tx = pool.begin().await?;
    let written = reset_in(&mut tx, batch, pace).await;
    finish(tx, written).await?;
    Ok(report(batch))
}

async fn reset_in(
    tx: &mut PgConnection,
    batch: &ImportBatch,
    pace: Pace,
) -> Result<(), WriteError> {
    // First, as every content write: the version row's lock also keeps other nodes' content
    // writes out until the reset is done.
    sqlx::query(
        "UPDATE content_version SET version = version + 1, resets = resets + 1 WHERE id = 1",
    )
    .execute(&mut *tx)
    .await?;
    // DELETE, not TRUNCATE: TRUNCATE would lock every table against readers on all nodes until
    // the commit. The statements go together, in one round trip (no parameters).
    static EMPTY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        RESET_TABLES
            .iter()
            .map(|t| format!("DELETE FROM {t};"))
            .collect()
    });
    // A query without parameters goes as a simple query, which may hold several statements.
    // (`sqlx::raw_sql` says the same, but its future is not `Send` enough for `async_trait`.)
    sqlx::Executor::execute(&mut *tx, EMPTY.as_str()).await?;
    write_batch(tx, batch, pace).await?;
    super::record_invalidation(tx, crate::Invalidated::Everything).await?;
    Ok(())
}

pub(super) async fn save_snapshot(
    pool: &PgPool,
    name: &SnapshotName,
    document: &str,
    now: i64,
) -> Result<bool> {
    // Insert, else replace: each statement is atomic, and the answer says which one wrote. A
    // snapshot deleted between the two is inserted on the next turn.
    for _ in 0..3 {
        let inserted = sqlx::query(
            "INSERT INTO snapshots (name, document, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(document)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(false);
        }
        let replaced =
            sqlx::query("UPDATE snapshots SET document = $2, created_at = $3 WHERE name = $1")
                .bind(name.as_str())
                .bind(document)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
        if replaced == 1 {
            return Ok(true);
        }
    }
    Err(StoreError::Other(anyhow!(
        "snapshot {name}: created and deleted by others while it was being saved"
    )))
}

pub(super) async fn snapshots(pool: &PgPool) -> Result<Vec<SnapshotInfo>> {
    // COLLATE "C": names sort bytewise, as in SQLite, whatever the database's locale.
    sqlx::query(
        "SELECT name, created_at, octet_length(document)::BIGINT AS bytes FROM snapshots \
         ORDER BY name COLLATE \"C\"",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        let name: String = r.try_get("name")?;
        Ok(SnapshotInfo {
            name: SnapshotName::parse(&name)
                .map_err(|e| StoreError::Other(anyhow!("snapshot name {name:?}: {e}")))?,
            created_at: r.try_get("created_at")?,
            bytes: r.try_get("bytes")?,
        })
    })
    .collect()
}

pub(super) async fn snapshot(pool: &PgPool, name: &SnapshotName) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT document FROM snapshots WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) async fn delete_snapshot(pool: &PgPool, name: &SnapshotName) -> Result<bool> {
    let n = sqlx::query("DELETE FROM snapshots WHERE name = $1")
        .bind(name.as_str())
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n > 0)
}

// Writing a batch.

/// How a batch is written: each table in one statement, or (to name the record that breaks a
/// uniqueness rule) the records with a uniqueness rule of their own one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    Bulk,
    RowByRow,
}

/// Why writing a batch failed.
#[derive(Debug)]
enum WriteError {
    /// A bulk statement broke a uniqueness rule: which record did is not known (write the
    /// batch again row by row to find out).
    Ambiguous,
    Store(StoreError),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        WriteError::Store(e.into())
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

impl From<WriteError> for StoreError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Store(e) => e,
            WriteError::Ambiguous => {
                StoreError::Other(anyhow!("the import breaks a uniqueness rule of the store"))
            }
        }
    }
}

/// An error of a statement that has no uniqueness rule to name a record by.
fn plain(e: sqlx::Error) -> WriteError {
    if is_foreign_key_violation(&e) {
        WriteError::Store(StoreError::Invalid(DANGLING.into()))
    } else {
        WriteError::Store(text_error(e))
    }
}

/// PostgreSQL's text cannot hold U+0000, which SQLite's can: such text is refused as invalid
/// (SQLSTATE 22021), not reported as the store failing.
fn text_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("22021") => StoreError::Invalid(
            "text cannot contain the NUL character (U+0000) in a PostgreSQL store".into(),
        ),
        _ => e.into(),
    }
}

/// An error of a statement that writes the records of `pace`: in bulk, a broken uniqueness rule
/// is ambiguous; row by row, `record` names the one that broke it.
fn named(e: sqlx::Error, pace: Pace, record: impl FnOnce() -> String) -> WriteError {
    if !is_unique_violation(&e) {
        plain(e)
    } else if pace == Pace::Bulk {
        WriteError::Ambiguous
    } else {
        WriteError::Store(StoreError::Invalid(record()))
    }
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}

/// SQLite's message for a unique key of an auth record held by another record.
fn held_by_another(record: String, what: &str) -> String {
    format!("{record}: {what} belongs to another record in the store")
}

fn report(batch: &ImportBatch) -> ImportReport {
    ImportReport {
        users: batch.users.len(),
        tweets: batch.tweets.len(),
        follows: batch.follows.len(),
        spaces: batch.spaces.len(),
        topics: batch.topics.len(),
        apps: batch.auth.apps.len(),
        grants: batch.auth.grants.len(),
    }
}

/// Writes a validated batch inside `tx`, upserting by id, parents before children.
async fn write_batch(
    tx: &mut PgConnection,
    batch: &ImportBatch,
    pace: Pace,
) -> Result<(), WriteError> {
    match pace {
        Pace::Bulk => upsert_users(tx, &batch.users)
            .await
            .map_err(|e| named(e, pace, String::new))?,
        Pace::RowByRow => {
            for (i, u) in batch.users.iter().enumerate() {
                upsert_users(tx, std::slice::from_ref(u))
                    .await
                    .map_err(|e| {
                        named(e, pace, || {
                            format!(
                                "users[{i}] (id {}): username `{}` belongs to another user",
                                u.id, u.username
                            )
                        })
                    })?;
            }
        }
    }
    upsert_tweets(tx, &batch.tweets).await.map_err(plain)?;
    upsert_follows(tx, &batch.follows).await.map_err(plain)?;
    upsert_spaces(tx, &batch.spaces).await.map_err(plain)?;
    upsert_topics(tx, &batch.topics).await.map_err(plain)?;
    write_auth(tx, &batch.auth, pace).await
}

async fn write_auth(tx: &mut PgConnection, auth: &AuthState, pace: Pace) -> Result<(), WriteError> {
    // Admins are made, never unmade, by an import: a content file's users say nothing of it.
    if !auth.admins.is_empty() {
        let ids: Vec<i64> = auth.admins.iter().map(|a| a.get()).collect();
        sqlx::query("UPDATE users SET is_admin = TRUE WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(plain)?;
    }
    match pace {
        Pace::Bulk => {
            upsert_projects(tx, &auth.projects)
                .await
                .map_err(|e| named(e, pace, String::new))?;
            upsert_apps(tx, &auth.apps)
                .await
                .map_err(|e| named(e, pace, String::new))?;
            replace_callbacks(tx, &auth.apps)
                .await
                .map_err(|e| named(e, pace, String::new))?;
        }
        Pace::RowByRow => {
            for (i, p) in auth.projects.iter().enumerate() {
                upsert_projects(tx, std::slice::from_ref(p))
                    .await
                    .map_err(|e| {
                        named(e, pace, || {
                            held_by_another(format!("projects[{i}] (id {})", p.id), "the name")
                        })
                    })?;
            }
            for (i, a) in auth.apps.iter().enumerate() {
                let record = || format!("apps[{i}] (id {})", a.id);
                let one = std::slice::from_ref(a);
                upsert_apps(tx, one).await.map_err(|e| {
                    named(e, pace, || {
                        held_by_another(record(), "the client id or API key")
                    })
                })?;
                replace_callbacks(tx, one)
                    .await
                    .map_err(|e| named(e, pace, || held_by_another(record(), "a callback URL")))?;
            }
        }
    }
    upsert_grants(tx, &auth.grants).await.map_err(plain)?;
    // SQLite upserts app tokens, then each grant's access and refresh tokens, one after another;
    // a digest listed twice ends as its last listing says. A bulk upsert may touch a row only
    // once, so the earlier listings are dropped first.
    let access: Vec<AccessRow<'_>> = auth
        .app_tokens
        .iter()
        .map(|t| AccessRow {
            app_id: t.app_id,
            grant: None,
            token: &t.token,
        })
        .chain(auth.grants.iter().flat_map(|g| {
            g.access_tokens.iter().map(move |t| AccessRow {
                app_id: g.app_id,
                grant: Some((g.id, g.user_id)),
                token: t,
            })
        }))
        .collect();
    upsert_access_tokens(tx, &last_of_each(access, |a| a.token.hash))
        .await
        .map_err(plain)?;
    let refresh: Vec<(Snowflake, &StoredRefreshToken)> = auth
        .grants
        .iter()
        .flat_map(|g| g.refresh_tokens.iter().map(move |r| (g.id, r)))
        .collect();
    upsert_refresh_tokens(tx, &last_of_each(refresh, |(_, r)| r.hash))
        .await
        .map_err(plain)?;
    Ok(())
}

/// The items, each key's last one only, in the order of those.
fn last_of_each<T, K: Hash + Eq>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    let mut out: Vec<T> = items
        .into_iter()
        .rev()
        .filter(|t| seen.insert(key(t)))
        .collect();
    out.reverse();
    out
}

/// One column of `rows`, as the array bound to one `UNNEST` argument.
fn col<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

async fn upsert_users(tx: &mut PgConnection, users: &[UserRecord]) -> Result<(), sqlx::Error> {
    if users.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO users (id, username, username_key, name, password_hash, description, location, url, \
         profile_image_url, verified, verified_type, protected, pinned_tweet_id, profile_banner_url, listed_count, \
         like_count, created_at, email, withheld_country_codes) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], \
           $8::TEXT[], $9::TEXT[], $10::BOOLEAN[], $11::TEXT[], $12::BOOLEAN[], $13::BIGINT[], $14::TEXT[], \
           $15::BIGINT[], $16::BIGINT[], $17::BIGINT[], $18::TEXT[], $19::TEXT[]) \
         ON CONFLICT (id) DO UPDATE SET username = excluded.username, username_key = excluded.username_key, \
         name = excluded.name, password_hash = COALESCE(excluded.password_hash, users.password_hash), \
         description = excluded.description, location = excluded.location, url = excluded.url, \
         profile_image_url = excluded.profile_image_url, verified = excluded.verified, \
         verified_type = excluded.verified_type, protected = excluded.protected, \
         pinned_tweet_id = excluded.pinned_tweet_id, profile_banner_url = excluded.profile_banner_url, \
         listed_count = excluded.listed_count, like_count = excluded.like_count, created_at = excluded.created_at, \
         email = excluded.email, withheld_country_codes = excluded.withheld_country_codes",
    )
    .bind(col(users, |u| u.id.get()))
    .bind(col(users, |u| u.username.as_str().to_owned()))
    .bind(col(users, |u| u.username.canonical()))
    .bind(col(users, |u| u.name.clone()))
    .bind(col(users, |u| u.password_hash.clone()))
    .bind(col(users, |u| u.description.clone()))
    .bind(col(users, |u| u.location.clone()))
    .bind(col(users, |u| u.url.clone()))
    .bind(col(users, |u| u.profile_image_url.clone()))
    .bind(col(users, |u| u.verified))
    .bind(col(users, |u| u.verified_type.clone()))
    .bind(col(users, |u| u.protected))
    .bind(col(users, |u| u.pinned_tweet_id.map(Snowflake::get)))
    .bind(col(users, |u| u.profile_banner_url.clone()))
    .bind(col(users, |u| u.listed_count))
    .bind(col(users, |u| u.like_count))
    .bind(col(users, |u| u.created_at))
    .bind(col(users, |u| u.email.clone()))
    .bind(col(users, |u| u.withheld_in.join(",")))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_tweets(tx: &mut PgConnection, tweets: &[TweetRecord]) -> Result<(), sqlx::Error> {
    if tweets.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO tweets (id, author_id, text, created_at, conversation_id, in_reply_to_user_id, replied_to_id, \
         quoted_id, retweeted_id, lang, reply_settings, source, possibly_sensitive, like_count, bookmark_count, \
         impression_count, withheld_copyright, withheld_country_codes) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], \
           $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::BOOLEAN[], \
           $14::BIGINT[], $15::BIGINT[], $16::BIGINT[], $17::BOOLEAN[], $18::TEXT[]) \
         ON CONFLICT (id) DO UPDATE SET author_id = excluded.author_id, text = excluded.text, \
         created_at = excluded.created_at, conversation_id = excluded.conversation_id, \
         in_reply_to_user_id = excluded.in_reply_to_user_id, replied_to_id = excluded.replied_to_id, \
         quoted_id = excluded.quoted_id, retweeted_id = excluded.retweeted_id, lang = excluded.lang, \
         reply_settings = excluded.reply_settings, source = excluded.source, \
         possibly_sensitive = excluded.possibly_sensitive, like_count = excluded.like_count, \
         bookmark_count = excluded.bookmark_count, impression_count = excluded.impression_count, \
         withheld_copyright = excluded.withheld_copyright, withheld_country_codes = excluded.withheld_country_codes",
    )
    .bind(col(tweets, |t| t.id.get()))
    .bind(col(tweets, |t| t.author_id.get()))
    .bind(col(tweets, |t| t.text.clone()))
    .bind(col(tweets, |t| t.created_at))
    .bind(col(tweets, |t| t.conversation_id.get()))
    .bind(col(tweets, |t| t.in_reply_to_user_id.map(Snowflake::get)))
    .bind(col(tweets, |t| t.replied_to_id.map(Snowflake::get)))
    .bind(col(tweets, |t| t.quoted_id.map(Snowflake::get)))
    .bind(col(tweets, |t| t.retweeted_id.map(Snowflake::get)))
    .bind(col(tweets, |t| t.lang.clone()))
    .bind(col(tweets, |t| t.reply_settings.clone()))
    .bind(col(tweets, |t| t.source.clone()))
    .bind(col(tweets, |t| t.possibly_sensitive))
    .bind(col(tweets, |t| t.like_count))
    .bind(col(tweets, |t| t.bookmark_count))
    .bind(col(tweets, |t| t.impression_count))
    .bind(col(tweets, |t| t.withheld_copyright))
    .bind(col(tweets, |t| t.withheld_in.join(",")))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_follows(
    tx: &mut PgConnection,
    follows: &[FollowRecord],
) -> Result<(), sqlx::Error> {
    if follows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO follows (source_user_id, target_user_id, created_at, pending) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BOOLEAN[]) \
         ON CONFLICT (source_user_id, target_user_id) DO UPDATE SET pending = excluded.pending",
    )
    .bind(col(follows, |f| f.source_user_id.get()))
    .bind(col(follows, |f| f.target_user_id.get()))
    .bind(col(follows, |f| f.created_at))
    .bind(col(follows, |f| f.pending))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_spaces(tx: &mut PgConnection, spaces: &[SpaceRecord]) -> Result<(), sqlx::Error> {
    if spaces.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO spaces (id, state, title, creator_id, host_ids, speaker_ids, invited_user_ids, topic_ids, lang, \
         is_ticketed, participant_count, subscriber_count, created_at, updated_at, started_at, ended_at, \
         scheduled_start) \
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], \
           $8::TEXT[], $9::TEXT[], $10::BOOLEAN[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BIGINT[], \
           $15::BIGINT[], $16::BIGINT[], $17::BIGINT[]) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, title = excluded.title, \
         creator_id = excluded.creator_id, host_ids = excluded.host_ids, speaker_ids = excluded.speaker_ids, \
         invited_user_ids = excluded.invited_user_ids, topic_ids = excluded.topic_ids, lang = excluded.lang, \
         is_ticketed = excluded.is_ticketed, participant_count = excluded.participant_count, \
         subscriber_count = excluded.subscriber_count, created_at = excluded.created_at, \
         updated_at = excluded.updated_at, started_at = excluded.started_at, ended_at = excluded.ended_at, \
         scheduled_start = excluded.scheduled_start",
    )
    .bind(col(spaces, |s| s.id.clone()))
    .bind(col(spaces, |s| s.state.clone()))
    .bind(col(spaces, |s| s.title.clone()))
    .bind(col(spaces, |s| s.creator_id.get()))
    .bind(col(spaces, |s| join_ids(&s.host_ids)))
    .bind(col(spaces, |s| join_ids(&s.speaker_ids)))
    .bind(col(spaces, |s| join_ids(&s.invited_user_ids)))
    .bind(col(spaces, |s| s.topic_ids.join(",")))
    .bind(col(spaces, |s| s.lang.clone()))
    .bind(col(spaces, |s| s.is_ticketed))
    .bind(col(spaces, |s| s.participant_count))
    .bind(col(spaces, |s| s.subscriber_count))
    .bind(col(spaces, |s| s.created_at))
    .bind(col(spaces, |s| s.updated_at))
    .bind(col(spaces, |s| s.started_at))
    .bind(col(spaces, |s| s.ended_at))
    .bind(col(spaces, |s| s.scheduled_start))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_topics(tx: &mut PgConnection, topics: &[TopicRecord]) -> Result<(), sqlx::Error> {
    if topics.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO topics (id, name, description) \
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description",
    )
    .bind(col(topics, |t| t.id.clone()))
    .bind(col(topics, |t| t.name.clone()))
    .bind(col(topics, |t| t.description.clone()))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_projects(
    tx: &mut PgConnection,
    projects: &[ProjectRecord],
) -> Result<(), sqlx::Error> {
    if projects.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO projects (id, name, created_at, owner_id) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[]) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at, \
         owner_id = excluded.owner_id",
    )
    .bind(col(projects, |p| p.id.get()))
    .bind(col(projects, |p| p.name.clone()))
    .bind(col(projects, |p| p.created_at))
    .bind(col(projects, |p| p.owner_id.map(Snowflake::get)))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_apps(tx: &mut PgConnection, apps: &[AppRecord]) -> Result<(), sqlx::Error> {
    if apps.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO apps (id, project_id, name, client_id, client_type, client_secret_hash, api_key, \
         api_secret_hash, bearer_generation, created_at, auto_consent_user_id, \
         app_kind, description, website_url, client_secret_hint, api_secret_hint) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BYTEA[], \
           $7::TEXT[], $8::BYTEA[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], \
           $12::TEXT[], $13::TEXT[], $14::TEXT[], $15::TEXT[], $16::TEXT[]) \
         ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, name = excluded.name, \
         client_id = excluded.client_id, client_type = excluded.client_type, \
         client_secret_hash = excluded.client_secret_hash, api_key = excluded.api_key, \
         api_secret_hash = excluded.api_secret_hash, bearer_generation = excluded.bearer_generation, \
         created_at = excluded.created_at, auto_consent_user_id = excluded.auto_consent_user_id, \
         app_kind = excluded.app_kind, description = excluded.description, \
         website_url = excluded.website_url, client_secret_hint = excluded.client_secret_hint, \
         api_secret_hint = excluded.api_secret_hint",
    )
    .bind(col(apps, |a| a.id.get()))
    .bind(col(apps, |a| a.project_id.get()))
    .bind(col(apps, |a| a.name.clone()))
    .bind(col(apps, |a| a.client_id.as_str().to_owned()))
    .bind(col(apps, |a| a.client_type.as_str().to_owned()))
    .bind(col(apps, |a| {
        a.client_secret_hash.as_ref().map(|h| h.as_bytes().to_vec())
    }))
    .bind(col(apps, |a| a.api_key.clone()))
    .bind(col(apps, |a| a.api_secret_hash.as_bytes().to_vec()))
    .bind(col(apps, |a| a.bearer_generation))
    .bind(col(apps, |a| a.created_at))
    .bind(col(apps, |a| a.auto_consent_user_id.map(Snowflake::get)))
    .bind(col(apps, |a| a.profile.kind.as_str().to_owned()))
    .bind(col(apps, |a| a.profile.description.clone()))
    .bind(col(apps, |a| {
        a.profile.website_url.as_ref().map(|w| w.as_str().to_owned())
    }))
    .bind(col(apps, |a| a.profile.client_secret_hint.clone()))
    .bind(col(apps, |a| a.profile.api_secret_hint.clone()))
    .execute(&mut *tx)
    .await
    .map(drop)
}

/// The Apps' callbacks become the ones listed, in their order.
async fn replace_callbacks(tx: &mut PgConnection, apps: &[AppRecord]) -> Result<(), sqlx::Error> {
    if apps.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM app_callbacks WHERE app_id = ANY ($1)")
        .bind(col(apps, |a| a.id.get()))
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(i64, i32, &str)> = apps
        .iter()
        .flat_map(|a| {
            a.callbacks.iter().enumerate().map(|(pos, cb)| {
                (
                    a.id.get(),
                    i32::try_from(pos).unwrap_or(i32::MAX),
                    cb.as_str(),
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO app_callbacks (app_id, position, uri) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::INTEGER[], $3::TEXT[])",
    )
    .bind(col(&rows, |r| r.0))
    .bind(col(&rows, |r| r.1))
    .bind(col(&rows, |r| r.2.to_owned()))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_grants(tx: &mut PgConnection, grants: &[GrantRecord]) -> Result<(), sqlx::Error> {
    if grants.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO grants (id, app_id, user_id, scopes, scope_names, created_at, revoked_at) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], \
           $7::BIGINT[]) \
         ON CONFLICT (id) DO UPDATE SET app_id = excluded.app_id, user_id = excluded.user_id, \
         scopes = excluded.scopes, scope_names = excluded.scope_names, created_at = excluded.created_at, \
         revoked_at = excluded.revoked_at",
    )
    .bind(col(grants, |g| g.id.get()))
    .bind(col(grants, |g| g.app_id.get()))
    .bind(col(grants, |g| g.user_id.get()))
    .bind(col(grants, |g| g.scopes.set().to_string()))
    .bind(col(grants, |g| names_column(g.scopes)))
    .bind(col(grants, |g| g.created_at))
    .bind(col(grants, |g| g.revoked_at))
    .execute(&mut *tx)
    .await
    .map(drop)
}

/// An access token of an import: an App's (no grant) or a grant's (with its user).
struct AccessRow<'a> {
    app_id: Snowflake,
    grant: Option<(Snowflake, Snowflake)>,
    token: &'a StoredAccessToken,
}

async fn upsert_access_tokens(
    tx: &mut PgConnection,
    tokens: &[AccessRow<'_>],
) -> Result<(), sqlx::Error> {
    if tokens.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO access_tokens (token_hash, app_id, user_id, grant_id, scopes, created_at, expires_at, revoked_at) \
         SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[], \
           $7::BIGINT[], $8::BIGINT[]) \
         ON CONFLICT (token_hash) DO UPDATE SET app_id = excluded.app_id, \
         user_id = excluded.user_id, grant_id = excluded.grant_id, scopes = excluded.scopes, \
         created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at",
    )
    .bind(col(tokens, |t| t.token.hash.as_bytes().to_vec()))
    .bind(col(tokens, |t| t.app_id.get()))
    .bind(col(tokens, |t| t.grant.map(|(_, u)| u.get())))
    .bind(col(tokens, |t| t.grant.map(|(g, _)| g.get())))
    .bind(col(tokens, |t| t.token.scopes.to_string()))
    .bind(col(tokens, |t| t.token.created_at))
    .bind(col(tokens, |t| t.token.expires_at))
    .bind(col(tokens, |t| t.token.revoked_at))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_refresh_tokens(
    tx: &mut PgConnection,
    tokens: &[(Snowflake, &StoredRefreshToken)],
) -> Result<(), sqlx::Error> {
    if tokens.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at, successor_hash) \
         SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BYTEA[]) \
         ON CONFLICT (token_hash) DO UPDATE SET grant_id = excluded.grant_id, \
         created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at, \
         successor_hash = excluded.successor_hash",
    )
    .bind(col(tokens, |(_, r)| r.hash.as_bytes().to_vec()))
    .bind(col(tokens, |(g, _)| g.get()))
    .bind(col(tokens, |(_, r)| r.created_at))
    .bind(col(tokens, |(_, r)| r.expires_at))
    .bind(col(tokens, |(_, r)| r.used_at))
    .bind(col(tokens, |(_, r)| {
        r.successor.as_ref().map(|h| h.as_bytes().to_vec())
    }))
    .execute(&mut *tx)
    .await
    .map(drop)
}

// Reading rows.

fn user_from_row(row: &PgRow) -> Result<UserRecord> {
    let username: String = row.try_get("username")?;
    Ok(UserRecord {
        id: id(row, "id")?,
        username: Username::parse(&username)
            .map_err(|e| StoreError::Other(anyhow!("username: {e}")))?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        description: row.try_get("description")?,
        location: row.try_get("location")?,
        url: row.try_get("url")?,
        profile_image_url: row.try_get("profile_image_url")?,
        verified: row.try_get("verified")?,
        verified_type: row.try_get("verified_type")?,
        protected: row.try_get("protected")?,
        pinned_tweet_id: opt_id(row, "pinned_tweet_id")?,
        profile_banner_url: row.try_get("profile_banner_url")?,
        listed_count: row.try_get("listed_count")?,
        like_count: row.try_get("like_count")?,
        created_at: row.try_get("created_at")?,
        email: row.try_get("email")?,
        withheld_in: split_list(&row.try_get::<String, _>("withheld_country_codes")?),
    })
}

fn tweet_from_row(row: &PgRow) -> Result<TweetRecord> {
    Ok(TweetRecord {
        id: id(row, "id")?,
        author_id: id(row, "author_id")?,
        text: row.try_get("text")?,
        created_at: row.try_get("created_at")?,
        conversation_id: id(row, "conversation_id")?,
        in_reply_to_user_id: opt_id(row, "in_reply_to_user_id")?,
        replied_to_id: opt_id(row, "replied_to_id")?,
        quoted_id: opt_id(row, "quoted_id")?,
        retweeted_id: opt_id(row, "retweeted_id")?,
        lang: row.try_get("lang")?,
        reply_settings: row.try_get("reply_settings")?,
        source: row.try_get("source")?,
        possibly_sensitive: row.try_get("possibly_sensitive")?,
        like_count: row.try_get("like_count")?,
        bookmark_count: row.try_get("bookmark_count")?,
        impression_count: row.try_get("impression_count")?,
        withheld_in: split_list(&row.try_get::<String, _>("withheld_country_codes")?),
        withheld_copyright: row.try_get("withheld_copyright")?,
    })
}

fn follow_from_row(row: &PgRow) -> Result<FollowRecord> {
    Ok(FollowRecord {
        source_user_id: id(row, "source_user_id")?,
        target_user_id: id(row, "target_user_id")?,
        created_at: row.try_get("created_at")?,
        pending: row.try_get("pending")?,
    })
}

fn space_from_row(row: &PgRow) -> Result<SpaceRecord> {
    let ids = |col: &str| -> Result<Vec<Snowflake>> {
        let v: String = row.try_get(col)?;
        split_ids(&v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}")))
    };
    Ok(SpaceRecord {
        id: row.try_get("id")?,
        state: row.try_get("state")?,
        title: row.try_get("title")?,
        creator_id: id(row, "creator_id")?,
        host_ids: ids("host_ids")?,
        speaker_ids: ids("speaker_ids")?,
        invited_user_ids: ids("invited_user_ids")?,
        topic_ids: split_list(&row.try_get::<String, _>("topic_ids")?),
        lang: row.try_get("lang")?,
        is_ticketed: row.try_get("is_ticketed")?,
        participant_count: row.try_get("participant_count")?,
        subscriber_count: row.try_get("subscriber_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        scheduled_start: row.try_get("scheduled_start")?,
    })
}

fn topic_from_row(row: &PgRow) -> Result<TopicRecord> {
    Ok(TopicRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
    })
}

/// These run against PostgreSQL when `ROOST_TEST_POSTGRES_URL` names a server (scripts/test
/// starts a throwaway one), each on a database of its own, and compare every answer and the
/// whole store afterwards with what `SqliteStore` gives for the same calls: SQLite's behaviour
/// is the specification. Without a server they have nothing to run on and return at once,
/// unless `ROOST_TEST_STORE=postgres` says there should be one: then they fail.
#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use roost_domain::{ClientId, ClientType, RedirectUri, ScopeNames, ScopeSet, TokenHash};
    use sqlx::Connection;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::*;
    use crate::{SqliteStore, Store};

    fn server_url() -> Option<String> {
        match std::env::var("ROOST_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                assert!(
                    std::env::var("ROOST_TEST_STORE").map_or(true, |v| v != "postgres"),
                    "ROOST_TEST_STORE=postgres needs ROOST_TEST_POSTGRES_URL (scripts/test starts a throwaway server)"
                );
                None
            }
        }
    }

    /// A migrated PostgreSQL database of the test's own, beside a migrated SQLite file.
    struct Both {
        pg: PgPool,
        sqlite: SqliteStore,
        admin: String,
        name: String,
        _dir: tempfile::TempDir,
    }

    impl Both {
        async fn new() -> Option<Self> {
            let admin = server_url()?;
            let name = format!(
                "roost_unit_{}_{:x}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            );
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            let opts = PgConnectOptions::from_str(&admin).unwrap().database(&name);
            let pg = PgPoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await
                .unwrap();
            super::super::MIGRATOR.run(&pg).await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let sqlite = SqliteStore::open(dir.path().join("s.db").to_str().unwrap())
                .await
                .unwrap();
            sqlite.migrate().await.unwrap();
            Some(Self {
                pg,
                sqlite,
                admin,
                name,
                _dir: dir,
            })
        }

        /// Everything both stores hold, which must be the same.
        async fn assert_same(&self, when: &str) {
            let pg = dump(
                load_content(&self.pg).await.unwrap(),
                load_auth(&self.pg).await.unwrap(),
            );
            let sq = dump(
                self.sqlite.load_content().await.unwrap(),
                self.sqlite.load_auth().await.unwrap(),
            );
            assert_eq!(
                pg, sq,
                "{when}: PostgreSQL (left) and SQLite (right) differ"
            );
        }
    }

    /// The database goes with the test, passed or failed (from a runtime of its own: the
    /// test's is going away).
    impl Drop for Both {
        fn drop(&mut self) {
            let (admin, name) = (self.admin.clone(), self.name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                });
            })
            .join();
        }
    }

    /// The store as text, in a fixed order (export's).
    fn dump(mut c: Content, a: AuthState) -> String {
        c.users.sort_by_key(|u| u.id);
        c.tweets.sort_by_key(|t| t.id);
        c.follows
            .sort_by_key(|f| (f.source_user_id, f.target_user_id));
        c.spaces.sort_by(|a, b| a.id.cmp(&b.id));
        c.topics.sort_by(|a, b| a.id.cmp(&b.id));
        format!("{c:#?}\n{a:#?}")
    }

    fn sf(n: i64) -> Snowflake {
        Snowflake::from_i64(n).unwrap()
    }

    fn user(n: i64, username: &str) -> UserRecord {
        UserRecord {
            id: sf(n),
            username: Username::parse(username).unwrap(),
            name: format!("User {n}"),
            password_hash: (n % 3 == 0).then(|| format!("$argon2id$v=19$m=8,t=1,p=1$c2FsdA${n}")),
            description: if n % 2 == 0 {
                format!("about {n}")
            } else {
                String::new()
            },
            location: (n % 2 == 1).then(|| "Lisbon".to_owned()),
            url: (n % 4 == 0).then(|| format!("https://u{n}.example")),
            profile_image_url: (n % 5 == 0).then(|| format!("https://img.example/{n}.png")),
            verified: n % 2 == 0,
            verified_type: (n % 2 == 0).then(|| "blue".to_owned()),
            protected: n % 7 == 0,
            pinned_tweet_id: None,
            profile_banner_url: (n % 3 == 1).then(|| "https://banner.example/b".to_owned()),
            listed_count: n * 3,
            like_count: n * 11,
            created_at: 1_600_000_000_000 + n,
            email: (n % 2 == 1).then(|| format!("u{n}@example.com")),
            withheld_in: if n % 6 == 0 {
                vec!["DE".into(), "FR".into()]
            } else {
                Vec::new()
            },
        }
    }

    fn tweet(n: i64, author: i64) -> TweetRecord {
        let reply = n % 5 == 4;
        TweetRecord {
            id: sf(10_000 + n),
            author_id: sf(author),
            text: format!("tweet {n} — ünïcödé, 'quotes', \"double\", back\\slash"),
            created_at: 1_650_000_000_000 + n * 1000,
            conversation_id: sf(if reply { 10_000 + n - 1 } else { 10_000 + n }),
            in_reply_to_user_id: reply.then(|| sf(author)),
            replied_to_id: reply.then(|| sf(10_000 + n - 1)),
            quoted_id: (n % 7 == 3).then(|| sf(10_000)),
            retweeted_id: None,
            lang: (n % 2 == 0).then(|| "en".to_owned()),
            reply_settings: if n % 3 == 0 {
                "following".into()
            } else {
                "everyone".into()
            },
            source: (n % 4 == 0).then(|| "roost".to_owned()),
            possibly_sensitive: n % 9 == 0,
            like_count: n,
            bookmark_count: n / 2,
            impression_count: n * 100,
            withheld_in: if n % 8 == 0 {
                vec!["IN".into()]
            } else {
                Vec::new()
            },
            withheld_copyright: n % 16 == 0,
        }
    }

    fn space(n: i64, creator: i64, others: &[i64]) -> SpaceRecord {
        SpaceRecord {
            id: format!("1sp{n}"),
            state: ["live", "scheduled", "ended"][usize::try_from(n % 3).unwrap()].into(),
            title: (n % 2 == 0).then(|| format!("Space {n}")),
            creator_id: sf(creator),
            host_ids: std::iter::once(creator)
                .chain(others.iter().copied().take(1))
                .map(sf)
                .collect(),
            speaker_ids: others.iter().copied().skip(1).map(sf).collect(),
            invited_user_ids: others.iter().copied().rev().take(2).map(sf).collect(),
            topic_ids: if n % 2 == 0 {
                vec!["848920371311001600".into(), "t-imported".into()]
            } else {
                Vec::new()
            },
            lang: Some("en".into()),
            is_ticketed: n % 4 == 1,
            participant_count: n * 10,
            subscriber_count: n,
            created_at: 1_660_000_000_000 + n,
            updated_at: (n % 2 == 1).then_some(1_660_000_100_000),
            started_at: (n % 3 != 1).then_some(1_660_000_050_000),
            ended_at: (n % 3 == 2).then_some(1_660_000_090_000),
            scheduled_start: (n % 3 == 1).then_some(1_670_000_000_000),
        }
    }

    fn digest(n: u8) -> TokenHash {
        TokenHash::from_slice(&[n; 32]).unwrap()
    }

    fn app(n: i64, project: i64, client_id: &str, callbacks: &[&str]) -> AppRecord {
        AppRecord {
            id: sf(n),
            project_id: sf(project),
            project_name: String::new(),
            name: format!("App {n}"),
            client_id: ClientId::parse(client_id).unwrap(),
            client_type: if n % 2 == 0 {
                ClientType::Confidential
            } else {
                ClientType::Public
            },
            client_secret_hash: (n % 2 == 0).then(|| digest(200)),
            api_key: format!("key{n}"),
            api_secret_hash: digest(201),
            bearer_generation: n % 3,
            callbacks: callbacks
                .iter()
                .map(|c| RedirectUri::parse(c).unwrap())
                .collect(),
            created_at: 1_600_000_000_000,
            auto_consent_user_id: None,
            profile: crate::AppProfile::of_client_type(if n % 2 == 0 {
                ClientType::Confidential
            } else {
                ClientType::Public
            }),
        }
    }

    fn access(n: u8, created_at: i64) -> StoredAccessToken {
        StoredAccessToken {
            hash: digest(n),
            scopes: ScopeSet::parse("tweet.read users.read").unwrap(),
            created_at,
            expires_at: created_at + 7_200_000,
            revoked_at: n.is_multiple_of(4).then_some(created_at + 5),
        }
    }

    /// About the demo set's size, with every field both set and unset somewhere, and an
    /// export's Projects, Apps, grants and tokens.
    fn sample() -> ImportBatch {
        let users: Vec<UserRecord> = (1..=36).map(|n| user(n, &format!("user_{n}"))).collect();
        let mut users = users;
        users[0].pinned_tweet_id = Some(sf(10_000));
        let tweets = (0..409).map(|n| tweet(n, 1 + n % 36)).collect();
        let mut follows = Vec::new();
        for s in 1..=36i64 {
            for k in 1..=10i64 {
                let t = 1 + (s + k * 3) % 36;
                if t != s && follows.len() < 376 {
                    follows.push(FollowRecord {
                        source_user_id: sf(s),
                        target_user_id: sf(t),
                        created_at: 1_640_000_000_000 + s * 100 + k,
                        pending: (s + k) % 11 == 0,
                    });
                }
            }
        }
        follows.dedup_by_key(|f| (f.source_user_id, f.target_user_id));
        let spaces = (0..11).map(|n| space(n, 1 + n, &[20, 21, 22])).collect();
        let topics = vec![
            TopicRecord {
                id: "t-imported".into(),
                name: "Imported".into(),
                description: Some("from a file".into()),
            },
            TopicRecord {
                id: "848920371311001600".into(),
                name: "Renamed".into(),
                description: None,
            },
        ];
        let mut app1 = app(
            501,
            400,
            "client-one",
            &["https://one.example/cb", "http://127.0.0.1/cb"],
        );
        app1.auto_consent_user_id = Some(sf(2));
        let auth = AuthState {
            admins: Vec::new(),
            projects: vec![ProjectRecord {
                id: sf(400),
                name: "Default".into(),
                created_at: 1_600_000_000_000,
                owner_id: None,
            }],
            apps: vec![
                app1,
                app(502, 400, "client-two", &["https://two.example/cb"]),
            ],
            app_tokens: vec![AppTokenRecord {
                app_id: sf(502),
                token: StoredAccessToken {
                    scopes: ScopeSet::parse_allow_empty("").unwrap(),
                    ..access(1, 1_700_000_000_000)
                },
            }],
            grants: vec![GrantRecord {
                id: sf(600),
                app_id: sf(501),
                user_id: sf(3),
                scopes: ScopeNames::parse(
                    "tweet.read users.read account.follows.read offline.access",
                )
                .unwrap(),
                created_at: 1_700_000_000_000,
                revoked_at: None,
                access_tokens: vec![access(2, 1_700_000_000_000), access(4, 1_700_000_000_001)],
                refresh_tokens: vec![
                    StoredRefreshToken {
                        hash: digest(10),
                        created_at: 1_700_000_000_000,
                        expires_at: 1_800_000_000_000,
                        used_at: Some(1_700_000_000_500),
                        successor: Some(digest(11)),
                    },
                    StoredRefreshToken {
                        hash: digest(11),
                        created_at: 1_700_000_000_500,
                        expires_at: 1_800_000_000_000,
                        used_at: None,
                        successor: None,
                    },
                ],
            }],
        };
        ImportBatch {
            users,
            tweets,
            follows,
            spaces,
            topics,
            auth,
        }
    }

    /// Both stores' answer to the same call, which must agree.
    macro_rules! same {
        ($pg:expr, $sqlite:expr) => {{
            let pg = $pg;
            let sq = $sqlite;
            assert_eq!(
                format!("{pg:?}"),
                format!("{sq:?}"),
                "PostgreSQL (left) and SQLite (right) answer differently"
            );
            pg
        }};
    }

    #[tokio::test]
    async fn import_and_every_content_write_match_sqlite() {
        let Some(b) = Both::new().await else { return };
        let batch = sample();
        let report = same!(
            import(&b.pg, batch.clone()).await.unwrap(),
            b.sqlite.import(batch.clone()).await.unwrap()
        );
        assert_eq!(
            (
                report.users,
                report.tweets,
                report.spaces,
                report.apps,
                report.grants
            ),
            (36, 409, 11, 2, 1)
        );
        b.assert_same("after the import").await;

        // Again, changed: upserts by id, a password hash kept when the file has none, callbacks
        // replaced, a token listed twice ends as its last listing says.
        let mut again = batch.clone();
        again.users[2].password_hash = None;
        again.users[4].name = "Renamed".into();
        again.users[4].withheld_in = vec!["BR".into()];
        again.tweets[7].text = "edited".into();
        again.follows[0].pending = !again.follows[0].pending;
        again.spaces[3].speaker_ids = Vec::new();
        again.auth.apps[0].callbacks =
            vec![RedirectUri::parse("https://three.example/cb").unwrap()];
        let dup = access(2, 1_700_000_000_009);
        again.auth.grants[0].access_tokens.push(dup);
        same!(
            import(&b.pg, again.clone()).await.unwrap(),
            b.sqlite.import(again).await.unwrap()
        );
        b.assert_same("after the second import").await;

        let new_user = || NewUser {
            id: sf(77),
            username: Username::parse("Newbie").unwrap(),
            name: "New".into(),
            password_hash: None,
            now: 5,
        };
        same!(
            create_user(&b.pg, new_user()).await.unwrap().id,
            b.sqlite.create_user(new_user()).await.unwrap().id
        );
        let taken = || NewUser {
            id: sf(78),
            username: Username::parse("NEWBIE").unwrap(),
            ..new_user()
        };
        same!(
            create_user(&b.pg, taken()).await.unwrap_err().to_string(),
            b.sqlite.create_user(taken()).await.unwrap_err().to_string()
        );
        same!(
            user_by_username(&b.pg, &Username::parse("newBIE").unwrap())
                .await
                .unwrap()
                .map(|u| u.id),
            b.sqlite
                .user_by_username(&Username::parse("newBIE").unwrap())
                .await
                .unwrap()
                .map(|u| u.id)
        );
        same!(
            set_password_hash(&b.pg, sf(77), "$argon2id$x")
                .await
                .unwrap(),
            b.sqlite
                .set_password_hash(sf(77), "$argon2id$x")
                .await
                .unwrap()
        );
        same!(
            format!("{:?}", user_by_id(&b.pg, sf(77)).await.unwrap()),
            format!("{:?}", b.sqlite.user_by_id(sf(77)).await.unwrap())
        );
        same!(
            format!("{:?}", list_users(&b.pg).await.unwrap()),
            format!("{:?}", b.sqlite.list_users().await.unwrap())
        );

        let t = tweet(900, 77);
        same!(
            create_tweet(&b.pg, t.clone()).await.unwrap(),
            b.sqlite.create_tweet(t).await.unwrap()
        );
        for f in [
            FollowRecord {
                source_user_id: sf(77),
                target_user_id: sf(1),
                created_at: 9,
                pending: false,
            },
            FollowRecord {
                source_user_id: sf(77),
                target_user_id: sf(1),
                created_at: 10,
                pending: true,
            },
        ] {
            same!(
                follow(&b.pg, f.clone()).await.unwrap(),
                b.sqlite.follow(f).await.unwrap()
            );
        }
        same!(
            unfollow(&b.pg, sf(77), sf(1)).await.unwrap(),
            b.sqlite.unfollow(sf(77), sf(1)).await.unwrap()
        );
        same!(
            unfollow(&b.pg, sf(77), sf(1)).await.unwrap(),
            b.sqlite.unfollow(sf(77), sf(1)).await.unwrap()
        );
        // The pinned tweet goes, and the pin with it.
        same!(
            delete_tweet(&b.pg, sf(10_000)).await.unwrap(),
            b.sqlite.delete_tweet(sf(10_000)).await.unwrap()
        );
        same!(
            delete_tweet(&b.pg, sf(10_000)).await.unwrap(),
            b.sqlite.delete_tweet(sf(10_000)).await.unwrap()
        );
        b.assert_same("after the single writes").await;

        // User 20 hosts, speaks in and is invited to other users' Spaces; user 1 created one.
        for name in ["user_20", "user_1", "user_3", "nobody"] {
            let u = Username::parse(name).unwrap();
            same!(
                delete_user(&b.pg, &u).await.unwrap(),
                b.sqlite.delete_user(&u).await.unwrap()
            );
        }
        b.assert_same("after deleting users").await;
        // Every write above moved the version exactly when SQLite's did.
        same!(
            content_version(&b.pg).await.unwrap(),
            b.sqlite.content_version().await.unwrap()
        );
    }

    #[tokio::test]
    async fn import_errors_name_the_record_as_sqlite_does_and_write_nothing() {
        let Some(b) = Both::new().await else { return };
        let batch = sample();
        import(&b.pg, batch.clone()).await.unwrap();
        b.sqlite.import(batch.clone()).await.unwrap();
        let version = content_version(&b.pg).await.unwrap();

        // A username another user holds, a Project name, a client id: the record is named, and
        // the records before it in the file are not written either.
        let mut taken = ImportBatch {
            users: vec![user(90, "fresh"), user(91, "USER_5")],
            ..Default::default()
        };
        taken.users[1].name = "taken".into();
        let mut project = ImportBatch::default();
        project.auth.projects = vec![ProjectRecord {
            id: sf(401),
            name: "Default".into(),
            created_at: 0,
            owner_id: None,
        }];
        let mut client = ImportBatch::default();
        client.auth.apps = vec![
            app(503, 400, "client-three", &["https://x.example/cb"]),
            app(504, 400, "client-one", &["https://y.example/cb"]),
        ];
        // A tweet by nobody.
        let dangling = ImportBatch {
            tweets: vec![tweet(950, 999)],
            ..Default::default()
        };
        for (what, bad) in [
            ("username", taken),
            ("project", project),
            ("client id", client),
            ("dangling", dangling),
        ] {
            let pg = import(&b.pg, bad.clone()).await.unwrap_err().to_string();
            let sq = b.sqlite.import(bad.clone()).await.unwrap_err().to_string();
            assert_eq!(pg, sq, "{what}");
            let pg = reset(&b.pg, {
                let mut r = batch.clone();
                r.users.extend(bad.users.clone());
                r.tweets.extend(bad.tweets.clone());
                r.auth.projects.extend(bad.auth.projects.clone());
                r.auth.apps.extend(bad.auth.apps.clone());
                r
            })
            .await;
            assert!(pg.is_err(), "{what}: reset");
        }
        assert_eq!(
            content_version(&b.pg).await.unwrap(),
            version,
            "nothing was written"
        );

        // The one thing PostgreSQL refuses that SQLite takes: U+0000 in text. Refused as
        // invalid input, with nothing written, not as a failing store.
        let nul = TweetRecord {
            text: "a\0b".into(),
            ..tweet(951, 2)
        };
        for e in [
            import(
                &b.pg,
                ImportBatch {
                    tweets: vec![nul.clone()],
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
            create_tweet(&b.pg, nul).await.unwrap_err(),
        ] {
            assert!(
                matches!(&e, StoreError::Invalid(m) if m.contains("U+0000")),
                "{e:?}"
            );
        }
        assert_eq!(content_version(&b.pg).await.unwrap(), version);
        b.assert_same("after the refused imports").await;

        // Usernames swapped among existing users: fine in this order, as in SQLite...
        let swap = ImportBatch {
            users: vec![user(5, "user_6x"), user(6, "user_5")],
            ..Default::default()
        };
        same!(
            import(&b.pg, swap.clone()).await.unwrap(),
            b.sqlite.import(swap).await.unwrap()
        );
        // ...and refused in the other, naming the first record.
        let swap = ImportBatch {
            users: vec![user(7, "user_6x"), user(5, "user_7")],
            ..Default::default()
        };
        let pg = import(&b.pg, swap.clone()).await.unwrap_err().to_string();
        assert_eq!(pg, b.sqlite.import(swap).await.unwrap_err().to_string());
        assert!(
            pg.starts_with("users[0] (id 7): username `user_6x`"),
            "{pg}"
        );
        b.assert_same("after the swaps").await;
    }

    #[tokio::test]
    async fn reset_empties_all_but_the_operators_tables_and_counts_itself() {
        let Some(b) = Both::new().await else { return };
        let batch = sample();
        import(&b.pg, batch.clone()).await.unwrap();
        b.sqlite.import(batch.clone()).await.unwrap();
        let name = SnapshotName::parse("keep-me").unwrap();
        same!(
            save_snapshot(&b.pg, &name, "{}", 1).await.unwrap(),
            b.sqlite.save_snapshot(&name, "{}", 1).await.unwrap()
        );
        sqlx::query(
            "INSERT INTO admin_tokens (id, token_hash, label, created_at) VALUES (1, $1, 'ops', 0)",
        )
        .bind(digest(99).as_bytes())
        .execute(&b.pg)
        .await
        .unwrap();
        sqlx::query("INSERT INTO server_keys (name, value, created_at) VALUES ('web', '\\x01', 0)")
            .execute(&b.pg)
            .await
            .unwrap();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, idle_expires_at) VALUES ($1, 1, 0, 9, 9)")
            .bind(digest(98).as_bytes())
            .execute(&b.pg)
            .await
            .unwrap();

        let small = ImportBatch {
            users: vec![user(1, "only")],
            ..Default::default()
        };
        same!(
            reset(&b.pg, small.clone()).await.unwrap(),
            b.sqlite.reset(small).await.unwrap()
        );
        b.assert_same("after the reset").await;
        let count = |table: &str| {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let pool = b.pg.clone();
            async move {
                sqlx::query_scalar::<_, i64>(&sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        for t in RESET_TABLES {
            assert_eq!(count(t).await, i64::from(*t == "users"), "{t}");
        }
        for t in ["admin_tokens", "server_keys", "snapshots"] {
            assert_eq!(count(t).await, 1, "{t} stays");
        }
        let resets = load_content(&b.pg).await.unwrap().resets;
        assert_eq!(resets, 1);
        same!(resets, b.sqlite.load_content().await.unwrap().resets);
        // A reset back to the whole set, as a snapshot restore does.
        same!(
            reset(&b.pg, batch.clone()).await.unwrap(),
            b.sqlite.reset(batch).await.unwrap()
        );
        b.assert_same("after the second reset").await;
        same!(
            content_version(&b.pg).await.unwrap(),
            b.sqlite.content_version().await.unwrap()
        );
    }

    #[tokio::test]
    async fn snapshots_match_sqlite() {
        let Some(b) = Both::new().await else { return };
        let names: Vec<SnapshotName> = ["b", "B", "_x", "a.1", "a-1", "Z9"]
            .iter()
            .map(|n| SnapshotName::parse(n).unwrap())
            .collect();
        for (i, n) in names.iter().enumerate() {
            let doc = format!("{{\"n\":\"{}\",\"é\":{i}}}", n.as_str().repeat(i + 1));
            same!(
                save_snapshot(&b.pg, n, &doc, 10).await.unwrap(),
                b.sqlite.save_snapshot(n, &doc, 10).await.unwrap()
            );
        }
        let n = &names[0];
        same!(
            save_snapshot(&b.pg, n, "{\"replaced\":true}", 11)
                .await
                .unwrap(),
            b.sqlite
                .save_snapshot(n, "{\"replaced\":true}", 11)
                .await
                .unwrap()
        );
        same!(
            snapshots(&b.pg).await.unwrap(),
            b.sqlite.snapshots().await.unwrap()
        );
        same!(
            snapshot(&b.pg, n).await.unwrap(),
            b.sqlite.snapshot(n).await.unwrap()
        );
        same!(
            delete_snapshot(&b.pg, n).await.unwrap(),
            b.sqlite.delete_snapshot(n).await.unwrap()
        );
        same!(
            delete_snapshot(&b.pg, n).await.unwrap(),
            b.sqlite.delete_snapshot(n).await.unwrap()
        );
        same!(
            snapshot(&b.pg, n).await.unwrap(),
            b.sqlite.snapshot(n).await.unwrap()
        );
        same!(
            snapshots(&b.pg).await.unwrap(),
            b.sqlite.snapshots().await.unwrap()
        );
    }

    /// Nodes writing content at the same moment: none deadlocks or fails, a follow made twice at
    /// once exists once, and the version moved once per change.
    #[tokio::test]
    async fn concurrent_content_writes_are_serialised() {
        let Some(b) = Both::new().await else { return };
        import(&b.pg, sample()).await.unwrap();
        let before = content_version(&b.pg).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..24i64 {
            let pool = b.pg.clone();
            tasks.spawn(async move {
                match n % 4 {
                    0 => create_tweet(&pool, tweet(2_000 + n, 30)).await.map(|()| 1),
                    1 => follow(
                        &pool,
                        FollowRecord {
                            source_user_id: sf(30),
                            target_user_id: sf(31),
                            created_at: n,
                            pending: false,
                        },
                    )
                    .await
                    .map(|_| 0),
                    2 => import(
                        &pool,
                        ImportBatch {
                            users: vec![user(30, "user_30")],
                            tweets: vec![tweet(3_000 + n, 30)],
                            ..Default::default()
                        },
                    )
                    .await
                    .map(|_| 1),
                    _ => delete_user(
                        &pool,
                        &Username::parse(&format!("user_{}", n / 4 + 1)).unwrap(),
                    )
                    .await
                    .map(|d| i64::from(d.is_some())),
                }
            });
        }
        let mut changes = 0;
        while let Some(r) = tasks.join_next().await {
            changes += r.unwrap().unwrap();
        }
        let follows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM follows WHERE source_user_id = 30 AND target_user_id = 31",
        )
        .fetch_one(&b.pg)
        .await
        .unwrap();
        assert_eq!(follows, 1);
        // The first follow changed something; the other five found it.
        let existed: i64 = i64::from(
            sample()
                .follows
                .iter()
                .any(|f| f.source_user_id == sf(30) && f.target_user_id == sf(31)),
        );
        assert_eq!(
            content_version(&b.pg).await.unwrap(),
            before + changes + 1 - existed
        );
    }
}
