//! The router, its middleware, and serving.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api::error::ApiError;
use crate::config::CorsConfig;
use crate::net::{ApiOrigin, client_addr};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest `x-request-id` a client may send (it is logged and echoed).
const MAX_REQUEST_ID_BYTES: usize = 128;

/// Request ids: a random prefix drawn once per process and a counter, so ids are unique across
/// nodes and restarts without a system call per request.
#[derive(Clone)]
struct RequestIds {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        Self {
            prefix: roost_domain::secret::random_alphanumeric(8).into(),
            next: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}{n:08x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// What one listener serves (checklist L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Everything, the admin API beside the rest: one listener (no `server.admin_addr`).
    All,
    /// Everything but the admin API, whose paths are unknown paths here like any other.
    Public,
    /// The admin API and the health checks only (`server.admin_addr`).
    Admin,
}

/// Everything on one listener: [`router_for`] with [`Surface::All`].
pub fn router(state: AppState) -> Router {
    router_for(state, Surface::All)
}

/// The routes of `surface`, behind the middleware every request passes.
pub fn router_for(state: AppState, surface: Surface) -> Router {
    let cfg = &state.config.server;
    // The API's own middleware is one gate (`api::gate`): authentication, rate limits, X's
    // headers.
    // roost's OpenAPI document sits beside the API, outside its gate (it is public, as X's is),
    // and shares its CORS.
    let mut api = crate::api::router(state.clone()).merge(crate::openapi::router(&state));
    if let Some(cors) = api_cors(&state.config.cors) {
        api = api.layer(cors);
    }
    let mut oauth_browser = crate::oauth::browser_router();
    if let Some(cors) = token_cors(&state.config.cors) {
        oauth_browser = oauth_browser.layer(cors);
    }
    let hsts = state.secure_cookies.then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            let client = MaybeAddr(req.extensions().get::<ClientAddr>().map(|c| c.0));
            // The query is never logged: it may carry codes and verifiers (checklist C10, G6).
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id, client_addr = %client, client_id = tracing::field::Empty)
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    let mut routes = Router::new();
    if surface != Surface::Admin {
        routes = routes
            .merge(oauth_browser)
            .merge(crate::oauth::router())
            .merge(crate::web::router())
            .merge(api);
    }
    if surface != Surface::Public {
        routes = routes.nest("/admin/v1", crate::admin::router(state.clone()));
    }
    let routes = routes
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(state.clone());
    // The middleware every request passes wraps the router once, as one tower stack, instead of
    // through `Router::layer`, which wraps every route separately: there, each layer boxed and
    // cloned its inner service on every request (a hundred allocations per request, perf).
    let stack = ServiceBuilder::new()
        // Outermost, so that the request span can name the client.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            attribute_client,
        ))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::new()))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .option_layer(hsts)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Outside the limits and the timeout, so that their answers (413, 414, 408) and the
        // router's 405 carry it too (checklist C7).
        .layer(middleware::from_fn_with_state(
            surface != Surface::Public,
            oauth_no_store,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(cfg.request_timeout),
        ))
        // The layers below change the body types; the ones above want axum's.
        .map_response(IntoResponse::into_response)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            cfg.max_body_bytes,
        ))
        .map_request(
            |req: Request<tower_http::body::Limited<axum::body::Body>>| {
                req.map(axum::body::Body::new)
            },
        )
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), limit_uri))
        // Innermost: injected faults are answered (or delays waited) only for requests the
        // limits let through, and the inspector sees what the handlers answered.
        .layer(middleware::from_fn_with_state(state, crate::sandbox::layer))
        .service(routes);
    Router::new().fallback_service(stack)
}

/// The address a request is attributed to: the TCP peer, or the client behind a trusted proxy
/// (checklist I7). Decided once per request, by `attribute_client`; login throttling, the OAuth
/// rate limits and the log all take it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        // Absent only when the router is served without connection info, which `serve` never
        // does: a programming error, not something a request can cause.
        parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .ok_or_else(|| {
                tracing::error!("no client address: the router must be served by http::serve");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            })
    }
}

struct MaybeAddr(Option<IpAddr>);

impl std::fmt::Display for MaybeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(a) => a.fmt(f),
            None => f.write_str("-"),
        }
    }
}

async fn attribute_client(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let cfg = &state.config.server;
        let addr = client_addr(
            &cfg.trusted_proxies,
            cfg.forwarded_header,
            peer.ip(),
            req.headers(),
        );
        req.extensions_mut().insert(ClientAddr(addr));
    }
    next.run(req).await
}

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// CORS for the token and revoke endpoints and the metadata (checklist I4): only the listed
/// origins, each echoed exactly (with `Vary: Origin`), never `*`, never credentials: these
/// endpoints take no cookies. None configured: no CORS headers at all.
fn token_cors(cfg: &CorsConfig) -> Option<CorsLayer> {
    if cfg.token_origins.is_empty() {
        return None;
    }
    let origins = cfg
        .token_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.as_str()).ok());
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([REQUEST_ID, header::RETRY_AFTER])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

/// CORS for the X API v2: the listed origins or any (`*`), without credentials: the API
/// authenticates by bearer header only. Browsers get to read X's rate-limit headers.
fn api_cors(cfg: &CorsConfig) -> Option<CorsLayer> {
    let allow = match cfg.api_origins.as_slice() {
        [] => return None,
        [ApiOrigin::Any] => AllowOrigin::any(),
        list => AllowOrigin::list(list.iter().filter_map(|o| match o {
            ApiOrigin::Exact(o) => HeaderValue::from_str(o.as_str()).ok(),
            // Config validation keeps `*` alone in the list.
            ApiOrigin::Any => None,
        })),
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([
                HeaderName::from_static("x-rate-limit-limit"),
                HeaderName::from_static("x-rate-limit-remaining"),
                HeaderName::from_static("x-rate-limit-reset"),
                REQUEST_ID,
            ])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

/// Request targets and header sections over their configured sizes are refused before any
/// handler runs (checklist H2).
async fn limit_uri(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > state.config.server.max_uri_bytes {
        return StatusCode::URI_TOO_LONG.into_response();
    }
    // Each header line as sent: name, ": ", value, CRLF. The request id is left out: when the
    // client sent none, the outer layer has added one of its own by now. A client's own id is
    // held to a short length instead.
    let mut headers = 0;
    for (k, v) in req.headers() {
        if *k == REQUEST_ID {
            if v.len() > MAX_REQUEST_ID_BYTES {
                return StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
            }
        } else {
            headers += k.as_str().len() + v.len() + 4;
        }
    }
    if headers > state.config.server.max_header_bytes {
        return StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
    }
    next.run(req).await
}

/// Every response of the token, revoke and app-only endpoints is uncacheable (checklist C7),
/// including the ones produced before a handler runs; so is every admin API answer (they carry
/// secrets and tokens), where the listener serves the admin API: elsewhere its paths get
/// exactly the 404 of any unknown path.
async fn oauth_no_store(State(admin_served): State<bool>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let oauth = matches!(
        path,
        "/2/oauth2/token" | "/2/oauth2/revoke" | "/oauth2/token" | "/oauth2/invalidate_token"
    ) || (admin_served && (path == "/admin/v1" || path.starts_with("/admin/v1/")));
    let resp = next.run(req).await;
    if oauth {
        crate::oauth::error::no_store(resp)
    } else {
        resp
    }
}

async fn not_found() -> Response {
    ApiError::RouteNotFound.into_response()
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Serves HTTP/1.1 until `shutdown` resolves, then finishes the requests in flight.
///
/// hyper's header-read timeout needs a timer, which `axum::serve` does not set, so connections
/// are served here (checklist H2, K5): a client that has not sent a whole request head within
/// `header_read_timeout` of the connection being ready for one is disconnected, however slowly
/// it trickles bytes. Each request carries the TCP peer as `ConnectInfo`, as `axum::serve` did.
pub async fn serve(
    router: Router,
    listener: tokio::net::TcpListener,
    header_read_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Timeouts, resets and malformed requests end here; none is the server's failure.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A failed `accept`. A connection that died in the backlog is the client's business; running
/// out of file descriptors is not, and retrying at once would spin, so that waits a moment.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
