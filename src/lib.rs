//! opsrun: executes operations runbooks written in YAML as typed checks,
//! concurrently and with timeouts, and prints a pass/warn/fail table, JSON,
//! or Japanese operations reports.
//!
//! The binary's `main` only calls [`main_entry`]; everything is here so
//! tests and benchmarks can reach the pieces.

// Everything printed goes through `stdio` (a closed pipe is quiet, a full
// disk is an error, nothing panics): `println!` and friends are refused.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod backup;
pub mod check;
pub mod commands;
pub mod engine;
pub mod exit;
pub(crate) mod fleet;
#[doc(hidden)]
pub mod fuzz_api;
pub mod history;
pub mod incident;
pub mod judge;
pub mod notify;
pub mod output;
pub mod read_limit;
pub mod runbook;
pub mod secret;
pub mod spec;
pub mod suggest;
pub mod values;

pub mod stdio;

pub use commands::main_entry;
