//! The metrics listener (`[listen] metrics`): plain HTTP for Prometheus's scraper, which
//! reads `/metrics`, and for liveness checks on `/healthz`. It serves nothing else, so it can
//! be reachable from the monitoring network without exposing the API.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `listener` until `stop` turns true; `queue_depth` tells the recorder's queue.
pub async fn serve(
    listener: TcpListener,
    queue_depth: impl Fn() -> usize + Send + Sync + 'static,
    mut stop: watch::Receiver<bool>,
) {
    let queue_depth = std::sync::Arc::new(queue_depth);
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
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
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::warn!(error = %e, "the metrics listener stopped");
    }
}
