//! What an event says: [`EventBody`], encoded on the recorder thread, and the bodies every
//! gateway uses (Ward's own metadata as is; what a client or server sent, masked first).

use std::io::Write;

use ward_core::EventKind;
use ward_core::payload::Payload;
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

impl From<Payload> for JsonBody {
    fn from(payload: Payload) -> Self {
        let (kind, value) = payload.into_parts();
        Self(kind, value)
    }
}

/// A JSON payload whose string values are masked with the session's masker before it is
/// stored (and counted in its `mask.applied`): for events whose text came from a person, an
/// agent or a host rather than from Ward.
pub struct MaskedJson(pub EventKind, pub serde_json::Value);

impl EventBody for MaskedJson {
    fn kind(&self) -> EventKind {
        self.0
    }
    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let _ = serde_json::to_writer(out, &mask_strings(&self.1, mask, report));
    }
}

impl From<Payload> for MaskedJson {
    fn from(payload: Payload) -> Self {
        let (kind, value) = payload.into_parts();
        Self(kind, value)
    }
}

impl MaskedJsonBy {
    /// `payload`, masked with `masker`.
    pub fn typed(masker: Masker, payload: Payload) -> Self {
        let (kind, value) = payload.into_parts();
        Self(masker, kind, value)
    }
}

/// Like [`MaskedJson`], masked with a masker of its own instead of the session's: in an agent's
/// session, which reaches several resources, each resource's events get its own profile.
pub struct MaskedJsonBy(pub Masker, pub EventKind, pub serde_json::Value);

impl EventBody for MaskedJsonBy {
    fn kind(&self) -> EventKind {
        self.1
    }
    fn write_payload(&self, out: &mut dyn Write, _mask: &Masker, report: &mut MaskReport) {
        let _ = serde_json::to_writer(out, &mask_strings(&self.2, &self.0, report));
    }
}

/// A JSON payload whose client or server text the session already masked with its own masker
/// (a [`ward_mask::StreamMasker`] that follows a secret across chunks), with what that masking
/// found, which joins the session's `mask.applied`.
pub struct PremaskedJson(pub EventKind, pub serde_json::Value, pub MaskReport);

impl EventBody for PremaskedJson {
    fn kind(&self) -> EventKind {
        self.0
    }
    fn write_payload(&self, out: &mut dyn Write, _mask: &Masker, report: &mut MaskReport) {
        report.merge(&self.2);
        let _ = serde_json::to_writer(out, &self.1);
    }
}

fn mask_strings(
    v: &serde_json::Value,
    mask: &Masker,
    report: &mut MaskReport,
) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(mask.mask_str(s, report).into_owned()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| mask_strings(i, mask, report))
                .collect(),
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), mask_strings(v, mask, report)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `session.start`. The startup parameters and the reason are the client's own text, so they
/// are masked, like everything a client sends; the rest is Ward's.
pub(crate) struct StartBody(pub ward_core::payload::SessionStart);

impl EventBody for StartBody {
    fn kind(&self) -> EventKind {
        EventKind::SessionStart
    }

    fn write_payload(&self, out: &mut dyn std::io::Write, mask: &Masker, report: &mut MaskReport) {
        let mut start = self.0.clone();
        for value in start.parameters.values_mut() {
            *value = mask.mask_str(value, report).into_owned();
        }
        if let Some(reason) = &mut start.reason {
            *reason = mask.mask_str(reason, report).into_owned();
        }
        let _ = serde_json::to_writer(out, &start);
    }
}
