//! The client's commands, one at a time: each checked, recorded and forwarded (or refused
//! with an ERR the client shows), then its answer relayed ([`super::answer`]).

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use ward_policy::{Dialect, loads_local_file};
use ward_store::Sink;

use super::answer::Context;
use super::{Relay, RelayEnd};
use crate::codec::{ProtocolError, command, malformed, packet};
use crate::kill;
use crate::record::{self, Query};
use crate::results::Shape;
use crate::session::{err_packet, errors};
use crate::wire::{PacketReader, WireError};

/// What to do with a client's command.
enum Handling {
    /// Forward it and relay its answer.
    Forward(Shape, Context),
    /// Forward it; it has no answer.
    Quiet,
    /// Answered by Ward with this payload (OK or ERR).
    Answered(Vec<u8>),
    /// Refused with this error and message; recorded as `policy.denied` with the reason
    /// (none when the refusal was recorded already).
    Refuse(errors::Code, Option<&'static str>, String),
}

const NO_LOCAL_INFILE: &str = "Ward does not let this session send files from the client (LOAD DATA LOCAL INFILE): the grant needs local_infile = true";

const NO_CURSORS: &str = "Ward does not relay server-side cursors (COM_STMT_EXECUTE with a cursor type): read the whole result instead (for example without useCursorFetch)";

impl<R: Sink> Relay<'_, R> {
    pub(super) async fn serve<CR, CW, UR, UW>(
        &mut self,
        creader: &mut PacketReader,
        cr: &mut CR,
        cw: &mut CW,
        ur: &mut UR,
        uw: &mut UW,
    ) -> RelayEnd
    where
        CR: AsyncRead + Unpin,
        CW: AsyncWrite + Unpin,
        UR: AsyncRead + Unpin,
        UW: AsyncWrite + Unpin,
    {
        loop {
            let cmd = match creader.next(cr).await {
                Ok(p) => p,
                Err(WireError::Closed) => return RelayEnd::ClientClosed,
                Err(WireError::Io(e)) => return RelayEnd::ClientIo(e),
                Err(WireError::Protocol(e)) => return RelayEnd::ClientProtocol(e),
            };
            self.up += cmd.wire.len() as u64;
            self.client_seq = cmd.next_seq();
            if cmd.seq != 0 {
                return RelayEnd::ClientProtocol(ProtocolError::Sequence {
                    expected: 0,
                    got: cmd.seq,
                });
            }
            let payload = cmd.payload();
            let Some((&code, body)) = payload.split_first() else {
                return RelayEnd::ClientProtocol(malformed("command"));
            };
            if code == command::QUIT {
                let _ = uw.write_all(&cmd.wire).await;
                return RelayEnd::ClientClosed;
            }
            let handling = match self.handle(code, body).await {
                Ok(h) => h,
                Err(e) => return RelayEnd::ClientProtocol(e),
            };
            drop(payload);
            match handling {
                Handling::Refuse(error, reason, message) => {
                    if let Some(reason) = reason {
                        self.rec
                            .record(record::Denied {
                                rule: None,
                                reason,
                                statement: None,
                                message: message.clone(),
                                protocol: "command",
                                command: Some(command::describe(code)),
                            })
                            .await;
                    }
                    let mut out = Vec::new();
                    err_packet(&mut out, cmd.next_seq(), error, &message);
                    if let Err(e) = ward_net::send(cw, &out).await {
                        return RelayEnd::ClientIo(e);
                    }
                    self.client_seq = 0;
                }
                Handling::Answered(answer) => {
                    let mut out = Vec::new();
                    packet::write(&mut out, cmd.next_seq(), &answer);
                    if let Err(e) = ward_net::send(cw, &out).await {
                        return RelayEnd::ClientIo(e);
                    }
                    self.client_seq = 0;
                }
                Handling::Forward(..) | Handling::Quiet => {
                    // Fail closed: what the store cannot keep does not pass.
                    if !self.rec.store_healthy() {
                        return RelayEnd::StoreUnavailable;
                    }
                    if let Err(e) = ward_net::send(uw, &cmd.wire).await {
                        return RelayEnd::UpstreamIo(e);
                    }
                    let io = super::answer::Io {
                        creader: &mut *creader,
                        cr: &mut *cr,
                        cw: &mut *cw,
                        ur: &mut *ur,
                        uw: &mut *uw,
                    };
                    if let Handling::Forward(shape, mut context) = handling {
                        if let Err(end) = self.answer(shape, &mut context, io).await {
                            return end;
                        }
                        self.client_seq = 0;
                    }
                }
            }
        }
    }

    /// Decides what to do with command `code` (its `body` after the command byte), and
    /// records what it asks for.
    async fn handle(&mut self, code: u8, body: &[u8]) -> Result<Handling, ProtocolError> {
        let text = || Bytes::copy_from_slice(body);
        Ok(match code {
            command::QUERY if let Some(kill) = kill::classify(body) => {
                self.rec.record(Query::text(text())).await;
                self.kill(kill).await
            }
            command::QUERY if !self.local_infile && loads_local_file(body, Dialect::Mysql) => {
                self.rec.record(Query::text(text())).await;
                Handling::Refuse(errors::NOT_ALLOWED_COMMAND, Some("local_infile"), NO_LOCAL_INFILE.into())
            }
            command::QUERY => match self.check(body).await {
                Some(refusal) => Handling::Refuse(errors::SPECIFIC_ACCESS_DENIED, None, refusal),
                None => {
                    self.rec.record(Query::text(text())).await;
                    Handling::Forward(Shape::Results, Context::Text)
                }
            },
            command::STMT_PREPARE => match self.check(body).await {
                Some(refusal) => Handling::Refuse(errors::SPECIFIC_ACCESS_DENIED, None, refusal),
                None => Handling::Forward(Shape::Prepare, Context::Prepare(text())),
            },
            command::STMT_EXECUTE => {
                let execution = self.statements.execute(body)?;
                self.rec.record(execution.query).await;
                if execution.cursor {
                    Handling::Refuse(errors::NOT_SUPPORTED_YET, Some("cursor"), NO_CURSORS.into())
                } else {
                    Handling::Forward(Shape::Results, Context::Binary)
                }
            }
            command::STMT_SEND_LONG_DATA => {
                self.statements.long_data(body)?;
                Handling::Quiet
            }
            command::STMT_CLOSE => {
                self.statements.close(body)?;
                Handling::Quiet
            }
            command::STMT_RESET => {
                self.statements.reset(body)?;
                Handling::Forward(Shape::Single, Context::Text)
            }
            command::STMT_FETCH => Handling::Refuse(
                errors::NOT_SUPPORTED_YET,
                Some("cursor"),
                NO_CURSORS.into(),
            ),
            command::INIT_DB => {
                let mut text = b"USE `".to_vec();
                text.extend_from_slice(body);
                text.push(b'`');
                self.rec.record(Query::text(text.into())).await;
                Handling::Forward(Shape::Single, Context::Text)
            }
            command::PING | command::SET_OPTION => Handling::Forward(Shape::Single, Context::Text),
            command::RESET_CONNECTION => {
                self.statements.clear();
                let text = Bytes::from_static(b"COM_RESET_CONNECTION");
                self.rec.record(Query::text(text)).await;
                Handling::Forward(Shape::Single, Context::Text)
            }
            command::STATISTICS => Handling::Forward(Shape::Text, Context::Text),
            command::FIELD_LIST => Handling::Forward(Shape::FieldList, Context::Text),
            command::CHANGE_USER => Handling::Refuse(
                errors::SPECIFIC_ACCESS_DENIED,
                Some("change user"),
                "Ward does not let a session change its user (COM_CHANGE_USER): connect again as that user".into(),
            ),
            other => Handling::Refuse(
                errors::UNKNOWN_COM,
                Some("command"),
                format!("Ward does not relay {}", command::describe(other)),
            ),
        })
    }

    /// Carries out a `KILL` of one of this user's connections, or refuses it.
    async fn kill(&mut self, kill: kill::Kill) -> Handling {
        match self.killer.kill(kill).await {
            Ok(answer) => Handling::Answered(answer),
            Err(refused) => Handling::Refuse(refused.code, Some("kill"), refused.message),
        }
    }

    /// Checks a statement's text against the guardrails: the message the client gets when it
    /// is refused (the attempt is recorded), or `None` to let it run. A statement a review
    /// rule holds waits here for an approver.
    async fn check(&mut self, text: &[u8]) -> Option<String> {
        let denial = self
            .guardrails
            .as_ref()
            .and_then(|g| g.check_sql(text, Dialect::Mysql))?;
        let held = String::from_utf8_lossy(text);
        let step = (held.as_ref(), "the statement");
        let message = match self
            .reviewer
            .decide(&denial, step, denial.message(), self.rec)
            .await
        {
            Ok(()) => return None,
            Err(message) => message,
        };
        self.rec
            .record(Query::text(Bytes::copy_from_slice(text)))
            .await;
        self.rec
            .record(record::Denied {
                rule: Some(denial.rule.clone()),
                reason: denial.code(),
                statement: match denial.reason {
                    ward_policy::Reason::Kind { statement, .. } => Some(statement),
                    _ => None,
                },
                message: message.clone(),
                protocol: "query",
                command: None,
            })
            .await;
        Some(message)
    }
}
