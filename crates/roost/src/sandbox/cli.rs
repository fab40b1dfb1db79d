//! `roost clock show|set|advance`, `roost faults add|list|clear` and `roost logs --app`: the
//! sandbox controls of a running server, through its admin API.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::admin::client::{AdminClient, ServerArgs};
use crate::sandbox::faults::{FaultName, FaultRule, FaultRuleSpec};

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Print the server's time and whether its clock is manual
    Show(ClockShow),
    /// Set a manual clock (test-only) to TIME: RFC 3339 or Unix milliseconds; never backwards
    Set(ClockSet),
    /// Move a manual clock (test-only) forward by SECONDS
    Advance(ClockAdvance),
}

#[derive(Debug, Args)]
pub struct ClockShow {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print the answer as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ClockSet {
    #[command(flatten)]
    pub server: ServerArgs,
    /// e.g. 2026-12-01T12:00:00Z or 1796126400000
    pub time: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ClockAdvance {
    #[command(flatten)]
    pub server: ServerArgs,
    pub seconds: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The App's client id
    #[arg(long = "app")]
    pub client_id: String,
    /// Print the requests as one JSON object
    #[arg(long)]
    pub json: bool,
}

fn print_clock(v: &Value, as_json: bool) {
    if as_json {
        println!("{v}");
    } else {
        println!(
            "{} ({} ms, {} clock)",
            v["now"].as_str().unwrap_or("-"),
            v["now_ms"],
            v["mode"].as_str().unwrap_or("-")
        );
    }
}

pub async fn clock(cmd: ClockCommand) -> anyhow::Result<()> {
    let (v, as_json) = match cmd {
        ClockCommand::Show(a) => (AdminClient::new(&a.server)?.get("/clock").await?, a.json),
        ClockCommand::Set(a) => {
            let now = match a.time.parse::<i64>() {
                Ok(ms) => json!(ms),
                Err(_) => json!(a.time),
            };
            let body = json!({ "now": now });
            (
                AdminClient::new(&a.server)?.post("/clock", &body).await?,
                a.json,
            )
        }
        ClockCommand::Advance(a) => {
            let body = json!({ "advance_seconds": a.seconds });
            (
                AdminClient::new(&a.server)?.post("/clock", &body).await?,
                a.json,
            )
        }
    };
    print_clock(&v, as_json);
    Ok(())
}

pub async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let path = format!(
        "/apps/{}/requests",
        percent_encoding::utf8_percent_encode(&args.client_id, percent_encoding::NON_ALPHANUMERIC)
    );
    let v = AdminClient::new(&args.server)?.get(&path).await?;
    if args.json {
        println!("{v}");
        return Ok(());
    }
    let empty = Vec::new();
    let requests = v["requests"].as_array().unwrap_or(&empty);
    if requests.is_empty() {
        println!("no requests recorded for {}", args.client_id);
    }
    for r in requests {
        let at = r["at_ms"]
            .as_i64()
            .and_then(|ms| {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            })
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "-".into());
        let text = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
        let latency_ms = r["latency_us"].as_f64().unwrap_or(0.0) / 1000.0;
        println!(
            "{at} {} {} {} {latency_ms:.1}ms scopes={} required={} bucket={}{}",
            text("method"),
            text("path"),
            r["status"],
            text("scopes"),
            text("required_scopes"),
            text("rate_limit_bucket"),
            if r["injected_fault"] == true {
                " [injected]"
            } else {
                ""
            }
        );
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum FaultsCommand {
    /// Add a fault rule (test-only): requests whose path matches get the fault instead
    Add(FaultsAdd),
    /// List the rules in force, with how often each fired
    List(FaultsList),
    /// Remove one rule (by id) or, without an id, every rule
    Clear(FaultsClear),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FaultArg {
    /// X's 429 with spent x-rate-limit-* headers
    RateLimit,
    /// X's 503
    Unavailable,
    /// a 500
    InternalError,
    /// wait --delay-ms, then answer normally
    Delay,
}

#[derive(Debug, Args)]
pub struct FaultsAdd {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Glob over the request path, e.g. "/2/tweets*"
    #[arg(long)]
    pub path: String,
    #[arg(long, value_enum)]
    pub fault: FaultArg,
    /// Only requests with this method
    #[arg(long)]
    pub method: Option<String>,
    /// Only requests of this App
    #[arg(long)]
    pub client_id: Option<String>,
    /// Only requests with a user token of this user
    #[arg(long)]
    pub username: Option<String>,
    /// For --fault delay: milliseconds to wait
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// Fire on the next N matching requests only
    #[arg(long)]
    pub count: Option<u64>,
    /// Fire with this probability (0 < p <= 1) ...
    #[arg(long)]
    pub probability: Option<f64>,
    /// ... drawn from a generator with this seed
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FaultsList {
    #[command(flatten)]
    pub server: ServerArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FaultsClear {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The rule's id (from `roost faults list`); every rule when absent
    pub id: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

fn print_rule(r: &Value) {
    let opt = |k: &str| {
        r.get(k)
            .filter(|v| !v.is_null())
            .map(|v| {
                format!(
                    " {k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .unwrap_or_default()
    };
    println!(
        "#{} {} {}{}{}{}{}{}{}{} injected={}",
        r["id"],
        r["path"].as_str().unwrap_or("-"),
        r["fault"].as_str().unwrap_or("-"),
        opt("method"),
        opt("client_id"),
        opt("username"),
        opt("delay_ms"),
        opt("count"),
        opt("probability"),
        opt("seed"),
        r["injected"],
    );
}

pub async fn faults(cmd: FaultsCommand) -> anyhow::Result<()> {
    match cmd {
        FaultsCommand::Add(a) => {
            let spec = FaultRuleSpec {
                path: a.path,
                method: a.method,
                client_id: a.client_id,
                username: a.username,
                fault: match a.fault {
                    FaultArg::RateLimit => FaultName::RateLimit,
                    FaultArg::Unavailable => FaultName::Unavailable,
                    FaultArg::InternalError => FaultName::InternalError,
                    FaultArg::Delay => FaultName::Delay,
                },
                delay_ms: a.delay_ms,
                count: a.count,
                probability: a.probability,
                seed: a.seed,
            };
            // The server checks again; checking here names the problem before any request.
            FaultRule::try_from(spec.clone())?;
            let v = AdminClient::new(&a.server)?
                .post("/faults", &serde_json::to_value(&spec)?)
                .await?;
            if a.json {
                println!("{v}");
            } else {
                print_rule(&v);
            }
        }
        FaultsCommand::List(a) => {
            let v = AdminClient::new(&a.server)?.get("/faults").await?;
            if a.json {
                println!("{v}");
            } else {
                let empty = Vec::new();
                let rules = v["faults"].as_array().unwrap_or(&empty);
                if rules.is_empty() {
                    println!("no fault rules");
                }
                rules.iter().for_each(print_rule);
            }
        }
        FaultsCommand::Clear(a) => {
            let client = AdminClient::new(&a.server)?;
            let v = match a.id {
                Some(id) => client.delete(&format!("/faults/{id}")).await?,
                None => client.delete("/faults").await?,
            };
            if a.json {
                println!("{v}");
            } else {
                match a.id {
                    Some(id) => println!("fault rule #{id} removed"),
                    None => println!("{} fault rules removed", v["removed"]),
                }
            }
        }
    }
    Ok(())
}
