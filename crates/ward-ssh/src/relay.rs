//! Relays one channel between the client and the host, recording as it goes.
//!
//! A session channel is recorded by what it runs: a terminal (a shell, or a command) records
//! its output through the session's streaming masker (a secret split across two chunks is
//! still masked) and, with a PTY, the lines typed ([`crate::typing`]); `sftp` and `scp` record
//! the files they move ([`crate::transfer`]), not their bytes. A forwarded TCP connection
//! records where it went and how much moved.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use russh::server::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use serde_json::json;
use ward_config::Grant;
use ward_core::payload::{
    ExecCommand, ExecExit, FileOp, FileTransfer, NetForward, Payload, PolicyDenied, TermResize,
    Terminal,
};
use ward_mask::Masker;
use ward_policy::SessionGuardrails;
use ward_store::stream::StreamRecord;
use ward_store::{JsonBody, MaskedJson, SessionRecorder};

use crate::transfer::{FileEvent, Scp, Sftp};
use crate::typing::{TypedLine, Typing};

/// What every channel of one connection shares.
pub(crate) struct Shared {
    pub rec: SessionRecorder,
    pub masker: Masker,
    pub guardrails: Option<SessionGuardrails>,
    /// Holds the exec commands a review rule matches until an approver decides.
    pub reviewer: ward_admit::Reviewer,
    pub grant: Grant,
    /// Bytes from the client and to it, for `session.end`.
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
    /// Output stored per stream of a command without a terminal (`[recording] max_result_bytes`).
    pub max_output: u64,
    /// The session was ended from outside it (recorded as `terminated`).
    pub terminated: std::sync::atomic::AtomicBool,
}

/// What a session channel turned out to run.
enum Mode {
    /// Nothing requested yet, or a shell or a command: output recorded.
    Terminal,
    Sftp(Sftp),
    /// Legacy scp; `upload` when the client sends the files.
    Scp {
        scp: Scp,
        upload: bool,
    },
}

/// The event of one chunk of a stream: stdout (the usual one, unnamed) and stderr are
/// `term.output`, what the client sends to a command without a terminal `term.input`.
fn stdout_chunk(chunk: Terminal) -> Payload {
    Payload::TermOutput(chunk)
}

fn stderr_chunk(mut chunk: Terminal) -> Payload {
    chunk.stream = Some("stderr".into());
    Payload::TermOutput(chunk)
}

fn stdin_chunk(mut chunk: Terminal) -> Payload {
    chunk.stream = Some("stdin".into());
    Payload::TermInput(chunk)
}

async fn record_lines(rec: &SessionRecorder, lines: Vec<TypedLine>) {
    for line in lines {
        let mut input = match line.text {
            Some(text) if text.is_empty() && !line.edited => continue,
            Some(text) => Terminal {
                data: Some(text),
                ..Terminal::default()
            },
            None => Terminal {
                hidden: Some(true),
                bytes: Some(line.bytes as u64),
                ..Terminal::default()
            },
        };
        input.edited = line.edited.then_some(true);
        input.truncated = line.truncated.then_some(true);
        rec.record(MaskedJson::from(Payload::TermInput(input)))
            .await;
    }
}

async fn record_files(rec: &SessionRecorder, events: Vec<FileEvent>) {
    for event in events {
        let payload = match event {
            FileEvent::Transfer(t) => Payload::FileTransfer(FileTransfer {
                path: t.path,
                direction: t.direction.as_str().into(),
                size: t.size,
                sha256: t.sha256.map(hex::encode),
                complete: (!t.complete).then_some(false),
            }),
            FileEvent::Op { op, path, target } => Payload::FileOp(FileOp {
                op: op.into(),
                path,
                target,
            }),
        };
        rec.record(MaskedJson::from(payload)).await;
    }
}

/// A guardrail's refusal of `command`: recorded, and what the client is told. A command a
/// review rule matches waits for an approver when it is an exec request (`hold`), and runs when
/// allowed; a line typed or piped into a shell cannot wait (the host has the channel), so a
/// review rule refuses it.
async fn denied(shared: &Shared, command: &[u8], hold: bool) -> Option<String> {
    let denial = shared.guardrails.as_ref()?.check_command(command)?;
    let message = match &denial.review {
        Some(_) if hold => {
            let text = String::from_utf8_lossy(command);
            let step = (text.as_ref(), "the command");
            let refused = denial.command_message();
            match shared
                .reviewer
                .decide(&denial, step, refused, &shared.rec)
                .await
            {
                Ok(()) => return None,
                Err(why) => format!("Ward: {why}"),
            }
        }
        Some(_) => format!(
            "Ward: command refused by guardrail \"{}\": it needs a review, which only a command run as `ssh HOST 'COMMAND'` can wait for; it was not run",
            denial.rule
        ),
        None => denial.command_message(),
    };
    let payload = PolicyDenied {
        rule: Some(denial.rule.clone()),
        reason: Some(denial.code().to_owned()),
        command: Some(String::from_utf8_lossy(command).into_owned()),
        message: Some(message.clone()),
        ..PolicyDenied::default()
    };
    shared
        .rec
        .record(MaskedJson::from(Payload::PolicyDenied(payload)))
        .await;
    Some(message)
}

/// Relays one session channel.
pub(crate) async fn session(
    client: Channel<Msg>,
    upstream: Channel<russh::client::Msg>,
    shared: Arc<Shared>,
    session: russh::server::Handle,
) {
    let id = client.id();
    let (mut from_client, to_client) = client.split();
    let (mut from_host, to_host) = upstream.split();
    let rec = &shared.rec;
    let mode = tokio::sync::Mutex::new(Mode::Terminal);
    let typing = tokio::sync::Mutex::new(None::<Typing>);
    let up = async {
        // Without a terminal: what the client sends is recorded like output, and its lines
        // are checked before they go on ([`crate::stdin`]); after a denied one, nothing more.
        let mut stdin = StreamRecord::new(&shared.masker, stdin_chunk);
        let mut lines = crate::stdin::Lines::default();
        let mut stdin_ended = false;
        let allowed = |line: &[u8]| {
            shared
                .guardrails
                .as_ref()
                .is_none_or(|g| g.check_command(line).is_none())
        };
        while let Some(msg) = from_client.wait().await {
            let sent = match msg {
                ChannelMsg::Data { data } => {
                    shared
                        .bytes_up
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    let mut forward = std::borrow::Cow::Borrowed(&data[..]);
                    let mut cancel = None;
                    let mut end_input = None;
                    match &mut *mode.lock().await {
                        Mode::Sftp(sftp) => record_files(rec, sftp.client(&data)).await,
                        Mode::Scp { scp, upload: true } => {
                            record_files(rec, scp.source(&data)).await
                        }
                        Mode::Scp { .. } => {}
                        Mode::Terminal => match typing.lock().await.as_mut() {
                            Some(t) => {
                                let (entered, decided) = t.input(&data);
                                record_lines(rec, decided).await;
                                for (at, line) in entered {
                                    if let Some(message) = denied(&shared, &line, false).await {
                                        // The typed line never runs: Ctrl-C instead of Enter.
                                        forward = data[..at].into();
                                        cancel = Some(message);
                                        break;
                                    }
                                }
                            }
                            None => {
                                stdin
                                    .record(rec, &data, false, Some(shared.max_output))
                                    .await;
                                if stdin_ended {
                                    forward = (&[][..]).into();
                                } else if shared.guardrails.is_some() {
                                    let (send, refused) = lines.feed(&data, allowed);
                                    forward = send.into();
                                    if let Some(line) = refused {
                                        end_input = denied(&shared, &line, false).await;
                                    }
                                }
                            }
                        },
                    }
                    let mut sent = to_host.data(&forward[..]).await;
                    if let Some(message) = cancel {
                        sent = sent.and(to_host.data(&b"\x03"[..]).await);
                        let _ = to_client
                            .extended_data(1, format!("\r\n{message}\r\n").as_bytes())
                            .await;
                    }
                    if let Some(message) = end_input {
                        // The denied line and the rest of the input never reach the host.
                        stdin_ended = true;
                        sent = sent.and(to_host.eof().await);
                        let _ = to_client
                            .extended_data(1, format!("{message}\r\n").as_bytes())
                            .await;
                    }
                    sent
                }
                ChannelMsg::RequestPty {
                    term,
                    col_width,
                    row_height,
                    pix_width,
                    pix_height,
                    terminal_modes,
                    ..
                } => {
                    let size = TermResize {
                        cols: col_width.into(),
                        rows: row_height.into(),
                        term: Some(term.clone()),
                    };
                    rec.record(JsonBody::from(Payload::TermResize(size))).await;
                    *typing.lock().await = Some(Typing::default());
                    to_host
                        .request_pty(
                            false,
                            &term,
                            col_width,
                            row_height,
                            pix_width,
                            pix_height,
                            &terminal_modes,
                        )
                        .await
                }
                ChannelMsg::WindowChange {
                    col_width,
                    row_height,
                    pix_width,
                    pix_height,
                } => {
                    let size = TermResize {
                        cols: col_width.into(),
                        rows: row_height.into(),
                        term: None,
                    };
                    rec.record(JsonBody::from(Payload::TermResize(size))).await;
                    to_host
                        .window_change(col_width, row_height, pix_width, pix_height)
                        .await
                }
                ChannelMsg::SetEnv {
                    variable_name,
                    variable_value,
                    ..
                } => {
                    // The handler refused what the grant does not allow; this is the rest.
                    if shared.grant.allows_env(&variable_name) {
                        let env = ExecCommand {
                            env: Some(json!({ &variable_name: &variable_value })),
                            ..ExecCommand::default()
                        };
                        rec.record(MaskedJson::from(Payload::ExecCommand(env)))
                            .await;
                        to_host.set_env(false, variable_name, variable_value).await
                    } else {
                        Ok(())
                    }
                }
                ChannelMsg::Exec { command, .. } => {
                    let text = String::from_utf8_lossy(&command).into_owned();
                    let exec = ExecCommand {
                        command: Some(text.clone()),
                        ..ExecCommand::default()
                    };
                    rec.record(MaskedJson::from(Payload::ExecCommand(exec)))
                        .await;
                    if let Some(message) = denied(&shared, &command, true).await {
                        let _ = to_client
                            .extended_data(1, format!("{message}\r\n").as_bytes())
                            .await;
                        let _ = to_client.exit_status(126).await;
                        let _ = to_client.eof().await;
                        let _ = to_client.close().await;
                        break;
                    }
                    if let Some(scp) = Scp::from_command(&text) {
                        let upload = scp.direction() == crate::transfer::Direction::Upload;
                        *mode.lock().await = Mode::Scp { scp, upload };
                    }
                    to_host.exec(false, command).await
                }
                ChannelMsg::RequestShell { .. } => {
                    let shell = ExecCommand {
                        shell: Some(true),
                        ..ExecCommand::default()
                    };
                    rec.record(MaskedJson::from(Payload::ExecCommand(shell)))
                        .await;
                    to_host.request_shell(false).await
                }
                ChannelMsg::RequestSubsystem { name, .. } => {
                    let subsystem = ExecCommand {
                        subsystem: Some(name.clone()),
                        ..ExecCommand::default()
                    };
                    rec.record(MaskedJson::from(Payload::ExecCommand(subsystem)))
                        .await;
                    if name == "sftp" {
                        *mode.lock().await = Mode::Sftp(Sftp::new());
                    }
                    to_host.request_subsystem(false, name).await
                }
                ChannelMsg::Signal { signal } => to_host.signal(signal).await,
                ChannelMsg::Eof if stdin_ended => Ok(()),
                ChannelMsg::Eof => {
                    // The last line of the input, unterminated, is checked like the others.
                    let (rest, refused) = lines.finish(allowed);
                    let mut sent = to_host.data(&rest[..]).await;
                    if let Some(line) = refused
                        && let Some(message) = denied(&shared, &line, false).await
                    {
                        let _ = to_client
                            .extended_data(1, format!("{message}\r\n").as_bytes())
                            .await;
                    }
                    sent = sent.and(to_host.eof().await);
                    sent
                }
                ChannelMsg::Close => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        stdin.record(rec, &[], true, None).await;
        let _ = to_host.close().await;
    };
    let down = async {
        let mut stdout = StreamRecord::new(&shared.masker, stdout_chunk);
        let mut stderr = StreamRecord::new(&shared.masker, stderr_chunk);
        while let Some(msg) = from_host.wait().await {
            let sent = match msg {
                ChannelMsg::Data { data } => {
                    shared
                        .bytes_down
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    match &mut *mode.lock().await {
                        Mode::Sftp(sftp) => record_files(rec, sftp.host(&data)).await,
                        Mode::Scp { scp, upload: false } => {
                            record_files(rec, scp.source(&data)).await
                        }
                        Mode::Scp { .. } => {}
                        Mode::Terminal => {
                            let cap = match typing.lock().await.as_mut() {
                                Some(t) => {
                                    record_lines(rec, t.output(&data)).await;
                                    None
                                }
                                None => Some(shared.max_output),
                            };
                            stdout.record(rec, &data, false, cap).await;
                        }
                    }
                    to_client.data(&data[..]).await
                }
                ChannelMsg::ExtendedData { data, ext } => {
                    shared
                        .bytes_down
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    let cap = typing.lock().await.is_none().then_some(shared.max_output);
                    stderr.record(rec, &data, false, cap).await;
                    to_client.extended_data(ext, &data[..]).await
                }
                ChannelMsg::ExitStatus { exit_status } => {
                    let exit = ExecExit {
                        status: Some(exit_status.into()),
                        ..ExecExit::default()
                    };
                    rec.record(JsonBody::from(Payload::ExecExit(exit))).await;
                    to_client.exit_status(exit_status).await
                }
                ChannelMsg::ExitSignal {
                    signal_name,
                    core_dumped,
                    error_message,
                    lang_tag,
                } => {
                    let signal = format!("{signal_name:?}");
                    let exit = ExecExit {
                        signal: Some(signal),
                        ..ExecExit::default()
                    };
                    rec.record(JsonBody::from(Payload::ExecExit(exit))).await;
                    // A channel's write half cannot send it; the session's handle can.
                    session
                        .exit_signal_request(id, signal_name, core_dumped, error_message, lang_tag)
                        .await
                        .map_err(|()| russh::Error::SendError)
                }
                ChannelMsg::Eof => to_client.eof().await,
                ChannelMsg::Close => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        stdout.record(rec, &[], true, None).await;
        stderr.record(rec, &[], true, None).await;
        let _ = to_client.close().await;
    };
    tokio::join!(up, down);
    if let Some(t) = typing.lock().await.as_mut() {
        record_lines(rec, t.finish()).await;
    }
    match &mut *mode.lock().await {
        Mode::Sftp(sftp) => record_files(rec, sftp.finish()).await,
        Mode::Scp { scp, .. } => record_files(rec, scp.finish()).await,
        Mode::Terminal => {}
    }
}

/// Relays a forwarded TCP connection (`ssh -L`), recording where it went and, at its end,
/// how much moved each way.
pub(crate) async fn forward(
    client: Channel<Msg>,
    upstream: Channel<russh::client::Msg>,
    shared: Arc<Shared>,
    target: NetForward,
) {
    shared
        .rec
        .record(JsonBody::from(Payload::NetForward(target.clone())))
        .await;
    let (from_client, to_client) = client.split();
    let (from_host, to_host) = upstream.split();
    let (up, down) = tokio::join!(pump(from_client, to_host), pump(from_host, to_client));
    shared.bytes_up.fetch_add(up, Ordering::Relaxed);
    shared.bytes_down.fetch_add(down, Ordering::Relaxed);
    let mut end = target;
    end.closed = Some(true);
    end.bytes_up = Some(up);
    end.bytes_down = Some(down);
    shared
        .rec
        .record(JsonBody::from(Payload::NetForward(end)))
        .await;
}

/// Copies one direction of a forwarded connection until it closes; returns the bytes copied.
async fn pump<S>(mut from: ChannelReadHalf, to: ChannelWriteHalf<S>) -> u64
where
    S: From<(russh::ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    let mut bytes = 0u64;
    while let Some(msg) = from.wait().await {
        let sent = match msg {
            ChannelMsg::Data { data } => {
                bytes += data.len() as u64;
                to.data(&data[..]).await
            }
            ChannelMsg::Eof => to.eof().await,
            ChannelMsg::Close => break,
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = to.close().await;
    bytes
}
