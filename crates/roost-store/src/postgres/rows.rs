//! Reading roost's types out of PostgreSQL rows.

use anyhow::anyhow;
use roost_domain::{ScopeNames, ScopeSet, Snowflake, TokenHash};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::{Result, StoreError};

pub(super) fn id(row: &PgRow, col: &str) -> Result<Snowflake> {
    let v: i64 = row.try_get(col)?;
    Snowflake::from_i64(v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}")))
}

pub(super) fn opt_id(row: &PgRow, col: &str) -> Result<Option<Snowflake>> {
    let v: Option<i64> = row.try_get(col)?;
    v.map(|v| Snowflake::from_i64(v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}"))))
        .transpose()
}

pub(super) fn hash(row: &PgRow, col: &str) -> Result<TokenHash> {
    let v: Vec<u8> = row.try_get(col)?;
    TokenHash::from_slice(&v)
        .ok_or_else(|| StoreError::Other(anyhow!("{col}: not a SHA-256 digest")))
}

pub(super) fn scopes(row: &PgRow, col: &str) -> Result<ScopeSet> {
    let v: String = row.try_get(col)?;
    ScopeSet::parse_allow_empty(&v).map_err(|e| StoreError::Other(anyhow!("{col}: {e}")))
}

/// The names stored in `names_col` (NULL: today's names), checked against the canonical set in
/// `set_col`.
pub(super) fn scope_names(row: &PgRow, set_col: &str, names_col: &str) -> Result<ScopeNames> {
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
pub(super) fn names_column(names: ScopeNames) -> Option<String> {
    names.uses_historic_names().then(|| names.to_string())
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The columns [`app`] reads, over `apps a JOIN projects p`; the callbacks come along as an
/// array, so that an App is one round trip.
pub(super) const APP_COLUMNS: &str = "a.id, a.project_id, p.name AS project_name, a.name, a.client_id, \
    a.client_type, a.client_secret_hash, a.api_key, a.api_secret_hash, a.bearer_generation, a.created_at, \
    a.auto_consent_user_id, a.app_kind, a.description, a.website_url, a.client_secret_hint, a.api_secret_hint, \
    COALESCE((SELECT array_agg(c.uri ORDER BY c.position) FROM app_callbacks c WHERE c.app_id = a.id), \
             ARRAY[]::text[]) AS callbacks";

pub(super) fn app(row: &PgRow) -> Result<crate::AppRecord> {
    use roost_domain::{ClientId, ClientType, RedirectUri};
    let client_id: String = row.try_get("client_id")?;
    let client_type: String = row.try_get("client_type")?;
    let secret: Option<Vec<u8>> = row.try_get("client_secret_hash")?;
    let callbacks: Vec<String> = row.try_get("callbacks")?;
    Ok(crate::AppRecord {
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
        callbacks: callbacks
            .into_iter()
            .map(RedirectUri::from_stored)
            .collect(),
        created_at: row.try_get("created_at")?,
        auto_consent_user_id: opt_id(row, "auto_consent_user_id")?,
        profile: crate::profile_from_columns(
            ClientType::parse(&client_type).unwrap_or(ClientType::Confidential),
            row.try_get("app_kind")?,
            row.try_get("description")?,
            row.try_get("website_url")?,
            row.try_get("client_secret_hint")?,
            row.try_get("api_secret_hint")?,
        )?,
    })
}

/// The columns [`project`] reads.
pub(super) const PROJECT_COLUMNS: &str = "id, name, created_at, owner_id";

pub(super) fn project(r: &PgRow) -> Result<crate::ProjectRecord> {
    Ok(crate::ProjectRecord {
        id: id(r, "id")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        owner_id: opt_id(r, "owner_id")?,
    })
}

pub(super) fn admin_token(row: &PgRow) -> Result<crate::AdminTokenRecord> {
    Ok(crate::AdminTokenRecord {
        id: id(row, "id")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// A row count as the report types keep it.
pub(super) fn count(row: &PgRow, col: &str) -> Result<u64> {
    let n: i64 = row.try_get(col)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
