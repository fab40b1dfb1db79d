//! The content the API serves, held in memory.
//!
//! A database round trip per API request would cost several times the rest of the stack
//! (design/PERFORMANCE.md), so every read is served from this in-memory copy. Writes go to the
//! store first and are then applied here, under one lock that also guards reloads, so a client
//! always reads its own writes. Changes made by other processes (the admin CLI, `roost import`,
//! other nodes) are noticed through the store's content version, which every content write bumps;
//! a background task polls it and reloads when it moves.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use roost_domain::Snowflake;
use roost_store::{
    Content, FollowRecord, SpaceRecord, Store, StoreError, TopicRecord, TweetRecord, UserRecord,
};

/// One follow edge as a list holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub user: Snowflake,
    pub since: i64,
    pub pending: bool,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct TweetCounts {
    pub replies: i64,
    pub quotes: i64,
    pub retweets: i64,
}

#[derive(Debug, Default)]
pub struct World {
    pub version: i64,
    pub users: HashMap<Snowflake, Arc<UserRecord>>,
    by_username: HashMap<String, Snowflake>,
    pub tweets: HashMap<Snowflake, Arc<TweetRecord>>,
    /// Author → tweet ids, newest first.
    timelines: HashMap<Snowflake, Vec<Snowflake>>,
    counts: HashMap<Snowflake, TweetCounts>,
    /// Source → accounts it follows (or asked to), most recent first.
    following: HashMap<Snowflake, Vec<Edge>>,
    /// Target → accounts following it (or asking to), most recent first.
    followers: HashMap<Snowflake, Vec<Edge>>,
    pub spaces: HashMap<String, Arc<SpaceRecord>>,
    spaces_by_creator: HashMap<Snowflake, Vec<String>>,
    /// The built-in topic catalogue and the topics imports added.
    topics: HashMap<String, Arc<TopicRecord>>,
}

const EMPTY_IDS: &[Snowflake] = &[];
const EMPTY_EDGES: &[Edge] = &[];

impl World {
    pub fn from_content(c: Content) -> Self {
        let mut w = World {
            version: c.version,
            ..World::default()
        };
        // Imported topics may rename catalogue ones.
        for t in super::topics::catalogue().chain(c.topics) {
            w.topics.insert(t.id.clone(), Arc::new(t));
        }
        for u in c.users {
            w.put_user(u);
        }
        let mut tweets = c.tweets;
        tweets.sort_by_key(|t| t.id);
        for t in tweets {
            w.insert_tweet(t);
        }
        let mut follows = c.follows;
        follows.sort_by_key(|f| f.created_at);
        for f in follows {
            w.insert_follow(&f);
        }
        for s in c.spaces {
            w.put_space(s);
        }
        w
    }

    pub fn user(&self, id: Snowflake) -> Option<&Arc<UserRecord>> {
        self.users.get(&id)
    }

    pub fn user_by_username(&self, username: &str) -> Option<&Arc<UserRecord>> {
        self.by_username
            .get(&username.to_ascii_lowercase())
            .and_then(|id| self.users.get(id))
    }

    pub fn tweet(&self, id: Snowflake) -> Option<&Arc<TweetRecord>> {
        self.tweets.get(&id)
    }

    pub fn timeline(&self, author: Snowflake) -> &[Snowflake] {
        self.timelines.get(&author).map_or(EMPTY_IDS, Vec::as_slice)
    }

    pub fn counts(&self, tweet: Snowflake) -> TweetCounts {
        self.counts.get(&tweet).copied().unwrap_or_default()
    }

    pub fn following(&self, user: Snowflake) -> &[Edge] {
        self.following.get(&user).map_or(EMPTY_EDGES, Vec::as_slice)
    }

    pub fn followers(&self, user: Snowflake) -> &[Edge] {
        self.followers.get(&user).map_or(EMPTY_EDGES, Vec::as_slice)
    }

    pub fn follow_edge(&self, source: Snowflake, target: Snowflake) -> Option<Edge> {
        self.following(source)
            .iter()
            .find(|e| e.user == target)
            .copied()
    }

    pub fn topic(&self, id: &str) -> Option<&Arc<TopicRecord>> {
        self.topics.get(id)
    }

    pub fn space(&self, id: &str) -> Option<&Arc<SpaceRecord>> {
        self.spaces.get(id)
    }

    pub fn spaces_by_creator(&self, creator: Snowflake) -> impl Iterator<Item = &Arc<SpaceRecord>> {
        self.spaces_by_creator
            .get(&creator)
            .into_iter()
            .flatten()
            .filter_map(|id| self.spaces.get(id))
    }

    /// How many of a user's (accepted) followers are verified.
    pub fn verified_followers(&self, user: Snowflake) -> i64 {
        let n = self
            .followers(user)
            .iter()
            .filter(|e| !e.pending && self.user(e.user).is_some_and(|u| u.verified))
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// Followers, following and tweets counts of a user (pending requests do not count).
    pub fn user_counts(&self, user: Snowflake) -> (i64, i64, i64) {
        let accepted = |edges: &[Edge]| {
            i64::try_from(edges.iter().filter(|e| !e.pending).count()).unwrap_or(i64::MAX)
        };
        let tweets = i64::try_from(self.timeline(user).len()).unwrap_or(i64::MAX);
        (
            accepted(self.followers(user)),
            accepted(self.following(user)),
            tweets,
        )
    }

    pub fn put_user(&mut self, u: UserRecord) {
        if let Some(old) = self.users.get(&u.id) {
            self.by_username.remove(&old.username.canonical());
        }
        self.by_username.insert(u.username.canonical(), u.id);
        self.users.insert(u.id, Arc::new(u));
    }

    pub fn insert_tweet(&mut self, t: TweetRecord) {
        let tl = self.timelines.entry(t.author_id).or_default();
        // Newest first: ids are time-ordered snowflakes.
        if let Err(pos) = tl.binary_search_by(|probe| t.id.cmp(probe)) {
            tl.insert(pos, t.id);
        }
        self.adjust_counts(&t, 1);
        self.tweets.insert(t.id, Arc::new(t));
    }

    pub fn remove_tweet(&mut self, id: Snowflake) {
        let Some(t) = self.tweets.remove(&id) else {
            return;
        };
        if let Some(tl) = self.timelines.get_mut(&t.author_id) {
            tl.retain(|x| *x != id);
        }
        self.adjust_counts(&t, -1);
        if let Some(u) = self.users.get(&t.author_id)
            && u.pinned_tweet_id == Some(id)
        {
            let mut u = (**u).clone();
            u.pinned_tweet_id = None;
            self.put_user(u);
        }
    }

    fn adjust_counts(&mut self, t: &TweetRecord, by: i64) {
        if let Some(r) = t.replied_to_id {
            self.counts.entry(r).or_default().replies += by;
        }
        if let Some(q) = t.quoted_id {
            self.counts.entry(q).or_default().quotes += by;
        }
        if let Some(rt) = t.retweeted_id {
            self.counts.entry(rt).or_default().retweets += by;
        }
    }

    pub fn insert_follow(&mut self, f: &FollowRecord) {
        if self
            .follow_edge(f.source_user_id, f.target_user_id)
            .is_some()
        {
            return;
        }
        let out = Edge {
            user: f.target_user_id,
            since: f.created_at,
            pending: f.pending,
        };
        let inc = Edge {
            user: f.source_user_id,
            since: f.created_at,
            pending: f.pending,
        };
        self.following
            .entry(f.source_user_id)
            .or_default()
            .insert(0, out);
        self.followers
            .entry(f.target_user_id)
            .or_default()
            .insert(0, inc);
    }

    pub fn remove_follow(&mut self, source: Snowflake, target: Snowflake) {
        if let Some(v) = self.following.get_mut(&source) {
            v.retain(|e| e.user != target);
        }
        if let Some(v) = self.followers.get_mut(&target) {
            v.retain(|e| e.user != source);
        }
    }

    pub fn put_space(&mut self, s: SpaceRecord) {
        let ids = self.spaces_by_creator.entry(s.creator_id).or_default();
        if !ids.contains(&s.id) {
            ids.push(s.id.clone());
        }
        self.spaces.insert(s.id.clone(), Arc::new(s));
    }
}

/// The shared world and the lock that orders writes against reloads.
pub struct SharedWorld {
    world: RwLock<World>,
    writes: tokio::sync::Mutex<()>,
}

impl SharedWorld {
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        Ok(Self {
            world: RwLock::new(World::from_content(store.load_content().await?)),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// A read view. Hold it only while building one response.
    pub fn read(&self) -> RwLockReadGuard<'_, World> {
        // A poisoned lock means a writer panicked mid-update; the data is still the last
        // consistent state or close to it, and the next reload repairs it.
        self.world
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs a store write and then applies it in memory, with reloads held off in between.
    /// If the content version moved by exactly this write, the world takes the new version, so
    /// the poller does not reload for a change it already has.
    pub async fn write<T>(
        &self,
        store: &dyn Store,
        store_write: impl std::future::Future<Output = Result<T, StoreError>>,
        apply: impl FnOnce(&mut World, &T),
    ) -> Result<T, StoreError> {
        let _guard = self.writes.lock().await;
        let before = self.read().version;
        let out = store_write.await?;
        let after = store.content_version().await?;
        let mut w = self
            .world
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        apply(&mut w, &out);
        if after == before + 1 {
            w.version = after;
        }
        Ok(out)
    }

    /// Reloads everything if the store's content version has moved. Returns whether it did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let _guard = self.writes.lock().await;
        let version = store.content_version().await?;
        if version == self.read().version {
            return Ok(false);
        }
        let fresh = World::from_content(store.load_content().await?);
        *self
            .world
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(true)
    }
}

/// Reloads the world if another process changed the store's content, and then drops cached
/// tokens and Apps of users and Apps that are gone (deleted elsewhere: deletions bump the
/// content version). Returns whether anything was reloaded.
pub async fn sync(state: &crate::state::AppState) -> Result<bool, StoreError> {
    if !state.world.refresh(state.store.as_ref()).await? {
        return Ok(false);
    }
    let apps: std::collections::HashSet<Snowflake> =
        state.store.app_ids().await?.into_iter().collect();
    let world = state.world.read();
    state.tokens.retain(|p| {
        apps.contains(&p.app_id())
            && match p {
                crate::api::principal::Principal::User { user_id, .. } => {
                    world.user(*user_id).is_some()
                }
                crate::api::principal::Principal::App { .. } => true,
            }
    });
    drop(world);
    state.apps.retain(|id| apps.contains(&id));
    Ok(true)
}

/// Polls the store's content version and reloads the world when another process changed it.
pub fn spawn_poller(state: crate::state::AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = std::time::Duration::from_millis(state.config.content.poll_interval_ms);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sync(&state).await {
                Ok(true) => tracing::info!("content changed in the store; reloaded"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not check the content version"),
            }
        }
    })
}
