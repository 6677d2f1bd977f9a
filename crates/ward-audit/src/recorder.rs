//! The recorder: one task per store that receives events from sessions through a bounded queue,
//! chains them and writes them with group commit.
//!
//! # Performance
//! Sessions only build a small [`EventBody`] and push it on the queue; payload encoding, hashing
//! and SQLite writes happen on the recorder's own thread. After the first event of a batch it
//! waits one commit window (10 ms), then writes everything queued (up to a batch limit) in one
//! transaction: the commit cost is shared by many events, and sessions rarely have to wake it.
//!
//! # Backpressure
//! INVARIANT: events are never dropped. When the queue is full, `record` waits, which slows the
//! session that produces them. When the store cannot be written, the batch is retried and the
//! recorder reports itself unhealthy so that new sessions are refused.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::params;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId, Timestamp};

use crate::chain::{self, Hash};
use crate::payload::PayloadWriter;
use crate::store::{Store, StoreError};
use ward_mask::{MaskReport, Masker};

/// One event's content. Implementations encode lazily, on the recorder thread.
pub trait EventBody: Send + 'static {
    fn kind(&self) -> EventKind;
    /// Writes the event's JSON payload to `out`.
    ///
    /// INVARIANT: every value that came from a client or a server (statements, parameters, rows,
    /// messages, data) passes through `mask` first, with its matches counted in `report`; the
    /// recorder turns a non-empty report into a `mask.applied` event. Nothing unmasked is stored.
    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport);
}

/// An event of Ward's own metadata (identities, decisions, addresses), written as is: it holds
/// nothing that a client or a server sent.
pub struct JsonBody(pub EventKind, pub serde_json::Value);

impl EventBody for JsonBody {
    fn kind(&self) -> EventKind {
        self.0
    }
    fn write_payload(&self, out: &mut dyn Write, _mask: &Masker, _report: &mut MaskReport) {
        let _ = serde_json::to_writer(out, &self.1);
    }
}

/// What is known when a session starts.
#[derive(Debug, Clone, Serialize)]
pub struct SessionStart {
    pub id: SessionId,
    pub identity: Identity,
    pub resource: String,
    pub protocol: Protocol,
    pub client_addr: String,
}

enum Msg {
    Start(SessionStart, Timestamp),
    Event(SessionId, Timestamp, Box<dyn EventBody>),
    End {
        id: SessionId,
        at: Timestamp,
        outcome: Outcome,
        bytes_up: u64,
        bytes_down: u64,
    },
    Flush(oneshot::Sender<()>),
}

/// Handle to the recorder task; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    healthy: Arc<AtomicBool>,
}

const MAX_BATCH: usize = 4096;
/// How long the recorder gathers events before committing them together. Bounds how much a
/// crash can lose in the default batched mode (DESIGN invariant 2 allows 50 ms).
const COMMIT_WINDOW: Duration = Duration::from_millis(10);

impl Recorder {
    /// Opens the store at `path` and starts the recorder thread with a queue of `capacity` events,
    /// masking every payload with `masker`. Sessions left open by a previous run are marked
    /// `incomplete` first.
    pub fn spawn(
        path: &Path,
        capacity: usize,
        masker: Masker,
    ) -> Result<(Self, std::thread::JoinHandle<()>), StoreError> {
        let store = Store::open(path)?;
        let abandoned = store.close_abandoned_sessions()?;
        if abandoned > 0 {
            tracing::warn!(
                sessions = abandoned,
                "marked sessions left open by the previous run as incomplete"
            );
        }
        let (tx, rx) = mpsc::channel(capacity);
        let healthy = Arc::new(AtomicBool::new(true));
        let flag = healthy.clone();
        let handle = std::thread::Builder::new()
            .name("ward-recorder".into())
            .spawn(move || {
                Writer {
                    store,
                    heads: HashMap::new(),
                    healthy: flag,
                    masker,
                }
                .run(rx)
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start recorder thread: {e}")))?;
        Ok((Self { tx, healthy }, handle))
    }

    /// False while the store cannot be written; new sessions should be refused.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Starts recording a session: writes its row and the `session.start` event.
    pub async fn start(&self, start: SessionStart) -> SessionRecorder {
        let id = start.id;
        let _ = self.tx.send(Msg::Start(start, Timestamp::now())).await;
        SessionRecorder {
            id,
            tx: self.tx.clone(),
        }
    }

    /// Waits until everything queued before this call is committed.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Records the events of one session, in order.
#[derive(Clone)]
pub struct SessionRecorder {
    id: SessionId,
    tx: mpsc::Sender<Msg>,
}

impl SessionRecorder {
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Queues one event, waiting while the queue is full.
    pub async fn record(&self, body: impl EventBody) {
        let _ = self
            .tx
            .send(Msg::Event(self.id, Timestamp::now(), Box::new(body)))
            .await;
    }

    /// Queues the `session.end` event and closes the session's row.
    pub async fn end(&self, outcome: Outcome, bytes_up: u64, bytes_down: u64) {
        let msg = Msg::End {
            id: self.id,
            at: Timestamp::now(),
            outcome,
            bytes_up,
            bytes_down,
        };
        let _ = self.tx.send(msg).await;
    }
}

struct Head {
    next_seq: u64,
    hash: Hash,
}

struct Writer {
    store: Store,
    heads: HashMap<SessionId, Head>,
    healthy: Arc<AtomicBool>,
    masker: Masker,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            // Gather for one commit window: sessions push without waking this thread, and one
            // transaction carries everything that arrived meanwhile.
            let flush_now = matches!(first, Msg::Flush(_));
            batch.push(first);
            if !flush_now {
                std::thread::sleep(COMMIT_WINDOW);
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            self.commit_with_retry(&mut batch);
        }
    }

    fn commit_with_retry(&mut self, batch: &mut Vec<Msg>) {
        let mut waiters = Vec::new();
        loop {
            let heads_before: Vec<(SessionId, u64, Hash)> = self
                .heads
                .iter()
                .map(|(id, h)| (*id, h.next_seq, h.hash))
                .collect();
            match self.write(batch, &mut waiters) {
                Ok(()) => {
                    self.healthy.store(true, Ordering::Relaxed);
                    break;
                }
                Err(e) => {
                    // Undo the chain heads advanced by the failed transaction, then retry the same batch.
                    self.heads.clear();
                    for (id, next_seq, hash) in heads_before {
                        self.heads.insert(id, Head { next_seq, hash });
                    }
                    waiters.clear();
                    if self.healthy.swap(false, Ordering::Relaxed) {
                        tracing::error!(error = %e, "cannot write to the audit store; sessions wait and new ones are refused");
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        batch.clear();
        for w in waiters {
            let _ = w.send(());
        }
    }

    fn write(
        &mut self,
        batch: &mut [Msg],
        waiters: &mut Vec<oneshot::Sender<()>>,
    ) -> Result<(), StoreError> {
        let tx = self.store.conn.transaction()?;
        {
            let mut ins_event = tx.prepare_cached(
                "INSERT INTO events (session_id, seq, at, kind, payload, compressed, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut touched: HashMap<SessionId, ()> = HashMap::new();
            for msg in batch.iter_mut() {
                match msg {
                    Msg::Start(start, at) => {
                        tx.execute(
                            "INSERT INTO sessions (id, subject, groups, auth_method, resource, protocol, client_addr, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            params![
                                start.id.0.as_bytes(),
                                start.identity.subject,
                                serde_json::to_string(&start.identity.groups).unwrap_or_default(),
                                start.identity.method,
                                start.resource,
                                start.protocol.as_str(),
                                start.client_addr,
                                at.0
                            ],
                        )?;
                        self.heads.insert(
                            start.id,
                            Head {
                                next_seq: 0,
                                hash: chain::genesis(start.id),
                            },
                        );
                        let value = serde_json::to_value(&*start).unwrap_or_default();
                        let body = JsonBody(EventKind::SessionStart, value);
                        append(
                            &mut ins_event,
                            &mut self.heads,
                            &self.masker,
                            start.id,
                            *at,
                            &body,
                        )?;
                        touched.insert(start.id, ());
                    }
                    Msg::Event(id, at, body) => {
                        append(
                            &mut ins_event,
                            &mut self.heads,
                            &self.masker,
                            *id,
                            *at,
                            &**body,
                        )?;
                        touched.insert(*id, ());
                    }
                    Msg::End {
                        id,
                        at,
                        outcome,
                        bytes_up,
                        bytes_down,
                    } => {
                        let payload = serde_json::json!({
                            "outcome": outcome.as_str(), "bytes_up": bytes_up, "bytes_down": bytes_down,
                        });
                        let body = JsonBody(EventKind::SessionEnd, payload);
                        append(
                            &mut ins_event,
                            &mut self.heads,
                            &self.masker,
                            *id,
                            *at,
                            &body,
                        )?;
                        tx.execute(
                            "UPDATE sessions SET ended_at = ?2, outcome = ?3, bytes_up = ?4, bytes_down = ?5 WHERE id = ?1",
                            params![id.0.as_bytes(), at.0, outcome.as_str(), i64_of(*bytes_up), i64_of(*bytes_down)],
                        )?;
                        touched.insert(*id, ());
                    }
                    Msg::Flush(_) => {}
                }
            }
            let mut upd = tx.prepare_cached(
                "UPDATE sessions SET event_count = ?2, head_hash = ?3 WHERE id = ?1",
            )?;
            for id in touched.keys() {
                if let Some(head) = self.heads.get(id) {
                    upd.execute(params![
                        id.0.as_bytes(),
                        i64_of(head.next_seq),
                        &head.hash[..]
                    ])?;
                }
            }
        }
        tx.commit()?;
        for msg in batch.iter_mut() {
            match msg {
                Msg::End { id, .. } => {
                    self.heads.remove(id);
                }
                Msg::Flush(_) => {
                    if let Msg::Flush(w) = std::mem::replace(msg, Msg::Flush(oneshot::channel().0))
                    {
                        waiters.push(w);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn append(
    stmt: &mut rusqlite::CachedStatement<'_>,
    heads: &mut HashMap<SessionId, Head>,
    masker: &Masker,
    id: SessionId,
    at: Timestamp,
    body: &dyn EventBody,
) -> Result<(), StoreError> {
    let Some(head) = heads.get_mut(&id) else {
        return Err(StoreError::Corrupt(format!(
            "event for session {id} which has not started"
        )));
    };
    let kind = body.kind().as_str();
    let mut writer = PayloadWriter::new();
    let mut report = MaskReport::new();
    body.write_payload(&mut writer, masker, &mut report);
    let payload = writer
        .finish()
        .map_err(|e| StoreError::Corrupt(format!("encoding a {kind} payload: {e}")))?;
    let hash = chain::event_hash(&head.hash, head.next_seq, at.0, kind, &payload.digest);
    stmt.execute(params![
        id.0.as_bytes(),
        i64_of(head.next_seq),
        at.0,
        kind,
        payload.bytes,
        payload.compressed,
        &head.hash[..],
        &hash[..]
    ])?;
    let seq = head.next_seq;
    head.next_seq += 1;
    head.hash = hash;
    if !report.is_empty() {
        // Which rules fired and how often, never the values.
        let rules: serde_json::Map<String, serde_json::Value> = report
            .iter()
            .map(|(rule, n)| (rule.to_owned(), n.into()))
            .collect();
        let applied = serde_json::json!({ "event_seq": seq, "rules": rules });
        append(
            stmt,
            heads,
            masker,
            id,
            at,
            &JsonBody(EventKind::MaskApplied, applied),
        )?;
    }
    Ok(())
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
