//! A validated authorization request, carried through login and consent as a signed value.
//!
//! The request travels in a hidden form field, signed with the server's web key, bound to this
//! browser's cookie and to an expiry time; nothing of it comes from editable form fields
//! (checklist A13). Because anonymous `GET /i/oauth2/authorize` writes nothing to the store, a
//! flood of them cannot fill it (K4); only a request that reaches a decision is recorded, so each
//! is decided at most once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roost_domain::{
    CodeChallenge, CodeChallengeMethod, PkceMode, ScopeNames, Snowflake, TokenHash,
    constant_time_eq,
};
use serde::{Deserialize, Serialize};

use crate::keys::ServerKeys;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingRequest {
    /// App id.
    pub a: Snowflake,
    /// The registered redirect URI the request named.
    pub r: String,
    /// Scopes, space-separated, under the names the client used.
    pub s: ScopeNames,
    /// `state`.
    pub st: String,
    /// PKCE challenge and method.
    pub c: String,
    pub m: String,
    /// Binding to the browser cookie (hex of part of its digest).
    pub b: String,
    /// Expiry, Unix ms.
    pub e: i64,
    /// A random id: the request is decided at most once.
    pub j: String,
}

const PURPOSE: &str = "authorize-request";

impl PendingRequest {
    pub fn challenge(&self) -> Option<CodeChallenge> {
        let m = CodeChallengeMethod::from_stored(&self.m)?;
        CodeChallenge::parse(m, &self.c, PkceMode::X).ok()
    }

    pub fn seal(&self, keys: &ServerKeys) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let tag = keys.sign_web(PURPOSE, &json);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Opens a sealed request if its signature is valid, it is bound to `binding` and it has not
    /// expired.
    pub fn open(sealed: &str, keys: &ServerKeys, binding: &str, now: i64) -> Option<Self> {
        let (body, tag) = sealed.split_once('.')?;
        let json = URL_SAFE_NO_PAD.decode(body).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if !keys.verify_web(PURPOSE, &json, &tag) {
            return None;
        }
        let req: PendingRequest = serde_json::from_slice(&json).ok()?;
        (constant_time_eq(req.b.as_bytes(), binding.as_bytes()) && now < req.e).then_some(req)
    }

    /// The key under which the decision is recorded.
    pub fn decision_key(&self) -> TokenHash {
        TokenHash::of(&format!("{}:{}", self.a, self.j))
    }
}

/// The binding value for a browser cookie.
pub fn browser_binding(browser: &str) -> String {
    let h = TokenHash::of(browser);
    h.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
