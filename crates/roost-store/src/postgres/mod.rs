//! The PostgreSQL store: the same schema as SQLite's (migrations/postgres, version for
//! version), SQL written for PostgreSQL, one pool, and the server's own concurrency control
//! (row locks, `UPDATE ... RETURNING`) instead of SQLite's single writer.
//!
//! SKELETON: the `Store` impl is written on branch wt-s1; `content.rs` on branch wt-s2.

mod content;
mod rows;

use sqlx::PgPool;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}
