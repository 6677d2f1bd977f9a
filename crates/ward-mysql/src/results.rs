//! Following a command's response packet by packet, sans IO: where a result set's columns,
//! rows and end are, when the response is over, and whether more results follow.

use crate::codec::binary::{self, PrepareOk};
use crate::codec::response::{self, Column};
use crate::codec::{ProtocolError, caps, malformed, status};

/// What one packet of a response is.
#[derive(Debug)]
pub enum Seen {
    /// An OK: the statement finished without rows.
    Ok {
        affected_rows: u64,
        warnings: u16,
    },
    /// An ERR: the statement (or the rest of a multi-statement) failed.
    Err,
    /// A result set begins with this many columns.
    Columns(u64),
    Column(Box<Column>),
    /// The (old) EOF after the column definitions.
    ColumnsEnd,
    Row,
    /// The end of a result set's rows.
    RowsEnd {
        warnings: u16,
    },
    /// The server asks for a file from the client (`LOAD DATA LOCAL INFILE`).
    LocalInfile,
    /// A packet of a command whose answer Ward does not read (COM_STATISTICS' text).
    Opaque,
    /// COM_STMT_PREPARE's answer: the statement, then its parameters' and columns' definitions.
    Prepared(PrepareOk),
    /// A parameter's definition, or the EOF after the parameters or columns of a prepared
    /// statement.
    Definition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The first packet of a result: OK, ERR, LOCAL INFILE request, or a column count.
    First,
    Columns {
        left: u64,
    },
    ColumnsEof,
    Rows,
    /// After COM_STMT_PREPARE_OK: the definitions of the parameters, their EOF, the
    /// definitions of the columns, their EOF (each EOF only when there are definitions before
    /// it and not with `CLIENT_DEPRECATE_EOF`).
    Definitions {
        params: u16,
        params_eof: bool,
        columns: u16,
        columns_eof: bool,
    },
    Done,
}

/// How a command is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// COM_QUERY: results (OK, or a result set), possibly several.
    Results,
    /// One OK, ERR or EOF (COM_PING, COM_INIT_DB, COM_SET_OPTION, …).
    Single,
    /// COM_FIELD_LIST: column definitions until an EOF, or an ERR.
    FieldList,
    /// One packet of text (COM_STATISTICS).
    Text,
    /// COM_STMT_PREPARE: its OK and definitions, or an ERR.
    Prepare,
}

/// Where a response stands.
#[derive(Debug)]
pub struct Response {
    capabilities: u32,
    shape: Shape,
    phase: Phase,
}

impl Response {
    pub fn new(shape: Shape, capabilities: u32) -> Self {
        let phase = if shape == Shape::FieldList {
            Phase::Rows
        } else {
            Phase::First
        };
        Self {
            capabilities,
            shape,
            phase,
        }
    }

    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn deprecate_eof(&self) -> bool {
        self.capabilities & caps::DEPRECATE_EOF != 0
    }

    /// After an OK or the end of rows: another result follows when the server says so.
    fn after(&mut self, status: u16) {
        self.phase = if self.shape == Shape::Results && status & status::MORE_RESULTS_EXISTS != 0 {
            Phase::First
        } else {
            Phase::Done
        };
    }

    /// Reads the next packet of the response.
    pub fn step(&mut self, payload: &[u8]) -> Result<Seen, ProtocolError> {
        let head = payload.first().copied();
        match self.phase {
            Phase::Done => Err(malformed("unexpected packet after the response")),
            _ if self.shape == Shape::Text => {
                self.phase = Phase::Done;
                Ok(if head == Some(0xff) {
                    Seen::Err
                } else {
                    Seen::Opaque
                })
            }
            _ if head == Some(0xff) => {
                self.phase = Phase::Done;
                Ok(Seen::Err)
            }
            Phase::First => match head {
                Some(0x00) if self.shape == Shape::Prepare => {
                    let ok = binary::prepare_ok(payload)?;
                    let eofs = !self.deprecate_eof();
                    self.phase = Phase::Definitions {
                        params: ok.params,
                        params_eof: eofs && ok.params > 0,
                        columns: ok.columns,
                        columns_eof: eofs && ok.columns > 0,
                    };
                    self.settle();
                    Ok(Seen::Prepared(ok))
                }
                Some(0x00) => {
                    let ok = response::ok(payload, self.capabilities)?;
                    self.after(ok.status);
                    Ok(Seen::Ok {
                        affected_rows: ok.affected_rows,
                        warnings: ok.warnings,
                    })
                }
                Some(0xfe) if self.shape == Shape::Single => {
                    let (status, warnings) = response::end_status(payload, 0)?;
                    self.after(status);
                    Ok(Seen::Ok {
                        affected_rows: 0,
                        warnings,
                    })
                }
                Some(0xfb) if self.shape == Shape::Results => {
                    // The client answers with the file's contents; the server's answer to
                    // that is this response's next packet.
                    Ok(Seen::LocalInfile)
                }
                _ if self.shape == Shape::Results => {
                    let n = response::column_count(payload)?;
                    self.phase = Phase::Columns { left: n };
                    Ok(Seen::Columns(n))
                }
                _ => Err(malformed("response")),
            },
            Phase::Definitions {
                mut params,
                mut params_eof,
                mut columns,
                mut columns_eof,
            } => {
                let seen = if params > 0 {
                    response::column(payload)?;
                    params -= 1;
                    Seen::Definition
                } else if params_eof || columns == 0 {
                    if !response::is_eof(payload) {
                        return Err(malformed("EOF"));
                    }
                    if params_eof {
                        params_eof = false;
                    } else {
                        columns_eof = false;
                    }
                    Seen::Definition
                } else {
                    columns -= 1;
                    Seen::Column(Box::new(response::column(payload)?))
                };
                self.phase = Phase::Definitions {
                    params,
                    params_eof,
                    columns,
                    columns_eof,
                };
                self.settle();
                Ok(seen)
            }
            Phase::Columns { left } => {
                let column = response::column(payload)?;
                self.phase = match left.saturating_sub(1) {
                    0 if self.deprecate_eof() => Phase::Rows,
                    0 => Phase::ColumnsEof,
                    left => Phase::Columns { left },
                };
                Ok(Seen::Column(Box::new(column)))
            }
            Phase::ColumnsEof => {
                if !response::is_eof(payload) {
                    return Err(malformed("EOF"));
                }
                self.phase = Phase::Rows;
                Ok(Seen::ColumnsEnd)
            }
            Phase::Rows if response::is_eof(payload) && payload.len() < 0xff_ffff => {
                let caps = if self.shape == Shape::FieldList {
                    0
                } else {
                    self.capabilities
                };
                let (status, warnings) = response::end_status(payload, caps)?;
                if self.shape == Shape::FieldList {
                    self.phase = Phase::Done;
                } else {
                    self.after(status);
                }
                Ok(Seen::RowsEnd { warnings })
            }
            Phase::Rows if self.shape == Shape::FieldList => {
                Ok(Seen::Column(Box::new(response::column(payload)?)))
            }
            Phase::Rows => Ok(Seen::Row),
        }
    }

    /// Ends the definitions of a prepared statement once none is left to read.
    fn settle(&mut self) {
        if let Phase::Definitions {
            params: 0,
            params_eof: false,
            columns: 0,
            columns_eof: false,
        } = self.phase
        {
            self.phase = Phase::Done;
        }
    }

    /// After a LOCAL INFILE request was answered: the server's OK or ERR comes next.
    pub fn expect_result(&mut self) {
        self.phase = Phase::First;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::reader::put_lenenc_str;

    fn column_def(name: &str) -> Vec<u8> {
        let mut def = Vec::new();
        for s in ["def", "app", "t", "t", name, name] {
            put_lenenc_str(&mut def, s.as_bytes());
        }
        def.push(0x0c);
        def.extend_from_slice(&[45, 0, 0, 1, 0, 0, 253, 0, 0, 0, 0, 0]);
        def
    }

    #[test]
    fn two_result_sets_then_an_ok() {
        let mut r = Response::new(Shape::Results, caps::WARD);
        let more = status::MORE_RESULTS_EXISTS | status::AUTOCOMMIT;
        let end_more = [0xfe, 0, 0, more as u8, 0, 0, 0];
        let ok_last = [0x00, 1, 0, 2, 0, 0, 0];
        let packets: Vec<Vec<u8>> = vec![
            vec![1],
            column_def("a"),
            vec![1, b'x'],
            end_more.to_vec(),
            vec![1],
            column_def("b"),
            end_more.to_vec(),
            ok_last.to_vec(),
        ];
        let mut seen = Vec::new();
        for p in &packets {
            assert!(!r.done());
            seen.push(format!("{:?}", r.step(p).expect("step")));
        }
        assert!(r.done(), "{seen:?}");
        assert!(seen.last().is_some_and(|s| s.starts_with("Ok")));
    }

    #[test]
    fn old_eof_framing_and_errors_mid_rows() {
        let mut r = Response::new(Shape::Results, caps::WARD & !caps::DEPRECATE_EOF);
        r.step(&[1]).expect("count");
        r.step(&column_def("a")).expect("column");
        assert!(matches!(r.step(&[0xfe, 0, 0, 2, 0]), Ok(Seen::ColumnsEnd)));
        assert!(matches!(r.step(&[1, b'1']), Ok(Seen::Row)));
        assert!(matches!(r.step(b"\xff\x15\x04#HY000boom"), Ok(Seen::Err)));
        assert!(r.done());
        assert!(r.step(&[0]).is_err());
    }

    #[test]
    fn prepare_answers_with_and_without_eof() {
        // 2 parameters, 1 column.
        let ok = [0, 9, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0];
        let eof = [0xfe, 0, 0, 2, 0];
        for (caps, packets) in [(caps::WARD, 4), (caps::WARD & !caps::DEPRECATE_EOF, 6)] {
            let mut r = Response::new(Shape::Prepare, caps);
            assert!(matches!(r.step(&ok), Ok(Seen::Prepared(p)) if p.statement == 9));
            let mut columns = 0;
            for i in 1..packets {
                assert!(!r.done(), "{i}");
                let p = if caps & caps::DEPRECATE_EOF == 0 && (i == 3 || i == 5) {
                    eof.to_vec()
                } else {
                    column_def("x")
                };
                if let Seen::Column(_) = r.step(&p).expect("step") {
                    columns += 1;
                }
            }
            assert!(r.done());
            assert_eq!(columns, 1);
        }
        // No parameters and no columns: done at once.
        let mut r = Response::new(Shape::Prepare, caps::WARD & !caps::DEPRECATE_EOF);
        r.step(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).expect("ok");
        assert!(r.done());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for p in [&b""[..], b"\x00", b"\xfc", b"\x01\x02"] {
            let mut r = Response::new(Shape::Results, caps::WARD);
            let _ = r.step(p).and_then(|_| r.step(p));
        }
    }
}
