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
