//! One integration-test binary (faster to build than one per file). Each
//! module runs the real `opsrun` binary against real things it starts:
//! HTTP servers on 127.0.0.1, files, child processes.

mod common;

mod cli;
mod commands;
mod engine;
mod http;
mod logs;
mod malformed;
mod outputs;
mod runbooks;
