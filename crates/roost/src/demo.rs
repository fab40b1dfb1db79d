//! The `--demo` data set: a project with a confidential and a public App, and users who can log
//! in. Its credentials are fixed and documented (README), so examples can be copied as they are;
//! they are for local use only, and `serve --demo` says so when it prints them.

use roost_domain::{ClientId, ClientType, CodeChallenge, CodeVerifier, Secret};

use crate::accounts::{self, AppSpec, FixedCredentials};
use crate::state::AppState;

pub const CALLBACK: &str = "http://127.0.0.1:8976/callback";
pub const PROJECT: &str = "Demo Project";
pub const WEB_APP: &str = "Demo Web App";
pub const NATIVE_APP: &str = "Demo Native App";
pub const WEB_CLIENT_ID: &str = "ZGVtby13ZWItYXBwOjE6Y2k";
pub const WEB_CLIENT_SECRET: &str = "demo-web-app-client-secret-not-for-production-use-0001";
pub const NATIVE_CLIENT_ID: &str = "ZGVtby1uYXRpdmUtYXBwOjE6Y2k";
pub const WEB_API_KEY: &str = "demowebappapikey000000001";
pub const WEB_API_SECRET: &str = "demo-web-app-api-secret-not-for-production-use-00001";
pub const NATIVE_API_KEY: &str = "demonativeappapikey000001";
pub const NATIVE_API_SECRET: &str = "demo-native-app-api-secret-not-for-production-use-01";
/// The demo users who can log in (their passwords are in `data/demo.json`).
pub const USERS: &[(&str, &str, &str)] = &[
    ("alice", "Alice Example", "alice-password"),
    ("bob", "Bob Example", "bob-password"),
    ("judy_reads", "Judy Mensah", "judy-password"),
];

/// Loads the demo data if the store is empty. Returns whether it did.
pub async fn load_if_empty(state: &AppState) -> anyhow::Result<bool> {
    if !state.store.is_empty().await? {
        return Ok(false);
    }
    let now = state.now();
    let callbacks = [CALLBACK.to_owned()];
    for (name, ty, client_id, secret, api_key, api_secret) in [
        (
            WEB_APP,
            ClientType::Confidential,
            WEB_CLIENT_ID,
            Some(WEB_CLIENT_SECRET),
            WEB_API_KEY,
            WEB_API_SECRET,
        ),
        (
            NATIVE_APP,
            ClientType::Public,
            NATIVE_CLIENT_ID,
            None,
            NATIVE_API_KEY,
            NATIVE_API_SECRET,
        ),
    ] {
        let fixed = FixedCredentials {
            client_id: ClientId::parse(client_id)?,
            client_secret: secret.map(Secret::from_presented),
            api_key: api_key.to_owned(),
            api_secret: Secret::from_presented(api_secret),
        };
        let spec = AppSpec {
            name,
            project: PROJECT,
            client_type: ty,
            callbacks: &callbacks,
            fixed: Some(fixed),
        };
        accounts::create_app(state.store.as_ref(), &state.ids, now, spec).await?;
    }
    load_content(state).await?;
    // alice develops the demo Apps: the portal shows them to her.
    let alice = roost_domain::Username::parse(USERS[0].0)?;
    if let (Some(user), Some(app)) = (
        state.store.user_by_username(&alice).await?,
        state.store.app_by_client_id(WEB_CLIENT_ID).await?,
    ) {
        state
            .store
            .set_project_owner(app.project_id, Some(user.id))
            .await?;
    }
    Ok(true)
}

/// The moment the demo file's times are written against (`scripts/gen-demo-data.py`'s cutoff,
/// 2026-11-01T00:00:00Z): nothing in it is later, scheduled Spaces excepted.
pub const ANCHOR_MS: i64 = 1_793_491_200_000;
const MINUTE_MS: i64 = 60_000;

/// How far the demo's Space times move when loaded at `now_ms`: the time from the anchor to
/// now, in whole minutes. Tweets and follows keep their dates (history may be old); Spaces live
/// in the present, so a live Space started minutes before the load and a scheduled one starts
/// days after it, whenever the demo is loaded.
pub fn space_shift_ms(now_ms: i64) -> i64 {
    (now_ms - ANCHOR_MS).div_euclid(MINUTE_MS) * MINUTE_MS
}

/// Imports the demo's users, tweets, follows, spaces and topics (the data set `roost import`
/// also takes) with the Space times moved to the present, and makes the server see them.
/// Returns what was imported and the shift applied.
pub async fn load_content(state: &AppState) -> anyhow::Result<(roost_store::ImportReport, i64)> {
    let now = state.now();
    let existing = state.store.load_content().await?;
    let auth = state.store.load_auth().await?;
    let mut batch =
        crate::content::import::parse(DATA, &existing, &auth, &state.hasher, now).await?;
    let shift = space_shift_ms(now);
    for s in &mut batch.spaces {
        s.created_at += shift;
        for t in [
            &mut s.updated_at,
            &mut s.started_at,
            &mut s.ended_at,
            &mut s.scheduled_start,
        ]
        .into_iter()
        .flatten()
        {
            *t += shift;
        }
    }
    let report = state.store.import(batch).await?;
    state.world.refresh(state.store.as_ref()).await?;
    Ok((report, shift))
}

/// The demo data set (`crates/roost/data/demo.json`, made by `scripts/gen-demo-data.py`).
pub const DATA: &str = include_str!("../data/demo.json");

/// Whether the demo data set is in the store (loaded by an earlier `serve --demo`), so that the
/// credentials the banner prints exist.
pub async fn is_loaded(state: &AppState) -> anyhow::Result<bool> {
    Ok(state.store.app_by_client_id(WEB_CLIENT_ID).await?.is_some())
}

/// What `serve --demo` prints: everything a person needs to run the flow with a browser and curl.
pub fn banner(state: &AppState) -> String {
    let verifier = CodeVerifier::random();
    let challenge = CodeChallenge::s256_of(&verifier);
    let st = roost_domain::secret::random_base64url(12);
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", WEB_CLIENT_ID)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "tweet.read users.read offline.access")
        .append_pair("state", &st)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let authorize = state.url(&format!("/i/oauth2/authorize?{}", q.finish()));
    let base = &state.public_url;
    let verifier = verifier.secret_str();
    let mut lines = vec![
        String::new(),
        format!(
            "roost is running at {base}   (demo data: these credentials are public, never use them for real)"
        ),
        String::new(),
        "  Users (sign in on the authorize page):".to_owned(),
    ];
    lines.extend(
        USERS
            .iter()
            .map(|(u, _, p)| format!("    {u:<10} password: {p}")),
    );
    lines.extend([
        String::new(),
        format!("  {WEB_APP} (confidential)"),
        format!("    client_id:     {WEB_CLIENT_ID}"),
        format!("    client_secret: {WEB_CLIENT_SECRET}"),
        format!("    api_key:       {WEB_API_KEY}"),
        format!("    api_secret:    {WEB_API_SECRET}"),
        format!("  {NATIVE_APP} (public)"),
        format!("    client_id:     {NATIVE_CLIENT_ID}   (no client secret: public Apps have none)"),
        format!("    api_key:       {NATIVE_API_KEY}"),
        format!("    api_secret:    {NATIVE_API_SECRET}"),
        format!("  Callback URL of both: {CALLBACK}"),
        String::new(),
        "  1. Open this URL in a browser, sign in as alice and click \"Authorize app\":".to_owned(),
        format!("     {authorize}"),
        format!("  2. The browser lands on {CALLBACK}?state=...&code=CODE; nothing listens there, so copy"),
        "     CODE from the address bar and exchange it within 30 seconds:".to_owned(),
        format!("     curl -s -u '{WEB_CLIENT_ID}:{WEB_CLIENT_SECRET}' {base}/2/oauth2/token \\"),
        format!("       -d grant_type=authorization_code -d redirect_uri={CALLBACK} \\"),
        format!("       -d code_verifier={verifier} -d code=CODE"),
        "  3. Call the API with the access token:".to_owned(),
        format!("     curl -s -H 'Authorization: Bearer ACCESS_TOKEN' {base}/2/users/me"),
        format!(
            "  Developer portal: {base}/portal (sign in as {}: the demo Apps are hers; keys, callbacks, usage)",
            USERS[0].0
        ),
        format!("  Connected apps:   {base}/settings/connected_apps (revoke an App's access)"),
        "  App-only Bearer Token:".to_owned(),
        format!("     curl -s -u '{WEB_API_KEY}:{WEB_API_SECRET}' {base}/oauth2/token -d grant_type=client_credentials"),
        String::new(),
    ]);
    lines.join("\n")
}
