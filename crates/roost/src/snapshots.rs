//! Snapshots and reset: named copies of the whole store, and putting the store back to one of
//! them (or to empty) so that every test can start from a known world.
//!
//! A snapshot is the export document (`content::export`), kept in the store's `snapshots`
//! table, so it works the same on every engine and travels with the database file. A reset
//! empties the store but for its server keys, admin tokens and snapshots, and imports the
//! snapshot, in one transaction; it counts itself in the store, so that a server on the same
//! database that did not make it drops its caches when its content poll sees the change.

use std::time::Instant;

use roost_domain::SnapshotName;
use roost_store::{AuthState, Content, ImportBatch, ImportReport, SnapshotInfo, StoreError};
use serde::Serialize;

use crate::content::export::{self, ExportCounts};
use crate::content::import::{self, ImportError};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot is called `{0}`")]
    Unknown(SnapshotName),
    /// A stored snapshot the importer refuses (written by another version, or edited).
    #[error("snapshot `{name}` cannot be restored: {source}")]
    Unreadable {
        name: SnapshotName,
        #[source]
        source: ImportError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A snapshot that was saved.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// True when a snapshot of that name was replaced.
    pub replaced: bool,
    pub counts: ExportCounts,
}

/// A stored snapshot, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub created_at: String,
    pub bytes: i64,
}

impl From<SnapshotInfo> for Listed {
    fn from(s: SnapshotInfo) -> Self {
        Self {
            name: s.name.to_string(),
            created_at: crate::api::render::timestamp(s.created_at),
            bytes: s.bytes,
        }
    }
}

/// A reset that took place.
#[derive(Debug, Clone, Serialize)]
pub struct Reset {
    /// The snapshot restored; `None` for an empty store.
    pub to: Option<String>,
    /// What the store holds now.
    pub restored: ImportReport,
    /// How long the reset took, reading the snapshot to the committed transaction.
    pub took_ms: u64,
}

/// Saves the store as it is now under `name`, replacing a snapshot of that name.
pub async fn save(state: &AppState, name: &SnapshotName) -> Result<Saved, SnapshotError> {
    let (document, counts) = export::export(state.store.as_ref()).await?;
    let now = state.now();
    let replaced = state.store.save_snapshot(name, &document, now).await?;
    Ok(Saved {
        name: name.to_string(),
        created_at: crate::api::render::timestamp(now),
        replaced,
        counts,
    })
}

pub async fn list(state: &AppState) -> Result<Vec<Listed>, SnapshotError> {
    Ok(state
        .store
        .snapshots()
        .await?
        .into_iter()
        .map(Listed::from)
        .collect())
}

pub async fn delete(state: &AppState, name: &SnapshotName) -> Result<(), SnapshotError> {
    if state.store.delete_snapshot(name).await? {
        Ok(())
    } else {
        Err(SnapshotError::Unknown(name.clone()))
    }
}

/// Empties the store, or puts it back to the snapshot `to`, and makes this server see the
/// result at once: its content reloaded, its cached tokens, Apps and rate-limit windows gone.
pub async fn reset(state: &AppState, to: Option<&SnapshotName>) -> Result<Reset, SnapshotError> {
    let started = Instant::now();
    let batch = match to {
        None => ImportBatch::default(),
        Some(name) => {
            let document = state
                .store
                .snapshot(name)
                .await?
                .ok_or_else(|| SnapshotError::Unknown(name.clone()))?;
            // Against an empty store: the snapshot is all there will be.
            import::parse(
                &document,
                &Content::default(),
                &AuthState::default(),
                &state.hasher,
                state.now(),
            )
            .await
            .map_err(|source| SnapshotError::Unreadable {
                name: name.clone(),
                source,
            })?
        }
    };
    let restored = state.store.reset(batch).await?;
    // The store's own windows went with the reset; those on Redis go now. The reset stands if
    // Redis cannot be reached: its windows then end as usual.
    if let Err(e) = state.limits.clear_shared().await {
        tracing::warn!(error = %e, "after the reset, the rate-limit windows on Redis could not be dropped");
    }
    let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    crate::content::world::sync(state).await?;
    // The poller may have run the reload between the commit and the line above, and be about
    // to forget the caches; forgetting them here too means none survives this call.
    forget_cached(state);
    Ok(Reset {
        to: to.map(ToString::to_string),
        restored,
        took_ms,
    })
}

/// Drops everything this server remembers about tokens, Apps and request counts.
pub fn forget_cached(state: &AppState) {
    state.tokens.clear();
    state.apps.clear();
    state.limits.clear();
}
