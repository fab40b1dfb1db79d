//! The database read directly (beside the running server): every table dumped cell by cell,
//! for secret searches (G2, G3) and for "nothing changed in the store" checks. A SQLite file is
//! opened read-only; on PostgreSQL the dump is one read-only transaction, and its cells take
//! SQLite's storage classes (integers and booleans as `Int`, `bytea` as `Blob`, text as
//! `Text`, anything else as its text), so that tests read both dumps alike.

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::helpers::TestApp;

/// One stored value, by SQLite storage class.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    /// The value's bytes as stored (text as UTF-8, integers as decimal text).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Cell::Null => Vec::new(),
            Cell::Int(i) => i.to_string().into_bytes(),
            Cell::Real(r) => r.to_string().into_bytes(),
            Cell::Text(s) => s.clone().into_bytes(),
            Cell::Blob(b) => b.clone(),
        }
    }
}

/// A row: column name → value.
pub type DbRow = BTreeMap<String, Cell>;

/// Every table (including sqlx's migration table) → its rows in `rowid` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Dump(pub BTreeMap<String, Vec<DbRow>>);

impl Dump {
    pub fn table(&self, name: &str) -> &[DbRow] {
        self.0
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_else(|| panic!("no table {name}"))
    }

    /// Every cell, with where it is.
    pub fn cells(&self) -> impl Iterator<Item = (&str, &str, &Cell)> {
        self.0.iter().flat_map(|(t, rows)| {
            rows.iter()
                .flat_map(move |r| r.iter().map(move |(c, v)| (t.as_str(), c.as_str(), v)))
        })
    }

    /// Where `needle` occurs inside any cell, as `table.column`.
    pub fn find_bytes(&self, needle: &[u8]) -> Vec<String> {
        self.cells()
            .filter(|(_, _, v)| contains(&v.bytes(), needle))
            .map(|(t, c, _)| format!("{t}.{c}"))
            .collect()
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Dumps every table of the database file at `path`, opened read-only.
pub async fn dump_file(path: &Path) -> Dump {
    let opts = SqliteConnectOptions::new().filename(path).read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .expect("open the database read-only");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("list tables");
    let mut out = BTreeMap::new();
    for t in tables {
        let rows = sqlx::query(&format!("SELECT * FROM \"{t}\" ORDER BY 1, 2"))
            .fetch_all(&pool)
            .await
            .expect("dump table");
        let rows = rows
            .iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .map(|col| {
                        let i = col.ordinal();
                        let raw = row.try_get_raw(i).expect("raw value");
                        let cell = if raw.is_null() {
                            Cell::Null
                        } else {
                            match raw.type_info().name() {
                                "INTEGER" => Cell::Int(row.try_get_unchecked(i).expect("int")),
                                "REAL" => Cell::Real(row.try_get_unchecked(i).expect("real")),
                                "TEXT" => Cell::Text(row.try_get_unchecked(i).expect("text")),
                                _ => Cell::Blob(row.try_get_unchecked(i).expect("blob")),
                            }
                        };
                        (col.name().to_owned(), cell)
                    })
                    .collect()
            })
            .collect();
        out.insert(t, rows);
    }
    pool.close().await;
    Dump(out)
}

/// Dumps every table of the database `url` names (`sqlite://...` or `postgres://...`).
pub async fn dump_url(url: &str) -> Dump {
    match url.strip_prefix("sqlite://") {
        Some(path) => dump_file(Path::new(path)).await,
        None => dump_postgres(url).await,
    }
}

async fn dump_postgres(url: &str) -> Dump {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the database");
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await
        .expect("read only");
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text            FROM information_schema.columns c JOIN information_schema.tables t              ON t.table_schema = c.table_schema AND t.table_name = c.table_name           WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'           ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(&mut *tx)
    .await
    .expect("list columns");
    let mut tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (t, c, ty) in columns {
        tables.entry(t).or_default().push((c, ty));
    }
    let mut out = BTreeMap::new();
    for (t, cols) in tables {
        let select: Vec<String> = cols
            .iter()
            .map(|(c, ty)| match ty.as_str() {
                "bigint" | "integer" | "smallint" => format!("\"{c}\"::bigint"),
                "boolean" => format!("\"{c}\"::int::bigint"),
                "bytea" | "text" => format!("\"{c}\""),
                _ => format!("\"{c}\"::text"),
            })
            .collect();
        let rows = sqlx::query(&format!(
            "SELECT {} FROM \"{t}\" ORDER BY 1, 2",
            select.join(", ")
        ))
        .fetch_all(&mut *tx)
        .await
        .expect("dump table");
        let rows = rows
            .iter()
            .map(|row| {
                cols.iter()
                    .enumerate()
                    .map(|(i, (c, ty))| {
                        let cell = match ty.as_str() {
                            "bigint" | "integer" | "smallint" | "boolean" => row
                                .try_get::<Option<i64>, _>(i)
                                .expect("int")
                                .map_or(Cell::Null, Cell::Int),
                            "bytea" => row
                                .try_get::<Option<Vec<u8>>, _>(i)
                                .expect("bytes")
                                .map_or(Cell::Null, Cell::Blob),
                            _ => row
                                .try_get::<Option<String>, _>(i)
                                .expect("text")
                                .map_or(Cell::Null, Cell::Text),
                        };
                        (c.clone(), cell)
                    })
                    .collect()
            })
            .collect();
        out.insert(t, rows);
    }
    tx.rollback().await.expect("end the read");
    Dump(out)
}

/// The whole store of a running test app.
pub async fn snapshot(app: &TestApp) -> Dump {
    dump_url(&app.database_url).await
}

/// Asserts that the store is exactly as it was (same rows, same values).
pub async fn assert_unchanged(app: &TestApp, before: &Dump, what: &str) {
    let after = snapshot(app).await;
    if *before != after {
        for (t, rows) in &after.0 {
            if before.0.get(t) != Some(rows) {
                panic!(
                    "{what}: table {t} changed\nbefore: {:?}\nafter:  {rows:?}",
                    before.0.get(t)
                );
            }
        }
        panic!("{what}: the store changed");
    }
}
