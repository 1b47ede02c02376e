//! secretgate: declarative, checked Secret Manager mappings for Cloud Run deploys.
//!
//! The manifest (`secrets.yaml`) says which secret each service must receive; [`lint`] checks it
//! and the Cloud Run service specs offline. The binary is a thin layer over [`commands`].

pub mod audit;
pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
pub mod cloudrun;
#[cfg(feature = "cli")]
pub mod commands;
pub mod credential;
pub mod deploy;
pub mod diagnostic;
pub mod error;
pub mod import;
pub mod inventory;
pub mod lint;
pub mod manifest;
pub mod mounts;
pub mod references;
pub mod render;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod schema;
pub mod source;
pub mod spec;
pub mod suggest;
pub mod yaml;
