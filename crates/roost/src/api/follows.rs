//! Follows: the following and followers lists, follow and unfollow.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use roost_domain::{RequestedId, Scope, Snowflake};
use roost_store::FollowRecord;
use serde_json::{Value, json};

use super::error::ApiError;
use super::path::PathParams;
use super::principal::Principal;
use super::query::Params;
use super::render::{Data, Envelope, Meta, Renderer};
use super::tweets::{Body, body_problem, encode_token, json_body};
use super::users::user_selection;
use crate::content::world::Edge;
use crate::state::AppState;

const READ: &[Scope] = &[Scope::FollowsRead, Scope::TweetRead, Scope::UsersRead];
const WRITE: &[Scope] = &[Scope::FollowsWrite, Scope::TweetRead, Scope::UsersRead];

#[derive(Clone, Copy)]
enum Direction {
    Following,
    Followers,
}

pub async fn following(
    state: State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    list(state, principal, path, uri, Direction::Following).await
}

pub async fn followers(
    state: State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    list(state, principal, path, uri, Direction::Followers).await
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
    dir: Direction,
) -> Result<Envelope, ApiError> {
    let id = path.get("id");
    let viewer = principal.require(READ)?;
    let mut p = Params::new(
        &uri,
        &[
            "id",
            "expansions",
            "max_results",
            "pagination_token",
            "tweet.fields",
            "user.fields",
        ],
    );
    let user_id = p.path_id("id", id);
    let max = usize::try_from(p.int("max_results", 1..=1000, 100)).unwrap_or(100);
    let token = p.pagination_token();
    let sel = user_selection(&mut p);
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
    // A protected account's lists are for its approved followers (and itself).
    if !r.can_see_tweets_of(&user) {
        r.not_authorized("user", "id", id);
        return Ok(r.envelope(None::<Data>, None));
    }
    let edges: Vec<Edge> = match dir {
        Direction::Following => world.following(user.id),
        Direction::Followers => world.followers(user.id),
    }
    .iter()
    .filter(|e| !e.pending)
    .copied()
    .collect();
    // Tokens carry an offset into the list, newest first.
    let start = match token {
        Some(('n', offset)) => usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(edges.len()),
        Some((_, offset)) => usize::try_from(offset)
            .unwrap_or(0)
            .saturating_sub(max)
            .min(edges.len()),
        None => 0,
    };
    let end = (start + max).min(edges.len());
    let data: Vec<super::render::Obj> = edges[start..end]
        .iter()
        .filter_map(|e| world.user(e.user).cloned())
        .map(|u| r.user(&u))
        .collect();
    let meta = Meta {
        result_count: data.len(),
        next_token: (end < edges.len()).then(|| encode_token('n', i64::try_from(end).unwrap_or(0))),
        previous_token: (start > 0).then(|| encode_token('p', i64::try_from(start).unwrap_or(0))),
        ..Meta::default()
    };
    Ok(r.envelope((!data.is_empty()).then(|| Data::Many(data)), Some(meta)))
}

/// The token's user, when the path id `id` (X's name for it: `id` on follow, `source_user_id`
/// on unfollow) is that user. The query is checked first: these endpoints take only their path
/// parameters, which must not be repeated in the query string.
fn acting_user(
    mut p: Params,
    principal: &Principal,
    path: &[(&str, &str)],
) -> Result<Snowflake, ApiError> {
    let me = principal.require_user(WRITE)?;
    let ids: Vec<Option<RequestedId>> = path.iter().map(|(name, v)| p.path_id(name, v)).collect();
    p.finish()?;
    // A user token acts only as its own user (checklist F5).
    match ids.first().cloned().flatten().and_then(|i| i.snowflake()) {
        Some(id) if id == me => Ok(me),
        _ => Err(ApiError::Forbidden("Forbidden".into())),
    }
}

pub async fn follow(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let id = path.get("id");
    let p = Params::new(&uri, &["id"]);
    let me = acting_user(p, &principal, &[("id", id)])?;
    let body = json_body(&headers, &body)?;
    if let Some(k) = body.keys().find(|k| k.as_str() != "target_user_id") {
        return Err(body_problem(&format!(
            "$.{k}: is not defined in the schema and the schema does not allow additional properties"
        )));
    }
    let target = match body.get("target_user_id") {
        Some(Value::String(s)) => RequestedId::parse(s).map_err(|_| {
            body_problem(&format!(
                "$.target_user_id: string [{s}] does not match pattern ^[0-9]{{1,19}}$"
            ))
        })?,
        Some(_) => return Err(body_problem("$.target_user_id: must be a string")),
        None => {
            return Err(body_problem(
                "$.target_user_id: is missing but it is required",
            ));
        }
    };
    if target.snowflake() == Some(me) {
        return Err(ApiError::Forbidden("You cannot follow yourself.".into()));
    }
    let found = target
        .snowflake()
        .and_then(|t| state.world.read().user(t).map(|u| (u.id, u.protected)));
    let Some((target, protected)) = found else {
        return Err(body_problem(&format!(
            "$.target_user_id: no user has the id [{target}]"
        )));
    };
    let record = FollowRecord {
        source_user_id: me,
        target_user_id: target,
        created_at: state.now(),
        pending: protected,
    };
    let stored = state
        .world
        .write(state.store.as_ref(), state.store.follow(record), |w, f| {
            w.insert_follow(f)
        })
        .await?;
    tracing::info!(user_id = %me, target = %target, pending = stored.pending, "follow");
    Ok(Json(
        json!({"data": {"following": !stored.pending, "pending_follow": stored.pending}}),
    ))
}

pub async fn unfollow(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let (source, target) = (path.get("source_user_id"), path.get("target_user_id"));
    let p = Params::new(&uri, &["source_user_id", "target_user_id"]);
    let me = acting_user(
        p,
        &principal,
        &[("source_user_id", source), ("target_user_id", target)],
    )?;
    // A valid id beyond every id that can exist is followed by nobody.
    if let Some(target) = RequestedId::parse(target).ok().and_then(|t| t.snowflake()) {
        state
            .world
            .write(
                state.store.as_ref(),
                state.store.unfollow(me, target),
                move |w, removed| {
                    if *removed {
                        w.remove_follow(me, target);
                    }
                },
            )
            .await?;
    }
    Ok(Json(json!({"data": {"following": false}})))
}
