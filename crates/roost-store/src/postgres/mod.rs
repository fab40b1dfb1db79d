//! The PostgreSQL store: the same schema as SQLite's (migrations/postgres, version for
//! version), SQL written for PostgreSQL, one pool, and the server's own concurrency control
//! (row locks, `UPDATE ... RETURNING`) instead of SQLite's single writer.
//!
//! Many nodes share one database, so every flow that must be atomic is one transaction or one
//! statement, and every claim is a conditional `UPDATE ... WHERE used_at IS NULL RETURNING`:
//! of two nodes racing on one code or refresh token, exactly one gets the row. The grant row is
//! where token writes and revocation meet: a rotation holds it `FOR SHARE` while it issues the
//! successor pair, and a revocation updates it (which waits for those rotations) before it
//! revokes the grant's tokens in a statement of its own, whose fresh snapshot sees every token
//! a rotation committed meanwhile. Without that order a rotation racing a revocation could
//! commit a pair the revocation's snapshot never saw.

mod content;
mod portal;
mod rows;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use roost_domain::{SnapshotName, Snowflake, TokenHash, Username};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool, Row};

use crate::{
    AccessRecord, AdminTokenRecord, AppChange, AppRecord, AppStats, AuthState, CleanupReport,
    CodeRecord, ConnectedApp, Content, Deletion, FollowRecord, ImportBatch, ImportReport,
    Invalidated, InvalidationEntry, InvalidationPage, IssuedPair, IssuedTokens, NewAdminToken,
    NewApp, NewCode, NewProject, NewUser, ProjectRecord, RateDelta, RateWindow, RedeemOutcome,
    RefreshRecord, Result, Rotated, Rotation, SessionRecord, SnapshotInfo, Store, StoreError,
    TweetRecord, UsageCount, UserRecord,
};
use rows::{APP_COLUMNS, id, is_unique_violation, names_column, opt_id, scope_names, scopes};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The tables `row_counts` reports: the same list as the SQLite store's.
const TABLES: &[&str] = &[
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

/// The key of the transaction-level advisory lock a cleanup pass runs under, so that of the
/// nodes on one database one cleans up at a time and the others skip their turn: the bytes of
/// `roostcln`, 8245931984403262574. (sqlx's migration lock uses a key derived from the
/// database name, a different number.)
pub const CLEANUP_LOCK_KEY: i64 = i64::from_be_bytes(*b"roostcln");

/// Connections per node unless the URL's `pool_size` parameter says otherwise. A node's
/// requests mostly wait on PostgreSQL, not on a connection: a handful per core of the database
/// keeps it busy, and three nodes stay well under PostgreSQL's default 100 connections.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// A pooled connection idle for longer than this is pinged before it is handed out. One that
/// died while idle (PostgreSQL restarted) is replaced there, so the first calls after a restart
/// succeed; one in steady use skips the round trip. (sqlx pings every connection it is given
/// back, too, and closes it if that fails, so one that broke while in use is never reused.)
const PING_IF_IDLE_FOR: Duration = Duration::from_millis(500);

/// Migrations may wait this long for another process's migration lock, however short the
/// per-call timeout: a start-up that waits its turn must not fail for it.
const MIGRATION_WAIT: Duration = Duration::from_secs(60);

/// The channel the invalidation feed's writers `NOTIFY` when they commit an entry.
pub const INVALIDATION_CHANNEL: &str = "roost_invalidations";

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    timeout: Duration,
    /// One connection of its own for `LISTEN`, so that waiting for the feed never takes one
    /// from the requests.
    listen_pool: PgPool,
    /// `None` until the first wait for the feed, and again after the listening connection
    /// failed (it is opened anew at the next wait).
    listener: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::postgres::PgListener>>>,
}

/// Why a wait for the invalidation feed ended.
enum Woke {
    /// A writer committed an entry.
    Notified,
    /// Listening (again) from now on: entries committed before may have gone unnotified.
    Listening,
    /// No listening connection; the caller polls.
    Failed,
}

impl PgStore {
    /// Connects to the database `url` names (`postgres://` or `postgresql://`). `timeout` bounds
    /// every call: the wait for a connection of the pool, and on the server each statement
    /// (`statement_timeout`) and each lock wait (`lock_timeout`), so a stalled database makes a
    /// call fail with [`StoreError::Unavailable`] instead of hanging (checklist K5). The URL's
    /// query may carry `pool_size=N` (connections of this process; default
    /// [`DEFAULT_POOL_SIZE`]) besides libpq's parameters that sqlx knows (`sslmode`, ...).
    pub async fn open_with(url: &str, timeout: Duration) -> Result<Self> {
        let (url, pool_size) = take_pool_size(url)?;
        let ms = timeout.as_millis().max(1).to_string();
        let opts = PgConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Open(format!("invalid PostgreSQL URL: {e}")))?;
        // `roost` in pg_stat_activity, unless the URL names the node (`application_name=node1`).
        let opts = match opts.get_application_name() {
            Some(_) => opts,
            None => opts.application_name("roost"),
        };
        let opts = opts.options([
            ("statement_timeout", ms.as_str()),
            ("lock_timeout", ms.as_str()),
            // A transaction left open by a stalled node would hold its row locks for ever.
            ("idle_in_transaction_session_timeout", ms.as_str()),
            // The server's notices ("relation ... already exists, skipping") are not news
            // for roost's log or an admin command's stderr.
            ("client_min_messages", "warning"),
        ]);
        let where_ = format!("PostgreSQL at {}:{}", opts.get_host(), opts.get_port());
        // One connection first, for its error: the pool would retry a refused connection
        // until the timeout and then report only that it timed out. A server that is not
        // there fails the start at once with the reason (the process supervisor restarts it).
        let probe = match tokio::time::timeout(timeout, opts.connect()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(StoreError::Open(format!("{where_}: {e}"))),
            Err(_) => {
                return Err(StoreError::Open(format!(
                    "{where_}: no answer within {} ms",
                    timeout.as_millis()
                )));
            }
        };
        let _ = probe.close().await;
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(timeout)
            .connect_lazy_with(opts.clone());
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(opts);
        Ok(Self {
            pool,
            timeout,
            listen_pool,
            listener: Default::default(),
        })
    }

    /// Waits for a notification on [`INVALIDATION_CHANNEL`], opening the listening
    /// connection first if there is none.
    async fn wait_notified(&self) -> Woke {
        let mut guard = self.listener.lock().await;
        let Some(listener) = guard.as_mut() else {
            let opened = async {
                let mut l = sqlx::postgres::PgListener::connect_with(&self.listen_pool).await?;
                l.listen(INVALIDATION_CHANNEL).await?;
                Ok::<_, sqlx::Error>(l)
            };
            return match opened.await {
                Ok(l) => {
                    *guard = Some(l);
                    Woke::Listening
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cannot LISTEN for invalidations; polling");
                    Woke::Failed
                }
            };
        };
        match listener.try_recv().await {
            Ok(Some(_)) => Woke::Notified,
            // The connection was lost and has been opened again.
            Ok(None) => Woke::Listening,
            Err(e) => {
                tracing::debug!(error = %e, "the LISTEN connection failed; polling");
                *guard = None;
                Woke::Failed
            }
        }
    }

    /// Bounds a call on the client side too: `statement_timeout` cannot fire on a server that
    /// does not run at all (stopped, or a network that drops packets).
    async fn bounded<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// Splits roost's own `pool_size` parameter off the URL's query (sqlx would ignore it with a
/// warning); the rest goes to sqlx unchanged.
fn take_pool_size(url: &str) -> Result<(String, u32)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), DEFAULT_POOL_SIZE));
    };
    let mut size = DEFAULT_POOL_SIZE;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("pool_size", v)) => {
                size = v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    StoreError::Open(format!(
                        "pool_size in the database URL must be a number from 1 to 1000, not `{v}`"
                    ))
                })?;
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, size))
}

/// Whether PostgreSQL can hold `s` as text: anything but NUL, which a text value cannot contain
/// (SQLite's can). A lookup by such a value finds nothing, as it would on SQLite.
fn storable(s: &str) -> bool {
    !s.contains('\0')
}

/// A login-throttling or rate-limit key as stored: NUL (which a request's username may carry) and the escape
/// character escaped, so that every key, as on SQLite, has a row of its own.
fn key_text(key: &str) -> String {
    if storable(key) && !key.contains('\\') {
        return key.to_owned();
    }
    key.replace('\\', "\\\\").replace('\0', "\\0")
}

/// Maps a unique violation to [`StoreError::Conflict`] named `what`.
fn conflict_as(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(what)
        } else {
            e.into()
        }
    }
}

/// Revokes a grant and its tokens inside `tx`. First the grant row: that waits for rotations
/// that hold it (`FOR SHARE`) and makes later ones find it revoked. Then, in a statement of its
/// own (a fresh snapshot in READ COMMITTED), every token of the grant, those just committed by
/// the rotations it waited for included.
async fn revoke_grant_in(tx: &mut sqlx::PgConnection, grant_id: i64, now: i64) -> Result<()> {
    let revoked =
        sqlx::query("UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    revoke_tokens_in(tx, grant_id, now).await?;
    // A grant revoked before had its tokens revoked then, and a revoked grant issues none, so
    // only the first revocation has news for the nodes' caches.
    if revoked > 0 {
        let grant = Snowflake::from_i64(grant_id).map_err(|e| StoreError::Other(e.into()))?;
        record_invalidation(tx, Invalidated::Grant(grant)).await?;
    }
    Ok(())
}

/// Appends to the invalidation feed inside the caller's transaction, and notifies the nodes
/// listening (PostgreSQL delivers the notification at commit, and drops it on rollback). The
/// head row's lock orders the writers, so seqs follow commit order with no gaps. Call it last,
/// just before the commit: the lock is then held only for the commit, and since no
/// transaction takes another lock after it, none can deadlock on it.
pub(super) async fn record_invalidation(
    tx: &mut sqlx::PgConnection,
    what: Invalidated,
) -> Result<()> {
    let (kind, subject) = what.to_row();
    sqlx::query(
        "WITH h AS (UPDATE invalidation_head SET seq = seq + 1 WHERE id = 1 RETURNING seq), \
              i AS (INSERT INTO invalidations (seq, kind, subject, created_at) \
                    SELECT seq, $1, $2, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT FROM h \
                    RETURNING seq) \
         SELECT pg_notify($3, seq::text) FROM i",
    )
    .bind(kind)
    .bind(subject)
    .bind(INVALIDATION_CHANNEL)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn revoke_tokens_in(tx: &mut sqlx::PgConnection, grant_id: i64, now: i64) -> Result<()> {
    sqlx::query(
        "WITH a AS (UPDATE access_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL) \
         UPDATE refresh_tokens SET used_at = $2 WHERE grant_id = $1 AND used_at IS NULL",
    )
    .bind(grant_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One cleanup step: a statement that deletes at most 1000 rows ended at `$1`.
struct Step {
    table: &'static str,
    sql: &'static str,
    /// `now` or the grace cutoff.
    at: fn(i64, i64) -> i64,
}

const BATCH: u64 = 1000;

const CLEANUP_STEPS: &[Step] = &[
    // The usage charts show a day; a week is kept for a look back.
    Step {
        table: "app_usage",
        sql: "DELETE FROM app_usage WHERE (app_id, bucket_start, endpoint) IN (SELECT app_id, bucket_start, endpoint \
              FROM app_usage WHERE bucket_start < $1 LIMIT 1000)",
        at: |now, _| now - 7 * 86_400_000,
    },
    Step {
        table: "sessions",
        sql: "DELETE FROM sessions WHERE token_hash IN (SELECT token_hash FROM sessions \
              WHERE expires_at <= $1 OR idle_expires_at <= $1 LIMIT 1000)",
        at: |now, _| now,
    },
    Step {
        table: "consumed_requests",
        sql: "DELETE FROM consumed_requests WHERE request_hash IN (SELECT request_hash FROM consumed_requests \
              WHERE expires_at <= $1 LIMIT 1000)",
        at: |now, _| now,
    },
    Step {
        table: "login_failures",
        sql: "DELETE FROM login_failures WHERE (key, window_start) IN (SELECT key, window_start FROM login_failures \
              WHERE window_start < $1 LIMIT 1000)",
        at: |_, cutoff| cutoff,
    },
    Step {
        table: "authorization_codes",
        sql: "DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM authorization_codes \
              WHERE used_at IS NULL AND expires_at <= $1 LIMIT 1000)",
        at: |now, _| now,
    },
    Step {
        table: "access_tokens",
        sql: "DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash FROM access_tokens \
              WHERE expires_at <= $1 OR revoked_at IS NOT NULL LIMIT 1000)",
        at: |now, _| now,
    },
    // A grant has ended when it is revoked or has nothing left that could be used.
    Step {
        table: "grants",
        sql: "DELETE FROM grants WHERE id IN (SELECT g.id FROM grants g WHERE g.created_at < $1 AND (g.revoked_at IS NOT NULL \
              OR (NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id) \
              AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id AND r.used_at IS NULL AND r.expires_at > $1))) \
              LIMIT 1000)",
        at: |_, cutoff| cutoff,
    },
    Step {
        table: "authorization_codes",
        sql: "DELETE FROM authorization_codes WHERE code_hash IN (SELECT c.code_hash FROM authorization_codes c \
              WHERE c.used_at IS NOT NULL AND c.used_at < $1 \
              AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = c.grant_id) LIMIT 1000)",
        at: |_, cutoff| cutoff,
    },
    Step {
        table: "rate_windows",
        sql: "DELETE FROM rate_windows WHERE key IN (SELECT key FROM rate_windows \
              WHERE window_start + window_ms <= $1 LIMIT 1000)",
        at: |now, _| now,
    },
    // By the database's clock, like the entries' own `created_at`; $1 is the grace.
    Step {
        table: "invalidations",
        sql: "DELETE FROM invalidations WHERE seq IN (SELECT seq FROM invalidations \
              WHERE created_at <= (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - $1 LIMIT 1000)",
        at: |now, cutoff| now - cutoff,
    },
];

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<()> {
        // sqlx's migrator holds a session-level advisory lock (pg_advisory_lock) while it
        // migrates, so processes starting together on one database take turns, and the later
        // ones find the migrations applied. It runs on a connection of its own with a longer
        // lock wait than the per-call timeout; the connection is closed afterwards, since a
        // failed run may leave the lock held and the longer settings in place.
        let mut conn = self.pool.acquire().await?.detach();
        let wait = MIGRATION_WAIT.max(self.timeout).as_millis().to_string();
        let result = async {
            sqlx::query(
                "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $1, false)",
            )
            .bind(&wait)
            .execute(&mut conn)
            .await?;
            MIGRATOR.run_direct(&mut conn).await?;
            Ok::<(), StoreError>(())
        }
        .await;
        let _ = conn.close().await;
        result
    }

    async fn ping(&self) -> Result<()> {
        // `SELECT 1`, from a table: as cheap (no row needs to be there), and it also proves
        // that the schema is the one roost migrated, as SQLite's ping does.
        self.bounded(async {
            sqlx::query("SELECT 1 FROM server_keys LIMIT 1")
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    async fn server_key(&self, name: &str, candidate: &[u8], now: i64) -> Result<Vec<u8>> {
        // Two statements, not one with a CTE: a key inserted by a node starting at the same
        // moment is visible only to a statement that starts after it committed.
        sqlx::query(
            "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let v: Vec<u8> = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    async fn database_time_ms(&self) -> Result<i64> {
        // clock_timestamp(), not now(): now() is the transaction's start.
        self.bounded(async {
            Ok(sqlx::query_scalar(
                "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
            )
            .fetch_one(&self.pool)
            .await?)
        })
        .await
    }

    async fn manual_clock(&self) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT now_ms FROM manual_clock WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn raise_manual_clock(&self, floor_ms: i64, add_ms: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO manual_clock (id, now_ms) VALUES (1, $1 + $2) \
             ON CONFLICT (id) DO UPDATE SET now_ms = GREATEST(manual_clock.now_ms, $1) + $2 \
             RETURNING now_ms",
        )
        .bind(floor_ms)
        .bind(add_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn row_counts(&self) -> Result<BTreeMap<String, i64>> {
        let select = TABLES
            .iter()
            .map(|t| format!("(SELECT COUNT(*) FROM {t}) AS {t}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = sqlx::query(&format!("SELECT {select}"))
            .fetch_one(&self.pool)
            .await?;
        TABLES
            .iter()
            .map(|t| Ok(((*t).to_owned(), row.try_get::<i64, _>(*t)?)))
            .collect()
    }

    async fn is_empty(&self) -> Result<bool> {
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM apps)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(!any)
    }

    async fn create_admin_token(&self, token: NewAdminToken) -> Result<AdminTokenRecord> {
        sqlx::query(
            "INSERT INTO admin_tokens (id, token_hash, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token.id.get())
        .bind(token.hash.as_bytes())
        .bind(&token.label)
        .bind(token.now)
        .execute(&self.pool)
        .await
        .map_err(conflict_as("admin token"))?;
        Ok(AdminTokenRecord {
            id: token.id,
            label: token.label,
            created_at: token.now,
            revoked_at: None,
        })
    }

    async fn admin_token_by_hash(&self, hash: TokenHash) -> Result<Option<AdminTokenRecord>> {
        sqlx::query(
            "SELECT id, label, created_at, revoked_at FROM admin_tokens WHERE token_hash = $1",
        )
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::admin_token)
        .transpose()
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>> {
        sqlx::query("SELECT id, label, created_at, revoked_at FROM admin_tokens ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::admin_token)
            .collect()
    }

    async fn revoke_admin_token(&self, token_id: Snowflake, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_id.get())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn create_app(&self, mut app: NewApp) -> Result<AppRecord> {
        let mut tx = self.pool.begin().await?;
        let project_id: i64 = match app.project_id {
            // FOR SHARE: a deletion of the Project waits for this App, and then takes it along.
            Some(pid) => {
                let name: Option<String> =
                    sqlx::query_scalar("SELECT name FROM projects WHERE id = $1 FOR SHARE")
                        .bind(pid.get())
                        .fetch_optional(&mut *tx)
                        .await?;
                app.project_name = name.ok_or(StoreError::NotFound("project"))?;
                pid.get()
            }
            None => {
                // Statement by statement: the SELECT sees a project another node created a
                // moment ago, which a CTE's snapshot would not.
                sqlx::query(
                    "INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                )
                .bind(app.new_project_id.get())
                .bind(&app.project_name)
                .bind(app.now)
                .execute(&mut *tx)
                .await?;
                sqlx::query_scalar("SELECT id FROM projects WHERE name = $1")
                    .bind(&app.project_name)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        sqlx::query(
            "INSERT INTO apps (id, project_id, name, client_id, client_type, client_secret_hash, api_key, \
             api_secret_hash, created_at, app_kind, description, website_url, client_secret_hint, api_secret_hint) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
        .bind(app.profile.website_url.as_ref().map(|w| w.as_str()))
        .bind(&app.profile.client_secret_hint)
        .bind(&app.profile.api_secret_hint)
        .execute(&mut *tx)
        .await
        .map_err(conflict_as("client_id"))?;
        let uris: Vec<&str> = app.callbacks.iter().map(|c| c.as_str()).collect();
        sqlx::query(
            "INSERT INTO app_callbacks (app_id, position, uri) \
             SELECT $1, (n - 1)::int, uri FROM UNNEST($2::text[]) WITH ORDINALITY AS t (uri, n)",
        )
        .bind(app.id.get())
        .bind(&uris)
        .execute(&mut *tx)
        .await
        .map_err(conflict_as("callback URL"))?;
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
        sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id ORDER BY a.id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::app)
        .collect()
    }

    async fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        if !storable(client_id) {
            return Ok(None);
        }
        sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id WHERE a.client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::app)
        .transpose()
    }

    async fn app_by_api_key(&self, api_key: &str) -> Result<Option<AppRecord>> {
        if !storable(api_key) {
            return Ok(None);
        }
        sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id WHERE a.api_key = $1"
        ))
        .bind(api_key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::app)
        .transpose()
    }

    async fn app_by_id(&self, app_id: Snowflake) -> Result<Option<AppRecord>> {
        sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps a JOIN projects p ON p.id = a.project_id WHERE a.id = $1"
        ))
        .bind(app_id.get())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::app)
        .transpose()
    }

    async fn app_ids(&self) -> Result<Vec<Snowflake>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM apps")
            .fetch_all(&self.pool)
            .await?;
        ids.into_iter()
            .map(|i| Snowflake::from_i64(i).map_err(|e| StoreError::Other(e.into())))
            .collect()
    }

    async fn delete_app(&self, client_id: &str) -> Result<Option<Deletion>> {
        let mut tx = self.pool.begin().await?;
        // The content version first, as every content write takes it (content.rs): locks in
        // one order, so this cannot deadlock with a user's deletion or a reset.
        content::bump_version(&mut tx).await?;
        // The row lock keeps new codes and grants of the App (their foreign keys lock it too)
        // out until the deletion commits, so the counts are what the cascade removes.
        let app: Option<i64> =
            sqlx::query_scalar("SELECT id FROM apps WHERE client_id = $1 FOR UPDATE")
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(app) = app else {
            // Nothing deleted: the version does not move.
            tx.rollback().await?;
            return Ok(None);
        };
        let counts = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM app_callbacks WHERE app_id = $1) AS app_callbacks, \
                    (SELECT COUNT(*) FROM authorization_codes WHERE app_id = $1) AS authorization_codes, \
                    (SELECT COUNT(*) FROM grants WHERE app_id = $1) AS grants, \
                    (SELECT COUNT(*) FROM access_tokens WHERE app_id = $1) AS access_tokens, \
                    (SELECT COUNT(*) FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE app_id = $1)) AS refresh_tokens",
        )
        .bind(app)
        .fetch_one(&mut *tx)
        .await?;
        let mut removed = BTreeMap::new();
        for table in [
            "app_callbacks",
            "authorization_codes",
            "grants",
            "access_tokens",
            "refresh_tokens",
        ] {
            removed.insert(table, rows::count(&counts, table)?);
        }
        // The foreign keys cascade from here: callbacks, codes, grants and through them the
        // refresh tokens, access tokens.
        sqlx::query("DELETE FROM apps WHERE id = $1")
            .bind(app)
            .execute(&mut *tx)
            .await?;
        let app = Snowflake::from_i64(app).map_err(|e| StoreError::Other(e.into()))?;
        record_invalidation(&mut tx, Invalidated::App(app)).await?;
        tx.commit().await?;
        Ok(Some(Deletion { id: app, removed }))
    }

    async fn bump_bearer_generation(&self, app_id: Snowflake, expected: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE apps SET bearer_generation = bearer_generation + 1 WHERE id = $1 AND bearer_generation = $2",
        )
        .bind(app_id.get())
        .bind(expected)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
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
        content::create_user(&self.pool, user).await
    }

    async fn user_by_id(&self, user_id: Snowflake) -> Result<Option<UserRecord>> {
        content::user_by_id(&self.pool, user_id).await
    }

    async fn user_by_username(&self, username: &Username) -> Result<Option<UserRecord>> {
        content::user_by_username(&self.pool, username).await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        content::list_users(&self.pool).await
    }

    async fn set_auto_consent(
        &self,
        app_id: Snowflake,
        user_id: Option<Snowflake>,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE apps SET auto_consent_user_id = $1 WHERE id = $2")
            .bind(user_id.map(Snowflake::get))
            .bind(app_id.get())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn set_password_hash(&self, user_id: Snowflake, hash: &str) -> Result<()> {
        content::set_password_hash(&self.pool, user_id, hash).await
    }

    async fn delete_user(&self, username: &Username) -> Result<Option<Deletion>> {
        content::delete_user(&self.pool, username).await
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
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash.as_bytes())
        .bind(user_id.get())
        .bind(now)
        .bind(expires_at)
        .bind(idle_expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, hash: TokenHash, now: i64) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT user_id, idle_expires_at FROM sessions \
             WHERE token_hash = $1 AND expires_at > $2 AND idle_expires_at > $2",
        )
        .bind(hash.as_bytes())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user_id: id(&row, "user_id")?,
            idle_expires_at: row.try_get("idle_expires_at")?,
        }))
    }

    async fn touch_session(&self, hash: TokenHash, idle_expires_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET idle_expires_at = $1 WHERE token_hash = $2 AND idle_expires_at < $1",
        )
        .bind(idle_expires_at)
        .bind(hash.as_bytes())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_session(&self, hash: TokenHash) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash.as_bytes())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn consume_request(&self, hash: TokenHash, expires_at: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO consumed_requests (request_hash, expires_at) VALUES ($1, $2) \
             ON CONFLICT (request_hash) DO NOTHING",
        )
        .bind(hash.as_bytes())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn login_failures(&self, keys: &[String], window_start: i64) -> Result<Vec<i64>> {
        let keys: Vec<String> = keys.iter().map(|k| key_text(k)).collect();
        let rows = sqlx::query(
            "SELECT key, count::bigint AS count FROM login_failures WHERE key = ANY($1) AND window_start = $2",
        )
        .bind(&keys)
        .bind(window_start)
        .fetch_all(&self.pool)
        .await?;
        let mut found = BTreeMap::new();
        for row in &rows {
            found.insert(
                row.try_get::<String, _>("key")?,
                row.try_get::<i64, _>("count")?,
            );
        }
        Ok(keys
            .iter()
            .map(|k| found.get(k).copied().unwrap_or(0))
            .collect())
    }

    async fn record_login_failure(&self, keys: &[String], window_start: i64) -> Result<()> {
        // One statement for every key. Grouped, because ON CONFLICT DO UPDATE may touch a row
        // only once per statement; a key named twice counts twice, as one write per key would.
        let keys: Vec<String> = keys.iter().map(|k| key_text(k)).collect();
        sqlx::query(
            "INSERT INTO login_failures (key, window_start, count) \
             SELECT k, $2, COUNT(*) FROM UNNEST($1::text[]) AS t (k) GROUP BY k \
             ON CONFLICT (key, window_start) DO UPDATE SET count = login_failures.count + excluded.count",
        )
        .bind(&keys)
        .bind(window_start)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn add_rate_counts(&self, deltas: &[RateDelta]) -> Result<Vec<RateWindow>> {
        // One statement for the whole flush, so it is its own transaction. Its rows go in the
        // order of the arrays (WITH ORDINALITY), sorted by key: concurrent flushes of several
        // nodes lock the rows they share in the same order and cannot deadlock.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "INSERT INTO rate_windows (key, window_start, window_ms, count) \
                 SELECT k, s, m, c FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) \
                 WITH ORDINALITY AS t (k, s, m, c, n) ORDER BY n {}",
                crate::rate::upsert_conflict_clause()
            )
        });
        // A key holds what a request named (a client id may carry NUL): escaped as the login
        // keys are, so that every key is storable and keeps a row of its own.
        let deltas: Vec<RateDelta> = deltas
            .iter()
            .map(|d| RateDelta {
                key: key_text(&d.key),
                ..d.clone()
            })
            .collect();
        let sorted = crate::rate::in_key_order(&deltas);
        let keys: Vec<&str> = sorted.iter().map(|d| d.key.as_str()).collect();
        let starts: Vec<i64> = sorted.iter().map(|d| d.window_start).collect();
        let lengths: Vec<i64> = sorted.iter().map(|d| d.window_ms).collect();
        let admitted: Vec<i64> = sorted.iter().map(|d| d.admitted).collect();
        let rows = sqlx::query(SQL.as_str())
            .bind(&keys)
            .bind(&starts)
            .bind(&lengths)
            .bind(&admitted)
            .fetch_all(&self.pool)
            .await?;
        let mut returned = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            returned.insert(
                row.try_get::<String, _>("key")?,
                RateWindow {
                    window_start: row.try_get("window_start")?,
                    count: row.try_get("count")?,
                },
            );
        }
        crate::rate::in_delta_order(&deltas, returned)
    }

    async fn create_code(&self, code: NewCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, grant_id, app_id, user_id, scopes, scope_names, \
             redirect_uri, code_challenge, code_challenge_method, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn code_by_hash(&self, h: TokenHash) -> Result<Option<CodeRecord>> {
        let row = sqlx::query(
            "SELECT grant_id, app_id, user_id, scopes, scope_names, redirect_uri, code_challenge, \
             code_challenge_method, created_at, expires_at, used_at FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(h.as_bytes())
        .fetch_optional(&self.pool)
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
        // The claim and the grant's first tokens in one statement, one round trip. Of two nodes
        // racing on the code, the second waits for the first's row lock, finds `used_at` set
        // and claims nothing.
        let (refresh_hash, refresh_expires) = match &tokens.refresh {
            Some((h, exp)) => (Some(h.as_bytes().to_vec()), *exp),
            None => (None, 0),
        };
        let issued: i64 = sqlx::query_scalar(
            "WITH c AS (UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
                        RETURNING grant_id, app_id, user_id, scopes, scope_names), \
                  g AS (INSERT INTO grants (id, app_id, user_id, scopes, scope_names, created_at) \
                        SELECT grant_id, app_id, user_id, scopes, scope_names, $1 FROM c \
                        RETURNING id, app_id, user_id), \
                  a AS (INSERT INTO access_tokens (token_hash, app_id, user_id, grant_id, scopes, created_at, expires_at) \
                        SELECT $3, app_id, user_id, id, $4, $1, $5 FROM g), \
                  r AS (INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) \
                        SELECT $6, id, $1, $7 FROM g WHERE $6::bytea IS NOT NULL) \
             SELECT COUNT(*) FROM g",
        )
        .bind(tokens.now)
        .bind(h.as_bytes())
        .bind(tokens.access_hash.as_bytes())
        .bind(tokens.access_scopes.to_string())
        .bind(tokens.access_expires_at)
        .bind(refresh_hash)
        .bind(refresh_expires)
        .fetch_one(&self.pool)
        .await?;
        if issued == 1 {
            return Ok(RedeemOutcome::Issued);
        }
        // Used before (or unknown): revoke what the code produced. A statement after the claim,
        // so it sees the grant a racing node committed.
        let mut tx = self.pool.begin().await?;
        let grant: Option<i64> =
            sqlx::query_scalar("SELECT grant_id FROM authorization_codes WHERE code_hash = $1")
                .bind(h.as_bytes())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(g) = grant {
            revoke_grant_in(&mut tx, g, tokens.now).await?;
        }
        tx.commit().await?;
        Ok(RedeemOutcome::Replayed)
    }

    async fn refresh_by_hash(&self, h: TokenHash) -> Result<Option<RefreshRecord>> {
        let row = sqlx::query(
            "SELECT r.grant_id, g.app_id, g.user_id, g.scopes, g.scope_names, g.created_at AS grant_created_at, \
             r.expires_at, r.used_at, g.revoked_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = $1",
        )
        .bind(h.as_bytes())
        .fetch_optional(&self.pool)
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
        // One statement: hold the live grant (FOR SHARE, see the module docs), claim the token,
        // insert the successor pair from what the claim returned. A claim that fails (used,
        // expired, another App's, a revoked or too old family) returns no row and inserts
        // nothing.
        let row = sqlx::query(
            "WITH g AS (SELECT g.id, g.app_id, g.user_id, g.scopes, g.scope_names, g.created_at \
                          FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id \
                         WHERE t.token_hash = $3 AND g.app_id = $8 AND g.revoked_at IS NULL \
                           AND ($9 = 0 OR g.created_at + $9 > $1) \
                        FOR SHARE OF g), \
                  c AS (UPDATE refresh_tokens t SET used_at = $1, successor_hash = $2 FROM g \
                         WHERE t.token_hash = $3 AND t.grant_id = g.id AND t.used_at IS NULL AND t.expires_at > $1 \
                        RETURNING g.id, g.app_id, g.user_id, g.scopes, g.scope_names, g.created_at), \
                  a AS (INSERT INTO access_tokens (token_hash, app_id, user_id, grant_id, scopes, created_at, expires_at) \
                        SELECT $4, app_id, user_id, id, COALESCE($5, scopes), $1, $6 FROM c), \
                  s AS (INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) \
                        SELECT $2, id, $1, CASE WHEN $9 = 0 THEN $7 ELSE LEAST($7, created_at + $9) END FROM c) \
             SELECT id AS grant_id, scopes, scope_names FROM c",
        )
        .bind(r.now)
        .bind(r.successor_hash.as_bytes())
        .bind(r.presented.as_bytes())
        .bind(r.access_hash.as_bytes())
        .bind(r.access_scopes.map(|s| s.to_string()))
        .bind(r.access_expires_at)
        .bind(r.successor_expires_at)
        .bind(r.app_id.get())
        .bind(r.family_max_age_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Rotated {
                grant_id: id(&row, "grant_id")?,
                grant_scope_names: scope_names(&row, "scopes", "scope_names")?,
            })
        })
        .transpose()
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
               JOIN access_tokens a ON a.token_hash = $1 AND a.grant_id = r.grant_id \
              WHERE r.token_hash = $2 AND r.successor_hash = $3 AND s.used_at IS NULL \
                AND g.revoked_at IS NULL AND a.revoked_at IS NULL",
        )
        .bind(access.as_bytes())
        .bind(presented.as_bytes())
        .bind(successor.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(IssuedPair {
            access_expires_at: row.try_get("expires_at")?,
            scopes: scopes(&row, "scopes")?,
        }))
    }

    async fn revoke_grant(&self, grant_id: Snowflake, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        revoke_grant_in(&mut tx, grant_id.get(), now).await?;
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
            "INSERT INTO access_tokens (token_hash, app_id, scopes, created_at, expires_at) VALUES ($1, $2, '', $3, $4)",
        )
        .bind(h.as_bytes())
        .bind(app_id.get())
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn access_token(&self, h: TokenHash) -> Result<Option<AccessRecord>> {
        let row = sqlx::query(
            "SELECT app_id, user_id, grant_id, scopes, expires_at, revoked_at FROM access_tokens WHERE token_hash = $1",
        )
        .bind(h.as_bytes())
        .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND app_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(h.as_bytes())
        .bind(app_id.get())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
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
        let mut tx = self.pool.begin().await?;
        // Revoking the grant row first, as in `revoke_grant_in`: it waits for rotations of the
        // family in flight, and the tokens are revoked by a later statement that sees theirs.
        let grant: Option<i64> = sqlx::query_scalar(
            "UPDATE grants g SET revoked_at = $3 FROM refresh_tokens r \
              WHERE r.token_hash = $1 AND g.id = r.grant_id AND g.app_id = $2 AND g.revoked_at IS NULL \
             RETURNING g.id",
        )
        .bind(h.as_bytes())
        .bind(app_id.get())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(g) = grant else { return Ok(None) };
        revoke_tokens_in(&mut tx, g, now).await?;
        let g = Snowflake::from_i64(g).map_err(|e| StoreError::Other(e.into()))?;
        record_invalidation(&mut tx, Invalidated::Grant(g)).await?;
        tx.commit().await?;
        Ok(Some(g))
    }

    async fn load_content(&self) -> Result<Content> {
        content::load_content(&self.pool).await
    }

    async fn content_version(&self) -> Result<i64> {
        content::content_version(&self.pool).await
    }

    async fn create_tweet(&self, tweet: TweetRecord) -> Result<()> {
        content::create_tweet(&self.pool, tweet).await
    }

    async fn delete_tweet(&self, tweet_id: Snowflake) -> Result<bool> {
        content::delete_tweet(&self.pool, tweet_id).await
    }

    async fn follow(&self, follow: FollowRecord) -> Result<FollowRecord> {
        content::follow(&self.pool, follow).await
    }

    async fn unfollow(&self, source: Snowflake, target: Snowflake) -> Result<bool> {
        content::unfollow(&self.pool, source, target).await
    }

    async fn import(&self, batch: ImportBatch) -> Result<ImportReport> {
        content::import(&self.pool, batch).await
    }

    async fn load_auth(&self) -> Result<AuthState> {
        content::load_auth(&self.pool).await
    }

    async fn reset(&self, batch: ImportBatch) -> Result<ImportReport> {
        content::reset(&self.pool, batch).await
    }

    async fn save_snapshot(&self, name: &SnapshotName, document: &str, now: i64) -> Result<bool> {
        content::save_snapshot(&self.pool, name, document, now).await
    }

    async fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        content::snapshots(&self.pool).await
    }

    async fn snapshot(&self, name: &SnapshotName) -> Result<Option<String>> {
        content::snapshot(&self.pool, name).await
    }

    async fn delete_snapshot(&self, name: &SnapshotName) -> Result<bool> {
        content::delete_snapshot(&self.pool, name).await
    }

    async fn cleanup(&self, now: i64, grace_ms: i64) -> Result<CleanupReport> {
        let cutoff = now - grace_ms;
        let mut report = CleanupReport::default();
        let mut tx = self.pool.begin().await?;
        // One node at a time: the others find the lock taken and leave this pass to it. The
        // lock ends with the transaction, so a node that dies mid-pass frees it.
        let ours: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(CLEANUP_LOCK_KEY)
            .fetch_one(&mut *tx)
            .await?;
        if !ours {
            tx.rollback().await?;
            return Ok(report);
        }
        // Bounded batches: each statement stays well inside the statement timeout however big
        // the backlog; what they delete has ended, so no request waits on these row locks.
        for step in CLEANUP_STEPS {
            loop {
                let n = sqlx::query(step.sql)
                    .bind((step.at)(now, cutoff))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                *report.rows.entry(step.table).or_default() += n;
                if n < BATCH {
                    break;
                }
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn invalidations_since(&self, after: i64, limit: u32) -> Result<InvalidationPage> {
        // One statement, so one snapshot: the head and the entries up to it as of one moment.
        let rows = sqlx::query(
            "SELECT h.seq AS head, i.seq, i.kind, i.subject FROM invalidation_head h \
             LEFT JOIN LATERAL (SELECT seq, kind, subject FROM invalidations WHERE seq > $1 \
                                ORDER BY seq LIMIT $2) i ON true \
             WHERE h.id = 1 ORDER BY i.seq",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut page = InvalidationPage::default();
        for row in &rows {
            page.head = row.try_get("head")?;
            let Some(seq) = row.try_get::<Option<i64>, _>("seq")? else {
                continue;
            };
            let kind: String = row.try_get("kind")?;
            let subject: String = row.try_get("subject")?;
            page.entries.push(InvalidationEntry {
                seq,
                what: Invalidated::from_row(&kind, &subject),
            });
        }
        Ok(page)
    }

    async fn wait_for_invalidation(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        // The wait is cancel-safe: sqlx reads a notification into its buffer whole or not at
        // all.
        if let Ok(Woke::Failed) = tokio::time::timeout_at(deadline, self.wait_notified()).await {
            tokio::time::sleep_until(deadline).await;
        }
    }

    async fn close(&self) {
        // The listening connection first: the pool's close waits for it to be given back.
        *self.listener.lock().await = None;
        self.listen_pool.close().await;
        self.pool.close().await;
    }

    async fn upkeep(&self) -> Result<()> {
        // Nothing to do: PostgreSQL checkpoints its own log and autovacuum reclaims dead rows;
        // neither holds up a commit the way SQLite's inline checkpoint does.
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn pool_size_is_taken_off_the_url() {
        let (url, n) =
            take_pool_size("postgres://u:p@h:5432/db?sslmode=disable&pool_size=3").unwrap();
        assert_eq!(
            (url.as_str(), n),
            ("postgres://u:p@h:5432/db?sslmode=disable", 3)
        );
        let (url, n) = take_pool_size("postgres://h/db?pool_size=7").unwrap();
        assert_eq!((url.as_str(), n), ("postgres://h/db", 7));
        let (url, n) = take_pool_size("postgres://h/db").unwrap();
        assert_eq!((url.as_str(), n), ("postgres://h/db", DEFAULT_POOL_SIZE));
        for bad in ["0", "x", "", "1001"] {
            let e = take_pool_size(&format!("postgres://h/db?pool_size={bad}")).unwrap_err();
            assert!(matches!(e, StoreError::Open(_)), "{bad}: {e}");
        }
    }

    #[test]
    fn the_cleanup_lock_key_is_the_documented_number() {
        assert_eq!(CLEANUP_LOCK_KEY, 8_245_931_984_403_262_574);
    }

    #[test]
    fn row_counts_cover_the_sqlite_tables() {
        assert_eq!(TABLES, crate::sqlite::TABLES);
    }
}
