//! X API v2 objects and envelopes: default fields, requested fields, expansions into
//! `includes` (deduplicated by id), partial errors, and `meta`.

/// Small per-answer sets of ids: foldhash, not SipHash (see `content::world`).
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// Inserts into a set of `includes` ids, sized for a page of them at the first insert rather
/// than grown through every small capacity.
fn insert_new<T: std::hash::Hash + Eq>(set: &mut HashSet<T>, v: T) -> bool {
    if set.capacity() == 0 {
        set.reserve(16);
    }
    set.insert(v)
}

use roost_domain::Snowflake;
use roost_domain::fields::{
    Selection, SpaceExpansion, SpaceField, TopicField, TweetExpansion, TweetField, UserExpansion,
    UserField,
};
use roost_store::{SpaceRecord, TopicRecord, TweetRecord, UserRecord};

use crate::content::world::{FragmentKey, FragmentKind, Tweet, User};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::content::World;
use crate::content::world::TweetCounts;

/// Who is looking: protected accounts' tweets are visible only to their followers and
/// themselves, `connection_status` needs a user, a user's `confirmed_email` is for their own
/// tokens with `users.email`, and a tweet's private metrics for its author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// A user token; `email`: it carries `users.email`.
    User {
        id: Snowflake,
        email: bool,
    },
    App,
}

impl Viewer {
    fn user(self) -> Option<Snowflake> {
        match self {
            Viewer::User { id, .. } => Some(id),
            Viewer::App => None,
        }
    }
}

pub use crate::content::world::display_text;

/// RFC 3339 UTC with milliseconds, as X prints times: `2021-01-06T18:40:40.000Z`.
pub fn timestamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The fields and expansions one request selected.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selected {
    pub user: Selection<UserField>,
    pub tweet: Selection<TweetField>,
    pub space: Selection<SpaceField>,
    pub topic: Selection<TopicField>,
    pub user_exp: Selection<UserExpansion>,
    pub tweet_exp: Selection<TweetExpansion>,
    pub space_exp: Selection<SpaceExpansion>,
}

pub struct Renderer<'w> {
    pub world: &'w World,
    pub viewer: Viewer,
    pub sel: Selected,
    inc_users: Vec<Obj>,
    inc_user_ids: HashSet<Snowflake>,
    inc_tweets: Vec<Obj>,
    inc_tweet_ids: HashSet<Snowflake>,
    inc_topics: Vec<Value>,
    inc_topic_ids: HashSet<String>,
    errors: Vec<Value>,
    /// (parameter, value) of the `includes` errors already reported.
    inc_errors: HashSet<(&'static str, Snowflake)>,
    /// (section, field, tweet) of the field errors already reported.
    field_errors: HashSet<(&'static str, &'static str, Snowflake)>,
    /// The parameter the `data` tweets were asked for by (`id`, `ids`), for field errors.
    data_param: &'static str,
}

impl<'w> Renderer<'w> {
    pub fn new(world: &'w World, viewer: Viewer, sel: Selected) -> Self {
        Self {
            world,
            viewer,
            sel,
            inc_users: Vec::new(),
            inc_user_ids: HashSet::default(),
            inc_tweets: Vec::new(),
            inc_tweet_ids: HashSet::default(),
            inc_topics: Vec::new(),
            inc_topic_ids: HashSet::default(),
            errors: Vec::new(),
            inc_errors: HashSet::default(),
            field_errors: HashSet::default(),
            data_param: "id",
        }
    }

    /// Names the parameter the `data` tweets are asked for by (default `id`).
    pub fn data_parameter(&mut self, name: &'static str) {
        self.data_param = name;
    }

    /// Whether the viewer may see `author`'s tweets.
    pub fn can_see_tweets_of(&self, author: &UserRecord) -> bool {
        if !author.protected {
            return true;
        }
        match self.viewer {
            Viewer::App => false,
            Viewer::User { id: me, .. } => {
                me == author.id
                    || self
                        .world
                        .follow_edge(me, author.id)
                        .is_some_and(|e| !e.pending)
            }
        }
    }

    pub fn tweet_visible(&self, t: &TweetRecord) -> bool {
        self.world
            .user(t.author_id)
            .is_some_and(|a| self.can_see_tweets_of(a))
    }

    // ---- users ----

    pub fn user(&mut self, u: &Arc<User>) -> Obj {
        let v = self.user_object(u);
        let exp = self.sel.user_exp;
        if exp.contains(UserExpansion::PinnedTweetId)
            && let Some(t) = u
                .pinned_tweet_id
                .and_then(|id| self.expanded_tweet("pinned_tweet_id", id))
        {
            self.include_tweet_only(&t, "pinned_tweet_id");
        }
        if exp.contains(UserExpansion::MostRecentTweetId)
            && let Some(t) = self
                .world
                .timeline(u.id)
                .first()
                .copied()
                .and_then(|id| self.expanded_tweet("most_recent_tweet_id", id))
        {
            self.include_tweet_only(&t, "most_recent_tweet_id");
        }
        v
    }

    fn user_object(&self, u: &Arc<User>) -> Obj {
        let f = self.sel.user;
        // What of the viewer shows in a user: whether a user asks (`subscription`), and whether
        // it is this user with `users.email`. `connection_status` is the viewer's own relation,
        // so a selection with it is not cached.
        let email_visible = matches!(self.viewer, Viewer::User { id, email: true } if id == u.id);
        let key = (!f.contains(UserField::ConnectionStatus)).then(|| FragmentKey {
            kind: FragmentKind::User,
            id: u.id,
            fields: f.bits(),
            viewer: u8::from(self.viewer.user().is_some()) | (u8::from(email_visible) << 1),
        });
        if let Some(hit) = key.and_then(|k| self.world.fragments.get(&k)) {
            return Obj::Cached(hit);
        }
        let entities = f.contains(UserField::Entities).then(|| {
            let mut ent = Map::new();
            if let Some(url) = &u.url {
                let n = url.chars().count();
                ent.insert("url".into(), json!({"urls": [url_entity(url, 0, n)]}));
            }
            let desc = text_entities(self.world, &u.description);
            if !desc.is_empty() {
                ent.insert("description".into(), Value::Object(desc));
            }
            ent
        });
        let connection = match self.viewer {
            Viewer::User { id: me, .. }
                if f.contains(UserField::ConnectionStatus) && me != u.id =>
            {
                let mut status = Vec::new();
                match self.world.follow_edge(me, u.id) {
                    Some(e) if e.pending => status.push("follow_request_sent"),
                    Some(_) => status.push("following"),
                    None => {}
                }
                match self.world.follow_edge(u.id, me) {
                    Some(e) if e.pending => status.push("follow_request_received"),
                    Some(_) => status.push("followed_by"),
                    None => {}
                }
                Some(status)
            }
            _ => None,
        };
        let out = UserOut {
            u: u.clone(),
            f,
            entities: entities.filter(|e| !e.is_empty()),
            most_recent: self
                .world
                .timeline(u.id)
                .first()
                .copied()
                .filter(|_| f.contains(UserField::MostRecentTweetId)),
            counts: f
                .contains(UserField::PublicMetrics)
                .then(|| self.world.user_counts(u.id)),
            connection,
            // Nobody subscribes to anyone in roost (no Super Follows): a definite `false`, for
            // the one who asks ("you"), so not for an App.
            subscribes: self.viewer.user().is_some(),
            email: match self.viewer {
                Viewer::User { id, email: true } if id == u.id => u.email.clone(),
                _ => None,
            },
            verified_followers: f
                .contains(UserField::VerifiedFollowersCount)
                .then(|| self.world.verified_followers(u.id)),
        };
        match key.and_then(|k| self.world.fragments.render(k, &out)) {
            Some(fragment) => Obj::Cached(fragment),
            None => Obj::User(Box::new(out)),
        }
    }

    fn include_user_id(&mut self, id: Snowflake) {
        if self.inc_user_ids.contains(&id) {
            return;
        }
        if let Some(u) = self.world.user(id).cloned() {
            insert_new(&mut self.inc_user_ids, id);
            let v = self.user_object(&u);
            self.inc_users.push(v);
        }
    }

    // ---- tweets ----

    pub fn tweet(&mut self, t: &Arc<Tweet>) -> Obj {
        let param = self.data_param;
        let v = self.tweet_object(t, "data", param);
        self.expand_tweet(t, true);
        v
    }

    fn expand_tweet(&mut self, t: &Arc<Tweet>, top: bool) {
        let exp = self.sel.tweet_exp;
        if exp.contains(TweetExpansion::AuthorId) {
            self.include_user_id(t.author_id);
        }
        if exp.contains(TweetExpansion::InReplyToUserId)
            && let Some(u) = t.in_reply_to_user_id
        {
            self.include_user_id(u);
        }
        if exp.contains(TweetExpansion::EntitiesMentionsUsername) {
            for name in mentions(t.display_text()) {
                if let Some(u) = self.world.user_by_username(&name).map(|u| u.id) {
                    self.include_user_id(u);
                }
            }
        }
        // The mentions of a long post's whole text (`note_tweet.entities`).
        if exp.contains(TweetExpansion::EntitiesNoteMentionsUsername) && t.is_long() {
            for name in mentions(&t.text) {
                if let Some(u) = self.world.user_by_username(&name).map(|u| u.id) {
                    self.include_user_id(u);
                }
            }
        }
        if exp.contains(TweetExpansion::EditHistoryTweetIds) && top {
            self.include_tweet_only(t, "edit_history_tweet_ids");
        }
        if exp.contains(TweetExpansion::ReferencedTweetsId)
            || exp.contains(TweetExpansion::ReferencedTweetsIdAuthorId)
        {
            for id in referenced(t).into_iter().map(|(_, id)| id) {
                let r = if exp.contains(TweetExpansion::ReferencedTweetsId) {
                    self.expanded_tweet("referenced_tweets.id", id)
                } else {
                    self.world
                        .tweet(id)
                        .filter(|r| self.tweet_visible(r))
                        .cloned()
                };
                let Some(r) = r else {
                    continue;
                };
                if exp.contains(TweetExpansion::ReferencedTweetsId) {
                    self.include_tweet_only(&r, "referenced_tweets.id");
                }
                if exp.contains(TweetExpansion::ReferencedTweetsIdAuthorId) {
                    self.include_user_id(r.author_id);
                }
            }
        }
    }

    /// The tweet an expansion (`parameter`) names, if the viewer may see it. If not, X's
    /// partial error for the `includes` section, once per tweet: "Not Found Error" for a tweet
    /// that is gone (e.g. deleted after it was replied to), "Authorization Error" for a
    /// protected one.
    fn expanded_tweet(&mut self, parameter: &'static str, id: Snowflake) -> Option<Arc<Tweet>> {
        let found = self.world.tweet(id).cloned();
        let visible = found.as_ref().is_some_and(|t| self.tweet_visible(t));
        if visible {
            return found;
        }
        if self.inc_errors.insert((parameter, id)) {
            let value = id.to_string();
            if found.is_some() {
                self.unauthorized("tweet", parameter, &value, "includes");
            } else {
                self.not_found("tweet", parameter, &value);
            }
        }
        None
    }

    fn include_tweet_only(&mut self, t: &Arc<Tweet>, parameter: &'static str) {
        if insert_new(&mut self.inc_tweet_ids, t.id) {
            let v = self.tweet_object(t, "includes", parameter);
            self.inc_tweets.push(v);
        }
    }

    fn tweet_object(
        &mut self,
        t: &Arc<Tweet>,
        section: &'static str,
        parameter: &'static str,
    ) -> Obj {
        let f = self.sel.tweet;
        // Private metrics are the author's, with a user token (X): anyone else is told which
        // fields were refused, one Field Authorization Error per metric. (Errors are written
        // whether or not the object itself comes from the cache.)
        let own = self.viewer.user() == Some(t.author_id);
        if !own {
            let mut private = Vec::new();
            if f.contains(TweetField::NonPublicMetrics) {
                private.extend(NON_PUBLIC_METRICS);
            }
            if f.contains(TweetField::OrganicMetrics) {
                private.extend(ORGANIC_METRICS);
            }
            for field in private {
                self.field_unauthorized(section, parameter, field, t.id);
            }
        }
        // Whether the viewer wrote it is all a tweet shows of the viewer.
        let key = FragmentKey {
            kind: FragmentKind::Tweet,
            id: t.id,
            fields: f.bits(),
            viewer: u8::from(own),
        };
        if let Some(hit) = self.world.fragments.get(&key) {
            return Obj::Cached(hit);
        }
        let text = t.display_text();
        let entities = if f.contains(TweetField::Entities) {
            Some(text_entities(self.world, text)).filter(|e| !e.is_empty())
        } else {
            None
        };
        let note = (t.is_long() && f.contains(TweetField::NoteTweet))
            .then(|| text_entities(self.world, &t.text));
        let counts = if f.contains(TweetField::PublicMetrics)
            || (own && f.contains(TweetField::OrganicMetrics))
        {
            self.world.counts(t.id)
        } else {
            TweetCounts::default()
        };
        let author_withheld = self
            .world
            .user(t.author_id)
            .map(|a| a.withheld_in.clone())
            .unwrap_or_default();
        let out = TweetOut {
            t: t.clone(),
            f,
            entities,
            note,
            counts,
            own,
            author_withheld,
        };
        match self.world.fragments.render(key, &out) {
            Some(fragment) => Obj::Cached(fragment),
            None => Obj::Tweet(Box::new(out)),
        }
    }

    /// X's partial "Field Authorization Error" (OpenAPI `FieldUnauthorizedProblem`), as X
    /// words it: `Sorry, you are not authorized to access 'non_public_metrics.impression_count'
    /// on the Tweet with id : [1525252600530100226].`
    fn field_unauthorized(
        &mut self,
        section: &'static str,
        parameter: &'static str,
        field: &'static str,
        id: Snowflake,
    ) {
        if !self.field_errors.insert((section, field, id)) {
            return;
        }
        self.errors.push(json!({
            "resource_type": "tweet",
            "field": field,
            "parameter": parameter,
            "resource_id": id,
            "title": "Field Authorization Error",
            "section": section,
            "detail": format!("Sorry, you are not authorized to access '{field}' on the Tweet with {parameter} : [{id}]."),
            "value": id,
            "type": "https://api.twitter.com/2/problems/not-authorized-for-field"
        }));
    }

    // ---- spaces ----

    pub fn space(&mut self, s: &SpaceRecord) -> Obj {
        let f = self.sel.space;
        let mut m = Map::new();
        m.insert("id".into(), json!(s.id));
        m.insert("state".into(), json!(s.state));
        let time = |m: &mut Map<String, Value>, field: SpaceField, name: &str, v: Option<i64>| {
            if f.contains(field)
                && let Some(v) = v
            {
                m.insert(name.into(), json!(timestamp(v)));
            }
        };
        time(
            &mut m,
            SpaceField::CreatedAt,
            "created_at",
            Some(s.created_at),
        );
        if f.contains(SpaceField::CreatorId) {
            m.insert("creator_id".into(), json!(s.creator_id));
        }
        time(&mut m, SpaceField::EndedAt, "ended_at", s.ended_at);
        if f.contains(SpaceField::HostIds) {
            m.insert("host_ids".into(), json!(s.host_ids));
        }
        if f.contains(SpaceField::InvitedUserIds) {
            m.insert("invited_user_ids".into(), json!(s.invited_user_ids));
        }
        if f.contains(SpaceField::IsTicketed) {
            m.insert("is_ticketed".into(), json!(s.is_ticketed));
        }
        if f.contains(SpaceField::Lang)
            && let Some(l) = &s.lang
        {
            m.insert("lang".into(), json!(l));
        }
        if f.contains(SpaceField::ParticipantCount) {
            m.insert("participant_count".into(), json!(s.participant_count));
        }
        time(
            &mut m,
            SpaceField::ScheduledStart,
            "scheduled_start",
            s.scheduled_start,
        );
        if f.contains(SpaceField::SpeakerIds) {
            m.insert("speaker_ids".into(), json!(s.speaker_ids));
        }
        time(&mut m, SpaceField::StartedAt, "started_at", s.started_at);
        if f.contains(SpaceField::SubscriberCount) {
            m.insert("subscriber_count".into(), json!(s.subscriber_count));
        }
        if f.contains(SpaceField::Title)
            && let Some(t) = &s.title
        {
            m.insert("title".into(), json!(t));
        }
        if f.contains(SpaceField::TopicIds) && !s.topic_ids.is_empty() {
            m.insert("topic_ids".into(), json!(s.topic_ids));
        }
        time(
            &mut m,
            SpaceField::UpdatedAt,
            "updated_at",
            s.updated_at.or(Some(s.created_at)),
        );
        let exp = self.sel.space_exp;
        if exp.contains(SpaceExpansion::CreatorId) {
            self.include_user_id(s.creator_id);
        }
        if exp.contains(SpaceExpansion::TopicIds) {
            for id in &s.topic_ids {
                if let Some(t) = self.world.topic(id).cloned() {
                    self.include_topic(&t);
                }
            }
        }
        for (e, ids) in [
            (SpaceExpansion::HostIds, &s.host_ids),
            (SpaceExpansion::SpeakerIds, &s.speaker_ids),
            (SpaceExpansion::InvitedUserIds, &s.invited_user_ids),
        ] {
            if exp.contains(e) {
                for id in ids {
                    self.include_user_id(*id);
                }
            }
        }
        Obj::Value(Value::Object(m))
    }

    /// X's `Topic`: `id` and `name` always, `description` when asked for.
    fn include_topic(&mut self, t: &TopicRecord) {
        if !self.inc_topic_ids.insert(t.id.clone()) {
            return;
        }
        let mut m = Map::new();
        m.insert("id".into(), json!(t.id));
        m.insert("name".into(), json!(t.name));
        if self.sel.topic.contains(TopicField::Description)
            && let Some(d) = &t.description
        {
            m.insert("description".into(), json!(d));
        }
        self.inc_topics.push(Value::Object(m));
    }

    // ---- errors and envelope ----

    /// X's partial "Not Found Error" (spec/x-api-v2.md §E.1).
    pub fn not_found(&mut self, resource_type: &str, parameter: &str, value: &str) {
        self.errors.push(json!({
            "value": value,
            "detail": format!("Could not find {resource_type} with {parameter}: [{value}]."),
            "title": "Not Found Error",
            "resource_type": resource_type,
            "parameter": parameter,
            "resource_id": value,
            "type": "https://api.twitter.com/2/problems/resource-not-found"
        }));
    }

    /// X's partial "Authorization Error" for a resource the viewer may not see (protected).
    pub fn not_authorized(&mut self, resource_type: &str, parameter: &str, value: &str) {
        self.unauthorized(resource_type, parameter, value, "data");
    }

    /// The "Authorization Error" for the `data` or the `includes` section.
    fn unauthorized(&mut self, resource_type: &str, parameter: &str, value: &str, section: &str) {
        let shown = if resource_type == "tweet" {
            "Tweet"
        } else {
            resource_type
        };
        self.errors.push(json!({
            "value": value,
            "detail": format!("Sorry, you are not authorized to see the {shown} with {parameter}: [{value}]."),
            "title": "Authorization Error",
            "resource_type": resource_type,
            "parameter": parameter,
            "resource_id": value,
            "section": section,
            "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"
        }));
    }

    /// The response body: `data` (omitted when `None`), `includes` and `errors` when not empty,
    /// `meta` when given.
    pub fn envelope(self, data: Option<impl Into<Data>>, meta: Option<Meta>) -> Envelope {
        Envelope {
            data: data.map(Into::into),
            users: self.inc_users,
            tweets: self.inc_tweets,
            topics: self.inc_topics,
            errors: self.errors,
            meta,
        }
    }
}

/// One object of a response. Users and tweets are written straight to the output by their
/// `Serialize` impls, with no intermediate JSON tree: building `serde_json::Value` maps was most
/// of the cost of a protected GET (perf).
pub enum Obj {
    // Boxed: an `Obj` is moved several times on its way into the answer, and the cached form,
    // the common one, is a pointer.
    User(Box<UserOut>),
    Tweet(Box<TweetOut>),
    Value(Value),
    /// A user or tweet as the world's render cache holds it.
    Cached(Arc<serde_json::value::RawValue>),
}

impl Serialize for Obj {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Obj::User(u) => u.serialize(s),
            Obj::Tweet(t) => t.serialize(s),
            Obj::Value(v) => v.serialize(s),
            Obj::Cached(json) => json.serialize(s),
        }
    }
}

/// `data`: one object or a list.
pub enum Data {
    One(Obj),
    Many(Vec<Obj>),
}

impl From<Obj> for Data {
    fn from(o: Obj) -> Self {
        Data::One(o)
    }
}

impl From<Vec<Obj>> for Data {
    fn from(v: Vec<Obj>) -> Self {
        Data::Many(v)
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Data::One(o) => o.serialize(s),
            Data::Many(v) => v.serialize(s),
        }
    }
}

/// X's response envelope.
pub struct Envelope {
    data: Option<Data>,
    users: Vec<Obj>,
    tweets: Vec<Obj>,
    topics: Vec<Value>,
    errors: Vec<Value>,
    meta: Option<Meta>,
}

/// `meta` of a list: the count, the ids at either end (timelines), and the page tokens, each left
/// out when it has no value (a paginator stops when `next_token` is absent: quirk 16).
#[derive(Debug, Default, Serialize)]
pub struct Meta {
    pub result_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_id: Option<Snowflake>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_id: Option<Snowflake>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_token: Option<String>,
}

impl Envelope {
    /// A guess at the body's size, so the buffer is allocated once instead of doubling its way
    /// up from axum's 128 bytes.
    fn size_hint(&self) -> usize {
        let objects = match &self.data {
            Some(Data::Many(v)) => v.len(),
            Some(Data::One(_)) => 1,
            None => 0,
        } + self.users.len()
            + self.tweets.len()
            + self.topics.len()
            + self.errors.len();
        256 + 320 * objects
    }
}

impl axum::response::IntoResponse for Envelope {
    fn into_response(self) -> axum::response::Response {
        let mut body = Vec::with_capacity(self.size_hint());
        if let Err(e) = serde_json::to_writer(&mut body, &self) {
            // Only a Serialize impl of ours could fail here, and none does; the client gets a
            // clean 503 rather than a broken body.
            tracing::error!(error = %e, "could not serialize an API answer");
            return super::error::ApiError::Unavailable(roost_store::StoreError::Other(e.into()))
                .into_response();
        }
        (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            body,
        )
            .into_response()
    }
}

struct Includes<'a> {
    users: &'a [Obj],
    tweets: &'a [Obj],
    topics: &'a [Value],
}

impl Serialize for Includes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if !self.users.is_empty() {
            m.serialize_entry("users", self.users)?;
        }
        if !self.tweets.is_empty() {
            m.serialize_entry("tweets", self.tweets)?;
        }
        if !self.topics.is_empty() {
            m.serialize_entry("topics", self.topics)?;
        }
        m.end()
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(d) = &self.data {
            m.serialize_entry("data", d)?;
        }
        if !self.users.is_empty() || !self.tweets.is_empty() || !self.topics.is_empty() {
            m.serialize_entry(
                "includes",
                &Includes {
                    users: &self.users,
                    tweets: &self.tweets,
                    topics: &self.topics,
                },
            )?;
        }
        if !self.errors.is_empty() {
            m.serialize_entry("errors", &self.errors)?;
        }
        if let Some(meta) = &self.meta {
            m.serialize_entry("meta", meta)?;
        }
        m.end()
    }
}

/// A time in X's format, written without an intermediate `String`.
struct Ts(i64);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&timestamp(self.0))
    }
}

pub struct UserOut {
    u: Arc<User>,
    f: Selection<UserField>,
    entities: Option<Map<String, Value>>,
    most_recent: Option<Snowflake>,
    counts: Option<(i64, i64, i64)>,
    connection: Option<Vec<&'static str>>,
    /// Whether "subscribes to you" has an answer (a user is asking).
    subscribes: bool,
    /// The user's own confirmed email, when the token may see it.
    email: Option<String>,
    verified_followers: Option<i64>,
}

#[derive(Serialize)]
struct Subscription {
    subscribes_to_you: bool,
}

/// X's `withheld` (`UserWithheld`, `TweetWithheld`).
#[derive(Serialize)]
struct Withheld<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    copyright: Option<bool>,
    country_codes: &'a [String],
    scope: &'static str,
}

impl Serialize for UserOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (u, f) = (&self.u, self.f);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &u.id)?;
        match &u.name_json {
            Some(literal) => m.serialize_entry("name", literal)?,
            None => m.serialize_entry("name", &u.name)?,
        }
        match &u.username_json {
            Some(literal) => m.serialize_entry("username", literal)?,
            None => m.serialize_entry("username", &u.username)?,
        }
        if f.contains(UserField::ConfirmedEmail)
            && let Some(e) = &self.email
        {
            m.serialize_entry("confirmed_email", e)?;
        }
        if f.contains(UserField::CreatedAt) {
            m.serialize_entry("created_at", &Ts(u.created_at))?;
        }
        if f.contains(UserField::Description) {
            m.serialize_entry("description", &u.description)?;
        }
        if let Some(e) = &self.entities {
            m.serialize_entry("entities", e)?;
        }
        if f.contains(UserField::Location)
            && let Some(l) = &u.location
        {
            m.serialize_entry("location", l)?;
        }
        if let Some(id) = self.most_recent {
            m.serialize_entry("most_recent_tweet_id", &id)?;
        }
        if f.contains(UserField::PinnedTweetId)
            && let Some(id) = u.pinned_tweet_id
        {
            m.serialize_entry("pinned_tweet_id", &id)?;
        }
        if f.contains(UserField::ProfileBannerUrl)
            && let Some(b) = &u.profile_banner_url
        {
            m.serialize_entry("profile_banner_url", b)?;
        }
        if f.contains(UserField::ProfileImageUrl) {
            let img = u.profile_image_url.as_deref().unwrap_or(
                "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png",
            );
            m.serialize_entry("profile_image_url", img)?;
        }
        if f.contains(UserField::Protected) {
            m.serialize_entry("protected", &u.protected)?;
        }
        if let Some((followers, following, tweets)) = self.counts {
            m.serialize_entry(
                "public_metrics",
                &UserMetrics {
                    followers_count: followers,
                    following_count: following,
                    tweet_count: tweets,
                    post_count: tweets,
                    listed_count: u.listed_count,
                    like_count: u.like_count,
                },
            )?;
        }
        if f.contains(UserField::Url) {
            m.serialize_entry("url", u.url.as_deref().unwrap_or(""))?;
        }
        if f.contains(UserField::Verified) {
            m.serialize_entry("verified", &u.verified)?;
        }
        if f.contains(UserField::VerifiedType) {
            let vt = u
                .verified_type
                .as_deref()
                .unwrap_or(if u.verified { "blue" } else { "none" });
            m.serialize_entry("verified_type", vt)?;
        }
        if f.contains(UserField::Parody) {
            m.serialize_entry("parody", &false)?;
        }
        if f.contains(UserField::IsIdentityVerified) {
            m.serialize_entry("is_identity_verified", &false)?;
        }
        if f.contains(UserField::SubscriptionType) {
            m.serialize_entry("subscription_type", "None")?;
        }
        if f.contains(UserField::ReceivesYourDm) {
            m.serialize_entry("receives_your_dm", &true)?;
        }
        if let Some(c) = &self.connection {
            m.serialize_entry("connection_status", c)?;
        }
        if self.subscribes && f.contains(UserField::Subscription) {
            m.serialize_entry(
                "subscription",
                &Subscription {
                    subscribes_to_you: false,
                },
            )?;
        }
        if self.subscribes && f.contains(UserField::SubscribesToYou) {
            m.serialize_entry("subscribes_to_you", &false)?;
        }
        if let Some(n) = self.verified_followers {
            m.serialize_entry("verified_followers_count", &n)?;
        }
        if f.contains(UserField::Withheld) && !u.withheld_in.is_empty() {
            m.serialize_entry(
                "withheld",
                &Withheld {
                    copyright: None,
                    country_codes: &u.withheld_in,
                    scope: "user",
                },
            )?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct UserMetrics {
    followers_count: i64,
    following_count: i64,
    tweet_count: i64,
    /// OpenAPI 2.167's name for `tweet_count`, which it requires: X's Python SDK (generated from
    /// 2.167, validated with pydantic) rejects a user without it; 2.159 clients read `tweet_count`.
    post_count: i64,
    listed_count: i64,
    like_count: i64,
}

pub struct TweetOut {
    t: Arc<Tweet>,
    f: Selection<TweetField>,
    entities: Option<Map<String, Value>>,
    /// A long post's whole-text entities, when `note_tweet` was asked for.
    note: Option<Map<String, Value>>,
    counts: TweetCounts,
    /// The viewer is the author (with a user token): the private metrics are theirs to see.
    own: bool,
    /// The countries the author is withheld in (their tweets are too).
    author_withheld: Vec<String>,
}

/// The private metrics roost keeps, as X names them in Field Authorization Errors.
const NON_PUBLIC_METRICS: [&str; 1] = ["non_public_metrics.impression_count"];
const ORGANIC_METRICS: [&str; 4] = [
    "organic_metrics.impression_count",
    "organic_metrics.like_count",
    "organic_metrics.reply_count",
    "organic_metrics.retweet_count",
];

#[derive(Serialize)]
struct NonPublicMetrics {
    impression_count: i64,
}

#[derive(Serialize)]
struct OrganicMetrics {
    impression_count: i64,
    like_count: i64,
    reply_count: i64,
    retweet_count: i64,
}

#[derive(Serialize)]
struct NoteTweet<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entities: Option<&'a Map<String, Value>>,
}

#[derive(Serialize)]
struct TweetScopes {
    followers: bool,
}

#[derive(Serialize)]
struct TweetMetrics {
    retweet_count: i64,
    reply_count: i64,
    like_count: i64,
    quote_count: i64,
    bookmark_count: i64,
    impression_count: i64,
}

#[derive(Serialize)]
struct EditControls {
    edits_remaining: u8,
    is_edit_eligible: bool,
    editable_until: Ts,
}

#[derive(Serialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: &'static str,
    id: Snowflake,
}

impl Serialize for TweetOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (t, f) = (&self.t, self.f);
        let text = t.display_text();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &t.id)?;
        match &t.text_json {
            Some(literal) => m.serialize_entry("text", literal)?,
            None => m.serialize_entry("text", text)?,
        }
        m.serialize_entry("edit_history_tweet_ids", &[t.id])?;
        if f.contains(TweetField::AuthorId) {
            m.serialize_entry("author_id", &t.author_id)?;
        }
        if f.contains(TweetField::ConversationId) {
            m.serialize_entry("conversation_id", &t.conversation_id)?;
        }
        if f.contains(TweetField::CreatedAt) {
            m.serialize_entry("created_at", &Ts(t.created_at))?;
        }
        if f.contains(TweetField::EditControls) {
            // X's data dictionary: editable for 30 minutes, up to five times; retweets and
            // replies to someone else's tweet (non-self-thread replies) are not edit eligible.
            let eligible =
                t.retweeted_id.is_none() && t.in_reply_to_user_id.is_none_or(|u| u == t.author_id);
            m.serialize_entry(
                "edit_controls",
                &EditControls {
                    edits_remaining: 5,
                    is_edit_eligible: eligible,
                    editable_until: Ts(t.created_at + 30 * 60_000),
                },
            )?;
        }
        if let Some(e) = &self.entities {
            m.serialize_entry("entities", e)?;
        }
        if f.contains(TweetField::InReplyToUserId)
            && let Some(u) = t.in_reply_to_user_id
        {
            m.serialize_entry("in_reply_to_user_id", &u)?;
        }
        if f.contains(TweetField::Lang)
            && let Some(l) = &t.lang
        {
            m.serialize_entry("lang", l)?;
        }
        if self.own && f.contains(TweetField::NonPublicMetrics) {
            m.serialize_entry(
                "non_public_metrics",
                &NonPublicMetrics {
                    impression_count: t.impression_count,
                },
            )?;
        }
        if f.contains(TweetField::NoteTweet) && t.is_long() {
            m.serialize_entry(
                "note_tweet",
                &NoteTweet {
                    text: &t.text,
                    entities: self.note.as_ref().filter(|e| !e.is_empty()),
                },
            )?;
        }
        if self.own && f.contains(TweetField::OrganicMetrics) {
            let c = self.counts;
            m.serialize_entry(
                "organic_metrics",
                &OrganicMetrics {
                    impression_count: t.impression_count,
                    like_count: t.like_count,
                    reply_count: c.replies,
                    retweet_count: c.retweets,
                },
            )?;
        }
        // No tweet of roost is a disclosed paid partnership (no way to make one).
        if f.contains(TweetField::PaidPartnership) {
            m.serialize_entry("paid_partnership", &false)?;
        }
        if f.contains(TweetField::PossiblySensitive) {
            m.serialize_entry("possibly_sensitive", &t.possibly_sensitive)?;
        }
        if f.contains(TweetField::PublicMetrics) {
            let c = self.counts;
            m.serialize_entry(
                "public_metrics",
                &TweetMetrics {
                    retweet_count: c.retweets,
                    reply_count: c.replies,
                    like_count: t.like_count,
                    quote_count: c.quotes,
                    bookmark_count: t.bookmark_count,
                    impression_count: t.impression_count,
                },
            )?;
        }
        if f.contains(TweetField::ReferencedTweets) {
            let refs: Vec<Reference> = referenced(t)
                .into_iter()
                .map(|(kind, id)| Reference { kind, id })
                .collect();
            if !refs.is_empty() {
                m.serialize_entry("referenced_tweets", &refs)?;
            }
        }
        if f.contains(TweetField::ReplySettings) {
            m.serialize_entry("reply_settings", &t.reply_settings)?;
        }
        // Every tweet of roost is public: none is limited to the author's followers.
        if f.contains(TweetField::Scopes) {
            m.serialize_entry("scopes", &TweetScopes { followers: false })?;
        }
        if f.contains(TweetField::Source)
            && let Some(src) = &t.source
        {
            m.serialize_entry("source", src)?;
        }
        if f.contains(TweetField::DisplayTextRange) {
            m.serialize_entry("display_text_range", &[0, text.chars().count()])?;
        }
        if f.contains(TweetField::Withheld) {
            // Its own withholding, or its author's (X's `scope: user`).
            let w = if !t.withheld_in.is_empty() {
                Some(Withheld {
                    copyright: Some(t.withheld_copyright),
                    country_codes: &t.withheld_in,
                    scope: "tweet",
                })
            } else if !self.author_withheld.is_empty() {
                Some(Withheld {
                    copyright: Some(false),
                    country_codes: &self.author_withheld,
                    scope: "user",
                })
            } else {
                None
            };
            if let Some(w) = w {
                m.serialize_entry("withheld", &w)?;
            }
        }
        m.end()
    }
}

/// A tweet's references, in X's order.
fn referenced(t: &TweetRecord) -> Vec<(&'static str, Snowflake)> {
    let mut out = Vec::new();
    if let Some(id) = t.retweeted_id {
        out.push(("retweeted", id));
    }
    if let Some(id) = t.quoted_id {
        out.push(("quoted", id));
    }
    if let Some(id) = t.replied_to_id {
        out.push(("replied_to", id));
    }
    out
}

fn url_entity(url: &str, start: usize, end: usize) -> Value {
    let bare = url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    // X cuts long display URLs and marks the cut: "twitter.com/suhemparack/st…".
    let mut display: String = bare.chars().take(26).collect();
    if bare.chars().count() > 26 {
        display.push('\u{2026}');
    }
    json!({"start": start, "end": end, "url": url, "expanded_url": url, "display_url": display})
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `@username` mentions in a text.
pub fn mentions(text: &str) -> Vec<String> {
    scan(text)
        .into_iter()
        .filter_map(|e| match e {
            Entity::Mention { name, .. } => Some(name),
            _ => None,
        })
        .collect()
}

enum Entity {
    Mention {
        start: usize,
        end: usize,
        name: String,
    },
    Hashtag {
        start: usize,
        end: usize,
        tag: String,
    },
    Url {
        start: usize,
        end: usize,
        url: String,
    },
}

/// A single left-to-right pass (no regular expressions) over the characters; positions are
/// character offsets, as X gives them.
fn scan(text: &str) -> Vec<Entity> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let prev_ok = i == 0 || !is_word(chars[i - 1]);
        let c = chars[i];
        if (c == '@' || c == '#') && prev_ok {
            let mut j = i + 1;
            while j < chars.len() && is_word(chars[j]) && (c == '#' || chars[j].is_ascii()) {
                j += 1;
            }
            let word: String = chars[i + 1..j].iter().collect();
            let valid = if c == '@' {
                (1..=15).contains(&(j - i - 1))
            } else {
                word.chars().any(|ch| !ch.is_ascii_digit())
            };
            if valid {
                out.push(if c == '@' {
                    Entity::Mention {
                        start: i,
                        end: j,
                        name: word,
                    }
                } else {
                    Entity::Hashtag {
                        start: i,
                        end: j,
                        tag: word,
                    }
                });
                i = j;
                continue;
            }
        }
        if prev_ok && (starts_with(&chars[i..], "https://") || starts_with(&chars[i..], "http://"))
        {
            let mut j = i;
            while j < chars.len() && !chars[j].is_whitespace() {
                j += 1;
            }
            while j > i && matches!(chars[j - 1], '.' | ',' | ')' | '!' | '?' | ':' | ';') {
                j -= 1;
            }
            out.push(Entity::Url {
                start: i,
                end: j,
                url: chars[i..j].iter().collect(),
            });
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

fn starts_with(chars: &[char], prefix: &str) -> bool {
    prefix
        .chars()
        .enumerate()
        .all(|(k, p)| chars.get(k) == Some(&p))
}

/// X's `entities` object for a text: mentions (with the user's id when known), hashtags, urls.
fn text_entities(world: &World, text: &str) -> Map<String, Value> {
    let (mut ms, mut hs, mut us) = (Vec::new(), Vec::new(), Vec::new());
    for e in scan(text) {
        match e {
            Entity::Mention { start, end, name } => {
                let mut v = json!({"start": start, "end": end, "username": name});
                if let Some(u) = world.user_by_username(&name) {
                    v["id"] = json!(u.id);
                }
                ms.push(v);
            }
            Entity::Hashtag { start, end, tag } => {
                hs.push(json!({"start": start, "end": end, "tag": tag}))
            }
            Entity::Url { start, end, url } => us.push(url_entity(&url, start, end)),
        }
    }
    let mut m = Map::new();
    if !hs.is_empty() {
        m.insert("hashtags".into(), Value::Array(hs));
    }
    if !ms.is_empty() {
        m.insert("mentions".into(), Value::Array(ms));
    }
    if !us.is_empty() {
        m.insert("urls".into(), Value::Array(us));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_look_like_xs() {
        assert_eq!(timestamp(1_589_558_622_000), "2020-05-15T16:03:42.000Z");
        assert_eq!(timestamp(1_609_958_440_123), "2021-01-06T18:40:40.123Z");
    }

    #[test]
    fn entities_are_found_by_character_offsets() {
        let w = World::default();
        let e = text_entities(
            &w,
            "héllo @alice_1 see #RustLang and https://example.com/x. email a@b #123",
        );
        assert_eq!(
            e["mentions"],
            json!([{"start": 6, "end": 14, "username": "alice_1"}])
        );
        assert_eq!(
            e["hashtags"],
            json!([{"start": 19, "end": 28, "tag": "RustLang"}])
        );
        assert_eq!(e["urls"][0]["url"], "https://example.com/x");
        assert_eq!(e["urls"][0]["start"], 33);
        assert_eq!(mentions("RT @bob: hi @carol"), vec!["bob", "carol"]);
    }
}
