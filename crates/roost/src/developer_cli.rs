//! The developer portal on the command line: `roost projects ...`, `roost apps
//! update|regenerate|bearer-token|usage` and `roost users promote|connected-apps|revoke-app`.
//! Like the other admin commands they act on the store (`--database-url`) directly, through
//! the functions the portal and the admin API call ([`crate::developer`]), and `--json` prints
//! the admin API's answer. A server running on the same database follows what they change
//! through the store's invalidation feed, within 1 s.

use clap::{ArgGroup, Args, Subcommand};

use crate::accounts;
use crate::admin::developer as answers;
use crate::cli::{AppType, Common, JsonOnly, admin_state};
use crate::developer;

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Create a Project (no owner: only admins manage it in the portal)
    Create(ProjectsCreate),
    /// List Projects with their owners and Apps
    List(JsonOnly),
    /// Rename a Project
    Rename(ProjectsRename),
    /// Hand a Project to a user, or to the admins alone (--none)
    SetOwner(ProjectsSetOwner),
    /// Delete a Project with its Apps and everything they were issued, at once
    Delete(ProjectsDelete),
}

#[derive(Debug, Args)]
pub struct ProjectsCreate {
    #[command(flatten)]
    pub common: Common,
    /// 1 to 100 characters, not taken by another Project
    #[arg(long)]
    pub name: String,
    /// The user who manages it in the developer portal
    #[arg(long, value_name = "USERNAME")]
    pub owner: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectsRename {
    #[command(flatten)]
    pub common: Common,
    /// The Project's id (or its exact name)
    pub id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("to").required(true).args(["owner", "none"])))]
pub struct ProjectsSetOwner {
    #[command(flatten)]
    pub common: Common,
    /// The Project's id (or its exact name)
    pub id: String,
    #[arg(long, value_name = "USERNAME")]
    pub owner: Option<String>,
    /// No owner: only admins manage it
    #[arg(long)]
    pub none: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectsDelete {
    #[command(flatten)]
    pub common: Common,
    /// The Project's id (or its exact name)
    pub id: String,
    /// Print what was removed as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args(["name", "description", "website_url", "app_type", "add_callbacks", "remove_callbacks"])
))]
pub struct AppsUpdate {
    #[command(flatten)]
    pub common: Common,
    /// The App's client_id
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// The App's website; "" clears it
    #[arg(long = "website", value_name = "URL")]
    pub website_url: Option<String>,
    /// Another type of the same client type: native and spa are public, web is confidential
    #[arg(long = "type", value_enum)]
    pub app_type: Option<AppType>,
    /// Register one more callback URL (repeat for several)
    #[arg(long = "add-callback", value_name = "URL")]
    pub add_callbacks: Vec<String>,
    /// Unregister a callback URL (repeat for several); one must stay
    #[arg(long = "remove-callback", value_name = "URL")]
    pub remove_callbacks: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["client_secret", "api_key"])))]
pub struct AppsRegenerate {
    #[command(flatten)]
    pub common: Common,
    /// The App's client_id
    pub client_id: String,
    /// A new Client Secret (confidential Apps)
    #[arg(long)]
    pub client_secret: bool,
    /// A new API Key and Secret (the app-only Bearer Token changes with them)
    #[arg(long)]
    pub api_key: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppsBearerToken {
    #[command(flatten)]
    pub common: Common,
    /// The App's client_id
    pub client_id: String,
    /// Invalidate it instead: the next one is a new token
    #[arg(long)]
    pub revoke: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppsUsage {
    #[command(flatten)]
    pub common: Common,
    /// The App's client_id
    pub client_id: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsersPromote {
    #[command(flatten)]
    pub common: Common,
    pub username: String,
    /// Take the admin flag away instead
    #[arg(long)]
    pub demote: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsersConnectedApps {
    #[command(flatten)]
    pub common: Common,
    pub username: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsersRevokeApp {
    #[command(flatten)]
    pub common: Common,
    pub username: String,
    /// The App's client_id
    pub client_id: String,
    #[arg(long)]
    pub json: bool,
}

/// `@alice`, or "the admins" for a Project without an owner.
fn owner_shown(project: &serde_json::Value) -> String {
    project["owner"]
        .as_str()
        .map_or_else(|| "the admins".to_owned(), |o| format!("@{o}"))
}

fn print_project(verb: &str, p: &serde_json::Value) {
    println!(
        "{verb} Project `{}` (id {}), managed by {}.",
        p["name"].as_str().unwrap_or_default(),
        p["id"].as_str().unwrap_or_default(),
        owner_shown(p)
    );
}

pub async fn projects(cmd: ProjectsCommand) -> anyhow::Result<()> {
    match cmd {
        ProjectsCommand::Create(a) => {
            let state = admin_state(&a.common).await?;
            let owner = match &a.owner {
                Some(u) => Some(accounts::find_user(&state, u).await?),
                None => None,
            };
            let project = developer::create_project(&state, &a.name, owner.as_ref()).await?;
            let p = answers::project_json(&state, &project).await?;
            if a.json {
                println!("{p}");
            } else {
                print_project("Created", &p);
            }
        }
        ProjectsCommand::List(a) => {
            let state = admin_state(&a.common).await?;
            let list = answers::projects_json(&state).await?;
            let projects = list["projects"].as_array().cloned().unwrap_or_default();
            if a.json {
                println!("{list}");
            } else if projects.is_empty() {
                println!("No Projects yet. Create one with: roost projects create --name NAME");
            } else {
                for p in &projects {
                    let apps: Vec<&str> = p["apps"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str())
                        .collect();
                    println!(
                        "{}  {}  managed by {}  {} Apps{}",
                        p["id"].as_str().unwrap_or_default(),
                        p["name"].as_str().unwrap_or_default(),
                        owner_shown(p),
                        apps.len(),
                        if apps.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", apps.join(" "))
                        }
                    );
                }
            }
        }
        ProjectsCommand::Rename(a) => {
            let state = admin_state(&a.common).await?;
            let project = developer::find_project_by_id_or_name(&state, &a.id).await?;
            let project = developer::rename_project(&state, &project, &a.name).await?;
            let p = answers::project_json(&state, &project).await?;
            if a.json {
                println!("{p}");
            } else {
                print_project("Renamed", &p);
            }
        }
        ProjectsCommand::SetOwner(a) => {
            let state = admin_state(&a.common).await?;
            let project = developer::find_project_by_id_or_name(&state, &a.id).await?;
            let owner = if a.none { None } else { a.owner.as_deref() };
            let project = developer::set_project_owner(&state, &project, owner).await?;
            let p = answers::project_json(&state, &project).await?;
            if a.json {
                println!("{p}");
            } else {
                print_project("Updated", &p);
            }
        }
        ProjectsCommand::Delete(a) => {
            let state = admin_state(&a.common).await?;
            let project = developer::find_project_by_id_or_name(&state, &a.id).await?;
            let (apps, deleted) = answers::delete_project_with_apps(&state, &project).await?;
            if a.json {
                println!(
                    "{}",
                    answers::project_deletion_json(&project, &apps, &deleted)
                );
            } else {
                println!(
                    "Deleted Project `{}` (id {}) and with it {}.",
                    project.name,
                    project.id,
                    crate::cli::removed_summary(&deleted.removed)
                );
                println!(
                    "Servers on this database refuse its Apps' tokens within 1 s (they follow the store's invalidation feed)."
                );
            }
        }
    }
    Ok(())
}

pub async fn apps_update(a: AppsUpdate) -> anyhow::Result<()> {
    let state = admin_state(&a.common).await?;
    let app = accounts::find_app(&state, &a.client_id).await?;
    let callbacks = if a.add_callbacks.is_empty() && a.remove_callbacks.is_empty() {
        None
    } else {
        let mut list: Vec<String> = app
            .callbacks
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        for r in &a.remove_callbacks {
            let Some(i) = list.iter().position(|c| c == r) else {
                anyhow::bail!(
                    "`{r}` is not a callback URL of App {} (see roost apps list)",
                    app.client_id
                );
            };
            list.remove(i);
        }
        list.extend(a.add_callbacks.iter().cloned());
        Some(list)
    };
    let change = developer::AppSettingsInput {
        name: a.name,
        description: a.description,
        website_url: a.website_url,
        kind: a.app_type.map(|t| t.as_str().to_owned()),
        callbacks,
    }
    .parse()?;
    let app = developer::update_app(&state, &app, change).await?;
    let body = answers::app_json(&state, app).await?;
    if a.json {
        println!("{body}");
    } else {
        println!(
            "Updated App `{}` (client_id {}): {} ({}), callbacks {}.",
            body["name"].as_str().unwrap_or_default(),
            body["client_id"].as_str().unwrap_or_default(),
            body["type"].as_str().unwrap_or_default(),
            body["client_type"].as_str().unwrap_or_default(),
            body["callbacks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(())
}

pub async fn apps_regenerate(a: AppsRegenerate) -> anyhow::Result<()> {
    let state = admin_state(&a.common).await?;
    let app = accounts::find_app(&state, &a.client_id).await?;
    if a.client_secret {
        let secret = developer::regenerate_client_secret(&state, &app).await?;
        if a.json {
            println!("{}", answers::client_secret_json(&app, &secret));
        } else {
            println!(
                "New Client Secret for App `{}` (client_id {}):",
                app.name, app.client_id
            );
            println!("  client_secret: {}", secret.expose());
        }
    } else {
        let (key, secret) = developer::regenerate_api_key(&state, &app).await?;
        if a.json {
            println!("{}", answers::api_key_json(&app, &key, &secret));
        } else {
            println!(
                "New API Key and Secret for App `{}` (client_id {}):",
                app.name, app.client_id
            );
            println!("  api_key:    {key}");
            println!("  api_secret: {}", secret.expose());
        }
    }
    if !a.json {
        println!(
            "Shown only now; roost keeps only its SHA-256 digest. The old one is refused from now on (within 1 s on running servers)."
        );
    }
    Ok(())
}

pub async fn apps_bearer_token(a: AppsBearerToken) -> anyhow::Result<()> {
    let state = admin_state(&a.common).await?;
    let app = accounts::find_app(&state, &a.client_id).await?;
    if a.revoke {
        developer::revoke_bearer_token(&state, &app).await?;
        if a.json {
            println!(
                "{}",
                serde_json::json!({"client_id": app.client_id.as_str(), "revoked": true})
            );
        } else {
            println!(
                "Invalidated the app-only Bearer Token of App `{}`; the next one is a new token.",
                app.name
            );
        }
    } else {
        let token = developer::bearer_token(&state, &app).await?;
        if a.json {
            println!("{}", answers::bearer_json(&token));
        } else {
            println!("App-only Bearer Token of App `{}`:", app.name);
            println!("  access_token: {token}");
        }
    }
    Ok(())
}

pub async fn apps_usage(a: AppsUsage) -> anyhow::Result<()> {
    let state = admin_state(&a.common).await?;
    let app = accounts::find_app(&state, &a.client_id).await?;
    let report = developer::usage(&state, &app).await?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "App `{}` (client_id {}): {} requests in the last 24 hours; {} users with a live grant, {} access tokens, {} refresh tokens.",
        app.name,
        app.client_id,
        report.total,
        report.active_users,
        report.active_access_tokens,
        report.active_refresh_tokens
    );
    let limit = |l: Option<u64>| l.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for e in &report.endpoints {
        println!(
            "  {}  {} in 24 h, {} in this 15-minute window (limit per App {}, per user {})",
            e.endpoint,
            e.total,
            e.window.requests,
            limit(e.window.app_limit),
            limit(e.window.user_limit)
        );
    }
    Ok(())
}

pub async fn users_promote(a: UsersPromote) -> anyhow::Result<()> {
    let state = admin_state(&a.common).await?;
    let admin = !a.demote;
    let user = developer::set_admin(&state, &a.username, admin).await?;
    if a.json {
        println!("{}", answers::user_json(&user, admin));
    } else if admin {
        println!(
            "@{} is an admin of the developer portal: they manage every Project.",
            user.username
        );
    } else {
        println!(
            "@{} is no longer an admin of the developer portal.",
            user.username
        );
    }
    Ok(())
}

pub async fn users_connected_apps(a: UsersConnectedApps) -> anyhow::Result<()> {
    let state = admin_state(&a.common).await?;
    let user = accounts::find_user(&state, &a.username).await?;
    let body = answers::connected_apps_json(&state, &user).await?;
    let apps = body["connected_apps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if a.json {
        println!("{body}");
    } else if apps.is_empty() {
        println!("No App holds a live grant for @{}.", user.username);
    } else {
        for c in &apps {
            println!(
                "{}  `{}` (project `{}`)  scopes {}  granted {}  last used {}",
                c["client_id"].as_str().unwrap_or_default(),
                c["app_name"].as_str().unwrap_or_default(),
                c["project"].as_str().unwrap_or_default(),
                c["scopes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                c["granted_at"].as_str().unwrap_or_default(),
                c["last_used_at"].as_str().unwrap_or("never")
            );
        }
    }
    Ok(())
}

pub async fn users_revoke_app(a: UsersRevokeApp) -> anyhow::Result<()> {
    let state = admin_state(&a.common).await?;
    let user = accounts::find_user(&state, &a.username).await?;
    let app = accounts::find_app(&state, &a.client_id).await?;
    let revoked = developer::revoke_connection(&state, &user, app.id).await?;
    if a.json {
        println!("{}", answers::revoked_app_json(&user, &app, revoked));
    } else if revoked == 0 {
        println!(
            "App `{}` held no live grant for @{}; nothing to revoke.",
            app.name, user.username
        );
    } else {
        println!(
            "Revoked {revoked} grant(s) of App `{}` for @{}: their tokens are refused from now on (within 1 s on running servers).",
            app.name, user.username
        );
    }
    Ok(())
}
