//! Who an API request acts as, from its `Authorization: Bearer` header.
//!
//! Only the header authenticates; a token in the query string or body never does (checklist
//! F1). The token is looked up by the digest of the whole string, never by anything decoded from
//! it (F7).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use roost_domain::{Scope, ScopeSet, Snowflake, TokenHash};

use super::error::ApiError;
use super::render::Viewer;
use crate::oauth::app_only;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub enum Principal {
    /// An OAuth 2.0 user access token.
    User {
        user_id: Snowflake,
        app_id: Snowflake,
        scopes: ScopeSet,
    },
    /// An app-only Bearer Token, or an app-context token from `client_credentials`.
    App { app_id: Snowflake },
}

impl Principal {
    /// For endpoints open to app-only tokens too: a user token must carry every scope in
    /// `required`; an app-only token may call.
    pub fn require(&self, required: &[Scope]) -> Result<Viewer, ApiError> {
        match self {
            Principal::App { .. } => Ok(Viewer::App),
            Principal::User { .. } => self.require_user(required).map(|_| self.viewer()),
        }
    }

    /// The App the token was issued to.
    pub fn app_id(&self) -> Snowflake {
        match self {
            Principal::User { app_id, .. } | Principal::App { app_id } => *app_id,
        }
    }

    pub fn viewer(&self) -> Viewer {
        match self {
            Principal::App { .. } => Viewer::App,
            Principal::User {
                user_id, scopes, ..
            } => Viewer::User {
                id: *user_id,
                email: scopes.contains(Scope::UsersEmail),
            },
        }
    }

    /// For user-context-only endpoints: the user, if the token has every scope in `required`.
    pub fn require_user(&self, required: &[Scope]) -> Result<Snowflake, ApiError> {
        match self {
            Principal::App { .. } => Err(ApiError::AppOnlyForbidden),
            Principal::User {
                user_id, scopes, ..
            } => {
                let required = ScopeSet::from_scopes(required);
                let missing = scopes.missing_from(required);
                if missing.is_empty() {
                    Ok(*user_id)
                } else {
                    Err(ApiError::MissingScopes { required, missing })
                }
            }
        }
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        let presented = headers.contains_key(AUTHORIZATION);
        return Err(ApiError::Unauthorized {
            token_presented: presented,
        });
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized {
        token_presented: true,
    })?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized {
        token_presented: true,
    })?;
    let token = token.trim();
    // `%` is allowed: X's app-only tokens contain literal `%2F` and `%3D` (compatibility
    // exception 8); the token is used verbatim.
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 512 {
        return Err(ApiError::Unauthorized {
            token_presented: true,
        });
    }
    Ok(token)
}

/// Resolves the bearer token of a request, from the token cache when it can.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = bearer(headers)?;
    let hash = TokenHash::of(token);
    let now = state.now();
    if let Some(p) = state.tokens.get(&hash, now) {
        return Ok(p);
    }
    // Taken before the store is asked: an invalidation applied while the lookup runs makes
    // its answer too old to cache.
    let epoch = state.tokens.epoch();
    let invalid = ApiError::Unauthorized {
        token_presented: true,
    };
    if app_only::looks_like_app_token(token) {
        let (app_id, generation) = app_only::verify(state, token).ok_or(invalid)?;
        let app = state.store.app_by_id(app_id).await?;
        return match app {
            Some(app) if app.bearer_generation == generation => {
                let p = Principal::App { app_id };
                state.tokens.put(
                    hash,
                    Cached {
                        principal: p.clone(),
                        expires_at: i64::MAX,
                        grant_id: None,
                    },
                    now,
                    epoch,
                );
                Ok(p)
            }
            _ => Err(ApiError::Unauthorized {
                token_presented: true,
            }),
        };
    }
    let record = state.store.access_token(hash).await?.ok_or(invalid)?;
    if record.revoked || now >= record.expires_at {
        return Err(ApiError::Unauthorized {
            token_presented: true,
        });
    }
    let p = match record.user_id {
        Some(user_id) => Principal::User {
            user_id,
            app_id: record.app_id,
            scopes: record.scopes,
        },
        None => Principal::App {
            app_id: record.app_id,
        },
    };
    state.tokens.put(
        hash,
        Cached {
            principal: p.clone(),
            expires_at: record.expires_at,
            grant_id: record.grant_id,
        },
        now,
        epoch,
    );
    Ok(p)
}

/// The principal the API gate resolved, or resolves it here for routes outside the gate.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        resolve(state, &parts.headers).await
    }
}

#[derive(Debug, Clone)]
pub struct Cached {
    pub principal: Principal,
    pub expires_at: i64,
    pub grant_id: Option<Snowflake>,
}

type Map = HashMap<TokenHash, Entry, foldhash::fast::RandomState>;

#[derive(Debug, Clone)]
struct Entry {
    cached: Cached,
    stored_at: i64,
}

/// Resolved bearer tokens, so a protected request costs no database round trip
/// (design/PERFORMANCE.md). Revocation, reuse detection and invalidation on this node remove
/// entries at once, and so do the ones on other nodes, through the invalidation feed
/// (`crate::cluster`); `max_age_ms` bounds how long an entry lives regardless.
///
/// An entry is trusted only while the feed is being read: if the last read that reached the
/// feed's head began more than [`crate::cluster::STALENESS_BOUND`] ago (the store is
/// unreachable, or no follower runs), every lookup goes to the store, which fails closed
/// (checklist J6).
pub struct TokenCache {
    /// Keyed by digests, which hash to themselves (see `TokenHash`); foldhash mixes the u64.
    map: RwLock<Map>,
    capacity: usize,
    max_age_ms: i64,
    /// Bumped (under the write lock) by every removal, so that a lookup that raced one does not
    /// put back what was just removed.
    epoch: AtomicU64,
    /// What `caught_up_at` counts from.
    origin: Instant,
    /// Milliseconds after `origin` (plus one; 0: never) at which the last read of the feed that
    /// reached its head began.
    caught_up_at: AtomicU64,
}

impl TokenCache {
    pub fn new(capacity: usize, max_age_ms: i64) -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
            capacity,
            max_age_ms,
            epoch: AtomicU64::new(0),
            origin: Instant::now(),
            caught_up_at: AtomicU64::new(0),
        }
    }

    pub fn get(&self, hash: &TokenHash, now: i64) -> Option<Principal> {
        if !self.is_trusted() {
            return None;
        }
        let map = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = map.get(hash)?;
        (now < e.cached.expires_at && now < e.stored_at + self.max_age_ms && now >= e.stored_at)
            .then(|| e.cached.principal.clone())
    }

    /// Whether the invalidation feed was read to its head recently enough for cached entries
    /// to be used (within [`crate::cluster::STALENESS_BOUND`]).
    pub fn is_trusted(&self) -> bool {
        let at = self.caught_up_at.load(Ordering::Acquire);
        if at == 0 {
            return false;
        }
        let bound = u64::try_from(crate::cluster::STALENESS_BOUND.as_millis()).unwrap_or(0);
        let elapsed = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        elapsed < (at - 1).saturating_add(bound)
    }

    /// Records that a read of the feed that began at `read_began` reached its head, and every
    /// entry it returned has been applied.
    pub fn mark_caught_up(&self, read_began: Instant) {
        let ms = read_began
            .saturating_duration_since(self.origin)
            .as_millis();
        let ms = u64::try_from(ms).unwrap_or(u64::MAX - 1) + 1;
        self.caught_up_at.fetch_max(ms, Ordering::AcqRel);
    }

    /// The removal count, to pass to `put` for a lookup that starts now.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Map> {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Removes under the write lock and moves the epoch, so no lookup begun before is stored.
    fn remove_where(&self, remove: impl FnOnce(&mut Map)) {
        let mut map = self.write();
        remove(&mut map);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn put(&self, hash: TokenHash, cached: Cached, now: i64, epoch: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.write();
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if map.len() >= self.capacity {
            // Crude but bounded: start over rather than track recency on every hit.
            map.clear();
        }
        map.insert(
            hash,
            Entry {
                cached,
                stored_at: now,
            },
        );
    }

    pub fn forget(&self, hash: &TokenHash) {
        self.remove_where(|m| {
            m.remove(hash);
        });
    }

    pub fn forget_grant(&self, grant_id: Snowflake) {
        self.remove_where(|m| m.retain(|_, e| e.cached.grant_id != Some(grant_id)));
    }

    /// Every token issued to an App: its users' tokens, app-only and app-context tokens.
    pub fn forget_app(&self, app_id: Snowflake) {
        self.retain(|p| p.app_id() != app_id);
    }

    /// Every token of a user, whichever App holds it.
    pub fn forget_user(&self, user_id: Snowflake) {
        self.retain(|p| !matches!(p, Principal::User { user_id: u, .. } if *u == user_id));
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.remove_where(HashMap::clear);
    }

    /// Keeps the tokens whose principal `keep` accepts.
    pub fn retain(&self, keep: impl Fn(&Principal) -> bool) {
        self.remove_where(|m| m.retain(|_, e| keep(&e.cached.principal)));
    }

    /// Every token of an App that is not tied to a grant (app-only and app-context tokens).
    pub fn forget_app_tokens(&self, app_id: Snowflake) {
        self.remove_where(|m| {
            m.retain(|_, e| {
                !(e.cached.grant_id.is_none()
                    && matches!(e.cached.principal, Principal::App { app_id: a } if a == app_id))
            })
        });
    }

    /// Entries held (tests, diagnostics).
    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cached(user: i64) -> Cached {
        Cached {
            principal: Principal::User {
                user_id: Snowflake::from_i64(user).expect("id"),
                app_id: Snowflake::from_i64(1).expect("id"),
                scopes: ScopeSet::default(),
            },
            expires_at: i64::MAX,
            grant_id: Some(Snowflake::from_i64(7).expect("id")),
        }
    }

    #[test]
    fn nothing_is_trusted_before_the_feed_was_read_or_long_after() {
        let cache = TokenCache::new(10, 60_000);
        let h = TokenHash::of("t");
        cache.put(h, cached(2), 0, cache.epoch());
        assert!(cache.get(&h, 1).is_none(), "no read of the feed yet");
        cache.mark_caught_up(Instant::now());
        assert!(cache.get(&h, 1).is_some());
        // A read that began longer ago than the bound does not make the cache trusted.
        let old = Instant::now()
            .checked_sub(crate::cluster::STALENESS_BOUND + Duration::from_millis(10))
            .expect("the machine has been up for more than a second");
        let stale = TokenCache {
            origin: old,
            ..TokenCache::new(10, 60_000)
        };
        stale.put(h, cached(2), 0, stale.epoch());
        stale.mark_caught_up(old);
        assert!(!stale.is_trusted());
        assert!(stale.get(&h, 1).is_none());
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let cache = TokenCache::new(10, 60_000);
        cache.mark_caught_up(Instant::now());
        let h = TokenHash::of("t");
        let seen = cache.epoch();
        // The feed drops the grant while the lookup is at the store.
        cache.forget_grant(Snowflake::from_i64(7).expect("id"));
        cache.put(h, cached(2), 0, seen);
        assert!(cache.get(&h, 1).is_none());
        cache.put(h, cached(2), 0, cache.epoch());
        assert!(cache.get(&h, 1).is_some());
    }
}
