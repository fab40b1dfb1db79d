//! Who an API request acts as, from its `Authorization: Bearer` header.
//!
//! Only the header authenticates; a token in the query string or body never does (checklist
//! F1). The token is looked up by the digest of the whole string, never by anything decoded from
//! it (F7).

use axum::extract::FromRequestParts;
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
            Principal::User { .. } => self.require_user(required).map(Viewer::User),
        }
    }

    pub fn viewer(&self) -> Viewer {
        match self {
            Principal::App { .. } => Viewer::App,
            Principal::User { user_id, .. } => Viewer::User(*user_id),
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

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        let presented = parts.headers.contains_key(AUTHORIZATION);
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

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let invalid = ApiError::Unauthorized {
            token_presented: true,
        };
        if app_only::looks_like_app_token(token) {
            let (app_id, generation) = app_only::verify(state, token).ok_or(invalid)?;
            let app = state.store.app_by_id(app_id).await?;
            return match app {
                Some(app) if app.bearer_generation == generation => Ok(Principal::App { app_id }),
                _ => Err(ApiError::Unauthorized {
                    token_presented: true,
                }),
            };
        }
        let record = state
            .store
            .access_token(TokenHash::of(token))
            .await?
            .ok_or(invalid)?;
        if record.revoked || state.now() >= record.expires_at {
            return Err(ApiError::Unauthorized {
                token_presented: true,
            });
        }
        Ok(match record.user_id {
            Some(user_id) => Principal::User {
                user_id,
                app_id: record.app_id,
                scopes: record.scopes,
            },
            None => Principal::App {
                app_id: record.app_id,
            },
        })
    }
}
