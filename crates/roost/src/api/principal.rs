//! Who an API request acts as, from its `Authorization: Bearer` header.
//!
//! Only the header authenticates; a token in the query string or body never does (checklist
//! F1). The token is looked up by the digest of the whole string, never by anything decoded from
//! it (F7).

use std::collections::HashMap;
use std::sync::RwLock;

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

#[derive(Debug, Clone)]
struct Entry {
    cached: Cached,
    stored_at: i64,
}

/// Resolved bearer tokens, so a protected request costs no database round trip
/// (design/PERFORMANCE.md). Revocation, reuse detection and invalidation on this node remove
/// entries at once; `max_age_ms` bounds how long a change made elsewhere can go unseen.
pub struct TokenCache {
    /// Keyed by digests, which hash to themselves (see `TokenHash`); foldhash mixes the u64.
    map: RwLock<HashMap<TokenHash, Entry, foldhash::fast::RandomState>>,
    capacity: usize,
    max_age_ms: i64,
}

impl TokenCache {
    pub fn new(capacity: usize, max_age_ms: i64) -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
            capacity,
            max_age_ms,
        }
    }

    pub fn get(&self, hash: &TokenHash, now: i64) -> Option<Principal> {
        let map = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = map.get(hash)?;
        (now < e.cached.expires_at && now < e.stored_at + self.max_age_ms && now >= e.stored_at)
            .then(|| e.cached.principal.clone())
    }

    fn put(&self, hash: TokenHash, cached: Cached, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(hash);
    }

    pub fn forget_grant(&self, grant_id: Snowflake) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, e| e.cached.grant_id != Some(grant_id));
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
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Keeps the tokens whose principal `keep` accepts.
    pub fn retain(&self, keep: impl Fn(&Principal) -> bool) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, e| keep(&e.cached.principal));
    }

    /// Every token of an App that is not tied to a grant (app-only and app-context tokens).
    pub fn forget_app_tokens(&self, app_id: Snowflake) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, e| {
                !(e.cached.grant_id.is_none()
                    && matches!(e.cached.principal, Principal::App { app_id: a } if a == app_id))
            });
    }
}
