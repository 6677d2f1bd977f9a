//! The client → upstream direction: follows prepared statements and portals so every
//! execution is recorded with its text and parameters, tells the other direction what
//! answers to expect, and holds back statements the session's guardrails deny.
//!
//! A denied statement never reaches the upstream. A simple Query is replaced by a Sync, so the
//! server's ReadyForQuery comes back in order after any answer still in flight and carries the
//! session's real transaction status; the other direction puts the ErrorResponse (42501) before
//! it. After a denied Parse the client's messages are dropped up to its Sync, which is forwarded
//! and answered the same way: what PostgreSQL itself does after an error in the extended protocol.
//!
//! A statement a review rule matches is held: this direction waits (the other goes on relaying
//! what the server still sends) until an approver allows it, and it goes on as if never held,
//! or rejects it, or its time runs out, and it is refused like a denied one.

use super::*;

/// The SQLSTATE of a denied statement.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

pub(super) struct Statement {
    text: Bytes,
    types: Arc<record::Prepared>,
}

pub(super) struct Portal {
    statement: Bytes,
    text: Bytes,
    bind: Bytes,
    types: Arc<record::Prepared>,
    result_formats: Arc<[i16]>,
}

/// State of the client → upstream direction.
pub struct ClientSide {
    pub(super) statements: HashMap<Bytes, Statement>,
    pub(super) portals: HashMap<Bytes, Portal>,
    pub(super) copy: Option<CopyData>,
    pub(super) pending: UnboundedSender<Pending>,
    pub bytes: u64,
    pub(super) guardrails: Option<SessionGuardrails>,
    /// After a denied Parse: the client's messages are dropped until its Sync.
    pub(super) discarding: Option<Discarding>,
    /// What happens to the message just observed instead of being forwarded.
    pub(super) divert: Option<Divert>,
    pub(super) fast_path: FastPath,
    /// The names of functions called by OID, looked up in the catalog.
    pub(super) functions: HashMap<u32, Arc<str>>,
    pub(super) lookup: Option<Lookup>,
    /// Holds the statements a review rule matches (none: they are refused).
    pub(super) reviewer: Option<ward_admit::Reviewer>,
}

/// Functions whose names a session remembers at most (a client calling ever new OIDs makes
/// Ward look each up, never hold them all).
const MAX_FUNCTIONS: usize = 1024;

/// Whether the session may make fast-path function calls.
#[derive(Debug, Clone)]
pub enum FastPath {
    /// Recorded and checked against the guardrails.
    Allowed,
    /// Each is refused: `reason` for the record, `why` for the client.
    Refused { reason: &'static str, why: String },
}

/// Whether the error of the denied Parse being discarded after may still be waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Discarding {
    /// Until the client's Sync (or a Flush) the error waits.
    ErrorPending,
    /// A Flush sent it already.
    ErrorSent,
}

/// What replaces a message that must not reach the upstream.
#[derive(Debug, Clone, Copy)]
pub(super) enum Divert {
    Drop,
    /// A Sync of Ward's, in place of a denied Query (its ReadyForQuery answers the client) or
    /// of a Flush after a denied Parse (its ReadyForQuery is kept from the client).
    Sync,
}

impl ClientSide {
    /// Lets the statements a review rule matches wait for an approver instead of being refused.
    pub fn set_reviewer(&mut self, reviewer: ward_admit::Reviewer) {
        self.reviewer = Some(reviewer);
    }

    /// Checks `text` against the guardrails; when a rule denies it (or holds it for review, and
    /// it is not allowed), records the attempt (the statement as `db.query`, then
    /// `policy.denied`), queues the client's ErrorResponse and returns true.
    async fn denied(&mut self, text: &[u8], statement: Option<&[u8]>, rec: &impl Sink) -> bool {
        let Some(denial) = self.guardrails.as_ref().and_then(|g| g.check(text)) else {
            return false;
        };
        let message = match &self.reviewer {
            Some(reviewer) => {
                let held = String::from_utf8_lossy(text);
                let step = (held.as_ref(), "the statement");
                match reviewer.decide(&denial, step, denial.message(), rec).await {
                    Ok(()) => return false,
                    Err(message) => message,
                }
            }
            None => denial.message(),
        };
        rec.record(record::Query {
            text: Bytes::copy_from_slice(text),
            statement: statement.map(Bytes::copy_from_slice),
            params: None,
        })
        .await;
        let refusal = record::Denied {
            rule: denial.rule.clone(),
            reason: denial.code(),
            statement: match denial.reason {
                ward_policy::Reason::Kind { statement, .. } => Some(statement),
                _ => None,
            },
            protocol: if statement.is_some() {
                "extended"
            } else {
                "simple"
            },
            message,
        };
        self.refuse(refusal, rec).await;
        true
    }

    /// Records a refusal and queues the ErrorResponse (42501) the client gets for it.
    async fn refuse(&mut self, refusal: record::Denied, rec: &impl Sink) {
        let mut error = Vec::new();
        encode::error_response(
            &mut error,
            "ERROR",
            INSUFFICIENT_PRIVILEGE,
            &refusal.message.replace('\0', " "),
        );
        rec.record(refusal).await;
        let _ = self.pending.send(Pending::Denied(error));
    }

    /// A fast-path FunctionCall: recorded, then refused (in place of it, a Sync of Ward's
    /// brings the ReadyForQuery that answers the client, after the error) when the grant or a
    /// guardrail forbids it, else forwarded with its answer awaited.
    async fn function_call(&mut self, body: &[u8], limits: Limits, rec: &impl Sink) -> Step {
        let call = match frontend::function_call(body) {
            Ok(call) => call,
            Err(e) => return Step::Stop(RelayEnd::ClientProtocol(e)),
        };
        let name = self.function_name(call.function).await;
        rec.record(fastpath::Call {
            body: Bytes::copy_from_slice(body),
            cap: limits.max_result,
            name: name.clone(),
        })
        .await;
        let refusal = match &self.fast_path {
            FastPath::Refused { reason, why } => Some(record::Denied {
                rule: "grant".into(),
                reason,
                statement: None,
                protocol: "fast-path",
                message: format!("fast-path call of {name} refused by Ward: {why}"),
            }),
            FastPath::Allowed => self
                .guardrails
                .as_ref()
                .and_then(|g| g.check_function_call(&name))
                .map(|denial| record::Denied {
                    reason: denial.code(),
                    statement: None,
                    protocol: "fast-path",
                    message: format!(
                        "fast-path call of {name} denied by Ward guardrail \"{}\"; it was not run",
                        denial.rule
                    ),
                    rule: denial.rule,
                }),
        };
        match refusal {
            Some(refusal) => {
                self.refuse(refusal, rec).await;
                let _ = self.pending.send(Pending::Sync);
                self.divert = Some(Divert::Sync);
            }
            None => {
                let _ = self.pending.send(Pending::FunctionCall {
                    started: Instant::now(),
                    function: call.function,
                    name,
                    result_format: call.result_format,
                });
            }
        }
        Step::Continue
    }

    /// The name of the function a fast-path call names by OID: a large-object function's,
    /// else the catalog's (so guardrail patterns on names apply to every function), else
    /// `function <OID>`.
    async fn function_name(&mut self, oid: u32) -> Arc<str> {
        if let Some(known) = fastpath::builtin(oid) {
            return known.name.into();
        }
        if let Some(name) = self.functions.get(&oid) {
            return name.clone();
        }
        let looked_up = match &self.lookup {
            Some(Lookup {
                target,
                max_message,
            }) => {
                target
                    .catalog
                    .function_name(target, *max_message, oid)
                    .await
            }
            None => None,
        };
        let name: Arc<str> = match looked_up {
            Some(name) => name.into(),
            None => format!("function {oid}").into(),
        };
        if self.functions.len() >= MAX_FUNCTIONS {
            self.functions.clear();
        }
        self.functions.insert(oid, name.clone());
        name
    }

    /// Holds back a Query or Parse the guardrails deny: returns true when it was denied (and
    /// will not be forwarded), false when it goes on as usual.
    async fn guard(
        &mut self,
        tag: u8,
        body: &[u8],
        rec: &impl Sink,
    ) -> Result<bool, ProtocolError> {
        if tag == frontend::QUERY {
            let text = frontend::query(body)?;
            if !self.denied(text, None, rec).await {
                return Ok(false);
            }
            let _ = self.pending.send(Pending::Sync);
            self.divert = Some(Divert::Sync);
        } else {
            let p = frontend::parse(body)?;
            if !self.denied(p.query, Some(p.statement), rec).await {
                return Ok(false);
            }
            self.discarding = Some(Discarding::ErrorPending);
            self.divert = Some(Divert::Drop);
        }
        Ok(true)
    }
}

impl Observer for ClientSide {
    const READ: fn(std::io::Error) -> RelayEnd = RelayEnd::ClientIo;
    const WRITE: fn(std::io::Error) -> RelayEnd = RelayEnd::UpstreamIo;
    const PROTOCOL: fn(ProtocolError) -> RelayEnd = RelayEnd::ClientProtocol;
    const TO_CLIENT: bool = false;
    const EOF: fn() -> RelayEnd = || RelayEnd::ClientClosed;

    fn count(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    fn diverts(&self) -> bool {
        self.divert.is_some()
    }

    fn forward(&mut self, _tag: u8, _body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        match self.divert.take() {
            None => out.extend_from_slice(frame),
            Some(Divert::Drop) => {}
            Some(Divert::Sync) => encode::message(out, frontend::SYNC, |_| {}),
        }
    }

    async fn observe(&mut self, tag: u8, body: &[u8], limits: Limits, rec: &impl Sink) -> Step {
        if let Some(discarding) = self.discarding {
            // PostgreSQL skips everything after an error until Sync; so does Ward after a denial.
            return match tag {
                frontend::SYNC => {
                    self.discarding = None;
                    let _ = self.pending.send(Pending::Sync);
                    Step::Continue
                }
                // A client that flushes waits for the error before it syncs: a Sync of Ward's
                // brings it (see `Pending::WardSync`).
                frontend::FLUSH if discarding == Discarding::ErrorPending => {
                    self.discarding = Some(Discarding::ErrorSent);
                    let _ = self.pending.send(Pending::WardSync);
                    self.divert = Some(Divert::Sync);
                    Step::Continue
                }
                frontend::TERMINATE => Step::Stop(RelayEnd::Terminated),
                _ => {
                    self.divert = Some(Divert::Drop);
                    Step::Continue
                }
            };
        }
        if self.guardrails.is_some() && matches!(tag, frontend::QUERY | frontend::PARSE) {
            match self.guard(tag, body, rec).await {
                Ok(true) => return Step::Continue,
                Ok(false) => {}
                Err(e) => return Step::Stop(RelayEnd::ClientProtocol(e)),
            }
        }
        let result = match tag {
            frontend::QUERY => match frontend::query(body) {
                Ok(text) => {
                    let _ = self.pending.send(Pending::Simple(Instant::now()));
                    rec.record(record::Query {
                        text: Bytes::copy_from_slice(text),
                        statement: None,
                        params: None,
                    })
                    .await;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            frontend::PARSE => frontend::parse(body).map(|p| {
                let statement = Statement {
                    text: Bytes::copy_from_slice(p.query),
                    types: Arc::new(record::Prepared {
                        declared: p.param_types,
                        ..Default::default()
                    }),
                };
                self.statements
                    .insert(Bytes::copy_from_slice(p.statement), statement);
            }),
            frontend::BIND => frontend::bind(body).map(|b| {
                let (text, types) = match self.statements.get(b.statement) {
                    Some(s) => (s.text.clone(), s.types.clone()),
                    None => (Bytes::new(), Arc::default()),
                };
                let portal = Portal {
                    statement: Bytes::copy_from_slice(b.statement),
                    text,
                    bind: Bytes::copy_from_slice(body),
                    types,
                    result_formats: b.result_formats.into(),
                };
                self.portals
                    .insert(Bytes::copy_from_slice(b.portal), portal);
            }),
            frontend::EXECUTE => match frontend::execute(body) {
                Ok(name) => {
                    let portal = self.portals.get(name);
                    let _ = self.pending.send(Pending::Execute(
                        Instant::now(),
                        portal.map(|p| p.types.clone()),
                        portal.map_or_else(|| Arc::from([]), |p| p.result_formats.clone()),
                    ));
                    let query = match portal {
                        Some(p) => record::Query {
                            text: p.text.clone(),
                            statement: Some(p.statement.clone()),
                            params: Some(record::Params {
                                bind: p.bind.clone(),
                                types: p.types.clone(),
                            }),
                        },
                        None => record::Query {
                            text: Bytes::new(),
                            statement: None,
                            params: None,
                        },
                    };
                    rec.record(query).await;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            frontend::DESCRIBE => frontend::describe(body).map(|(kind, name)| {
                if let (b'S', Some(s)) = (kind, self.statements.get(name)) {
                    let _ = self
                        .pending
                        .send(Pending::DescribeStatement(s.types.clone()));
                }
            }),
            frontend::SYNC => {
                let _ = self.pending.send(Pending::Sync);
                Ok(())
            }
            frontend::CLOSE => frontend::close(body).map(|(kind, name)| {
                if kind == b'S' {
                    self.statements.remove(name);
                } else {
                    self.portals.remove(name);
                }
            }),
            frontend::COPY_DATA => {
                self.copy
                    .get_or_insert_with(CopyData::new)
                    .push(body, limits.max_result);
                Ok(())
            }
            frontend::COPY_DONE | frontend::COPY_FAIL => {
                let copy = self.copy.take().unwrap_or_else(CopyData::new);
                rec.record(copy.into_event("in", tag == frontend::COPY_FAIL))
                    .await;
                Ok(())
            }
            frontend::FUNCTION_CALL => return self.function_call(body, limits, rec).await,
            frontend::TERMINATE => return Step::Stop(RelayEnd::Terminated),
            _ => Ok(()),
        };
        match result {
            Ok(()) => Step::Continue,
            Err(e) => Step::Stop(RelayEnd::ClientProtocol(e)),
        }
    }
}
