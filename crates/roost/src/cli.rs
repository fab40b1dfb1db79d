//! The command line (CONTRACT.md): `serve`, `migrate`, `apps create|list|delete`,
//! `users create|delete`, `import`, `admin-token create`,
//! and the test-only `tokens mint` and `apps set-auto-consent`. The developer portal's commands
//! (`projects ...`, `apps update|regenerate|bearer-token|usage`, `users
//! promote|connected-apps|revoke-app`) are in `developer_cli`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use roost_domain::SnapshotName;
use roost_store::Store;

use crate::accounts;
use crate::clock::Clock;
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "roost",
    version,
    about = "A self-hosted X (Twitter) OAuth 2.0 server and X API v2"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the store is and which config file to read; every command takes these.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Database URL: sqlite://PATH (created if missing) [default: sqlite://roost.db]
    #[arg(long, env = "ROOST_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// TOML file with tunables (see the README's configuration reference)
    #[arg(long, env = "ROOST_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Redis server for rate-limit counts shared by several nodes: redis://HOST[:PORT][/DB]
    /// [default: none; counts in the store on PostgreSQL, in memory on SQLite]
    #[arg(long, env = "ROOST_REDIS_URL", global = true)]
    pub redis_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server
    Serve(ServeArgs),
    /// Apply schema migrations and exit
    Migrate(CommonOnly),
    /// Manage Apps
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Manage users
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage Projects (the developer portal's groups of Apps)
    #[command(subcommand)]
    Projects(crate::developer_cli::ProjectsCommand),
    /// Import users, tweets, follows and spaces from a JSON file (all or nothing)
    Import(ImportArgs),
    /// TEST-ONLY: issue tokens without a browser
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Write the whole store as an import file (holds digests of secrets: keep it private)
    Export(ExportArgs),
    /// Save, list and delete named snapshots of the store
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Empty the store, or put it back to a snapshot (keeps server keys, admin tokens, snapshots)
    Reset(ResetArgs),
    /// Manage admin tokens (the credentials of the admin HTTP API, /admin/v1)
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCommand),
    /// TEST-ONLY: show or move a running server's clock (needs --sandbox; moving it --clock manual)
    #[command(subcommand)]
    Clock(crate::sandbox::cli::ClockCommand),
    /// TEST-ONLY: fault rules of a running server (429, 503, 500, delays)
    #[command(subcommand)]
    Faults(crate::sandbox::cli::FaultsCommand),
    /// The last requests of an App on a running server (the request inspector)
    Logs(crate::sandbox::cli::LogsArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Mint a grant and its tokens for a user of an App, as the consent page and the code
    /// exchange would (refresh token with offline.access)
    Mint(TokensMint),
}

#[derive(Debug, Args)]
pub struct TokensMint {
    #[command(flatten)]
    pub common: Common,
    /// The App's client_id
    #[arg(long)]
    pub app: String,
    /// The user's username
    #[arg(long)]
    pub user: String,
    /// Space-separated scopes, e.g. "tweet.read users.read offline.access"
    #[arg(long)]
    pub scope: String,
    /// The access token's lifetime in seconds [default: access_token_ttl]
    #[arg(long)]
    pub expires_in: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: Common,
    /// Where to write the document; `-` (the default) is standard output
    #[arg(default_value = "-")]
    pub file: PathBuf,
    /// After writing a file, print the counts as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Save the store as it is now under NAME (replacing a snapshot of that name)
    Save(SnapshotNameArgs),
    /// List the snapshots
    List(JsonOnly),
    /// Delete the snapshot NAME
    Delete(SnapshotNameArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotNameArgs {
    #[command(flatten)]
    pub common: Common,
    /// 1 to 64 characters of A-Z a-z 0-9 . _ -
    #[arg(value_parser = parse_snapshot_name)]
    pub name: SnapshotName,
    /// Print the result as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub common: Common,
    /// The snapshot to restore; without it the store is emptied
    #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
    pub to: Option<SnapshotName>,
    /// Print the result as one JSON object
    #[arg(long)]
    pub json: bool,
}

fn parse_snapshot_name(s: &str) -> Result<SnapshotName, String> {
    SnapshotName::parse(s).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create an admin token and print it once (roost keeps only its SHA-256 digest)
    Create(AdminTokenCreate),
    /// List admin tokens (ids and labels; the tokens themselves are never shown again)
    List(JsonOnly),
    /// Revoke an admin token: it is refused from the next request on
    Revoke(AdminTokenRevoke),
}

#[derive(Debug, Args)]
pub struct AdminTokenRevoke {
    #[command(flatten)]
    pub common: Common,
    /// The token's id (as `admin-token list` shows it)
    pub id: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AdminTokenCreate {
    #[command(flatten)]
    pub common: Common,
    /// A note saying what the token is for (e.g. "CI")
    #[arg(long, default_value = "")]
    pub label: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub common: Common,
    /// The file: one JSON object with optional users, tweets, follows, spaces arrays
    pub file: PathBuf,
    /// Print the counts as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CommonOnly {
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Listen address HOST:PORT [default: 127.0.0.1:8080]
    #[arg(long, env = "ROOST_ADDR")]
    pub addr: Option<String>,
    /// Serve the admin API (/admin/v1) on this HOST:PORT only, not on --addr [default: on --addr]
    #[arg(long, env = "ROOST_ADMIN_ADDR")]
    pub admin_addr: Option<String>,
    /// The URL clients reach roost at [default: http://<addr>]
    #[arg(long, env = "ROOST_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Load demo data into an empty store and print credentials and an authorize URL (turns
    /// the sandbox controls on: the demo is for local development)
    #[arg(long)]
    pub demo: bool,
    /// Test-only: turn the sandbox controls on (token minting, auto-consent, manual clock,
    /// reset, faults) [default: off]
    #[arg(long, env = "ROOST_SANDBOX", value_parser = clap::builder::BoolishValueParser::new())]
    pub sandbox: bool,
    /// Test-only: `manual` starts a clock that moves only when told to [default: system]
    #[arg(long, env = "ROOST_CLOCK", value_enum)]
    pub clock: Option<crate::sandbox::ClockMode>,
    /// Test-only: derive generated ids from the clock and this seed (tokens stay random)
    #[arg(long, env = "ROOST_SEED")]
    pub seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an App (and its Project, if new)
    Create(AppsCreate),
    /// List Apps (no secrets: they are shown only once, at creation)
    List(JsonOnly),
    /// Delete an App and everything it was issued (codes, grants, tokens), at once
    Delete(AppsDelete),
    /// TEST-ONLY: grant this App's authorization requests for a user without login or consent
    SetAutoConsent(AppsSetAutoConsent),
    /// Change an App's name, description, website, type or callback URLs
    Update(crate::developer_cli::AppsUpdate),
    /// Draw a new Client Secret or API Key and Secret (printed once; the old one stops working)
    Regenerate(crate::developer_cli::AppsRegenerate),
    /// Print the App's app-only Bearer Token, or invalidate it with --revoke
    BearerToken(crate::developer_cli::AppsBearerToken),
    /// The App's requests per endpoint over the last 24 hours, and who holds its tokens
    Usage(crate::developer_cli::AppsUsage),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["user", "off"])))]
pub struct AppsSetAutoConsent {
    #[command(flatten)]
    pub common: Common,
    /// The App's client_id
    pub client_id: String,
    /// The user the App's authorization requests are granted for
    #[arg(long)]
    pub user: Option<String>,
    /// Turn auto-consent off (login and consent as usual)
    #[arg(long)]
    pub off: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppsDelete {
    #[command(flatten)]
    pub common: Common,
    /// The App's client_id (as `apps list` shows it)
    pub client_id: String,
    /// Print what was removed as one JSON object
    #[arg(long)]
    pub json: bool,
}

/// An App's type: the client types, or X's App types (`web` is confidential, `native` and
/// `spa` are public).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AppType {
    Confidential,
    Public,
    Native,
    #[value(name = "spa", alias = "single-page", alias = "single_page")]
    SinglePage,
    Web,
}

impl AppType {
    /// As the admin API's `type` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AppType::Confidential => "confidential",
            AppType::Public => "public",
            AppType::Native => "native",
            AppType::SinglePage => "single_page",
            AppType::Web => "web",
        }
    }
}

#[derive(Debug, Args)]
pub struct AppsCreate {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub name: String,
    /// The Project's name, created if it does not exist
    #[arg(long, default_value = "Default Project")]
    pub project: String,
    /// An existing Project's id, instead of --project
    #[arg(long, value_name = "ID", conflicts_with = "project")]
    pub project_id: Option<String>,
    /// confidential (= web) or public (= native), or X's App types
    #[arg(long = "type", value_enum)]
    pub app_type: AppType,
    /// A callback URL (repeat for several): https, or http on loopback
    #[arg(long = "callback", required = true)]
    pub callbacks: Vec<String>,
    /// What the App does, as the portal shows it (at most 1000 characters)
    #[arg(long)]
    pub description: Option<String>,
    /// The App's website: an absolute http(s) URL
    #[arg(long = "website", value_name = "URL")]
    pub website_url: Option<String>,
    /// TEST-ONLY: grant the App's authorization requests for this user without login or consent
    #[arg(long)]
    pub auto_consent_user: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonOnly {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user who can log in
    Create(UsersCreate),
    /// List users
    List(JsonOnly),
    /// Delete a user with their sessions, grants, tokens, tweets, follows and Spaces, at once
    Delete(UsersDelete),
    /// Make a user an admin of the developer portal (manages every Project), or not (--demote)
    Promote(crate::developer_cli::UsersPromote),
    /// The Apps that hold a live grant for a user
    ConnectedApps(crate::developer_cli::UsersConnectedApps),
    /// Revoke every grant of an App for a user: its tokens stop working at once
    RevokeApp(crate::developer_cli::UsersRevokeApp),
}

#[derive(Debug, Args)]
pub struct UsersDelete {
    #[command(flatten)]
    pub common: Common,
    pub username: String,
    /// Print what was removed as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsersCreate {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub password: String,
    /// An admin of the developer portal: manages every Project
    #[arg(long)]
    pub admin: bool,
    #[arg(long)]
    pub json: bool,
}

/// Reports a command line clap could not take and gives the exit code. `--help` and `--version`
/// print as clap prints them (exit 0); anything else is a usage error: clap's message on one
/// line of stderr, with its tip if it has one and where to find help (CONTRACT.md: a one-line
/// reason for bad input), exit code 2.
pub fn usage_exit(e: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // Nothing useful can be done when stdout is gone.
        let _ = e.print();
        return std::process::ExitCode::from(code);
    }
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!("{}", usage_line(e, &args));
    std::process::ExitCode::from(code)
}

/// clap's multi-line error as one line:
/// `roost: <message>[ [possible values: ...]][; tip: ...] (see roost <command> --help)`.
/// `args` (without the program name) tell which command's help to point at.
pub fn usage_line(e: &clap::Error, args: &[String]) -> String {
    use clap::CommandFactory;
    use clap::error::ErrorKind;
    let rendered = e.render().to_string();
    let mut message: Option<String> = None;
    let mut extra = String::new();
    // The message may go on over the next lines (the missing arguments), up to a blank line.
    let mut in_message = false;
    for line in rendered.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("error: ") {
            if message.is_none() {
                message = Some(m.to_owned());
                in_message = true;
            }
        } else if line.starts_with("[possible values:") {
            extra.push(' ');
            extra.push_str(line);
        } else if let Some(t) = line.strip_prefix("tip: ") {
            extra.push_str("; tip: ");
            extra.push_str(t);
        } else if line.is_empty() {
            in_message = false;
        } else if in_message && let Some(m) = message.as_mut() {
            m.push_str(if m.ends_with(':') { " " } else { ", " });
            m.push_str(line);
        }
    }
    // A command given without its subcommand renders as the whole help text, with no `error:`.
    let message = message.unwrap_or_else(|| match e.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a subcommand is required".to_owned()
        }
        kind => kind.to_string(),
    });
    // The deepest subcommand the arguments name.
    let mut command = Cli::command();
    let mut path = vec!["roost".to_owned()];
    for a in args {
        if a.starts_with('-') {
            continue;
        }
        // The first word that is not a subcommand ends the path (it is a value or a typo).
        let Some(sub) = command.find_subcommand(a).cloned() else {
            break;
        };
        path.push(sub.get_name().to_owned());
        command = sub;
    }
    format!("roost: {message}{extra} (see {} --help)", path.join(" ")).replace('\n', " ")
}

/// Defaults < TOML file < environment and flags.
pub fn load_config(common: &Common) -> anyhow::Result<Config> {
    let mut config = match &common.config {
        Some(path) => Config::from_toml_file(path)?,
        None => Config::default(),
    };
    if let Some(url) = &common.database_url {
        config.server.database_url = url.clone();
    }
    if let Some(url) = &common.redis_url {
        config.rate_limits.redis_url = Some(url.clone());
    }
    Ok(config)
}

pub(crate) async fn admin_state(common: &Common) -> anyhow::Result<crate::state::AppState> {
    let config = load_config(common)?;
    let store: Arc<dyn Store> = crate::open_store(&config).await?;
    // What the command writes (a minted token's expiry) is on the database's time too.
    let clock = Clock::system();
    crate::clock::sync_once(&clock, store.as_ref()).await?;
    crate::build_state(config, store, clock).await
}

pub async fn apps_create(args: AppsCreate) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let input = accounts::AppInput {
        name: args.name.clone(),
        project: args.project_id.is_none().then(|| args.project.clone()),
        project_id: args.project_id.clone(),
        client_type: args.app_type.as_str().to_owned(),
        callbacks: args.callbacks.clone(),
        description: args.description.clone(),
        website_url: args.website_url.clone(),
        auto_consent_user: args.auto_consent_user.clone(),
    };
    let out = accounts::create_app_from(&state, &input).await?;
    let created = &out.created;
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        let project = created
            .record
            .as_ref()
            .map_or(args.project.trim(), |r| r.project_name.as_str());
        println!(
            "Created App `{}` ({}) in project `{project}`.",
            args.name.trim(),
            input.client_type,
        );
        println!("  client_id:     {}", created.client_id);
        if let Some(s) = &created.client_secret {
            println!("  client_secret: {s}");
        }
        println!("  api_key:       {}", created.api_key);
        println!("  api_secret:    {}", created.api_secret);
        println!("Secrets are shown only now; roost keeps only their SHA-256 digests.");
        if let Some(u) = &out.auto_consent_user {
            println!(
                "TEST-ONLY auto-consent is on: authorization requests of this App are granted for @{u} without login or consent."
            );
        }
    }
    Ok(())
}

pub async fn apps_set_auto_consent(args: AppsSetAutoConsent) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let user = if args.off { None } else { args.user.as_deref() };
    let (app, user) = accounts::set_auto_consent(&state, &args.client_id, user).await?;
    let username = user.map(|u| u.username.to_string());
    if args.json {
        println!(
            "{}",
            serde_json::json!({"client_id": app.client_id.as_str(), "auto_consent_user": username})
        );
    } else if let Some(u) = username {
        println!(
            "TEST-ONLY auto-consent is on for App `{}`: its authorization requests are granted for @{u} without login or consent.",
            app.name
        );
    } else {
        println!("Auto-consent is off for App `{}`.", app.name);
    }
    Ok(())
}

pub async fn users_list(args: JsonOnly) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let users = state.store.list_users().await?;
    let admins = state.store.admin_user_ids().await?;
    if args.json {
        println!("{}", crate::admin::developer::users_json(&state).await?);
    } else if users.is_empty() {
        println!(
            "No users yet. Create one with: roost users create --username NAME --name DISPLAY_NAME --password PASSWORD"
        );
    } else {
        for u in &users {
            let admin = if admins.contains(&u.id) {
                "  [admin]"
            } else {
                ""
            };
            println!("{}  @{}  {}{admin}", u.id, u.username, u.name);
        }
    }
    Ok(())
}

pub async fn tokens_mint(args: TokensMint) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let input = crate::admin::tokens::MintInput {
        app: args.app,
        user: args.user,
        scope: args.scope,
        expires_in: args.expires_in,
    };
    let t = crate::admin::tokens::mint_tokens(&state, &input).await?;
    if args.json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        println!(
            "Minted tokens for @{} of App {} (scope `{}`).",
            input.user, input.app, t.scope
        );
        println!("  access_token:  {}", t.access_token);
        println!("  expires_in:    {} s", t.expires_in);
        if let Some(r) = &t.refresh_token {
            println!("  refresh_token: {r}");
        }
    }
    Ok(())
}

pub async fn apps_list(args: JsonOnly) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let listing = crate::admin::app_listing(&state).await?;
    if args.json {
        println!("{}", serde_json::json!({ "apps": listing }));
    } else if listing.is_empty() {
        println!(
            "No Apps yet. Create one with: roost apps create --name NAME --type confidential --callback URL"
        );
    } else {
        for a in &listing {
            println!(
                "{}  {}  [{}]  project `{}`  client_id {}  callbacks {}{}",
                a.app_id,
                a.name,
                a.client_type,
                a.project,
                a.client_id,
                a.callbacks.join(" "),
                a.auto_consent_user
                    .as_ref()
                    .map(|u| format!("  TEST-ONLY auto-consent @{u}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

pub async fn users_create(args: UsersCreate) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let user = accounts::create_user(
        state.store.as_ref(),
        &state.ids,
        &state.hasher,
        state.now(),
        &args.username,
        &args.name,
        Some(&args.password),
    )
    .await?;
    if args.admin {
        crate::developer::set_admin(&state, user.username.as_str(), true).await?;
    }
    // CONTRACT.md fixes this object's keys; `users list` shows who is an admin.
    if args.json {
        println!("{}", accounts::user_json(&user));
    } else if args.admin {
        println!(
            "Created user @{} ({}) with id {}, an admin of the developer portal.",
            user.username, user.name, user.id
        );
    } else {
        println!(
            "Created user @{} ({}) with id {}.",
            user.username, user.name, user.id
        );
    }
    Ok(())
}

/// "3 access tokens, 1 grant": the non-zero counts of a deletion, for people.
pub(crate) fn removed_summary(removed: &std::collections::BTreeMap<&'static str, u64>) -> String {
    let parts: Vec<String> = removed
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(table, n)| format!("{n} {}", table.replace('_', " ")))
        .collect();
    if parts.is_empty() {
        "nothing else".to_owned()
    } else {
        parts.join(", ")
    }
}

pub async fn apps_delete(args: AppsDelete) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let (app, deleted) = accounts::delete_app(&state, &args.client_id).await?;
    if args.json {
        println!("{}", accounts::app_deletion_json(&app, &deleted));
    } else {
        println!(
            "Deleted App `{}` (client_id {}) and with it {}.",
            app.name,
            app.client_id,
            removed_summary(&deleted.removed)
        );
        println!(
            "Servers on this database refuse its tokens within 1 s (they follow the store's invalidation feed)."
        );
    }
    Ok(())
}

pub async fn users_delete(args: UsersDelete) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let (user, deleted) = accounts::delete_user(&state, &args.username).await?;
    if args.json {
        println!("{}", accounts::user_deletion_json(&user, &deleted));
    } else {
        println!(
            "Deleted user @{} (id {}) and with them {}.",
            user.username,
            deleted.id,
            removed_summary(&deleted.removed)
        );
        println!(
            "Servers on this database refuse their tokens within 1 s (they follow the store's invalidation feed)."
        );
    }
    Ok(())
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let state = admin_state(&args.common).await?;
    let existing = state.store.load_content().await?;
    let auth = state.store.load_auth().await?;
    let batch =
        crate::content::import::parse(&text, &existing, &auth, &state.hasher, state.now()).await?;
    let report = state.store.import(batch).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.apps > 0 || report.grants > 0 {
        println!(
            "Imported {} users, {} tweets, {} follows, {} spaces, {} topics, {} Apps and {} grants from {}.",
            report.users,
            report.tweets,
            report.follows,
            report.spaces,
            report.topics,
            report.apps,
            report.grants,
            args.file.display()
        );
    } else if report.topics > 0 {
        println!(
            "Imported {} users, {} tweets, {} follows, {} spaces and {} topics from {}.",
            report.users,
            report.tweets,
            report.follows,
            report.spaces,
            report.topics,
            args.file.display()
        );
    } else {
        println!(
            "Imported {} users, {} tweets, {} follows and {} spaces from {}.",
            report.users,
            report.tweets,
            report.follows,
            report.spaces,
            args.file.display()
        );
    }
    Ok(())
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let (document, counts) = crate::content::export::export(state.store.as_ref()).await?;
    if args.file.as_os_str() == "-" {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(document.as_bytes())?;
        out.flush()?;
        return Ok(());
    }
    write_private(&args.file, document.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&counts)?);
    } else {
        println!(
            "Exported {} users, {} tweets, {} follows, {} spaces, {} topics, {} Apps and {} grants to {}.",
            counts.users,
            counts.tweets,
            counts.follows,
            counts.spaces,
            counts.topics,
            counts.apps,
            counts.grants,
            args.file.display()
        );
    }
    Ok(())
}

/// Writes a file only its owner can read: an export holds digests of every secret and token.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

pub async fn snapshot_save(args: SnapshotNameArgs) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let saved = crate::snapshots::save(&state, &args.name).await?;
    if args.json {
        println!("{}", serde_json::to_string(&saved)?);
    } else {
        let c = saved.counts;
        println!(
            "{} snapshot {}: {} users, {} tweets, {} follows, {} spaces, {} Apps, {} grants.",
            if saved.replaced { "Replaced" } else { "Saved" },
            saved.name,
            c.users,
            c.tweets,
            c.follows,
            c.spaces,
            c.apps,
            c.grants
        );
    }
    Ok(())
}

pub async fn snapshot_list(args: JsonOnly) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let list = crate::snapshots::list(&state).await?;
    if args.json {
        println!("{}", serde_json::json!({ "snapshots": list }));
    } else if list.is_empty() {
        println!("No snapshots.");
    } else {
        for s in &list {
            println!("{}\t{}\t{} bytes", s.name, s.created_at, s.bytes);
        }
    }
    Ok(())
}

pub async fn snapshot_delete(args: SnapshotNameArgs) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    crate::snapshots::delete(&state, &args.name).await?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "name": args.name.as_str(), "deleted": true })
        );
    } else {
        println!("Deleted snapshot {}.", args.name);
    }
    Ok(())
}

pub async fn reset(args: ResetArgs) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let done = crate::snapshots::reset(&state, args.to.as_ref()).await?;
    if args.json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        match &done.to {
            Some(name) => println!(
                "Reset to snapshot {name}: {} users, {} tweets, {} Apps, {} grants ({} ms).",
                done.restored.users,
                done.restored.tweets,
                done.restored.apps,
                done.restored.grants,
                done.took_ms
            ),
            None => println!("Reset to an empty store ({} ms).", done.took_ms),
        }
    }
    Ok(())
}

pub async fn admin_token_create(args: AdminTokenCreate) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let created = crate::admin::create_token(&state, &args.label).await?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "id": created.record.id.to_string(),
                "label": created.record.label,
                "token": created.token.expose(),
            })
        );
    } else {
        println!("Created admin token {}.", created.record.id);
        println!("  token: {}", created.token.expose());
        println!(
            "Use it as `Authorization: Bearer <token>` on /admin/v1 or as ROOST_ADMIN_TOKEN. It is shown only now; roost keeps only its SHA-256 digest."
        );
    }
    Ok(())
}

pub async fn admin_token_list(args: JsonOnly) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let tokens = state.store.list_admin_tokens().await?;
    if args.json {
        let tokens: Vec<_> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id.to_string(),
                    "label": t.label,
                    "created_at": t.created_at,
                    "revoked_at": t.revoked_at,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "admin_tokens": tokens }));
    } else if tokens.is_empty() {
        println!("No admin tokens yet. Create one with: roost admin-token create --label LABEL");
    } else {
        for t in &tokens {
            let status = if t.revoked_at.is_some() {
                "revoked"
            } else {
                "live"
            };
            println!("{}  [{status}]  {}", t.id, t.label);
        }
    }
    Ok(())
}

pub async fn admin_token_revoke(args: AdminTokenRevoke) -> anyhow::Result<()> {
    let state = admin_state(&args.common).await?;
    let id = roost_domain::Snowflake::parse(&args.id)
        .map_err(|_| anyhow::anyhow!("`{}` is not an admin token id", args.id))?;
    if !state.store.revoke_admin_token(id, state.now()).await? {
        anyhow::bail!("no live admin token has the id {}", args.id);
    }
    tracing::info!(admin_token_id = %id, "admin token revoked");
    if args.json {
        println!(
            "{}",
            serde_json::json!({"id": id.to_string(), "revoked": true})
        );
    } else {
        println!("Revoked admin token {id}.");
    }
    Ok(())
}

pub async fn migrate(args: CommonOnly) -> anyhow::Result<()> {
    let config = load_config(&args.common)?;
    crate::open_store(&config).await?;
    println!(
        "Migrations applied to {}.",
        redact_url(&config.server.database_url)
    );
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = load_config(&args.common)?;
    if let Some(addr) = args.addr {
        config.server.addr = addr;
    }
    if let Some(addr) = args.admin_addr {
        config.server.admin_addr = Some(addr);
    }
    if let Some(url) = args.public_url {
        config.server.public_url = Some(url);
    }
    if let Some(c) = args.clock {
        config.sandbox.clock = c;
    }
    if args.seed.is_some() {
        config.sandbox.seed = args.seed;
    }
    // Only ever turned on here, never off: `[sandbox] enabled = true` in the file stays.
    if args.sandbox || args.demo {
        config.sandbox.enabled = true;
    }
    config.validate()?;
    config.sandbox.check()?;
    // Credentials would cross the network in clear text unless a proxy in front terminates
    // TLS (checklist I8). Strict mode does not start that way; X mode says so and goes on.
    if config.public_url_is_cleartext()? && config.oauth.strict_rfc {
        anyhow::bail!(
            "strict_rfc needs an https public URL (got {}): OAuth credentials must not travel over plain http (RFC 6749 §3.1, §3.2); set --public-url https://... and terminate TLS in front of roost",
            config.public_url()?
        );
    }
    crate::telemetry::init(&config.log, std::io::stderr);
    let addr = config.socket_addr()?;
    let admin_addr = config.admin_socket_addr()?;
    let store = crate::open_store(&config).await?;
    let clock = match config.sandbox.clock {
        crate::sandbox::ClockMode::System => Clock::system(),
        crate::sandbox::ClockMode::Manual => Clock::manual(crate::clock::wall_ms()),
    };
    // Before anything reads the time: a node whose clock is off starts on the database's, and
    // a manual-clock node on the time the other manual-clock nodes have moved to.
    if let Err(e) = crate::clock::sync_once(&clock, store.as_ref()).await {
        tracing::warn!(error = %e, "could not read the database's clock yet; will retry");
    }
    let state = crate::build_state(config, store, clock).await?;
    for setting in crate::sandbox::test_only_settings(&state.config.sandbox) {
        tracing::warn!("test-only setting on: {setting}; never use it in production");
    }
    let demo_ready = if !args.demo {
        false
    } else if crate::demo::load_if_empty(&state).await? {
        tracing::info!("demo data loaded");
        true
    } else if crate::demo::is_loaded(&state).await? {
        true
    } else {
        tracing::warn!(
            "--demo: the store already holds data and not the demo data set; nothing was loaded and no demo credentials are printed"
        );
        false
    };
    if state.config.oauth.strict_rfc {
        tracing::info!(
            "strict_rfc is on: RFC 6749 error codes, S256 only, verifiers of 43 to 128 characters"
        );
    }
    // The config's auto-consent entries are set on their Apps, as `apps set-auto-consent` does;
    // an App or user that does not exist stops the start with the reason.
    for entry in &state.config.sandbox.auto_consent {
        crate::accounts::set_auto_consent(&state, &entry.client_id, Some(&entry.user))
            .await
            .map_err(|e| anyhow::anyhow!("[[sandbox.auto_consent]] {}: {e}", entry.client_id))?;
    }
    let auto_consent: Vec<String> = state
        .store
        .list_apps()
        .await?
        .into_iter()
        .filter(|a| a.auto_consent_user_id.is_some())
        .map(|a| a.client_id.to_string())
        .collect();
    if !auto_consent.is_empty() {
        if state.config.sandbox.enabled {
            tracing::warn!(
                apps = %auto_consent.join(","),
                "TEST-ONLY auto_consent is on for these Apps: their authorization requests are granted without login or consent (turn off with `roost apps set-auto-consent CLIENT_ID --off`)"
            );
        } else {
            tracing::warn!(
                apps = %auto_consent.join(","),
                "these Apps have auto-consent set in the store, which this server ignores: the sandbox controls are off, so their users log in and consent as usual"
            );
        }
    }
    if state.config.public_url_is_cleartext()? {
        tracing::warn!(
            public_url = %state.public_url,
            "the public URL is plain http on a non-loopback host: put roost behind a proxy that terminates TLS and set an https public URL"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let admin_listener = match admin_addr {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {a} (server.admin_addr): {e}"))?,
        ),
        None => None,
    };
    if let Some(a) = admin_addr
        && !a.ip().is_loopback()
    {
        tracing::warn!(
            admin_addr = %a,
            "the admin API listens on a non-loopback address: it should not face the internet; bind it to 127.0.0.1 or firewall it"
        );
    }
    crate::clock::spawn_sync(state.clock.clone(), state.store.clone());
    crate::cleanup::spawn(state.clone());
    crate::cleanup::spawn_upkeep(state.clone());
    crate::content::world::spawn_poller(state.clone());
    crate::ratelimit::spawn_flusher(state.clone());
    crate::usage::spawn_flusher(state.clone());
    crate::cluster::spawn(state.clone()).await;
    // Once the start can no longer fail, so that a refused start stays one line of error.
    if state.config.sandbox.enabled {
        tracing::warn!("{}", crate::sandbox::CONTROLS_ON);
    }
    let admin_shown = admin_addr.map_or_else(|| "same as addr".to_owned(), |a| a.to_string());
    tracing::info!(%addr, admin_addr = %admin_shown, public_url = %state.public_url, database = %redact_url(&state.config.server.database_url), rate_limits = %limits_shown(&state), "roost is listening");
    if demo_ready {
        println!("{}", crate::demo::banner(&state));
    }
    let header_read_timeout = Duration::from_secs(state.config.server.header_read_timeout);
    let store = state.store.clone();
    let database_timeout = Duration::from_secs(state.config.server.database_timeout);
    // One signal stops every listener.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        // An error means the sender is gone, which is a stop too.
        let _ = rx.wait_for(|s| *s).await;
    };
    match admin_listener {
        None => {
            crate::http::serve(
                crate::http::router(state.clone()),
                listener,
                header_read_timeout,
                stopped(stopping),
            )
            .await?;
        }
        Some(admin) => {
            use crate::http::Surface;
            tokio::try_join!(
                crate::http::serve(
                    crate::http::router_for(state.clone(), Surface::Public),
                    listener,
                    header_read_timeout,
                    stopped(stopping.clone()),
                ),
                crate::http::serve(
                    crate::http::router_for(state.clone(), Surface::Admin),
                    admin,
                    header_read_timeout,
                    stopped(stopping),
                ),
            )?;
        }
    }
    // What this node admitted since its last flush still counts on the other nodes.
    if let Err(e) = state.limits.flush(state.now()).await {
        tracing::warn!(error = %e, "the last rate-limit counts did not reach the store");
    }
    if let Err(e) = state.usage.flush(state.store.as_ref()).await {
        tracing::warn!(error = %e, "the last usage counts did not reach the store");
    }
    // The requests in flight are done; hand the connections back to the database cleanly.
    let _ = tokio::time::timeout(database_timeout, store.close()).await;
    tracing::info!("roost stopped");
    Ok(())
}

/// Where the rate-limit counts live, for the start-up line (a Redis URL without its password).
fn limits_shown(state: &crate::state::AppState) -> String {
    let r = &state.config.rate_limits;
    match state.limits.mode() {
        _ if !r.enabled => "off".to_owned(),
        crate::ratelimit::Mode::Memory => "memory".to_owned(),
        crate::ratelimit::Mode::Store => {
            format!("store (flushed every {} ms)", r.flush_interval_ms)
        }
        crate::ratelimit::Mode::Redis => format!(
            "redis {}",
            redact_url(r.redis_url.as_deref().unwrap_or_default())
        ),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Migrate(a) => migrate(a).await,
        Command::Apps(AppsCommand::Create(a)) => apps_create(a).await,
        Command::Apps(AppsCommand::List(a)) => apps_list(a).await,
        Command::Apps(AppsCommand::Delete(a)) => apps_delete(a).await,
        Command::Apps(AppsCommand::SetAutoConsent(a)) => apps_set_auto_consent(a).await,
        Command::Apps(AppsCommand::Update(a)) => crate::developer_cli::apps_update(a).await,
        Command::Apps(AppsCommand::Regenerate(a)) => crate::developer_cli::apps_regenerate(a).await,
        Command::Apps(AppsCommand::BearerToken(a)) => {
            crate::developer_cli::apps_bearer_token(a).await
        }
        Command::Apps(AppsCommand::Usage(a)) => crate::developer_cli::apps_usage(a).await,
        Command::Projects(c) => crate::developer_cli::projects(c).await,
        Command::Users(UsersCommand::List(a)) => users_list(a).await,
        Command::Tokens(TokensCommand::Mint(a)) => tokens_mint(a).await,
        Command::Users(UsersCommand::Create(a)) => users_create(a).await,
        Command::Users(UsersCommand::Delete(a)) => users_delete(a).await,
        Command::Users(UsersCommand::Promote(a)) => crate::developer_cli::users_promote(a).await,
        Command::Users(UsersCommand::ConnectedApps(a)) => {
            crate::developer_cli::users_connected_apps(a).await
        }
        Command::Users(UsersCommand::RevokeApp(a)) => {
            crate::developer_cli::users_revoke_app(a).await
        }
        Command::Import(a) => import(a).await,
        Command::Export(a) => export(a).await,
        Command::Snapshot(SnapshotCommand::Save(a)) => snapshot_save(a).await,
        Command::Snapshot(SnapshotCommand::List(a)) => snapshot_list(a).await,
        Command::Snapshot(SnapshotCommand::Delete(a)) => snapshot_delete(a).await,
        Command::Reset(a) => reset(a).await,
        Command::AdminToken(AdminTokenCommand::Create(a)) => admin_token_create(a).await,
        Command::AdminToken(AdminTokenCommand::List(a)) => admin_token_list(a).await,
        Command::AdminToken(AdminTokenCommand::Revoke(a)) => admin_token_revoke(a).await,
        Command::Clock(c) => crate::sandbox::cli::clock(c).await,
        Command::Faults(c) => crate::sandbox::cli::faults(c).await,
        Command::Logs(a) => crate::sandbox::cli::logs(a).await,
    }
}
