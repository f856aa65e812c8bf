//! One integration-test binary (faster to build than one per file). Each
//! module runs the real `opsrun` binary against real things it starts:
//! HTTP servers on 127.0.0.1, files, child processes.

// Tests build paths from fixed, non-bare names; `Path::parent` is fine here.
#![allow(clippy::disallowed_methods)]

mod common;

mod alarms;
mod aws;
mod aws_examples;
mod aws_ops_design;
mod backup;
mod backup_pg;
mod change;
mod cli;
mod commands;
mod completions;
mod container;
mod databases;
mod demo;
mod diskio;
mod dns;
mod engine;
mod failure_injection;
mod fleet;
mod history;
mod hostile;
mod html;
mod http;
mod incident;
mod incident_life;
mod lang;
mod layers;
mod log_values;
mod logs;
mod malformed;
mod man;
mod notify;
mod outputs;
mod parsers;
mod prometheus;
mod readme;
mod remedies;
mod runbooks;
mod schedule;
mod secrets;
mod seeds;
mod serve;
mod service_data;
mod test_command;
mod timezone;
mod writes;
