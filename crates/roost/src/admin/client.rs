//! A small HTTP/1.1 JSON client for the CLI's commands that drive a running server through its
//! admin API. One connection per call: these are one-shot commands.
//!
//! Plain `http://` only: the admin API is meant for a server on this machine or in the same CI
//! job; a server behind TLS is reached through its proxy's local address.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use clap::Args;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The server to call and the admin token to call it with.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerArgs {
    /// Base URL of the running roost server's admin API [default: http://<admin address> when
    /// one is configured, else http://127.0.0.1:8080]
    #[arg(long, env = "ROOST_SERVER_URL")]
    pub server_url: Option<String>,
    /// The server's separate admin listener HOST:PORT (as `serve --admin-addr`), used when
    /// --server-url is not given
    #[arg(long, env = "ROOST_ADMIN_ADDR")]
    pub admin_addr: Option<String>,
    /// The server's TOML file: its `server.admin_addr`, when neither of the above is given
    #[arg(long, env = "ROOST_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// An admin token (from `roost admin-token create`)
    #[arg(long, env = "ROOST_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// Where the CLI finds the admin API when nothing says otherwise: `serve`'s default address.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080";

impl ServerArgs {
    /// The admin API's base URL: `--server-url`, else the configured admin listener (flag,
    /// environment, then the config file), which is where the admin API is when it has one of
    /// its own (checklist L4); else serve's default address.
    pub fn base_url(&self) -> Result<String, ClientError> {
        if let Some(url) = &self.server_url {
            return Ok(url.clone());
        }
        let configured = match (&self.admin_addr, &self.config) {
            (Some(a), _) => Some(a.clone()),
            (None, Some(path)) => {
                crate::config::Config::from_toml_file(path)
                    .map_err(|e| ClientError::Config(e.to_string()))?
                    .server
                    .admin_addr
            }
            (None, None) => None,
        };
        Ok(match configured {
            Some(addr) => format!("http://{addr}"),
            None => DEFAULT_SERVER_URL.to_owned(),
        })
    }
}

/// The largest answer the client reads.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("server URL `{0}`: {1}")]
    BadUrl(String, &'static str),
    #[error("an admin token is required: pass --admin-token or set ROOST_ADMIN_TOKEN")]
    NoToken,
    /// The config file named for the admin address cannot be used.
    #[error("{0}")]
    Config(String),
    #[error("cannot reach roost at {0}: {1}")]
    Connect(String, String),
    #[error("roost at {0} did not answer within {1:?}")]
    Timeout(String, Duration),
    /// The server answered with an admin API error.
    #[error("{status}: {description}")]
    Refused {
        status: StatusCode,
        error: String,
        description: String,
    },
    #[error("roost answered something that is not JSON ({0})")]
    NotJson(StatusCode),
}

pub struct AdminClient {
    host: String,
    port: u16,
    /// The URL's path without a trailing slash (a server mounted under a prefix).
    prefix: String,
    token: String,
}

impl AdminClient {
    pub fn new(args: &ServerArgs) -> Result<Self, ClientError> {
        let base = args.base_url()?;
        let bad = |why| ClientError::BadUrl(base.clone(), why);
        let url = url::Url::parse(&base).map_err(|_| bad("not a URL"))?;
        if url.scheme() != "http" {
            return Err(bad("only http:// is supported"));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(bad("no host")),
        };
        let token = args
            .admin_token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or(ClientError::NoToken)?;
        Ok(Self {
            host,
            port: url.port_or_known_default().unwrap_or(80),
            prefix: url.path().trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
        })
    }

    fn origin(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.call(Method::DELETE, path, None).await
    }

    /// `path` is under `/admin/v1` (e.g. `/apps`). Answers outside 2xx become
    /// [`ClientError::Refused`] with the server's description.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let origin = self.origin();
        tokio::time::timeout(TIMEOUT, self.call_inner(method, path, body))
            .await
            .map_err(|_| ClientError::Timeout(origin, TIMEOUT))?
    }

    async fn call_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let origin = self.origin();
        let connect =
            |e: &dyn std::fmt::Display| ClientError::Connect(origin.clone(), e.to_string());
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| connect(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| connect(&e))?;
        tokio::spawn(async move {
            // The connection ends with the call; its errors show up on the request.
            let _ = conn.await;
        });
        let host = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let builder = Request::builder()
            .method(method)
            .uri(format!("{}/admin/v1{path}", self.prefix))
            .header(header::HOST, host)
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        let request = match body {
            Some(b) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .map_err(|e| connect(&e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| connect(&e))?;
        let status = response.status();
        let bytes = axum::body::to_bytes(Body::new(response.into_body()), MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| connect(&e))?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| ClientError::NotJson(status))?
        };
        if status.is_success() {
            return Ok(value);
        }
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        Err(ClientError::Refused {
            status,
            error: text("error").unwrap_or_else(|| status.as_str().to_owned()),
            description: text("error_description").unwrap_or_else(|| status.to_string()),
        })
    }
}
