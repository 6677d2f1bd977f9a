//! The client → upstream direction: follows prepared statements and portals so every
//! execution is recorded with its text and parameters, and tells the other direction what
//! answers to expect.

use super::*;

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

    async fn observe(
        &mut self,
        tag: u8,
        body: &[u8],
        limits: Limits,
        rec: &SessionRecorder,
    ) -> Step {
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
            frontend::TERMINATE => return Step::Stop(RelayEnd::Terminated),
            _ => Ok(()),
        };
        match result {
            Ok(()) => Step::Continue,
            Err(e) => Step::Stop(RelayEnd::ClientProtocol(e)),
        }
    }
}
