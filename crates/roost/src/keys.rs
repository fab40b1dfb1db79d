//! The server's own keys, kept in the store so that every process on one database shares them
//! (checklist G7): one signs browser-side state (CSRF tokens, pending authorization requests),
//! one derives app-only Bearer Tokens, one derives the pair of a refresh rotation when a grace
//! window is configured.

use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use roost_domain::constant_time_eq;
use roost_store::{Store, StoreError};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct ServerKeys {
    web: [u8; 32],
    bearer: [u8; 32],
    rotation: [u8; 32],
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys([redacted])")
    }
}

impl ServerKeys {
    pub async fn load(store: &dyn Store, now: i64) -> Result<Self, StoreError> {
        Ok(Self {
            web: load_key(store, "web", now).await?,
            bearer: load_key(store, "app_bearer", now).await?,
            rotation: load_key(store, "refresh_rotation", now).await?,
        })
    }

    pub fn sign_web(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        mac(&self.web, purpose, data)
    }

    pub fn verify_web(&self, purpose: &str, data: &[u8], tag: &[u8]) -> bool {
        constant_time_eq(&self.sign_web(purpose, data), tag)
    }

    pub fn sign_bearer(&self, data: &[u8]) -> [u8; 32] {
        mac(&self.bearer, "app-bearer", data)
    }

    /// The key bytes of a token that a rotation of `presented` issues (`purpose` tells the
    /// access token from the refresh token). Keyed, so that a leaked, already rotated refresh
    /// token does not let anyone compute its successor.
    pub fn rotation_bytes(&self, purpose: &str, presented: &str) -> [u8; 32] {
        mac(&self.rotation, purpose, presented.as_bytes())
    }
}

fn mac(key: &[u8; 32], purpose: &str, data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps clippy's
    // expect_used rule without a panic path.
    let Ok(mut m) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    m.update(purpose.as_bytes());
    m.update(&[0]);
    m.update(data);
    m.finalize().into_bytes().into()
}

async fn load_key(store: &dyn Store, name: &str, now: i64) -> Result<[u8; 32], StoreError> {
    let mut candidate = [0u8; 32];
    OsRng.fill_bytes(&mut candidate);
    let stored = store.server_key(name, &candidate, now).await?;
    <[u8; 32]>::try_from(stored.as_slice())
        .map_err(|_| StoreError::Other(anyhow::anyhow!("server key {name} is not 32 bytes")))
}
