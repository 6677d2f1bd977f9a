//! What Ward keeps about a session's prepared statements: each one's text (checked against
//! the guardrails when it was prepared), its parameters' types as last bound, and the long
//! data sent for its next execution; and what an execution records.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use crate::codec::ProtocolError;
use crate::codec::binary::{self, ParamType, PrepareOk};
use crate::record::{Param, Query};

struct Statement {
    text: Bytes,
    params: usize,
    types: Vec<ParamType>,
    /// COM_STMT_SEND_LONG_DATA's pieces by parameter, up to the cap, and their true sizes.
    long: BTreeMap<u16, (Vec<u8>, u64)>,
}

/// A session's prepared statements, by the id the server gave them.
pub(crate) struct Statements {
    map: HashMap<u32, Statement>,
    /// The most of a long parameter kept for the record.
    cap: usize,
}

/// A COM_STMT_EXECUTE read.
pub(crate) struct Execution {
    /// The `db.query` it records.
    pub query: Query,
    /// It asks for a cursor (rows fetched later with COM_STMT_FETCH).
    pub cursor: bool,
}

impl Statements {
    pub fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            cap,
        }
    }

    /// The server prepared `text` as `ok.statement`.
    pub fn prepared(&mut self, ok: PrepareOk, text: Bytes) {
        let params = usize::from(ok.params);
        self.map.insert(
            ok.statement,
            Statement {
                text,
                params,
                types: Vec::new(),
                long: BTreeMap::new(),
            },
        );
    }

    /// COM_STMT_SEND_LONG_DATA: keeps the piece (up to the cap) for the execution's record.
    pub fn long_data(&mut self, body: &[u8]) -> Result<(), ProtocolError> {
        let (id, param, data) = binary::long_data(body)?;
        if let Some(s) = self.map.get_mut(&id) {
            let (kept, size) = s.long.entry(param).or_default();
            let room = self.cap.saturating_sub(kept.len());
            kept.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
            *size += data.len() as u64;
        }
        Ok(())
    }

    /// COM_RESET_CONNECTION: the server drops every prepared statement of the session.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// COM_STMT_CLOSE.
    pub fn close(&mut self, body: &[u8]) -> Result<(), ProtocolError> {
        self.map.remove(&binary::statement_id(body)?);
        Ok(())
    }

    /// COM_STMT_RESET: the long data sent so far is dropped.
    pub fn reset(&mut self, body: &[u8]) -> Result<(), ProtocolError> {
        if let Some(s) = self.map.get_mut(&binary::statement_id(body)?) {
            s.long.clear();
        }
        Ok(())
    }

    /// Reads COM_STMT_EXECUTE: the statement's text and its parameters as text. An unknown
    /// statement (the server will refuse it) records its id.
    pub fn execute(&mut self, body: &[u8]) -> Result<Execution, ProtocolError> {
        let id = binary::statement_id(body)?;
        let Some(s) = self.map.get_mut(&id) else {
            let e = binary::execute(body, 0, &[], |_| false)?;
            return Ok(Execution {
                query: Query {
                    text: Bytes::from(format!("(statement {id}, not prepared in this session)")),
                    statement: Some(id),
                    params: None,
                },
                cursor: e.flags != 0,
            });
        };
        let long = &s.long;
        let e = binary::execute(body, s.params, &s.types, |i| {
            u16::try_from(i).is_ok_and(|i| long.contains_key(&i))
        })?;
        if let Some(types) = e.types {
            s.types = types;
        }
        let params = e
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (ty, unsigned) = s.types.get(i).copied().unwrap_or((0xfd, false));
                let long = u16::try_from(i).ok().and_then(|i| s.long.get(&i));
                match (v, long) {
                    (_, Some((kept, size))) => Some(Param {
                        text: String::from_utf8_lossy(kept).into_owned(),
                        numeric: false,
                        truncated: *size > kept.len() as u64,
                    }),
                    (Some(v), None) => Some(Param {
                        text: binary::render(ty, unsigned, v).into_owned(),
                        numeric: !binary::is_text(ty),
                        truncated: false,
                    }),
                    (None, None) => None,
                }
            })
            .collect();
        // Long data is sent anew for each execution.
        s.long.clear();
        Ok(Execution {
            query: Query {
                text: s.text.clone(),
                statement: Some(id),
                params: Some(params),
            },
            cursor: e.flags != 0,
        })
    }
}
