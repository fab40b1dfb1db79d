//! The developer portal's part of the SQLite store: Projects, App settings and credentials,
//! admin users, connected Apps and usage counts. The trait methods in `sqlite.rs` call these.

use roost_domain::{ScopeSet, Snowflake, TokenHash, WebsiteUrl};
use sqlx::Row;

use super::{
    PROJECT_COLUMNS, SqliteStore, bump_version, count_rows, id, is_unique_violation,
    project_from_row, record_invalidation, scopes,
};
use crate::{
    AppChange, AppRecord, AppStats, ConnectedApp, Deletion, Invalidated, NewProject, ProjectRecord,
    Result, StoreError, UsageCount,
};

/// A grant is live while it is not revoked and still has a token that can be used.
const LIVE_GRANT: &str = "g.revoked_at IS NULL AND (\
    EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id AND a.revoked_at IS NULL AND a.expires_at > ?1) \
    OR EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id AND r.used_at IS NULL AND r.expires_at > ?1))";

impl SqliteStore {
    pub(super) async fn portal_update_app(
        &self,
        app_id: Snowflake,
        change: AppChange,
    ) -> Result<Option<AppRecord>> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM apps WHERE id = ?")
            .bind(app_id.get())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        if let Some(name) = &change.name {
            sqlx::query("UPDATE apps SET name = ? WHERE id = ?")
                .bind(name)
                .bind(app_id.get())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(d) = &change.description {
            sqlx::query("UPDATE apps SET description = ? WHERE id = ?")
                .bind(d)
                .bind(app_id.get())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(w) = &change.website_url {
            sqlx::query("UPDATE apps SET website_url = ? WHERE id = ?")
                .bind(w.as_ref().map(WebsiteUrl::as_str))
                .bind(app_id.get())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(k) = change.kind {
            sqlx::query("UPDATE apps SET app_kind = ? WHERE id = ? AND client_type = ?")
                .bind(k.as_str())
                .bind(app_id.get())
                .bind(k.client_type().as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(callbacks) = &change.callbacks {
            sqlx::query("DELETE FROM app_callbacks WHERE app_id = ?")
                .bind(app_id.get())
                .execute(&mut *tx)
                .await?;
            for (pos, cb) in callbacks.iter().enumerate() {
                let r = sqlx::query(
                    "INSERT INTO app_callbacks (app_id, position, uri) VALUES (?, ?, ?)",
                )
                .bind(app_id.get())
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
        }
        record_invalidation(&mut tx, Invalidated::AppSettings(app_id)).await?;
        tx.commit().await?;
        self.app_where("a.id = ?", super::AppKey::Id(app_id.get()))
            .await
    }

    pub(super) async fn portal_set_client_secret(
        &self,
        app_id: Snowflake,
        hash: TokenHash,
        hint: &str,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "UPDATE apps SET client_secret_hash = ?, client_secret_hint = ? WHERE id = ? AND client_type = 'confidential'",
        )
        .bind(hash.as_bytes())
        .bind(hint)
        .bind(app_id.get())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        record_invalidation(&mut tx, Invalidated::AppSettings(app_id)).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn portal_set_api_credentials(
        &self,
        app_id: Snowflake,
        api_key: &str,
        secret_hash: TokenHash,
        hint: &str,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "UPDATE apps SET api_key = ?, api_secret_hash = ?, api_secret_hint = ?, \
             bearer_generation = bearer_generation + 1 WHERE id = ?",
        )
        .bind(api_key)
        .bind(secret_hash.as_bytes())
        .bind(hint)
        .bind(app_id.get())
        .execute(&mut *tx)
        .await;
        let r = match r {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("api_key")),
            other => other?,
        };
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        // The old Bearer Token is minted from the generation that moved: it is refused from now.
        record_invalidation(&mut tx, Invalidated::AppTokens(app_id)).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn portal_create_project(&self, p: NewProject) -> Result<ProjectRecord> {
        let r = sqlx::query(
            "INSERT INTO projects (id, name, created_at, owner_id) VALUES (?, ?, ?, ?)",
        )
        .bind(p.id.get())
        .bind(&p.name)
        .bind(p.now)
        .bind(p.owner_id.map(Snowflake::get))
        .execute(&self.write)
        .await;
        match r {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("project")),
            // The owner was deleted since it was looked up, as PostgreSQL reports it.
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                return Err(StoreError::NotFound("user"));
            }
            other => other?,
        };
        Ok(ProjectRecord {
            id: p.id,
            name: p.name,
            created_at: p.now,
            owner_id: p.owner_id,
        })
    }

    pub(super) async fn portal_list_projects(&self) -> Result<Vec<ProjectRecord>> {
        sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY id"
        ))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(project_from_row)
        .collect()
    }

    pub(super) async fn portal_project(&self, pid: Snowflake) -> Result<Option<ProjectRecord>> {
        sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?"
        ))
        .bind(pid.get())
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(project_from_row)
        .transpose()
    }

    pub(super) async fn portal_rename_project(
        &self,
        pid: Snowflake,
        name: &str,
    ) -> Result<Option<ProjectRecord>> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query("UPDATE projects SET name = ? WHERE id = ?")
            .bind(name)
            .bind(pid.get())
            .execute(&mut *tx)
            .await;
        let r = match r {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("project")),
            other => other?,
        };
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        // Cached Apps carry their Project's name (the consent page shows it).
        let apps: Vec<i64> = sqlx::query_scalar("SELECT id FROM apps WHERE project_id = ?")
            .bind(pid.get())
            .fetch_all(&mut *tx)
            .await?;
        for a in apps {
            let a = Snowflake::from_i64(a).map_err(|e| StoreError::Other(e.into()))?;
            record_invalidation(&mut tx, Invalidated::AppSettings(a)).await?;
        }
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?"
        ))
        .bind(pid.get())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        project_from_row(&row).map(Some)
    }

    pub(super) async fn portal_set_project_owner(
        &self,
        pid: Snowflake,
        owner: Option<Snowflake>,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE projects SET owner_id = ? WHERE id = ?")
            .bind(owner.map(Snowflake::get))
            .bind(pid.get())
            .execute(&self.write)
            .await;
        match r {
            // The owner is a user that does not exist (a foreign key).
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                Err(StoreError::NotFound("user"))
            }
            other => Ok(other?.rows_affected() == 1),
        }
    }

    pub(super) async fn portal_delete_project(&self, pid: Snowflake) -> Result<Option<Deletion>> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM projects WHERE id = ?")
            .bind(pid.get())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let removed = count_rows(
            &mut tx,
            &[
                ("apps", "SELECT COUNT(*) FROM apps WHERE project_id = ?1"),
                (
                    "app_callbacks",
                    "SELECT COUNT(*) FROM app_callbacks WHERE app_id IN (SELECT id FROM apps WHERE project_id = ?1)",
                ),
                (
                    "authorization_codes",
                    "SELECT COUNT(*) FROM authorization_codes WHERE app_id IN (SELECT id FROM apps WHERE project_id = ?1)",
                ),
                (
                    "grants",
                    "SELECT COUNT(*) FROM grants WHERE app_id IN (SELECT id FROM apps WHERE project_id = ?1)",
                ),
                (
                    "access_tokens",
                    "SELECT COUNT(*) FROM access_tokens WHERE app_id IN (SELECT id FROM apps WHERE project_id = ?1)",
                ),
                (
                    "refresh_tokens",
                    "SELECT COUNT(*) FROM refresh_tokens WHERE grant_id IN (SELECT g.id FROM grants g JOIN apps a ON a.id = g.app_id WHERE a.project_id = ?1)",
                ),
            ],
            pid.get(),
        )
        .await?;
        let apps: Vec<i64> = sqlx::query_scalar("SELECT id FROM apps WHERE project_id = ?")
            .bind(pid.get())
            .fetch_all(&mut *tx)
            .await?;
        // The foreign keys cascade from the Project to its Apps and everything issued to them.
        sqlx::query("DELETE FROM projects WHERE id = ?")
            .bind(pid.get())
            .execute(&mut *tx)
            .await?;
        for a in apps {
            let a = Snowflake::from_i64(a).map_err(|e| StoreError::Other(e.into()))?;
            record_invalidation(&mut tx, Invalidated::App(a)).await?;
        }
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(Deletion { id: pid, removed }))
    }

    pub(super) async fn portal_delete_user_sessions(&self, user_id: Snowflake) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id.get())
            .execute(&self.write)
            .await?
            .rows_affected())
    }

    pub(super) async fn portal_user_is_admin(&self, user_id: Snowflake) -> Result<bool> {
        let v: Option<bool> = sqlx::query_scalar("SELECT is_admin FROM users WHERE id = ?")
            .bind(user_id.get())
            .fetch_optional(&self.read)
            .await?;
        Ok(v.unwrap_or(false))
    }

    pub(super) async fn portal_set_user_admin(
        &self,
        user_id: Snowflake,
        admin: bool,
    ) -> Result<bool> {
        Ok(sqlx::query("UPDATE users SET is_admin = ? WHERE id = ?")
            .bind(admin)
            .bind(user_id.get())
            .execute(&self.write)
            .await?
            .rows_affected()
            == 1)
    }

    pub(super) async fn portal_admin_user_ids(&self) -> Result<Vec<Snowflake>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE is_admin ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        ids.into_iter()
            .map(|i| Snowflake::from_i64(i).map_err(|e| StoreError::Other(e.into())))
            .collect()
    }

    pub(super) async fn portal_connected_apps(
        &self,
        user_id: Snowflake,
        now: i64,
    ) -> Result<Vec<ConnectedApp>> {
        let rows = sqlx::query(&format!(
            "SELECT g.app_id, g.scopes, g.created_at, g.last_used_at FROM grants g \
             WHERE g.user_id = ?2 AND {LIVE_GRANT} ORDER BY g.app_id, g.created_at"
        ))
        .bind(now)
        .bind(user_id.get())
        .fetch_all(&self.read)
        .await?;
        let mut out: Vec<ConnectedApp> = Vec::new();
        for r in &rows {
            let app_id = id(r, "app_id")?;
            let granted: ScopeSet = scopes(r, "scopes")?;
            let created_at: i64 = r.try_get("created_at")?;
            let used: Option<i64> = r.try_get("last_used_at")?;
            match out.last_mut() {
                Some(c) if c.app_id == app_id => {
                    c.scopes = granted.iter().fold(c.scopes, ScopeSet::with);
                    c.granted_at = c.granted_at.min(created_at);
                    c.last_used_at = c.last_used_at.max(used);
                }
                _ => out.push(ConnectedApp {
                    app_id,
                    scopes: granted,
                    granted_at: created_at,
                    last_used_at: used,
                }),
            }
        }
        Ok(out)
    }

    pub(super) async fn portal_revoke_app_for_user(
        &self,
        app_id: Snowflake,
        user_id: Snowflake,
        now: i64,
    ) -> Result<u64> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let grants: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT g.id FROM grants g WHERE g.app_id = ?2 AND g.user_id = ?3 AND {LIVE_GRANT}"
        ))
        .bind(now)
        .bind(app_id.get())
        .bind(user_id.get())
        .fetch_all(&mut *tx)
        .await?;
        // Every unrevoked grant goes, live or not: an expired one has nothing left to revoke,
        // but revoking it costs nothing and leaves no doubt.
        let all: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM grants WHERE app_id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(app_id.get())
        .bind(user_id.get())
        .fetch_all(&mut *tx)
        .await?;
        for g in all {
            let g = Snowflake::from_i64(g).map_err(|e| StoreError::Other(e.into()))?;
            Self::revoke_grant_in(&mut tx, g, now).await?;
        }
        tx.commit().await?;
        Ok(u64::try_from(grants.len()).unwrap_or(0))
    }

    pub(super) async fn portal_record_usage(
        &self,
        counts: &[UsageCount],
        used: &[(Snowflake, Snowflake, i64)],
    ) -> Result<()> {
        if counts.is_empty() && used.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        for c in counts {
            // An App deleted since the request was counted has nothing to count against.
            sqlx::query(
                "INSERT INTO app_usage (app_id, endpoint, bucket_start, count) \
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM apps WHERE id = ?1) \
                 ON CONFLICT (app_id, bucket_start, endpoint) DO UPDATE SET count = count + excluded.count",
            )
            .bind(c.app_id.get())
            .bind(&c.endpoint)
            .bind(c.bucket_start)
            .bind(c.count)
            .execute(&mut *tx)
            .await?;
        }
        for (app, user, at) in used {
            sqlx::query(
                "UPDATE grants SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) \
                 WHERE app_id = ? AND user_id = ? AND revoked_at IS NULL",
            )
            .bind(at)
            .bind(app.get())
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn portal_app_usage(
        &self,
        app_id: Snowflake,
        since: i64,
    ) -> Result<Vec<UsageCount>> {
        let rows = sqlx::query(
            "SELECT endpoint, bucket_start, count FROM app_usage WHERE app_id = ? AND bucket_start >= ? \
             ORDER BY bucket_start, endpoint",
        )
        .bind(app_id.get())
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UsageCount {
                    app_id,
                    endpoint: r.try_get("endpoint")?,
                    bucket_start: r.try_get("bucket_start")?,
                    count: r.try_get("count")?,
                })
            })
            .collect()
    }

    pub(super) async fn portal_app_stats(&self, app_id: Snowflake, now: i64) -> Result<AppStats> {
        let row = sqlx::query(&format!(
            "SELECT \
             (SELECT COUNT(DISTINCT g.user_id) FROM grants g WHERE g.app_id = ?2 AND {LIVE_GRANT}) AS users, \
             (SELECT COUNT(*) FROM access_tokens WHERE app_id = ?2 AND revoked_at IS NULL AND expires_at > ?1) AS access, \
             (SELECT COUNT(*) FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
              WHERE g.app_id = ?2 AND g.revoked_at IS NULL AND r.used_at IS NULL AND r.expires_at > ?1) AS refresh"
        ))
        .bind(now)
        .bind(app_id.get())
        .fetch_one(&self.read)
        .await?;
        Ok(AppStats {
            active_users: row.try_get("users")?,
            active_access_tokens: row.try_get("access")?,
            active_refresh_tokens: row.try_get("refresh")?,
        })
    }
}
