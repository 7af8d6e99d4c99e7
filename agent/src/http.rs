//! The agent's HTTP endpoints on `--listen`: `/metrics`, `/healthz`,
//! `/readyz`, `/report` and `POST /run`.
//!
//! axum rather than hyper 1 directly: routing, method checks (405), query
//! parsing and graceful shutdown come with it for a few hundred kB, where
//! bare hyper needs hyper-util and a hand-written router for five paths.
//! Every handler reads memory only; `POST /run?wait=true` is the one that
//! waits, and only for the run it asked for. `/report` and `POST
//! /run?wait=true` answer with the run's Loki report line: a failed run's
//! `run_failure` (class, exit code, signal) and `stderr_tail` included.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::metrics::CONTENT_TYPE;
use crate::outcome::Outcome;
use crate::shared::{Agent, NotStarted};

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// The routes, for [`serve`] and for tests.
pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/report", get(report))
        .route("/run", post(run))
        .with_state(agent)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    agent: Arc<Agent>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(agent))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(agent): State<Arc<Agent>>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        agent.metrics().encode(),
    )
        .into_response()
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n")
}

async fn readyz(State(agent): State<Arc<Agent>>) -> Response {
    match agent.last() {
        Some(_) => text(StatusCode::OK, "ready\n"),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the first run has not finished\n",
        ),
    }
}

async fn report(State(agent): State<Arc<Agent>>) -> Response {
    match agent.last() {
        Some(outcome) => line(&outcome),
        None => text(StatusCode::NOT_FOUND, "no run has finished yet\n"),
    }
}

async fn run(
    State(agent): State<Arc<Agent>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let wait = query
        .get("wait")
        .is_some_and(|v| v.is_empty() || v == "true" || v == "1");
    let mut finished = agent.subscribe();
    match agent.start_manual() {
        Ok(handle) if wait => match handle.await {
            Ok(outcome) => line(&outcome),
            Err(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the run did not finish\n",
            ),
        },
        Ok(_) => text(StatusCode::ACCEPTED, "run started\n"),
        Err(NotStarted::Running) if wait => {
            // The run going on is as fresh as one started now would be.
            if finished.changed().await.is_err() {
                return text(StatusCode::INTERNAL_SERVER_ERROR, "the agent stopped\n");
            }
            match agent.last() {
                Some(outcome) => line(&outcome),
                None => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the run did not finish\n",
                ),
            }
        }
        Err(NotStarted::Running) => text(StatusCode::ACCEPTED, "a run is already running\n"),
        Err(NotStarted::TooSoon { retry_after }) => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let seconds = seconds.max(1);
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, seconds.to_string()),
                    (header::CONTENT_TYPE, TEXT.to_string()),
                ],
                format!("a run was started on request moments ago; retry in {seconds} s\n"),
            )
                .into_response()
        }
    }
}

fn line(outcome: &Outcome) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        outcome.line.to_json(),
    )
        .into_response()
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}
