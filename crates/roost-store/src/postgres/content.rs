//! The PostgreSQL store's content side: users, tweets, follows, Spaces, topics, import, export
//! of the auth state, reset and snapshots. `mod.rs` calls these from its `Store` impl.
//!
//! SKELETON: every body below is replaced by the real one (branch wt-s2).

use anyhow::anyhow;
use roost_domain::{SnapshotName, Snowflake, Username};
use sqlx::{PgConnection, PgPool};

use crate::{
    AuthState, Content, Deletion, FollowRecord, ImportBatch, ImportReport, NewUser, Result,
    SnapshotInfo, StoreError, TweetRecord, UserRecord,
};

fn unwritten() -> StoreError {
    StoreError::Other(anyhow!("postgres content: not written yet"))
}

/// `UPDATE content_version SET version = version + 1`, inside the caller's transaction.
pub(super) async fn bump_version(_tx: &mut PgConnection) -> Result<()> {
    Err(unwritten())
}
pub(super) async fn create_user(_pool: &PgPool, _user: NewUser) -> Result<UserRecord> {
    Err(unwritten())
}
pub(super) async fn user_by_id(_pool: &PgPool, _id: Snowflake) -> Result<Option<UserRecord>> {
    Err(unwritten())
}
pub(super) async fn user_by_username(
    _pool: &PgPool,
    _username: &Username,
) -> Result<Option<UserRecord>> {
    Err(unwritten())
}
pub(super) async fn list_users(_pool: &PgPool) -> Result<Vec<UserRecord>> {
    Err(unwritten())
}
pub(super) async fn set_password_hash(
    _pool: &PgPool,
    _user_id: Snowflake,
    _hash: &str,
) -> Result<()> {
    Err(unwritten())
}
pub(super) async fn delete_user(_pool: &PgPool, _username: &Username) -> Result<Option<Deletion>> {
    Err(unwritten())
}
pub(super) async fn load_content(_pool: &PgPool) -> Result<Content> {
    Err(unwritten())
}
pub(super) async fn content_version(_pool: &PgPool) -> Result<i64> {
    Err(unwritten())
}
pub(super) async fn create_tweet(_pool: &PgPool, _tweet: TweetRecord) -> Result<()> {
    Err(unwritten())
}
pub(super) async fn delete_tweet(_pool: &PgPool, _id: Snowflake) -> Result<bool> {
    Err(unwritten())
}
pub(super) async fn follow(_pool: &PgPool, _follow: FollowRecord) -> Result<FollowRecord> {
    Err(unwritten())
}
pub(super) async fn unfollow(
    _pool: &PgPool,
    _source: Snowflake,
    _target: Snowflake,
) -> Result<bool> {
    Err(unwritten())
}
pub(super) async fn import(_pool: &PgPool, _batch: ImportBatch) -> Result<ImportReport> {
    Err(unwritten())
}
pub(super) async fn load_auth(_pool: &PgPool) -> Result<AuthState> {
    Err(unwritten())
}
pub(super) async fn reset(_pool: &PgPool, _batch: ImportBatch) -> Result<ImportReport> {
    Err(unwritten())
}
pub(super) async fn save_snapshot(
    _pool: &PgPool,
    _name: &SnapshotName,
    _document: &str,
    _now: i64,
) -> Result<bool> {
    Err(unwritten())
}
pub(super) async fn snapshots(_pool: &PgPool) -> Result<Vec<SnapshotInfo>> {
    Err(unwritten())
}
pub(super) async fn snapshot(_pool: &PgPool, _name: &SnapshotName) -> Result<Option<String>> {
    Err(unwritten())
}
pub(super) async fn delete_snapshot(_pool: &PgPool, _name: &SnapshotName) -> Result<bool> {
    Err(unwritten())
}
