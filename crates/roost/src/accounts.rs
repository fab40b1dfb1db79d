//! Creating Apps and users, and checking passwords. Shared by the CLI, the demo loader and the
//! web login.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use roost_domain::secret::random_alphanumeric;
use roost_domain::{
    AppKind, ClientId, ClientType, RedirectUri, Secret, Snowflake, SnowflakeGenerator, Username,
    WebsiteUrl,
};
use roost_store::{
    AppProfile, AppRecord, Deletion, NewApp, NewUser, Store, StoreError, UserRecord,
};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::state::AppState;

/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane (checklist G4).
const ARGON_M_KIB: u32 = 19_456;
const ARGON_T: u32 = 2;
const ARGON_P: u32 = 1;
/// Longer passwords are refused before hashing, so a huge one costs nothing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("username `{0}` is taken")]
    DuplicateUsername(String),
    #[error("a username is 1 to 15 characters of A-Z, a-z, 0-9 and _ (got `{0}`)")]
    BadUsername(String),
    #[error("the display name must be 1 to 50 characters")]
    BadName,
    #[error("the password must be 1 to {MAX_PASSWORD_BYTES} bytes")]
    BadPassword,
    #[error("the App name must be 1 to 100 characters")]
    BadAppName,
    #[error("the project name must be 1 to 100 characters")]
    BadProjectName,
    #[error("an App needs at least one callback URL")]
    NoCallback,
    #[error(
        "the App type must be `web` (or `confidential`), `native` (or `public`) or `single_page` (or `spa`) (got `{0}`)"
    )]
    BadClientType(String),
    #[error("no App has client_id `{0}`")]
    UnknownApp(String),
    #[error("no user has the username `{0}`")]
    UnknownUser(String),
    #[error(transparent)]
    Callback(#[from] roost_domain::RedirectUriError),
    #[error("the callback URL `{0}` is listed twice")]
    DuplicateCallback(String),
    #[error("no Project has the id `{0}`")]
    UnknownProject(String),
    #[error("a Project named `{0}` exists already")]
    ProjectTaken(String),
    #[error("the description must be at most 1000 characters, without control characters")]
    BadDescription,
    #[error(transparent)]
    Website(roost_domain::WebsiteUrlError),
    #[error("the App type must be `native`, `single_page` or `web` (got `{0}`)")]
    BadAppKind(String),
    #[error(
        "a {from} cannot become a {to}: the client type (public or confidential) is fixed when the App is created"
    )]
    KindChange {
        from: &'static str,
        to: &'static str,
    },
    #[error("the App `{0}` is a public client: it has no Client Secret")]
    PublicClientSecret(String),
    #[error("give the App's Project by `project_id` or by `project` name, not both")]
    ProjectTwice,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(StoreError),
}

impl AccountError {
    /// The input field a validation error is about (as the admin API's JSON names it).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AccountError::BadUsername(_) => Some("username"),
            AccountError::BadName | AccountError::BadAppName => Some("name"),
            AccountError::BadPassword => Some("password"),
            AccountError::BadProjectName => Some("project"),
            AccountError::NoCallback
            | AccountError::Callback(_)
            | AccountError::DuplicateCallback(_) => Some("callbacks"),
            AccountError::BadClientType(_)
            | AccountError::BadAppKind(_)
            | AccountError::KindChange { .. } => Some("type"),
            AccountError::BadDescription => Some("description"),
            AccountError::ProjectTwice => Some("project_id"),
            AccountError::Website(_) => Some("website_url"),
            _ => None,
        }
    }
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(e)
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON_M_KIB, ARGON_T, ARGON_P, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id (blocking: call from `spawn_blocking`).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    hash_counted(password, &AtomicU64::new(0))
}

fn hash_counted(password: &str, runs: &AtomicU64) -> Result<String, AccountError> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::BadPassword);
    }
    runs.fetch_add(1, Ordering::Relaxed);
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// What checking a password found.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    Ok,
    /// Right password, but stored with weaker parameters than today's: store this new hash.
    OkRehash(String),
    Wrong,
}

/// Verifies `password` against a stored PHC string; with `None` (unknown user) it verifies
/// against a fixed dummy hash so both cases take the same time (checklist A20). Blocking.
pub fn check_password(stored: Option<&str>, password: &str) -> PasswordCheck {
    check_counted(stored, password, &AtomicU64::new(0))
}

/// `check_password`, adding the argon2 computations it runs to `runs` (the dummy hash, made
/// once per process, is not one of them).
fn check_counted(stored: Option<&str>, password: &str, runs: &AtomicU64) -> PasswordCheck {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("roost-dummy-password").unwrap_or_default());
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return PasswordCheck::Wrong;
    };
    if password.len() > MAX_PASSWORD_BYTES {
        return PasswordCheck::Wrong;
    }
    runs.fetch_add(1, Ordering::Relaxed);
    if argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
        || !real
    {
        return PasswordCheck::Wrong;
    }
    let weak = parsed.algorithm.as_str() != "argon2id"
        || Params::try_from(&parsed)
            .map(|p| p.m_cost() < ARGON_M_KIB || p.t_cost() < ARGON_T)
            .unwrap_or(true);
    if weak {
        match hash_counted(password, runs) {
            Ok(h) => PasswordCheck::OkRehash(h),
            Err(_) => PasswordCheck::Ok,
        }
    } else {
        PasswordCheck::Ok
    }
}

/// Runs password hashing off the async threads, at most `permits` at once (checklist K2), so
/// memory stays at 19 MiB × permits however many logins arrive.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// How long a login waits for a permit.
    wait: Duration,
    /// argon2 computations run so far: checked, a way to show that only logins and new
    /// passwords pay for argon2 and the token endpoint never does (checklist K2).
    runs: Arc<AtomicU64>,
}

/// Every permit stayed busy for the whole wait: the login is answered 503, unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every password hashing slot is busy")]
pub struct HasherBusy;

impl Hasher {
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            wait,
            runs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many argon2 computations (password checks and hashes) this hasher has run.
    pub fn argon2_runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Checks a login's password, waiting at most the configured time for a permit: a flood of
    /// logins queues briefly and is then turned away, instead of piling up until the request
    /// timeout.
    pub async fn check(
        &self,
        stored: Option<String>,
        password: String,
    ) -> Result<PasswordCheck, HasherBusy> {
        let Ok(Ok(_permit)) = tokio::time::timeout(self.wait, self.permits.acquire()).await else {
            return Err(HasherBusy);
        };
        let runs = Arc::clone(&self.runs);
        Ok(
            tokio::task::spawn_blocking(move || check_counted(stored.as_deref(), &password, &runs))
                .await
                .unwrap_or(PasswordCheck::Wrong),
        )
    }

    /// Hashes a new password. Only the admin commands and the import set passwords; they wait
    /// as long as it takes.
    pub async fn hash(&self, password: String) -> Result<String, AccountError> {
        let Ok(_permit) = self.permits.acquire().await else {
            return Err(AccountError::Hash("shutting down".into()));
        };
        let runs = Arc::clone(&self.runs);
        tokio::task::spawn_blocking(move || hash_counted(&password, &runs))
            .await
            .map_err(|e| AccountError::Hash(e.to_string()))?
    }
}

/// What creating an App hands back: the only time the secrets are shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedApp {
    pub project_id: String,
    pub app_id: String,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub api_key: String,
    pub api_secret: String,
    #[serde(skip)]
    pub record: Option<AppRecord>,
}

pub struct AppSpec<'a> {
    pub name: &'a str,
    pub project: &'a str,
    pub client_type: ClientType,
    pub callbacks: &'a [String],
    /// Fixed credentials (the demo data set's documented ones); `None` draws fresh random ones.
    pub fixed: Option<FixedCredentials>,
}

#[derive(Debug, Clone)]
pub struct FixedCredentials {
    pub client_id: ClientId,
    pub client_secret: Option<Secret>,
    pub api_key: String,
    pub api_secret: Secret,
}

/// What an App may have besides an [`AppSpec`]: an existing Project to go in (instead of the
/// Project named by the spec, made if new), X's App type, a description and a website.
#[derive(Debug, Clone, Default)]
pub struct AppDetails {
    pub project_id: Option<Snowflake>,
    /// Must be of the spec's client type; `None`: the one a bare client type stands for.
    pub kind: Option<AppKind>,
    pub description: String,
    pub website_url: Option<WebsiteUrl>,
}

/// Validates and stores a new App with fresh credentials.
pub async fn create_app(
    store: &dyn Store,
    ids: &SnowflakeGenerator,
    now: i64,
    spec: AppSpec<'_>,
) -> Result<CreatedApp, AccountError> {
    create_app_with(store, ids, now, spec, AppDetails::default()).await
}

/// [`create_app`] with the portal's details, in the one statement that creates the App (and
/// its Project if it is new): a refused App leaves nothing behind.
pub async fn create_app_with(
    store: &dyn Store,
    ids: &SnowflakeGenerator,
    now: i64,
    spec: AppSpec<'_>,
    details: AppDetails,
) -> Result<CreatedApp, AccountError> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AccountError::BadAppName);
    }
    let project = spec.project.trim();
    if details.project_id.is_none() && (project.is_empty() || project.chars().count() > 100) {
        return Err(AccountError::BadProjectName);
    }
    let kind = match details.kind {
        Some(k) if k.client_type() != spec.client_type => {
            return Err(AccountError::BadClientType(k.as_str().to_owned()));
        }
        Some(k) => k,
        None => AppKind::of_client_type(spec.client_type),
    };
    if spec.callbacks.is_empty() {
        return Err(AccountError::NoCallback);
    }
    let callbacks = spec
        .callbacks
        .iter()
        .map(|c| RedirectUri::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let creds = spec.fixed.unwrap_or_else(|| FixedCredentials {
        client_id: ClientId::generate(),
        client_secret: (spec.client_type == ClientType::Confidential).then(Secret::client_secret),
        api_key: random_alphanumeric(25),
        api_secret: Secret::client_secret(),
    });
    let client_secret = creds
        .client_secret
        .filter(|_| spec.client_type == ClientType::Confidential);
    let api_secret = creds.api_secret;
    let record = store
        .create_app(NewApp {
            id: ids.next(now),
            new_project_id: ids.next(now),
            project_name: project.to_owned(),
            name: name.to_owned(),
            client_id: creds.client_id,
            client_type: spec.client_type,
            client_secret_hash: client_secret.as_ref().map(Secret::hash),
            api_key: creds.api_key,
            api_secret_hash: api_secret.hash(),
            callbacks,
            project_id: details.project_id,
            profile: AppProfile {
                kind,
                description: details.description,
                website_url: details.website_url,
                client_secret_hint: client_secret.as_ref().map(crate::developer::hint_of),
                api_secret_hint: Some(crate::developer::hint_of(&api_secret)),
            },
            now,
        })
        .await
        .map_err(|e| match (e, details.project_id) {
            (StoreError::NotFound("project"), Some(pid)) => {
                AccountError::UnknownProject(pid.to_string())
            }
            (e, _) => e.into(),
        })?;
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

fn default_project() -> String {
    "Default Project".to_owned()
}

/// What `roost apps create` and `POST /admin/v1/apps` take.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    pub name: String,
    /// The Project's name, created if new; `Default Project` when neither this nor
    /// `project_id` is given.
    #[serde(default)]
    pub project: Option<String>,
    /// An existing Project's id.
    #[serde(default)]
    pub project_id: Option<String>,
    /// `confidential` or `public`, or X's App types: `web`, `native`, `single_page` (`spa`).
    #[serde(rename = "type")]
    pub client_type: String,
    pub callbacks: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Absent or empty: none.
    #[serde(default)]
    pub website_url: Option<String>,
    /// Test-only: the user this App's authorization requests are granted for, without login or
    /// consent.
    #[serde(default)]
    pub auto_consent_user: Option<String>,
}

/// An App created from [`AppInput`]: what `apps create --json` prints and the admin API answers.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedAppOutput {
    #[serde(flatten)]
    pub created: CreatedApp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_consent_user: Option<String>,
}

/// Validates `input` and creates the App, with its auto-consent user if one is named (checked
/// first, so that an unknown user creates nothing).
pub async fn create_app_from(
    state: &AppState,
    input: &AppInput,
) -> Result<CreatedAppOutput, AccountError> {
    let kind = AppKind::parse(input.client_type.trim())
        .ok_or_else(|| AccountError::BadClientType(input.client_type.clone()))?;
    let description = roost_domain::parse_description(input.description.as_deref().unwrap_or(""))
        .map_err(|_| AccountError::BadDescription)?;
    let website_url = match input.website_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(w) => Some(WebsiteUrl::parse(w).map_err(AccountError::Website)?),
    };
    let project_id = match (&input.project_id, &input.project) {
        (Some(_), Some(_)) => return Err(AccountError::ProjectTwice),
        (Some(id), None) => Some(crate::developer::find_project(state, id).await?.id),
        (None, _) => None,
    };
    let auto = match &input.auto_consent_user {
        Some(u) => Some(find_user(state, u).await?),
        None => None,
    };
    let default = default_project();
    let spec = AppSpec {
        name: &input.name,
        project: input.project.as_deref().unwrap_or(&default),
        client_type: kind.client_type(),
        callbacks: &input.callbacks,
        fixed: None,
    };
    let details = AppDetails {
        project_id,
        kind: Some(kind),
        description,
        website_url,
    };
    let created =
        create_app_with(state.store.as_ref(), &state.ids, state.now(), spec, details).await?;
    if let (Some(user), Some(record)) = (&auto, &created.record) {
        state
            .store
            .set_auto_consent(record.id, Some(user.id))
            .await?;
        tracing::warn!(client_id = %record.client_id, username = %user.username, "auto_consent (test-only) is on for this App");
    }
    Ok(CreatedAppOutput {
        created,
        auto_consent_user: auto.map(|u| u.username.to_string()),
    })
}

/// The user called `username`, or [`AccountError::UnknownUser`].
pub async fn find_user(state: &AppState, username: &str) -> Result<UserRecord, AccountError> {
    let name =
        Username::parse(username).map_err(|_| AccountError::UnknownUser(username.to_owned()))?;
    state
        .store
        .user_by_username(&name)
        .await?
        .ok_or_else(|| AccountError::UnknownUser(username.to_owned()))
}

/// The App with this client id, or [`AccountError::UnknownApp`].
pub async fn find_app(state: &AppState, client_id: &str) -> Result<AppRecord, AccountError> {
    state
        .store
        .app_by_client_id(client_id)
        .await?
        .ok_or_else(|| AccountError::UnknownApp(client_id.to_owned()))
}

/// Turns an App's auto-consent on for `username`, or off with `None`; the App as it now is.
pub async fn set_auto_consent(
    state: &AppState,
    client_id: &str,
    username: Option<&str>,
) -> Result<(AppRecord, Option<UserRecord>), AccountError> {
    let app = find_app(state, client_id).await?;
    let user = match username {
        Some(u) => Some(find_user(state, u).await?),
        None => None,
    };
    if !state
        .store
        .set_auto_consent(app.id, user.as_ref().map(|u| u.id))
        .await?
    {
        return Err(AccountError::UnknownApp(client_id.to_owned()));
    }
    state.apps.forget(app.id);
    match &user {
        Some(u) => {
            tracing::warn!(client_id, username = %u.username, "auto_consent (test-only) turned on");
        }
        None => tracing::info!(client_id, "auto_consent turned off"),
    }
    let app = find_app(state, client_id).await?;
    Ok((app, user))
}

/// What `users create --json` prints and the admin API answers for a user.
pub fn user_json(user: &UserRecord) -> serde_json::Value {
    serde_json::json!({"id": user.id, "username": user.username, "name": user.name})
}

/// What `apps delete --json` prints and `DELETE /admin/v1/apps/{client_id}` answers.
pub fn app_deletion_json(app: &AppRecord, deleted: &Deletion) -> serde_json::Value {
    serde_json::json!({
        "app_id": deleted.id,
        "client_id": app.client_id.as_str(),
        "name": app.name,
        "removed": deleted.removed,
    })
}

/// What `users delete --json` prints and `DELETE /admin/v1/users/{username}` answers.
pub fn user_deletion_json(user: &UserRecord, deleted: &Deletion) -> serde_json::Value {
    serde_json::json!({
        "id": deleted.id,
        "username": user.username.as_str(),
        "removed": deleted.removed,
    })
}

/// Validates and stores a new user.
pub async fn create_user(
    store: &dyn Store,
    ids: &SnowflakeGenerator,
    hasher: &Hasher,
    now: i64,
    username: &str,
    name: &str,
    password: Option<&str>,
) -> Result<UserRecord, AccountError> {
    let username =
        Username::parse(username).map_err(|_| AccountError::BadUsername(username.to_owned()))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(AccountError::BadName);
    }
    let password_hash = match password {
        Some(p) => Some(hasher.hash(p.to_owned()).await?),
        None => None,
    };
    let user = NewUser {
        id: ids.next(now),
        username: username.clone(),
        name: name.to_owned(),
        password_hash,
        now,
    };
    store.create_user(user).await.map_err(|e| match e {
        StoreError::Conflict(_) => AccountError::DuplicateUsername(username.to_string()),
        other => AccountError::Store(other),
    })
}

/// Deletes an App and everything it was issued, in one transaction (checklist G10). This server
/// stops honouring the App's tokens at once; other servers on the store notice the content
/// version move within their poll interval, and at worst when their cached tokens expire
/// (`token_cache_ttl`).
pub async fn delete_app(
    state: &AppState,
    client_id: &str,
) -> Result<(AppRecord, Deletion), AccountError> {
    let unknown = || AccountError::UnknownApp(client_id.to_owned());
    let app = state
        .store
        .app_by_client_id(client_id)
        .await?
        .ok_or_else(unknown)?;
    let store = state.store.as_ref();
    // Through the world's write lock, so that this server takes the new content version as
    // its own instead of reloading for a change that touched no content.
    let deleted = state
        .world
        .write(store, store.delete_app(client_id), |_, _| {})
        .await?
        .ok_or_else(unknown)?;
    state.apps.forget(deleted.id);
    state.tokens.forget_app(deleted.id);
    tracing::info!(client_id, app_id = %deleted.id, removed = ?deleted.removed, "App deleted");
    Ok((app, deleted))
}

/// Deletes a user with their sessions, grants, tokens, tweets, follows and Spaces, in one
/// transaction (checklist G10). This server drops their tokens and content at once; other
/// servers as for [`delete_app`].
pub async fn delete_user(
    state: &AppState,
    username: &str,
) -> Result<(UserRecord, Deletion), AccountError> {
    let name =
        Username::parse(username).map_err(|_| AccountError::BadUsername(username.to_owned()))?;
    let unknown = || AccountError::UnknownUser(username.to_owned());
    let user = state
        .store
        .user_by_username(&name)
        .await?
        .ok_or_else(unknown)?;
    let deleted = state.store.delete_user(&name).await?.ok_or_else(unknown)?;
    state.tokens.forget_user(deleted.id);
    // The version moved: this reloads the world without the user and their content.
    state.world.refresh(state.store.as_ref()).await?;
    tracing::info!(user_id = %deleted.id, removed = ?deleted.removed, "user deleted");
    Ok((user, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_with_owasp_parameters() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(check_password(Some(&h), "correct horse"), PasswordCheck::Ok);
        assert_eq!(check_password(Some(&h), "wrong"), PasswordCheck::Wrong);
        assert_eq!(
            check_password(None, "roost-dummy-password"),
            PasswordCheck::Wrong
        );
        assert!(hash_password(&"x".repeat(1025)).is_err());
        assert!(hash_password("").is_err());
    }

    #[test]
    fn every_argon2_computation_is_counted() {
        let runs = AtomicU64::new(0);
        let h = hash_counted("correct horse", &runs).unwrap();
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(
            check_counted(Some(&h), "wrong", &runs),
            PasswordCheck::Wrong
        );
        assert_eq!(
            check_counted(None, "correct horse", &runs),
            PasswordCheck::Wrong
        );
        assert_eq!(runs.load(Ordering::Relaxed), 3);
        // Refused before argon2: nothing computed.
        assert!(hash_counted("", &runs).is_err());
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(check_counted(Some(&h), &long, &runs), PasswordCheck::Wrong);
        assert_eq!(
            check_counted(Some("not a PHC string"), "pw", &runs),
            PasswordCheck::Wrong
        );
        assert_eq!(runs.load(Ordering::Relaxed), 3);
        // A weak hash is checked, then hashed again: two.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(matches!(
            check_counted(Some(&weak), "pw", &runs),
            PasswordCheck::OkRehash(_)
        ));
        assert_eq!(runs.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn weak_hashes_are_upgraded() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        match check_password(Some(&weak), "pw") {
            PasswordCheck::OkRehash(h) => assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")),
            other => panic!("{other:?}"),
        }
    }
}
