//! Sandbox controls for testing X apps against roost: the manual clock, seeded ids, fault
//! injection (test-only, off by default) and the request inspector.
//!
//! Faults and the inspector are one middleware ([`layer`]) in front of the router: with no
//! fault rules a request pays one atomic load for them, and the inspector copies only what its
//! record holds, for requests the API attributed to an App.

pub mod cli;
pub mod faults;
pub mod inspector;

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roost_domain::Snowflake;
use serde::Deserialize;
use serde_json::json;

use crate::api::principal::{self, Principal};
use crate::state::AppState;
use faults::{Fault, FaultRule, Faults, Identity};
use inspector::{Attribution, Inspector, RequestRecord, RequiredScopes};

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Real time.
    #[default]
    System,
    /// Starts at the real time and then moves only when told to (test-only).
    Manual,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Whether the sandbox controls (token minting, auto-consent, the manual clock, reset and
    /// fault injection) are served at all (checklist L2). Default `false`: their admin routes
    /// are not routed and `serve` refuses the settings below that need them. Flag `--sandbox`
    /// (and `--demo`), env `ROOST_SANDBOX=1`.
    pub enabled: bool,
    /// `system` (default) or `manual` (test-only). Flag `--clock`, env `ROOST_CLOCK`.
    pub clock: ClockMode,
    /// Derive generated ids from the clock and this seed instead of a random worker id
    /// (test-only). Flag `--seed`, env `ROOST_SEED`.
    pub seed: Option<u64>,
    /// Fault rules in force from start-up (test-only). Default none.
    pub faults: Vec<FaultRule>,
    /// Requests kept per App by the request inspector; 0 turns it off. Default 200.
    pub inspector_requests: usize,
    /// Apps whose authorization requests are granted for a user without login or consent
    /// (test-only), set on the App when `serve` starts. Default none.
    pub auto_consent: Vec<AutoConsent>,
}

/// One `[[sandbox.auto_consent]]` entry: the App (by client id) and the user it signs in as.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AutoConsent {
    pub client_id: String,
    pub user: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            clock: ClockMode::System,
            seed: None,
            faults: Vec::new(),
            inspector_requests: 200,
            auto_consent: Vec::new(),
        }
    }
}

/// The sandbox's run-time state.
pub struct Sandbox {
    pub faults: Faults,
    pub inspector: Inspector,
}

impl Sandbox {
    pub fn new(cfg: &SandboxConfig) -> Self {
        Self {
            faults: Faults::new(&cfg.faults),
            inspector: Inspector::new(cfg.inspector_requests),
        }
    }
}

/// What the start-up log says, in one line, when the sandbox controls are on.
pub const CONTROLS_ON: &str =
    "sandbox controls are ON (test-only): token minting, auto-consent, manual clock, reset, faults";

impl SandboxConfig {
    /// The sandbox controls this configuration asks `serve` for, by the setting's name.
    fn controls_asked_for(&self) -> Vec<&'static str> {
        let mut asked = Vec::new();
        if self.clock == ClockMode::Manual {
            asked.push("the manual clock (`[sandbox] clock = \"manual\"`, --clock, ROOST_CLOCK)");
        }
        if !self.faults.is_empty() {
            asked.push("`[[sandbox.faults]]`");
        }
        if !self.auto_consent.is_empty() {
            asked.push("`[[sandbox.auto_consent]]`");
        }
        asked
    }

    /// Refuses a configuration that asks for sandbox controls while they are off: starting
    /// without what was asked for would leave a test suite failing for a reason it cannot see.
    pub fn check(&self) -> Result<(), crate::config::ConfigError> {
        match self.controls_asked_for().first() {
            Some(what) if !self.enabled => Err(crate::config::ConfigError::Invalid(format!(
                "{what} is a sandbox control, and the sandbox controls are off: set `[sandbox] enabled = true` (or --sandbox, ROOST_SANDBOX=1) on a server for tests"
            ))),
            _ => Ok(()),
        }
    }
}

/// The test-only settings that are on, for the start-up log.
pub fn test_only_settings(cfg: &SandboxConfig) -> Vec<String> {
    let mut on = Vec::new();
    if cfg.clock == ClockMode::Manual {
        on.push("clock = manual: time moves only when told to".to_owned());
    }
    if let Some(s) = cfg.seed {
        on.push(format!("seed = {s}: generated ids are predictable"));
    }
    if !cfg.faults.is_empty() {
        on.push(format!(
            "{} fault rule(s): matching requests get injected errors or delays",
            cfg.faults.len()
        ));
    }
    on
}

/// The snowflake worker id: random per process, or drawn from the seed.
pub fn worker_id(seed: Option<u64>) -> u16 {
    use rand::{Rng, SeedableRng};
    let mut b = [0u8; 2];
    match seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s).fill(&mut b),
        None => rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b),
    }
    u16::from_le_bytes(b) & 0x3ff
}

const OAUTH_PATHS: &[&str] = &[
    "/2/oauth2/token",
    "/2/oauth2/revoke",
    "/oauth2/token",
    "/oauth2/invalidate_token",
];

/// Fault injection and the request inspector, around the router.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let inspect = state.sandbox.inspector.enabled();
    // Read the clocks only for the inspector: most requests never need them.
    let started = inspect.then(|| (Instant::now(), state.now()));
    // Cheap: `Uri` and `Method` share their bytes.
    let uri = req.uri().clone();
    let method = req.method().clone();
    let mut injected = false;
    // The admin API stays reachable whatever the rules, so that they can always be cleared.
    let resp = if state.sandbox.faults.is_empty() || uri.path().starts_with("/admin/") {
        next.run(req).await
    } else {
        let (fault, who) = decide(&state, &method, uri.path(), req.headers()).await;
        match fault {
            None => next.run(req).await,
            Some(Fault::Delay(d)) => {
                tokio::time::sleep(d).await;
                next.run(req).await
            }
            Some(f) => {
                injected = true;
                tracing::info!(fault = ?f, "injected fault");
                let mut resp = fault_response(&state, f, &method, uri.path(), who.as_ref());
                if let Some(p) = &who {
                    resp.extensions_mut().insert(attribution(p, None));
                }
                resp
            }
        }
    };
    if let (Some((started, at_ms)), Some(a)) = (started, resp.extensions().get::<Attribution>()) {
        let record = RequestRecord {
            at_ms,
            method,
            path: inspector::redacted_target(&uri),
            status: resp.status().as_u16(),
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            user_id: a.user_id,
            scopes: a.scopes,
            required_scopes: resp.extensions().get::<RequiredScopes>().map(|r| r.0),
            rate_limit_bucket: a.bucket,
            injected_fault: injected,
        };
        state.sandbox.inspector.record(a.app_id, record);
    }
    resp
}

pub fn attribution(p: &Principal, bucket: Option<&'static str>) -> Attribution {
    match p {
        Principal::User {
            user_id,
            app_id,
            scopes,
        } => Attribution {
            app_id: *app_id,
            user_id: Some(*user_id),
            scopes: Some(*scopes),
            bucket,
        },
        Principal::App { app_id } => Attribution {
            app_id: *app_id,
            user_id: None,
            scopes: None,
            bucket,
        },
    }
}

/// Marks an OAuth endpoint's answer as the App's, once the client has authenticated.
pub fn attribute_client(mut resp: Response, app_id: Option<Snowflake>) -> Response {
    if let Some(app_id) = app_id {
        resp.extensions_mut().insert(Attribution {
            app_id,
            user_id: None,
            scopes: None,
            bucket: Some("oauth:client"),
        });
    }
    resp
}

/// The fault for a request, and the token's principal when one was resolved. Only rules that
/// name an App or user make this look at credentials.
async fn decide(
    state: &AppState,
    method: &Method,
    path: &str,
    headers: &axum::http::HeaderMap,
) -> (Option<Fault>, Option<Principal>) {
    let mut who = Identity::default();
    let mut principal = None;
    if state.sandbox.faults.needs_identity(method, path) {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(basic) = auth.and_then(|h| roost_domain::BasicCredentials::parse(h).ok()) {
            who.client_id = Some(basic.id);
        } else if let Ok(p) = principal::resolve(state, headers).await {
            if let Ok(Some(app)) = state.store.app_by_id(p.app_id()).await {
                who.client_id = Some(app.client_id.as_str().to_owned());
            }
            if let Principal::User { user_id, .. } = &p {
                who.username = state
                    .world
                    .read()
                    .user(*user_id)
                    .map(|u| u.record.username.as_str().to_owned());
            }
            principal = Some(p);
        }
    }
    let fault = state.sandbox.faults.decide(method, path, &who);
    if fault.is_some() && principal.is_none() {
        // For the 429's pool (an app-only token's limit is not a user's) and so that the
        // inspector can list the injected answer under its App.
        principal = principal::resolve(state, headers).await.ok();
    }
    (fault, principal)
}

/// The answer roost gives for a fault: the same bodies and headers its own rate limiter and
/// outage handling give, in X's form on the API and the OAuth form on the token endpoints.
fn fault_response(
    state: &AppState,
    fault: Fault,
    method: &Method,
    path: &str,
    who: Option<&Principal>,
) -> Response {
    let oauth = OAUTH_PATHS.contains(&path);
    let cfg = &state.config.rate_limits;
    let resp = match (fault, oauth) {
        (Fault::RateLimit, true) => crate::oauth::error::TokenError::TooManyRequests(
            i64::try_from(cfg.oauth_window).unwrap_or(i64::MAX),
        )
        .render(state.strict()),
        (Fault::RateLimit, false) => {
            let (limit, window_s) = match cfg.endpoint_for_path(method.as_str(), path) {
                Some((_, l)) => {
                    let n = match who {
                        Some(Principal::App { .. }) => l.app.or(l.user),
                        _ => l.user.or(l.app),
                    };
                    (n.unwrap_or(0), cfg.window)
                }
                None => (cfg.oauth_per_client, cfg.oauth_window),
            };
            let reset_ms = state.now() + crate::oauth::token::secs(window_s);
            let d = crate::ratelimit::Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_ms,
            };
            let mut r = crate::api::error::ApiError::TooManyRequests.into_response();
            crate::api::write_window(r.headers_mut(), "x-rate-limit", &d);
            r
        }
        (Fault::Unavailable, true) => crate::oauth::error::TokenError::Unavailable(
            roost_store::StoreError::Invalid("injected fault".into()),
        )
        .render(state.strict()),
        (Fault::Unavailable, false) => crate::api::error::ApiError::Unavailable(
            roost_store::StoreError::Invalid("injected fault".into()),
        )
        .into_response(),
        (Fault::InternalError, true) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(
                json!({"error": "server_error", "error_description": "Internal Server Error"}),
            ),
        )
            .into_response(),
        (Fault::InternalError, false) => {
            let mut r = (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"title": "Internal Server Error", "type": "about:blank", "status": 500, "detail": "Internal Server Error"}).to_string(),
            )
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            r
        }
        // Handled before: a delay is followed by normal handling.
        (Fault::Delay(_), _) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let mut resp = resp;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
