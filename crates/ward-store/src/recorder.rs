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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use ward_config::Durability;
use ward_core::metrics;
use ward_core::payload::{self, Payload};
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId, Timestamp};

mod tally;

use crate::body::{EventBody, JsonBody, StartBody};
use crate::chain::{self, Hash};
use crate::checkpoint::{self, Leaf, i64_of};
use crate::db::{EventRow, params};
use crate::notify::{Notify, notice};
use crate::payload::PayloadWriter;
use crate::signer::{KeySource, Signer};
use crate::store::{Location, Store, StoreError};
use tally::Tally;
use ward_mask::{MaskReport, Masker};

/// What is known when a session starts.
#[derive(Debug, Clone, Serialize)]
pub struct SessionStart {
    pub id: SessionId,
    pub identity: Identity,
    pub resource: String,
    pub protocol: Protocol,
    pub client_addr: String,
    /// What the client asked for before it was admitted: PostgreSQL's startup parameters
    /// (`application_name`, `options`, …), as sent, allowed or not.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Why the person connects, as the client gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SessionStart {
    /// The `session.start` event of this session.
    fn payload(&self) -> payload::SessionStart {
        payload::SessionStart {
            id: self.id.to_string(),
            identity: Some(self.identity.clone()),
            resource: self.resource.clone(),
            protocol: self.protocol.as_str().into(),
            client_addr: self.client_addr.clone(),
            parameters: self.parameters.clone(),
            reason: self.reason.clone(),
        }
    }
}

enum Msg {
    /// With the session's own masker, if it has one (else the recorder's).
    Start(Box<SessionStart>, Timestamp, Option<Masker>),
    Event {
        id: SessionId,
        at: Timestamp,
        body: Box<dyn EventBody>,
        /// The share of the byte budget the event holds until it is written (and dropped).
        _budget: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    End {
        id: SessionId,
        at: Timestamp,
        outcome: Outcome,
        bytes_up: u64,
        bytes_down: u64,
    },
    /// Answered `true` once everything queued before it is committed, `false` when a commit
    /// attempt failed (the events stay queued and are retried).
    Flush(oneshot::Sender<bool>),
    /// Like `Flush`, and signs a checkpoint over every head that advanced.
    Checkpoint(oneshot::Sender<bool>),
}

/// Where a protocol's relay records what it observes. Relays are written against this, not
/// against [`SessionRecorder`], so that their state machines can be driven message by message
/// in tests, without a store.
pub trait Sink: Sync {
    /// Records one event of the session.
    fn record(&self, body: impl EventBody) -> impl Future<Output = ()> + Send;
    /// Whether what the relay holds may go on to the client now ([`SessionRecorder::may_release`]).
    fn may_release(&self) -> impl Future<Output = bool> + Send;
    /// Whether the store is taking events ([`SessionRecorder::store_healthy`]).
    fn store_healthy(&self) -> bool;
}

impl Sink for SessionRecorder {
    fn record(&self, body: impl EventBody) -> impl Future<Output = ()> + Send {
        SessionRecorder::record(self, body)
    }
    fn may_release(&self) -> impl Future<Output = bool> + Send {
        SessionRecorder::may_release(self)
    }
    fn store_healthy(&self) -> bool {
        SessionRecorder::store_healthy(self)
    }
}

/// How the recorder writes and signs.
pub struct RecorderOptions {
    /// Events queued before sessions are slowed down.
    pub queue_events: usize,
    /// Masks every payload before it is stored.
    pub masker: Masker,
    pub durability: Durability,
    /// Where the checkpoint signing key comes from.
    pub signing_key: KeySource,
    /// How often the heads of sessions that advanced are signed (also at every session end).
    pub checkpoint_interval: Duration,
    /// This Ward's name in a store shared by several: at start it ends only the sessions that
    /// its own previous run left open.
    pub node: String,
    /// Who hears of committed events of some kinds (notifications).
    pub notify: Option<Notify>,
}

/// Handle to the recorder task; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    healthy: Arc<AtomicBool>,
    strict: bool,
    budget: Arc<tokio::sync::Semaphore>,
}

/// Bytes of large payloads (terminal output) queued at most, over every session: the queue's
/// bound in events alone would let a fast stream hold its events' data many times over.
const QUEUED_BYTES: usize = 32 << 20;

const MAX_BATCH: usize = 4096;
/// How long the recorder gathers events before committing them together in batched mode.
/// Bounds how much a crash can lose (docs/evidence.md: the batched durability window is at most 50 ms).
const COMMIT_WINDOW: Duration = Duration::from_millis(10);

impl Recorder {
    /// Opens the store at `path` and starts the recorder thread. Sessions left open by a
    /// previous run are ended first: each gets a `session.end` event with outcome `incomplete`,
    /// and a checkpoint signs their final heads.
    pub fn spawn(
        location: &Location,
        options: RecorderOptions,
    ) -> Result<(Self, std::thread::JoinHandle<()>), StoreError> {
        let mut store = Store::open(location)?;
        let strict = options.durability == Durability::Strict;
        if strict && !store.is_postgres() {
            // PostgreSQL commits durably by default in both modes.
            store.db.batch("PRAGMA synchronous = FULL;")?;
        }
        let signer = Signer::load(options.signing_key, &mut store.db)?;
        let (tx, rx) = mpsc::channel(options.queue_events);
        let healthy = Arc::new(AtomicBool::new(true));
        let mut writer = Writer {
            store,
            heads: HashMap::new(),
            healthy: healthy.clone(),
            masker: options.masker,
            session_maskers: HashMap::new(),
            strict,
            signer,
            node: options.node,
            dirty: HashSet::new(),
            protocols: HashMap::new(),
            interval: options.checkpoint_interval,
            due: Instant::now() + options.checkpoint_interval,
            notify: options.notify,
        };
        let abandoned = writer.end_abandoned()?;
        if abandoned > 0 {
            tracing::warn!(
                sessions = abandoned,
                "ended sessions left open by the previous run as incomplete"
            );
        }
        // The recorder's own clock, for periodic checkpoints while nothing arrives.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| StoreError::Corrupt(format!("cannot start the recorder's timer: {e}")))?;
        let handle = std::thread::Builder::new()
            .name("ward-recorder".into())
            .spawn(move || writer.run(rx, rt))
            .map_err(|e| StoreError::Corrupt(format!("cannot start recorder thread: {e}")))?;
        Ok((
            Self {
                tx,
                healthy,
                strict,
                budget: Arc::new(tokio::sync::Semaphore::new(QUEUED_BYTES)),
            },
            handle,
        ))
    }

    /// Tells how many messages wait in the recorder's queue, without keeping the recorder
    /// running (0 once it has stopped).
    pub fn queue_depth(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let tx = self.tx.downgrade();
        move || {
            tx.upgrade()
                .map_or(0, |tx| tx.max_capacity() - tx.capacity())
        }
    }

    /// Tells [`Recorder::is_healthy`] without keeping the recorder running.
    pub fn health(&self) -> impl Fn() -> bool + Send + Sync + Clone + 'static {
        let healthy = self.healthy.clone();
        move || healthy.load(Ordering::Relaxed)
    }

    /// False while the store cannot be written; new sessions should be refused.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Starts recording a session: writes its row and the `session.start` event.
    pub async fn start(&self, start: SessionStart) -> SessionRecorder {
        self.start_masked(start, None).await
    }

    /// Like [`Recorder::start`]; with `masker`, this session's payloads are masked with it (its
    /// resource's profile) instead of the recorder's own masker.
    pub async fn start_masked(
        &self,
        start: SessionStart,
        masker: Option<Masker>,
    ) -> SessionRecorder {
        let id = start.id;
        let _ = self
            .tx
            .send(Msg::Start(Box::new(start), Timestamp::now(), masker))
            .await;
        SessionRecorder {
            id,
            tx: self.tx.clone(),
            healthy: self.healthy.clone(),
            strict: self.strict,
            budget: self.budget.clone(),
        }
    }

    /// Waits until everything queued before this call is committed; false if a commit failed.
    pub async fn flush(&self) -> bool {
        request(&self.tx, Msg::Flush).await
    }

    /// Commits everything queued and signs a checkpoint over every head that advanced (at
    /// shutdown, so that live sessions end up signed); false if that failed.
    pub async fn checkpoint(&self) -> bool {
        request(&self.tx, Msg::Checkpoint).await
    }
}

/// Sends a request that the recorder answers after its next commit; false if that failed.
async fn request(tx: &mpsc::Sender<Msg>, msg: fn(oneshot::Sender<bool>) -> Msg) -> bool {
    let (done, wait) = oneshot::channel();
    if tx.send(msg(done)).await.is_err() {
        return false;
    }
    wait.await.unwrap_or(false)
}

/// Records the events of one session, in order.
#[derive(Clone)]
pub struct SessionRecorder {
    id: SessionId,
    tx: mpsc::Sender<Msg>,
    healthy: Arc<AtomicBool>,
    strict: bool,
    budget: Arc<tokio::sync::Semaphore>,
}

impl SessionRecorder {
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Queues one event, waiting while the queue is full.
    pub async fn record(&self, body: impl EventBody) {
        self.queue(Box::new(body), None).await;
    }

    /// Like [`SessionRecorder::record`] for an event of about `bytes` bytes, waiting also while
    /// the events queued hold more than the recorder's byte budget.
    pub async fn record_sized(&self, body: impl EventBody, bytes: usize) {
        let permits = u32::try_from(bytes.min(QUEUED_BYTES)).unwrap_or(u32::MAX);
        let permit = self.budget.clone().acquire_many_owned(permits).await.ok();
        self.queue(Box::new(body), permit).await;
    }

    async fn queue(
        &self,
        body: Box<dyn EventBody>,
        budget: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let at = Timestamp::now();
        let _ = self
            .tx
            .send(Msg::Event {
                id: self.id,
                at,
                body,
                _budget: budget,
            })
            .await;
    }

    /// Whether what was observed so far may be passed on: in strict mode, once every event
    /// queued so far is durable; in batched mode, while the store is writable. False means the
    /// session must end without forwarding (fail closed).
    pub async fn may_release(&self) -> bool {
        if self.strict {
            request(&self.tx, Msg::Flush).await
        } else {
            self.healthy.load(Ordering::Relaxed)
        }
    }

    /// Whether the store is being written; when it is not, nothing more may be forwarded.
    pub fn store_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
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
    /// Sessions started with their own masker; the others use `masker`.
    session_maskers: HashMap<SessionId, Masker>,
    strict: bool,
    signer: Signer,
    node: String,
    /// Sessions whose heads advanced since the last checkpoint.
    dirty: HashSet<SessionId>,
    /// The protocol of each session open in this process, for its metrics.
    protocols: HashMap<SessionId, Protocol>,
    interval: Duration,
    /// When the next periodic checkpoint is due.
    due: Instant,
    notify: Option<Notify>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>, rt: tokio::runtime::Runtime) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut waiters = Vec::new();
        let mut carry = Vec::new();
        loop {
            if carry.is_empty() {
                let wait = self.due.saturating_duration_since(Instant::now());
                match rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
                    Ok(Some(first)) => {
                        // Batched mode gathers for one commit window: sessions push without
                        // waking this thread, and one transaction carries everything that
                        // arrived meanwhile. Strict mode commits at once; what queues during a
                        // commit forms the next group.
                        let now =
                            self.strict || !matches!(first, Msg::Event { .. } | Msg::Start(..));
                        self.sort(first, &mut batch, &mut waiters);
                        if !now {
                            std::thread::sleep(COMMIT_WINDOW);
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {} // the periodic checkpoint is due
                }
            } else {
                // What arrived while the store could not be written goes first, in order.
                batch.append(&mut carry);
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => self.sort(m, &mut batch, &mut waiters),
                    Err(_) => break,
                }
            }
            self.commit_with_retry(&mut batch, &mut waiters, &mut rx, &mut carry);
        }
        // Stopping: sign the heads that advanced since the last checkpoint.
        self.due = Instant::now();
        self.commit_with_retry(&mut Vec::new(), &mut Vec::new(), &mut rx, &mut carry);
    }

    /// Keeps flush and checkpoint requests apart from the messages to write.
    fn sort(&mut self, m: Msg, batch: &mut Vec<Msg>, waiters: &mut Vec<oneshot::Sender<bool>>) {
        match m {
            Msg::Flush(w) => waiters.push(w),
            Msg::Checkpoint(w) => {
                self.due = Instant::now();
                waiters.push(w);
            }
            other => batch.push(other),
        }
    }

    /// Writes `batch` until it commits. While the store refuses it, those waiting for
    /// durability are told at once (so their sessions end instead of hanging), and what keeps
    /// arriving is moved to `carry`, in order, up to one batch; then the queue pushes back.
    fn commit_with_retry(
        &mut self,
        batch: &mut Vec<Msg>,
        waiters: &mut Vec<oneshot::Sender<bool>>,
        rx: &mut mpsc::Receiver<Msg>,
        carry: &mut Vec<Msg>,
    ) {
        let mut attempts = 0u32;
        loop {
            match self.write(batch) {
                Ok(()) => {
                    self.healthy.store(true, Ordering::Relaxed);
                    break;
                }
                Err(e) => {
                    metrics::add(metrics::STORE_ERRORS, &[], 1.0);
                    // Nothing of the failed transaction happened: the chain heads were only
                    // advanced in a copy. Tell those waiting, then retry the same batch.
                    for w in waiters.drain(..) {
                        let _ = w.send(false);
                    }
                    if self.healthy.swap(false, Ordering::Relaxed) || attempts.is_multiple_of(120) {
                        tracing::error!(error = %e, "cannot write to the audit store; open sessions are ended, new ones refused, and the queued events are retried");
                    }
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(500));
                    while carry.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(Msg::Flush(w) | Msg::Checkpoint(w)) => {
                                let _ = w.send(false);
                            }
                            Ok(m) => carry.push(m),
                            Err(_) => break,
                        }
                    }
                }
            }
        }
        batch.clear();
        for w in waiters.drain(..) {
            let _ = w.send(true);
        }
    }

    /// Writes one batch, and a checkpoint when one is due, in one transaction. The chain heads
    /// change only when it commits.
    fn write(&mut self, batch: &mut [Msg]) -> Result<(), StoreError> {
        let checkpoint_due =
            Instant::now() >= self.due || batch.iter().any(|m| matches!(m, Msg::End { .. }));
        if batch.is_empty() && (!checkpoint_due || self.dirty.is_empty()) {
            if checkpoint_due {
                self.due = Instant::now() + self.interval;
            }
            return Ok(());
        }
        if checkpoint_due {
            self.signer.refresh(&mut self.store.db);
        }
        let began = Instant::now();
        for msg in batch.iter() {
            if let Msg::Start(start, _, masker) = msg {
                if let Some(masker) = masker {
                    self.session_maskers.insert(start.id, masker.clone());
                }
                self.protocols.insert(start.id, start.protocol);
            }
        }
        let Writer {
            store,
            heads: committed,
            masker,
            session_maskers,
            signer,
            node,
            dirty,
            notify,
            protocols,
            ..
        } = self;
        let mut tally = Tally::default();
        let mut heads: HashMap<SessionId, Head> = HashMap::new();
        let mut ended: HashSet<SessionId> = HashSet::new();
        let mut notices = Vec::new();
        store.db.transaction(|db| {
            let mut rows: Vec<EventRow> = Vec::with_capacity(batch.len() + 8);
            let push = |rows: &mut Vec<EventRow>,
                            heads: &mut HashMap<SessionId, Head>,
                            masked: &mut MaskReport,
                            id: SessionId,
                            at: Timestamp,
                            body: &dyn EventBody|
             -> Result<(), StoreError> {
                if let std::collections::hash_map::Entry::Vacant(slot) = heads.entry(id) {
                    let Some(h) = committed.get(&id) else {
                        // E.g. a cancel request that arrives as its session ends: the chain is
                        // closed and signed, so the event cannot join it.
                        tracing::warn!(session = %id, kind = body.kind().as_str(), "event for a session that has ended; not recorded");
                        return Ok(());
                    };
                    slot.insert(Head {
                        next_seq: h.next_seq,
                        hash: h.hash,
                    });
                }
                let masker = session_maskers.get(&id).unwrap_or(masker);
                append(rows, heads, (masker, masked), id, at, body)
            };
            for msg in batch.iter() {
                match msg {
                    Msg::Start(start, at, _) => {
                        let groups = serde_json::to_string(&start.identity.groups).unwrap_or_default();
                        db.execute(
                            "INSERT INTO sessions (id, node, subject, groups, auth_method, resource, protocol, client_addr, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            &params![
                                start.id.0.as_bytes().as_slice(),
                                node.as_str(),
                                &start.identity.subject,
                                &groups,
                                &start.identity.method,
                                &start.resource,
                                start.protocol.as_str(),
                                &start.client_addr,
                                at.0
                            ],
                        )?;
                        heads.insert(
                            start.id,
                            Head {
                                next_seq: 0,
                                hash: chain::genesis(start.id),
                            },
                        );
                        let body = StartBody(start.payload());
                        push(&mut rows, &mut heads, &mut tally.masked, start.id, *at, &body)?;
                    }
                    Msg::Event { id, at, body, .. } => {
                        push(&mut rows, &mut heads, &mut tally.masked, *id, *at, &**body)?
                    }
                    Msg::End {
                        id,
                        at,
                        outcome,
                        bytes_up,
                        bytes_down,
                    } => {
                        let end = payload::SessionEnd {
                            outcome: outcome.as_str().into(),
                            bytes_up: *bytes_up,
                            bytes_down: *bytes_down,
                        };
                        let body = JsonBody::from(Payload::SessionEnd(end));
                        push(&mut rows, &mut heads, &mut tally.masked, *id, *at, &body)?;
                        db.execute(
                            "INSERT INTO session_ends (session_id, ended_at, outcome, bytes_up, bytes_down) VALUES (?1, ?2, ?3, ?4, ?5)",
                            &params![id.0.as_bytes().as_slice(), at.0, outcome.as_str(), i64_of(*bytes_up), i64_of(*bytes_down)],
                        )?;
                        ended.insert(*id);
                        tally.ended.push((*id, *outcome, *bytes_up, *bytes_down));
                    }
                    Msg::Flush(_) | Msg::Checkpoint(_) => {}
                }
            }
            if let Some(notify) = notify.as_ref() {
                notices.extend(rows.iter().filter_map(|r| notice(r, &notify.kinds)));
            }
            tally.events = rows.len();
            for r in rows.iter().filter(|r| r.kind == EventKind::PolicyDenied.as_str()) {
                tally.refused.push(SessionId(uuid::Uuid::from_bytes(r.session)));
            }
            db.insert_events(rows)?;
            if checkpoint_due {
                let leaves: Vec<Leaf> = dirty
                    .iter()
                    .chain(heads.keys())
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .filter_map(|id| {
                        let h = heads.get(id).or_else(|| committed.get(id))?;
                        Some(Leaf {
                            session: *id,
                            events: h.next_seq,
                            head: h.hash,
                            ended: ended.contains(id),
                        })
                    })
                    .collect();
                if !leaves.is_empty() {
                    checkpoint::write(db, &signer.key, leaves)?;
                }
            }
            Ok(())
        })?;
        // Committed: tell who listens, without waiting for them.
        if let Some(notify) = notify.as_ref() {
            for n in notices {
                if notify.to.try_send(n).is_err() {
                    tracing::warn!("notification queue full or closed; a notification was dropped");
                }
            }
        }
        tally.publish(protocols, batch, began.elapsed());
        // Committed: adopt the new heads.
        for (id, head) in heads {
            if ended.contains(&id) {
                committed.remove(&id);
                dirty.remove(&id);
                session_maskers.remove(&id);
            } else {
                committed.insert(id, head);
                dirty.insert(id);
            }
        }
        if checkpoint_due {
            dirty.clear();
            self.due = Instant::now() + self.interval;
        }
        Ok(())
    }

    /// Ends the sessions a previous run left open: `session.end` with outcome `incomplete`,
    /// then a checkpoint over their final heads.
    fn end_abandoned(&mut self) -> Result<usize, StoreError> {
        let open = self.store.open_session_heads(&self.node)?;
        let n = open.len();
        let mut batch = Vec::with_capacity(n);
        for (id, next_seq, hash) in open {
            self.heads.insert(id, Head { next_seq, hash });
            batch.push(Msg::End {
                id,
                at: Timestamp::now(),
                outcome: Outcome::Incomplete,
                bytes_up: 0,
                bytes_down: 0,
            });
        }
        if n > 0 {
            self.write(&mut batch)?;
        }
        Ok(n)
    }
}

fn append(
    rows: &mut Vec<EventRow>,
    heads: &mut HashMap<SessionId, Head>,
    (masker, masked): (&Masker, &mut MaskReport),
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
    masked.merge(&report);
    let payload = writer
        .finish()
        .map_err(|e| StoreError::Corrupt(format!("encoding a {kind} payload: {e}")))?;
    let hash = chain::event_hash(
        &head.hash,
        head.next_seq,
        at.0,
        kind.as_bytes(),
        &payload.digest,
    );
    rows.push(EventRow {
        session: *id.0.as_bytes(),
        seq: i64_of(head.next_seq),
        at: at.0,
        kind,
        payload: payload.bytes,
        compressed: payload.compressed,
        prev: head.hash,
        hash,
    });
    let seq = head.next_seq;
    head.next_seq += 1;
    head.hash = hash;
    if !report.is_empty() {
        // Which rules fired and how often, never the values.
        let applied = payload::MaskApplied {
            event_seq: seq,
            rules: report
                .iter()
                .map(|(rule, n)| (rule.to_owned(), n))
                .collect(),
        };
        append(
            rows,
            heads,
            (masker, masked),
            id,
            at,
            &JsonBody::from(Payload::MaskApplied(applied)),
        )?;
    }
    Ok(())
}
