//! Fast-path function calls: PostgreSQL's FunctionCall message calls a function by OID outside
//! any statement, and libpq's large-object API (`lo_open`, `loread`, … behind psql's
//! `\lo_export` and `\lo_import`) is built on it. Ward records each call (the function's name
//! when Ward knows the OID, its arguments) and what it returned, both masked like a result's
//! cells and capped like a result; the relay refuses calls a grant or a guardrail forbids.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use ward_core::EventKind;
use ward_core::payload::{CallValue, DbFunctionCall, DbFunctionResult};
use ward_mask::{MaskReport, Masker};
use ward_store::EventBody;

use crate::codec::value::{self, oid};
use crate::codec::{backend, frontend};

/// A function of PostgreSQL's own catalog that clients call by OID: its OID is fixed in every
/// release (`pg_proc.dat`), so Ward names it without asking the server.
pub struct Builtin {
    pub oid: u32,
    pub name: &'static str,
    pub args: &'static [u32],
    pub result: u32,
}

const I4: u32 = oid::INT4;
const I8: u32 = oid::INT8;

/// The large-object functions libpq calls through the fast path.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        oid: 952,
        name: "lo_open",
        args: &[oid::OID, I4],
        result: I4,
    },
    Builtin {
        oid: 953,
        name: "lo_close",
        args: &[I4],
        result: I4,
    },
    Builtin {
        oid: 954,
        name: "loread",
        args: &[I4, I4],
        result: oid::BYTEA,
    },
    Builtin {
        oid: 955,
        name: "lowrite",
        args: &[I4, oid::BYTEA],
        result: I4,
    },
    Builtin {
        oid: 956,
        name: "lo_lseek",
        args: &[I4, I4, I4],
        result: I4,
    },
    Builtin {
        oid: 3170,
        name: "lo_lseek64",
        args: &[I4, I8, I4],
        result: I8,
    },
    Builtin {
        oid: 957,
        name: "lo_creat",
        args: &[I4],
        result: oid::OID,
    },
    Builtin {
        oid: 715,
        name: "lo_create",
        args: &[oid::OID],
        result: oid::OID,
    },
    Builtin {
        oid: 958,
        name: "lo_tell",
        args: &[I4],
        result: I4,
    },
    Builtin {
        oid: 3171,
        name: "lo_tell64",
        args: &[I4],
        result: I8,
    },
    Builtin {
        oid: 1004,
        name: "lo_truncate",
        args: &[I4, I4],
        result: I4,
    },
    Builtin {
        oid: 3172,
        name: "lo_truncate64",
        args: &[I4, I8],
        result: I4,
    },
    Builtin {
        oid: 964,
        name: "lo_unlink",
        args: &[oid::OID],
        result: I4,
    },
];

pub fn builtin(function: u32) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.oid == function)
}

/// A value as the record shows it, masked: binary values of known types decoded, bytes that
/// are UTF-8 as text (a large object is often text, and its secrets must be masked), others
/// as `\x` hex; at most `cap` bytes of it are kept.
fn shown(
    ty: u32,
    format: i16,
    v: &[u8],
    cap: usize,
    mask: &Masker,
    report: &mut MaskReport,
) -> CallValue {
    let kept = v.get(..cap).unwrap_or(v);
    let text = match (format, ty, std::str::from_utf8(kept)) {
        (1, oid::BYTEA, Ok(text)) => text.into(),
        _ => value::render(ty, format, kept),
    };
    let text = if value::cannot_hold_secrets(ty) {
        text.into_owned()
    } else {
        mask.mask_str(&text, report).into_owned()
    };
    CallValue {
        value: text,
        bytes: v.len() as u64,
        truncated: kept.len() < v.len(),
    }
}

fn write<T: Serialize>(out: &mut dyn Write, v: &T) {
    // The recorder's payload writer reports its own failures when it is finished.
    let _ = serde_json::to_writer(out, v);
}

/// `db.function_call`: the FunctionCall message's body, decoded on the recorder's thread.
pub struct Call {
    pub body: Bytes,
    /// The most bytes of each argument kept.
    pub cap: usize,
    /// The function's name (`lo_open`, or as the catalog has it), or `function <OID>`.
    pub name: Arc<str>,
}

impl EventBody for Call {
    fn kind(&self) -> EventKind {
        EventKind::DbFunctionCall
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let Ok(call) = frontend::function_call(&self.body) else {
            let raw = DbFunctionCall {
                raw: Some(value::hex(&self.body)),
                ..DbFunctionCall::default()
            };
            return write(out, &raw);
        };
        let known = builtin(call.function);
        let args = call
            .args
            .iter()
            .zip(&call.formats)
            .enumerate()
            .map(|(i, (v, format))| {
                let ty = known.and_then(|b| b.args.get(i)).copied().unwrap_or(0);
                v.map(|v| shown(ty, *format, v, self.cap, mask, report))
            })
            .collect();
        write(
            out,
            &DbFunctionCall {
                function_oid: call.function,
                function: self.name.to_string(),
                args,
                raw: None,
            },
        );
    }
}

/// `db.function_result`: what a fast-path call returned.
pub struct Return {
    pub function: u32,
    pub name: Arc<str>,
    pub result_format: i16,
    pub body: Bytes,
    pub cap: usize,
    pub took: Duration,
}

impl EventBody for Return {
    fn kind(&self) -> EventKind {
        EventKind::DbFunctionResult
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let ty = builtin(self.function).map_or(0, |b| b.result);
        let result = match backend::function_call_response(&self.body) {
            Ok(v) => v.map(|v| shown(ty, self.result_format, v, self.cap, mask, report)),
            Err(_) => Some(shown(0, 1, &self.body, self.cap, mask, report)),
        };
        write(
            out,
            &DbFunctionResult {
                function: self.name.to_string(),
                result,
                duration_us: u64::try_from(self.took.as_micros()).unwrap_or(u64::MAX),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(body: &dyn EventBody) -> serde_json::Value {
        let masker = Masker::builtin().expect("the built-in rules");
        let mut out = Vec::new();
        body.write_payload(&mut out, &masker, &mut MaskReport::new());
        serde_json::from_slice(&out).expect("json")
    }

    #[test]
    fn a_large_object_read_is_named_decoded_and_masked() {
        let mut call = 954u32.to_be_bytes().to_vec();
        call.extend([0, 1, 0, 1, 0, 2]);
        call.extend([0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0x20, 0]);
        call.extend([0, 1]);
        let p = payload(&Call {
            body: call.into(),
            cap: 1024,
            name: "loread".into(),
        });
        assert_eq!(p["function"], "loread");
        assert_eq!(p["args"][1]["value"], "8192");

        let card = b"card 4111 1111 1111 1111";
        let mut answer = (card.len() as i32).to_be_bytes().to_vec();
        answer.extend(card);
        let took = Duration::from_micros(7);
        let p = payload(&Return {
            function: 954,
            name: "loread".into(),
            result_format: 1,
            body: answer.clone().into(),
            cap: 1024,
            took,
        });
        let shown = p["result"]["value"].as_str().expect("text");
        assert!(!shown.contains("4111 1111 1111 1111"), "{p}");
        assert_eq!(p["result"]["bytes"], card.len());
        let p = payload(&Return {
            function: 954,
            name: "loread".into(),
            result_format: 1,
            body: answer.into(),
            cap: 6,
            took,
        });
        assert_eq!(p["result"]["truncated"], true, "{p}");
        assert_eq!(p["result"]["value"], "card 4");
    }

    #[test]
    fn another_function_is_recorded_with_its_oid_and_text_arguments() {
        let mut call = 16500u32.to_be_bytes().to_vec();
        call.extend([0, 0, 0, 1, 0, 0, 0, 3, b'a', b'b', b'c', 0, 0]);
        let p = payload(&Call {
            body: call.into(),
            cap: 1024,
            name: "my_function".into(),
        });
        assert_eq!(p["function"], "my_function");
        assert_eq!(p["function_oid"], 16500);
        assert_eq!(p["args"][0]["value"], "abc");
    }
}
