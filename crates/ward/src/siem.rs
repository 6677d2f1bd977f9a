//! `[[siem]]`: every committed event, streamed to a SIEM as syslog (RFC 5424 over TCP or TLS),
//! webhook batches or OpenTelemetry logs (OTLP/HTTP, JSON). Each stream reads the store from
//! its cursor in checkpoint order (`ward_store::siem`), sends a batch, and moves the cursor only
//! once the batch was taken: at least once, and a restart resends from the cursor, so nothing
//! is skipped. In a store shared by several Wards, one of them sends each stream at a time (a
//! lease in the store), and another takes over when it stops renewing it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use ward_config::{Config, Siem, SiemKind};
use ward_core::{Timestamp, metrics};
use ward_store::siem::{Cursor, Exported};
use ward_store::{Location, Store};

/// How long a Ward holds a stream without renewing its lease.
const LEASE: Duration = Duration::from_secs(30);
/// How often an idle stream looks for newly signed events.
const POLL: Duration = Duration::from_secs(1);
/// The longest wait between attempts to deliver a batch.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a connection or a post may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Starts a task for each `[[siem]]` stream, until `stop` turns true.
pub fn start(
    config: &Config,
    location: &Location,
    node: &str,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    for stream in &config.siem {
        let sink = Sink::new(stream)?;
        let task = Stream {
            config: stream.clone(),
            location: location.clone(),
            holder: node.to_owned(),
            sink,
            store: None,
        };
        tokio::spawn(task.run(stop.clone()));
    }
    Ok(())
}

struct Stream {
    config: Siem,
    location: Location,
    /// This Ward's name in the store, as the lease holder.
    holder: String,
    sink: Sink,
    store: Option<Arc<Mutex<Store>>>,
}

impl Stream {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let name = self.config.name.clone();
        let mut held: Option<(Cursor, Timestamp)> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            let idle = match self.step(&mut held).await {
                Ok(sent) => !sent,
                Err(e) => {
                    tracing::warn!(stream = %name, error = %format!("{e:#}"), "SIEM stream: cannot read the store");
                    held = None;
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Sends the next batch, if this Ward holds the stream and there is one: whether it sent.
    async fn step(&mut self, held: &mut Option<(Cursor, Timestamp)>) -> anyhow::Result<bool> {
        let (name, holder) = (self.config.name.clone(), self.holder.clone());
        let now = Timestamp::now();
        let until = Timestamp(now.0 + LEASE.as_nanos() as i64);
        let cursor = match *held {
            Some((cursor, _)) => cursor,
            None => {
                let from_start = self.config.start == ward_config::SiemStart::Beginning;
                let claimed = self
                    .blocking(move |s| s.siem_claim(&name, &holder, (now, until), from_start))
                    .await?;
                let Some(cursor) = claimed else {
                    return Ok(false); // another Ward sends this stream
                };
                tracing::info!(stream = %self.config.name, checkpoint = cursor.checkpoint, "SIEM stream: sending from the store's cursor");
                *held = Some((cursor, until));
                cursor
            }
        };
        let batch = self.config.batch;
        let (events, next) = self.blocking(move |s| s.siem_read(cursor, batch)).await?;
        let lease_ends = held.map_or(now, |(_, t)| t);
        if next == cursor && lease_ends.0 - now.0 > (LEASE / 2).as_nanos() as i64 {
            return Ok(false);
        }
        let wanted: Vec<&Exported> = events
            .iter()
            .filter(|e| self.config.wants(&e.kind))
            .collect();
        if !wanted.is_empty() {
            self.deliver(&wanted, next).await;
        }
        let (name, holder) = (self.config.name.clone(), self.holder.clone());
        let until = Timestamp(Timestamp::now().0 + LEASE.as_nanos() as i64);
        let kept = self
            .blocking(move |s| s.siem_advance(&name, &holder, next, until))
            .await?;
        *held = kept.then_some((next, until));
        if !kept {
            tracing::warn!(stream = %self.config.name, "SIEM stream: another Ward took this stream over");
        }
        Ok(next != cursor)
    }

    /// Delivers `events` until the SIEM takes them, waiting longer after each failure.
    async fn deliver(&mut self, events: &[&Exported], next: Cursor) {
        let name = self.config.name.clone();
        let id = format!("{name}:{}:{}:{}", next.checkpoint, next.leaf, next.seq);
        let mut wait = Duration::from_secs(1);
        loop {
            match self.sink.send(&self.config, &id, events).await {
                Ok(()) => {
                    metrics::add(
                        metrics::SIEM_EVENTS,
                        &[("stream", &name)],
                        events.len() as f64,
                    );
                    return;
                }
                Err(e) => {
                    metrics::add(metrics::SIEM_ERRORS, &[("stream", &name)], 1.0);
                    tracing::warn!(stream = %name, error = %format!("{e:#}"), retry_in = ?wait, "SIEM stream: delivery failed; the batch is sent again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Runs `f` on this stream's own store connection, off the async workers.
    async fn blocking<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, ward_store::StoreError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = match &self.store {
            Some(s) => s.clone(),
            None => {
                let location = self.location.clone();
                let opened = tokio::task::spawn_blocking(move || Store::open(&location)).await??;
                let store = Arc::new(Mutex::new(opened));
                self.store = Some(store.clone());
                store
            }
        };
        let result = tokio::task::spawn_blocking(move || {
            let mut store = store
                .lock()
                .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
            f(&mut store).map_err(anyhow::Error::from)
        })
        .await?;
        if result.is_err() {
            // A connection that failed is opened afresh next time.
            self.store = None;
        }
        result
    }
}

/// Where a stream's batches go.
enum Sink {
    Syslog(Syslog),
    Http(reqwest::Client),
}

impl Sink {
    fn new(config: &Siem) -> anyhow::Result<Self> {
        Ok(match config.kind {
            SiemKind::Syslog => Self::Syslog(Syslog::new(config)?),
            SiemKind::Webhook | SiemKind::Otlp => Self::Http(
                ward_auth::oidc::http_client(config.ca_file.as_deref())
                    .with_context(|| format!("siem `{}`", config.name))?,
            ),
        })
    }

    async fn send(&mut self, config: &Siem, id: &str, events: &[&Exported]) -> anyhow::Result<()> {
        match self {
            Self::Syslog(syslog) => syslog.send(events).await,
            Self::Http(client) => {
                let body = match config.kind {
                    SiemKind::Otlp => otlp(events),
                    _ => json!({ "stream": config.name, "events": events }),
                }
                .to_string();
                crate::webhooks::post_signed(
                    client,
                    &config.url,
                    (id, config.secret.as_ref()),
                    body,
                )
                .await
                .map_err(|why| anyhow::anyhow!("{}: {why}", config.url))
            }
        }
    }
}

/// A syslog receiver over TCP or TLS, with RFC 5425's octet-counting framing.
struct Syslog {
    address: String,
    tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    connection: Option<Box<dyn AsyncWrite + Send + Sync + Unpin>>,
    host: String,
}

impl Syslog {
    fn new(config: &Siem) -> anyhow::Result<Self> {
        let (tls, address) = match config.url.split_once("://") {
            Some(("tls", a)) => (true, a.to_owned()),
            Some((_, a)) => (false, a.to_owned()),
            None => (false, config.url.clone()),
        };
        let tls = if tls {
            let host = address
                .rsplit_once(':')
                .map_or(address.as_str(), |(h, _)| h)
                .trim_matches(['[', ']'])
                .to_owned();
            let (client, name) = ward_config::tls::verify_full(&host, config.ca_file.as_deref())
                .map_err(|e| anyhow::anyhow!("siem `{}`: {e}", config.name))?;
            Some((Arc::new(client), name))
        } else {
            None
        };
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "-".to_owned());
        Ok(Self {
            address,
            tls,
            connection: None,
            host,
        })
    }

    async fn send(&mut self, events: &[&Exported]) -> anyhow::Result<()> {
        let mut frames = Vec::new();
        for e in events {
            let message = rfc5424(&self.host, e);
            frames.extend_from_slice(format!("{} ", message.len()).as_bytes());
            frames.extend_from_slice(message.as_bytes());
        }
        let written = async {
            if self.connection.is_none() {
                self.connection = Some(self.connect().await?);
            }
            let connection = self.connection.as_mut().context("no connection")?;
            connection.write_all(&frames).await?;
            connection.flush().await?;
            anyhow::Ok(())
        };
        let written = tokio::time::timeout(TIMEOUT, written)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("writing took longer than {TIMEOUT:?}")));
        if written.is_err() {
            self.connection = None;
        }
        written.with_context(|| format!("syslog at {}", self.address))
    }

    async fn connect(&self) -> anyhow::Result<Box<dyn AsyncWrite + Send + Sync + Unpin>> {
        let tcp = tokio::net::TcpStream::connect(&self.address).await?;
        let _ = tcp.set_nodelay(true);
        Ok(match &self.tls {
            None => Box::new(tcp),
            Some((config, name)) => Box::new(
                tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name.clone(), tcp)
                    .await?,
            ),
        })
    }
}

/// Whether an event reports a refusal or a failure (a warning for the SIEM).
fn is_warning(kind: &str) -> bool {
    matches!(
        kind,
        "policy.denied" | "session.error" | "session.terminated" | "control.terminate"
    )
}

/// One event as an RFC 5424 message: facility "log audit" (13), the event's time to the
/// microsecond, app `ward`, the event kind as its MSGID, and the event as JSON.
fn rfc5424(host: &str, e: &Exported) -> String {
    let severity = if is_warning(&e.kind) { 4 } else { 6 };
    let at = Timestamp(e.at_ns / 1_000 * 1_000).to_rfc3339();
    let msgid: String = e
        .kind
        .chars()
        .filter(char::is_ascii_graphic)
        .take(32)
        .collect();
    let json = serde_json::to_string(e).unwrap_or_default();
    format!(
        "<{}>1 {at} {host} ward - {msgid} - {json}",
        13 * 8 + severity
    )
}

/// Events as an OTLP `ExportLogsServiceRequest`, in its JSON encoding.
fn otlp(events: &[&Exported]) -> Value {
    let text = |k: &str, v: &str| json!({ "key": k, "value": { "stringValue": v } });
    let records: Vec<Value> = events
        .iter()
        .map(|e| {
            let warning = is_warning(&e.kind);
            json!({
                "timeUnixNano": e.at_ns.to_string(),
                "observedTimeUnixNano": Timestamp::now().0.to_string(),
                "severityNumber": if warning { 13 } else { 9 },
                "severityText": if warning { "WARN" } else { "INFO" },
                "eventName": e.kind,
                "body": { "stringValue": serde_json::to_string(e).unwrap_or_default() },
                "attributes": [
                    text("ward.session", &e.session),
                    json!({ "key": "ward.seq", "value": { "intValue": e.seq.to_string() } }),
                    text("ward.kind", &e.kind),
                    text("ward.user", &e.user),
                    text("ward.resource", &e.resource),
                    text("ward.protocol", &e.protocol),
                    text("ward.hash", &e.hash),
                    json!({ "key": "ward.checkpoint", "value": { "intValue": e.checkpoint.to_string() } }),
                ],
            })
        })
        .collect();
    json!({
        "resourceLogs": [{
            "resource": { "attributes": [text("service.name", "ward")] },
            "scopeLogs": [{
                "scope": { "name": "ward", "version": crate::VERSION },
                "logRecords": records,
            }],
        }],
    })
}
