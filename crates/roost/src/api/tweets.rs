//! Tweets: lookup, create, delete, and a user's timeline.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use roost_domain::{RequestedId, Scope, Snowflake};
use roost_store::TweetRecord;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ParamProblem};
use super::path::PathParams;
use super::principal::Principal;
use super::query::Params;
use super::render::{Data, Envelope, Meta, Renderer, Selected};
use crate::state::AppState;

const READ: &[Scope] = &[Scope::TweetRead, Scope::UsersRead];
const WRITE: &[Scope] = &[Scope::TweetRead, Scope::TweetWrite, Scope::UsersRead];
const LOOKUP_PARAMS: &[&str] = &[
    "expansions",
    "media.fields",
    "place.fields",
    "poll.fields",
    "tweet.fields",
    "user.fields",
];
/// Longest tweet text roost accepts (X's limit for non-subscribers).
const MAX_TEXT_CHARS: usize = 280;

fn tweet_selection(p: &mut Params) -> Selected {
    // Media, polls and places do not exist in roost; their field names are still validated.
    let _ = p.select::<roost_domain::fields::MediaField>("media.fields");
    let _ = p.select::<roost_domain::fields::PollField>("poll.fields");
    let _ = p.select::<roost_domain::fields::PlaceField>("place.fields");
    Selected {
        user: p.select("user.fields"),
        tweet: p.select("tweet.fields"),
        tweet_exp: p.select("expansions"),
        ..Selected::default()
    }
}

fn with_path<'a>(path: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    std::iter::once(path).chain(rest.iter().copied()).collect()
}

pub async fn by_id(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let raw = path.get("id");
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &with_path("id", LOOKUP_PARAMS));
    let id = p.path_id("id", raw);
    let sel = tweet_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    // X echoes the id as sent (`007`).
    let found = id
        .and_then(|i| i.snowflake())
        .and_then(|i| world.tweet(i).cloned());
    let data = match found {
        Some(t) if r.tweet_visible(&t) => Some(r.tweet(&t)),
        Some(_) => {
            r.not_authorized("tweet", "id", raw);
            None
        }
        None => {
            r.not_found("tweet", "id", raw);
            None
        }
    };
    Ok(r.envelope(data, None))
}

pub async fn by_ids(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let viewer = principal.require(READ)?;
    let mut p = Params::new(&uri, &with_path("ids", LOOKUP_PARAMS));
    let ids = p.list("ids", 100, |s| RequestedId::parse(s).ok());
    let sel = tweet_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    r.data_parameter("ids");
    let mut data = Vec::new();
    for id in ids {
        match id.snowflake().and_then(|i| world.tweet(i).cloned()) {
            Some(t) if r.tweet_visible(&t) => data.push(r.tweet(&t)),
            Some(_) => r.not_authorized("tweet", "ids", id.as_str()),
            None => r.not_found("tweet", "ids", id.as_str()),
        }
    }
    Ok(r.envelope((!data.is_empty()).then(|| Data::Many(data)), None))
}

/// Pagination tokens: opaque to clients, at least 16 characters like X's. `n` continues towards
/// older items after the given id, `p` goes back towards newer ones.
pub(super) fn encode_token(dir: char, n: i64) -> String {
    let mut digits = Vec::new();
    let mut v = u64::try_from(n).unwrap_or(0);
    loop {
        let d = u32::try_from(v % 36).unwrap_or(0);
        digits.push(char::from_digit(d, 36).unwrap_or('0'));
        v /= 36;
        if v == 0 {
            break;
        }
    }
    let body: String = digits.iter().rev().collect();
    format!("{dir}{body:0>15}")
}

pub(super) fn decode_token(token: &str) -> Option<(char, i64)> {
    let mut chars = token.chars();
    let dir = chars.next().filter(|c| *c == 'n' || *c == 'p')?;
    let rest = chars.as_str();
    if token.len() < 16 || rest.is_empty() {
        return None;
    }
    let v = u64::from_str_radix(rest, 36).ok()?;
    Some((dir, i64::try_from(v).ok()?))
}

pub async fn timeline(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Envelope, ApiError> {
    let id = path.get("id");
    let viewer = principal.require(READ)?;
    let mut p = Params::new(
        &uri,
        &[
            "id",
            "end_time",
            "exclude",
            "expansions",
            "max_results",
            "media.fields",
            "pagination_token",
            "place.fields",
            "poll.fields",
            "since_id",
            "start_time",
            "tweet.fields",
            "until_id",
            "user.fields",
        ],
    );
    let user_id = p.path_id("id", id);
    let max = usize::try_from(p.int("max_results", 5..=100, 10)).unwrap_or(10);
    let since = p.opt_id("since_id");
    let until = p.opt_id("until_id");
    let start = p.time("start_time");
    let end = p.time("end_time");
    let exclude = p.words("exclude", &["replies", "retweets"]);
    let token = p.pagination_token();
    let sel = tweet_selection(&mut p);
    p.finish()?;
    let world = state.world.read();
    let mut r = Renderer::new(&world, viewer, sel);
    let Some(author) = user_id
        .and_then(|i| i.snowflake())
        .and_then(|i| world.user(i).cloned())
    else {
        r.not_found("user", "id", id);
        return Ok(r.envelope(None::<Data>, None));
    };
    if !r.can_see_tweets_of(&author) {
        r.not_authorized("user", "id", id);
        return Ok(r.envelope(None::<Data>, None));
    }
    let shown = |tid: &Snowflake| {
        let Some(t) = world.tweet(*tid) else {
            return false;
        };
        let excluded = (exclude.contains(&"replies") && t.replied_to_id.is_some())
            || (exclude.contains(&"retweets") && t.retweeted_id.is_some());
        !excluded
            && since.is_none_or(|s| *tid > s)
            && until.is_none_or(|u| *tid < u)
            // since_id/until_id take precedence over times (X's rule).
            && (since.is_some() || start.is_none_or(|s| t.created_at >= s))
            && (until.is_some() || end.is_none_or(|e| t.created_at <= e))
    };
    // The timeline is newest first; a page is a window of the tweets shown, found without
    // filtering more of the timeline than the page and one tweet beyond it.
    let mut shown_ids = world.timeline(author.id).iter().filter(|t| shown(t));
    let (page, newer, older): (Vec<Snowflake>, bool, bool) = match token {
        Some(('n', after)) => {
            let mut newer = false;
            let mut rest = shown_ids.skip_while(|t| {
                let skip = t.get() >= after;
                newer |= skip;
                skip
            });
            let page: Vec<Snowflake> = rest.by_ref().take(max).copied().collect();
            let older = rest.next().is_some();
            (page, newer, older)
        }
        Some((_, before)) => {
            // The `max` tweets just newer than the token's.
            let mut rest = shown_ids.peekable();
            let mut newer_ones = Vec::new();
            while let Some(t) = rest.next_if(|t| t.get() > before) {
                newer_ones.push(*t);
            }
            let from = newer_ones.len().saturating_sub(max);
            (newer_ones.split_off(from), from > 0, rest.peek().is_some())
        }
        None => {
            let page: Vec<Snowflake> = shown_ids.by_ref().take(max).copied().collect();
            let older = shown_ids.next().is_some();
            (page, false, older)
        }
    };
    let data: Vec<super::render::Obj> = page
        .iter()
        .filter_map(|id| world.tweet(*id).cloned())
        .map(|t| r.tweet(&t))
        .collect();
    let meta = Meta {
        result_count: data.len(),
        newest_id: page.first().copied(),
        oldest_id: page.last().copied(),
        next_token: page
            .last()
            .filter(|_| older)
            .map(|last| encode_token('n', last.get())),
        previous_token: page
            .first()
            .filter(|_| newer)
            .map(|first| encode_token('p', first.get())),
    };
    Ok(r.envelope((!data.is_empty()).then(|| Data::Many(data)), Some(meta)))
}

/// A write's body, read whole. One that cannot be read (a broken chunked encoding, a dropped
/// connection) is X's invalid-request problem like any other bad body, not axum's `text/plain`
/// 400; one over the limit stays the 413 every endpoint answers.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    e.into_response()
                } else {
                    body_problem("$: the request body could not be read").into_response()
                }
            })
    }
}

/// A JSON body, as X requires for writes.
pub(super) fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(body_problem(
            "Requests with bodies must have content-type of application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(body_problem("$: the request body must be a JSON object")),
        Err(e) => Err(body_problem(&format!(
            "$: the request body is not valid JSON ({e})"
        ))),
    }
}

pub(super) fn body_problem(message: &str) -> ApiError {
    ApiError::InvalidRequest(vec![ParamProblem::new(
        Default::default(),
        message.to_owned(),
    )])
}

/// An id in a request body. Any value of X's pattern is accepted; one beyond every id that can
/// exist names nothing (`None` inside).
fn id_field(path: &str, v: Option<&Value>) -> Result<Option<RequestedId>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => RequestedId::parse(s).map(Some).map_err(|_| {
            body_problem(&format!(
                "$.{path}: string [{s}] does not match pattern ^[0-9]{{1,19}}$"
            ))
        }),
        Some(_) => Err(body_problem(&format!("$.{path}: must be a string"))),
    }
}

const CREATE_FIELDS: &[&str] = &[
    "card_uri",
    "community_id",
    "direct_message_deep_link",
    "edit_options",
    "for_super_followers_only",
    "geo",
    "media",
    "nullcast",
    "poll",
    "quote_tweet_id",
    "reply",
    "reply_settings",
    "share_with_followers",
    "text",
];
const UNSUPPORTED: &[&str] = &[
    "card_uri",
    "community_id",
    "direct_message_deep_link",
    "edit_options",
    "geo",
    "media",
    "poll",
];

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let me = principal.require_user(WRITE)?;
    // The endpoint takes no query parameters: any is X's unknown-parameter 400.
    Params::new(&uri, &[]).finish()?;
    let body = json_body(&headers, &body)?;
    if let Some(k) = body.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
        return Err(body_problem(&format!(
            "$.{k}: is not defined in the schema and the schema does not allow additional properties"
        )));
    }
    if let Some(k) = body.keys().find(|k| UNSUPPORTED.contains(&k.as_str())) {
        return Err(body_problem(&format!(
            "$.{k}: roost does not support `{k}` in POST /2/tweets (no media, polls, places, cards, communities or edits)"
        )));
    }
    let quote = id_field("quote_tweet_id", body.get("quote_tweet_id"))?;
    // X's schema requires no `text`: a quote supplies the post's content by itself. A quote
    // without text is stored with the empty text X gives it.
    let text = match body.get("text") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) if quote.is_some() => String::new(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(body_problem(
                "$.text: the text of the Tweet is required and must not be empty (unless the Tweet quotes one)",
            ));
        }
        Some(_) => return Err(body_problem("$.text: must be a string")),
    };
    if text.contains('\0') {
        // Never in a post's text; and PostgreSQL's text type cannot hold it, so the store
        // would refuse it on one store and keep it on the other.
        return Err(body_problem("$.text: must not contain U+0000"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        // X's 400, as tweepy reports it ("400 Bad Request\nYour Tweet text is too long. ...").
        return Err(body_problem(
            "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.",
        ));
    }
    let reply_to = match body.get("reply") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => {
            if let Some(k) = r.keys().find(|k| {
                ![
                    "in_reply_to_tweet_id",
                    "exclude_reply_user_ids",
                    "auto_populate_reply_metadata",
                ]
                .contains(&k.as_str())
            }) {
                return Err(body_problem(&format!(
                    "$.reply.{k}: is not defined in the schema and the schema does not allow additional properties"
                )));
            }
            Some(
                id_field("reply.in_reply_to_tweet_id", r.get("in_reply_to_tweet_id"))?
                    .ok_or_else(|| body_problem("$.reply.in_reply_to_tweet_id: is required"))?,
            )
        }
        Some(_) => return Err(body_problem("$.reply: must be an object")),
    };
    let reply_settings = match body.get("reply_settings") {
        None | Some(Value::Null) => "everyone".to_owned(),
        Some(Value::String(s))
            if ["following", "mentionedUsers", "subscribers", "verified"].contains(&s.as_str()) =>
        {
            s.clone()
        }
        Some(other) => {
            return Err(body_problem(&format!(
                "$.reply_settings: [{other}] is not one of [following, mentionedUsers, subscribers, verified]"
            )));
        }
    };
    let now = state.now();
    let id = state.ids.next(now);
    let record = {
        let world = state.world.read();
        let r = Renderer::new(&world, principal.viewer(), Selected::default());
        let visible = |id: &RequestedId| {
            id.snowflake()
                .and_then(|i| world.tweet(i))
                .filter(|t| r.tweet_visible(t))
                .cloned()
        };
        let target = match &reply_to {
            Some(tid) => Some(visible(tid).ok_or_else(|| {
                ApiError::Forbidden(
                    "You attempted to reply to a Tweet that is deleted or not visible to you."
                        .into(),
                )
            })?),
            None => None,
        };
        let quoted = match &quote {
            Some(q) => Some(visible(q).map(|t| t.id).ok_or_else(|| {
                ApiError::Forbidden(
                    "You attempted to quote a Tweet that is deleted or not visible to you.".into(),
                )
            })?),
            None => None,
        };
        // The same words quoting another Tweet are other content (X appends the quoted
        // Tweet's link to the text), so quote-only posts of different Tweets are no duplicates.
        if world
            .timeline(me)
            .iter()
            .filter_map(|t| world.tweet(*t))
            .any(|t| t.text == text && t.quoted_id == quoted)
        {
            return Err(ApiError::Forbidden(
                "You are not allowed to create a Tweet with duplicate content.".into(),
            ));
        }
        TweetRecord {
            id,
            author_id: me,
            // X's `zxx`: no linguistic content (a quote without words).
            lang: Some(
                if text.is_empty() {
                    "zxx"
                } else if text.is_ascii() {
                    "en"
                } else {
                    "und"
                }
                .to_owned(),
            ),
            text,
            created_at: now,
            conversation_id: target.as_ref().map_or(id, |t| t.conversation_id),
            in_reply_to_user_id: target.as_ref().map(|t| t.author_id),
            replied_to_id: target.as_ref().map(|t| t.id),
            quoted_id: quoted,
            retweeted_id: None,
            reply_settings,
            source: None,
            possibly_sensitive: false,
            like_count: 0,
            bookmark_count: 0,
            impression_count: 0,
            withheld_in: Vec::new(),
            withheld_copyright: false,
        }
    };
    let text = record.text.clone();
    let insert = record.clone();
    state
        .world
        .write(
            state.store.as_ref(),
            state.store.create_tweet(record),
            move |w, ()| w.insert_tweet(insert),
        )
        .await?;
    tracing::info!(tweet_id = %id, user_id = %me, "tweet created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}})),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    path: PathParams,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let id = path.get("id");
    let me = principal.require_user(WRITE)?;
    let mut p = Params::new(&uri, &["id"]);
    let id = p.path_id("id", id);
    p.finish()?;
    let found = id
        .and_then(|i| i.snowflake())
        .and_then(|i| state.world.read().tweet(i).map(|t| (t.id, t.author_id)));
    match found {
        None => Ok(Json(json!({"data": {"deleted": false}}))),
        Some((_, a)) if a != me => Err(ApiError::Forbidden(
            "You are not allowed to delete a Tweet that is not yours.".into(),
        )),
        Some((id, _)) => {
            let deleted = state
                .world
                .write(
                    state.store.as_ref(),
                    state.store.delete_tweet(id),
                    move |w, deleted| {
                        if *deleted {
                            w.remove_tweet(id);
                        }
                    },
                )
                .await?;
            tracing::info!(tweet_id = %id, user_id = %me, deleted, "tweet deleted");
            Ok(Json(json!({"data": {"deleted": deleted}})))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for n in [0, 1, 35, 36, 1_261_326_399_320_715_264, i64::MAX] {
            let t = encode_token('n', n);
            assert!(t.len() >= 16, "{t}");
            assert_eq!(decode_token(&t), Some(('n', n)));
        }
        assert_eq!(decode_token("x000000000000000"), None);
        assert_eq!(decode_token("n"), None);
        assert_eq!(decode_token("n!!!!!!!!!!!!!!!"), None);
    }
}
