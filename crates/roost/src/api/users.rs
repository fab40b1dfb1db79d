//! Users: `/2/users/me`, `/2/users/:id`, `/2/users?ids=`, `/2/users/by/username/:username`,
//! `/2/users/by?usernames=`.

use axum::extract::State;
use axum::http::Uri;
use roost_domain::{RequestedId, Scope, Username};

use super::error::ApiError;
use super::path::PathParams;
use super::principal::Principal;
use super::query::Params;
use super::render::{Data, Envelope, Renderer, Selected};
use crate::state::AppState;

const READ: &[Scope] = &[Scope::TweetRead, Scope::UsersRead];

/// Reads the field and expansion parameters every user endpoint takes.
pub(super) fn user_selection(p: &mut Params) -> Selected {
    Selected {
        user: p.select("user.fields"),
        tweet: p.select("tweet.fields"),
        user_exp: p.select("expansions"),
        ..Selected::default()
    }
}

pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let me = principal.require_user(READ)?;
    let mut p = Params::new(&uri, &["expansions", "tweet.fields", "user.fields"]);
    let sel = user_selection(&mut p);
    p.finish()?;
    // A valid token names a user the store has; one created a moment ago by another process
    // may not have reached memory yet.
    if state.world.read().user(me).is_none() {
        state.world.refresh(state.store.as_ref()).await?;
    }
    let world = state.world.read();
    let user = world.user(me).cloned().ok_or(ApiError::Unauthorized {
        token_presented: true,
    })?;
    let mut r = Renderer::new(&world, principal.viewer(), sel);
    let data = r.user(&user);
    Ok(r.envelope(Some(data), None))
}

pub async fn by_id(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let raw = path.get("id");
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &["id", "expansions", "tweet.fields", "user.fields"]);
    let id = p.path_id("id", raw);
    let sel = user_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let found = id
        .and_then(|i| i.snowflake())
        .and_then(|i| world.user(i).cloned());
    let data = match found {
        Some(u) => Some(r.user(&u)),
        None => {
            // X echoes the id as sent (`007`).
            r.not_found("user", "id", raw);
            None
        }
    };
    Ok(r.envelope(data, None))
}

pub async fn by_ids(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &["ids", "expansions", "tweet.fields", "user.fields"]);
    let ids = p.list("ids", 100, |s| RequestedId::parse(s).ok());
    let sel = user_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let mut data = Vec::new();
    for id in ids {
        match id.snowflake().and_then(|i| world.user(i).cloned()) {
            Some(u) => data.push(r.user(&u)),
            None => r.not_found("user", "ids", id.as_str()),
        }
    }
    Ok(r.envelope((!data.is_empty()).then(|| Data::Many(data)), None))
}

pub async fn by_username(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let username = path.get("username");
    let viewer = principal.require(READ)?;
    let mut p = Params::new(
        &uri,
        &["username", "expansions", "tweet.fields", "user.fields"],
    );
    p.path(
        "username",
        username,
        Username::parse(username).is_ok(),
        || format!("The `username` query parameter value [{username}] does not match ^[A-Za-z0-9_]{{1,15}}$"),
    );
    let sel = user_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let data = match world.user_by_username(username).cloned() {
        Some(u) => Some(r.user(&u)),
        None => {
            r.not_found("user", "username", username);
            None
        }
    };
    Ok(r.envelope(data, None))
}

pub async fn by_usernames(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let viewer = principal.require(READ)?;
    let mut p = Params::new(
        &uri,
        &["usernames", "expansions", "tweet.fields", "user.fields"],
    );
    let names = p.list("usernames", 100, |s| Username::parse(s).ok());
    let sel = user_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let mut data = Vec::new();
    for name in names {
        match world.user_by_username(name.as_str()).cloned() {
            Some(u) => data.push(r.user(&u)),
            None => r.not_found("user", "usernames", name.as_str()),
        }
    }
    Ok(r.envelope((!data.is_empty()).then(|| Data::Many(data)), None))
}
