//! What the recorder adds to the process's metrics (`ward_core::metrics`) once a batch is
//! committed: events, masked values, sessions started and ended, refusals and bytes, so that
//! the metrics agree with the record.

use std::collections::HashMap;
use std::time::Duration;

use ward_core::{Outcome, Protocol, SessionId};
use ward_mask::MaskReport;

use super::Msg;

/// What one committed batch adds to the metrics.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) events: usize,
    /// Values masked in the record, by rule.
    pub(super) masked: MaskReport,
    /// Sessions that ended: outcome and bytes up and down.
    pub(super) ended: Vec<(SessionId, Outcome, u64, u64)>,
    /// The session of each step a guardrail refused.
    pub(super) refused: Vec<SessionId>,
}

impl Tally {
    /// Adds a committed batch to the metrics; sessions left open by an earlier run (whose
    /// protocol this process never learned) count only as events.
    pub(super) fn publish(
        self,
        protocols: &mut HashMap<SessionId, Protocol>,
        batch: &[Msg],
        took: Duration,
    ) {
        use ward_core::metrics::{self, *};
        if self.events == 0 {
            return;
        }
        metrics::observe(RECORDER_COMMIT, &[], took);
        metrics::add(EVENTS, &[], self.events as f64);
        for (rule, n) in self.masked.iter() {
            metrics::add(MASKED, &[("rule", rule)], n as f64);
        }
        for msg in batch {
            if let Msg::Start(start, ..) = msg {
                metrics::add(
                    SESSIONS_ACTIVE,
                    &[("protocol", start.protocol.as_str())],
                    1.0,
                );
            }
        }
        for id in self.refused {
            if let Some(p) = protocols.get(&id) {
                let labels = [("protocol", p.as_str()), ("what", "guardrail")];
                metrics::add(DENIALS, &labels, 1.0);
            }
        }
        for (id, outcome, up, down) in self.ended {
            let Some(protocol) = protocols.remove(&id) else {
                continue;
            };
            let p = protocol.as_str();
            metrics::add(SESSIONS_ACTIVE, &[("protocol", p)], -1.0);
            metrics::add(
                SESSIONS,
                &[("protocol", p), ("outcome", outcome.as_str())],
                1.0,
            );
            if outcome == Outcome::Denied {
                metrics::add(DENIALS, &[("protocol", p), ("what", "access")], 1.0);
            }
            metrics::add(BYTES, &[("protocol", p), ("direction", "up")], up as f64);
            metrics::add(
                BYTES,
                &[("protocol", p), ("direction", "down")],
                down as f64,
            );
        }
    }
}
