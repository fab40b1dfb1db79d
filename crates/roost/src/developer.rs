//! What the developer portal does, as functions: Projects, App settings, keys and tokens, usage,
//! admin users and a user's connected Apps. The portal's pages (`web::portal`), the admin API
//! (`admin::developer`) and the CLI call the same functions, so each action is validated and
//! logged the same way everywhere.
//!
//! Who may do what is not decided here: the portal checks ownership ([`can_manage`]) before it
//! calls in, the admin API and the CLI act for the operator.

use std::collections::BTreeMap;

use roost_domain::secret::random_alphanumeric;
use roost_domain::{
    AppKind, ClientId, Label, RedirectUri, Secret, Snowflake, Username, WebsiteUrl,
    parse_description,
};
use roost_store::{
    AppChange, AppProfile, AppRecord, AppStats, Deletion, NewApp, NewProject, ProjectRecord,
    StoreError, USAGE_BUCKET_MS, UserRecord,
};
use serde::Serialize;

use crate::accounts::{AccountError, CreatedApp, find_user};
use crate::state::AppState;

/// How many characters of a secret the portal shows after it was first shown.
pub const HINT_CHARS: usize = 4;

/// The last characters of a secret, as the portal shows it once it is no longer shown whole.
pub fn hint_of(secret: &Secret) -> String {
    let s = secret.expose();
    let start = s.len().saturating_sub(HINT_CHARS);
    s.get(start..).unwrap_or_default().to_owned()
}

/// Whether `user` may see and change `project`: its owner, or an admin.
pub fn can_manage(project: &ProjectRecord, user: Snowflake, is_admin: bool) -> bool {
    is_admin || project.owner_id == Some(user)
}

fn label(s: &str, err: AccountError) -> Result<Label, AccountError> {
    Label::parse(s).map_err(|_| err)
}

/// The Project with this id, or [`AccountError::UnknownProject`].
pub async fn find_project(state: &AppState, id: &str) -> Result<ProjectRecord, AccountError> {
    let unknown = || AccountError::UnknownProject(id.to_owned());
    let pid = Snowflake::parse(id).map_err(|_| unknown())?;
    state.store.project_by_id(pid).await?.ok_or_else(unknown)
}

/// A Project by id or, failing that, by its exact name (the CLI takes either).
pub async fn find_project_by_id_or_name(
    state: &AppState,
    key: &str,
) -> Result<ProjectRecord, AccountError> {
    if let Ok(pid) = Snowflake::parse(key)
        && let Some(p) = state.store.project_by_id(pid).await?
    {
        return Ok(p);
    }
    state
        .store
        .list_projects()
        .await?
        .into_iter()
        .find(|p| p.name == key)
        .ok_or_else(|| AccountError::UnknownProject(key.to_owned()))
}

pub async fn create_project(
    state: &AppState,
    name: &str,
    owner: Option<&UserRecord>,
) -> Result<ProjectRecord, AccountError> {
    let name = label(name, AccountError::BadProjectName)?;
    let now = state.now();
    let project = state
        .store
        .create_project(NewProject {
            id: state.ids.next(now),
            name: name.to_string(),
            owner_id: owner.map(|u| u.id),
            now,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AccountError::ProjectTaken(name.to_string()),
            other => other.into(),
        })?;
    tracing::info!(project_id = %project.id, owner = ?project.owner_id, "project created");
    Ok(project)
}

pub async fn rename_project(
    state: &AppState,
    project: &ProjectRecord,
    name: &str,
) -> Result<ProjectRecord, AccountError> {
    let name = label(name, AccountError::BadProjectName)?;
    let renamed = state
        .store
        .rename_project(project.id, name.as_str())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AccountError::ProjectTaken(name.to_string()),
            other => other.into(),
        })?
        .ok_or_else(|| AccountError::UnknownProject(project.id.to_string()))?;
    forget_project_apps(state, project.id).await;
    tracing::info!(project_id = %project.id, "project renamed");
    Ok(renamed)
}

/// Hands a Project to a user (`None`: admins only).
pub async fn set_project_owner(
    state: &AppState,
    project: &ProjectRecord,
    owner: Option<&str>,
) -> Result<ProjectRecord, AccountError> {
    let user = match owner {
        Some(u) => Some(find_user(state, u).await?),
        None => None,
    };
    if !state
        .store
        .set_project_owner(project.id, user.as_ref().map(|u| u.id))
        .await?
    {
        return Err(AccountError::UnknownProject(project.id.to_string()));
    }
    tracing::info!(project_id = %project.id, owner = ?user.as_ref().map(|u| u.id), "project owner set");
    find_project(state, &project.id.to_string()).await
}

/// Deletes a Project, its Apps and every token they were issued (checklist G10).
pub async fn delete_project(
    state: &AppState,
    project: &ProjectRecord,
) -> Result<Deletion, AccountError> {
    let apps: Vec<Snowflake> = apps_of(state, project.id)
        .await?
        .iter()
        .map(|a| a.id)
        .collect();
    let store = state.store.as_ref();
    let deleted = state
        .world
        .write(store, store.delete_project(project.id), |_, _| {})
        .await?
        .ok_or_else(|| AccountError::UnknownProject(project.id.to_string()))?;
    for a in apps {
        state.apps.forget(a);
        state.tokens.forget_app(a);
    }
    tracing::info!(project_id = %project.id, removed = ?deleted.removed, "project deleted");
    Ok(deleted)
}

async fn forget_project_apps(state: &AppState, project: Snowflake) {
    if let Ok(apps) = apps_of(state, project).await {
        for a in apps {
            state.apps.forget(a.id);
        }
    }
}

/// The Apps of a Project, oldest first.
pub async fn apps_of(state: &AppState, project: Snowflake) -> Result<Vec<AppRecord>, StoreError> {
    Ok(state
        .store
        .list_apps()
        .await?
        .into_iter()
        .filter(|a| a.project_id == project)
        .collect())
}

/// The Projects a user manages (every one for an admin), oldest first.
pub async fn projects_for(
    state: &AppState,
    user: Snowflake,
    is_admin: bool,
) -> Result<Vec<ProjectRecord>, StoreError> {
    Ok(state
        .store
        .list_projects()
        .await?
        .into_iter()
        .filter(|p| can_manage(p, user, is_admin))
        .collect())
}

/// An App's settings as a form or a JSON body gives them, unparsed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettingsInput {
    pub name: Option<String>,
    pub description: Option<String>,
    /// An empty string clears it.
    pub website_url: Option<String>,
    /// `native`, `single_page` or `web` (the client type cannot change).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The whole list.
    pub callbacks: Option<Vec<String>>,
}

impl AppSettingsInput {
    /// The change it asks for, validated field by field.
    pub fn parse(&self) -> Result<AppChange, AccountError> {
        let name = self
            .name
            .as_deref()
            .map(|n| label(n, AccountError::BadAppName).map(Label::into_string))
            .transpose()?;
        let description = self
            .description
            .as_deref()
            .map(|d| parse_description(d).map_err(|_| AccountError::BadDescription))
            .transpose()?;
        let website_url = self
            .website_url
            .as_deref()
            .map(|w| match w.trim() {
                "" => Ok(None),
                w => WebsiteUrl::parse(w)
                    .map(Some)
                    .map_err(AccountError::Website),
            })
            .transpose()?;
        let kind = self
            .kind
            .as_deref()
            .map(|k| AppKind::parse(k.trim()).ok_or_else(|| AccountError::BadAppKind(k.to_owned())))
            .transpose()?;
        let callbacks = self.callbacks.as_deref().map(parse_callbacks).transpose()?;
        Ok(AppChange {
            name,
            description,
            website_url,
            kind,
            callbacks,
        })
    }
}

/// A callback list: at least one, each a valid callback URL, none twice.
pub fn parse_callbacks(list: &[String]) -> Result<Vec<RedirectUri>, AccountError> {
    let mut out: Vec<RedirectUri> = Vec::with_capacity(list.len());
    for c in list {
        let uri = RedirectUri::parse(c.trim())?;
        if out.contains(&uri) {
            return Err(AccountError::DuplicateCallback(uri.as_str().to_owned()));
        }
        out.push(uri);
    }
    if out.is_empty() {
        return Err(AccountError::NoCallback);
    }
    Ok(out)
}

/// A new App in a Project, from the portal's or the admin API's fields.
pub struct NewAppInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub website_url: &'a str,
    pub kind: AppKind,
    pub callbacks: &'a [String],
}

/// Creates an App in an existing Project; the secrets are in the answer, and only there.
pub async fn create_app_in(
    state: &AppState,
    project: &ProjectRecord,
    input: NewAppInput<'_>,
) -> Result<CreatedApp, AccountError> {
    let name = label(input.name, AccountError::BadAppName)?;
    let description =
        parse_description(input.description).map_err(|_| AccountError::BadDescription)?;
    let website_url = match input.website_url.trim() {
        "" => None,
        w => Some(WebsiteUrl::parse(w).map_err(AccountError::Website)?),
    };
    let callbacks = parse_callbacks(input.callbacks)?;
    let client_type = input.kind.client_type();
    let client_secret =
        (client_type == roost_domain::ClientType::Confidential).then(Secret::client_secret);
    let api_secret = Secret::client_secret();
    let now = state.now();
    let record = state
        .store
        .create_app(NewApp {
            id: state.ids.next(now),
            new_project_id: state.ids.next(now),
            project_name: project.name.clone(),
            name: name.into_string(),
            client_id: ClientId::generate(),
            client_type,
            client_secret_hash: client_secret.as_ref().map(Secret::hash),
            api_key: random_alphanumeric(25),
            api_secret_hash: api_secret.hash(),
            callbacks,
            project_id: Some(project.id),
            profile: AppProfile {
                kind: input.kind,
                description,
                website_url,
                client_secret_hint: client_secret.as_ref().map(hint_of),
                api_secret_hint: Some(hint_of(&api_secret)),
            },
            now,
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => AccountError::UnknownProject(project.id.to_string()),
            other => other.into(),
        })?;
    tracing::info!(client_id = %record.client_id, app_id = %record.id, project_id = %project.id, kind = %input.kind, "App created");
    Ok(CreatedApp {
        project_id: record.project_id.to_string(),
        app_id: record.id.to_string(),
        client_id: record.client_id.to_string(),
        client_secret: client_secret.map(|s| s.expose().to_owned()),
        api_key: record.api_key.clone(),
        api_secret: api_secret.expose().to_owned(),
        record: Some(record),
    })
}

/// Changes an App's settings. The type may change only between kinds of one client type: a
/// public client has no secret to become confidential with, and a confidential one's secret
/// would silently stop being required.
pub async fn update_app(
    state: &AppState,
    app: &AppRecord,
    change: AppChange,
) -> Result<AppRecord, AccountError> {
    if let Some(k) = change.kind
        && k.client_type() != app.client_type
    {
        return Err(AccountError::KindChange {
            from: app.profile.kind.label(),
            to: k.label(),
        });
    }
    // A callback twice is refused by `parse_callbacks` before this; the store's own check
    // (a conflict, "callback URL already exists") only backs it up.
    let updated = state
        .store
        .update_app(app.id, change)
        .await?
        .ok_or_else(|| AccountError::UnknownApp(app.client_id.to_string()))?;
    state.apps.forget(app.id);
    tracing::info!(client_id = %app.client_id, "App settings changed");
    Ok(updated)
}

/// Draws a new Client Secret; the old one stops working at once, on every node. Confidential
/// Apps only.
pub async fn regenerate_client_secret(
    state: &AppState,
    app: &AppRecord,
) -> Result<Secret, AccountError> {
    if app.client_type != roost_domain::ClientType::Confidential {
        return Err(AccountError::PublicClientSecret(app.client_id.to_string()));
    }
    let secret = Secret::client_secret();
    if !state
        .store
        .set_client_secret(app.id, secret.hash(), &hint_of(&secret))
        .await?
    {
        return Err(AccountError::UnknownApp(app.client_id.to_string()));
    }
    state.apps.forget(app.id);
    tracing::info!(client_id = %app.client_id, "client secret regenerated");
    Ok(secret)
}

/// New API Key and Secret: the old pair and the app-only Bearer Token made with it stop working
/// at once.
pub async fn regenerate_api_key(
    state: &AppState,
    app: &AppRecord,
) -> Result<(String, Secret), AccountError> {
    let key = random_alphanumeric(25);
    let secret = Secret::client_secret();
    if !state
        .store
        .set_api_credentials(app.id, &key, secret.hash(), &hint_of(&secret))
        .await?
    {
        return Err(AccountError::UnknownApp(app.client_id.to_string()));
    }
    state.apps.forget(app.id);
    state.tokens.forget_app_tokens(app.id);
    tracing::info!(client_id = %app.client_id, "API key and secret regenerated");
    Ok((key, secret))
}

/// The App's current app-only Bearer Token, as `POST /oauth2/token` hands it out.
pub async fn bearer_token(state: &AppState, app: &AppRecord) -> Result<String, AccountError> {
    // Read fresh: the cached App may be a generation behind.
    let app = state
        .store
        .app_by_id(app.id)
        .await?
        .ok_or_else(|| AccountError::UnknownApp(app.client_id.to_string()))?;
    Ok(crate::oauth::app_only::mint(
        state,
        app.id,
        app.bearer_generation,
    ))
}

/// Invalidates the App's app-only Bearer Token, as `POST /oauth2/invalidate_token` does; the
/// next one is a new token.
pub async fn revoke_bearer_token(state: &AppState, app: &AppRecord) -> Result<(), AccountError> {
    // A concurrent invalidation moved the generation first: the token is invalidated either way.
    for _ in 0..3 {
        let current = state
            .store
            .app_by_id(app.id)
            .await?
            .ok_or_else(|| AccountError::UnknownApp(app.client_id.to_string()))?;
        if state
            .store
            .bump_bearer_generation(app.id, current.bearer_generation)
            .await?
        {
            break;
        }
    }
    state.tokens.forget_app_tokens(app.id);
    state.apps.forget(app.id);
    tracing::info!(client_id = %app.client_id, "app-only Bearer Token invalidated");
    Ok(())
}

/// Makes a user an admin of the portal, or not.
pub async fn set_admin(
    state: &AppState,
    username: &str,
    admin: bool,
) -> Result<UserRecord, AccountError> {
    let user = find_user(state, username).await?;
    // Deleted since it was found: nothing was changed, and the caller must not be told otherwise.
    if !state.store.set_user_admin(user.id, admin).await? {
        return Err(AccountError::UnknownUser(username.to_owned()));
    }
    tracing::info!(user_id = %user.id, admin, "portal admin flag set");
    Ok(user)
}

/// One endpoint's requests over the last day, bucket by bucket.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointUsage {
    pub endpoint: String,
    pub total: i64,
    /// One count per 15-minute bucket, oldest first ([`USAGE_BUCKETS`] of them).
    pub buckets: Vec<i64>,
    /// Requests in the current 15-minute window, and the endpoint's limit per App and per
    /// user for such a window (from the configured rate limits), when it has one.
    pub window: WindowUsage,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowUsage {
    pub requests: i64,
    pub app_limit: Option<u64>,
    pub user_limit: Option<u64>,
    /// The App's app-only rate-limit window for the endpoint, as this node's limiter holds it
    /// (`null`: none open, or the windows are kept in Redis).
    pub app_window: Option<LiveWindowUsage>,
    /// Of the App's per-user windows for the endpoint, the one with the most requests.
    pub busiest_user_window: Option<LiveWindowUsage>,
}

/// An open rate-limit window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveWindowUsage {
    pub requests: u64,
    /// When the window ends, Unix milliseconds (`x-rate-limit-reset` × 1000).
    pub reset_ms: i64,
    /// The user whose window it is (per-user windows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Snowflake>,
}

/// The App's open 15-minute windows by endpoint: (app-only window, busiest user window). The
/// limiter keys them `a{app}` and `u{user}:a{app}` (api::count); the 1-second and 24-hour
/// windows have prefixed keys and are left out.
fn live_windows(
    state: &AppState,
    app: Snowflake,
    now: i64,
) -> BTreeMap<&'static str, (Option<LiveWindowUsage>, Option<LiveWindowUsage>)> {
    let app_key = format!("a{app}");
    let user_suffix = format!(":a{app}");
    let mut out: BTreeMap<&'static str, (Option<LiveWindowUsage>, Option<LiveWindowUsage>)> =
        BTreeMap::new();
    let windows = state.limits.live_windows(now, |k| {
        k.subject == app_key || (k.subject.starts_with('u') && k.subject.ends_with(&user_suffix))
    });
    for w in windows {
        let entry = out.entry(w.key.scope).or_default();
        if w.key.subject == app_key {
            entry.0 = Some(LiveWindowUsage {
                requests: w.count,
                reset_ms: w.reset_ms,
                user_id: None,
            });
            continue;
        }
        let user_id = w
            .key
            .subject
            .strip_prefix('u')
            .and_then(|s| s.strip_suffix(user_suffix.as_str()))
            .and_then(|u| Snowflake::parse(u).ok());
        if entry.1.as_ref().is_none_or(|b| w.count > b.requests) {
            entry.1 = Some(LiveWindowUsage {
                requests: w.count,
                reset_ms: w.reset_ms,
                user_id,
            });
        }
    }
    out
}

/// 24 hours of 15-minute buckets.
pub const USAGE_BUCKETS: usize = 96;

/// An App's usage: what the portal's charts draw and `GET /admin/v1/apps/{id}/usage` answers.
#[derive(Debug, Clone, Serialize)]
pub struct UsageReport {
    /// The start of the oldest bucket (Unix ms).
    pub since: i64,
    pub bucket_ms: i64,
    pub endpoints: Vec<EndpointUsage>,
    pub total: i64,
    pub active_users: i64,
    pub active_access_tokens: i64,
    pub active_refresh_tokens: i64,
}

/// The App's requests per endpoint over the last 24 hours and in the current window, with who
/// holds its tokens. This node's counts not yet written are written first.
pub async fn usage(state: &AppState, app: &AppRecord) -> Result<UsageReport, AccountError> {
    state.usage.flush(state.store.as_ref()).await?;
    let now = state.now();
    let current = now - now.rem_euclid(USAGE_BUCKET_MS);
    let buckets = i64::try_from(USAGE_BUCKETS).unwrap_or(96);
    let since = current - (buckets - 1) * USAGE_BUCKET_MS;
    let rows = state.store.app_usage(app.id, since).await?;
    let mut by_endpoint: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in rows {
        let slot = usize::try_from((r.bucket_start - since) / USAGE_BUCKET_MS).unwrap_or(0);
        if slot >= USAGE_BUCKETS {
            continue;
        }
        by_endpoint
            .entry(r.endpoint)
            .or_insert_with(|| vec![0; USAGE_BUCKETS])[slot] += r.count;
    }
    let AppStats {
        active_users,
        active_access_tokens,
        active_refresh_tokens,
    } = state.store.app_stats(app.id, now).await?;
    let mut live = live_windows(state, app.id, now);
    let mut endpoints: Vec<EndpointUsage> = by_endpoint
        .into_iter()
        .map(|(endpoint, buckets)| {
            let (app_window, busiest_user_window) =
                live.remove(endpoint.as_str()).unwrap_or_default();
            let limit = state.config.rate_limits.endpoint(&endpoint).map(|(_, l)| l);
            EndpointUsage {
                total: buckets.iter().sum(),
                window: WindowUsage {
                    requests: buckets.last().copied().unwrap_or(0),
                    app_limit: limit.and_then(|l| l.app),
                    user_limit: limit.and_then(|l| l.user),
                    app_window,
                    busiest_user_window,
                },
                endpoint,
                buckets,
            }
        })
        .collect();
    endpoints.sort_by(|a, b| b.total.cmp(&a.total).then(a.endpoint.cmp(&b.endpoint)));
    Ok(UsageReport {
        since,
        bucket_ms: USAGE_BUCKET_MS,
        total: endpoints.iter().map(|e| e.total).sum(),
        endpoints,
        active_users,
        active_access_tokens,
        active_refresh_tokens,
    })
}

/// An App a user has let act for them, as the connected-apps page shows it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub app: AppRecord,
    pub scopes: roost_domain::ScopeSet,
    pub granted_at: i64,
    pub last_used_at: Option<i64>,
}

/// The Apps that hold a live grant for the user.
pub async fn connections(
    state: &AppState,
    user: &UserRecord,
) -> Result<Vec<Connection>, StoreError> {
    state.usage.flush(state.store.as_ref()).await?;
    let mut out = Vec::new();
    for c in state.store.connected_apps(user.id, state.now()).await? {
        if let Some(app) = state.store.app_by_id(c.app_id).await? {
            out.push(Connection {
                app,
                scopes: c.scopes,
                granted_at: c.granted_at,
                last_used_at: c.last_used_at,
            });
        }
    }
    Ok(out)
}

/// Revokes every grant the App holds for the user: every token of them stops working at once,
/// on every node. How many grants were live.
pub async fn revoke_connection(
    state: &AppState,
    user: &UserRecord,
    app_id: Snowflake,
) -> Result<u64, StoreError> {
    let n = state
        .store
        .revoke_app_for_user(app_id, user.id, state.now())
        .await?;
    // The grants' tokens leave this node's cache now; the feed tells the others.
    state
        .tokens
        .retain(|p| !matches!(p, crate::api::principal::Principal::User { user_id, app_id: a, .. } if *user_id == user.id && *a == app_id));
    tracing::info!(user_id = %user.id, %app_id, grants = n, "connected App revoked by the user");
    Ok(n)
}

/// A username from a form or a path, or [`AccountError::UnknownUser`].
pub fn parse_username(s: &str) -> Result<Username, AccountError> {
    Username::parse(s).map_err(|_| AccountError::UnknownUser(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_the_last_four_characters() {
        let s = Secret::from_presented("abcdefgh".to_owned());
        assert_eq!(hint_of(&s), "efgh");
        let short = Secret::from_presented("ab".to_owned());
        assert_eq!(hint_of(&short), "ab");
    }

    #[test]
    fn ownership() {
        let p = ProjectRecord {
            id: Snowflake::from_i64(1).unwrap(),
            name: "P".into(),
            created_at: 0,
            owner_id: Snowflake::from_i64(7).ok(),
        };
        let owner = Snowflake::from_i64(7).unwrap();
        let other = Snowflake::from_i64(8).unwrap();
        assert!(can_manage(&p, owner, false));
        assert!(!can_manage(&p, other, false));
        assert!(can_manage(&p, other, true));
        let unowned = ProjectRecord {
            owner_id: None,
            ..p
        };
        assert!(!can_manage(&unowned, owner, false));
    }

    #[test]
    fn callback_lists_are_validated() {
        let ok = parse_callbacks(&["https://a.example/cb".into(), "http://127.0.0.1/cb".into()]);
        assert_eq!(ok.unwrap().len(), 2);
        assert!(matches!(
            parse_callbacks(&[]),
            Err(AccountError::NoCallback)
        ));
        assert!(matches!(
            parse_callbacks(&["http://example.com/cb".into()]),
            Err(AccountError::Callback(_))
        ));
        assert!(matches!(
            parse_callbacks(&["https://a.example/cb".into(), "https://a.example/cb".into()]),
            Err(AccountError::DuplicateCallback(_))
        ));
    }
}
