//! The developer portal's part of the PostgreSQL store: Projects, App settings and credentials,
//! admin users, connected Apps and usage counts. The trait methods in `mod.rs` call these.
//!
//! As everywhere in this store, the invalidation feed's entry is written last in a
//! transaction, so its lock is held only for the commit.

use std::collections::BTreeMap;

use roost_domain::{ScopeSet, Snowflake, TokenHash};
use sqlx::Row;

use super::rows::{self, APP_COLUMNS, PROJECT_COLUMNS, id, is_unique_violation, scopes};
use super::{PgStore, conflict_as, content, record_invalidation, revoke_tokens_in};
use crate::{
    AppChange, AppRecord, AppStats, ConnectedApp, Deletion, Invalidated, NewProject, ProjectRecord,
    Result, StoreError, UsageCount,
};

/// A grant is live while it is not revoked and still has a token that can be used.
const LIVE_GRANT: &str = "g.revoked_at IS NULL AND (\
    EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id AND a.revoked_at IS NULL AND a.expires_at > $1) \
    OR EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id AND r.used_at IS NULL AND r.expires_at > $1))";

fn snowflake(i: i64) -> Result<Snowflake> {
    Snowflake::from_i64(i).map_err(|e| StoreError::Other(e.into()))
}

impl PgStore {
    pub(super) async fn portal_update_app(
        &self,
        app_id: Snowflake,
        change: AppChange,
    ) -> Result<Option<AppRecord>> {
        let mut tx = self.pool.begin().await?;
        let kind = change.kind.map(|k| k.as_str());
        let kind_type = change.kind.map(|k| k.client_type().as_str());
        let website_given = change.website_url.is_some();
        let website = change.website_url.flatten().map(|w| w.as_str().to_owned());
        // One statement for the App's own columns; the kind changes only within its client type.
        let r = sqlx::query(
            "UPDATE apps SET name = COALESCE($2, name), description = COALESCE($3, description), \
             website_url = CASE WHEN $4 THEN $5 ELSE website_url END, \
             app_kind = CASE WHEN $6::text IS NOT NULL AND client_type = $7 THEN $6 ELSE app_kind END \
             WHERE id = $1",
        )
        .bind(app_id.get())
        .bind(&change.name)
        .bind(&change.description)
        .bind(website_given)
        .bind(&website)
        .bind(kind)
        .bind(kind_type)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        if let Some(callbacks) = &change.callbacks {
            sqlx::query("DELETE FROM app_callbacks WHERE app_id = $1")
                .bind(app_id.get())
                .execute(&mut *tx)
                .await?;
            let uris: Vec<&str> = callbacks.iter().map(|c| c.as_str()).collect();
            sqlx::query(
                "INSERT INTO app_callbacks (app_id, position, uri) \
                 SELECT $1, (n - 1)::int, uri FROM UNNEST($2::text[]) WITH ORDINALITY AS t (uri, n)",
            )
            .bind(app_id.get())
            .bind(&uris)
            .execute(&mut *tx)
            .await
            .map_err(conflict_as("callback URL"))?;
        }
        record_invalidation(&mut tx, Invalidated::AppSettings(app_id)).await?;
        tx.commit().await?;
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

    pub(super) async fn portal_set_client_secret(
        &self,
        app_id: Snowflake,
        hash: TokenHash,
        hint: &str,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE apps SET client_secret_hash = $2, client_secret_hint = $3 \
             WHERE id = $1 AND client_type = 'confidential'",
        )
        .bind(app_id.get())
        .bind(hash.as_bytes())
        .bind(hint)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
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
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE apps SET api_key = $2, api_secret_hash = $3, api_secret_hint = $4, \
             bearer_generation = bearer_generation + 1 WHERE id = $1",
        )
        .bind(app_id.get())
        .bind(api_key)
        .bind(secret_hash.as_bytes())
        .bind(hint)
        .execute(&mut *tx)
        .await
        .map_err(conflict_as("api_key"))?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        // The old Bearer Token is minted from the generation that moved: it is refused from now.
        record_invalidation(&mut tx, Invalidated::AppTokens(app_id)).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn portal_create_project(&self, p: NewProject) -> Result<ProjectRecord> {
        sqlx::query(
            "INSERT INTO projects (id, name, created_at, owner_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(p.id.get())
        .bind(&p.name)
        .bind(p.now)
        .bind(p.owner_id.map(Snowflake::get))
        .execute(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                StoreError::NotFound("user")
            }
            _ if is_unique_violation(&e) => StoreError::Conflict("project"),
            _ => e.into(),
        })?;
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
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::project)
        .collect()
    }

    pub(super) async fn portal_project(&self, pid: Snowflake) -> Result<Option<ProjectRecord>> {
        sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(pid.get())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::project)
        .transpose()
    }

    pub(super) async fn portal_rename_project(
        &self,
        pid: Snowflake,
        name: &str,
    ) -> Result<Option<ProjectRecord>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE projects SET name = $2 WHERE id = $1 RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(pid.get())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(conflict_as("project"))?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        // Cached Apps carry their Project's name (the consent page shows it).
        let apps: Vec<i64> = sqlx::query_scalar("SELECT id FROM apps WHERE project_id = $1")
            .bind(pid.get())
            .fetch_all(&mut *tx)
            .await?;
        for a in apps {
            record_invalidation(&mut tx, Invalidated::AppSettings(snowflake(a)?)).await?;
        }
        tx.commit().await?;
        rows::project(&row).map(Some)
    }

    pub(super) async fn portal_set_project_owner(
        &self,
        pid: Snowflake,
        owner: Option<Snowflake>,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE projects SET owner_id = $2 WHERE id = $1")
            .bind(pid.get())
            .bind(owner.map(Snowflake::get))
            .execute(&self.pool)
            .await;
        match r {
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                Err(StoreError::NotFound("user"))
            }
            other => Ok(other?.rows_affected() == 1),
        }
    }

    pub(super) async fn portal_delete_project(&self, pid: Snowflake) -> Result<Option<Deletion>> {
        let mut tx = self.pool.begin().await?;
        // The content version first, as every deletion takes it: one lock order.
        content::bump_version(&mut tx).await?;
        // The Project's row lock keeps new Apps out (their creation takes it FOR SHARE); each
        // App's keeps new codes and grants out, so the counts are what the cascade removes.
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM projects WHERE id = $1 FOR UPDATE")
                .bind(pid.get())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        let apps: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM apps WHERE project_id = $1 ORDER BY id FOR UPDATE")
                .bind(pid.get())
                .fetch_all(&mut *tx)
                .await?;
        let counts = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM apps WHERE id = ANY($1)) AS apps, \
                    (SELECT COUNT(*) FROM app_callbacks WHERE app_id = ANY($1)) AS app_callbacks, \
                    (SELECT COUNT(*) FROM authorization_codes WHERE app_id = ANY($1)) AS authorization_codes, \
                    (SELECT COUNT(*) FROM grants WHERE app_id = ANY($1)) AS grants, \
                    (SELECT COUNT(*) FROM access_tokens WHERE app_id = ANY($1)) AS access_tokens, \
                    (SELECT COUNT(*) FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE app_id = ANY($1))) AS refresh_tokens",
        )
        .bind(&apps)
        .fetch_one(&mut *tx)
        .await?;
        let mut removed = BTreeMap::new();
        for table in [
            "apps",
            "app_callbacks",
            "authorization_codes",
            "grants",
            "access_tokens",
            "refresh_tokens",
        ] {
            removed.insert(table, rows::count(&counts, table)?);
        }
        sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(pid.get())
            .execute(&mut *tx)
            .await?;
        for a in apps {
            record_invalidation(&mut tx, Invalidated::App(snowflake(a)?)).await?;
        }
        tx.commit().await?;
        Ok(Some(Deletion { id: pid, removed }))
    }

    pub(super) async fn portal_delete_user_sessions(&self, user_id: Snowflake) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id.get())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub(super) async fn portal_user_is_admin(&self, user_id: Snowflake) -> Result<bool> {
        let v: Option<bool> = sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1")
            .bind(user_id.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.unwrap_or(false))
    }

    pub(super) async fn portal_set_user_admin(
        &self,
        user_id: Snowflake,
        admin: bool,
    ) -> Result<bool> {
        Ok(sqlx::query("UPDATE users SET is_admin = $2 WHERE id = $1")
            .bind(user_id.get())
            .bind(admin)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    pub(super) async fn portal_admin_user_ids(&self) -> Result<Vec<Snowflake>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE is_admin ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        ids.into_iter().map(snowflake).collect()
    }

    pub(super) async fn portal_connected_apps(
        &self,
        user_id: Snowflake,
        now: i64,
    ) -> Result<Vec<ConnectedApp>> {
        let rows = sqlx::query(&format!(
            "SELECT g.app_id, g.scopes, g.created_at, g.last_used_at FROM grants g \
             WHERE g.user_id = $2 AND {LIVE_GRANT} ORDER BY g.app_id, g.created_at"
        ))
        .bind(now)
        .bind(user_id.get())
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let live: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM grants g WHERE g.app_id = $2 AND g.user_id = $3 AND {LIVE_GRANT}"
        ))
        .bind(now)
        .bind(app_id.get())
        .bind(user_id.get())
        .fetch_one(&mut *tx)
        .await?;
        // Every grant row first, in one statement (waiting for rotations that hold one), then
        // their tokens, then the feed: the lock order of a single revocation.
        let grants: Vec<i64> = sqlx::query_scalar(
            "UPDATE grants SET revoked_at = $3 WHERE app_id = $1 AND user_id = $2 AND revoked_at IS NULL \
             RETURNING id",
        )
        .bind(app_id.get())
        .bind(user_id.get())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for g in &grants {
            revoke_tokens_in(&mut tx, *g, now).await?;
        }
        for g in grants {
            record_invalidation(&mut tx, Invalidated::Grant(snowflake(g)?)).await?;
        }
        tx.commit().await?;
        Ok(u64::try_from(live).unwrap_or(0))
    }

    pub(super) async fn portal_record_usage(
        &self,
        counts: &[UsageCount],
        used: &[(Snowflake, Snowflake, i64)],
    ) -> Result<()> {
        if counts.is_empty() && used.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        if !counts.is_empty() {
            let apps: Vec<i64> = counts.iter().map(|c| c.app_id.get()).collect();
            let endpoints: Vec<&str> = counts.iter().map(|c| c.endpoint.as_str()).collect();
            let buckets: Vec<i64> = counts.iter().map(|c| c.bucket_start).collect();
            let ns: Vec<i64> = counts.iter().map(|c| c.count).collect();
            // An App deleted since the request was counted has nothing to count against. The
            // rows go in key order, so two nodes' batches cannot deadlock on each other.
            sqlx::query(
                "INSERT INTO app_usage (app_id, endpoint, bucket_start, count) \
                 SELECT t.a, t.e, t.b, SUM(t.n) FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) AS t (a, e, b, n) \
                 WHERE EXISTS (SELECT 1 FROM apps WHERE id = t.a) \
                 GROUP BY t.a, t.b, t.e ORDER BY t.a, t.b, t.e \
                 ON CONFLICT (app_id, bucket_start, endpoint) DO UPDATE SET count = app_usage.count + excluded.count",
            )
            .bind(&apps)
            .bind(&endpoints)
            .bind(&buckets)
            .bind(&ns)
            .execute(&mut *tx)
            .await?;
        }
        for (app, user, at) in used {
            sqlx::query(
                "UPDATE grants SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $3) \
                 WHERE app_id = $1 AND user_id = $2 AND revoked_at IS NULL",
            )
            .bind(app.get())
            .bind(user.get())
            .bind(at)
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
            "SELECT endpoint, bucket_start, count FROM app_usage WHERE app_id = $1 AND bucket_start >= $2 \
             ORDER BY bucket_start, endpoint",
        )
        .bind(app_id.get())
        .bind(since)
        .fetch_all(&self.pool)
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
             (SELECT COUNT(DISTINCT g.user_id) FROM grants g WHERE g.app_id = $2 AND {LIVE_GRANT}) AS users, \
             (SELECT COUNT(*) FROM access_tokens WHERE app_id = $2 AND revoked_at IS NULL AND expires_at > $1) AS access, \
             (SELECT COUNT(*) FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
              WHERE g.app_id = $2 AND g.revoked_at IS NULL AND r.used_at IS NULL AND r.expires_at > $1) AS refresh"
        ))
        .bind(now)
        .bind(app_id.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(AppStats {
            active_users: row.try_get("users")?,
            active_access_tokens: row.try_get("access")?,
            active_refresh_tokens: row.try_get("refresh")?,
        })
    }
}
