//! The PostgreSQL store against a real server: `ROOST_TEST_POSTGRES_URL`, or else a throwaway
//! cluster this test binary starts (scripts/pg-throwaway) and stops by its PID once the binary
//! has exited. Each test gets a fresh database of its own.

use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use roost_domain::{ClientId, ClientType, RedirectUri, ScopeNames, ScopeSet};
use sqlx::Connection;

use super::*;
use crate::sqlite::SqliteStore;

/// The server the tests create their databases on.
fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("ROOST_TEST_POSTGRES_URL") {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-throwaway");
        let dir = std::env::temp_dir().join(format!("roost-store-tests-pg-{}", std::process::id()));
        let out = Command::new(script)
            .arg("start")
            .arg(&dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/pg-throwaway");
        assert!(out.status.success(), "scripts/pg-throwaway start failed");
        // The watchdog: stops the cluster by its PID when this process is gone. Started in the
        // background of a shell that exits at once, so it outlives this process unwaited.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "(while kill -0 {} 2>/dev/null; do sleep 0.5; done; '{script}' stop '{}') >/dev/null 2>&1 &",
                std::process::id(),
                dir.display()
            ))
            .stdin(Stdio::null())
            .status()
            .expect("start the cluster's watchdog");
        assert!(watchdog.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
}

/// A fresh database, dropped with the value.
struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> Self {
        let admin = server_url();
        let name = format!("roost_store_test_{:016x}", rand_u64());
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }

    async fn store(&self) -> PgStore {
        self.store_with(Duration::from_secs(5)).await
    }

    async fn store_with(&self, timeout: Duration) -> PgStore {
        let s = PgStore::open_with(&self.url, timeout).await.unwrap();
        s.migrate().await.unwrap();
        s
    }

    async fn conn(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut c) = sqlx::PgConnection::connect(server_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

fn sf(n: i64) -> Snowflake {
    Snowflake::from_i64(n).unwrap()
}

fn digest(s: &str) -> TokenHash {
    TokenHash::of(s)
}

const NOW: i64 = 1_800_000_000_000;

/// A user row (the content side writes users; these tests need one to refer to).
async fn user(db: &TestDb, user_id: i64) {
    sqlx::query(
        "INSERT INTO users (id, username, username_key, name, created_at) VALUES ($1, $2, $2, 'U', 0)",
    )
    .bind(user_id)
    .bind(format!("user{user_id}"))
    .execute(&mut db.conn().await)
    .await
    .unwrap();
}

fn new_app(app_id: i64, client_id: &str) -> NewApp {
    NewApp {
        id: sf(app_id),
        new_project_id: sf(app_id + 1000),
        project_name: "P".into(),
        name: format!("App {app_id}"),
        client_id: ClientId::parse(client_id).unwrap(),
        client_type: ClientType::Confidential,
        client_secret_hash: Some(digest("secret")),
        api_key: format!("key{app_id}"),
        api_secret_hash: digest("api secret"),
        callbacks: vec![
            RedirectUri::from_stored("http://127.0.0.1/cb".into()),
            RedirectUri::from_stored("http://127.0.0.1/other".into()),
        ],
        project_id: None,
        profile: crate::AppProfile::of_client_type(ClientType::Confidential),
        now: NOW,
    }
}

fn scopes_of(s: &str) -> ScopeSet {
    ScopeSet::parse_allow_empty(s).unwrap()
}

fn code(code: &str, grant_id: i64, app_id: i64, user_id: i64) -> NewCode {
    NewCode {
        code_hash: digest(code),
        grant_id: sf(grant_id),
        app_id: sf(app_id),
        user_id: sf(user_id),
        scopes: ScopeNames::current(scopes_of("tweet.read offline.access")),
        redirect_uri: "http://127.0.0.1/cb".into(),
        code_challenge: "c".into(),
        code_challenge_method: "S256".into(),
        created_at: NOW,
        expires_at: NOW + 30_000,
    }
}

fn issued(access: &str, refresh: Option<&str>) -> IssuedTokens {
    IssuedTokens {
        access_hash: digest(access),
        access_expires_at: NOW + 7_200_000,
        access_scopes: scopes_of("tweet.read offline.access"),
        refresh: refresh.map(|r| (digest(r), NOW + 86_400_000)),
        now: NOW,
    }
}

fn rotation(presented: &str, access: &str, successor: &str, app_id: i64) -> Rotation {
    Rotation {
        presented: digest(presented),
        app_id: sf(app_id),
        now: NOW + 1,
        access_hash: digest(access),
        access_expires_at: NOW + 7_200_000,
        access_scopes: None,
        successor_hash: digest(successor),
        successor_expires_at: NOW + 86_400_000,
        family_max_age_ms: 0,
    }
}

/// An App (id 10, client id `client-a`), a user (1) and a redeemed grant (100) with access
/// token `a0` and refresh token `r0`.
async fn with_grant(db: &TestDb, store: &PgStore) {
    user(db, 1).await;
    store.create_app(new_app(10, "client-a")).await.unwrap();
    store.create_code(code("code", 100, 10, 1)).await.unwrap();
    let outcome = store
        .redeem_code(digest("code"), issued("a0", Some("r0")))
        .await
        .unwrap();
    assert_eq!(outcome, RedeemOutcome::Issued);
}

/// The PostgreSQL tree makes the schema the SQLite tree does: the same tables, columns (by
/// name, type, nullability and primary key), foreign keys with the same deletion rule
/// (checklist G10: every reference to a user, App or grant cascades, on both stores) and
/// indexes.
#[tokio::test]
async fn migrations_make_the_sqlite_schema() {
    let db = TestDb::create().await;
    let pg = db.store().await;
    pg.migrate().await.unwrap(); // idempotent
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::open(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    lite.migrate().await.unwrap();
    let lite_pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .unwrap();

    let lite_tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&lite_pool)
    .await
    .unwrap();
    let pg_tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(&pg.pool)
    .await
    .unwrap();
    assert_eq!(pg_tables, lite_tables);

    let pg_type = |sqlite: &str| match sqlite {
        "BIGINT" => "bigint",
        "INTEGER" => "integer",
        "TEXT" => "text",
        "BLOB" => "bytea",
        "BOOLEAN" => "boolean",
        other => panic!("a SQLite column type the PostgreSQL mapping does not know: {other}"),
    };
    for table in &lite_tables {
        let mut lite_cols: Vec<(String, String, bool, bool)> =
            sqlx::query_as::<_, (String, String, bool, i64)>(&format!(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"
            ))
            .fetch_all(&lite_pool)
            .await
            .unwrap()
            .into_iter()
            // SQLite lets a primary key column hold NULL unless told otherwise; PostgreSQL's
            // never does. Neither store ever writes one.
            .map(|(n, t, nn, pk)| (n, pg_type(&t).to_owned(), nn || pk > 0, pk > 0))
            .collect();
        lite_cols.sort();
        let mut pg_cols: Vec<(String, String, bool, bool)> = sqlx::query_as(
            "SELECT c.column_name::text, c.data_type::text, c.is_nullable = 'NO', \
                    EXISTS (SELECT 1 FROM information_schema.key_column_usage k \
                              JOIN information_schema.table_constraints tc \
                                ON tc.constraint_name = k.constraint_name AND tc.constraint_type = 'PRIMARY KEY' \
                             WHERE k.table_name = c.table_name AND k.column_name = c.column_name) \
               FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = $1",
        )
        .bind(table)
        .fetch_all(&pg.pool)
        .await
        .unwrap();
        pg_cols.sort();
        assert_eq!(pg_cols, lite_cols, "columns of {table}");

        let mut lite_fks: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT \"from\", \"table\", on_delete FROM pragma_foreign_key_list('{table}')"
        ))
        .fetch_all(&lite_pool)
        .await
        .unwrap();
        lite_fks.sort();
        let mut pg_fks: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT a.attname::text, c.confrelid::regclass::text, \
                    CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'a' THEN 'NO ACTION' \
                                       WHEN 'r' THEN 'RESTRICT' ELSE 'SET DEFAULT' END \
               FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
              WHERE c.contype = 'f' AND c.conrelid = $1::regclass",
        )
        .bind(table)
        .fetch_all(&pg.pool)
        .await
        .unwrap();
        pg_fks.sort();
        assert_eq!(pg_fks, lite_fks, "foreign keys of {table}");
    }

    let lite_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&lite_pool)
    .await
    .unwrap();
    // Named indexes only: the ones behind keys and UNIQUE are the constraints compared above.
    let pg_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i WHERE i.schemaname = 'public' \
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) \
          ORDER BY i.indexname",
    )
    .fetch_all(&pg.pool)
    .await
    .unwrap();
    assert_eq!(pg_indexes, lite_indexes);
}

/// Cleanup runs under a transaction-level advisory lock: while another node holds it (here an
/// outside connection in the middle of its pass), this node's pass removes nothing; once it is
/// free, the pass removes what has ended.
#[tokio::test]
async fn cleanup_runs_on_one_node_at_a_time() {
    let db = TestDb::create().await;
    let (one, two) = (db.store().await, db.store().await);
    user(&db, 1).await;
    for i in 0..3u8 {
        one.create_session(digest(&format!("s{i}")), sf(1), NOW, NOW + 10, NOW + 10)
            .await
            .unwrap();
    }
    let later = NOW + 1_000;

    let mut other_node = db.conn().await;
    let mut pass = other_node.begin().await.unwrap();
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(CLEANUP_LOCK_KEY)
        .fetch_one(&mut *pass)
        .await
        .unwrap();
    assert!(held);
    for store in [&one, &two] {
        let report = store.cleanup(later, 0).await.unwrap();
        assert_eq!(
            report,
            CleanupReport::default(),
            "the lock is taken: nothing done"
        );
    }
    assert_eq!(one.row_counts().await.unwrap()["sessions"], 3);

    pass.rollback().await.unwrap();
    let report = two.cleanup(later, 0).await.unwrap();
    assert_eq!(report.rows.get("sessions"), Some(&3));
    assert_eq!(one.row_counts().await.unwrap()["sessions"], 0);
    // And the lock was let go with the pass: the other node's next pass gets it.
    assert_eq!(
        one.cleanup(later, 0).await.unwrap().rows.get("sessions"),
        Some(&0)
    );
}

/// Cleanup's batches: a backlog bigger than one batch is removed in full.
#[tokio::test]
async fn cleanup_removes_a_backlog_bigger_than_a_batch() {
    let db = TestDb::create().await;
    let store = db.store().await;
    sqlx::query(
        "INSERT INTO consumed_requests (request_hash, expires_at) \
         SELECT sha256(n::text::bytea), $1 FROM generate_series(1, 2500) AS n",
    )
    .bind(NOW)
    .execute(&store.pool)
    .await
    .unwrap();
    let report = store.cleanup(NOW + 1, 0).await.unwrap();
    assert_eq!(report.rows.get("consumed_requests"), Some(&2500));
    assert_eq!(store.row_counts().await.unwrap()["consumed_requests"], 0);
}

/// Two nodes racing to redeem one code: exactly one issues tokens.
#[tokio::test]
async fn racing_redemptions_of_one_code_issue_once() {
    let db = TestDb::create().await;
    let stores: Vec<Arc<PgStore>> = vec![Arc::new(db.store().await), Arc::new(db.store().await)];
    user(&db, 1).await;
    stores[0].create_app(new_app(10, "client-a")).await.unwrap();
    for round in 0..10i64 {
        let c = format!("code{round}");
        stores[0]
            .create_code(code(&c, 100 + round, 10, 1))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let store = stores[i % 2].clone();
                let c = c.clone();
                tokio::spawn(async move {
                    store
                        .redeem_code(
                            digest(&c),
                            issued(&format!("a{round}-{i}"), Some(&format!("r{round}-{i}"))),
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut issued_count = 0;
        for t in tasks {
            if t.await.unwrap() == RedeemOutcome::Issued {
                issued_count += 1;
            }
        }
        assert_eq!(issued_count, 1, "round {round}");
    }
    let counts = stores[1].row_counts().await.unwrap();
    assert_eq!(counts["grants"], 10);
    assert_eq!(counts["access_tokens"], 10);
    assert_eq!(counts["refresh_tokens"], 10);
}

/// A replayed code revokes the grant it produced (RFC 6749 §4.1.2), also when the replay
/// reaches another node.
#[tokio::test]
async fn a_replayed_code_revokes_its_grant() {
    let db = TestDb::create().await;
    let (one, two) = (db.store().await, db.store().await);
    with_grant(&db, &one).await;
    let again = two
        .redeem_code(digest("code"), issued("a1", Some("r1")))
        .await
        .unwrap();
    assert_eq!(again, RedeemOutcome::Replayed);
    assert!(
        one.access_token(digest("a0"))
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    let r = one.refresh_by_hash(digest("r0")).await.unwrap().unwrap();
    assert!(r.grant_revoked && r.used_at.is_some());
    assert!(one.access_token(digest("a1")).await.unwrap().is_none());
}

/// Many rotations of one refresh token at once, from two nodes: one claim, one successor pair.
#[tokio::test]
async fn racing_rotations_of_one_token_claim_once() {
    let db = TestDb::create().await;
    let one = Arc::new(db.store().await);
    let two = Arc::new(db.store().await);
    with_grant(&db, &one).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 { one.clone() } else { two.clone() };
            tokio::spawn(async move {
                store
                    .rotate_refresh(rotation("r0", &format!("a{i}x"), &format!("r{i}x"), 10))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = Vec::new();
    for t in tasks {
        if let Some(r) = t.await.unwrap() {
            won.push(r);
        }
    }
    assert_eq!(won.len(), 1);
    assert_eq!(won[0].grant_id, sf(100));
    let counts = one.row_counts().await.unwrap();
    assert_eq!(counts["access_tokens"], 2);
    assert_eq!(counts["refresh_tokens"], 2);
}

/// What a rotation refuses: another App's token, a used one, an expired one, one of a revoked
/// family, one of a family past its maximum age. Nothing is written for any of them.
#[tokio::test]
async fn rotation_claims_only_a_live_token_of_the_presenting_app() {
    let db = TestDb::create().await;
    let store = db.store().await;
    with_grant(&db, &store).await;
    let before = store.row_counts().await.unwrap();
    assert!(
        store
            .rotate_refresh(rotation("r0", "x", "y", 11))
            .await
            .unwrap()
            .is_none()
    );
    let mut expired = rotation("r0", "x", "y", 10);
    expired.now = NOW + 86_400_000;
    assert!(store.rotate_refresh(expired).await.unwrap().is_none());
    let mut too_old = rotation("r0", "x", "y", 10);
    too_old.family_max_age_ms = 1;
    assert!(store.rotate_refresh(too_old).await.unwrap().is_none());
    assert_eq!(store.row_counts().await.unwrap(), before);

    // The family's maximum age caps the successor's lifetime.
    let mut capped = rotation("r0", "a1", "r1", 10);
    capped.family_max_age_ms = 60_000;
    let done = store.rotate_refresh(capped).await.unwrap().unwrap();
    assert_eq!(done.grant_id, sf(100));
    let successor: i64 =
        sqlx::query_scalar("SELECT expires_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(digest("r1").as_bytes())
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(successor, NOW + 60_000);
    // Used now.
    assert!(
        store
            .rotate_refresh(rotation("r0", "x", "y", 10))
            .await
            .unwrap()
            .is_none()
    );
    let pair = store
        .retried_rotation(digest("r0"), digest("r1"), digest("a1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pair.access_expires_at, NOW + 7_200_000);

    store.revoke_grant(sf(100), NOW + 2).await.unwrap();
    assert!(
        store
            .rotate_refresh(rotation("r1", "x", "y", 10))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .retried_rotation(digest("r0"), digest("r1"), digest("a1"))
            .await
            .unwrap()
            .is_none()
    );
}

/// A revocation racing a chain of rotations of its family, on another node: once both are
/// done, no token of the family is left usable. (Revocation takes the grant row before it
/// revokes the tokens, and rotations hold it while they issue, so a pair committed during the
/// revocation is seen and revoked by it.)
#[tokio::test]
async fn a_revocation_racing_rotations_leaves_no_live_token() {
    let db = TestDb::create().await;
    let one = Arc::new(db.store().await);
    let two = Arc::new(db.store().await);
    user(&db, 1).await;
    one.create_app(new_app(10, "client-a")).await.unwrap();
    for round in 0..15i64 {
        let grant = 100 + round;
        let c = format!("code{round}");
        one.create_code(code(&c, grant, 10, 1)).await.unwrap();
        let first = format!("r{round}-0");
        one.redeem_code(digest(&c), issued(&format!("a{round}-0"), Some(&first)))
            .await
            .unwrap();
        let rotating = {
            let one = one.clone();
            tokio::spawn(async move {
                for step in 0..20 {
                    let presented = format!("r{round}-{step}");
                    let next = format!("r{round}-{}", step + 1);
                    let access = format!("a{round}-{}", step + 1);
                    let r = one
                        .rotate_refresh(rotation(&presented, &access, &next, 10))
                        .await
                        .unwrap();
                    if r.is_none() {
                        break;
                    }
                }
            })
        };
        let revoking = {
            let two = two.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                two.revoke_grant(sf(grant), NOW + 5).await.unwrap();
            })
        };
        rotating.await.unwrap();
        revoking.await.unwrap();
        let live: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM access_tokens WHERE grant_id = $1 AND revoked_at IS NULL) \
                  + (SELECT COUNT(*) FROM refresh_tokens WHERE grant_id = $1 AND used_at IS NULL)",
        )
        .bind(grant)
        .fetch_one(&one.pool)
        .await
        .unwrap();
        assert_eq!(
            live, 0,
            "round {round}: a token outlived the revocation of its grant"
        );
    }
}

/// Revoking a refresh token revokes its family, only for the App it was issued to.
#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let db = TestDb::create().await;
    let store = db.store().await;
    with_grant(&db, &store).await;
    assert_eq!(
        store
            .revoke_refresh_token(digest("r0"), sf(11), NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .revoke_refresh_token(digest("r0"), sf(10), NOW)
            .await
            .unwrap(),
        Some(sf(100))
    );
    assert!(
        store
            .access_token(digest("a0"))
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert_eq!(
        store
            .revoke_refresh_token(digest("r0"), sf(10), NOW)
            .await
            .unwrap(),
        None,
        "revoked already"
    );
    assert!(
        !store
            .revoke_access_token(digest("a0"), sf(10), NOW)
            .await
            .unwrap()
    );
}

/// Unique rules come back as the same `Conflict` names the SQLite store uses, and a failed
/// creation leaves nothing behind.
#[tokio::test]
async fn conflicts_are_named_as_on_sqlite() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let app = store.create_app(new_app(10, "client-a")).await.unwrap();
    assert_eq!(app.callbacks.len(), 2);
    let read = store.app_by_client_id("client-a").await.unwrap().unwrap();
    assert_eq!(
        read.callbacks
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["http://127.0.0.1/cb", "http://127.0.0.1/other"],
        "in registration order"
    );
    assert_eq!(
        store.app_by_api_key("key10").await.unwrap().unwrap().id,
        sf(10)
    );
    // A NUL from a request finds nothing (PostgreSQL's text cannot hold one), not an error.
    assert!(
        store
            .app_by_client_id("client\0-a")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.app_by_api_key("key1\u{0}0").await.unwrap().is_none());
    assert_eq!(
        store.app_by_id(sf(10)).await.unwrap().unwrap().project_name,
        "P"
    );
    let mut again = new_app(11, "client-a");
    again.api_key = "other".into();
    assert!(matches!(
        store.create_app(again).await,
        Err(StoreError::Conflict("client_id"))
    ));
    let mut dup_callbacks = new_app(12, "client-b");
    dup_callbacks
        .callbacks
        .push(dup_callbacks.callbacks[0].clone());
    assert!(matches!(
        store.create_app(dup_callbacks).await,
        Err(StoreError::Conflict("callback URL"))
    ));
    // Text PostgreSQL cannot hold is the sender's error, named as such.
    let mut nul = new_app(13, "client-c");
    nul.name = "a\0b".into();
    assert!(matches!(
        store.create_app(nul).await,
        Err(StoreError::Invalid(m)) if m.contains("NUL")
    ));
    assert_eq!(store.app_ids().await.unwrap(), [sf(10)]);
    assert_eq!(store.list_apps().await.unwrap().len(), 1);

    let token = NewAdminToken {
        id: sf(5),
        hash: digest("admin"),
        label: "ci".into(),
        now: NOW,
    };
    store.create_admin_token(token.clone()).await.unwrap();
    assert!(matches!(
        store
            .create_admin_token(NewAdminToken { id: sf(6), ..token })
            .await,
        Err(StoreError::Conflict("admin token"))
    ));
    assert!(store.revoke_admin_token(sf(5), NOW).await.unwrap());
    assert!(!store.revoke_admin_token(sf(5), NOW).await.unwrap());
    let listed = store.list_admin_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(NOW));
}

/// Every node ends up with the key the first one stored.
#[tokio::test]
async fn server_keys_agree_across_nodes() {
    let db = TestDb::create().await;
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(db.store().await));
    }
    let tasks: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.clone();
            tokio::spawn(async move {
                s.server_key("web", &[u8::try_from(i).unwrap(); 32], 0)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap());
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
}

/// Login failures count per key and window, a key named twice counting twice.
#[tokio::test]
async fn login_failures_count_per_key_and_window() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let keys = ["user:alice".to_owned(), "ip:127.0.0.1".to_owned()];
    store.record_login_failure(&keys, 0).await.unwrap();
    store.record_login_failure(&keys[..1], 0).await.unwrap();
    store
        .record_login_failure(&[keys[1].clone(), keys[1].clone()], 60)
        .await
        .unwrap();
    assert_eq!(store.login_failures(&keys, 0).await.unwrap(), [2, 1]);
    assert_eq!(store.login_failures(&keys, 60).await.unwrap(), [0, 2]);
    assert_eq!(
        store.login_failures(&[], 0).await.unwrap(),
        Vec::<i64>::new()
    );
    // A key may carry what a login form was sent, NUL included, which PostgreSQL's text cannot
    // hold: each still counts on its own, apart from its look-alikes.
    let odd = [
        "user:a\0b".to_owned(),
        "user:a\\0b".to_owned(),
        "user:a\\\0b".to_owned(),
    ];
    store.record_login_failure(&odd[..1], 0).await.unwrap();
    store.record_login_failure(&odd[..2], 0).await.unwrap();
    store.record_login_failure(&odd, 0).await.unwrap();
    assert_eq!(store.login_failures(&odd, 0).await.unwrap(), [3, 2, 1]);
}

/// Sessions end at their end or idle end; touching moves the idle end forward only.
#[tokio::test]
async fn sessions_end_and_are_touched_forward_only() {
    let db = TestDb::create().await;
    let store = db.store().await;
    user(&db, 1).await;
    let s = digest("session");
    store
        .create_session(s, sf(1), NOW, NOW + 100, NOW + 10)
        .await
        .unwrap();
    assert_eq!(store.session(s, NOW).await.unwrap().unwrap().user_id, sf(1));
    assert!(store.session(s, NOW + 10).await.unwrap().is_none());
    store.touch_session(s, NOW + 50).await.unwrap();
    store.touch_session(s, NOW + 20).await.unwrap();
    assert_eq!(
        store
            .session(s, NOW + 10)
            .await
            .unwrap()
            .unwrap()
            .idle_expires_at,
        NOW + 50
    );
    store.delete_session(s).await.unwrap();
    assert!(store.session(s, NOW).await.unwrap().is_none());
    assert!(store.consume_request(digest("req"), NOW).await.unwrap());
    assert!(!store.consume_request(digest("req"), NOW).await.unwrap());
}

/// A call that waits on a lock another session holds fails within the store's timeout, as
/// unavailable (a 503), instead of hanging.
#[tokio::test]
async fn a_blocked_call_fails_within_the_timeout() {
    let db = TestDb::create().await;
    let timeout = Duration::from_millis(300);
    let store = db.store_with(timeout).await;
    user(&db, 1).await;
    let mut other = db.conn().await;
    let mut tx = other.begin().await.unwrap();
    sqlx::query("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let started = Instant::now();
    let r = store
        .create_session(digest("s"), sf(1), NOW, NOW + 10, NOW + 10)
        .await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    assert!(started.elapsed() < timeout * 4, "{:?}", started.elapsed());
    tx.rollback().await.unwrap();
    store
        .create_session(digest("s"), sf(1), NOW, NOW + 10, NOW + 10)
        .await
        .unwrap();
}

/// Connections the server ends (as a restart does) are replaced: a call fails cleanly at
/// worst (unavailable, not a statement error), and calls succeed again without reopening the
/// store.
#[tokio::test]
async fn connections_the_server_drops_are_replaced() {
    let db = TestDb::create().await;
    let store = db.store().await;
    store.ping().await.unwrap();
    store.is_empty().await.unwrap();
    let kill = |db_name: String| async move {
        let mut c = sqlx::PgConnection::connect(server_url()).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
              WHERE datname = $1 AND application_name = 'roost'",
        )
        .bind(&db_name)
        .fetch_one(&mut c)
        .await
        .unwrap();
        assert!(n > 0, "no roost connection to end");
        // pg_terminate_backend only signals; wait until the backends are gone.
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'roost'",
            )
            .bind(&db_name)
            .fetch_one(&mut c)
            .await
            .unwrap();
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    // Right after: a connection used a moment ago is handed out unchecked; if it is a dead
    // one, that call fails cleanly (a 503) and the connection is dropped, so each dead
    // connection fails one call at most.
    kill(db.name.clone()).await;
    let mut failed = 0;
    loop {
        match store.is_empty().await {
            Ok(empty) => break assert!(empty),
            Err(StoreError::Unavailable(_)) if failed < DEFAULT_POOL_SIZE => failed += 1,
            Err(e) => panic!("not a clean failure, or too many: {e:?}"),
        }
    }
    // After a pause (a restart takes longer than this), idle connections are checked before
    // they are used: no call fails at all.
    store.ping().await.unwrap();
    kill(db.name.clone()).await;
    tokio::time::sleep(PING_IF_IDLE_FOR + Duration::from_millis(100)).await;
    store.ping().await.unwrap();
    assert!(store.is_empty().await.unwrap());
}

/// A server that is not there: opening fails at once with a one-line reason (the connection
/// error, not the pool's timeout) naming where it looked, and no password.
#[tokio::test]
async fn an_unreachable_server_fails_to_open() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let e = PgStore::open_with(
        &format!("postgres://roost:hunter2@127.0.0.1:{port}/roost"),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Open(_)), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains("hunter2") && !msg.contains('\n'), "{msg}");
    assert!(msg.contains("refused"), "the reason: {msg}");
    // At once: nothing listens there, so there is nothing to wait for.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let e = crate::open("postgres://h/db?pool_size=0")
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("pool_size"), "{e}");
}

/// The row counts list the SQLite store's tables, and `is_empty` sees users and Apps.
#[tokio::test]
async fn row_counts_and_emptiness() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let counts = store.row_counts().await.unwrap();
    assert_eq!(counts.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut t = crate::sqlite::TABLES.to_vec();
        t.sort_unstable();
        t
    });
    assert!(counts.values().all(|n| *n == 0));
    assert!(store.is_empty().await.unwrap());
    user(&db, 1).await;
    assert!(!store.is_empty().await.unwrap());
    store.upkeep().await.unwrap();
}

/// Each revocation appends its entry; a call that changes nothing appends none (as on SQLite).
#[tokio::test]
async fn revocations_write_the_invalidation_feed() {
    let db = TestDb::create().await;
    let store = db.store().await;
    with_grant(&db, &store).await;
    store.create_code(code("code2", 101, 10, 1)).await.unwrap();
    store
        .redeem_code(digest("code2"), issued("a1", Some("r1")))
        .await
        .unwrap();
    assert_eq!(
        store.invalidations_since(0, 10).await.unwrap(),
        InvalidationPage::default()
    );
    assert!(
        store
            .revoke_access_token(digest("a0"), sf(10), NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_access_token(digest("a0"), sf(10), NOW)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .revoke_refresh_token(digest("r1"), sf(10), NOW)
            .await
            .unwrap(),
        Some(sf(101))
    );
    store.revoke_grant(sf(101), NOW).await.unwrap();
    // A replay of the first code revokes grant 100.
    assert_eq!(
        store
            .redeem_code(digest("code"), issued("a9", None))
            .await
            .unwrap(),
        RedeemOutcome::Replayed
    );
    assert!(!store.bump_bearer_generation(sf(10), 7).await.unwrap());
    assert!(store.bump_bearer_generation(sf(10), 0).await.unwrap());
    store.delete_app("client-a").await.unwrap();
    let page = store.invalidations_since(0, 100).await.unwrap();
    let whats: Vec<Invalidated> = page.entries.iter().map(|e| e.what).collect();
    assert_eq!(
        whats,
        vec![
            Invalidated::AccessToken(digest("a0")),
            Invalidated::Grant(sf(101)),
            Invalidated::Grant(sf(100)),
            Invalidated::AppTokens(sf(10)),
            Invalidated::App(sf(10)),
        ]
    );
    let seqs: Vec<i64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!((page.head, seqs), (5, vec![1, 2, 3, 4, 5]));
    let after = store.invalidations_since(3, 1).await.unwrap();
    assert_eq!(after.head, 5);
    assert_eq!(after.entries.len(), 1);
    assert_eq!(after.entries[0].seq, 4);
}

/// Writers on two nodes at once: seqs are 1..=n with none missing, whenever a reader looks.
#[tokio::test]
async fn concurrent_writers_on_two_nodes_get_consecutive_seqs() {
    let db = TestDb::create().await;
    let stores = [Arc::new(db.store().await), Arc::new(db.store().await)];
    user(&db, 1).await;
    stores[0].create_app(new_app(10, "client-a")).await.unwrap();
    for n in 0..30i64 {
        stores[0]
            .create_code(code(&format!("c{n}"), 100 + n, 10, 1))
            .await
            .unwrap();
        stores[0]
            .redeem_code(digest(&format!("c{n}")), issued(&format!("a{n}"), None))
            .await
            .unwrap();
    }
    let reader = stores[1].clone();
    let watching = tokio::spawn(async move {
        // While the writers run, every read is gapless after its cursor.
        let mut cursor = 0;
        while cursor < 30 {
            let page = reader.invalidations_since(cursor, 1000).await.unwrap();
            for e in &page.entries {
                assert_eq!(e.seq, cursor + 1, "no gap, in order");
                cursor = e.seq;
            }
        }
    });
    let tasks: Vec<_> = (0..30i64)
        .map(|n| {
            let store = stores[(n % 2) as usize].clone();
            tokio::spawn(async move {
                if n % 3 == 0 {
                    store.revoke_grant(sf(100 + n), NOW).await.unwrap();
                } else {
                    store
                        .revoke_access_token(digest(&format!("a{n}")), sf(10), NOW)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("the reader saw all 30")
        .unwrap();
}

/// A writer's NOTIFY wakes a node waiting for the feed at once, long before its poll would.
#[tokio::test]
async fn a_revocation_wakes_a_waiting_node() {
    let db = TestDb::create().await;
    let writer = db.store().await;
    let reader = db.store().await;
    with_grant(&db, &writer).await;
    // The first wait opens the listening connection and returns.
    reader.wait_for_invalidation(Duration::from_secs(5)).await;
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        reader.wait_for_invalidation(Duration::from_secs(30)).await;
        started.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    writer.revoke_grant(sf(100), NOW).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken, not left to its 30 s")
        .unwrap();
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

/// Cleanup prunes entries past the grace by the database's clock; the head stays.
#[tokio::test]
async fn cleanup_prunes_the_feed_but_keeps_its_head() {
    let db = TestDb::create().await;
    let store = db.store().await;
    with_grant(&db, &store).await;
    store.revoke_grant(sf(100), NOW).await.unwrap();
    let kept = store.cleanup(NOW, 3_600_000).await.unwrap();
    assert_eq!(kept.rows.get("invalidations"), Some(&0));
    let pruned = store.cleanup(NOW, 0).await.unwrap();
    assert_eq!(pruned.rows.get("invalidations"), Some(&1));
    assert_eq!(
        store.invalidations_since(0, 10).await.unwrap(),
        InvalidationPage {
            head: 1,
            entries: vec![]
        }
    );
}

/// Managed PostgreSQL services insist on TLS: libpq's `sslmode` and `sslrootcert` in the URL
/// work, and the connections are then encrypted (the server's own view, `pg_stat_ssl`).
#[tokio::test]
async fn tls_with_verify_full() {
    let db = TestDb::create().await;
    let mut admin = db.conn().await;
    let on: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(
        on, "on",
        "this test needs a server with TLS on (scripts/pg-throwaway makes one)"
    );
    let server_cert: String = sqlx::query_scalar("SHOW ssl_cert_file")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    // scripts/pg-throwaway's CA lies beside the server's certificate.
    let cert = std::path::Path::new(&server_cert).with_file_name("ca.crt");
    let cert = cert.display();
    let name = format!("roost_tls_{:08x}", rand_u64() as u32);
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={cert}&application_name={name}",
        db.url
    );
    let store = PgStore::open_with(&url, Duration::from_secs(5))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    let (connections, encrypted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = $1",
    )
    .bind(&name)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(connections > 0);
    assert_eq!(
        encrypted, connections,
        "every connection of the store is TLS"
    );

    // A certificate the server's does not chain to is refused at open, with the reason.
    let other = std::env::temp_dir().join(format!("{name}.crt"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout", "/dev/null", "-out"])
        .arg(&other)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    let wrong = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        db.url,
        other.display()
    );
    let e = PgStore::open_with(&wrong, Duration::from_secs(5))
        .await
        .unwrap_err();
    let _ = std::fs::remove_file(&other);
    assert!(matches!(e, StoreError::Open(_)), "{e:?}");
}

/// The shared rate-limit windows behave as on SQLite.
#[tokio::test]
async fn rate_windows_add_up_keep_the_first_start_and_drop_what_ended() {
    let db = TestDb::create().await;
    let store = db.store().await;
    crate::rate::conformance::windows_add_up_keep_the_first_start_and_drop_what_ended(&store).await;
}

/// Two nodes' pools flushing the same windows at once, in opposite key orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_windows_lose_no_update_and_do_not_deadlock_under_concurrent_flushes() {
    let db = TestDb::create().await;
    crate::rate::conformance::no_update_is_lost_under_concurrent_flushes(
        Arc::new(db.store().await),
        Arc::new(db.store().await),
    )
    .await;
}
