//! One integration-test binary (faster to build than one per file). Each
//! module runs the real `opsrun` binary against real things it starts:
//! HTTP servers on 127.0.0.1, files, child processes.

mod common;

mod backup;
mod cli;
mod commands;
mod databases;
mod demo;
mod engine;
mod history;
mod http;
mod incident;
mod logs;
mod malformed;
mod notify;
mod outputs;
mod prometheus;
mod runbooks;
mod service_data;
