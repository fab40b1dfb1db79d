//! `GET /.well-known/oauth-authorization-server` (RFC 8414): exactly what roost enforces.

use axum::Json;
use axum::extract::State;
use roost_domain::Scope;
use serde_json::{Value, json};

use crate::state::AppState;

pub fn document(state: &AppState) -> Value {
    let methods: &[&str] = if state.strict() {
        &["S256"]
    } else {
        &["S256", "plain"]
    };
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    json!({
        "issuer": state.public_url,
        "authorization_endpoint": state.url("/i/oauth2/authorize"),
        "token_endpoint": state.url("/2/oauth2/token"),
        "revocation_endpoint": state.url("/2/oauth2/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": methods,
        "scopes_supported": scopes,
    })
}

pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state))
}
