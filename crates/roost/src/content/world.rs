//! The content the API serves, held in memory.
//!
//! A database round trip per API request would cost several times the rest of the stack
//! (design/PERFORMANCE.md), so every read is served from this in-memory copy. Writes go to the
//! store first and are then applied here, under one lock that also guards reloads, so a client
//! always reads its own writes. Changes made by other processes (the admin CLI, `roost import`,
//! other nodes) are noticed through the store's content version, which every content write bumps;
//! a background task polls it and reloads when it moves.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use roost_domain::Snowflake;
use roost_store::{
    Content, FollowRecord, SpaceRecord, Store, StoreError, TopicRecord, TweetRecord, UserRecord,
};
use serde_json::value::RawValue;

/// The world's maps: keyed by ids and names that a request names, hashed with foldhash (seeded
/// per process, several times faster than the default SipHash on these short keys).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// X's limit for a tweet's `text`; longer posts (X's note tweets, from imports) show a cut
/// `text` and carry the whole in `note_tweet`.
const TEXT_LIMIT: usize = 280;
/// Where X cuts a long post's `text` (xdevplatform/samples#202: "cut to 270 characters"),
/// at the last word boundary before it.
const NOTE_CUT: usize = 270;

/// The `text` X shows for a tweet: the whole text, or for a long post its start.
pub fn display_text(text: &str) -> &str {
    // At most 280 bytes is at most 280 characters: no need to count them.
    if text.len() <= TEXT_LIMIT || text.chars().count() <= TEXT_LIMIT {
        return text;
    }
    let end = text
        .char_indices()
        .nth(NOTE_CUT)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    let cut = match head.rfind(char::is_whitespace) {
        Some(i) if i > 0 => &head[..i],
        _ => head,
    };
    cut.trim_end()
}

/// A string as a JSON string literal, escaped once when it enters the world rather than on
/// every answer that shows it (escaping was the largest single cost of a tweets lookup).
/// `None` only if serde_json could not write a string, which it always can.
fn json_literal(s: &str) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(s).ok()
}

/// A tweet as the world holds it: the record and what every answer showing it needs.
#[derive(Debug)]
pub struct Tweet {
    pub record: TweetRecord,
    /// Byte length of the text X shows (`display_text`).
    display_len: usize,
    /// That text as a JSON literal.
    pub text_json: Option<Box<RawValue>>,
}

impl Tweet {
    pub fn new(record: TweetRecord) -> Self {
        let shown = display_text(&record.text);
        Self {
            display_len: shown.len(),
            text_json: json_literal(shown),
            record,
        }
    }

    /// The `text` X shows: the whole text, or a long post's start.
    pub fn display_text(&self) -> &str {
        self.record.text.get(..self.display_len).unwrap_or_default()
    }

    /// Whether the text is longer than X's 280 characters (a note tweet).
    pub fn is_long(&self) -> bool {
        self.display_len < self.record.text.len()
    }
}

impl std::ops::Deref for Tweet {
    type Target = TweetRecord;
    fn deref(&self) -> &TweetRecord {
        &self.record
    }
}

/// A user as the world holds it: the record and its name and username as JSON literals.
#[derive(Debug)]
pub struct User {
    pub record: UserRecord,
    pub name_json: Option<Box<RawValue>>,
    pub username_json: Option<Box<RawValue>>,
}

impl User {
    pub fn new(record: UserRecord) -> Self {
        Self {
            name_json: json_literal(&record.name),
            username_json: json_literal(record.username.as_str()),
            record,
        }
    }
}

impl std::ops::Deref for User {
    type Target = UserRecord;
    fn deref(&self) -> &UserRecord {
        &self.record
    }
}

/// Rendered objects (the JSON of a user or a tweet), by everything that JSON depends on beyond
/// the world itself: which object, the field selection, and the little about the viewer that
/// shows in it. A lookup of ten tweets with their authors spent most of its time writing the
/// same JSON again; now it is written once per selection and copied after that. The world
/// empties the cache on every change (`SharedWorld::write`, reloads), so a cached object is
/// never older than the world it was rendered from.
#[derive(Debug, Default)]
pub struct Fragments {
    map: RwLock<HashMap<FragmentKey, Arc<RawValue>>>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FragmentKind {
    User,
    Tweet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    pub kind: FragmentKind,
    pub id: Snowflake,
    /// The field selection's bits.
    pub fields: u64,
    /// What of the viewer the object shows (the renderer decides the bits).
    pub viewer: u8,
}

impl Fragments {
    fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::default(),
            capacity,
        }
    }

    pub fn get(&self, key: &FragmentKey) -> Option<Arc<RawValue>> {
        if self.capacity == 0 {
            return None;
        }
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.get(key).cloned()
    }

    /// Renders `value` and keeps it under `key`. `None` (the caller then writes `value` as it
    /// is) when the cache is off or the JSON could not be kept.
    pub fn render(&self, key: FragmentKey, value: &impl serde::Serialize) -> Option<Arc<RawValue>> {
        if self.capacity == 0 {
            return None;
        }
        let json = serde_json::to_string(value).ok()?;
        let fragment: Arc<RawValue> = RawValue::from_string(json).ok()?.into();
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        // Bounded: a full cache starts over rather than tracking recency on every hit.
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, fragment.clone());
        Some(fragment)
    }

    fn clear(&mut self) {
        self.map
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
    /// The store's reset count this world was loaded at.
    pub resets: i64,
    pub users: HashMap<Snowflake, Arc<User>>,
    by_username: HashMap<String, Snowflake>,
    pub tweets: HashMap<Snowflake, Arc<Tweet>>,
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
    /// Rendered users and tweets of this world.
    pub fragments: Fragments,
}

const EMPTY_IDS: &[Snowflake] = &[];
const EMPTY_EDGES: &[Edge] = &[];

impl World {
    pub fn from_content(c: Content, render_cache_size: usize) -> Self {
        let mut w = World {
            version: c.version,
            resets: c.resets,
            fragments: Fragments::new(render_cache_size),
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

    pub fn user(&self, id: Snowflake) -> Option<&Arc<User>> {
        self.users.get(&id)
    }

    pub fn user_by_username(&self, username: &str) -> Option<&Arc<User>> {
        self.by_username
            .get(&username.to_ascii_lowercase())
            .and_then(|id| self.users.get(id))
    }

    pub fn tweet(&self, id: Snowflake) -> Option<&Arc<Tweet>> {
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
        self.users.insert(u.id, Arc::new(User::new(u)));
    }

    pub fn insert_tweet(&mut self, t: TweetRecord) {
        let tl = self.timelines.entry(t.author_id).or_default();
        // Newest first: ids are time-ordered snowflakes.
        if let Err(pos) = tl.binary_search_by(|probe| t.id.cmp(probe)) {
            tl.insert(pos, t.id);
        }
        self.adjust_counts(&t, 1);
        self.tweets.insert(t.id, Arc::new(Tweet::new(t)));
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
            let mut u = u.record.clone();
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
    /// When a write last found the store unavailable (see [`SharedWorld::write`]).
    unavailable_at: std::sync::Mutex<Option<std::time::Instant>>,
    render_cache_size: usize,
}

impl SharedWorld {
    pub async fn load(store: &dyn Store, render_cache_size: usize) -> Result<Self, StoreError> {
        Ok(Self {
            world: RwLock::new(World::from_content(
                store.load_content().await?,
                render_cache_size,
            )),
            writes: tokio::sync::Mutex::new(()),
            unavailable_at: std::sync::Mutex::new(None),
            render_cache_size,
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
    ///
    /// Writes take turns, so while the store is unreachable each would wait out its own
    /// `database_timeout` after the ones ahead of it. Instead, a write that was queued when the
    /// one ahead of it found the store unavailable fails at once, unattempted: every write is
    /// answered within the timeout of its arrival (checklist K5).
    pub async fn write<T>(
        &self,
        store: &dyn Store,
        store_write: impl std::future::Future<Output = Result<T, StoreError>>,
        apply: impl FnOnce(&mut World, &T),
    ) -> Result<T, StoreError> {
        let queued = std::time::Instant::now();
        let _guard = self.writes.lock().await;
        let failed_since_queued = self
            .unavailable_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| at >= queued);
        let before = self.read().version;
        let result = if failed_since_queued {
            Err(StoreError::Unavailable(
                "a write queued ahead of this one found the store unavailable".into(),
            ))
        } else {
            store_write.await
        };
        self.note_unavailable(&result);
        let out = result?;
        // The write is committed: it is answered as done even if the store goes away now. An
        // unknown version leaves the world's as it was, so the poller reloads once it can.
        let after = store.content_version().await.ok();
        let mut w = self
            .world
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        apply(&mut w, &out);
        // Any change can show in any rendered object (counts, mentions, pinned tweets).
        w.fragments.clear();
        if let Some(after) = after
            && after == before + 1
        {
            w.version = after;
        }
        Ok(out)
    }

    /// Records that the store was found unavailable now, for the writes queued meanwhile.
    fn note_unavailable<T>(&self, result: &Result<T, StoreError>) {
        if let Err(StoreError::Unavailable(_)) = result {
            *self
                .unavailable_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(std::time::Instant::now());
        }
    }

    /// Reloads everything if the store's content version has moved. Returns whether it did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let _guard = self.writes.lock().await;
        // Held while the store is asked: writes queued behind a reload that found the store
        // unavailable fail at once, as behind a write (see `write`).
        let version = store.content_version().await;
        self.note_unavailable(&version);
        let version = version?;
        if version == self.read().version {
            return Ok(false);
        }
        let content = store.load_content().await;
        self.note_unavailable(&content);
        let fresh = World::from_content(content?, self.render_cache_size);
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
    let resets = state.world.read().resets;
    if !state.world.refresh(state.store.as_ref()).await? {
        return Ok(false);
    }
    if state.world.read().resets != resets {
        // A reset: a token may be gone although its App and user are back, so nothing cached
        // about tokens, Apps or request counts holds any more.
        crate::snapshots::forget_cached(state);
        return Ok(true);
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
