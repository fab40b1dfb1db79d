//! The X API v2 content: the in-memory world and the import file.

pub mod export;
pub mod import;
pub mod topics;
pub mod world;

pub use world::{SharedWorld, World};
