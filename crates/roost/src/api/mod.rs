//! The X API v2 endpoints.

pub mod error;
pub mod follows;
pub mod path;
pub mod principal;
pub mod query;
pub mod render;
pub mod spaces;
pub mod tweets;
pub mod users;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::ratelimit::{Check, Decision, Key};
use crate::state::AppState;

/// Every API route passes this gate: it authenticates the bearer token once (handlers take the
/// resulting `Principal`), then counts the request against X's per-endpoint windows for the user
/// (user tokens) or the App (app-only tokens), and writes the `x-rate-limit-*` headers on every
/// answer after authentication, 429s and 403s included (client quirk 17). Unauthenticated
/// requests get 401 without rate-limit headers, as on X.
async fn gate(
    State(state): State<AppState>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    x_wire(authenticate_and_count(&state, matched.as_str(), req, next).await)
}

async fn authenticate_and_count(
    state: &AppState,
    route: &str,
    mut req: Request,
    next: Next,
) -> Response {
    let principal = match principal::resolve(state, req.headers()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let endpoint = state
        .config
        .rate_limits
        .endpoint_of(req.method().as_str(), route);
    req.extensions_mut().insert(principal.clone());
    let (limit, refused) = match endpoint {
        Some((scope, limit)) => (Some((scope, limit)), kind_refused(&limit, &principal)),
        None => (None, None),
    };
    let windows = match limit {
        Some((scope, l)) => match count(state, scope, &l, &principal).await {
            Ok(w) => w,
            // The shared counters cannot be reached: refused, as when the store cannot be.
            Err(e) => return error::ApiError::Unavailable(e.into()).into_response(),
        },
        None => None,
    };
    let attribution = crate::sandbox::attribution(&principal, endpoint.map(|e| e.0));
    let mut resp = if let Some(w) = &windows
        && !w.allowed()
    {
        tracing::info!(
            endpoint = endpoint.map_or("-", |e| e.0),
            "rate limit reached"
        );
        w.headers(error::ApiError::TooManyRequests.into_response())
    } else {
        let resp = match refused {
            // The configuration gives this kind of token no pool on the endpoint.
            Some(e) => e.into_response(),
            None => next.run(req).await,
        };
        match &windows {
            Some(w) => w.headers(resp),
            None => resp,
        }
    };
    // For the request inspector; skipped when it is off, as the first extension allocates.
    if state.sandbox.inspector.enabled() {
        resp.extensions_mut().insert(attribution);
    }
    resp
}

/// The refusal for a kind of token the endpoint's limits leave out ("leaving `app` out refuses
/// app-only tokens").
fn kind_refused(
    limit: &crate::config::EndpointLimit,
    principal: &principal::Principal,
) -> Option<error::ApiError> {
    match principal {
        principal::Principal::App { .. } if limit.app.is_none() => {
            Some(error::ApiError::AppOnlyForbidden)
        }
        principal::Principal::User { .. } if limit.user.is_none() => {
            Some(error::ApiError::UserContextForbidden)
        }
        _ => None,
    }
}

/// The windows one request was counted in.
struct Windows {
    /// The endpoint's window for this pool: `x-rate-limit-*`.
    main: Decision,
    /// One request per second and pool, where X has it.
    per_second: Option<Decision>,
    /// The App's 24 hours, where X has them: `x-app-limit-24hour-*`.
    app_day: Option<Decision>,
}

impl Windows {
    fn allowed(&self) -> bool {
        self.main.allowed
            && self.per_second.is_none_or(|d| d.allowed)
            && self.app_day.is_none_or(|d| d.allowed)
    }

    /// X's headers. `x-rate-limit-*` describe the endpoint's window, unless the per-second
    /// window refused the request: then they describe that one, so a client that sleeps until
    /// `x-rate-limit-reset` waits a second, not the rest of the quarter hour. A spent day shows
    /// in `x-app-limit-24hour-*`, as X reports its post cap.
    fn headers(&self, mut resp: Response) -> Response {
        let binding = match self.per_second {
            Some(d) if !d.allowed => d,
            _ => self.main,
        };
        let h = resp.headers_mut();
        write_window(h, "x-rate-limit", &binding);
        if let Some(d) = &self.app_day {
            write_window(h, "x-app-limit-24hour", d);
        }
        resp
    }
}

pub(crate) fn write_window(h: &mut HeaderMap, prefix: &str, d: &Decision) {
    for (name, value) in [
        ("limit", d.limit.to_string()),
        ("remaining", d.remaining.to_string()),
        ("reset", d.reset_secs().to_string()),
    ] {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::try_from(format!("{prefix}-{name}")),
            HeaderValue::from_str(&value),
        ) {
            h.insert(n, v);
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// Counts the request in its pool's windows. A kind of token the endpoint has no pool for
/// (an app-only token on a user-context endpoint) is counted per App against the endpoint's
/// other number, so that its refusal carries the headers too.
async fn count(
    state: &AppState,
    scope: &'static str,
    limit: &crate::config::EndpointLimit,
    principal: &principal::Principal,
) -> Result<Option<Windows>, crate::ratelimit::LimitError> {
    match principal {
        principal::Principal::User {
            user_id, app_id, ..
        } => state
            .usage
            .record(*app_id, Some(*user_id), scope, state.now()),
        principal::Principal::App { app_id } => {
            state.usage.record(*app_id, None, scope, state.now())
        }
    }
    let cfg = &state.config.rate_limits;
    if !cfg.enabled {
        return Ok(None);
    }
    let (own, other, subject, app_id) = match principal {
        principal::Principal::User {
            user_id, app_id, ..
        } => (
            limit.user,
            limit.app,
            format!("u{user_id}:a{app_id}"),
            *app_id,
        ),
        principal::Principal::App { app_id } => {
            (limit.app, limit.user, format!("a{app_id}"), *app_id)
        }
    };
    let Some(n) = own.or(other) else {
        return Ok(None);
    };
    // A refused kind of token is counted in its pool only, not in the secondary windows of the
    // requests the endpoint serves.
    let (per_second, app_24h) = match own {
        Some(_) => (limit.per_second, limit.app_24h),
        None => (None, None),
    };
    let mut checks = vec![Check {
        key: Key {
            scope,
            subject: subject.clone(),
        },
        limit: n,
        window_ms: crate::oauth::token::secs(cfg.window),
    }];
    if let Some(n) = per_second {
        checks.push(Check {
            key: Key {
                scope,
                subject: format!("1s:{subject}"),
            },
            limit: n,
            window_ms: 1000,
        });
    }
    if let Some(n) = app_24h {
        checks.push(Check {
            key: Key {
                scope,
                subject: format!("24h:a{app_id}"),
            },
            limit: n,
            window_ms: DAY_MS,
        });
    }
    let mut d = state
        .limits
        .check_all(&checks, state.now())
        .await?
        .into_iter();
    let Some(main) = d.next() else {
        return Ok(None);
    };
    Ok(Some(Windows {
        main,
        per_second: per_second.and_then(|_| d.next()),
        app_day: app_24h.and_then(|_| d.next()),
    }))
}

/// X's wire on every API answer: never cached (the answers are per token), JSON bodies are
/// `application/json; charset=utf-8` (x-api-v2.md, header line of the document; problem bodies
/// keep `application/problem+json`), and a method the path does not take is a problem object
/// with `Allow`, not an empty 405.
fn x_wire(resp: Response) -> Response {
    let mut resp = if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = resp.headers().get(header::ALLOW).cloned();
        let mut r = error::ApiError::MethodNotAllowed.into_response();
        if let Some(a) = allow {
            r.headers_mut().insert(header::ALLOW, a);
        }
        r
    } else {
        resp
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if h.get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json")
    {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    resp
}

/// A method an API route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// One route of the X API v2: a method on a path template in the syntax axum and OpenAPI share
/// (`/2/users/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub path: &'static str,
    pub verb: Verb,
}

fn at<H, T>(verb: Verb, path: &'static str, handler: H) -> (Route, MethodRouter<AppState>)
where
    H: Handler<T, AppState>,
    T: 'static,
{
    (Route { path, verb }, on(verb.filter(), handler))
}

/// Every API route with its handler. The router is built from this table, and roost's OpenAPI
/// document is checked against it (tests/api/openapi_roost.rs), so the two cannot drift.
fn table() -> Vec<(Route, MethodRouter<AppState>)> {
    use Verb::{Delete, Get, Post};
    vec![
        at(Get, "/2/users/me", users::me),
        at(Get, "/2/users", users::by_ids),
        at(Get, "/2/users/by", users::by_usernames),
        at(Get, "/2/users/by/username/{username}", users::by_username),
        at(Get, "/2/users/{id}", users::by_id),
        at(Get, "/2/users/{id}/tweets", tweets::timeline),
        at(Get, "/2/users/{id}/following", follows::following),
        at(Post, "/2/users/{id}/following", follows::follow),
        at(Get, "/2/users/{id}/followers", follows::followers),
        at(Get, "/2/users/{id}/following/spaces", spaces::of_following),
        at(
            Delete,
            "/2/users/{source_user_id}/following/{target_user_id}",
            follows::unfollow,
        ),
        at(Get, "/2/tweets", tweets::by_ids),
        at(Post, "/2/tweets", tweets::create),
        at(Get, "/2/tweets/{id}", tweets::by_id),
        at(Delete, "/2/tweets/{id}", tweets::delete),
        at(Get, "/2/spaces", spaces::by_ids),
        at(Get, "/2/spaces/search", spaces::search),
        at(Get, "/2/spaces/by/creator_ids", spaces::by_creator_ids),
        at(Get, "/2/spaces/{id}", spaces::by_id),
    ]
}

/// The API's routes, in the table's order.
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(r, _)| r).collect()
}

pub fn router(state: AppState) -> Router<AppState> {
    table()
        .into_iter()
        // Two methods on one path are merged into one method router by axum.
        .fold(Router::new(), |r, (route, handler)| {
            r.route(route.path, handler)
        })
        .route_layer(middleware::from_fn_with_state(state, gate))
}
