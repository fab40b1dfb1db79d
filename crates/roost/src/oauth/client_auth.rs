//! Who is calling the token and revoke endpoints.
//!
//! Credentials may come from the Basic header, the body or the query (`client_id` only), in any
//! combination real clients use; copies must agree (checklist C3). Confidential Apps must present
//! their secret; public Apps must not (C1). Unknown clients go through the same hashing and
//! constant-time comparison as known ones and get the same answer as a wrong secret (C4).

use roost_domain::{ClientType, TokenHash, constant_time_eq};
use std::sync::Arc;

use roost_store::AppRecord;

use super::error::TokenError;
use super::params::OAuthParams;
use crate::state::AppState;

const UNKNOWN_OR_WRONG: &str = "unknown client_id or wrong client secret";

fn agree<'a>(
    what: &str,
    a: Option<&'a str>,
    b: Option<&'a str>,
) -> Result<Option<&'a str>, TokenError> {
    match (a, b) {
        // Constant-time although both copies come from the client: one of them is a secret.
        (Some(x), Some(y)) if !constant_time_eq(x.as_bytes(), y.as_bytes()) => {
            Err(TokenError::InvalidClient(format!(
                "the {what} in the Authorization header and the one in the request parameters differ"
            )))
        }
        (x, y) => Ok(x.or(y)),
    }
}

pub async fn authenticate(
    state: &AppState,
    params: &OAuthParams,
) -> Result<Arc<AppRecord>, TokenError> {
    let basic = match &params.basic {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => {
            return Err(TokenError::InvalidClient(format!(
                "the Authorization header is not usable: {e}"
            )));
        }
    };
    // Empty means absent, in the header as in the parameters (checklist H5): `Basic id:` is a
    // public client's id without a secret, as `client_secret=` in a body is no secret.
    let non_empty = |s: &&str| !s.is_empty();
    let id = agree(
        "client_id",
        basic.map(|b| b.id.as_str()).filter(non_empty),
        params.get("client_id"),
    )?;
    let secret = agree(
        "client secret",
        basic.map(|b| b.secret.as_str()).filter(non_empty),
        params.get("client_secret"),
    )?;
    let Some(id) = id else {
        return Err(TokenError::InvalidClient(
            "no client credentials: send HTTP Basic client_id:client_secret (confidential Apps) or client_id (public Apps)".into(),
        ));
    };
    let app = state
        .apps
        .by_client_id(state.store.as_ref(), id, state.now())
        .await?;
    let presented = secret.map(TokenHash::of);
    let Some(app) = app else {
        // Same work as a wrong secret, then the same answer.
        let _ = presented
            .unwrap_or(TokenHash([0; 32]))
            .ct_eq(&TokenHash::of("roost-dummy-secret"));
        return Err(TokenError::InvalidClient(UNKNOWN_OR_WRONG.into()));
    };
    match (app.client_type, &app.client_secret_hash, presented) {
        (ClientType::Confidential, Some(stored), Some(p)) => {
            if p.ct_eq(stored) {
                Ok(app)
            } else {
                Err(TokenError::InvalidClient(UNKNOWN_OR_WRONG.into()))
            }
        }
        (ClientType::Confidential, _, None) => Err(TokenError::InvalidClient(format!(
            "App `{}` is confidential and must authenticate with its client secret (HTTP Basic client_id:client_secret)",
            app.client_id
        ))),
        (ClientType::Confidential, None, Some(_)) => {
            Err(TokenError::InvalidClient(UNKNOWN_OR_WRONG.into()))
        }
        (ClientType::Public, _, Some(_)) => Err(TokenError::InvalidClient(format!(
            "App `{}` is public and so cannot use a client secret; send only client_id",
            app.client_id
        ))),
        (ClientType::Public, _, None) => Ok(app),
    }
}
