//! Pure protocol types and rules for roost.
//!
//! Everything that crosses a trust boundary (client ids, scopes, redirect URIs, PKCE values,
//! snowflake ids, usernames, client credentials) is parsed here into a type that can only hold a
//! valid value. This crate does no I/O and never reads a clock: callers pass `now` in.

pub mod app;
pub mod client;
pub mod fields;
pub mod id;
pub mod pkce;
pub mod redirect;
pub mod scope;
pub mod secret;
pub mod snapshot;
pub mod username;

pub use app::{AppKind, Label, LabelError, WebsiteUrl, WebsiteUrlError, parse_description};
pub use client::{BasicCredentials, ClientId, ClientType};
pub use id::{RequestedId, Snowflake, SnowflakeGenerator};
pub use pkce::{CodeChallenge, CodeChallengeMethod, CodeVerifier, PkceError, PkceMode};
pub use redirect::{RedirectUri, RedirectUriError};
pub use scope::{Scope, ScopeError, ScopeNames, ScopeSet};
pub use secret::{Secret, TokenHash, TokenKind, constant_time_eq};
pub use snapshot::SnapshotName;
pub use username::{Username, UsernameError};
