//! The metrics listener (`[listen] metrics`): plain HTTP for Prometheus's scraper, which
//! reads `/metrics`, and for probes: `/healthz` (the process answers) and `/readyz` (the store
//! answers and the recorder writes to it). It serves nothing else, so it can be reachable from
//! the monitoring network without exposing the API.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use ward_store::{Location, Recorder, Store};

/// Serves `listener` until `stop` turns true, for the recorder `recorder` of the store at
/// `location`.
/// What it holds of the recorder does not keep it running.
pub fn serve(
    listener: TcpListener,
    (recorder, location): (&Recorder, Location),
    mut stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let queue_depth = Arc::new(recorder.queue_depth());
    let healthy = recorder.health();
    let store: Arc<Mutex<Option<Store>>> = Arc::default();
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let (store, location, healthy) = (store.clone(), location.clone(), healthy.clone());
                async move {
                    let answers = tokio::task::spawn_blocking(move || {
                        let mut store = store.lock().ok()?;
                        if store.is_none() {
                            *store = Store::open(&location).ok();
                        }
                        let answered = store.as_mut()?.version().is_ok();
                        if !answered {
                            *store = None; // opened afresh next time
                        }
                        Some(answered)
                    })
                    .await;
                    match (answers, healthy()) {
                        (Ok(Some(true)), true) => (StatusCode::OK, "ready"),
                        (Ok(Some(true)), false) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the recorder cannot write to the audit store",
                        ),
                        _ => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the audit store does not answer",
                        ),
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let queue_depth = queue_depth.clone();
                async move {
                    use ward_core::metrics;
                    metrics::set(metrics::RECORDER_QUEUE, &[], queue_depth() as f64);
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        metrics::render(),
                    )
                        .into_response()
                }
            }),
        );
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    async move {
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    }
}
