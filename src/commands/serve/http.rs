//! The HTTP side of `opsrun serve`: hyper 1's HTTP/1 server connection
//! on the process's tokio runtime, four GET pages read from [`State`].
//!
//! Why hyper and not axum: hyper and hyper-util are in the build already
//! (reqwest's client), so the server costs two features of crates that
//! are compiled anyway, where axum would add a framework (axum, its core,
//! tower's routing, matchit, serde_urlencoded…) to route four fixed
//! paths — a `match` here.
//!
//! Bounded in every direction, so no client can hold the server:
//! - at most [`MAX_CONNECTIONS`] connections at once; past that, new ones
//!   wait in the kernel's listen backlog (bounded) until one ends;
//! - a request's head must arrive within [`HEADER_TIMEOUT`] (a slowloris
//!   client is dropped) and fit in [`MAX_BUF`]; request bodies are never
//!   read;
//! - a connection lives at most [`CONNECTION_LIFETIME`] (keep-alive
//!   included), then is closed after its current response;
//! - answers are built from the latest finished runs in memory: a request
//!   never starts a run, reads history or waits for anything.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::State;
use crate::engine::Interrupt;
use crate::output::serve::{self as words, Health};

/// Connections served at once.
pub(super) const MAX_CONNECTIONS: usize = 64;
/// Time for a request's head (request line and headers) to arrive.
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection's longest life, keep-alive included.
pub(super) const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// After a signal (or at the end of a connection's life): time for the
/// response in flight to be sent.
pub(super) const DRAIN: Duration = Duration::from_secs(1);
/// The read buffer of a connection: a request head larger than this is
/// refused (431). hyper's minimum is 8 KiB.
const MAX_BUF: usize = 16 * 1024;

/// The pages, for the 404's hint and the method check.
const PAGES: [&str; 4] = ["/healthz", "/metrics", "/api/v1/runs/latest", "/report"];

/// Accepts connections until the signal, then lets the open ones finish
/// (each bounded by [`DRAIN`]).
pub(super) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<Option<Interrupt>>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        // Finished connections are reaped as we go: the set stays as
        // small as the connections open.
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.wait_for(Option::is_some) => break,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(Option::is_some) => break,
        };
        match accepted {
            Ok((sock, _)) => {
                conns.spawn(connection(sock, state.clone(), stop.clone(), permit));
            }
            Err(e) => {
                // Out of file descriptors, a connection reset before it
                // was accepted: try again shortly, without spinning.
                tracing::debug!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN + Duration::from_millis(100), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}

async fn connection(
    sock: TcpStream,
    state: Arc<State>,
    mut stop: watch::Receiver<Option<Interrupt>>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = sock.set_nodelay(true);
    let service = service_fn(move |req: Request<Incoming>| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(respond(&req, &state)) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BUF)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(sock), service);
    tokio::pin!(conn);
    let life = tokio::time::sleep(CONNECTION_LIFETIME);
    tokio::pin!(life);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = &mut life => {}
        _ = stop.wait_for(Option::is_some) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(DRAIN, conn).await;
}

/// The answer to one request, from the latest runs.
fn respond(req: &Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if !PAGES.contains(&path) {
        return text(StatusCode::NOT_FOUND, words::not_found(path));
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            words::method_not_allowed(req.method().as_str()),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let snap = state.snapshot();
    let served = state.served(&snap);
    match path {
        "/healthz" => {
            let (health, body) = words::health(&served);
            let status = match health {
                Health::Ok => StatusCode::OK,
                Health::Fail | Health::Starting => StatusCode::SERVICE_UNAVAILABLE,
            };
            json(status, body)
        }
        "/metrics" => with_type(
            StatusCode::OK,
            words::metrics(&served),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        "/api/v1/runs/latest" => match words::latest_json(&served) {
            Some(body) => json(StatusCode::OK, body),
            None => json(StatusCode::SERVICE_UNAVAILABLE, words::no_run_yet(true)),
        },
        _ => report(req, &snap),
    }
}

/// `/report`: the latest report as text (`?format=text`, the default)
/// or as the self-contained HTML page of `-f html` (`?format=html`).
fn report(req: &Request<Incoming>, snap: &[Option<super::Latest>]) -> Response<Full<Bytes>> {
    let format = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("format="))
        .unwrap_or("text");
    let (body, kind) = match format {
        "text" => (State::report(snap), "text/plain; charset=utf-8"),
        "html" => (State::report_html(snap), "text/html; charset=utf-8"),
        _ => {
            return text(
                StatusCode::BAD_REQUEST,
                words::bad_report_format(format, &["text", "html"]),
            );
        }
    };
    match body {
        Some(body) => with_type(StatusCode::OK, body, kind),
        None => text(StatusCode::SERVICE_UNAVAILABLE, words::no_run_yet(false)),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, body, "text/plain; charset=utf-8")
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, body, "application/json")
}

fn with_type(status: StatusCode, body: String, kind: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Always the latest run: a cache between must not answer for us.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
