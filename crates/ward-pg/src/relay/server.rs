//! The upstream → client direction: attributes results, errors and COPY data to the
//! statement they answer, records them, and masks what clients receive when their grant says so.

use super::*;

/// State of the upstream → client direction.
pub struct ServerSide {
    pub(super) pending: UnboundedReceiver<Pending>,
    pub(super) current: Option<Pending>,
    pub(super) columns: Option<Arc<[Column]>>,
    pub(super) last_description: Option<(Vec<u8>, Arc<[Column]>)>,
    pub(super) rows: record::Blocks,
    pub(super) row_count: u64,
    pub(super) truncated: bool,
    pub(super) in_result: bool,
    pub(super) copy: Option<CopyData>,
    pub bytes: u64,
    pub(super) client_mask: Option<ClientMask>,
    /// ErrorResponses of denied statements, sent before the ReadyForQuery being forwarded.
    pub(super) insert: Vec<u8>,
    /// Whether the server reported an error since its last ReadyForQuery: then the client
    /// already has the one error PostgreSQL gives per Sync, and a denial adds none.
    pub(super) errored: bool,
    /// The ReadyForQuery being observed answers a Sync of Ward's: it does not reach the client.
    pub(super) swallow: bool,
    /// Looks up result columns' tables, when a column rule could apply to them.
    pub(super) sources: Option<(Lookup, crate::catalog::Tables)>,
}

impl ServerSide {
    fn front(&mut self) -> Option<&Pending> {
        if self.current.is_none() {
            self.current = self.pending.try_recv().ok();
        }
        self.current.as_ref()
    }

    fn started(&mut self) -> Option<Instant> {
        match self.front() {
            Some(Pending::Simple(t) | Pending::Execute(t, ..)) => Some(*t),
            _ => None,
        }
    }

    async fn observe_message(
        &mut self,
        tag: u8,
        body: &[u8],
        limits: Limits,
        rec: &impl Sink,
    ) -> Result<(), ProtocolError> {
        match tag {
            backend::DATA_ROW => {
                self.in_result = true;
                self.row_count += 1;
                if self.rows.len() + body.len() + frame::HEADER <= limits.max_result {
                    self.rows.push_message(tag, body);
                } else {
                    self.truncated = true;
                }
            }
            backend::PARAMETER_DESCRIPTION => {
                let types = backend::parameter_description(body)?;
                // The RowDescription or NoData that follows completes the Describe.
                if let Some(Pending::DescribeStatement(statement)) = self.front() {
                    let _ = statement.described.set(types);
                }
            }
            backend::ROW_DESCRIPTION => {
                // Sessions repeat the same statements: reuse the parsed columns when the bytes match.
                let columns = match &self.last_description {
                    Some((bytes, cols)) if bytes.as_slice() == body => cols.clone(),
                    _ => {
                        let mut cols = backend::row_description(body)?;
                        if let Some((lookup, tables)) = self.sources.as_mut() {
                            tables
                                .resolve(&mut cols, &lookup.target, lookup.max_message)
                                .await;
                        }
                        let cols: Arc<[Column]> = cols.into();
                        self.last_description = Some((body.to_vec(), cols.clone()));
                        cols
                    }
                };
                match self.front() {
                    // A statement Describe (at prepare time): the columns belong to the statement,
                    // for executions whose portal the client does not Describe.
                    Some(Pending::DescribeStatement(statement)) => {
                        let _ = statement.columns.set(columns);
                        self.current = None;
                    }
                    front => {
                        self.in_result =
                            matches!(front, Some(Pending::Simple(_) | Pending::Execute(..)));
                        self.columns = Some(columns);
                    }
                }
            }
            backend::NO_DATA => {
                if matches!(self.front(), Some(Pending::DescribeStatement(_))) {
                    self.current = None;
                }
            }
            backend::COMMAND_COMPLETE | backend::EMPTY_QUERY | backend::PORTAL_SUSPENDED => {
                let started = self.started();
                let completion = record::Complete {
                    tag: (tag == backend::COMMAND_COMPLETE).then(|| Bytes::copy_from_slice(body)),
                    duration_us: started.map_or(0, |t| {
                        u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
                    }),
                    suspended: tag == backend::PORTAL_SUSPENDED,
                };
                // Rows end with their completion in one event; a command without rows gets
                // its own.
                if let Some(completion) = self.end_result(rec, Some(completion)).await {
                    rec.record(completion).await;
                }
                if matches!(self.front(), Some(Pending::Execute(..))) {
                    self.current = None;
                }
            }
            backend::ERROR_RESPONSE => {
                backend::error_fields(body)?;
                self.errored = true;
                self.finish_result(rec).await;
                rec.record(record::ServerMessage {
                    kind: EventKind::DbError,
                    body: Bytes::copy_from_slice(body),
                })
                .await;
            }
            backend::READY_FOR_QUERY => {
                self.finish_result(rec).await;
                self.columns = None;
                // Everything up to the Sync (or simple Query) this answers is done, including
                // executions the server skipped after an error. A denied statement's error goes
                // to the client just before this ReadyForQuery.
                while let Some(p) = self.current.take().or_else(|| self.pending.try_recv().ok()) {
                    match p {
                        Pending::Denied(error) if !self.errored => {
                            self.insert.extend_from_slice(&error);
                            self.errored = true;
                        }
                        Pending::Sync | Pending::Simple(_) | Pending::FunctionCall { .. } => break,
                        Pending::WardSync => {
                            self.swallow = true;
                            break;
                        }
                        _ => {}
                    }
                }
                self.errored = false;
            }
            backend::NOTICE_RESPONSE => {
                backend::error_fields(body)?;
                rec.record(record::ServerMessage {
                    kind: EventKind::DbNotice,
                    body: Bytes::copy_from_slice(body),
                })
                .await;
            }
            backend::NOTIFICATION => {
                backend::notification(body)?;
                rec.record(record::Notification(Bytes::copy_from_slice(body)))
                    .await;
            }
            backend::FUNCTION_CALL_RESPONSE => {
                if let Some(Pending::FunctionCall {
                    started,
                    function,
                    name,
                    result_format,
                }) = self.front()
                {
                    let call = fastpath::Return {
                        function: *function,
                        name: name.clone(),
                        result_format: *result_format,
                        body: Bytes::copy_from_slice(body),
                        cap: limits.max_result,
                        took: started.elapsed(),
                    };
                    rec.record(call).await;
                }
            }
            backend::COPY_OUT_RESPONSE => self.copy = Some(CopyData::new()),
            backend::COPY_DATA => {
                if let Some(c) = self.copy.as_mut() {
                    c.push(body, limits.max_result);
                }
            }
            backend::COPY_DONE => {
                if let Some(c) = self.copy.take() {
                    rec.record(c.into_event("out", false)).await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The columns of the result being received: from its RowDescription, or else those the
    /// statement behind the current Execute was described with, in the formats its Bind asked for.
    fn effective_columns(&mut self) -> Option<Arc<[Column]>> {
        match (self.columns.clone(), self.front()) {
            (Some(described), _) => Some(described),
            (None, Some(Pending::Execute(_, Some(statement), formats))) => {
                statement.columns.get().map(|c| with_formats(c, formats))
            }
            (None, _) => None,
        }
    }

    /// Appends a DataRow with its cells masked for the client. Text cells are masked in place;
    /// a binary cell under a column rule becomes NULL (a masked value would not decode), other
    /// binary cells pass unchanged.
    fn masked_row(&mut self, body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        let columns = self.effective_columns().unwrap_or_else(|| Arc::from([]));
        let Some(mask) = self.client_mask.as_mut() else {
            out.extend_from_slice(frame);
            return;
        };
        if !mask
            .plan
            .as_ref()
            .is_some_and(|(c, _)| Arc::ptr_eq(c, &columns))
        {
            let refs: Vec<ColumnRef<'_>> = columns.iter().map(Column::masking_ref).collect();
            let plan = mask.masker.plan_columns(&refs);
            mask.plan = Some((columns.clone(), plan));
        }
        let (Some((_, plan)), Ok(cells)) = (mask.plan.as_ref(), backend::data_row(body)) else {
            // Not decodable: the upstream's bytes go on and the client reports the problem.
            out.extend_from_slice(frame);
            return;
        };
        let mut report = MaskReport::new();
        encode::message(out, backend::DATA_ROW, |b| {
            b.extend_from_slice(&i16::try_from(cells.len()).unwrap_or(i16::MAX).to_be_bytes());
            for (i, cell) in cells.iter().enumerate() {
                let col = columns.get(i);
                let (ty, format) = (col.map_or(0, |c| c.type_oid), col.map_or(0, |c| c.format));
                let ruled = plan.column_rule(i).is_some();
                let value: Option<std::borrow::Cow<'_, [u8]>> = match cell {
                    None => None,
                    Some(v) if format == 0 || value::is_text_type(ty) => {
                        if value::cannot_hold_secrets(ty) && !ruled {
                            Some((*v).into())
                        } else {
                            Some(plan.mask_cell(i, v, &mut report))
                        }
                    }
                    Some(_) if ruled => None,
                    Some(v) => Some((*v).into()),
                };
                match value {
                    None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        b.extend_from_slice(
                            &i32::try_from(v.len()).unwrap_or(i32::MAX).to_be_bytes(),
                        );
                        b.extend_from_slice(&v);
                    }
                }
            }
        });
    }

    /// Records the rows gathered so far, if a result is open (a result cut short: no
    /// completion).
    pub async fn finish_result(&mut self, rec: &impl Sink) {
        let _ = self.end_result(rec, None).await;
    }

    /// Records the open result with `completion`; gives the completion back when there was
    /// no result to attach it to.
    async fn end_result(
        &mut self,
        rec: &impl Sink,
        completion: Option<record::Complete>,
    ) -> Option<record::Complete> {
        if !self.in_result {
            return completion;
        }
        self.in_result = false;
        let columns = self.effective_columns();
        self.columns = None;
        let result = record::ResultSet {
            columns,
            rows: std::mem::take(&mut self.rows),
            row_count: std::mem::take(&mut self.row_count),
            truncated: std::mem::take(&mut self.truncated),
            completion,
        };
        if result.row_count > 0 || result.columns.is_some() {
            rec.record(result).await;
            None
        } else {
            result.completion
        }
    }
}

/// A statement's described columns with the result formats a Bind asked for (none: all text;
/// one: for all; else one per column).
fn with_formats(columns: &Arc<[Column]>, formats: &[i16]) -> Arc<[Column]> {
    match formats {
        [] => columns.clone(),
        [one] => columns
            .iter()
            .map(|c| Column {
                format: *one,
                ..c.clone()
            })
            .collect(),
        many => columns
            .iter()
            .zip(many.iter().chain(std::iter::repeat(&0)))
            .map(|(c, f)| Column {
                format: *f,
                ..c.clone()
            })
            .collect(),
    }
}

impl Observer for ServerSide {
    const READ: fn(std::io::Error) -> RelayEnd = RelayEnd::UpstreamIo;
    const WRITE: fn(std::io::Error) -> RelayEnd = RelayEnd::ClientIo;
    const PROTOCOL: fn(ProtocolError) -> RelayEnd = RelayEnd::UpstreamProtocol;
    const TO_CLIENT: bool = true;
    const EOF: fn() -> RelayEnd = || RelayEnd::UpstreamClosed;

    fn count(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    fn rewrites(&self) -> bool {
        self.client_mask.is_some()
    }

    fn diverts(&self) -> bool {
        !self.insert.is_empty() || self.swallow
    }

    fn forward(&mut self, tag: u8, body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        if !self.insert.is_empty() {
            out.append(&mut self.insert);
        }
        if std::mem::take(&mut self.swallow) {
            return;
        }
        if tag == backend::DATA_ROW {
            return self.masked_row(body, frame, out);
        }
        let Some(mask) = self.client_mask.as_mut() else {
            return out.extend_from_slice(frame);
        };
        let copy_data = |out: &mut Vec<u8>, data: Vec<u8>| {
            if !data.is_empty() {
                encode::message(out, backend::COPY_DATA, |b| b.extend_from_slice(&data));
            }
        };
        match (tag, mask.copy.as_mut()) {
            (backend::COPY_OUT_RESPONSE, _) => mask.copy = Some(mask.masker.stream()),
            (backend::COPY_DATA, Some(stream)) => return copy_data(out, stream.push(body)),
            // The held-back end of the data goes out before the COPY ends, either way.
            (backend::COPY_DONE | backend::ERROR_RESPONSE, Some(stream)) => {
                copy_data(out, stream.finish());
                mask.copy = None;
            }
            _ => {}
        }
        match tag {
            backend::ERROR_RESPONSE | backend::NOTICE_RESPONSE => {
                mask.fields(tag, body, frame, out)
            }
            backend::NOTIFICATION => mask.notification(body, frame, out),
            _ => out.extend_from_slice(frame),
        }
    }

    async fn observe(&mut self, tag: u8, body: &[u8], limits: Limits, rec: &impl Sink) -> Step {
        match self.observe_message(tag, body, limits, rec).await {
            Ok(()) => Step::Continue,
            Err(e) => Step::Stop(RelayEnd::UpstreamProtocol(e)),
        }
    }
}
