//! cwfy — Chicago Works For You, a static site generator for a city's 311 service requests.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! ```text
//! config → content → source (fetch / import) → store → aggregate → charts + render → publish
//! ```
//!
//! [`cli`] sits on top and runs the stages for each command ([`pipeline`]); [`preview`] is `cwfy
//! serve`'s build-watch-rebuild loop over [`serve`].

pub mod aggregate;
pub mod charts;
pub mod check;
pub mod cli;
pub mod config;
pub mod content;
pub mod domain;
pub mod gates;
pub mod geo;
pub mod init;
pub mod numbers;
pub mod pipeline;
pub mod preview;
pub mod progress;
pub mod publish;
pub mod render;
pub mod serve;
pub mod source;
pub mod store;
