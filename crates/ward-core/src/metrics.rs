//! The process's operational metrics, in Prometheus's text format (`[listen] metrics`,
//! docs/operations.md). Everything counted here happens at most once per session or per
//! recorder commit, never per message, so one lock over the whole registry costs nothing that
//! shows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// What each metric is, in the order they are exposed.
pub const FAMILIES: &[(&str, Type, &str)] = &[
    (
        SESSIONS,
        Type::Counter,
        "Sessions ended, by protocol and outcome (ok, denied, error, terminated, incomplete).",
    ),
    (
        SESSIONS_ACTIVE,
        Type::Gauge,
        "Sessions open now, by protocol.",
    ),
    (
        DENIALS,
        Type::Counter,
        "Refusals: `access` for sessions refused at the door, `guardrail` for steps a guardrail refused.",
    ),
    (
        MASKED,
        Type::Counter,
        "Values masked in the record, by masking rule.",
    ),
    (
        BYTES,
        Type::Counter,
        "Bytes relayed by sessions that ended, by protocol and direction (up: to the resource).",
    ),
    (
        UPSTREAM_CONNECT,
        Type::Histogram,
        "Time to connect to a resource (TCP, TLS and the protocol's handshake), by protocol.",
    ),
    (
        RECORDER_QUEUE,
        Type::Gauge,
        "Messages waiting in the recorder's queue.",
    ),
    (
        RECORDER_COMMIT,
        Type::Histogram,
        "Time the recorder takes to write and commit one batch of events.",
    ),
    (
        EVENTS,
        Type::Counter,
        "Events committed to the audit store.",
    ),
    (
        STORE_ERRORS,
        Type::Counter,
        "Failed attempts to write to the audit store (each is retried).",
    ),
    (
        SIEM_EVENTS,
        Type::Counter,
        "Events a SIEM stream delivered, by stream.",
    ),
    (
        SIEM_ERRORS,
        Type::Counter,
        "Failed deliveries of a SIEM stream's batch (each is retried), by stream.",
    ),
];

pub const SESSIONS: &str = "ward_sessions_total";
pub const SESSIONS_ACTIVE: &str = "ward_sessions_active";
pub const DENIALS: &str = "ward_denials_total";
pub const MASKED: &str = "ward_masked_values_total";
pub const BYTES: &str = "ward_bytes_relayed_total";
pub const UPSTREAM_CONNECT: &str = "ward_upstream_connect_seconds";
pub const RECORDER_QUEUE: &str = "ward_recorder_queue_depth";
pub const RECORDER_COMMIT: &str = "ward_recorder_commit_seconds";
pub const EVENTS: &str = "ward_events_total";
pub const STORE_ERRORS: &str = "ward_store_errors_total";
pub const SIEM_EVENTS: &str = "ward_siem_events_total";
pub const SIEM_ERRORS: &str = "ward_siem_errors_total";

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

/// Upper bounds of the histograms' buckets, in seconds (from 100 µs to 10 s).
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// One sample's labels, `name="value"` pairs in a fixed order.
type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Histogram {
    /// Observations at or under each bucket's bound (not cumulative), then the rest.
    buckets: [u64; 17],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Registry {
    values: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn with(f: impl FnOnce(&mut Registry)) {
    if let Ok(mut r) = REGISTRY.lock() {
        f(&mut r);
    }
}

/// Adds `n` to the counter (or gauge) `name` with `pairs` as its labels.
pub fn add(name: &'static str, pairs: &[(&'static str, &str)], n: f64) {
    with(|r| *r.values.entry((name, labels(pairs))).or_default() += n);
}

/// Sets the gauge `name` with `pairs` as its labels.
pub fn set(name: &'static str, pairs: &[(&'static str, &str)], value: f64) {
    with(|r| {
        r.values.insert((name, labels(pairs)), value);
    });
}

/// Records one observation of the histogram `name`.
pub fn observe(name: &'static str, pairs: &[(&'static str, &str)], took: Duration) {
    let seconds = took.as_secs_f64();
    with(|r| {
        let h = r.histograms.entry((name, labels(pairs))).or_default();
        let i = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        h.buckets[i] += 1;
        h.sum += seconds;
        h.count += 1;
    });
}

/// Runs `connect`, a connection to a resource of `protocol`, and observes how long it took
/// when it succeeded.
pub async fn connecting<T, E>(
    protocol: &'static str,
    connect: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let began = std::time::Instant::now();
    let connected = connect.await;
    if connected.is_ok() {
        observe(UPSTREAM_CONNECT, &[("protocol", protocol)], began.elapsed());
    }
    connected
}

/// Every metric in Prometheus's text exposition format (version 0.0.4).
pub fn render() -> String {
    let mut out = String::new();
    let Ok(r) = REGISTRY.lock() else {
        return out;
    };
    for (name, kind, help) in FAMILIES {
        let kind_name = match kind {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind_name}");
        for ((_, l), v) in r
            .values
            .range((*name, Vec::new())..)
            .take_while(|((n, _), _)| n == name)
        {
            let _ = writeln!(out, "{name}{} {v}", text(l, None));
        }
        for ((_, l), h) in r
            .histograms
            .range((*name, Vec::new())..)
            .take_while(|((n, _), _)| n == name)
        {
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i];
                let le = bound.to_string();
                let _ = writeln!(out, "{name}_bucket{} {cumulative}", text(l, Some(&le)));
            }
            let _ = writeln!(out, "{name}_bucket{} {}", text(l, Some("+Inf")), h.count);
            let _ = writeln!(out, "{name}_sum{} {}", text(l, None), h.sum);
            let _ = writeln!(out, "{name}_count{} {}", text(l, None), h.count);
        }
    }
    out
}

/// `{a="x",b="y"}` (with `le` last, for a bucket), escaped; empty without labels.
fn text(labels: &Labels, le: Option<&str>) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    match pairs.is_empty() {
        true => String::new(),
        false => format!("{{{}}}", pairs.join(",")),
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_render_in_the_text_format() {
        add(
            SESSIONS,
            &[("protocol", "postgres"), ("outcome", "ok")],
            2.0,
        );
        add(MASKED, &[("rule", "card \"pan\"")], 1.0);
        set(RECORDER_QUEUE, &[], 3.0);
        observe(
            UPSTREAM_CONNECT,
            &[("protocol", "ssh")],
            Duration::from_millis(3),
        );
        let text = render();
        assert!(
            text.contains("# TYPE ward_sessions_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("ward_sessions_total{protocol=\"postgres\",outcome=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("ward_masked_values_total{rule=\"card \\\"pan\\\"\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("ward_recorder_queue_depth 3\n"), "{text}");
        assert!(
            text.contains(
                "ward_upstream_connect_seconds_bucket{protocol=\"ssh\",le=\"0.0025\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "ward_upstream_connect_seconds_bucket{protocol=\"ssh\",le=\"0.005\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("ward_upstream_connect_seconds_count{protocol=\"ssh\"} 1\n"),
            "{text}"
        );
    }
}
