//! Review of risky steps: a guardrail with `action = "review"` holds a statement, command or
//! tool call while its session waits, until a member of the rule's approver groups allows or
//! rejects it, or its time runs out. The session's [`Reviewer`] records the hold and the verdict
//! in the session's chain; [`Control`] keeps the held steps, which the Ward serving the session
//! writes to the store (as access requests of kind `step`, reviewed like any request) and whose
//! decisions it reads back, every half second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use ward_core::payload::{Payload, ReviewDecided, ReviewHeld};
use ward_core::{SessionId, Timestamp};
use ward_mask::{MaskReport, Masker};
use ward_policy::Denial;
use ward_store::{PremaskedJson, Sink};

use super::Control;

/// A step held for review, as the store is told of it.
#[derive(Debug, Clone)]
pub struct HeldStep {
    /// The review's id: twelve hex digits, like an access request's.
    pub id: String,
    /// The session the step waits in.
    pub session: SessionId,
    pub requester: String,
    pub resource: String,
    pub rule: String,
    /// The step (masked).
    pub text: String,
    pub approvers: Vec<String>,
    pub timeout: Duration,
    /// When its session began to wait.
    pub held_at: Timestamp,
}

/// What became of a held step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed { by: String, comment: String },
    Rejected { by: String, comment: String },
    TimedOut,
}

/// A step waiting: whether the store has it, and where its verdict goes.
struct Waiting {
    step: HeldStep,
    stored: bool,
    verdict: Option<oneshot::Sender<Verdict>>,
}

/// The steps held in this process, by id.
#[derive(Default)]
pub(crate) struct Held {
    steps: Mutex<HashMap<String, Waiting>>,
}

/// Takes a held step out of [`Held`] when its wait ends, however it ends.
struct Release<'a> {
    control: &'a Control,
    id: String,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.control.lock_held().remove(&self.id);
    }
}

/// A new step id: twelve hex digits from a fresh (random) UUID's random tail.
fn step_id() -> String {
    SessionId::new().0.as_bytes()[10..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Control {
    fn lock_held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.held.steps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `step` until a verdict, or until its timeout.
    pub async fn hold(&self, step: HeldStep) -> Verdict {
        let (tx, rx) = oneshot::channel();
        let (id, timeout) = (step.id.clone(), step.timeout);
        let waiting = Waiting {
            step,
            stored: false,
            verdict: Some(tx),
        };
        self.lock_held().insert(id.clone(), waiting);
        let _release = Release { control: self, id };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(verdict)) => verdict,
            _ => Verdict::TimedOut,
        }
    }

    /// The held steps the store does not have yet; from now on it is taken to have them.
    pub fn unstored_steps(&self) -> Vec<HeldStep> {
        let mut held = self.lock_held();
        held.values_mut()
            .filter(|w| !w.stored)
            .map(|w| {
                w.stored = true;
                w.step.clone()
            })
            .collect()
    }

    /// The ids of the steps held now.
    pub fn held_steps(&self) -> Vec<String> {
        self.lock_held().keys().cloned().collect()
    }

    /// Ends the wait of held step `id` with `verdict`.
    pub fn decide_step(&self, id: &str, verdict: Verdict) {
        if let Some(tx) = self.lock_held().get_mut(id).and_then(|w| w.verdict.take()) {
            let _ = tx.send(verdict);
        }
    }
}

/// A session's link to review: holds its steps that a review rule matched.
#[derive(Clone)]
pub struct Reviewer {
    pub(crate) control: Arc<Control>,
    pub(crate) session: SessionId,
    pub(crate) requester: String,
    pub(crate) resource: String,
    /// Masks the step before the store and the record see it.
    pub(crate) masker: Masker,
}

impl Reviewer {
    /// Holds `text`, which `denial` (a review rule's) matched, until it is decided; records the
    /// hold (`review.held`) and the verdict (`review.decided`) in the session.
    async fn hold<S: Sink>(&self, denial: &Denial, text: &str, rec: &S) -> Verdict {
        let Some(review) = &denial.review else {
            return Verdict::Rejected {
                by: "Ward".into(),
                comment: "the rule does not review".into(),
            };
        };
        let mut found = MaskReport::new();
        let masked = self.masker.mask_str(text, &mut found).into_owned();
        let step = HeldStep {
            id: step_id(),
            session: self.session,
            requester: self.requester.clone(),
            resource: self.resource.clone(),
            rule: denial.rule.clone(),
            text: masked.clone(),
            approvers: review.approvers.clone(),
            timeout: review.timeout,
            held_at: Timestamp::now(),
        };
        let id = step.id.clone();
        let held = Payload::ReviewHeld(ReviewHeld {
            request: id.clone(),
            resource: self.resource.clone(),
            rule: denial.rule.clone(),
            reason: denial.code().to_owned(),
            text: masked,
            approvers: review.approvers.clone(),
            timeout_seconds: review.timeout.as_secs(),
        });
        let (kind, value) = held.into_parts();
        rec.record(PremaskedJson(kind, value, found)).await;
        let started = Instant::now();
        let verdict = self.control.hold(step).await;
        let (verdict_name, by, comment) = match &verdict {
            Verdict::Allowed { by, comment } => ("allowed", Some(by.clone()), comment.clone()),
            Verdict::Rejected { by, comment } => ("rejected", Some(by.clone()), comment.clone()),
            Verdict::TimedOut => ("timed out", None, String::new()),
        };
        let decided = Payload::ReviewDecided(ReviewDecided {
            request: id,
            verdict: verdict_name.to_owned(),
            by,
            comment,
            waited_ms: started.elapsed().as_millis() as u64,
        });
        let (kind, value) = decided.into_parts();
        rec.record(PremaskedJson(kind, value, MaskReport::new()))
            .await;
        verdict
    }

    /// Whether a step (`text`, a `what` such as `the statement`) that `denial` matched may run:
    /// a review rule's step is held until decided, and runs when allowed; otherwise `Err` has
    /// what the client reads: `refused` for a rule that denies, or why the review did not let
    /// it run.
    pub async fn decide<S: Sink>(
        &self,
        denial: &Denial,
        (text, what): (&str, &str),
        refused: String,
        rec: &S,
    ) -> Result<(), String> {
        if denial.review.is_none() {
            return Err(refused);
        }
        match self.hold(denial, text, rec).await {
            Verdict::Allowed { .. } => Ok(()),
            verdict => Err(Self::rejection(denial, what, &verdict)),
        }
    }

    /// Why a step held by `denial` did not run, for its client.
    fn rejection(denial: &Denial, what: &str, verdict: &Verdict) -> String {
        let why = match verdict {
            Verdict::Rejected { by, comment } if comment.is_empty() => {
                format!("{by} rejected it")
            }
            Verdict::Rejected { by, comment } => format!("{by} rejected it: {comment}"),
            Verdict::TimedOut => format!(
                "no reviewer decided within {}s",
                denial.review.as_ref().map_or(0, |r| r.timeout.as_secs())
            ),
            Verdict::Allowed { .. } => "it was allowed".to_owned(),
        };
        format!(
            "{what} held for review by Ward guardrail \"{}\" did not run: {why}",
            denial.rule
        )
    }
}
