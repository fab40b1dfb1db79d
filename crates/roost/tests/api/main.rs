//! One integration-test binary (each file under tests/ would be linked separately).
//! Every test starts the real server on a random loopback port over a fresh SQLite file.
//! Tests named `sec_<id>_...` cover the item of that id in the security checklist.

// The harness panics on setup failures, which is what a test wants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod admin;
mod api;
mod app_only;
mod authorize;
mod cli;
mod clock_sync;
mod cluster;
mod constant_time;
mod deletion;
mod demo_smoke;
mod developer_admin;
mod developer_cli;
mod fault;
mod flow;
mod follows;
mod hardening;
mod import;
mod invalidation;
mod oauth2_client;
mod openapi;
mod openapi_roost;
mod outage;
mod portal;
mod quirks;
mod rate_limits;
mod refresh;
mod render_cache;
mod revoke;
mod sandbox;
mod server_keys;
mod shared_limits;
mod snapshots;
mod spaces;
mod storage;
mod throttle;
mod token;
mod transport;
mod tweets;
mod users;
mod vocabulary;
