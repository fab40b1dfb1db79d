//! Several nodes on one database: how a revocation made anywhere reaches every node's caches.
//!
//! Sessions, codes, grants, tokens and admin tokens are looked up in the store on every request
//! that needs them, so a change to them is seen by every node at once; browser sessions in
//! particular are read from the store on each page (a logout on one node is a logout on all).
//! What a node keeps in memory is the token cache (resolved bearer tokens, up to
//! `oauth.token_cache_ttl`), the App cache (1 s) and the content world (reloaded when the
//! content version moves). The token cache is the one a revocation must reach within 1 s
//! (checklist J3).
//!
//! **The invalidation feed.** Every store method that revokes something a node may have cached
//! (an access token, a grant through revocation, a replayed code or refresh-token reuse, an
//! App's app-only token generation, a deleted App or user, a reset or an import of tokens)
//! appends an entry to the `invalidations` table in the transaction that makes the change, so
//! the CLI and the admin API are covered as much as the OAuth endpoints. Seqs come from a
//! one-row head updated in the same transaction: its row lock orders the writers, so seqs
//! follow commit order without gaps, and a reader that has applied everything up to its cursor
//! misses nothing by reading what follows it. Each node runs [`spawn`]: it reads the entries
//! after its cursor, applies them to its caches, and waits `cluster.invalidation_poll_ms`
//! (250 ms) or, on PostgreSQL, until the `NOTIFY` the writer sent in its transaction wakes it.
//!
//! Why not the alternatives. A short-TTL cache (1 s) would look every active token up again
//! every second on every node, and would meet the bound with no margin. `NOTIFY` alone carries
//! no history: a notification sent while a node's listening connection is down is lost, and
//! with it the revocation. The feed gives order and replay; the notification only cuts the
//! wait, so a lost one costs at most one poll interval.
//!
//! **Failing closed (J6).** Cached tokens are trusted only while the feed can be read: when the
//! last read that reached the feed's head began more than [`STALENESS_BOUND`] ago, the token
//! cache answers nothing, every lookup goes to the store, and a store that cannot be reached
//! gets a 503. So no node serves a token that was revoked more than 1 s earlier, even when it
//! cannot hear of the revocation.
//!
//! **Gaps.** Cleanup prunes entries older than its grace (at least 10 minutes). A node whose
//! cursor is behind the oldest entry kept (it was cut off longer than that) cannot know what it
//! missed, and clears its token and App caches; so does a node that finds the head behind its
//! cursor (the database was replaced).

use std::time::{Duration, Instant};

use roost_store::{Invalidated, InvalidationPage, StoreError};

use crate::state::AppState;

/// How long after the last complete read of the invalidation feed cached tokens are still
/// trusted: the bound within which a revocation anywhere is refused everywhere.
pub const STALENESS_BOUND: Duration = Duration::from_secs(1);

/// Entries read at once; a longer backlog is read page by page before the cache is trusted.
const PAGE: u32 = 1000;

/// What one read of the feed asks of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Catchup {
    /// Nothing new.
    UpToDate,
    /// These entries, in order; then the cursor moves to `cursor`. `complete`: the read reached
    /// the head, so the caches are current as of the read's start.
    Apply {
        entries: Vec<Invalidated>,
        cursor: i64,
        complete: bool,
    },
    /// Entries were pruned (or the feed went back): the node cannot tell what it missed, so
    /// nothing cached holds. The cursor moves to the head.
    ClearAll { cursor: i64 },
}

/// What a read of the feed means for a node whose cursor is `cursor` (`None`: it has not read
/// the feed yet, so it cannot know what happened before).
pub fn plan(cursor: Option<i64>, page: InvalidationPage) -> Catchup {
    let Some(cursor) = cursor else {
        return Catchup::ClearAll { cursor: page.head };
    };
    if page.head < cursor {
        return Catchup::ClearAll { cursor: page.head };
    }
    if page.entries.is_empty() {
        return if page.head == cursor {
            Catchup::UpToDate
        } else {
            // The head covers entries after the cursor that are no longer there.
            Catchup::ClearAll { cursor: page.head }
        };
    }
    let consecutive = page
        .entries
        .iter()
        .zip(cursor + 1..)
        .all(|(e, expected)| e.seq == expected);
    if !consecutive {
        return Catchup::ClearAll { cursor: page.head };
    }
    let last = page.entries.last().map_or(cursor, |e| e.seq);
    Catchup::Apply {
        entries: page.entries.into_iter().map(|e| e.what).collect(),
        cursor: last,
        complete: last >= page.head,
    }
}

/// Applies one entry to this node's caches.
fn apply(state: &AppState, what: Invalidated) {
    match what {
        Invalidated::AccessToken(hash) => state.tokens.forget(&hash),
        Invalidated::Grant(grant) => state.tokens.forget_grant(grant),
        Invalidated::AppTokens(app) => {
            state.tokens.forget_app_tokens(app);
            // The cached App carries the Bearer Token generation that app-only tokens are
            // minted with.
            state.apps.forget(app);
        }
        Invalidated::App(app) => {
            state.tokens.forget_app(app);
            state.apps.forget(app);
        }
        Invalidated::AppSettings(app) => state.apps.forget(app),
        Invalidated::User(user) => state.tokens.forget_user(user),
        Invalidated::Everything => forget_all(state),
    }
}

fn forget_all(state: &AppState) {
    state.tokens.clear();
    state.apps.clear();
}

/// A node's position in the feed.
#[derive(Debug, Default)]
pub struct Follower {
    cursor: Option<i64>,
}

impl Follower {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last seq applied, once the feed has been read.
    pub fn cursor(&self) -> Option<i64> {
        self.cursor
    }

    /// Reads the feed after the cursor and applies what it finds. `Ok(true)` when the read
    /// reached the head (the caches are then trusted again for [`STALENESS_BOUND`]);
    /// `Ok(false)` when more entries wait.
    pub async fn catch_up(&mut self, state: &AppState) -> Result<bool, StoreError> {
        let began = Instant::now();
        let page = state
            .store
            .invalidations_since(self.cursor.unwrap_or(i64::MAX), PAGE)
            .await?;
        let complete = match plan(self.cursor, page) {
            Catchup::UpToDate => true,
            Catchup::Apply {
                entries,
                cursor,
                complete,
            } => {
                tracing::debug!(
                    entries = entries.len(),
                    cursor,
                    "invalidations from the feed applied"
                );
                for what in entries {
                    apply(state, what);
                }
                self.cursor = Some(cursor);
                complete
            }
            Catchup::ClearAll { cursor } => {
                if self.cursor.is_some() {
                    tracing::warn!(
                        cursor = ?self.cursor,
                        head = cursor,
                        "invalidation entries this node had not read were pruned; every cached token and App is dropped"
                    );
                }
                forget_all(state);
                self.cursor = Some(cursor);
                true
            }
        };
        if complete {
            state.tokens.mark_caught_up(began);
        }
        Ok(complete)
    }
}

/// Reads the feed once (so that a node starts with a trusted cache) and then follows it in a
/// task of its own for as long as the process runs.
pub async fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    let mut follower = Follower::new();
    let mut failing = false;
    while let Ok(false) = follower.catch_up(&state).await {}
    let poll = Duration::from_millis(state.config.cluster.invalidation_poll_ms);
    tokio::spawn(async move {
        loop {
            match follower.catch_up(&state).await {
                Ok(true) => {
                    if failing {
                        tracing::info!("the invalidation feed can be read again");
                        failing = false;
                    }
                    state.store.wait_for_invalidation(poll).await;
                }
                Ok(false) => tokio::task::yield_now().await,
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the invalidation feed; cached tokens are not used until it can be read");
                        failing = true;
                    }
                    tokio::time::sleep(poll).await;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_domain::Snowflake;
    use roost_store::InvalidationEntry;

    fn grant(i: i64) -> Invalidated {
        Invalidated::Grant(Snowflake::from_i64(i).expect("an id"))
    }

    fn page(head: i64, seqs: &[i64]) -> InvalidationPage {
        InvalidationPage {
            head,
            entries: seqs
                .iter()
                .map(|&seq| InvalidationEntry {
                    seq,
                    what: grant(seq),
                })
                .collect(),
        }
    }

    #[test]
    fn a_node_that_has_not_read_the_feed_starts_from_the_head_with_nothing_cached() {
        assert_eq!(plan(None, page(7, &[])), Catchup::ClearAll { cursor: 7 });
        assert_eq!(plan(None, page(0, &[])), Catchup::ClearAll { cursor: 0 });
    }

    #[test]
    fn nothing_new_is_up_to_date() {
        assert_eq!(plan(Some(4), page(4, &[])), Catchup::UpToDate);
    }

    #[test]
    fn consecutive_entries_are_applied_in_order() {
        assert_eq!(
            plan(Some(4), page(6, &[5, 6])),
            Catchup::Apply {
                entries: vec![grant(5), grant(6)],
                cursor: 6,
                complete: true
            }
        );
    }

    #[test]
    fn a_page_short_of_the_head_is_applied_but_not_complete() {
        assert_eq!(
            plan(Some(0), page(9, &[1, 2, 3])),
            Catchup::Apply {
                entries: vec![grant(1), grant(2), grant(3)],
                cursor: 3,
                complete: false
            }
        );
    }

    #[test]
    fn entries_committed_after_the_head_was_read_count_as_read() {
        assert_eq!(
            plan(Some(2), page(3, &[3, 4])),
            Catchup::Apply {
                entries: vec![grant(3), grant(4)],
                cursor: 4,
                complete: true
            }
        );
    }

    #[test]
    fn pruned_entries_after_the_cursor_clear_everything() {
        // Some pruned: the first entry kept is past the next one expected.
        assert_eq!(
            plan(Some(2), page(9, &[6, 7, 8, 9])),
            Catchup::ClearAll { cursor: 9 }
        );
        // All pruned.
        assert_eq!(plan(Some(2), page(9, &[])), Catchup::ClearAll { cursor: 9 });
        // A hole inside a page (never written by a store; refused all the same).
        assert_eq!(
            plan(Some(2), page(5, &[3, 5])),
            Catchup::ClearAll { cursor: 5 }
        );
    }

    #[test]
    fn a_head_behind_the_cursor_means_another_database() {
        assert_eq!(plan(Some(9), page(3, &[])), Catchup::ClearAll { cursor: 3 });
    }
}
