//! `roost clock show|set|advance` and `roost logs --app`: the sandbox controls of a running
//! server, through its admin API.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::admin::client::{AdminClient, ServerArgs};

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
