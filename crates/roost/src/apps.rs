//! Apps looked up by client id or API key, briefly cached.
//!
//! Every token, revoke and app-only request authenticates an App; two queries each would be most
//! of such a request's cost. Entries live `ttl` (default 1 s, the bound the security checklist
//! sets for changes made by another node or process), and this server drops an App's entries at
//! once when it changes the App itself (app-only token invalidation). Unknown ids are not cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use roost_domain::Snowflake;
use roost_store::{AppRecord, Store, StoreError};

pub struct AppCache {
    map: RwLock<HashMap<String, (Arc<AppRecord>, i64), foldhash::fast::RandomState>>,
    ttl_ms: i64,
}

impl AppCache {
    pub fn new(ttl_ms: i64) -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
            ttl_ms,
        }
    }

    fn cached(&self, key: &str, now: i64) -> Option<Arc<AppRecord>> {
        let map = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (app, at) = map.get(key)?;
        (now >= *at && now < at + self.ttl_ms).then(|| app.clone())
    }

    fn remember(&self, key: String, app: &Arc<AppRecord>, now: i64) {
        if self.ttl_ms <= 0 {
            return;
        }
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Apps are few; the bound only guards against a flood of distinct keys.
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(key, (app.clone(), now));
    }

    pub async fn by_client_id(
        &self,
        store: &dyn Store,
        client_id: &str,
        now: i64,
    ) -> Result<Option<Arc<AppRecord>>, StoreError> {
        let key = format!("c:{client_id}");
        if let Some(app) = self.cached(&key, now) {
            return Ok(Some(app));
        }
        let app = store.app_by_client_id(client_id).await?.map(Arc::new);
        if let Some(a) = &app {
            self.remember(key, a, now);
        }
        Ok(app)
    }

    pub async fn by_api_key(
        &self,
        store: &dyn Store,
        api_key: &str,
        now: i64,
    ) -> Result<Option<Arc<AppRecord>>, StoreError> {
        let key = format!("k:{api_key}");
        if let Some(app) = self.cached(&key, now) {
            return Ok(Some(app));
        }
        let app = store.app_by_api_key(api_key).await?.map(Arc::new);
        if let Some(a) = &app {
            self.remember(key, a, now);
        }
        Ok(app)
    }

    /// Keeps the entries of the Apps `keep` accepts (by id).
    pub fn retain(&self, keep: impl Fn(Snowflake) -> bool) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, (a, _)| keep(a.id));
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Drops every entry of an App this server just changed.
    pub fn forget(&self, app_id: Snowflake) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, (a, _)| a.id != app_id);
    }
}
