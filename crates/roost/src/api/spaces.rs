//! Spaces: lookup by id(s), by creators, search, and the Spaces of the accounts a user follows.

use std::sync::Arc;

use axum::extract::State;
use axum::http::Uri;
use roost_domain::{RequestedId, Scope, Snowflake};
use roost_store::SpaceRecord;

use super::error::ApiError;
use super::path::PathParams;
use super::principal::Principal;
use super::query::Params;
use super::render::{Data, Envelope, Renderer, Selected};
use crate::state::AppState;

const READ: &[Scope] = &[Scope::SpaceRead, Scope::TweetRead, Scope::UsersRead];
const FIELD_PARAMS: &[&str] = &["expansions", "space.fields", "topic.fields", "user.fields"];

fn space_selection(p: &mut Params) -> Selected {
    Selected {
        space: p.select("space.fields"),
        topic: p.select("topic.fields"),
        user: p.select("user.fields"),
        space_exp: p.select("expansions"),
        ..Selected::default()
    }
}

fn params(first: &[&'static str]) -> Vec<&'static str> {
    first.iter().chain(FIELD_PARAMS).copied().collect()
}

/// X's Space ids: `^[a-zA-Z0-9]{1,13}$`.
fn valid_space_id(s: &str) -> bool {
    (1..=13).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn upcoming(s: &SpaceRecord) -> bool {
    s.state == "live" || s.state == "scheduled"
}

pub async fn by_id(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let id = path.get("id");
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &params(&["id"]));
    // The shared path-parameter check: the same name in the query string too is a duplicate.
    p.path("id", id, valid_space_id(id), || {
        format!("The `id` query parameter value [{id}] is not valid")
    });
    let sel = space_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let data = match world.space(id).cloned() {
        Some(s) => Some(r.space(&s)),
        None => {
            r.not_found("space", "id", id);
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
    let mut p = Params::new(&uri, &params(&["ids"]));
    let ids = p.list("ids", 100, |s| valid_space_id(s).then(|| s.to_owned()));
    let sel = space_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let mut data = Vec::new();
    for id in ids {
        match world.space(&id).cloned() {
            Some(s) => data.push(r.space(&s)),
            None => r.not_found("space", "ids", &id),
        }
    }
    Ok(r.envelope((!data.is_empty()).then(|| Data::Many(data)), None))
}

fn list_response(mut r: Renderer<'_>, spaces: Vec<Arc<SpaceRecord>>) -> Envelope {
    let data: Vec<super::render::Obj> = spaces.iter().map(|s| r.space(s)).collect();
    let meta = super::render::Meta {
        result_count: data.len(),
        ..Default::default()
    };
    r.envelope((!data.is_empty()).then(|| Data::Many(data)), Some(meta))
}

pub async fn by_creator_ids(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &params(&["user_ids"]));
    let ids = p.list("user_ids", 100, |s| RequestedId::parse(s).ok());
    let sel = space_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let spaces: Vec<Arc<SpaceRecord>> = ids
        .iter()
        .filter_map(RequestedId::snowflake)
        .flat_map(|id| world.spaces_by_creator(id))
        .filter(|s| upcoming(s))
        .cloned()
        .collect();
    Ok(list_response(Renderer::new(&world, viewer, sel), spaces))
}

pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &params(&["query", "max_results", "state"]));
    let query = match p.raw("query").map(str::to_owned) {
        Some(q) if (1..=2048).contains(&q.chars().count()) => q,
        Some(q) => {
            p.invalid(
                "query",
                &q,
                "The `query` query parameter must be 1 to 2048 characters".into(),
            );
            String::new()
        }
        None => {
            p.invalid(
                "query",
                "",
                "The query query parameter can not be empty".into(),
            );
            String::new()
        }
    };
    let wanted = p
        .word("state", &["live", "scheduled", "all"])
        .unwrap_or("all");
    let max = usize::try_from(p.int("max_results", 1..=100, 100)).unwrap_or(100);
    let sel = space_selection(&mut p);
    p.finish()?;
    let needle = query.to_lowercase();
    let world = state.world.read();
    let mut spaces: Vec<Arc<SpaceRecord>> = world
        .spaces
        .values()
        .filter(|s| upcoming(s) && (wanted == "all" || s.state == wanted))
        .filter(|s| {
            s.title
                .as_deref()
                .is_some_and(|t| t.to_lowercase().contains(&needle))
        })
        .cloned()
        .collect();
    spaces.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    spaces.truncate(max);
    Ok(list_response(Renderer::new(&world, viewer, sel), spaces))
}

/// `GET /2/users/:id/following/spaces`: live and scheduled Spaces created or hosted by the
/// accounts the user follows. Only X's 2021 beta documented it; roost serves it with the shape
/// of the other Spaces lists.
pub async fn of_following(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let id = path.get("id");
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &params(&["id"]));
    let user_id = p.path_id("id", id);
    let sel = space_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let Some(user) = user_id
        .and_then(|i| i.snowflake())
        .and_then(|i| world.user(i).cloned())
    else {
        r.not_found("user", "id", id);
        return Ok(r.envelope(None::<Data>, None));
    };
    // Whom a protected account follows is for its approved followers (as its following list
    // is): the Spaces of its followings would tell it.
    if !r.can_see_tweets_of(&user) {
        r.not_authorized("user", "id", id);
        return Ok(r.envelope(None::<Data>, None));
    }
    let followed: std::collections::HashSet<Snowflake> = world
        .following(user.id)
        .iter()
        .filter(|e| !e.pending)
        .map(|e| e.user)
        .collect();
    let mut spaces: Vec<Arc<SpaceRecord>> = world
        .spaces
        .values()
        .filter(|s| {
            upcoming(s)
                && (followed.contains(&s.creator_id)
                    || s.host_ids.iter().any(|h| followed.contains(h)))
        })
        .cloned()
        .collect();
    spaces.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(list_response(r, spaces))
}
