//! The SQLite store.
//!
//! Two pools: one connection for writes and a few for reads. SQLite allows one writer at a time;
//! funnelling this process's writes through one connection means transactions queue in-process
//! instead of failing with SQLITE_BUSY when a deferred transaction tries to upgrade. Other
//! processes (the admin CLI while `serve` runs) are covered by WAL and the busy timeout.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use roost_domain::{
    ClientId, ClientType, RedirectUri, ScopeNames, ScopeSet, Snowflake, TokenHash, Username,
    WebsiteUrl,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use crate::content::{join_ids, split_ids, split_list};
use crate::{
    AccessRecord, AdminTokenRecord, AppChange, AppRecord, AppStats, AppTokenRecord, AuthState,
    CleanupReport, CodeRecord, ConnectedApp, Content, Deletion, FollowRecord, GrantRecord,
    ImportBatch, ImportReport, Invalidated, InvalidationEntry, InvalidationPage, IssuedPair,
    IssuedTokens, NewAdminToken, NewApp, NewCode, NewProject, NewUser, ProjectRecord, RateDelta,
    RateWindow, RedeemOutcome, RefreshRecord, Result, Rotated, Rotation, SessionRecord,
    SnapshotInfo, SpaceRecord, Store, StoreError, StoredAccessToken, StoredRefreshToken,
    TopicRecord, TweetRecord, UsageCount, UserRecord,
};
use roost_domain::SnapshotName;

mod portal;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub(crate) const TABLES: &[&str] = &[
    "server_keys",
    "projects",
    "apps",
    "app_callbacks",
    "users",
    "sessions",
    "consumed_requests",
    "authorization_codes",
    "grants",
    "access_tokens",
    "refresh_tokens",
    "login_failures",
    "tweets",
    "follows",
    "spaces",
    "topics",
    "snapshots",
    "admin_tokens",
    "rate_windows",
    "invalidations",
    "manual_clock",
    "app_usage",
];

/// What a reset empties, children before parents (so no cascade has work left to do). Server
/// keys, snapshots, the content version and any table not named here (admin tokens) stay.
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

#[derive(Debug, Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    rotator: Rotator,
}

impl SqliteStore {
    /// Opens (creating if missing, with mode 0600) the database file at `path`, with the
    /// default timeout.
    pub async fn open(path: &str) -> Result<Self> {
        Self::open_with(path, crate::DEFAULT_TIMEOUT).await
    }

    /// Opens the database file at `path`. `timeout` bounds every wait of a store call: for a
    /// connection of the pool, and for a lock another process holds (SQLite's busy timeout).
    /// A call that would wait longer fails, and the server answers 503 (checklist K5).
    pub async fn open_with(path: &str, timeout: Duration) -> Result<Self> {
        if path.is_empty() {
            return Err(StoreError::Open(
                "the sqlite:// URL names no file".to_owned(),
            ));
        }
        create_private_file(path).map_err(|e| StoreError::Open(format!("{path}: {e}")))?;
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|e| StoreError::Open(format!("{path}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(timeout)
            // Token tables have random 32-byte keys, so reads touch random pages: map the file
            // rather than read it page by page. The page cache stays at SQLite's default size:
            // every commit walks it (pcache truncation), and a 64 MiB one made each refresh
            // rotation slower the more the database grew (perf, bench/run).
            .pragma("mmap_size", "268435456")
            .pragma("temp_store", "memory");
        let write = connect(&opts, 1, timeout)
            .await
            .map_err(|e| StoreError::Open(format!("{path}: {e}")))?;
        let read = connect(&opts, 4, timeout)
            .await
            .map_err(|e| StoreError::Open(format!("{path}: {e}")))?;
        let rotator = Rotator::spawn(write.clone());
        Ok(Self {
            read,
            write,
            rotator,
        })
    }
}

/// Opens a pool. Switching a fresh file to WAL takes an exclusive lock that SQLite's busy
/// timeout does not wait for, so processes opening a new file at the same moment get
/// SQLITE_BUSY; they wait here instead, up to the busy timeout.
async fn connect(
    opts: &SqliteConnectOptions,
    max: u32,
    timeout: Duration,
) -> sqlx::Result<SqlitePool> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let result = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            // A ping before every acquire is a round trip to the connection's worker thread;
            // a local file connection does not go stale the way a network one does.
            .test_before_acquire(false)
            .acquire_timeout(timeout)
            .connect_with(opts.clone())
            .await;
        match result {
            Err(e) if is_busy(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// How many migrations are recorded as applied (0 before the bookkeeping table exists).
async fn applied_migrations(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

/// SQLITE_BUSY or one of its extended codes.
/// The machine's clock, Unix milliseconds: a SQLite file's clock, as every process using the
/// file runs on this machine.
fn machine_time_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 5))
}

#[cfg(unix)]
fn create_private_file(path: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path == ":memory:" || std::path::Path::new(path).exists() {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        // Another process created it between the check and here.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn create_private_file(_path: &str) -> std::io::Result<()> {
    Ok(())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn id(row: &SqliteRow, col: &str) -> Result<Snowflake> {
    let v: i64 = row.try_get(col)?;
    Snowflake::from_i64(v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}")))
}

fn opt_id(row: &SqliteRow, col: &str) -> Result<Option<Snowflake>> {
    let v: Option<i64> = row.try_get(col)?;
    v.map(|v| Snowflake::from_i64(v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}"))))
        .transpose()
}

fn hash(row: &SqliteRow, col: &str) -> Result<TokenHash> {
    let v: Vec<u8> = row.try_get(col)?;
    TokenHash::from_slice(&v)
        .ok_or_else(|| StoreError::Other(anyhow!("{col}: not a SHA-256 digest")))
}

fn scopes(row: &SqliteRow, col: &str) -> Result<ScopeSet> {
    let v: String = row.try_get(col)?;
    ScopeSet::parse_allow_empty(&v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}")))
}

/// The names stored in `names_col` (NULL: today's names), checked against the canonical set in
/// `set_col`.
fn scope_names(row: &SqliteRow, set_col: &str, names_col: &str) -> Result<ScopeNames> {
    let set = scopes(row, set_col)?;
    let names: Option<String> = row.try_get(names_col)?;
    let Some(names) = names else {
        return Ok(ScopeNames::current(set));
    };
    match ScopeNames::parse_allow_empty(&names) {
        Ok(n) if n.set() == set => Ok(n),
        Ok(_) => Err(StoreError::Other(anyhow!(
            "{names_col} does not name the scopes in {set_col}"
        ))),
        Err(e) => Err(StoreError::Other(anyhow!("{names_col}: {e}"))),
    }
}

/// What goes in a `scope_names` column: NULL unless a historic name was used.
fn names_column(names: ScopeNames) -> Option<String> {
    names.uses_historic_names().then(|| names.to_string())
}

const APP_COLUMNS: &str = "a.id, a.project_id, p.name AS project_name, a.name, a.client_id, a.client_type, \
    a.client_secret_hash, a.api_key, a.api_secret_hash, a.bearer_generation, a.created_at, a.auto_consent_user_id, \
    a.app_kind, a.description, a.website_url, a.client_secret_hint, a.api_secret_hint";

const USER_COLUMNS: &str = "id, username, name, password_hash, description, location, url, profile_image_url, \
    verified, verified_type, protected, pinned_tweet_id, profile_banner_url, listed_count, like_count, created_at, \
    email, withheld_country_codes";

const TWEET_COLUMNS: &str = "id, author_id, text, created_at, conversation_id, in_reply_to_user_id, replied_to_id, \
    quoted_id, retweeted_id, lang, reply_settings, source, possibly_sensitive, like_count, bookmark_count, impression_count, \
    withheld_copyright, withheld_country_codes";

const SPACE_COLUMNS: &str = "id, state, title, creator_id, host_ids, speaker_ids, invited_user_ids, topic_ids, lang, \
    is_ticketed, participant_count, subscriber_count, created_at, updated_at, started_at, ended_at, scheduled_start";

/// The most rotations committed together (see `Rotator`).
const MAX_BATCH: usize = 16;
/// Parameters of one rotation in a batch.
const ROTATION_PARAMS: usize = 9;

/// The statements of the `j`-th rotation of a batch: claim the presented token, then insert
/// the new access and refresh tokens of its grant, each insert only if the statement before it
/// changed a row (`changes()`), so a failed claim inserts nothing. (The successor digest cannot
/// be the guard: with a grace window a retry in the same millisecond derives the same
/// successor.) The claim returns `j`, the grant and its scope names. Parameters, from
/// `ROTATION_PARAMS * j`: now, successor digest, presented digest, access digest, its scopes
/// (NULL: the grant's), its expiry, the successor's idle expiry, the presenting App, the
/// family's maximum age in ms (0: none).
fn rotation_statements(j: usize) -> String {
    let p = |n: usize| format!("${}", ROTATION_PARAMS * j + n);
    let (now, successor, presented, access, scopes) = (p(1), p(2), p(3), p(4), p(5));
    let (access_exp, successor_exp, app, max_age) = (p(6), p(7), p(8), p(9));
    format!(
        "UPDATE refresh_tokens SET used_at = {now}, successor_hash = {successor} \
          WHERE token_hash = {presented} AND used_at IS NULL AND expires_at > {now} \
            AND EXISTS (SELECT 1 FROM grants g WHERE g.id = refresh_tokens.grant_id \
                        AND g.app_id = {app} AND g.revoked_at IS NULL \
                        AND ({max_age} = 0 OR g.created_at + {max_age} > {now})) \
          RETURNING {j} AS job, grant_id, \
            (SELECT g.scopes FROM grants g WHERE g.id = grant_id) AS scopes, \
            (SELECT g.scope_names FROM grants g WHERE g.id = grant_id) AS scope_names; \
         INSERT INTO access_tokens (token_hash, app_id, user_id, grant_id, scopes, created_at, expires_at) \
          SELECT {access}, g.app_id, g.user_id, g.id, COALESCE({scopes}, g.scopes), {now}, {access_exp} \
            FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
           WHERE r.token_hash = {presented} AND changes() = 1; \
         INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) \
          SELECT {successor}, g.id, {now}, \
                 CASE WHEN {max_age} = 0 THEN {successor_exp} ELSE MIN({successor_exp}, g.created_at + {max_age}) END \
            FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
           WHERE r.token_hash = {presented} AND changes() = 1; "
    )
}

/// `BEGIN IMMEDIATE`, `k` rotations, `COMMIT`: one command, one commit. Built once per size.
fn rotation_batch_sql(k: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        (1..=MAX_BATCH)
            .map(|k| {
                let body: String = (0..k).map(rotation_statements).collect();
                format!("BEGIN IMMEDIATE; {body}COMMIT")
            })
            .collect()
    });
    all.get(k.clamp(1, MAX_BATCH) - 1)
        .map_or("", String::as_str)
}

type RotationReply = tokio::sync::oneshot::Sender<Result<Option<Rotated>>>;

/// Group commit for refresh rotations. Each rotation writes a handful of pages at random
/// places in the token tables, and a commit of its own costs a hand-off to SQLite's worker
/// thread and the log's commit work: under load, the rotator takes every rotation that is
/// waiting (up to `MAX_BATCH`) and commits them together, as one command. A rotation that
/// loses a race to another in the same batch claims nothing, exactly as in two transactions.
/// If a batch fails, its rotations are retried one by one, so each gets its own answer.
#[derive(Debug, Clone)]
struct Rotator {
    jobs: tokio::sync::mpsc::Sender<(Rotation, RotationReply)>,
}

impl Rotator {
    fn spawn(write: SqlitePool) -> Self {
        let (jobs, mut queue) = tokio::sync::mpsc::channel::<(Rotation, RotationReply)>(1024);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = queue.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                if batch.len() > 1 {
                    tracing::debug!(
                        rotations = batch.len(),
                        "refresh rotations committed together"
                    );
                }
                let rotations: Vec<&Rotation> = batch.iter().map(|(r, _)| r).collect();
                match run_rotations(&write, &rotations).await {
                    Ok(mut done) => {
                        for ((_, reply), d) in batch.drain(..).zip(done.drain(..)) {
                            let _ = reply.send(Ok(d));
                        }
                    }
                    Err(_) if batch.len() > 1 => {
                        for (rotation, reply) in batch.drain(..) {
                            let one = run_rotations(&write, &[&rotation]).await;
                            let _ = reply.send(one.map(|mut d| d.pop().flatten()));
                        }
                    }
                    Err(e) => {
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(StoreError::Other(anyhow!("{e}"))));
                        }
                    }
                }
            }
        });
        Self { jobs }
    }

    async fn rotate(&self, rotation: Rotation) -> Result<Option<Rotated>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send((rotation, reply))
            .await
            .map_err(|_| StoreError::Other(anyhow!("the rotation task has stopped")))?;
        answer
            .await
            .map_err(|_| StoreError::Other(anyhow!("the rotation task has stopped")))?
    }
}

/// One batch: what each rotation claimed (`None`: nothing), in order.
async fn run_rotations(
    write: &SqlitePool,
    rotations: &[&Rotation],
) -> Result<Vec<Option<Rotated>>> {
    let mut query = sqlx::query(rotation_batch_sql(rotations.len()));
    for r in rotations {
        query = query
            .bind(r.now)
            .bind(r.successor_hash.as_bytes().to_vec())
            .bind(r.presented.as_bytes().to_vec())
            .bind(r.access_hash.as_bytes().to_vec())
            .bind(r.access_scopes.map(|s| s.to_string()))
            .bind(r.access_expires_at)
            .bind(r.successor_expires_at)
            .bind(r.app_id.get())
            .bind(r.family_max_age_ms);
    }
    let rows = in_one_trip(write, query).await?;
    let mut done = vec![None; rotations.len()];
    for row in &rows {
        let job: i64 = row.try_get("job")?;
        if let Some(slot) = usize::try_from(job).ok().and_then(|j| done.get_mut(j)) {
            *slot = Some(Rotated {
                grant_id: id(row, "grant_id")?,
                grant_scope_names: scope_names(row, "scopes", "scope_names")?,
            });
        }
    }
    Ok(done)
}

/// Runs a command that opens and commits its own transaction (`BEGIN IMMEDIATE; ...; COMMIT`)
/// on the write connection: one hand-off to SQLite's worker thread instead of one per
/// statement. If a statement fails, the transaction is rolled back before the connection is
/// reused, and a connection that cannot roll back is closed. The caller must not be
/// cancellable between BEGIN and COMMIT (run it in a task of its own).
async fn in_one_trip(
    write: &SqlitePool,
    query: sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'static>>,
) -> Result<Vec<SqliteRow>> {
    let mut conn = write.acquire().await?;
    match query.fetch_all(&mut *conn).await {
        Ok(rows) => Ok(rows),
        Err(e) => {
            match sqlx::query("ROLLBACK").execute(&mut *conn).await {
                Ok(_) => {}
                // The failure came before BEGIN took effect.
                Err(rb) if rb.to_string().contains("no transaction is active") => {}
                Err(_) => drop(conn.detach()),
            }
            Err(StoreError::from(e))
        }
    }
}

impl SqliteStore {
    async fn app_where(&self, clause: &str, bind: AppKey<'_>) -> Result<Option<AppRecord>> {
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id WHERE {clause}"
        );
        let q = sqlx::query(&sql);
        let q = match bind {
            AppKey::Text(s) => q.bind(s),
            AppKey::Id(i) => q.bind(i),
        };
        let Some(row) = q.fetch_optional(&self.read).await? else {
            return Ok(None);
        };
        let mut app = app_from_row(&row)?;
        app.callbacks = self.callbacks(app.id).await?;
        Ok(Some(app))
    }

    async fn callbacks(&self, app_id: Snowflake) -> Result<Vec<RedirectUri>> {
        let rows = sqlx::query("SELECT uri FROM app_callbacks WHERE app_id = ? ORDER BY position")
            .bind(app_id.get())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok(RedirectUri::from_stored(r.try_get("uri")?)))
            .collect()
    }

    async fn insert_tokens(
        tx: &mut sqlx::SqliteConnection,
        grant_id: Snowflake,
        app_id: Snowflake,
        user_id: Snowflake,
        t: &IssuedTokens,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, app_id, user_id, grant_id, scopes, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(t.access_hash.as_bytes())
        .bind(app_id.get())
        .bind(user_id.get())
        .bind(grant_id.get())
        .bind(t.access_scopes.to_string())
        .bind(t.now)
        .bind(t.access_expires_at)
        .execute(&mut *tx)
        .await?;
        if let Some((rhash, rexp)) = &t.refresh {
            sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
                .bind(rhash.as_bytes())
                .bind(grant_id.get())
                .bind(t.now)
                .bind(*rexp)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    async fn revoke_grant_in(
        tx: &mut sqlx::SqliteConnection,
        grant_id: Snowflake,
        now: i64,
    ) -> Result<()> {
        let revoked =
            sqlx::query("UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(grant_id.get())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        // A grant revoked before had its tokens revoked then, and a revoked grant issues none,
        // so only the first revocation has news for the other nodes' caches.
        if revoked > 0 {
            record_invalidation(tx, Invalidated::Grant(grant_id)).await?;
        }
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(grant_id.get())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE refresh_tokens SET used_at = ? WHERE grant_id = ? AND used_at IS NULL")
            .bind(now)
            .bind(grant_id.get())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

enum AppKey<'a> {
    Text(&'a str),
    Id(i64),
}

fn app_from_row(row: &SqliteRow) -> Result<AppRecord> {
    let client_id: String = row.try_get("client_id")?;
    let client_type: String = row.try_get("client_type")?;
    let secret: Option<Vec<u8>> = row.try_get("client_secret_hash")?;
    Ok(AppRecord {
        id: id(row, "id")?,
        project_id: id(row, "project_id")?,
        project_name: row.try_get("project_name")?,
        name: row.try_get("name")?,
        client_id: ClientId::parse(&client_id)
            .map_err(|e| StoreError::Other(anyhow!("client_id: {e}")))?,
        client_type: ClientType::parse(&client_type)
            .ok_or_else(|| StoreError::Other(anyhow!("client_type: {client_type}")))?,
        client_secret_hash: secret
            .map(|s| {
                TokenHash::from_slice(&s)
                    .ok_or_else(|| StoreError::Other(anyhow!("client_secret_hash")))
            })
            .transpose()?,
        api_key: row.try_get("api_key")?,
        api_secret_hash: hash(row, "api_secret_hash")?,
        bearer_generation: row.try_get("bearer_generation")?,
        callbacks: Vec::new(),
        created_at: row.try_get("created_at")?,
        auto_consent_user_id: opt_id(row, "auto_consent_user_id")?,
        profile: crate::profile_from_columns(
            client_type_for_profile(&client_type),
            row.try_get("app_kind")?,
            row.try_get("description")?,
            row.try_get("website_url")?,
            row.try_get("client_secret_hint")?,
            row.try_get("api_secret_hint")?,
        )?,
    })
}

const PROJECT_COLUMNS: &str = "id, name, created_at, owner_id";

fn project_from_row(r: &SqliteRow) -> Result<ProjectRecord> {
    Ok(ProjectRecord {
        id: id(r, "id")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        owner_id: opt_id(r, "owner_id")?,
    })
}

fn client_type_for_profile(s: &str) -> ClientType {
    ClientType::parse(s).unwrap_or(ClientType::Confidential)
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord> {
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

fn tweet_from_row(row: &SqliteRow) -> Result<TweetRecord> {
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

fn topic_from_row(row: &SqliteRow) -> Result<TopicRecord> {
    Ok(TopicRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
    })
}

fn follow_from_row(row: &SqliteRow) -> Result<FollowRecord> {
    Ok(FollowRecord {
        source_user_id: id(row, "source_user_id")?,
        target_user_id: id(row, "target_user_id")?,
        created_at: row.try_get("created_at")?,
        pending: row.try_get("pending")?,
    })
}

fn space_from_row(row: &SqliteRow) -> Result<SpaceRecord> {
    let ids = |col: &str| -> Result<Vec<Snowflake>> {
        let v: String = row.try_get(col)?;
        split_ids(&v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}")))
    };
    let topics: String = row.try_get("topic_ids")?;
    Ok(SpaceRecord {
        id: row.try_get("id")?,
        state: row.try_get("state")?,
        title: row.try_get("title")?,
        creator_id: id(row, "creator_id")?,
        host_ids: ids("host_ids")?,
        speaker_ids: ids("speaker_ids")?,
        invited_user_ids: ids("invited_user_ids")?,
        topic_ids: topics
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
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

/// Row counts for a deletion report: each query counts the rows of one table that belong to
/// the row `id` (bound as `?1`).
async fn count_rows(
    tx: &mut sqlx::SqliteConnection,
    queries: &[(&'static str, &str)],
    id: i64,
) -> Result<BTreeMap<&'static str, u64>> {
    let mut out = BTreeMap::new();
    for (table, sql) in queries {
        let n: i64 = sqlx::query_scalar(sql).bind(id).fetch_one(&mut *tx).await?;
        out.insert(*table, u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

/// Appends to the invalidation feed inside the transaction that makes the change. The update of
/// the head row takes the write lock (SQLite has one writer at a time anyway), so seqs follow
/// commit order with no gaps; a rolled-back transaction takes its seq back with it.
async fn record_invalidation(tx: &mut sqlx::SqliteConnection, what: Invalidated) -> Result<()> {
    let seq: i64 =
        sqlx::query_scalar("UPDATE invalidation_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut *tx)
            .await?;
    let (kind, subject) = what.to_row();
    sqlx::query(
        "INSERT INTO invalidations (seq, kind, subject, created_at) \
         VALUES (?, ?, ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))",
    )
    .bind(seq)
    .bind(kind)
    .bind(subject)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn bump_version(tx: &mut sqlx::SqliteConnection) -> Result<()> {
    sqlx::query("UPDATE content_version SET version = version + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn upsert_user(tx: &mut sqlx::SqliteConnection, u: &UserRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, username, username_key, name, password_hash, description, location, url, \
         profile_image_url, verified, verified_type, protected, pinned_tweet_id, profile_banner_url, listed_count, \
         like_count, created_at, email, withheld_country_codes) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET username = excluded.username, username_key = excluded.username_key, \
         name = excluded.name, password_hash = COALESCE(excluded.password_hash, users.password_hash), \
         description = excluded.description, location = excluded.location, url = excluded.url, \
         profile_image_url = excluded.profile_image_url, verified = excluded.verified, \
         verified_type = excluded.verified_type, protected = excluded.protected, \
         pinned_tweet_id = excluded.pinned_tweet_id, profile_banner_url = excluded.profile_banner_url, \
         listed_count = excluded.listed_count, like_count = excluded.like_count, created_at = excluded.created_at, \
         email = excluded.email, withheld_country_codes = excluded.withheld_country_codes",
    )
    .bind(u.id.get())
    .bind(u.username.as_str())
    .bind(u.username.canonical())
    .bind(&u.name)
    .bind(&u.password_hash)
    .bind(&u.description)
    .bind(&u.location)
    .bind(&u.url)
    .bind(&u.profile_image_url)
    .bind(u.verified)
    .bind(&u.verified_type)
    .bind(u.protected)
    .bind(u.pinned_tweet_id.map(Snowflake::get))
    .bind(&u.profile_banner_url)
    .bind(u.listed_count)
    .bind(u.like_count)
    .bind(u.created_at)
    .bind(&u.email)
    .bind(u.withheld_in.join(","))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_tweet(tx: &mut sqlx::SqliteConnection, t: &TweetRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tweets (id, author_id, text, created_at, conversation_id, in_reply_to_user_id, replied_to_id, \
         quoted_id, retweeted_id, lang, reply_settings, source, possibly_sensitive, like_count, bookmark_count, \
         impression_count, withheld_copyright, withheld_country_codes) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET author_id = excluded.author_id, text = excluded.text, \
         created_at = excluded.created_at, conversation_id = excluded.conversation_id, \
         in_reply_to_user_id = excluded.in_reply_to_user_id, replied_to_id = excluded.replied_to_id, \
         quoted_id = excluded.quoted_id, retweeted_id = excluded.retweeted_id, lang = excluded.lang, \
         reply_settings = excluded.reply_settings, source = excluded.source, \
         possibly_sensitive = excluded.possibly_sensitive, like_count = excluded.like_count, \
         bookmark_count = excluded.bookmark_count, impression_count = excluded.impression_count, \
         withheld_copyright = excluded.withheld_copyright, withheld_country_codes = excluded.withheld_country_codes",
    )
    .bind(t.id.get())
    .bind(t.author_id.get())
    .bind(&t.text)
    .bind(t.created_at)
    .bind(t.conversation_id.get())
    .bind(t.in_reply_to_user_id.map(Snowflake::get))
    .bind(t.replied_to_id.map(Snowflake::get))
    .bind(t.quoted_id.map(Snowflake::get))
    .bind(t.retweeted_id.map(Snowflake::get))
    .bind(&t.lang)
    .bind(&t.reply_settings)
    .bind(&t.source)
    .bind(t.possibly_sensitive)
    .bind(t.like_count)
    .bind(t.bookmark_count)
    .bind(t.impression_count)
    .bind(t.withheld_copyright)
    .bind(t.withheld_in.join(","))
    .execute(&mut *tx)
    .await
    .map(drop)
}

async fn upsert_space(
    tx: &mut sqlx::SqliteConnection,
    sp: &SpaceRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO spaces (id, state, title, creator_id, host_ids, speaker_ids, invited_user_ids, topic_ids, lang, \
         is_ticketed, participant_count, subscriber_count, created_at, updated_at, started_at, ended_at, \
         scheduled_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, title = excluded.title, \
         creator_id = excluded.creator_id, host_ids = excluded.host_ids, speaker_ids = excluded.speaker_ids, \
         invited_user_ids = excluded.invited_user_ids, topic_ids = excluded.topic_ids, lang = excluded.lang, \
         is_ticketed = excluded.is_ticketed, participant_count = excluded.participant_count, \
         subscriber_count = excluded.subscriber_count, created_at = excluded.created_at, \
         updated_at = excluded.updated_at, started_at = excluded.started_at, ended_at = excluded.ended_at, \
         scheduled_start = excluded.scheduled_start",
    )
    .bind(&sp.id)
    .bind(&sp.state)
    .bind(&sp.title)
    .bind(sp.creator_id.get())
    .bind(join_ids(&sp.host_ids))
    .bind(join_ids(&sp.speaker_ids))
    .bind(join_ids(&sp.invited_user_ids))
    .bind(sp.topic_ids.join(","))
    .bind(&sp.lang)
    .bind(sp.is_ticketed)
    .bind(sp.participant_count)
    .bind(sp.subscriber_count)
    .bind(sp.created_at)
    .bind(sp.updated_at)
    .bind(sp.started_at)
    .bind(sp.ended_at)
    .bind(sp.scheduled_start)
    .execute(&mut *tx)
    .await
    .map(drop)
}

/// Commits an import, turning a foreign-key failure into the importer's words.
async fn commit_import(tx: sqlx::Transaction<'_, sqlx::Sqlite>) -> Result<()> {
    tx.commit().await.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::Invalid(
            "a record refers to a user, App or grant that is neither in the file nor in the store"
                .into(),
        ),
        _ => e.into(),
    })
}

/// Writes an import inside `tx`, upserting by id, and bumps the content version.
async fn import_in(tx: &mut sqlx::SqliteConnection, batch: &ImportBatch) -> Result<ImportReport> {
    // Foreign keys are checked at commit, so records may refer to each other in any order.
    sqlx::query("PRAGMA defer_foreign_keys = ON")
        .execute(&mut *tx)
        .await?;
    for (i, u) in batch.users.iter().enumerate() {
        upsert_user(tx, u).await.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Invalid(format!(
                    "users[{i}] (id {}): username `{}` belongs to another user",
                    u.id, u.username
                ))
            } else {
                e.into()
            }
        })?;
    }
    for t in &batch.tweets {
        upsert_tweet(tx, t).await?;
    }
    for f in &batch.follows {
        sqlx::query(
            "INSERT INTO follows (source_user_id, target_user_id, created_at, pending) VALUES (?, ?, ?, ?) \
             ON CONFLICT (source_user_id, target_user_id) DO UPDATE SET pending = excluded.pending",
        )
        .bind(f.source_user_id.get())
        .bind(f.target_user_id.get())
        .bind(f.created_at)
        .bind(f.pending)
        .execute(&mut *tx)
        .await?;
    }
    for sp in &batch.spaces {
        upsert_space(tx, sp).await?;
    }
    for t in &batch.topics {
        sqlx::query(
            "INSERT INTO topics (id, name, description) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.description)
        .execute(&mut *tx)
        .await?;
    }
    import_auth(tx, &batch.auth).await?;
    // Imported tokens and grants may be revoked versions of cached ones.
    let auth = &batch.auth;
    if !(auth.apps.is_empty() && auth.app_tokens.is_empty() && auth.grants.is_empty()) {
        record_invalidation(tx, Invalidated::Everything).await?;
    }
    bump_version(tx).await?;
    Ok(ImportReport {
        users: batch.users.len(),
        tweets: batch.tweets.len(),
        follows: batch.follows.len(),
        spaces: batch.spaces.len(),
        topics: batch.topics.len(),
        apps: batch.auth.apps.len(),
        grants: batch.auth.grants.len(),
    })
}

fn conflict(record: String, what: &str) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.to_owned();
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Invalid(format!(
                "{record}: {what} belongs to another record in the store"
            ))
        } else {
            e.into()
        }
    }
}

async fn upsert_access(
    tx: &mut sqlx::SqliteConnection,
    app_id: Snowflake,
    grant: Option<(Snowflake, Snowflake)>,
    t: &StoredAccessToken,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO access_tokens (token_hash, app_id, user_id, grant_id, scopes, created_at, expires_at, revoked_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO UPDATE SET app_id = excluded.app_id, \
         user_id = excluded.user_id, grant_id = excluded.grant_id, scopes = excluded.scopes, \
         created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at",
    )
    .bind(t.hash.as_bytes())
    .bind(app_id.get())
    .bind(grant.map(|(_, u)| u.get()))
    .bind(grant.map(|(g, _)| g.get()))
    .bind(t.scopes.to_string())
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.revoked_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn import_auth(tx: &mut sqlx::SqliteConnection, auth: &AuthState) -> Result<()> {
    // Admins are made, never unmade, by an import: a content file's users say nothing of it.
    for a in &auth.admins {
        sqlx::query("UPDATE users SET is_admin = TRUE WHERE id = ?")
            .bind(a.get())
            .execute(&mut *tx)
            .await?;
    }
    for (i, p) in auth.projects.iter().enumerate() {
        sqlx::query(
            "INSERT INTO projects (id, name, created_at, owner_id) VALUES (?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at, \
             owner_id = excluded.owner_id",
        )
        .bind(p.id.get())
        .bind(&p.name)
        .bind(p.created_at)
        .bind(p.owner_id.map(Snowflake::get))
        .execute(&mut *tx)
        .await
        .map_err(conflict(format!("projects[{i}] (id {})", p.id), "the name"))?;
    }
    for (i, a) in auth.apps.iter().enumerate() {
        sqlx::query(
            "INSERT INTO apps (id, project_id, name, client_id, client_type, client_secret_hash, api_key, \
             api_secret_hash, bearer_generation, created_at, auto_consent_user_id, \
             app_kind, description, website_url, client_secret_hint, api_secret_hint) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, name = excluded.name, \
             client_id = excluded.client_id, client_type = excluded.client_type, \
             client_secret_hash = excluded.client_secret_hash, api_key = excluded.api_key, \
             api_secret_hash = excluded.api_secret_hash, bearer_generation = excluded.bearer_generation, \
             created_at = excluded.created_at, auto_consent_user_id = excluded.auto_consent_user_id, \
             app_kind = excluded.app_kind, description = excluded.description, \
             website_url = excluded.website_url, client_secret_hint = excluded.client_secret_hint, \
             api_secret_hint = excluded.api_secret_hint",
        )
        .bind(a.id.get())
        .bind(a.project_id.get())
        .bind(&a.name)
        .bind(a.client_id.as_str())
        .bind(a.client_type.as_str())
        .bind(a.client_secret_hash.as_ref().map(|h| h.as_bytes().to_vec()))
        .bind(&a.api_key)
        .bind(a.api_secret_hash.as_bytes())
        .bind(a.bearer_generation)
        .bind(a.created_at)
        .bind(a.auto_consent_user_id.map(|u| u.get()))
        .bind(a.profile.kind.as_str())
        .bind(&a.profile.description)
        .bind(a.profile.website_url.as_ref().map(WebsiteUrl::as_str))
        .bind(&a.profile.client_secret_hint)
        .bind(&a.profile.api_secret_hint)
        .execute(&mut *tx)
        .await
        .map_err(conflict(format!("apps[{i}] (id {})", a.id), "the client id or API key"))?;
        sqlx::query("DELETE FROM app_callbacks WHERE app_id = ?")
            .bind(a.id.get())
            .execute(&mut *tx)
            .await?;
        for (pos, cb) in a.callbacks.iter().enumerate() {
            sqlx::query("INSERT INTO app_callbacks (app_id, position, uri) VALUES (?, ?, ?)")
                .bind(a.id.get())
                .bind(i64::try_from(pos).unwrap_or(i64::MAX))
                .bind(cb.as_str())
                .execute(&mut *tx)
                .await
                .map_err(conflict(
                    format!("apps[{i}] (id {})", a.id),
                    "a callback URL",
                ))?;
        }
    }
    for t in &auth.app_tokens {
        upsert_access(tx, t.app_id, None, &t.token).await?;
    }
    for g in &auth.grants {
        sqlx::query(
            "INSERT INTO grants (id, app_id, user_id, scopes, scope_names, created_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET app_id = excluded.app_id, \
             user_id = excluded.user_id, scopes = excluded.scopes, scope_names = excluded.scope_names, \
             created_at = excluded.created_at, revoked_at = excluded.revoked_at",
        )
        .bind(g.id.get())
        .bind(g.app_id.get())
        .bind(g.user_id.get())
        .bind(g.scopes.set().to_string())
        .bind(names_column(g.scopes))
        .bind(g.created_at)
        .bind(g.revoked_at)
        .execute(&mut *tx)
        .await?;
        for t in &g.access_tokens {
            upsert_access(tx, g.app_id, Some((g.id, g.user_id)), t).await?;
        }
        for r in &g.refresh_tokens {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at, successor_hash) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO UPDATE SET grant_id = excluded.grant_id, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at, \
                 successor_hash = excluded.successor_hash",
            )
            .bind(r.hash.as_bytes())
            .bind(g.id.get())
            .bind(r.created_at)
            .bind(r.expires_at)
            .bind(r.used_at)
            .bind(r.successor.as_ref().map(|h| h.as_bytes().to_vec()))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        // SQLite has no migration lock in sqlx, so processes that open a fresh file at the same
        // moment (`serve` and an admin command, a provisioning script) race: one applies a
        // migration while another, which listed it as pending, fails on it. Each migration runs
        // in one transaction with its bookkeeping, so a failed attempt leaves nothing behind;
        // when another process made progress meanwhile, the attempt is simply repeated. Every
        // retry needs progress, so this ends after at most one retry per migration.
        let mut applied = applied_migrations(&self.write).await;
        loop {
            match MIGRATOR.run(&self.write).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let now = applied_migrations(&self.write).await;
                    if now <= applied {
                        return Err(e.into());
                    }
                    tracing::debug!(error = %e, "another process migrated concurrently; retrying");
                    applied = now;
                }
            }
        }
    }

    async fn ping(&self) -> Result<()> {
        // `SELECT 1` would read no page of the file. Reading a table proves the file and the
        // schema are there; taking the write lock (and letting go at once) proves the writes
        // every grant needs are not blocked, by this process's queue or by another process.
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM server_keys")
            .fetch_one(&self.read)
            .await?;
        self.write
            .begin_with("BEGIN IMMEDIATE")
            .await?
            .rollback()
            .await?;
        Ok(())
    }

    async fn server_key(&self, name: &str, candidate: &[u8], now: i64) -> Result<Vec<u8>> {
        sqlx::query("INSERT INTO server_keys (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .bind(now)
            .execute(&self.write)
            .await?;
        let v: Vec<u8> = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = ?")
            .bind(name)
            .fetch_one(&self.write)
            .await?;
        Ok(v)
    }

    async fn database_time_ms(&self) -> Result<i64> {
        Ok(machine_time_ms())
    }

    async fn manual_clock(&self) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT now_ms FROM manual_clock WHERE id = 1")
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn raise_manual_clock(&self, floor_ms: i64, add_ms: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO manual_clock (id, now_ms) VALUES (1, ?1 + ?2) \
             ON CONFLICT (id) DO UPDATE SET now_ms = MAX(now_ms, ?1) + ?2 RETURNING now_ms",
        )
        .bind(floor_ms)
        .bind(add_ms)
        .fetch_one(&self.write)
        .await?)
    }

    async fn row_counts(&self) -> Result<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for t in TABLES {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
                .fetch_one(&self.read)
                .await?;
            out.insert((*t).to_owned(), n);
        }
        Ok(out)
    }

    async fn is_empty(&self) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM apps)")
                .fetch_one(&self.read)
                .await?;
        Ok(n == 0)
    }

    async fn create_admin_token(&self, token: NewAdminToken) -> Result<AdminTokenRecord> {
        sqlx::query(
            "INSERT INTO admin_tokens (id, token_hash, label, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(token.id.get())
        .bind(token.hash.as_bytes())
        .bind(&token.label)
        .bind(token.now)
        .execute(&self.write)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("admin token")
            } else {
                e.into()
            }
        })?;
        Ok(AdminTokenRecord {
            id: token.id,
            label: token.label,
            created_at: token.now,
            revoked_at: None,
        })
    }

    async fn admin_token_by_hash(&self, hash: TokenHash) -> Result<Option<AdminTokenRecord>> {
        let row = sqlx::query(
            "SELECT id, label, created_at, revoked_at FROM admin_tokens WHERE token_hash = ?",
        )
        .bind(hash.as_bytes())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(AdminTokenRecord {
                id: id(&r, "id")?,
                label: r.try_get("label")?,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .transpose()
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>> {
        let rows =
            sqlx::query("SELECT id, label, created_at, revoked_at FROM admin_tokens ORDER BY id")
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(AdminTokenRecord {
                    id: id(r, "id")?,
                    label: r.try_get("label")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    async fn revoke_admin_token(&self, token_id: Snowflake, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_id.get())
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn create_app(&self, mut app: NewApp) -> Result<AppRecord> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let project_id: i64 = match app.project_id {
            Some(pid) => {
                let name: Option<String> =
                    sqlx::query_scalar("SELECT name FROM projects WHERE id = ?")
                        .bind(pid.get())
                        .fetch_optional(&mut *tx)
                        .await?;
                app.project_name = name.ok_or(StoreError::NotFound("project"))?;
                pid.get()
            }
            None => {
                sqlx::query("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
                    .bind(app.new_project_id.get())
                    .bind(&app.project_name)
                    .bind(app.now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query_scalar("SELECT id FROM projects WHERE name = ?")
                    .bind(&app.project_name)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        let inserted = sqlx::query(
            "INSERT INTO apps (id, project_id, name, client_id, client_type, client_secret_hash, api_key, \
             api_secret_hash, created_at, app_kind, description, website_url, client_secret_hint, api_secret_hint) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(app.id.get())
        .bind(project_id)
        .bind(&app.name)
        .bind(app.client_id.as_str())
        .bind(app.client_type.as_str())
        .bind(app.client_secret_hash.as_ref().map(|h| h.as_bytes().to_vec()))
        .bind(&app.api_key)
        .bind(app.api_secret_hash.as_bytes())
        .bind(app.now)
        .bind(app.profile.kind.as_str())
        .bind(&app.profile.description)
        .bind(app.profile.website_url.as_ref().map(WebsiteUrl::as_str))
        .bind(&app.profile.client_secret_hint)
        .bind(&app.profile.api_secret_hint)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("client_id")),
            other => other?,
        };
        for (pos, cb) in app.callbacks.iter().enumerate() {
            let r =
                sqlx::query("INSERT INTO app_callbacks (app_id, position, uri) VALUES (?, ?, ?)")
                    .bind(app.id.get())
                    .bind(i64::try_from(pos).unwrap_or(i64::MAX))
                    .bind(cb.as_str())
                    .execute(&mut *tx)
                    .await;
            match r {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict("callback URL"));
                }
                other => other?,
            };
        }
        tx.commit().await?;
        Ok(AppRecord {
            id: app.id,
            project_id: Snowflake::from_i64(project_id).map_err(|e| StoreError::Other(e.into()))?,
            project_name: app.project_name,
            name: app.name,
            client_id: app.client_id,
            client_type: app.client_type,
            client_secret_hash: app.client_secret_hash,
            api_key: app.api_key,
            api_secret_hash: app.api_secret_hash,
            bearer_generation: 0,
            callbacks: app.callbacks,
            created_at: app.now,
            auto_consent_user_id: None,
            profile: app.profile,
        })
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id ORDER BY a.id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.read).await?;
        let mut apps = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut app = app_from_row(row)?;
            app.callbacks = self.callbacks(app.id).await?;
            apps.push(app);
        }
        Ok(apps)
    }

    async fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        self.app_where("a.client_id = ?", AppKey::Text(client_id))
            .await
    }

    async fn app_by_api_key(&self, api_key: &str) -> Result<Option<AppRecord>> {
        self.app_where("a.api_key = ?", AppKey::Text(api_key)).await
    }

    async fn app_by_id(&self, id: Snowflake) -> Result<Option<AppRecord>> {
        self.app_where("a.id = ?", AppKey::Id(id.get())).await
    }

    async fn app_ids(&self) -> Result<Vec<Snowflake>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM apps")
            .fetch_all(&self.read)
            .await?;
        ids.into_iter()
            .map(|i| Snowflake::from_i64(i).map_err(|e| StoreError::Other(e.into())))
            .collect()
    }

    async fn delete_app(&self, client_id: &str) -> Result<Option<Deletion>> {
        // IMMEDIATE: the transaction reads before it writes, and a deferred one could not
        // upgrade to a write if another process wrote in between.
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let app: Option<i64> = sqlx::query_scalar("SELECT id FROM apps WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(app) = app else { return Ok(None) };
        let removed = count_rows(
            &mut tx,
            &[
                ("app_callbacks", "SELECT COUNT(*) FROM app_callbacks WHERE app_id = ?"),
                (
                    "authorization_codes",
                    "SELECT COUNT(*) FROM authorization_codes WHERE app_id = ?",
                ),
                ("grants", "SELECT COUNT(*) FROM grants WHERE app_id = ?"),
                ("access_tokens", "SELECT COUNT(*) FROM access_tokens WHERE app_id = ?"),
                (
                    "refresh_tokens",
                    "SELECT COUNT(*) FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE app_id = ?)",
                ),
            ],
            app,
        )
        .await?;
        // The foreign keys cascade from here: callbacks, codes, grants and through them the
        // refresh tokens, access tokens.
        sqlx::query("DELETE FROM apps WHERE id = ?")
            .bind(app)
            .execute(&mut *tx)
            .await?;
        let app = Snowflake::from_i64(app).map_err(|e| StoreError::Other(e.into()))?;
        record_invalidation(&mut tx, Invalidated::App(app)).await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(Deletion { id: app, removed }))
    }

    async fn bump_bearer_generation(&self, app_id: Snowflake, expected: i64) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query("UPDATE apps SET bearer_generation = bearer_generation + 1 WHERE id = ? AND bearer_generation = ?")
            .bind(app_id.get())
            .bind(expected)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        record_invalidation(&mut tx, Invalidated::AppTokens(app_id)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn update_app(&self, app_id: Snowflake, change: AppChange) -> Result<Option<AppRecord>> {
        self.portal_update_app(app_id, change).await
    }

    async fn set_client_secret(
        &self,
        app_id: Snowflake,
        hash: TokenHash,
        hint: &str,
    ) -> Result<bool> {
        self.portal_set_client_secret(app_id, hash, hint).await
    }

    async fn set_api_credentials(
        &self,
        app_id: Snowflake,
        api_key: &str,
        secret_hash: TokenHash,
        hint: &str,
    ) -> Result<bool> {
        self.portal_set_api_credentials(app_id, api_key, secret_hash, hint)
            .await
    }

    async fn create_project(&self, project: NewProject) -> Result<ProjectRecord> {
        self.portal_create_project(project).await
    }

    async fn list_projects(&self) -> Result<Vec<ProjectRecord>> {
        self.portal_list_projects().await
    }

    async fn project_by_id(&self, id: Snowflake) -> Result<Option<ProjectRecord>> {
        self.portal_project(id).await
    }

    async fn rename_project(&self, id: Snowflake, name: &str) -> Result<Option<ProjectRecord>> {
        self.portal_rename_project(id, name).await
    }

    async fn set_project_owner(&self, id: Snowflake, owner: Option<Snowflake>) -> Result<bool> {
        self.portal_set_project_owner(id, owner).await
    }

    async fn delete_project(&self, id: Snowflake) -> Result<Option<Deletion>> {
        self.portal_delete_project(id).await
    }

    async fn delete_user_sessions(&self, user_id: Snowflake) -> Result<u64> {
        self.portal_delete_user_sessions(user_id).await
    }

    async fn user_is_admin(&self, user_id: Snowflake) -> Result<bool> {
        self.portal_user_is_admin(user_id).await
    }

    async fn set_user_admin(&self, user_id: Snowflake, admin: bool) -> Result<bool> {
        self.portal_set_user_admin(user_id, admin).await
    }

    async fn admin_user_ids(&self) -> Result<Vec<Snowflake>> {
        self.portal_admin_user_ids().await
    }

    async fn connected_apps(&self, user_id: Snowflake, now: i64) -> Result<Vec<ConnectedApp>> {
        self.portal_connected_apps(user_id, now).await
    }

    async fn revoke_app_for_user(
        &self,
        app_id: Snowflake,
        user_id: Snowflake,
        now: i64,
    ) -> Result<u64> {
        self.portal_revoke_app_for_user(app_id, user_id, now).await
    }

    async fn record_usage(
        &self,
        counts: &[UsageCount],
        used: &[(Snowflake, Snowflake, i64)],
    ) -> Result<()> {
        self.portal_record_usage(counts, used).await
    }

    async fn app_usage(&self, app_id: Snowflake, since: i64) -> Result<Vec<UsageCount>> {
        self.portal_app_usage(app_id, since).await
    }

    async fn app_stats(&self, app_id: Snowflake, now: i64) -> Result<AppStats> {
        self.portal_app_stats(app_id, now).await
    }

    async fn create_user(&self, user: NewUser) -> Result<UserRecord> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO users (id, username, username_key, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
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
            other => other?,
        };
        bump_version(&mut tx).await?;
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

    async fn user_by_id(&self, id: Snowflake) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.get())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_auto_consent(
        &self,
        app_id: Snowflake,
        user_id: Option<Snowflake>,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE apps SET auto_consent_user_id = ? WHERE id = ?")
            .bind(user_id.map(Snowflake::get))
            .bind(app_id.get())
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn user_by_username(&self, username: &Username) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username_key = ?"
        ))
        .bind(username.canonical())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_password_hash(&self, user_id: Snowflake, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(user_id.get())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn delete_user(&self, username: &Username) -> Result<Option<Deletion>> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let user: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username_key = ?")
            .bind(username.canonical())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(user) = user else { return Ok(None) };
        let removed = count_rows(
            &mut tx,
            &[
                ("sessions", "SELECT COUNT(*) FROM sessions WHERE user_id = ?1"),
                (
                    "authorization_codes",
                    "SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?1",
                ),
                ("grants", "SELECT COUNT(*) FROM grants WHERE user_id = ?1"),
                ("access_tokens", "SELECT COUNT(*) FROM access_tokens WHERE user_id = ?1"),
                (
                    "refresh_tokens",
                    "SELECT COUNT(*) FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = ?1)",
                ),
                ("tweets", "SELECT COUNT(*) FROM tweets WHERE author_id = ?1"),
                (
                    "follows",
                    "SELECT COUNT(*) FROM follows WHERE source_user_id = ?1 OR target_user_id = ?1",
                ),
                ("spaces", "SELECT COUNT(*) FROM spaces WHERE creator_id = ?1"),
            ],
            user,
        )
        .await?;
        // What the foreign keys cannot reach: this user in other Spaces' id lists. (A pinned
        // tweet is always the user's own, checked at import.)
        let listed = sqlx::query(
            "SELECT id, host_ids, speaker_ids, invited_user_ids FROM spaces WHERE creator_id <> ?1 \
             AND instr(',' || host_ids || ',' || speaker_ids || ',' || invited_user_ids || ',', ',' || ?1 || ',') > 0",
        )
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let gone = user.to_string();
        let without = |row: &SqliteRow, col: &str| -> Result<String> {
            let v: String = row.try_get(col)?;
            Ok(v.split(',')
                .filter(|id| !id.is_empty() && *id != gone)
                .collect::<Vec<_>>()
                .join(","))
        };
        for row in &listed {
            let space: String = row.try_get("id")?;
            sqlx::query(
                "UPDATE spaces SET host_ids = ?, speaker_ids = ?, invited_user_ids = ? WHERE id = ?",
            )
            .bind(without(row, "host_ids")?)
            .bind(without(row, "speaker_ids")?)
            .bind(without(row, "invited_user_ids")?)
            .bind(space)
            .execute(&mut *tx)
            .await?;
        }
        // The foreign keys cascade from here: sessions, codes, grants, tokens, tweets, follows
        // and Spaces the user created.
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let user = Snowflake::from_i64(user).map_err(|e| StoreError::Other(e.into()))?;
        record_invalidation(&mut tx, Invalidated::User(user)).await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(Deletion { id: user, removed }))
    }

    async fn create_session(
        &self,
        hash: TokenHash,
        user_id: Snowflake,
        now: i64,
        expires_at: i64,
        idle_expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, idle_expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(hash.as_bytes())
        .bind(user_id.get())
        .bind(now)
        .bind(expires_at)
        .bind(idle_expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn session(&self, hash: TokenHash, now: i64) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT user_id, idle_expires_at FROM sessions \
             WHERE token_hash = ? AND expires_at > ? AND idle_expires_at > ?",
        )
        .bind(hash.as_bytes())
        .bind(now)
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user_id: id(&row, "user_id")?,
            idle_expires_at: row.try_get("idle_expires_at")?,
        }))
    }

    async fn touch_session(&self, hash: TokenHash, idle_expires_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET idle_expires_at = ? WHERE token_hash = ? AND idle_expires_at < ?",
        )
        .bind(idle_expires_at)
        .bind(hash.as_bytes())
        .bind(idle_expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn delete_session(&self, hash: TokenHash) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(hash.as_bytes())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn consume_request(&self, hash: TokenHash, expires_at: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO consumed_requests (request_hash, expires_at) VALUES (?, ?) ON CONFLICT (request_hash) DO NOTHING",
        )
        .bind(hash.as_bytes())
        .bind(expires_at)
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn login_failures(&self, keys: &[String], window_start: i64) -> Result<Vec<i64>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let n: Option<i64> = sqlx::query_scalar(
                "SELECT count FROM login_failures WHERE key = ? AND window_start = ?",
            )
            .bind(key)
            .bind(window_start)
            .fetch_optional(&self.read)
            .await?;
            out.push(n.unwrap_or(0));
        }
        Ok(out)
    }

    async fn record_login_failure(&self, keys: &[String], window_start: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for key in keys {
            sqlx::query(
                "INSERT INTO login_failures (key, window_start, count) VALUES (?, ?, 1) \
                 ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1",
            )
            .bind(key)
            .bind(window_start)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add_rate_counts(&self, deltas: &[RateDelta]) -> Result<Vec<RateWindow>> {
        /// Rows per statement: four binds each, well under SQLite's limit of bound variables.
        const CHUNK: usize = 250;
        let conflict = crate::rate::upsert_conflict_clause();
        let mut returned = std::collections::HashMap::with_capacity(deltas.len());
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in crate::rate::in_key_order(deltas).chunks(CHUNK) {
            let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO rate_windows (key, window_start, window_ms, count) VALUES {values} {conflict}"
            );
            let mut q = sqlx::query(&sql);
            for d in chunk {
                q = q
                    .bind(&d.key)
                    .bind(d.window_start)
                    .bind(d.window_ms)
                    .bind(d.admitted);
            }
            for row in q.fetch_all(&mut *tx).await? {
                returned.insert(
                    row.try_get::<String, _>("key")?,
                    RateWindow {
                        window_start: row.try_get("window_start")?,
                        count: row.try_get("count")?,
                    },
                );
            }
        }
        tx.commit().await?;
        crate::rate::in_delta_order(deltas, returned)
    }

    async fn create_code(&self, code: NewCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, grant_id, app_id, user_id, scopes, scope_names, \
             redirect_uri, code_challenge, code_challenge_method, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(code.code_hash.as_bytes())
        .bind(code.grant_id.get())
        .bind(code.app_id.get())
        .bind(code.user_id.get())
        .bind(code.scopes.set().to_string())
        .bind(names_column(code.scopes))
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.code_challenge_method)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn code_by_hash(&self, h: TokenHash) -> Result<Option<CodeRecord>> {
        let row = sqlx::query(
            "SELECT grant_id, app_id, user_id, scopes, scope_names, redirect_uri, code_challenge, \
             code_challenge_method, created_at, expires_at, used_at FROM authorization_codes WHERE code_hash = ?",
        )
        .bind(h.as_bytes())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(CodeRecord {
            grant_id: id(&row, "grant_id")?,
            app_id: id(&row, "app_id")?,
            user_id: id(&row, "user_id")?,
            scopes: scope_names(&row, "scopes", "scope_names")?,
            redirect_uri: row.try_get("redirect_uri")?,
            code_challenge: row.try_get("code_challenge")?,
            code_challenge_method: row.try_get("code_challenge_method")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
        }))
    }

    async fn redeem_code(&self, h: TokenHash, tokens: IssuedTokens) -> Result<RedeemOutcome> {
        let mut tx = self.write.begin().await?;
        let claimed = sqlx::query(
            "UPDATE authorization_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL \
             RETURNING grant_id, app_id, user_id, scopes, scope_names",
        )
        .bind(tokens.now)
        .bind(h.as_bytes())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = claimed else {
            let grant: Option<i64> =
                sqlx::query_scalar("SELECT grant_id FROM authorization_codes WHERE code_hash = ?")
                    .bind(h.as_bytes())
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(g) = grant {
                let g = Snowflake::from_i64(g).map_err(|e| StoreError::Other(e.into()))?;
                Self::revoke_grant_in(&mut tx, g, tokens.now).await?;
            }
            tx.commit().await?;
            return Ok(RedeemOutcome::Replayed);
        };
        let grant_id = id(&row, "grant_id")?;
        let app_id = id(&row, "app_id")?;
        let user_id = id(&row, "user_id")?;
        let grant_scopes: String = row.try_get("scopes")?;
        let grant_scope_names: Option<String> = row.try_get("scope_names")?;
        sqlx::query(
            "INSERT INTO grants (id, app_id, user_id, scopes, scope_names, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(grant_id.get())
        .bind(app_id.get())
        .bind(user_id.get())
        .bind(grant_scopes)
        .bind(grant_scope_names)
        .bind(tokens.now)
        .execute(&mut *tx)
        .await?;
        Self::insert_tokens(&mut tx, grant_id, app_id, user_id, &tokens).await?;
        tx.commit().await?;
        Ok(RedeemOutcome::Issued)
    }

    async fn refresh_by_hash(&self, h: TokenHash) -> Result<Option<RefreshRecord>> {
        let row = sqlx::query(
            "SELECT r.grant_id, g.app_id, g.user_id, g.scopes, g.scope_names, g.created_at AS grant_created_at, \
             r.expires_at, r.used_at, g.revoked_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = ?",
        )
        .bind(h.as_bytes())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        Ok(Some(RefreshRecord {
            grant_id: id(&row, "grant_id")?,
            app_id: id(&row, "app_id")?,
            user_id: id(&row, "user_id")?,
            grant_scopes: scopes(&row, "scopes")?,
            grant_scope_names: scope_names(&row, "scopes", "scope_names")?,
            grant_created_at: row.try_get("grant_created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            grant_revoked: revoked.is_some(),
        }))
    }

    async fn rotate_refresh(&self, r: Rotation) -> Result<Option<Rotated>> {
        self.rotator.rotate(r).await
    }

    async fn retried_rotation(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        access: TokenHash,
    ) -> Result<Option<IssuedPair>> {
        let row = sqlx::query(
            "SELECT a.expires_at, a.scopes FROM refresh_tokens r \
               JOIN refresh_tokens s ON s.token_hash = r.successor_hash \
               JOIN grants g ON g.id = r.grant_id \
               JOIN access_tokens a ON a.token_hash = ? AND a.grant_id = r.grant_id \
              WHERE r.token_hash = ? AND r.successor_hash = ? AND s.used_at IS NULL \
                AND g.revoked_at IS NULL AND a.revoked_at IS NULL",
        )
        .bind(access.as_bytes())
        .bind(presented.as_bytes())
        .bind(successor.as_bytes())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(IssuedPair {
            access_expires_at: row.try_get("expires_at")?,
            scopes: scopes(&row, "scopes")?,
        }))
    }

    async fn revoke_grant(&self, grant_id: Snowflake, now: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        Self::revoke_grant_in(&mut tx, grant_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_app_token(
        &self,
        app_id: Snowflake,
        h: TokenHash,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, app_id, scopes, created_at, expires_at) VALUES (?, ?, '', ?, ?)",
        )
        .bind(h.as_bytes())
        .bind(app_id.get())
        .bind(now)
        .bind(expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn access_token(&self, h: TokenHash) -> Result<Option<AccessRecord>> {
        let row = sqlx::query(
            "SELECT app_id, user_id, grant_id, scopes, expires_at, revoked_at FROM access_tokens WHERE token_hash = ?",
        )
        .bind(h.as_bytes())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        Ok(Some(AccessRecord {
            app_id: id(&row, "app_id")?,
            user_id: opt_id(&row, "user_id")?,
            grant_id: opt_id(&row, "grant_id")?,
            scopes: scopes(&row, "scopes")?,
            expires_at: row.try_get("expires_at")?,
            revoked: revoked.is_some(),
        }))
    }

    async fn revoke_access_token(&self, h: TokenHash, app_id: Snowflake, now: i64) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "UPDATE access_tokens SET revoked_at = ? WHERE token_hash = ? AND app_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(h.as_bytes())
        .bind(app_id.get())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        record_invalidation(&mut tx, Invalidated::AccessToken(h)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_refresh_token(
        &self,
        h: TokenHash,
        app_id: Snowflake,
        now: i64,
    ) -> Result<Option<Snowflake>> {
        let mut tx = self.write.begin().await?;
        let grant: Option<i64> = sqlx::query_scalar(
            "SELECT g.id FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
             WHERE r.token_hash = ? AND g.app_id = ? AND g.revoked_at IS NULL",
        )
        .bind(h.as_bytes())
        .bind(app_id.get())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(g) = grant else { return Ok(None) };
        let g = Snowflake::from_i64(g).map_err(|e| StoreError::Other(e.into()))?;
        Self::revoke_grant_in(&mut tx, g, now).await?;
        tx.commit().await?;
        Ok(Some(g))
    }

    async fn load_content(&self) -> Result<Content> {
        // One read transaction, so the content and its version agree.
        let mut tx = self.read.begin().await?;
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

    async fn content_version(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT version FROM content_version WHERE id = 1")
                .fetch_one(&self.read)
                .await?,
        )
    }

    async fn create_tweet(&self, tweet: TweetRecord) -> Result<()> {
        let mut tx = self.write.begin().await?;
        upsert_tweet(&mut tx, &tweet).await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_tweet(&self, tweet_id: Snowflake) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("DELETE FROM tweets WHERE id = ?")
            .bind(tweet_id.get())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            sqlx::query("UPDATE users SET pinned_tweet_id = NULL WHERE pinned_tweet_id = ?")
                .bind(tweet_id.get())
                .execute(&mut *tx)
                .await?;
            bump_version(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn follow(&self, follow: FollowRecord) -> Result<FollowRecord> {
        let mut tx = self.write.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO follows (source_user_id, target_user_id, created_at, pending) VALUES (?, ?, ?, ?) \
             ON CONFLICT (source_user_id, target_user_id) DO NOTHING",
        )
        .bind(follow.source_user_id.get())
        .bind(follow.target_user_id.get())
        .bind(follow.created_at)
        .bind(follow.pending)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(
            "SELECT source_user_id, target_user_id, created_at, pending FROM follows \
             WHERE source_user_id = ? AND target_user_id = ?",
        )
        .bind(follow.source_user_id.get())
        .bind(follow.target_user_id.get())
        .fetch_one(&mut *tx)
        .await?;
        if inserted > 0 {
            bump_version(&mut tx).await?;
        }
        tx.commit().await?;
        follow_from_row(&row)
    }

    async fn unfollow(&self, source: Snowflake, target: Snowflake) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query("DELETE FROM follows WHERE source_user_id = ? AND target_user_id = ?")
            .bind(source.get())
            .bind(target.get())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            bump_version(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn import(&self, batch: ImportBatch) -> Result<ImportReport> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let report = import_in(&mut tx, &batch).await?;
        commit_import(tx).await?;
        Ok(report)
    }

    async fn load_auth(&self) -> Result<AuthState> {
        // One read transaction, so the parts agree with each other.
        let mut tx = self.read.begin().await?;
        let projects = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY id"
        ))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(project_from_row)
        .collect::<Result<Vec<_>>>()?;
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id ORDER BY a.id"
        );
        let mut apps = sqlx::query(&sql)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(app_from_row)
            .collect::<Result<Vec<_>>>()?;
        let callbacks =
            sqlx::query("SELECT app_id, uri FROM app_callbacks ORDER BY app_id, position")
                .fetch_all(&mut *tx)
                .await?;
        for r in &callbacks {
            let app_id = id(r, "app_id")?;
            if let Some(a) = apps.iter_mut().find(|a| a.id == app_id) {
                a.callbacks
                    .push(RedirectUri::from_stored(r.try_get("uri")?));
            }
        }
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
        let index: std::collections::HashMap<Snowflake, usize> =
            grants.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        let mut app_tokens = Vec::new();
        let access = sqlx::query(
            "SELECT token_hash, app_id, grant_id, scopes, created_at, expires_at, revoked_at \
             FROM access_tokens ORDER BY created_at, token_hash",
        )
        .fetch_all(&mut *tx)
        .await?;
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
                        TokenHash::from_slice(&s)
                            .ok_or_else(|| StoreError::Other(anyhow!("successor_hash")))
                    })
                    .transpose()?,
            };
            if let Some(&i) = index.get(&id(r, "grant_id")?) {
                grants[i].refresh_tokens.push(token);
            }
        }
        let admins: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE is_admin ORDER BY id")
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

    async fn reset(&self, batch: ImportBatch) -> Result<ImportReport> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("PRAGMA defer_foreign_keys = ON")
            .execute(&mut *tx)
            .await?;
        for t in RESET_TABLES {
            sqlx::query(&format!("DELETE FROM {t}"))
                .execute(&mut *tx)
                .await?;
        }
        let report = import_in(&mut tx, &batch).await?;
        record_invalidation(&mut tx, Invalidated::Everything).await?;
        sqlx::query("UPDATE content_version SET resets = resets + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        commit_import(tx).await?;
        Ok(report)
    }

    async fn save_snapshot(&self, name: &SnapshotName, document: &str, now: i64) -> Result<bool> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let existed: Option<i64> = sqlx::query_scalar("SELECT 1 FROM snapshots WHERE name = ?")
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO snapshots (name, document, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET document = excluded.document, created_at = excluded.created_at",
        )
        .bind(name.as_str())
        .bind(document)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existed.is_some())
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        sqlx::query(
            "SELECT name, created_at, LENGTH(CAST(document AS BLOB)) AS bytes FROM snapshots ORDER BY name",
        )
        .fetch_all(&self.read)
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

    async fn snapshot(&self, name: &SnapshotName) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT document FROM snapshots WHERE name = ?")
                .bind(name.as_str())
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn delete_snapshot(&self, name: &SnapshotName) -> Result<bool> {
        let n = sqlx::query("DELETE FROM snapshots WHERE name = ?")
            .bind(name.as_str())
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    async fn invalidations_since(&self, after: i64, limit: u32) -> Result<InvalidationPage> {
        // The head first: an entry it covers that the next query does not return was pruned.
        let head: i64 = sqlx::query_scalar("SELECT seq FROM invalidation_head WHERE id = 1")
            .fetch_one(&self.read)
            .await?;
        let rows = sqlx::query(
            "SELECT seq, kind, subject FROM invalidations WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        let entries = rows
            .iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let subject: String = r.try_get("subject")?;
                Ok(InvalidationEntry {
                    seq: r.try_get("seq")?,
                    what: Invalidated::from_row(&kind, &subject),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(InvalidationPage { head, entries })
    }

    async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    async fn upkeep(&self) -> Result<()> {
        // A commit that takes the log past SQLite's 1000 pages checkpoints it inline, with the
        // write connection held. Done here first, from a read connection's thread (another core
        // when there is one), that commit finds little left to copy. PASSIVE: copies what it can
        // without waiting for readers or the writer, so it never holds up a request. (A larger
        // inline threshold was faster on average but stalled every writer for tens of
        // milliseconds each time it was reached: p99 3x.)
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&self.read)
            .await?;
        Ok(())
    }

    async fn cleanup(&self, now: i64, grace_ms: i64) -> Result<CleanupReport> {
        let cutoff = now - grace_ms;
        // Each statement is its own short write, so a big backlog never holds the write lock
        // for long; the LIMITed subqueries keep every batch bounded.
        let steps: &[(&'static str, &str, i64)] = &[
            (
                "sessions",
                "DELETE FROM sessions WHERE token_hash IN (SELECT token_hash FROM sessions WHERE expires_at <= ?1 OR idle_expires_at <= ?1 LIMIT 1000)",
                now,
            ),
            (
                "consumed_requests",
                "DELETE FROM consumed_requests WHERE request_hash IN (SELECT request_hash FROM consumed_requests WHERE expires_at <= ? LIMIT 1000)",
                now,
            ),
            (
                "login_failures",
                "DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures WHERE window_start < ? LIMIT 1000)",
                cutoff,
            ),
            (
                "rate_windows",
                "DELETE FROM rate_windows WHERE key IN (SELECT key FROM rate_windows WHERE window_start + window_ms <= ? LIMIT 1000)",
                now,
            ),
            (
                "authorization_codes",
                "DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM authorization_codes WHERE used_at IS NULL AND expires_at <= ? LIMIT 1000)",
                now,
            ),
            (
                "access_tokens",
                "DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash FROM access_tokens WHERE expires_at <= ? OR revoked_at IS NOT NULL LIMIT 1000)",
                now,
            ),
            // A grant has ended when it is revoked or has nothing left that could be used.
            (
                "grants",
                "DELETE FROM grants WHERE id IN (SELECT g.id FROM grants g WHERE g.created_at < ?1 AND (g.revoked_at IS NOT NULL \
                OR (NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id) \
                AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id AND r.used_at IS NULL AND r.expires_at > ?1))) LIMIT 1000)",
                cutoff,
            ),
            (
                "authorization_codes",
                "DELETE FROM authorization_codes WHERE code_hash IN (SELECT c.code_hash FROM authorization_codes c WHERE c.used_at IS NOT NULL AND c.used_at < ? \
                AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = c.grant_id) LIMIT 1000)",
                cutoff,
            ),
            // The usage charts show a day; a week is kept for a look back.
            (
                "app_usage",
                "DELETE FROM app_usage WHERE rowid IN (SELECT rowid FROM app_usage WHERE bucket_start < ? LIMIT 1000)",
                now - 7 * 86_400_000,
            ),
            // By the database's clock, like the rows' own `created_at`.
            (
                "invalidations",
                "DELETE FROM invalidations WHERE seq IN (SELECT seq FROM invalidations \
                WHERE created_at <= CAST(unixepoch('subsec') * 1000 AS INTEGER) - ? LIMIT 1000)",
                grace_ms,
            ),
        ];
        let mut report = CleanupReport::default();
        for (table, sql, at) in steps {
            loop {
                let n = sqlx::query(sql)
                    .bind(*at)
                    .execute(&self.write)
                    .await?
                    .rows_affected();
                *report.rows.entry(table).or_default() += n;
                if n < 1000 {
                    break;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQLite and PostgreSQL migration trees must list the same versions and names, so the
    /// two stores stay one schema.
    #[test]
    fn migration_trees_match() {
        let names = |dir: &str| {
            let mut v: Vec<String> =
                std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
            v.sort();
            v
        };
        let (sqlite, postgres) = (names("sqlite"), names("postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres, "add the same migration to both trees");
    }

    /// Deleting a user or an App relies on the schema's foreign keys (checklist G10): they must
    /// be enforced on every connection, and every column that names a user, an App or a grant
    /// must be a foreign key that cascades.
    #[tokio::test]
    async fn sec_g10_every_reference_to_a_user_app_or_grant_cascades() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("fk.db").to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        for pool in [&store.write, &store.read] {
            let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(on, 1, "foreign keys are enforced");
        }
        // Columns that name a row of these tables, table by table. A new column of this kind
        // must be added here, with its cascade, or deletion leaves it dangling. Id lists kept
        // as text (spaces' host_ids, ...) are edited by delete_user.
        let references: &[(&str, &str, &str)] = &[
            ("apps", "project_id", "projects"),
            ("app_callbacks", "app_id", "apps"),
            ("sessions", "user_id", "users"),
            ("authorization_codes", "app_id", "apps"),
            ("authorization_codes", "user_id", "users"),
            ("grants", "app_id", "apps"),
            ("grants", "user_id", "users"),
            ("access_tokens", "app_id", "apps"),
            ("access_tokens", "user_id", "users"),
            ("access_tokens", "grant_id", "grants"),
            ("refresh_tokens", "grant_id", "grants"),
            ("tweets", "author_id", "users"),
            ("follows", "source_user_id", "users"),
            ("follows", "target_user_id", "users"),
            ("spaces", "creator_id", "users"),
            ("apps", "auto_consent_user_id", "users"),
            ("projects", "owner_id", "users"),
            ("app_usage", "app_id", "apps"),
        ];
        let mut found = Vec::new();
        for table in TABLES {
            let rows = sqlx::query(&format!(
                "SELECT \"from\", \"table\", on_delete FROM pragma_foreign_key_list('{table}')"
            ))
            .fetch_all(&store.read)
            .await
            .unwrap();
            for row in rows {
                let from: String = row.get(0);
                let to: String = row.get(1);
                let on_delete: String = row.get(2);
                // Deleting the user an App auto-consents for turns auto-consent off; the App stays.
                // Deleting a Project's owner leaves the Project to the admins.
                let expected = if matches!(
                    (*table, from.as_str()),
                    ("apps", "auto_consent_user_id") | ("projects", "owner_id")
                ) {
                    "SET NULL"
                } else {
                    "CASCADE"
                };
                assert_eq!(on_delete, expected, "{table}.{from} -> {to}");
                found.push((table.to_string(), from, to));
            }
            // Any other column that looks like a reference is one the list above misses.
            let columns: Vec<String> =
                sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(&store.read)
                    .await
                    .unwrap();
            for c in columns {
                let is_ref = (c.ends_with("_id") && c != "client_id")
                    || c == "author_id"
                    || c == "creator_id";
                let listed = references.iter().any(|(t, col, _)| t == table && *col == c);
                let exempt = matches!(
                    (*table, c.as_str()),
                    // Point at tweets, which may be deleted on their own (X keeps replies to a
                    // deleted tweet); rendering skips what is gone.
                    ("tweets", "conversation_id" | "in_reply_to_user_id" | "replied_to_id" | "quoted_id" | "retweeted_id")
                        // The id the grant gets when the code is redeemed; the code itself
                        // goes with its App or user.
                        | ("authorization_codes", "grant_id")
                        // Always the user's own tweet (import checks it).
                        | ("users", "pinned_tweet_id")
                        // Not a reference: the row's own key.
                        | ("content_version", "id")
                );
                assert!(
                    !is_ref || listed || exempt,
                    "{table}.{c} looks like a reference but is not a cascading foreign key"
                );
            }
        }
        let mut expected: Vec<(String, String, String)> = references
            .iter()
            .map(|(t, c, r)| ((*t).to_owned(), (*c).to_owned(), (*r).to_owned()))
            .collect();
        expected.sort();
        found.sort();
        assert_eq!(found, expected);
    }

    /// `upkeep` copies the log back into the database file: before it, the writes are only in
    /// the log (well under SQLite's own 1000-page threshold), after it the file holds them.
    #[tokio::test]
    async fn upkeep_checkpoints_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        store.migrate().await.unwrap();
        for i in 0..50u8 {
            store
                .server_key(&format!("k{i}"), &[i; 32], 0)
                .await
                .unwrap();
        }
        let file = || std::fs::metadata(&path).unwrap().len();
        let before = file();
        store.upkeep().await.unwrap();
        assert!(file() > before, "{before} -> {}", file());
        // Nothing is left for the next checkpoint to copy.
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>(1), row.get::<i64, _>(2));
    }

    fn sf(i: i64) -> Snowflake {
        Snowflake::from_i64(i).unwrap()
    }

    async fn feed_store(dir: &tempfile::TempDir) -> (SqliteStore, String) {
        let path = dir.path().join("feed.db").to_str().unwrap().to_owned();
        let store = SqliteStore::open(&path).await.unwrap();
        store.migrate().await.unwrap();
        (store, path)
    }

    /// An App (id 10), a user (id 20) and `grants` grants (ids 100...) with one access token
    /// each, `[n; 32]` for grant `100 + n`.
    async fn feed_fixture(store: &SqliteStore, grants: u8) {
        store
            .create_app(NewApp {
                id: sf(10),
                new_project_id: sf(11),
                project_name: "P".into(),
                name: "A".into(),
                client_id: ClientId::generate(),
                client_type: ClientType::Confidential,
                client_secret_hash: Some(TokenHash::of("s")),
                api_key: "key".into(),
                api_secret_hash: TokenHash::of("as"),
                callbacks: vec![RedirectUri::parse("http://127.0.0.1/cb").unwrap()],
                project_id: None,
                profile: crate::AppProfile::of_client_type(ClientType::Confidential),
                now: 0,
            })
            .await
            .unwrap();
        store
            .create_user(NewUser {
                id: sf(20),
                username: Username::parse("alice").unwrap(),
                name: "Alice".into(),
                password_hash: None,
                now: 0,
            })
            .await
            .unwrap();
        for n in 0..grants {
            let code = TokenHash::of(&format!("code{n}"));
            store
                .create_code(NewCode {
                    code_hash: code,
                    grant_id: sf(100 + i64::from(n)),
                    app_id: sf(10),
                    user_id: sf(20),
                    scopes: ScopeNames::parse("tweet.read").unwrap(),
                    redirect_uri: "http://127.0.0.1/cb".into(),
                    code_challenge: "c".into(),
                    code_challenge_method: "plain".into(),
                    created_at: 0,
                    expires_at: i64::MAX,
                })
                .await
                .unwrap();
            let tokens = IssuedTokens {
                access_hash: TokenHash([n; 32]),
                access_expires_at: i64::MAX,
                access_scopes: ScopeSet::parse("tweet.read").unwrap(),
                refresh: None,
                now: 1,
            };
            assert_eq!(
                store.redeem_code(code, tokens).await.unwrap(),
                RedeemOutcome::Issued
            );
        }
    }

    fn whats(page: &InvalidationPage) -> Vec<Invalidated> {
        page.entries.iter().map(|e| e.what).collect()
    }

    /// Every revocation a node caches the opposite of writes its feed entry in its own
    /// transaction; a call that changes nothing writes none.
    #[tokio::test]
    async fn revocations_write_the_invalidation_feed() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = feed_store(&dir).await;
        feed_fixture(&store, 3).await;
        let empty = store.invalidations_since(0, 100).await.unwrap();
        assert_eq!(empty, InvalidationPage::default(), "issuing writes nothing");

        assert!(
            store
                .revoke_access_token(TokenHash([0; 32]), sf(10), 5)
                .await
                .unwrap()
        );
        assert!(
            !store
                .revoke_access_token(TokenHash([0; 32]), sf(10), 5)
                .await
                .unwrap(),
            "already revoked"
        );
        assert!(
            !store
                .revoke_access_token(TokenHash([1; 32]), sf(99), 5)
                .await
                .unwrap(),
            "another App's token"
        );
        store.revoke_grant(sf(101), 6).await.unwrap();
        store.revoke_grant(sf(101), 7).await.unwrap();
        // A replayed code revokes its grant.
        let replay = IssuedTokens {
            access_hash: TokenHash([9; 32]),
            access_expires_at: i64::MAX,
            access_scopes: ScopeSet::parse("tweet.read").unwrap(),
            refresh: None,
            now: 8,
        };
        assert_eq!(
            store
                .redeem_code(TokenHash::of("code2"), replay)
                .await
                .unwrap(),
            RedeemOutcome::Replayed
        );
        assert!(!store.bump_bearer_generation(sf(10), 5).await.unwrap());
        assert!(store.bump_bearer_generation(sf(10), 0).await.unwrap());
        let page = store.invalidations_since(0, 100).await.unwrap();
        assert_eq!(
            whats(&page),
            vec![
                Invalidated::AccessToken(TokenHash([0; 32])),
                Invalidated::Grant(sf(101)),
                Invalidated::Grant(sf(102)),
                Invalidated::AppTokens(sf(10)),
            ]
        );
        assert_eq!(page.head, 4);
        let seqs: Vec<i64> = page.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        // Reading on from a cursor, and a limit.
        let page = store.invalidations_since(2, 1).await.unwrap();
        assert_eq!(
            (page.head, whats(&page)),
            (4, vec![Invalidated::Grant(sf(102))])
        );

        store
            .delete_user(&Username::parse("alice").unwrap())
            .await
            .unwrap();
        let app = store.app_by_id(sf(10)).await.unwrap().unwrap();
        store.delete_app(app.client_id.as_str()).await.unwrap();
        store.reset(ImportBatch::default()).await.unwrap();
        let page = store.invalidations_since(4, 100).await.unwrap();
        assert_eq!(
            whats(&page),
            vec![
                Invalidated::User(sf(20)),
                Invalidated::App(sf(10)),
                Invalidated::Everything,
            ]
        );
        assert_eq!(page.head, 7);
    }

    /// A transaction that fails after taking a seq gives it back: the feed has no holes, so a
    /// reader can tell a pruned entry from one not yet committed.
    #[tokio::test]
    async fn a_rolled_back_revocation_leaves_no_gap() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = feed_store(&dir).await;
        feed_fixture(&store, 2).await;
        {
            let mut tx = store.write.begin().await.unwrap();
            record_invalidation(&mut tx, Invalidated::Grant(sf(100)))
                .await
                .unwrap();
            tx.rollback().await.unwrap();
        }
        store.revoke_grant(sf(101), 1).await.unwrap();
        let page = store.invalidations_since(0, 100).await.unwrap();
        assert_eq!(page.head, 1);
        assert_eq!(page.entries[0].seq, 1);
        assert_eq!(page.entries[0].what, Invalidated::Grant(sf(101)));
    }

    /// Writers in two processes (two stores on one file) at once: every revocation gets its
    /// own seq, and the seqs are 1..=n with none missing.
    #[tokio::test]
    async fn concurrent_writers_get_consecutive_seqs() {
        let dir = tempfile::tempdir().unwrap();
        let (a, path) = feed_store(&dir).await;
        feed_fixture(&a, 40).await;
        let b = SqliteStore::open(&path).await.unwrap();
        let mut set = tokio::task::JoinSet::new();
        for n in 0..40u8 {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            set.spawn(async move {
                if n % 4 < 2 {
                    store
                        .revoke_access_token(TokenHash([n; 32]), sf(10), 1)
                        .await
                        .unwrap();
                } else {
                    store.revoke_grant(sf(100 + i64::from(n)), 1).await.unwrap();
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        let page = b.invalidations_since(0, 1000).await.unwrap();
        assert_eq!(page.head, 40);
        let seqs: Vec<i64> = page.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
        let distinct: std::collections::HashSet<String> = page
            .entries
            .iter()
            .map(|e| format!("{:?}", e.what))
            .collect();
        assert_eq!(distinct.len(), 40);
    }

    /// Cleanup prunes entries older than the grace by the database's clock; the head stays, so
    /// a reader behind it can tell that it missed some.
    #[tokio::test]
    async fn cleanup_prunes_the_feed_but_keeps_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = feed_store(&dir).await;
        feed_fixture(&store, 2).await;
        store.revoke_grant(sf(100), 1).await.unwrap();
        store.revoke_grant(sf(101), 1).await.unwrap();
        let kept = store.cleanup(0, 3_600_000).await.unwrap();
        assert_eq!(kept.rows.get("invalidations"), Some(&0), "within the grace");
        assert_eq!(
            store
                .invalidations_since(0, 10)
                .await
                .unwrap()
                .entries
                .len(),
            2
        );
        let pruned = store.cleanup(0, 0).await.unwrap();
        assert_eq!(pruned.rows.get("invalidations"), Some(&2));
        let page = store.invalidations_since(0, 10).await.unwrap();
        assert_eq!(
            page,
            InvalidationPage {
                head: 2,
                entries: vec![]
            }
        );
    }

    #[test]
    fn feed_rows_read_back_and_unknown_ones_invalidate_everything() {
        for what in [
            Invalidated::AccessToken(TokenHash([7; 32])),
            Invalidated::Grant(sf(1)),
            Invalidated::AppTokens(sf(2)),
            Invalidated::App(sf(3)),
            Invalidated::User(sf(4)),
            Invalidated::Everything,
        ] {
            let (kind, subject) = what.to_row();
            assert_eq!(Invalidated::from_row(kind, &subject), what);
        }
        for (kind, subject) in [
            ("session", "x"),
            ("grant", "not a number"),
            ("grant", "-5"),
            ("access_token", "c2hvcnQ"),
        ] {
            assert_eq!(
                Invalidated::from_row(kind, subject),
                Invalidated::Everything,
                "{kind} {subject}"
            );
        }
    }

    #[tokio::test]
    async fn rate_windows_add_up_keep_the_first_start_and_drop_what_ended() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("r.db").to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        crate::rate::conformance::windows_add_up_keep_the_first_start_and_drop_what_ended(&store)
            .await;
    }

    #[tokio::test]
    async fn rate_windows_lose_no_update_under_concurrent_flushes_of_two_processes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let path = path.to_str().unwrap();
        let first = SqliteStore::open(path).await.unwrap();
        first.migrate().await.unwrap();
        let second = SqliteStore::open(path).await.unwrap();
        crate::rate::conformance::no_update_is_lost_under_concurrent_flushes(
            std::sync::Arc::new(first),
            std::sync::Arc::new(second),
        )
        .await;
    }

    #[tokio::test]
    async fn story_on_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap(); // idempotent
        assert!(store.is_empty().await.unwrap());
        let k1 = store.server_key("web", &[1; 32], 0).await.unwrap();
        let k2 = store.server_key("web", &[2; 32], 0).await.unwrap();
        assert_eq!(k1, k2, "the first key stored wins");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let user = NewUser {
            id: Snowflake::from_i64(1).unwrap(),
            username: Username::parse("Alice").unwrap(),
            name: "A".into(),
            password_hash: None,
            now: 0,
        };
        store.create_user(user.clone()).await.unwrap();
        let dup = NewUser {
            id: Snowflake::from_i64(2).unwrap(),
            username: Username::parse("alice").unwrap(),
            ..user
        };
        assert!(matches!(
            store.create_user(dup).await,
            Err(StoreError::Conflict("username"))
        ));
        assert!(
            store
                .user_by_username(&Username::parse("ALICE").unwrap())
                .await
                .unwrap()
                .is_some()
        );
    }
}
